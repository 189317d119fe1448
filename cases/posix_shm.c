/* POSIX shared memory objects, one process at a time: shm_open's names,
 * flags, ownership, permissions and errors. Lifetime and sharing across
 * processes are in posix_shm_lifetime.c. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <grp.h>
#include <linux/limits.h>   /* NAME_MAX: <limits.h> is shadowed by harness/limits.h */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ipcvet.h"

/* glibc keeps POSIX shared memory objects as files in /dev/shm. */
static const char *shm_path(const char *name)
{
    static char buf[2][NAME_MAX + 32];
    static unsigned k;
    char *b = buf[k++ % 2];
    snprintf(b, sizeof buf[0], "/dev/shm%s", name);
    return b;
}

static int name_exists(const char *name)
{
    struct stat st;
    return stat(shm_path(name), &st) == 0;
}

/* In a role: drop root for uid/gid 65534 (nobody), or skip. */
static void become_nobody(void)
{
    if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
        setresuid(65534, 65534, 65534) < 0)
        ipcv_skip("cannot become uid 65534: %s", ipcv_errname(errno));
}

/* An object with exactly this mode and `size` bytes of `fill`. */
static void make_object(const char *name, mode_t mode, size_t size, char fill)
{
    int fd = SAFE(shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600));
    SAFE(fchmod(fd, mode));
    if (size) {
        char buf[4096];
        memset(buf, fill, sizeof buf);
        for (size_t off = 0; off < size; off += sizeof buf)
            SAFE(pwrite(fd, buf, size - off < sizeof buf ? size - off : sizeof buf, (off_t)off));
    }
    close(fd);
}

/* POSIX.1-2017 shm_open(): O_CREAT creates the object and returns a file
 * descriptor for it; "the shared memory object has a size of zero". */
IPCV_CASE(posix_shm, create_gives_fd_to_new_empty_object,
          .tags = "api", .covers = "B357 B363 B368",
          .spec = "POSIX.1-2017 shm_open()",
          .desc = "shm_open(O_CREAT|O_RDWR) on a missing name creates a regular, empty object under that name and returns a descriptor for it")
{
    const char *name = ipcv_name("new");
    ipcv_expect_true(!name_exists(name), "%s exists before shm_open", name);
    int fd = ipcv_expect_ok(shm_open(name, O_CREAT | O_RDWR, 0600));
    if (fd < 0)
        return;
    struct stat st, named;
    SAFE(fstat(fd, &st));
    ipcv_expect_true(S_ISREG(st.st_mode), "the descriptor is not a regular file (mode %#o)", st.st_mode);
    ipcv_expect_eq(0, st.st_size);
    if (ipcv_expect_ok(stat(shm_path(name), &named)) == 0)
        ipcv_expect_eq(st.st_ino, named.st_ino);
    close(fd);
    shm_unlink(name);
}

/* POSIX.1-2017 shm_open(): "The file descriptor shall be the lowest
 * numbered file descriptor not currently open for that process." */
IPCV_CASE(posix_shm, open_returns_lowest_free_fd,
          .tags = "api", .covers = "B359",
          .spec = "POSIX.1-2017 shm_open()",
          .desc = "with a hole left in the descriptor table, shm_open returns the lowest free descriptor")
{
    /* Descriptors are handed out lowest first: below `low` none is free,
     * so after closing `hole` it is the lowest free descriptor. */
    int low = SAFE(open("/dev/null", O_RDONLY | O_CLOEXEC));
    int hole = SAFE(open("/dev/null", O_RDONLY | O_CLOEXEC));
    int high = SAFE(open("/dev/null", O_RDONLY | O_CLOEXEC));
    close(hole);
    const char *name = ipcv_name("lowest");
    int fd = ipcv_expect_ok(shm_open(name, O_CREAT | O_RDWR, 0600));
    ipcv_expect_eq(hole, fd);
    if (fd >= 0)
        close(fd);
    shm_unlink(name);
    close(low);
    close(high);
}

/* POSIX.1-2017 shm_open(): "The FD_CLOEXEC file descriptor flag associated
 * with the new file descriptor is set." */
IPCV_CASE(posix_shm, open_sets_close_on_exec,
          .tags = "api", .covers = "B360",
          .spec = "POSIX.1-2017 shm_open()",
          .desc = "the descriptors shm_open returns, creating or not, have FD_CLOEXEC set and the access mode asked for")
{
    const char *name = ipcv_name("cloexec");
    int fd = SAFE(shm_open(name, O_CREAT | O_RDWR, 0600));
    ipcv_expect_bits(FD_CLOEXEC, fcntl(fd, F_GETFD));
    ipcv_expect_eq(O_RDWR, fcntl(fd, F_GETFL) & O_ACCMODE);
    int again = SAFE(shm_open(name, O_RDONLY, 0));
    ipcv_expect_bits(FD_CLOEXEC, fcntl(again, F_GETFD));
    ipcv_expect_eq(O_RDONLY, fcntl(again, F_GETFL) & O_ACCMODE);
    close(again);
    close(fd);
    SAFE(shm_unlink(name));
}

/* glibc rt/shm_open.c opens with O_NOFOLLOW|O_CLOEXEC added, so a symbolic
 * link planted in the shm directory is never followed. */
IPCV_CASE(posix_shm, open_does_not_follow_a_symlink,
          .tags = "api", .covers = "B746",
          .spec = "glibc shm_open (O_NOFOLLOW|O_CLOEXEC added); open(2) O_NOFOLLOW",
          .desc = "a name that is a symbolic link to another object fails with ELOOP, with and without O_CREAT, and the target is untouched")
{
    const char *target = ipcv_name("target"), *link = ipcv_name("link");
    make_object(target, 0600, 100, 't');
    SAFE(symlink(shm_path(target), shm_path(link)));
    ipcv_expect_fail(ELOOP, shm_open(link, O_RDWR, 0));
    ipcv_expect_fail(ELOOP, shm_open(link, O_RDONLY, 0));
    ipcv_expect_fail(ELOOP, shm_open(link, O_CREAT | O_RDWR | O_TRUNC, 0600));
    struct stat st;
    SAFE(stat(shm_path(target), &st));
    ipcv_expect_eq(100, st.st_size);
    SAFE(unlink(shm_path(link)));
    SAFE(shm_unlink(target));
}

/* POSIX.1-2017 shm_open(): O_RDONLY opens for read access only; mmap(2):
 * EACCES for a MAP_SHARED, PROT_WRITE mapping of a descriptor not open for
 * writing. */
IPCV_CASE(posix_shm, rdonly_open_refuses_shared_writable_mapping,
          .tags = "api", .covers = "B361",
          .spec = "POSIX.1-2017 shm_open() O_RDONLY; mmap(2) EACCES",
          .desc = "an object opened O_RDONLY maps PROT_READ|MAP_SHARED but a PROT_WRITE|MAP_SHARED mapping fails with EACCES")
{
    const char *name = ipcv_name("rdonly");
    make_object(name, 0600, 4096, 'r');
    int fd = SAFE(shm_open(name, O_RDONLY, 0));
    ipcv_expect_eq(O_RDONLY, fcntl(fd, F_GETFL) & O_ACCMODE);
    ipcv_expect_fail(EACCES, mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
    ipcv_expect_fail(EACCES, mmap(NULL, 4096, PROT_WRITE, MAP_SHARED, fd, 0));
    char *p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
    ipcv_expect_true(p != MAP_FAILED, "PROT_READ mapping failed: %s", ipcv_errname(errno));
    if (p != MAP_FAILED) {
        ipcv_expect_eq('r', p[4095]);
        munmap(p, 4096);
    }
    close(fd);
    SAFE(shm_unlink(name));
}

/* POSIX.1-2017 shm_open(): O_RDWR opens for read and write access. */
IPCV_CASE(posix_shm, rdwr_open_allows_shared_read_write_mapping,
          .tags = "api", .covers = "B362",
          .spec = "POSIX.1-2017 shm_open() O_RDWR",
          .desc = "an existing object opened O_RDWR maps PROT_READ|PROT_WRITE, MAP_SHARED; what is written through the mapping is in the object")
{
    const char *name = ipcv_name("rdwr");
    make_object(name, 0600, 4096, 'o');
    int fd = SAFE(shm_open(name, O_RDWR, 0));
    char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ipcv_expect_true(p != MAP_FAILED, "read-write shared mapping failed: %s", ipcv_errname(errno));
    if (p != MAP_FAILED) {
        ipcv_expect_eq('o', p[0]);
        memcpy(p, "written", 7);
        munmap(p, 4096);
    }
    close(fd);
    char buf[8] = "";
    int rd = SAFE(shm_open(name, O_RDONLY, 0));
    SAFE(pread(rd, buf, 7, 0));
    ipcv_expect_mem("written", buf, 7);
    close(rd);
    SAFE(shm_unlink(name));
}

struct owner_arg { char name[64]; };

/* Effective ids differ from the real ones, so an implementation that used
 * the real ids would be seen. */
static int create_as_other_ids(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct owner_arg *a = arg;
    if (setgroups(0, NULL) < 0 || setresgid(0, 65533, 0) < 0 || setresuid(0, 65534, 0) < 0)
        ipcv_skip("cannot switch to effective uid 65534 gid 65533: %s", ipcv_errname(errno));
    int fd = ipcv_expect_ok(shm_open(a->name, O_CREAT | O_EXCL | O_RDWR, 0600));
    if (fd < 0)
        return 0;
    struct stat st;
    SAFE(fstat(fd, &st));
    ipcv_expect_eq(65534, st.st_uid);
    ipcv_expect_eq(65533, st.st_gid);
    close(fd);
    return 0;
}

/* POSIX.1-2017 shm_open(): "the user ID of the shared memory object shall
 * be set to the effective user ID of the process; the group ID ... to a
 * system default group ID or to the effective group ID of the process." */
IPCV_CASE(posix_shm, new_object_is_owned_by_effective_uid_and_gid,
          .tags = "multi", .covers = "B364 B365",
          .spec = "POSIX.1-2017 shm_open() O_CREAT",
          .desc = "a process with real ids 0 and effective uid 65534, gid 65533 creates an object owned by 65534:65533")
{
    struct owner_arg a;
    snprintf(a.name, sizeof a.name, "%s", ipcv_name("owner"));
    struct ipcv_role *r = ipcv_spawn("creator", create_as_other_ids, &a);
    ipcv_join(r, IPCV_EXITED(0));
    struct stat st;
    if (stat(shm_path(a.name), &st) == 0) {
        ipcv_expect_eq(65534, st.st_uid);
        ipcv_expect_eq(65533, st.st_gid);
        shm_unlink(a.name);
    }
}

/* POSIX.1-2017 shm_open(): "the permission bits ... shall be set to the
 * value of the argument following the oflag argument except those set in
 * the file mode creation mask of the process." */
IPCV_CASE(posix_shm, new_object_mode_is_mode_without_umask_bits,
          .tags = "api", .covers = "B366",
          .spec = "POSIX.1-2017 shm_open() O_CREAT; umask(2)",
          .desc = "for several umask/mode pairs the new object's permission bits are mode & ~umask")
{
    static const struct { mode_t umask, mode, expected; } tcases[] = {
        { 022, 0666, 0644 }, { 077, 0666, 0600 }, { 0, 0640, 0640 },
        { 027, 0777, 0750 }, { 0222, 0666, 0444 },
    };
    mode_t saved = umask(0);
    for (size_t i = 0; i < sizeof tcases / sizeof tcases[0]; i++) {
        const char *name = ipcv_name("umask");
        umask(tcases[i].umask);
        int fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, tcases[i].mode);
        umask(0);
        if (fd < 0) {
            ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "umask %#o mode %#o: shm_open failed: %s",
                        tcases[i].umask, tcases[i].mode, ipcv_errname(errno));
            continue;
        }
        struct stat st;
        SAFE(fstat(fd, &st));
        if ((st.st_mode & 07777) != tcases[i].expected)
            ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "umask %#o mode %#o: expected mode %#o, seen %#o",
                        tcases[i].umask, tcases[i].mode, tcases[i].expected, st.st_mode & 07777);
        close(fd);
        SAFE(shm_unlink(name));
    }
    umask(saved);
}

struct mode_arg { char name[64]; };

static int create_with_modes(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct mode_arg *a = arg;
    static const mode_t modes[] = { 0000, 0400, 0200 };
    become_nobody();
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        int fd = shm_open(a->name, O_CREAT | O_EXCL | O_RDWR, modes[i]);
        if (fd < 0) {
            ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "mode %#o: creating O_RDWR open failed: %s",
                        modes[i], ipcv_errname(errno));
            continue;
        }
        /* The creating descriptor is read-write whatever the mode says ... */
        ipcv_expect_eq(O_RDWR, fcntl(fd, F_GETFL) & O_ACCMODE);
        ipcv_expect_ok(ftruncate(fd, 4096));
        void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        ipcv_expect_true(p != MAP_FAILED, "mode %#o: read-write mapping failed: %s",
                         modes[i], ipcv_errname(errno));
        if (p != MAP_FAILED)
            munmap(p, 4096);
        /* ... while a later O_RDWR open is checked against it. */
        ipcv_expect_fail(EACCES, shm_open(a->name, O_RDWR, 0));
        close(fd);
        ipcv_expect_ok(shm_unlink(a->name));
    }
    return 0;
}

/* POSIX.1-2017 shm_open(): the mode "does not affect whether the shared
 * memory object is opened for reading, for writing, or for both". */
IPCV_CASE(posix_shm, creating_open_is_read_write_whatever_the_mode,
          .tags = "multi", .covers = "B367",
          .spec = "POSIX.1-2017 shm_open() O_CREAT",
          .desc = "uid 65534 creates objects with modes 0, 0400 and 0200 O_RDWR: each creating descriptor can ftruncate and map read-write, a second O_RDWR open fails with EACCES")
{
    struct mode_arg a;
    snprintf(a.name, sizeof a.name, "%s", ipcv_name("mode"));
    struct ipcv_role *r = ipcv_spawn("creator", create_with_modes, &a);
    ipcv_join(r, IPCV_EXITED(0));
    if (name_exists(a.name))
        shm_unlink(a.name);
}

/* POSIX.1-2017 shm_open(): "If O_EXCL and O_CREAT are set, shm_open() fails
 * if the shared memory object exists" [EEXIST]. */
IPCV_CASE(posix_shm, creat_excl_on_existing_name_fails_eexist,
          .tags = "api", .covers = "B369",
          .spec = "POSIX.1-2017 shm_open() EEXIST",
          .desc = "O_CREAT|O_EXCL on an existing name fails with EEXIST for both access modes and leaves the object as it was; O_CREAT alone opens it")
{
    const char *name = ipcv_name("excl");
    make_object(name, 0600, 4096, 'e');
    struct stat before, after;
    SAFE(stat(shm_path(name), &before));
    ipcv_expect_fail(EEXIST, shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600));
    ipcv_expect_fail(EEXIST, shm_open(name, O_CREAT | O_EXCL | O_RDONLY, 0600));
    ipcv_expect_fail(EEXIST, shm_open(name, O_CREAT | O_EXCL | O_RDWR | O_TRUNC, 0600));
    SAFE(stat(shm_path(name), &after));
    ipcv_expect_eq(before.st_ino, after.st_ino);
    ipcv_expect_eq(4096, after.st_size);
    int fd = ipcv_expect_ok(shm_open(name, O_CREAT | O_RDWR, 0600));
    if (fd >= 0) {
        SAFE(fstat(fd, &after));
        ipcv_expect_eq(before.st_ino, after.st_ino);
        close(fd);
    }
    SAFE(shm_unlink(name));
}

/* POSIX.1-2017 shm_open(): "The check for the existence of the shared
 * memory object and the creation of the object if it does not exist is
 * atomic with respect to other processes executing shm_open() naming the
 * same shared memory object with O_EXCL and O_CREAT set." */
#define RACERS 4
#define RACE_ROUNDS 24

struct race {
    char names[RACE_ROUNDS][64];
    atomic_int winners[RACE_ROUNDS];
    atomic_int other_errors;
};

static int race_creator(struct ipcv_role *self, void *arg)
{
    (void)self; (void)arg;
    struct race *rc = (struct race *)ipcv_self.page->scratch;
    for (unsigned r = 0; r < RACE_ROUNDS; r++) {
        ipcv_checkpoint_wait(0, r + 1);          /* all racers start together */
        int fd = shm_open(rc->names[r], O_CREAT | O_EXCL | O_RDWR, 0600);
        if (fd >= 0) {
            atomic_fetch_add(&rc->winners[r], 1);
            close(fd);
        } else if (errno != EEXIST) {
            atomic_fetch_add(&rc->other_errors, 1);
        }
        ipcv_checkpoint_signal(1);
    }
    return 0;
}

IPCV_CASE(posix_shm, creat_excl_race_has_exactly_one_winner,
          .tags = "multi sync", .covers = "B370",
          .spec = "POSIX.1-2017 shm_open() O_CREAT|O_EXCL",
          .desc = "4 processes released together create the same name with O_CREAT|O_EXCL, 24 rounds: each round exactly one succeeds and the others fail with EEXIST")
{
    _Static_assert(sizeof(struct race) <= sizeof ipcv_self.page->scratch, "race fits in scratch");
    struct race *rc = (struct race *)ipcv_self.page->scratch;
    for (unsigned r = 0; r < RACE_ROUNDS; r++)
        snprintf(rc->names[r], sizeof rc->names[r], "%s%u", ipcv_name("race"), r);
    struct ipcv_role *racers[RACERS];
    for (int i = 0; i < RACERS; i++)
        racers[i] = ipcv_spawn("racer", race_creator, NULL);
    int bad_rounds = 0;
    for (unsigned r = 0; r < RACE_ROUNDS; r++) {
        ipcv_checkpoint_signal(0);
        ipcv_checkpoint_wait(1, (r + 1) * RACERS);
        if (atomic_load(&rc->winners[r]) != 1 && bad_rounds++ == 0)
            ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "round %u: %d creators succeeded, expected exactly 1",
                        r, atomic_load(&rc->winners[r]));
        shm_unlink(rc->names[r]);
    }
    for (int i = 0; i < RACERS; i++)
        ipcv_join(racers[i], IPCV_EXITED(0));
    ipcv_expect_eq(0, bad_rounds);
    ipcv_expect_eq(0, atomic_load(&rc->other_errors));
}

/* POSIX.1-2017 shm_open() O_TRUNC: "If the shared memory object exists,
 * and it is successfully opened O_RDWR, the object shall be truncated to
 * zero length". */
IPCV_CASE(posix_shm, trunc_on_rdwr_open_empties_object,
          .tags = "api", .covers = "B371",
          .spec = "POSIX.1-2017 shm_open() O_TRUNC",
          .desc = "an 8192-byte object opened O_RDWR|O_TRUNC has size 0, and growing it again reads back zeros, not the old bytes")
{
    const char *name = ipcv_name("trunc");
    make_object(name, 0600, 8192, 'x');
    int fd = ipcv_expect_ok(shm_open(name, O_RDWR | O_TRUNC, 0));
    if (fd >= 0) {
        struct stat st;
        SAFE(fstat(fd, &st));
        ipcv_expect_eq(0, st.st_size);
        SAFE(ftruncate(fd, 8192));
        char buf[16], zero[16] = { 0 };
        SAFE(pread(fd, buf, sizeof buf, 4000));
        ipcv_expect_mem(zero, buf, sizeof buf);
        close(fd);
    }
    SAFE(shm_unlink(name));
}

/* POSIX.1-2017 shm_open() O_TRUNC: the object is truncated to zero length
 * "and the mode and owner shall be unchanged by this function call". */
IPCV_CASE(posix_shm, trunc_keeps_mode_owner_and_identity,
          .tags = "api", .covers = "B372",
          .spec = "POSIX.1-2017 shm_open() O_TRUNC",
          .desc = "O_CREAT|O_RDWR|O_TRUNC on an existing object owned by 65534:65533 with mode 0640 keeps owner, mode and inode; only the size becomes 0")
{
    const char *name = ipcv_name("truncmode");
    make_object(name, 0640, 4096, 'm');
    SAFE(chown(shm_path(name), 65534, 65533));
    struct stat before, after;
    SAFE(stat(shm_path(name), &before));
    int fd = ipcv_expect_ok(shm_open(name, O_CREAT | O_RDWR | O_TRUNC, 0600));
    if (fd >= 0) {
        SAFE(fstat(fd, &after));
        ipcv_expect_eq(0, after.st_size);
        ipcv_expect_eq(0640, after.st_mode & 07777);
        ipcv_expect_eq(65534, after.st_uid);
        ipcv_expect_eq(65533, after.st_gid);
        ipcv_expect_eq(before.st_ino, after.st_ino);
        close(fd);
    }
    SAFE(shm_unlink(name));
}

/* POSIX.1-2017 shm_open(): [ENOENT] "O_CREAT is not set and the named
 * shared memory object does not exist." */
IPCV_CASE(posix_shm, open_of_missing_name_without_creat_fails_enoent,
          .tags = "api", .covers = "B379",
          .spec = "POSIX.1-2017 shm_open() ENOENT",
          .desc = "without O_CREAT a missing name fails with ENOENT for O_RDONLY, O_RDWR and O_RDWR|O_TRUNC, and nothing is created")
{
    const char *name = ipcv_name("missing");
    ipcv_expect_fail(ENOENT, shm_open(name, O_RDONLY, 0600));
    ipcv_expect_fail(ENOENT, shm_open(name, O_RDWR, 0600));
    ipcv_expect_fail(ENOENT, shm_open(name, O_RDWR | O_TRUNC, 0600));
    ipcv_expect_fail(ENOENT, shm_open(name, O_RDWR | O_EXCL, 0600));
    ipcv_expect_true(!name_exists(name), "%s was created", name);
}

struct access_arg { char names[5][64]; };

static const struct {
    mode_t mode;
    int oflag;
    int err;        /* 0: the open succeeds */
} access_cases[5] = {
    { 0600, O_RDONLY, EACCES }, { 0600, O_RDWR, EACCES }, { 0644, O_RDONLY, 0 },
    { 0644, O_RDWR, EACCES },   { 0606, O_RDWR, 0 },
};

static int open_as_nobody(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct access_arg *a = arg;
    become_nobody();
    for (int i = 0; i < 5; i++) {
        errno = 0;
        int fd = shm_open(a->names[i], access_cases[i].oflag, 0);
        int err = fd < 0 ? errno : 0;
        if (err != access_cases[i].err)
            ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "mode %#o, %s by uid 65534: expected %s, seen %s",
                        access_cases[i].mode, access_cases[i].oflag == O_RDWR ? "O_RDWR" : "O_RDONLY",
                        ipcv_errname(access_cases[i].err), ipcv_errname(err));
        if (fd >= 0)
            close(fd);
    }
    return 0;
}

/* POSIX.1-2017 shm_open(): [EACCES] "The shared memory object exists and
 * the permissions specified by oflag are denied". */
IPCV_CASE(posix_shm, open_denied_by_mode_fails_eacces,
          .tags = "multi", .covers = "B374",
          .spec = "POSIX.1-2017 shm_open() EACCES",
          .desc = "uid 65534 opening root's objects: 0600 denies O_RDONLY and O_RDWR, 0644 allows O_RDONLY only, 0606 allows O_RDWR through the other bits")
{
    struct access_arg a;
    for (int i = 0; i < 5; i++) {
        snprintf(a.names[i], sizeof a.names[i], "%s%d", ipcv_name("perm"), i);
        make_object(a.names[i], access_cases[i].mode, 0, 0);
    }
    struct ipcv_role *r = ipcv_spawn("opener", open_as_nobody, &a);
    ipcv_join(r, IPCV_EXITED(0));
    for (int i = 0; i < 5; i++)
        SAFE(shm_unlink(a.names[i]));
}

static int truncate_as_nobody(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct owner_arg *a = arg;
    become_nobody();
    ipcv_expect_fail(EACCES, shm_open(a->name, O_RDWR | O_TRUNC, 0));
    ipcv_expect_fail(EACCES, shm_open(a->name, O_CREAT | O_RDWR | O_TRUNC, 0600));
    return 0;
}

/* POSIX.1-2017 shm_open(): [EACCES] "O_TRUNC is specified and write
 * permission is denied." */
IPCV_CASE(posix_shm, trunc_without_write_permission_fails_eacces,
          .tags = "multi", .covers = "B375",
          .spec = "POSIX.1-2017 shm_open() EACCES O_TRUNC",
          .desc = "uid 65534 opening root's 0644 object with O_TRUNC fails with EACCES and the object keeps its size and bytes")
{
    struct owner_arg a;
    snprintf(a.name, sizeof a.name, "%s", ipcv_name("truncperm"));
    make_object(a.name, 0644, 4096, 'k');
    struct ipcv_role *r = ipcv_spawn("truncator", truncate_as_nobody, &a);
    ipcv_join(r, IPCV_EXITED(0));
    int fd = SAFE(shm_open(a.name, O_RDONLY, 0));
    struct stat st;
    SAFE(fstat(fd, &st));
    ipcv_expect_eq(4096, st.st_size);
    char c = 0;
    SAFE(pread(fd, &c, 1, 4095));
    ipcv_expect_eq('k', c);
    close(fd);
    SAFE(shm_unlink(a.name));
}

/* shm_open(3): the name is "/somename", one or more characters none of
 * which are slashes after the first; glibc rejects an empty name or an
 * inner slash with EINVAL (posix/shm-directory.c), which also keeps a name
 * like "/../x" from leaving /dev/shm (glibc rt/tst-shm.c). */
IPCV_CASE(posix_shm, empty_name_or_inner_slash_fails_einval,
          .tags = "api", .covers = "B376 B639 B745",
          .spec = "shm_open(3) name rules; glibc posix/shm-directory.c",
          .desc = "\"\", \"/\", \"a/b\", \"/a/b\" and \"/../ipcv-escaped-PID\" fail with EINVAL for O_RDONLY, O_RDWR and O_CREAT, and nothing appears in /dev or /dev/shm")
{
    char escaped[64];
    snprintf(escaped, sizeof escaped, "/../ipcv-escaped-%d", (int)getpid());
    const char *names[] = { "", "/", "a/b", "/a/b", escaped };
    static const int oflags[] = { O_RDONLY, O_RDWR, O_CREAT | O_RDWR, O_CREAT | O_EXCL | O_RDWR };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        for (size_t j = 0; j < sizeof oflags / sizeof oflags[0]; j++) {
            errno = 0;
            int fd = shm_open(names[i], oflags[j], 0600);
            int err = fd < 0 ? errno : 0;
            if (fd >= 0)
                close(fd);
            if (err != EINVAL)
                ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "shm_open(\"%s\", %#o): expected EINVAL, seen %s",
                            names[i], oflags[j], fd >= 0 ? "success" : ipcv_errname(err));
        }
    char path[96];
    snprintf(path, sizeof path, "/dev%s", escaped + 3);
    struct stat st;
    if (stat(path, &st) == 0) {
        ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "%s was created outside /dev/shm", path);
        unlink(path);
    }
    ipcv_expect_true(!name_exists("/a"), "/dev/shm/a was created");
}

/* glibc maps the name "." or ".." to the shm directory itself (or its
 * parent): opening it for writing fails with EISDIR, which shm_open reports
 * as EINVAL; a read-only open may give a directory descriptor (musl rejects
 * these names outright). Never is a shared memory object opened. */
IPCV_CASE(posix_shm, dot_names_never_open_an_object,
          .tags = "api", .covers = "B745",
          .spec = "shm_open(3); glibc rt/shm_open.c (EISDIR -> EINVAL)",
          .desc = "\".\", \"..\", \"/.\" and \"/..\" fail with EINVAL for O_RDWR and O_CREAT; O_RDONLY fails with EINVAL or gives a directory, never a regular file")
{
    static const char *names[] = { ".", "..", "/.", "/.." };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        ipcv_expect_fail(EINVAL, shm_open(names[i], O_RDWR, 0600));
        ipcv_expect_fail(EINVAL, shm_open(names[i], O_CREAT | O_RDWR, 0600));
        ipcv_expect_fail(EINVAL, shm_open(names[i], O_CREAT | O_RDONLY, 0600));
        errno = 0;
        int fd = shm_open(names[i], O_RDONLY, 0);
        if (fd < 0) {
            ipcv_expect_eq(EINVAL, errno);
            continue;
        }
        struct stat st;
        SAFE(fstat(fd, &st));
        ipcv_expect_true(S_ISDIR(st.st_mode), "shm_open(\"%s\", O_RDONLY) gave a non-directory (mode %#o)",
                         names[i], st.st_mode);
        close(fd);
    }
}

/* POSIX.1-2017 shm_open()/shm_unlink(): [ENAMETOOLONG] "The length of the
 * name argument exceeds {_POSIX_PATH_MAX} ... or a pathname component is
 * longer than {NAME_MAX}". A name of exactly NAME_MAX characters after the
 * slash is valid. (glibc 2.36 reports names of 260 and more characters as
 * EINVAL/ENOENT instead; this case checks the NAME_MAX boundary.) */
IPCV_CASE(posix_shm, name_longer_than_name_max_fails_enametoolong,
          .tags = "api limit", .covers = "B378 B387",
          .spec = "POSIX.1-2017 shm_open(), shm_unlink() ENAMETOOLONG",
          .desc = "a name of NAME_MAX characters is created and unlinked; NAME_MAX+1 fails with ENAMETOOLONG in shm_open (with and without O_CREAT) and shm_unlink")
{
    char name[NAME_MAX + 3];
    name[0] = '/';
    int n = snprintf(name + 1, NAME_MAX + 1, "ipcv%d.", (int)getpid());
    memset(name + 1 + n, 'n', NAME_MAX - n);
    name[NAME_MAX + 1] = '\0';
    int fd = ipcv_expect_ok(shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600));
    if (fd >= 0) {
        close(fd);
        ipcv_expect_eq(0, shm_unlink(name));
    }
    name[NAME_MAX + 1] = 'n';
    name[NAME_MAX + 2] = '\0';
    ipcv_expect_fail(ENAMETOOLONG, shm_open(name, O_CREAT | O_RDWR, 0600));
    ipcv_expect_fail(ENAMETOOLONG, shm_open(name, O_RDONLY, 0));
    ipcv_expect_fail(ENAMETOOLONG, shm_unlink(name));
}

static int open_with_full_table(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct owner_arg *a = arg;
    struct rlimit rl;
    SAFE(getrlimit(RLIMIT_NOFILE, &rl));
    rl.rlim_cur = 32;
    SAFE(setrlimit(RLIMIT_NOFILE, &rl));
    int last = -1;
    for (;;) {
        int fd = open("/dev/null", O_RDONLY);
        if (fd < 0) {
            if (errno != EMFILE)
                ipcv_brk(__FILE__, __LINE__, "filling the table: %s", ipcv_errname(errno));
            break;
        }
        last = fd;
    }
    ipcv_expect_fail(EMFILE, shm_open(a->name, O_CREAT | O_RDWR, 0600));
    struct stat st;
    ipcv_expect_true(stat(shm_path(a->name), &st) < 0, "the failed shm_open created %s", a->name);
    /* One free slot is enough again. */
    close(last);
    int fd = ipcv_expect_ok(shm_open(a->name, O_CREAT | O_RDWR, 0600));
    ipcv_expect_eq(last, fd);
    shm_unlink(a->name);
    return 0;
}

/* POSIX.1-2017 shm_open(): [EMFILE] "All file descriptors available to the
 * process are currently open." The limit is RLIMIT_NOFILE, lowered here in
 * a role. */
IPCV_CASE(posix_shm, open_fails_emfile_when_fd_table_is_full,
          .tags = "limit", .covers = "B377",
          .spec = "POSIX.1-2017 shm_open() EMFILE; getrlimit(2) RLIMIT_NOFILE",
          .desc = "with RLIMIT_NOFILE lowered to 32 and every descriptor used, shm_open(O_CREAT) fails with EMFILE and creates nothing; after one close it succeeds with that descriptor")
{
    struct owner_arg a;
    snprintf(a.name, sizeof a.name, "%s", ipcv_name("emfile"));
    struct ipcv_role *r = ipcv_spawn("filler", open_with_full_table, &a);
    ipcv_join(r, IPCV_EXITED(0));
    if (name_exists(a.name))
        shm_unlink(a.name);
}

struct cancel_state {
    char name[64];
    int progress;        /* 1: shm_open returned, 2: shm_unlink returned */
    int open_ok, unlink_ok;
};
static struct cancel_state cancel_state;

static void *cancel_pending_thread(void *arg)
{
    struct cancel_state *s = arg;
    pthread_cancel(pthread_self());      /* deferred: acted on at a cancellation point */
    int fd = shm_open(s->name, O_CREAT | O_RDWR, 0600);
    s->open_ok = fd >= 0;
    s->progress = 1;
    s->unlink_ok = shm_unlink(s->name) == 0;
    s->progress = 2;
    if (fd >= 0)
        close(fd);                      /* a cancellation point: the thread ends here */
    pthread_testcancel();
    s->progress = 3;
    return NULL;
}

static int open_with_cancel_pending(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct owner_arg *a = arg;
    snprintf(cancel_state.name, sizeof cancel_state.name, "%s", a->name);
    pthread_t t;
    SAFE_RC(pthread_create(&t, NULL, cancel_pending_thread, &cancel_state));
    void *ret = NULL;
    SAFE_RC(pthread_join(t, &ret));
    ipcv_expect_true(ret == PTHREAD_CANCELED, "the thread was not cancelled at all");
    ipcv_expect_true(cancel_state.progress >= 2,
                     "cancelled inside %s", cancel_state.progress == 0 ? "shm_open" : "shm_unlink");
    ipcv_expect_true(cancel_state.progress < 3, "close() and pthread_testcancel() did not act on the pending cancel");
    ipcv_expect_true(cancel_state.open_ok, "shm_open failed with a cancel pending");
    ipcv_expect_true(cancel_state.unlink_ok, "shm_unlink failed with a cancel pending");
    shm_unlink(a->name);
    return 0;
}

/* POSIX.1-2017 2.9.5.2: shm_open and shm_unlink are in neither list of
 * cancellation points, so a pending deferred cancel does not act inside
 * them (glibc rt/tst-shm-cancel.c). */
IPCV_CASE(posix_shm, open_and_unlink_are_not_cancellation_points,
          .tags = "api", .covers = "B641",
          .spec = "POSIX.1-2017 2.9.5.2 Cancellation Points",
          .desc = "a thread with a deferred cancel pending completes shm_open and shm_unlink and is cancelled only at the next cancellation point")
{
    struct owner_arg a;
    snprintf(a.name, sizeof a.name, "%s", ipcv_name("cancel"));
    struct ipcv_role *r = ipcv_spawn("canceller", open_with_cancel_pending, &a);
    ipcv_join(r, IPCV_EXITED(0));
    if (name_exists(a.name))
        shm_unlink(a.name);
}
