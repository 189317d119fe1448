/* FIFOs (named pipes): mknod/mkfifo/mknodat and their errors, the open
 * rules of fifo(7) (blocking rendezvous, O_NONBLOCK, ENXIO, O_RDWR), EOF
 * and reopen, a reader killed under a writer, and interrupted opens. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "ipcvet.h"

struct shared {
    atomic_int done[4];
    long result[4];
    int err[4];
    atomic_int handled, sigpipes;
    char data[64];
};
#define SH ((struct shared *)(void *)ipcv_self.page->scratch)

static void report(int slot, long rc)
{
    SH->err[slot] = errno;
    SH->result[slot] = rc;
    atomic_store(&SH->done[slot], 1);
}

static void become_nobody(void)
{
    if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
        setresuid(65534, 65534, 65534) < 0)
        ipcv_skip("cannot become uid 65534: %s", ipcv_errname(errno));
}

struct asleep_probe { pid_t pid; int slot; long nr; };

static int asleep_or_done(void *arg)
{
    struct asleep_probe *p = arg;
    return atomic_load(&SH->done[p->slot]) || ipcv_pid_asleep_in(p->pid, p->nr);
}

/* The role should be asleep in `nr`; one that already returned fails. */
static void expect_asleep(struct ipcv_role *r, int slot, long nr, const char *why)
{
    struct asleep_probe p = { ipcv_role_pid(r), slot, nr };
    if (!ipcv_poll_until(asleep_or_done, &p, ipcv_wait_bound()))
        ipcv_brk(__FILE__, __LINE__, "role '%s' neither slept nor returned", ipcv_role_name(r));
    ipcv_expect_true(!atomic_load(&SH->done[slot]), "role '%s' returned %ld (%s) %s",
                     ipcv_role_name(r), SH->result[slot], ipcv_errname(SH->err[slot]), why);
}

static const char *fifo_path(void)
{
    const char *p = ipcv_path("fifo", 0);
    SAFE(mkfifo(p, 0600));
    return p;
}

/* --- creation ------------------------------------------------------------- */

/* mknod(2): "The file type must be one of S_IFREG, S_IFCHR, S_IFBLK,
 * S_IFIFO, or S_IFSOCK"; mkfifo(3) makes a FIFO; the permissions are
 * mode & ~umask. */
IPCV_CASE(fifo, mkfifo_and_mknod_create_nodes_of_the_asked_type,
          .tags = "api", .covers = "B186", .spec = "mkfifo(3); mknod(2)",
          .desc = "with umask 022, mkfifo(0666) and mknod(S_IFIFO|0666) make FIFOs with mode 0644, mknod S_IFREG and S_IFSOCK make those types, and mknod S_IFCHR 1:3 makes that device")
{
    mode_t old = umask(022);
    static const struct { const char *name; mode_t type; int via_mkfifo; } tcases[] = {
        { "by-mkfifo", S_IFIFO, 1 }, { "by-mknod", S_IFIFO, 0 },
        { "regular", S_IFREG, 0 }, { "socket", S_IFSOCK, 0 }, { "chardev", S_IFCHR, 0 },
    };
    for (size_t i = 0; i < sizeof tcases / sizeof tcases[0]; i++) {
        const char *p = ipcv_path(tcases[i].name, 0);
        errno = 0;
        int rc = tcases[i].via_mkfifo ? mkfifo(p, 0666)
                                      : mknod(p, tcases[i].type | 0666, makedev(1, 3));
        if (rc < 0 && tcases[i].type == S_IFCHR && errno == EPERM)
            continue;   /* no CAP_MKNOD here: the device row does not apply */
        ipcv_expect_true(rc == 0, "%s: %s", tcases[i].name, ipcv_errname(errno));
        struct stat st;
        if (rc == 0 && stat(p, &st) == 0) {
            ipcv_expect_eq(tcases[i].type, st.st_mode & S_IFMT);
            ipcv_expect_eq(0644, st.st_mode & 07777);
            if (tcases[i].type == S_IFCHR)
                ipcv_expect_eq(makedev(1, 3), st.st_rdev);
            SAFE(unlink(p));
        }
    }
    umask(old);
}

#define OTHER_GID 12345

struct sgid_dirs { char plain[128], sgid[128]; };

static void make_sgid_dirs(struct sgid_dirs *d)
{
    snprintf(d->plain, sizeof d->plain, "%s", ipcv_path("plain", 0));
    snprintf(d->sgid, sizeof d->sgid, "%s", ipcv_path("sgid", 0));
    SAFE(mkdir(d->plain, 0777));
    SAFE(chmod(d->plain, 0777));
    SAFE(mkdir(d->sgid, 0777));
    SAFE(chown(d->sgid, 0, OTHER_GID));
    SAFE(chmod(d->sgid, 02777));
}

static int sgid_as_nobody(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct sgid_dirs *d = arg;
    become_nobody();
    umask(0);
    char p[160];
    snprintf(p, sizeof p, "%s/nobody-fifo", d->sgid);
    if (mknod(p, S_IFIFO | S_ISGID | 0777, 0) < 0) {
        ipcv_expect_true(0, "mknod in the setgid directory as uid 65534: %s", ipcv_errname(errno));
        return 0;
    }
    struct stat st;
    SAFE(stat(p, &st));
    ipcv_expect_eq(OTHER_GID, st.st_gid);
    ipcv_expect_nobits(S_ISGID, st.st_mode);   /* not a member, no CAP_FSETID */
    SAFE(unlink(p));
    return 0;
}

/* inode(7) "The set-group-ID bit ... on a directory": new files take the
 * directory's group; mknod(2)/open(2): S_ISGID is cleared when the creator
 * is not in that group and lacks CAP_FSETID (LTP mknod02..05, mknod08). */
IPCV_CASE(fifo, fifo_group_follows_setgid_directories,
          .tags = "api multi", .covers = "B187", .spec = "inode(7) S_ISGID on directories; mknod(2)",
          .desc = "a FIFO made by root in a plain directory gets gid 0, in a setgid directory of group 12345 gets gid 12345 and keeps S_ISGID; one made by uid 65534 there gets gid 12345 with S_ISGID cleared")
{
    mode_t old = umask(0);
    static struct sgid_dirs d;
    make_sgid_dirs(&d);
    char p[160];
    struct stat st;
    snprintf(p, sizeof p, "%s/f", d.plain);
    SAFE(mknod(p, S_IFIFO | 0666, 0));
    SAFE(stat(p, &st));
    ipcv_expect_eq(getegid(), st.st_gid);
    SAFE(unlink(p));
    snprintf(p, sizeof p, "%s/f", d.sgid);
    SAFE(mknod(p, S_IFIFO | S_ISGID | 0666, 0));
    SAFE(stat(p, &st));
    ipcv_expect_eq(OTHER_GID, st.st_gid);
    ipcv_expect_bits(S_ISGID, st.st_mode);
    SAFE(unlink(p));
    struct ipcv_role *r = ipcv_spawn("nobody", sgid_as_nobody, &d);
    ipcv_join(r, IPCV_EXITED(0));
    umask(old);
}

static void expect_mknod_fails(const char *what, int err, int rc)
{
    ipcv_expect_true(rc == -1 && errno == err, "mknod %s: expected %s, seen %s", what,
                     ipcv_errname(err), rc == -1 ? ipcv_errname(errno) : "success");
}

/* mknod(2) ERRORS: ENAMETOOLONG, EEXIST, EFAULT, ENOENT (missing directory
 * and empty path), ENOTDIR (LTP mknod06). */
IPCV_CASE(fifo, mknod_fifo_with_a_bad_path_fails,
          .tags = "api", .covers = "B188", .spec = "mknod(2) ERRORS",
          .desc = "mknod(S_IFIFO) fails ENAMETOOLONG for a 300-byte component, EEXIST on an existing name, EFAULT for an unmapped path, ENOENT in a missing directory and for \"\", ENOTDIR under a regular file")
{
    char longname[400];
    int n = snprintf(longname, sizeof longname, "%s/", ipcv_tmpdir());
    memset(longname + n, 'x', 300);
    longname[n + 300] = '\0';
    const char *exists = ipcv_path("exists", 1);
    char missing[128], notdir[128];
    snprintf(missing, sizeof missing, "%s/no-such-dir/f", ipcv_tmpdir());
    snprintf(notdir, sizeof notdir, "%s/f", exists);
    const char *volatile unmapped = (const char *)-1;
    errno = 0;
    expect_mknod_fails("component too long", ENAMETOOLONG, mknod(longname, S_IFIFO | 0600, 0));
    errno = 0;
    expect_mknod_fails("existing name", EEXIST, mknod(exists, S_IFIFO | 0600, 0));
    errno = 0;
    expect_mknod_fails("unmapped path", EFAULT, mknod(unmapped, S_IFIFO | 0600, 0));
    errno = 0;
    expect_mknod_fails("missing directory", ENOENT, mknod(missing, S_IFIFO | 0600, 0));
    errno = 0;
    expect_mknod_fails("empty path", ENOENT, mknod("", S_IFIFO | 0600, 0));
    errno = 0;
    expect_mknod_fails("under a regular file", ENOTDIR, mknod(notdir, S_IFIFO | 0600, 0));
    errno = 0;
    expect_mknod_fails("mkfifo on an existing name", EEXIST, mkfifo(exists, 0600));
}

/* A read-only tmpfs mounted in the case's own mount namespace. */
static const char *readonly_dir(void)
{
    static char dir[128];
    snprintf(dir, sizeof dir, "%s", ipcv_path("ro", 0));
    SAFE(mkdir(dir, 0755));
    if (mount("ipcvet-ro", dir, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV, "size=64k") < 0)
        ipcv_skip("cannot mount a read-only tmpfs here: %s", ipcv_errname(errno));
    return dir;
}

static const char *symlink_loop(void)
{
    static char loop[160];
    char a[128], b[128];
    snprintf(a, sizeof a, "%s", ipcv_path("loop-a", 0));
    snprintf(b, sizeof b, "%s", ipcv_path("loop-b", 0));
    SAFE(symlink(b, a));
    SAFE(symlink(a, b));
    snprintf(loop, sizeof loop, "%s/f", a);
    return loop;
}

static int refused_as_nobody(struct ipcv_role *self, void *arg)
{
    (void)self;
    const char *closed = arg;
    become_nobody();
    char p[160];
    snprintf(p, sizeof p, "%s/f", closed);
    errno = 0;
    expect_mknod_fails("in a directory without write permission", EACCES, mknod(p, S_IFIFO | 0600, 0));
    snprintf(p, sizeof p, "%s/dev", ipcv_tmpdir());
    errno = 0;
    expect_mknod_fails("of a device without CAP_MKNOD", EPERM, mknod(p, S_IFCHR | 0600, makedev(1, 3)));
    return 0;
}

/* mknod(2): EACCES (no write permission on the directory), EPERM (a device
 * without CAP_MKNOD), EROFS (read-only file system), ELOOP (LTP mknod07). */
IPCV_CASE(fifo, mknod_fifo_refused_by_permission_fs_or_loop,
          .tags = "api multi", .covers = "B189", .spec = "mknod(2) ERRORS",
          .desc = "uid 65534 gets EACCES making a FIFO in a root 0755 directory and EPERM making a device; mknod(S_IFIFO) gets EROFS on a read-only tmpfs and ELOOP through a symlink loop")
{
    char closed[128];
    snprintf(closed, sizeof closed, "%s", ipcv_path("closed", 0));
    SAFE(mkdir(closed, 0755));
    const char *ro = readonly_dir();
    char p[160];
    snprintf(p, sizeof p, "%s/f", ro);
    errno = 0;
    expect_mknod_fails("on a read-only file system", EROFS, mknod(p, S_IFIFO | 0600, 0));
    errno = 0;
    expect_mknod_fails("through a symlink loop", ELOOP, mknod(symlink_loop(), S_IFIFO | 0600, 0));
    struct ipcv_role *r = ipcv_spawn("nobody", refused_as_nobody, closed);
    ipcv_join(r, IPCV_EXITED(0));
    SAFE(umount(ro));
}

/* mknod(2) EINVAL: "mode requested creation of something other than a
 * regular file, device special file, FIFO or socket"; a directory type is
 * EPERM ("use mkdir(2)"). LTP mknod09. */
IPCV_CASE(fifo, mknod_with_a_type_that_is_no_node_fails_einval,
          .tags = "api", .covers = "B190", .spec = "mknod(2) EINVAL, EPERM",
          .desc = "mknod with type bits S_IFMT or S_IFLNK fails EINVAL and with S_IFDIR fails EPERM; nothing is created")
{
    const char *p = ipcv_path("node", 0);
    errno = 0;
    expect_mknod_fails("S_IFMT", EINVAL, mknod(p, S_IFMT | 0600, 0));
    errno = 0;
    expect_mknod_fails("S_IFLNK", EINVAL, mknod(p, S_IFLNK | 0600, 0));
    errno = 0;
    expect_mknod_fails("S_IFDIR", EPERM, mknod(p, S_IFDIR | 0700, 0));
    ipcv_expect_fail(ENOENT, access(p, F_OK));
}

/* mknodat(2): a relative path is resolved from dirfd; EBADF for a bad
 * dirfd, ENOTDIR when dirfd is not a directory; an absolute path ignores
 * dirfd (LTP mknodat01). */
IPCV_CASE(fifo, mknodat_resolves_from_dirfd,
          .tags = "api", .covers = "B191", .spec = "mknodat(2)",
          .desc = "mknodat(dirfd, \"f\", S_IFIFO) creates dir/f; a regular-file dirfd fails ENOTDIR, dirfd -1 and a closed dirfd fail EBADF; an absolute path works with any dirfd")
{
    char dir[128];
    snprintf(dir, sizeof dir, "%s", ipcv_path("at", 0));
    SAFE(mkdir(dir, 0755));
    int dfd = SAFE(open(dir, O_RDONLY | O_DIRECTORY));
    ipcv_expect_ok(mknodat(dfd, "f", S_IFIFO | 0600, 0));
    struct stat st;
    ipcv_expect_ok(fstatat(dfd, "f", &st, 0));
    ipcv_expect_true(S_ISFIFO(st.st_mode), "dir/f is not a FIFO: mode %o", st.st_mode);
    int ffd = SAFE(open(ipcv_path("plainfile", 1), O_RDONLY));
    int closed = SAFE(dup(ffd));
    close(closed);
    errno = 0;
    expect_mknod_fails("at a regular-file dirfd", ENOTDIR, mknodat(ffd, "g", S_IFIFO | 0600, 0));
    errno = 0;
    expect_mknod_fails("at dirfd -1", EBADF, mknodat(-1, "g", S_IFIFO | 0600, 0));
    errno = 0;
    expect_mknod_fails("at a closed dirfd", EBADF, mknodat(closed, "g", S_IFIFO | 0600, 0));
    char abs[160];
    snprintf(abs, sizeof abs, "%s/abs", dir);
    ipcv_expect_ok(mknodat(ffd, abs, S_IFIFO | 0600, 0));
    ipcv_expect_ok(unlinkat(dfd, "f", 0));
    ipcv_expect_ok(unlink(abs));
    close(ffd);
    close(dfd);
}

/* mknodat(2): EROFS and ELOOP through dirfd, as for mknod (LTP
 * mknodat02). */
IPCV_CASE(fifo, mknodat_on_a_readonly_fs_or_through_a_loop_fails,
          .tags = "api", .covers = "B192", .spec = "mknodat(2) EROFS, ELOOP",
          .desc = "mknodat(S_IFIFO) relative to a dirfd on a read-only tmpfs fails EROFS, and through a symlink loop relative to the tmp dirfd fails ELOOP")
{
    const char *ro = readonly_dir();
    int rofd = SAFE(open(ro, O_RDONLY | O_DIRECTORY));
    int tmpfd = SAFE(open(ipcv_tmpdir(), O_RDONLY | O_DIRECTORY));
    const char *loop = symlink_loop();
    const char *rel = loop + strlen(ipcv_tmpdir()) + 1;
    errno = 0;
    expect_mknod_fails("at a read-only dirfd", EROFS, mknodat(rofd, "f", S_IFIFO | 0600, 0));
    errno = 0;
    expect_mknod_fails("through a loop", ELOOP, mknodat(tmpfd, rel, S_IFIFO | 0600, 0));
    close(rofd);
    close(tmpfd);
    SAFE(umount(ro));
}

/* --- opening -------------------------------------------------------------- */

struct open_job { char path[128]; int flags; int slot; char text[16]; };

static int open_and_talk(struct ipcv_role *self, void *arg)
{
    struct open_job *j = arg;
    ipcv_ready(self);
    errno = 0;
    int fd = open(j->path, j->flags);
    report(j->slot, fd);
    if (fd < 0)
        return 0;
    if ((j->flags & O_ACCMODE) == O_WRONLY) {
        ipcv_expect_eq(strlen(j->text), write(fd, j->text, strlen(j->text)));
    } else {
        char buf[16] = "";
        ssize_t n = read(fd, buf, sizeof buf - 1);
        ipcv_expect_true(n == (ssize_t)strlen(j->text) && !memcmp(buf, j->text, (size_t)n),
                         "reader got %zd bytes '%s', expected '%s'", n, n > 0 ? buf : "", j->text);
    }
    close(fd);
    return 0;
}

/* fifo(7): "opening the FIFO blocks until the other end is opened also"
 * -- whichever end comes first. */
IPCV_CASE(fifo, blocking_opens_of_both_ends_meet,
          .tags = "multi", .covers = "B718", .spec = "fifo(7); open(2)",
          .desc = "a reader's O_RDONLY open sleeps until a writer opens O_WRONLY (and the other way round); then both opens succeed and the writer's bytes reach the reader")
{
    static const struct { const char *first; int first_flags, second_flags; } rows[] = {
        { "reader first", O_RDONLY, O_WRONLY }, { "writer first", O_WRONLY, O_RDONLY },
    };
    const char *path = fifo_path();
    for (size_t i = 0; i < 2; i++) {
        memset(SH, 0, sizeof *SH);
        struct open_job a = { .flags = rows[i].first_flags, .slot = 0 }, b = { .flags = rows[i].second_flags, .slot = 1 };
        snprintf(a.path, sizeof a.path, "%s", path);
        snprintf(b.path, sizeof b.path, "%s", path);
        snprintf(a.text, sizeof a.text, "meet%zu", i);
        snprintf(b.text, sizeof b.text, "meet%zu", i);
        struct ipcv_role *ra = ipcv_spawn("first", open_and_talk, &a);
        ipcv_wait_ready(ra);
        expect_asleep(ra, 0, SYS_openat, rows[i].first);
        struct ipcv_role *rb = ipcv_spawn("second", open_and_talk, &b);
        ipcv_join(ra, IPCV_EXITED(0));
        ipcv_join(rb, IPCV_EXITED(0));
        ipcv_expect_true(SH->result[0] >= 0 && SH->result[1] >= 0, "%s: opens returned %ld (%s) and %ld (%s)",
                         rows[i].first, SH->result[0], ipcv_errname(SH->err[0]), SH->result[1],
                         ipcv_errname(SH->err[1]));
    }
    SAFE(unlink(path));
}

/* fifo(7): "A process can open a FIFO in nonblocking mode. In this case,
 * opening for read-only succeeds even if no one has opened on the write
 * side yet and opening for write-only fails with ENXIO (no such device or
 * address) unless the other end has already been opened." */
IPCV_CASE(fifo, nonblocking_write_open_without_a_reader_fails_enxio,
          .tags = "api", .covers = "B193 B722", .spec = "fifo(7); open(2) ENXIO",
          .desc = "with nobody at either end, O_WRONLY|O_NONBLOCK fails ENXIO while O_RDONLY|O_NONBLOCK succeeds at once (and reads end-of-file); with that reader open, O_WRONLY|O_NONBLOCK succeeds")
{
    const char *path = fifo_path();
    ipcv_expect_fail(ENXIO, open(path, O_WRONLY | O_NONBLOCK));
    int r = open(path, O_RDONLY | O_NONBLOCK);
    ipcv_expect_true(r >= 0, "O_RDONLY|O_NONBLOCK without a writer: %s", ipcv_errname(errno));
    if (r >= 0) {
        char c;
        ipcv_expect_eq(0, read(r, &c, 1));
        int w = open(path, O_WRONLY | O_NONBLOCK);
        ipcv_expect_true(w >= 0, "O_WRONLY|O_NONBLOCK with a reader: %s", ipcv_errname(errno));
        if (w >= 0)
            close(w);
        close(r);
    }
    ipcv_expect_fail(ENXIO, open(path, O_WRONLY | O_NONBLOCK));
    SAFE(unlink(path));
}

/* open(2) O_TRUNC: "If the file ... is a FIFO or terminal device file, the
 * O_TRUNC flag is ignored." */
IPCV_CASE(fifo, open_with_o_trunc_keeps_the_data,
          .tags = "api", .covers = "B719", .spec = "open(2) O_TRUNC",
          .desc = "bytes written into a FIFO held open are still there after another open with O_WRONLY|O_TRUNC, and are read back whole")
{
    const char *path = fifo_path();
    int rw = SAFE(open(path, O_RDWR | O_NONBLOCK));
    SAFE(write(rw, "kept", 4));
    int t = open(path, O_WRONLY | O_TRUNC | O_NONBLOCK);
    ipcv_expect_true(t >= 0, "O_WRONLY|O_TRUNC: %s", ipcv_errname(errno));
    if (t >= 0)
        close(t);
    char buf[8] = "";
    ipcv_expect_eq(4, read(rw, buf, sizeof buf));
    ipcv_expect_mem("kept", buf, 4);
    close(rw);
    SAFE(unlink(path));
}

/* truncate(2) EINVAL: "The argument length is negative or larger than the
 * maximum file size" -- and for anything but a regular file (a FIFO), as
 * Linux and gVisor answer. */
IPCV_CASE(fifo, truncating_a_fifo_fails_einval,
          .tags = "api", .covers = "B704", .spec = "truncate(2), ftruncate(2) EINVAL",
          .desc = "truncate(path, 0) of a FIFO and ftruncate of an open FIFO descriptor fail EINVAL")
{
    const char *path = fifo_path();
    ipcv_expect_fail(EINVAL, truncate(path, 0));
    int rw = SAFE(open(path, O_RDWR | O_NONBLOCK));
    ipcv_expect_fail(EINVAL, ftruncate(rw, 0));
    close(rw);
    SAFE(unlink(path));
}

/* fifo(7): "Under Linux, opening a FIFO for read and write will succeed
 * both in blocking and nonblocking mode." It counts as a reader and a
 * writer. */
IPCV_CASE(fifo, open_for_reading_and_writing_does_not_block,
          .tags = "api", .covers = "B721", .spec = "fifo(7) (Linux O_RDWR)",
          .desc = "a blocking O_RDWR open of a FIFO with no other user returns at once; what it writes it reads back; while it is open O_WRONLY|O_NONBLOCK succeeds")
{
    const char *path = fifo_path();
    int rw = open(path, O_RDWR);
    ipcv_expect_true(rw >= 0, "O_RDWR: %s", ipcv_errname(errno));
    if (rw >= 0) {
        ipcv_expect_eq(5, write(rw, "hello", 5));
        char buf[8];
        ipcv_expect_eq(5, read(rw, buf, sizeof buf));
        ipcv_expect_mem("hello", buf, 5);
        int w = open(path, O_WRONLY | O_NONBLOCK);
        ipcv_expect_true(w >= 0, "O_WRONLY|O_NONBLOCK beside O_RDWR: %s", ipcv_errname(errno));
        if (w >= 0)
            close(w);
        close(rw);
    }
    SAFE(unlink(path));
}

struct writer_job { char path[128]; char text[16]; };

static int write_once(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct writer_job *j = arg;
    int fd = SAFE(open(j->path, O_WRONLY));
    ipcv_expect_eq(strlen(j->text), write(fd, j->text, strlen(j->text)));
    close(fd);
    return 0;
}

/* pipe(7)/fifo(7): when the last writer closes the reader sees end-of-file;
 * a FIFO is reusable: a new writer's data reaches the same open reader. */
IPCV_CASE(fifo, reader_sees_eof_then_the_data_of_a_new_writer,
          .tags = "multi", .spec = "fifo(7); pipe(7) I/O on pipes and FIFOs",
          .desc = "a reader with the FIFO open gets 'one' from a first writer process, then end-of-file when it exits, then 'two' from a second writer that opens the same FIFO afterwards")
{
    const char *path = fifo_path();
    struct writer_job one = { .text = "one" }, two = { .text = "two" };
    snprintf(one.path, sizeof one.path, "%s", path);
    snprintf(two.path, sizeof two.path, "%s", path);
    struct ipcv_role *w1 = ipcv_spawn("writer1", write_once, &one);
    int r = SAFE(open(path, O_RDONLY));   /* meets writer1's open */
    ipcv_join(w1, IPCV_EXITED(0));
    char buf[16] = "";
    ipcv_expect_eq(3, read(r, buf, sizeof buf));
    ipcv_expect_mem("one", buf, 3);
    ipcv_expect_eq(0, read(r, buf, sizeof buf));
    struct ipcv_role *w2 = ipcv_spawn("writer2", write_once, &two);
    ipcv_join(w2, IPCV_EXITED(0));
    memset(buf, 0, sizeof buf);
    ipcv_expect_eq(3, read(r, buf, sizeof buf));
    ipcv_expect_mem("two", buf, 3);
    ipcv_expect_eq(0, read(r, buf, sizeof buf));
    close(r);
    SAFE(unlink(path));
}

static int hold_reader(struct ipcv_role *self, void *arg)
{
    int fd = SAFE(open((const char *)arg, O_RDONLY));
    ipcv_ready(self);
    ipcv_await_release(self);
    close(fd);
    return 0;
}

static void count_sigpipe(int sig)
{
    (void)sig;
    atomic_fetch_add(&SH->sigpipes, 1);
}

static int fill_then_write(struct ipcv_role *self, void *arg)
{
    struct sigaction sa = { .sa_handler = count_sigpipe };
    sigemptyset(&sa.sa_mask);
    SAFE(sigaction(SIGPIPE, &sa, NULL));
    int fd = SAFE(open((const char *)arg, O_WRONLY));
    SAFE(fcntl(fd, F_SETFL, O_NONBLOCK));
    static char junk[4096];
    for (size_t chunk = sizeof junk; chunk >= 1; chunk /= 2)
        while (write(fd, junk, chunk) > 0)
            ;
    SAFE(fcntl(fd, F_SETFL, 0));
    ipcv_ready(self);
    errno = 0;
    report(0, write(fd, junk, 1));
    close(fd);
    return 0;
}

/* fifo(7)/pipe(7): a writer asleep on a full FIFO whose only reader is
 * killed gets SIGPIPE and EPIPE. */
IPCV_CASE(fifo, blocked_writer_gets_epipe_when_the_reader_is_killed,
          .tags = "multi crash", .spec = "fifo(7); pipe(7); write(2) EPIPE",
          .desc = "a writer asleep on a full FIFO returns EPIPE with one SIGPIPE when the process holding the only read end is SIGKILLed")
{
    memset(SH, 0, sizeof *SH);
    const char *path = fifo_path();
    struct ipcv_role *reader = ipcv_spawn("reader", hold_reader, (void *)path);
    struct ipcv_role *writer = ipcv_spawn("writer", fill_then_write, (void *)path);
    ipcv_wait_ready(reader);
    ipcv_wait_ready(writer);
    ipcv_wait_blocked(writer, "write");
    SAFE(kill(ipcv_role_pid(reader), SIGKILL));
    ipcv_join(reader, IPCV_KILLED(SIGKILL));
    ipcv_join(writer, IPCV_EXITED(0));
    ipcv_expect_true(SH->result[0] == -1 && SH->err[0] == EPIPE, "blocked write: expected EPIPE, seen %ld (%s)",
                     SH->result[0], ipcv_errname(SH->err[0]));
    ipcv_expect_eq(1, atomic_load(&SH->sigpipes));
    SAFE(unlink(path));
}

/* --- interruption ---------------------------------------------------------- */

static void on_usr1(int sig)
{
    (void)sig;
    atomic_fetch_add(&SH->handled, 1);
}

struct intr_job { char path[128]; int flags; int sa_flags; };

static int interrupted_open(struct ipcv_role *self, void *arg)
{
    struct intr_job *j = arg;
    struct sigaction sa = { .sa_handler = on_usr1, .sa_flags = j->sa_flags };
    sigemptyset(&sa.sa_mask);
    SAFE(sigaction(SIGUSR1, &sa, NULL));
    ipcv_ready(self);
    errno = 0;
    int fd = open(j->path, j->flags);
    report(0, fd);
    if (fd >= 0)
        close(fd);
    return 0;
}

struct settle { pid_t pid; };

static int settled(void *arg)
{
    struct settle *s = arg;
    return atomic_load(&SH->done[0]) || (atomic_load(&SH->handled) && ipcv_pid_asleep_in(s->pid, SYS_openat));
}

/* signal(7): "open(2), if it can block (e.g., when opening a FIFO; see
 * fifo(7))" is restarted with SA_RESTART and fails EINTR without it (gVisor
 * OpenBlockedAndInterrupted for the EINTR half). */
IPCV_CASE(fifo, interrupted_blocking_open_restarts_only_with_sa_restart,
          .tags = "multi fault", .covers = "B720", .spec = "signal(7) Interruption of system calls; fifo(7)",
          .desc = "a process asleep opening a FIFO O_RDONLY or O_WRONLY whose SIGUSR1 handler runs fails EINTR without SA_RESTART, and with SA_RESTART sleeps again and succeeds once the other end is opened")
{
    static const struct { const char *what; int flags, sa_flags; } rows[] = {
        { "O_RDONLY without SA_RESTART", O_RDONLY, 0 },
        { "O_WRONLY without SA_RESTART", O_WRONLY, 0 },
        { "O_RDONLY with SA_RESTART", O_RDONLY, SA_RESTART },
        { "O_WRONLY with SA_RESTART", O_WRONLY, SA_RESTART },
    };
    const char *path = fifo_path();
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        memset(SH, 0, sizeof *SH);
        struct intr_job j = { .flags = rows[i].flags, .sa_flags = rows[i].sa_flags };
        snprintf(j.path, sizeof j.path, "%s", path);
        struct ipcv_role *r = ipcv_spawn("opener", interrupted_open, &j);
        ipcv_wait_ready(r);
        ipcv_wait_blocked(r, "openat");
        SAFE(kill(ipcv_role_pid(r), SIGUSR1));
        struct settle s = { ipcv_role_pid(r) };
        if (!ipcv_poll_until(settled, &s, ipcv_wait_bound()))
            ipcv_brk(__FILE__, __LINE__, "%s: the role neither returned nor slept again", rows[i].what);
        int other = -1;
        if (!atomic_load(&SH->done[0]))   /* asleep again: open the other end */
            other = SAFE(open(path, (rows[i].flags == O_RDONLY ? O_WRONLY : O_RDONLY) | O_NONBLOCK));
        ipcv_join(r, IPCV_EXITED(0));
        if (other >= 0)
            close(other);
        ipcv_expect_eq(1, atomic_load(&SH->handled));
        if (rows[i].sa_flags & SA_RESTART)
            ipcv_expect_true(SH->result[0] >= 0, "%s: expected the open restarted and completed, seen %s",
                             rows[i].what, ipcv_errname(SH->err[0]));
        else
            ipcv_expect_true(SH->result[0] == -1 && SH->err[0] == EINTR, "%s: expected EINTR, seen %s",
                             rows[i].what, SH->result[0] >= 0 ? "success" : ipcv_errname(SH->err[0]));
    }
    SAFE(unlink(path));
}
