/* mmap, munmap and msync on files and shared memory objects: placement,
 * protection, timestamps and errors. Sharing, truncation and tmpfs limits
 * are in mmap_file_shared.c, memfd_create in mmap_file_memfd.c. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ipcvet.h"

#define PG 4096

/* A file of `pages` pages in the case's directory, page k full of 'a'+k. */
static int case_file(const char *tag, unsigned pages)
{
    char file[64];
    snprintf(file, sizeof file, "mf-%s", tag);
    int fd = SAFE(open(ipcv_path(file, 0), O_CREAT | O_RDWR | O_TRUNC | O_CLOEXEC, 0600));
    char buf[PG];
    for (unsigned k = 0; k < pages; k++) {
        memset(buf, 'a' + k, sizeof buf);
        SAFE(pwrite(fd, buf, sizeof buf, (off_t)k * PG));
    }
    return fd;
}

static const char *case_file_path(const char *tag)
{
    char file[64];
    snprintf(file, sizeof file, "mf-%s", tag);
    return ipcv_path(file, 0);
}

/* A role that is expected to die by a signal should not leave a core. */
static void no_core(void)
{
    struct rlimit rl = { 0, 0 };
    setrlimit(RLIMIT_CORE, &rl);
}

static void become_nobody(void)
{
    if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
        setresuid(65534, 65534, 65534) < 0)
        ipcv_skip("cannot become uid 65534: %s", ipcv_errname(errno));
}

/* The permission string /proc/self/maps shows for the mapping at addr. */
static void maps_perms(const void *addr, char out[5])
{
    snprintf(out, 5, "none");
    FILE *f = fopen("/proc/self/maps", "re");
    if (!f)
        ipcv_brk(__FILE__, __LINE__, "/proc/self/maps: %s", ipcv_errname(errno));
    char line[512];
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        char perms[5];
        if (sscanf(line, "%lx-%lx %4s", &lo, &hi, perms) == 3 &&
            (uintptr_t)addr >= lo && (uintptr_t)addr < hi) {
            memcpy(out, perms, 5);
            break;
        }
    }
    fclose(f);
}

static int page_is(const char *p, char c)
{
    for (int i = 0; i < PG; i++)
        if (p[i] != c)
            return 0;
    return 1;
}

/* POSIX.1-2017 mmap(): "establish a mapping between the address space of
 * the process at an address pa for len bytes to the memory object
 * represented by the file descriptor fildes at offset off"; pa is a
 * multiple of the page size. */
IPCV_CASE(mmap_file, shared_mapping_shows_object_data_at_each_offset,
          .tags = "api", .covers = "B409",
          .spec = "POSIX.1-2017 mmap()",
          .desc = "a regular file and a shm object of 3 distinct pages, mapped MAP_SHARED whole and one page at each offset, show exactly the bytes at those offsets at page-aligned addresses")
{
    const char *name = ipcv_name("offsets");
    int fds[2];
    fds[0] = case_file("offsets", 3);
    fds[1] = SAFE(shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600));
    char buf[PG];
    for (unsigned k = 0; k < 3; k++) {
        memset(buf, 'a' + k, sizeof buf);
        SAFE(pwrite(fds[1], buf, sizeof buf, (off_t)k * PG));
    }
    for (int i = 0; i < 2; i++) {
        const char *what = i ? "shm object" : "file";
        char *all = mmap(NULL, 3 * PG, PROT_READ, MAP_SHARED, fds[i], 0);
        if (all == MAP_FAILED) {
            ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "%s: mmap of 3 pages: %s", what, ipcv_errname(errno));
            continue;
        }
        ipcv_expect_eq(0, (uintptr_t)all % PG);
        for (unsigned k = 0; k < 3; k++) {
            ipcv_expect_true(page_is(all + k * PG, 'a' + k), "%s: page %u of the whole mapping is wrong", what, k);
            char *one = mmap(NULL, PG, PROT_READ, MAP_SHARED, fds[i], (off_t)k * PG);
            if (one == MAP_FAILED) {
                ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "%s: mmap at offset %u: %s", what, k * PG, ipcv_errname(errno));
                continue;
            }
            ipcv_expect_true(page_is(one, 'a' + k), "%s: mapping at offset %u shows '%c', not '%c'",
                             what, k * PG, one[0], 'a' + k);
            munmap(one, PG);
        }
        munmap(all, 3 * PG);
    }
    close(fds[0]);
    close(fds[1]);
    SAFE(shm_unlink(name));
}

/* POSIX.1-2017 mmap(): without MAP_FIXED, addr is a hint, and the
 * implementation "shall never place a mapping at page 0, nor shall it
 * replace any extant mapping". */
IPCV_CASE(mmap_file, hint_over_existing_mapping_picks_free_area,
          .tags = "api", .covers = "B415",
          .spec = "POSIX.1-2017 mmap() addr without MAP_FIXED",
          .desc = "mapping a file with a hint that points at an existing anonymous mapping succeeds elsewhere; the existing mapping keeps its bytes")
{
    int fd = case_file("hint", 2);
    char *anon = SAFE(mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    memset(anon, 'z', 2 * PG);
    char *p = mmap(anon, 2 * PG, PROT_READ, MAP_SHARED, fd, 0);
    ipcv_expect_true(p != MAP_FAILED, "mmap with a hint failed: %s", ipcv_errname(errno));
    if (p != MAP_FAILED) {
        ipcv_expect_true(p + 2 * PG <= anon || p >= anon + 2 * PG,
                         "the new mapping %p overlaps the existing one at %p", (void *)p, (void *)anon);
        if (p + 2 * PG <= anon || p >= anon + 2 * PG) {
            ipcv_expect_true(page_is(anon, 'z') && page_is(anon + PG, 'z'), "the existing mapping changed");
            ipcv_expect_true(page_is(p, 'a'), "the new mapping does not show the file");
        }
        munmap(p, 2 * PG);
    }
    munmap(anon, 2 * PG);
    close(fd);
}

/* POSIX.1-2017 mmap(): with MAP_FIXED "the value of pa shall be addr,
 * exactly", and the mapping "shall replace any previous mappings for
 * those whole pages"; Linux supports MAP_FIXED with both MAP_SHARED and
 * MAP_PRIVATE (no ENOTSUP). */
IPCV_CASE(mmap_file, map_fixed_replaces_existing_mapping_at_exact_address,
          .tags = "api", .covers = "B410 B414 B425",
          .spec = "POSIX.1-2017 mmap() MAP_FIXED",
          .desc = "MAP_SHARED|MAP_FIXED over a 2-page anonymous mapping returns exactly addr and shows the file there; MAP_PRIVATE|MAP_FIXED over its second page does the same at offset 8192")
{
    int fd = case_file("fixed", 3);
    char *anon = SAFE(mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    memset(anon, 'z', 2 * PG);
    char *p = mmap(anon, 2 * PG, PROT_READ, MAP_SHARED | MAP_FIXED, fd, 0);
    ipcv_expect_true(p == anon, "MAP_SHARED|MAP_FIXED at %p returned %p (%s)", (void *)anon, (void *)p,
                     p == MAP_FAILED ? ipcv_errname(errno) : "other address");
    if (p != MAP_FAILED && p != anon)
        munmap(p, 2 * PG);
    ipcv_expect_true(page_is(anon, 'a') && page_is(anon + PG, 'b'),
                     "the pages at addr are not the file's ('%c', '%c')", anon[0], anon[PG]);
    p = mmap(anon + PG, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, fd, 2 * PG);
    ipcv_expect_true(p == anon + PG, "MAP_PRIVATE|MAP_FIXED at %p returned %p (%s)", (void *)(anon + PG),
                     (void *)p, p == MAP_FAILED ? ipcv_errname(errno) : "other address");
    if (p != MAP_FAILED && p != anon + PG)
        munmap(p, PG);
    ipcv_expect_true(page_is(anon + PG, 'c'), "the second page is not the file's third ('%c')", anon[PG]);
    munmap(anon, 2 * PG);
    close(fd);
}

/* POSIX.1-2017 mmap(): prot is PROT_NONE or the OR of PROT_READ,
 * PROT_WRITE and PROT_EXEC, each as permitted by the open mode; Linux
 * grants exactly what is asked (x86 has no write-only pages, so PROT_WRITE
 * is shown as -w- but reads work). */
IPCV_CASE(mmap_file, prot_none_read_and_write_are_accepted,
          .tags = "api", .covers = "B411",
          .spec = "POSIX.1-2017 mmap() prot; proc(5) /proc/PID/maps",
          .desc = "on an O_RDWR descriptor PROT_NONE, PROT_READ, PROT_WRITE and PROT_READ|PROT_WRITE map, shared and private, with exactly those permissions in /proc/self/maps")
{
    static const struct { int prot, flags; const char *perms; } tcases[] = {
        { PROT_NONE, MAP_SHARED, "---s" }, { PROT_READ, MAP_SHARED, "r--s" },
        { PROT_WRITE, MAP_SHARED, "-w-s" }, { PROT_READ | PROT_WRITE, MAP_SHARED, "rw-s" },
        { PROT_NONE, MAP_PRIVATE, "---p" }, { PROT_READ, MAP_PRIVATE, "r--p" },
        { PROT_READ | PROT_WRITE, MAP_PRIVATE, "rw-p" },
    };
    int fd = case_file("prot", 1);
    for (size_t i = 0; i < sizeof tcases / sizeof tcases[0]; i++) {
        char *p = mmap(NULL, PG, tcases[i].prot, tcases[i].flags, fd, 0);
        if (p == MAP_FAILED) {
            ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "prot %#x flags %#x: %s", tcases[i].prot,
                        tcases[i].flags, ipcv_errname(errno));
            continue;
        }
        char perms[5];
        maps_perms(p, perms);
        if (strcmp(perms, tcases[i].perms))
            ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "prot %#x flags %#x: expected %s, seen %s",
                        tcases[i].prot, tcases[i].flags, tcases[i].perms, perms);
        munmap(p, PG);
    }
    close(fd);
}

struct touch { int fd, prot, write; };

static int map_and_touch(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct touch *t = arg;
    no_core();
    volatile char *p = SAFE(mmap(NULL, PG, t->prot, MAP_SHARED, t->fd, 0));
    if (t->write)
        p[10] = 'w';
    else
        (void)p[10];
    return 0;                       /* only without protection */
}

/* POSIX.1-2017 mmap(): "The implementation shall generate a SIGSEGV if an
 * attempt is made to write to a mapping without PROT_WRITE" (from
 * PROT_READ) [B412]. */
IPCV_CASE(mmap_file, write_to_read_only_mapping_raises_sigsegv,
          .tags = "multi", .covers = "B412",
          .spec = "POSIX.1-2017 mmap() PROT_READ",
          .desc = "a process writing into its PROT_READ shared mapping of a read-write file dies by SIGSEGV; the file is unchanged")
{
    struct touch t = { case_file("segv-ro", 1), PROT_READ, 1 };
    struct ipcv_role *r = ipcv_spawn("writer", map_and_touch, &t);
    ipcv_join(r, IPCV_KILLED(SIGSEGV));
    char c = 0;
    SAFE(pread(t.fd, &c, 1, 10));
    ipcv_expect_eq('a', c);
    close(t.fd);
}

/* POSIX.1-2017 mmap(): PROT_NONE "Data cannot be accessed"; an access is
 * a SIGSEGV. */
IPCV_CASE(mmap_file, read_of_prot_none_mapping_raises_sigsegv,
          .tags = "multi", .covers = "B412",
          .spec = "POSIX.1-2017 mmap() PROT_NONE",
          .desc = "a process reading its PROT_NONE shared mapping of a file dies by SIGSEGV")
{
    struct touch t = { case_file("segv-none", 1), PROT_NONE, 0 };
    struct ipcv_role *r = ipcv_spawn("reader", map_and_touch, &t);
    ipcv_join(r, IPCV_KILLED(SIGSEGV));
    close(t.fd);
}

static int read_file_at(struct ipcv_role *self, void *arg)
{
    (void)self;
    const char *path = arg;
    int fd = SAFE(open(path, O_RDONLY | O_CLOEXEC));
    char buf[11] = "";
    SAFE(pread(fd, buf, 11, 300));
    ipcv_expect_mem("after-close", buf, 11);
    close(fd);
    return 0;
}

/* POSIX.1-2017 mmap(): "The mmap() function shall add an extra reference
 * to the file associated with the file descriptor fildes which is not
 * removed by a subsequent close() on that file descriptor." */
IPCV_CASE(mmap_file, mapping_outlives_close_of_its_fd,
          .tags = "multi", .covers = "B417",
          .spec = "POSIX.1-2017 mmap()",
          .desc = "after close() of its descriptor a MAP_SHARED mapping still reads the file and its writes reach the file, as another process reading by path sees")
{
    int fd = case_file("close", 1);
    char *p = SAFE(mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
    SAFE(close(fd));
    ipcv_expect_eq('a', p[0]);
    memcpy(p + 300, "after-close", 11);
    char path[256];
    snprintf(path, sizeof path, "%s", case_file_path("close"));
    struct ipcv_role *r = ipcv_spawn("reader", read_file_at, path);
    ipcv_join(r, IPCV_EXITED(0));
    munmap(p, PG);
}

/* POSIX.1-2017 mmap(): "The last data access timestamp of the mapped file
 * may be marked for update at any time between the mmap() call and the
 * corresponding munmap() call" — Linux marks it in mmap(2) itself. With
 * relatime the update happens because the old atime is older than mtime. */
IPCV_CASE(mmap_file, mapping_marks_access_time,
          .tags = "api", .covers = "B418",
          .spec = "POSIX.1-2017 mmap() st_atime; mount(8) relatime",
          .desc = "with st_atime set three days back, mapping the file and reading a byte moves st_atime forward")
{
    int fd = case_file("atime", 1);
    struct timespec back[2] = { { time(NULL) - 3 * 86400, 0 }, { 0, UTIME_OMIT } };
    SAFE(futimens(fd, back));
    struct stat before, after;
    SAFE(fstat(fd, &before));
    volatile char *p = SAFE(mmap(NULL, PG, PROT_READ, MAP_SHARED, fd, 0));
    ipcv_expect_eq('a', p[0]);
    munmap((void *)p, PG);
    SAFE(fstat(fd, &after));
    ipcv_expect_true(after.st_atim.tv_sec > before.st_atim.tv_sec,
                     "st_atime did not move: %ld before, %ld after", (long)before.st_atim.tv_sec,
                     (long)after.st_atim.tv_sec);
    close(fd);
}

struct ctime_probe { struct timespec ctime; };

static int clock_passed(void *arg)
{
    struct ctime_probe *c = arg;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME_COARSE, &now);
    return now.tv_sec > c->ctime.tv_sec ||
           (now.tv_sec == c->ctime.tv_sec && now.tv_nsec > c->ctime.tv_nsec);
}

/* POSIX.1-2017 mmap(): "The last data modification and last file status
 * change timestamps of a file that is mapped with MAP_SHARED and
 * PROT_WRITE shall be marked for update at some point in the interval
 * between a write reference to the mapped region and the next call to
 * msync() with MS_ASYNC or MS_SYNC for that portion of the file." (Linux
 * marks them at the first write fault of a mapping; on tmpfs later writes
 * to an already-dirty page are not seen, so this checks a fresh mapping.) */
IPCV_CASE(mmap_file, shared_write_then_msync_updates_mtime_and_ctime,
          .tags = "api", .covers = "B419",
          .spec = "POSIX.1-2017 mmap(), msync()",
          .desc = "with st_mtime set back, a write through a fresh MAP_SHARED mapping followed by msync(MS_SYNC) moves st_mtime and st_ctime forward")
{
    int fd = case_file("mtime", 1);
    struct timespec back[2] = { { 0, UTIME_OMIT }, { time(NULL) - 3 * 86400, 0 } };
    SAFE(futimens(fd, back));
    struct stat before, after;
    SAFE(fstat(fd, &before));
    /* The coarse clock must have moved past ctime for a later ctime to be
     * visible at all. */
    struct ctime_probe c = { before.st_ctim };
    if (!ipcv_poll_until(clock_passed, &c, ipcv_wait_bound()))
        ipcv_brk(__FILE__, __LINE__, "CLOCK_REALTIME_COARSE did not pass st_ctime");
    char *p = SAFE(mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
    p[0] = 'm';
    SAFE(msync(p, PG, MS_SYNC));
    SAFE(fstat(fd, &after));
    ipcv_expect_true(after.st_mtim.tv_sec > before.st_mtim.tv_sec,
                     "st_mtime did not move: %ld before, %ld after", (long)before.st_mtim.tv_sec,
                     (long)after.st_mtim.tv_sec);
    ipcv_expect_true(after.st_ctim.tv_sec > before.st_ctim.tv_sec ||
                     (after.st_ctim.tv_sec == before.st_ctim.tv_sec &&
                      after.st_ctim.tv_nsec > before.st_ctim.tv_nsec),
                     "st_ctime did not move: %ld.%09ld before, %ld.%09ld after",
                     (long)before.st_ctim.tv_sec, before.st_ctim.tv_nsec,
                     (long)after.st_ctim.tv_sec, after.st_ctim.tv_nsec);
    munmap(p, PG);
    close(fd);
}

static int map_under_mcl_future(struct ipcv_role *self, void *arg)
{
    (void)self;
    int fd = *(int *)arg;
    become_nobody();                 /* no CAP_IPC_LOCK any more */
    struct rlimit rl = { 64 * 1024, 64 * 1024 };
    SAFE(setrlimit(RLIMIT_MEMLOCK, &rl));
    SAFE(mlockall(MCL_FUTURE));
    /* Nothing but the call itself between mlockall and munlockall. */
    errno = 0;
    void *p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    int err = errno;
    munlockall();
    ipcv_expect_true(p == MAP_FAILED, "a 1 MiB mapping beyond RLIMIT_MEMLOCK 64 KiB succeeded under MCL_FUTURE");
    if (p != MAP_FAILED)
        munmap(p, 1 << 20);
    else
        ipcv_expect_eq(EAGAIN, err);
    p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ipcv_expect_true(p != MAP_FAILED, "after munlockall the mapping still fails: %s", ipcv_errname(errno));
    return 0;
}

/* POSIX.1-2017 mmap(): [EAGAIN] "The mapping could not be locked in memory,
 * if required by mlockall(), due to a lack of resources"; Linux checks
 * RLIMIT_MEMLOCK for MCL_FUTURE mappings of processes without
 * CAP_IPC_LOCK. */
IPCV_CASE(mmap_file, mlockall_future_over_memlock_limit_fails_eagain,
          .tags = "limit multi", .covers = "B420",
          .spec = "POSIX.1-2017 mmap() EAGAIN; mlockall(2) MCL_FUTURE",
          .desc = "uid 65534 with RLIMIT_MEMLOCK 64 KiB and mlockall(MCL_FUTURE) fails to map 1 MiB of a file with EAGAIN, and maps it after munlockall")
{
    int fd = case_file("memlock", 0);
    SAFE(ftruncate(fd, 1 << 20));
    struct ipcv_role *r = ipcv_spawn("locker", map_under_mcl_future, &fd);
    ipcv_join(r, IPCV_EXITED(0));
    close(fd);
}

/* POSIX.1-2017 mmap(): [EBADF] "The fildes argument is not open (anonymous
 * memory objects are not supported)." */
IPCV_CASE(mmap_file, map_of_bad_fd_fails_ebadf,
          .tags = "api", .covers = "B421",
          .spec = "POSIX.1-2017 mmap() EBADF",
          .desc = "mmap without MAP_ANONYMOUS of descriptor -1, of a closed descriptor and of an unused high descriptor fails with EBADF, shared and private")
{
    int fd = case_file("ebadf", 1);
    SAFE(close(fd));
    const int bad[] = { -1, fd, 1000 };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ipcv_expect_fail(EBADF, mmap(NULL, PG, PROT_READ, MAP_SHARED, bad[i], 0));
        ipcv_expect_fail(EBADF, mmap(NULL, PG, PROT_READ, MAP_PRIVATE, bad[i], 0));
    }
}

/* POSIX.1-2017 mmap(): [EINVAL] "The value of flags is invalid (neither
 * MAP_PRIVATE nor MAP_SHARED is set)". On Linux MAP_SHARED|MAP_PRIVATE is
 * the value of MAP_SHARED_VALIDATE (since 4.15): a shared mapping whose
 * unknown flags fail with EOPNOTSUPP, not EINVAL as older kernels and
 * gVisor's test expect. */
IPCV_CASE(mmap_file, map_without_shared_or_private_fails_einval,
          .tags = "api", .covers = "B422 B642",
          .spec = "POSIX.1-2017 mmap() EINVAL; mmap(2) MAP_SHARED_VALIDATE",
          .desc = "flags 0 and MAP_FIXED alone fail with EINVAL; MAP_SHARED|MAP_PRIVATE maps shared (writes reach the file) and with an unknown flag fails with EOPNOTSUPP")
{
    int fd = case_file("flags", 1);
    ipcv_expect_fail(EINVAL, mmap(NULL, PG, PROT_READ, 0, fd, 0));
    ipcv_expect_fail(EINVAL, mmap(NULL, PG, PROT_READ, MAP_FIXED, fd, 0));
    char *p = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_PRIVATE, fd, 0);
    ipcv_expect_true(p != MAP_FAILED, "MAP_SHARED|MAP_PRIVATE (MAP_SHARED_VALIDATE) failed: %s", ipcv_errname(errno));
    if (p != MAP_FAILED) {
        p[0] = 'v';
        char c = 0;
        SAFE(pread(fd, &c, 1, 0));
        ipcv_expect_eq('v', c);
        munmap(p, PG);
    }
    ipcv_expect_fail(EOPNOTSUPP, mmap(NULL, PG, PROT_READ, MAP_SHARED_VALIDATE | 0x800000, fd, 0));
    close(fd);
}

/* POSIX.1-2017 mmap(): [ENODEV] "The fildes argument refers to a file
 * whose type is not supported by mmap()." */
IPCV_CASE(mmap_file, map_of_unmappable_file_type_fails_enodev,
          .tags = "api", .covers = "B423",
          .spec = "POSIX.1-2017 mmap() ENODEV",
          .desc = "mapping a pipe, a directory and a UNIX socket fails with ENODEV")
{
    int pfd[2], sv[2];
    SAFE(pipe2(pfd, O_CLOEXEC));
    SAFE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
    int dir = SAFE(open(ipcv_tmpdir(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    const struct { int fd; const char *what; } tcases[] = {
        { pfd[0], "pipe" }, { dir, "directory" }, { sv[0], "socket" },
    };
    for (size_t i = 0; i < sizeof tcases / sizeof tcases[0]; i++) {
        errno = 0;
        void *p = mmap(NULL, PG, PROT_READ, MAP_SHARED, tcases[i].fd, 0);
        if (p != MAP_FAILED || errno != ENODEV)
            ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "%s: expected ENODEV, seen %s", tcases[i].what,
                        p != MAP_FAILED ? "success" : ipcv_errname(errno));
        if (p != MAP_FAILED)
            munmap(p, PG);
    }
    close(pfd[0]);
    close(pfd[1]);
    close(sv[0]);
    close(sv[1]);
    close(dir);
}

/* POSIX.1-2017 mmap(): [ENOMEM] "MAP_FIXED was specified, and the range
 * [addr,addr+len) exceeds that allowed for the address space of a process;
 * or, if MAP_FIXED was not specified and there is insufficient room in the
 * address space to effect the mapping." */
IPCV_CASE(mmap_file, map_beyond_address_space_fails_enomem,
          .tags = "api limit", .covers = "B424",
          .spec = "POSIX.1-2017 mmap() ENOMEM",
          .desc = "a length near SIZE_MAX, and MAP_FIXED at the last page of the address space, fail with ENOMEM")
{
    int fd = case_file("enomem", 1);
    ipcv_expect_fail(ENOMEM, mmap(NULL, SIZE_MAX & ~(size_t)(PG - 1), PROT_READ, MAP_SHARED, fd, 0));
    ipcv_expect_fail(ENOMEM, mmap(NULL, (size_t)1 << 62, PROT_READ, MAP_PRIVATE, fd, 0));
    void *top = (void *)(UINTPTR_MAX & ~(uintptr_t)(PG - 1));
    ipcv_expect_fail(ENOMEM, mmap(top, PG, PROT_READ, MAP_SHARED | MAP_FIXED, fd, 0));
    close(fd);
}

/* POSIX.1-2017 mmap(): [EOVERFLOW] "The file is a regular file and the
 * value of off plus len exceeds the offset maximum established in the open
 * file description associated with fildes" — reachable on 64-bit Linux
 * at the top of off_t. */
IPCV_CASE(mmap_file, map_past_max_file_offset_fails_eoverflow,
          .tags = "api limit", .covers = "B426",
          .spec = "POSIX.1-2017 mmap() EOVERFLOW",
          .desc = "mapping 2 pages at offset 0x7fffffffffffe000, or one page at the last page offset, fails with EOVERFLOW")
{
    int fd = case_file("eoverflow", 1);
    ipcv_expect_fail(EOVERFLOW, mmap(NULL, 2 * PG, PROT_READ, MAP_SHARED, fd, (off_t)0x7fffffffffffe000LL));
    ipcv_expect_fail(EOVERFLOW, mmap(NULL, PG, PROT_READ, MAP_SHARED, fd, (off_t)0x7ffffffffffff000LL));
    close(fd);
}

/* POSIX.1-2017 mmap(): [EACCES] "The fildes argument is not open for read,
 * regardless of the protection specified, or fildes is not open for write
 * and PROT_WRITE was specified for a MAP_SHARED type mapping"; mprotect():
 * [EACCES] for the same upgrade later. */
IPCV_CASE(mmap_file, access_beyond_open_mode_fails_eacces,
          .tags = "api", .covers = "B643",
          .spec = "POSIX.1-2017 mmap() EACCES, mprotect() EACCES",
          .desc = "O_RDONLY + PROT_WRITE|MAP_SHARED and O_WRONLY + any mapping fail with EACCES; O_RDONLY + PROT_WRITE|MAP_PRIVATE works; mprotect to PROT_WRITE of a read-only shared mapping fails with EACCES")
{
    int fd = case_file("eacces", 1);
    const char *path = case_file_path("eacces");
    int rd = SAFE(open(path, O_RDONLY | O_CLOEXEC));
    int wr = SAFE(open(path, O_WRONLY | O_CLOEXEC));
    ipcv_expect_fail(EACCES, mmap(NULL, PG, PROT_WRITE, MAP_SHARED, rd, 0));
    ipcv_expect_fail(EACCES, mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, rd, 0));
    ipcv_expect_fail(EACCES, mmap(NULL, PG, PROT_READ, MAP_SHARED, wr, 0));
    ipcv_expect_fail(EACCES, mmap(NULL, PG, PROT_WRITE, MAP_SHARED, wr, 0));
    ipcv_expect_fail(EACCES, mmap(NULL, PG, PROT_READ, MAP_PRIVATE, wr, 0));
    char *priv = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, rd, 0);
    ipcv_expect_true(priv != MAP_FAILED, "PROT_WRITE|MAP_PRIVATE of an O_RDONLY descriptor failed: %s",
                     ipcv_errname(errno));
    if (priv != MAP_FAILED)
        munmap(priv, PG);
    char *ro = mmap(NULL, PG, PROT_READ, MAP_SHARED, rd, 0);
    ipcv_expect_true(ro != MAP_FAILED, "PROT_READ|MAP_SHARED of an O_RDONLY descriptor failed: %s",
                     ipcv_errname(errno));
    if (ro != MAP_FAILED) {
        ipcv_expect_fail(EACCES, mprotect(ro, PG, PROT_READ | PROT_WRITE));
        munmap(ro, PG);
    }
    close(rd);
    close(wr);
    close(fd);
}

static int unmap_then_touch(struct ipcv_role *self, void *arg)
{
    (void)self;
    int fd = *(int *)arg;
    no_core();
    volatile char *p = SAFE(mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
    ipcv_expect_eq('a', p[0]);
    SAFE(munmap((void *)p, 2 * PG));
    (void)p[PG];
    return 0;
}

/* POSIX.1-2017 munmap(): "Further references to these pages shall result
 * in the generation of a SIGSEGV signal to the process." */
IPCV_CASE(mmap_file, munmap_removes_mapping_and_access_raises_sigsegv,
          .tags = "multi", .covers = "B427",
          .spec = "POSIX.1-2017 munmap()",
          .desc = "a process that unmaps its shared file mapping and then reads from it dies by SIGSEGV")
{
    int fd = case_file("unmapped", 2);
    struct ipcv_role *r = ipcv_spawn("toucher", unmap_then_touch, &fd);
    ipcv_join(r, IPCV_KILLED(SIGSEGV));
    close(fd);
}

/* POSIX.1-2017 munmap(): "If there are no mappings in the specified
 * address range, then munmap() has no effect" (and succeeds on Linux). */
IPCV_CASE(mmap_file, munmap_of_unmapped_range_succeeds,
          .tags = "api", .covers = "B428",
          .spec = "POSIX.1-2017 munmap()",
          .desc = "unmapping the already unmapped middle page of three returns 0 and leaves the outer pages mapped with their bytes")
{
    int fd = case_file("hole", 3);
    char *p = SAFE(mmap(NULL, 3 * PG, PROT_READ, MAP_SHARED, fd, 0));
    SAFE(munmap(p + PG, PG));
    ipcv_expect_eq(0, munmap(p + PG, PG));
    char perms[5];
    maps_perms(p, perms);
    ipcv_expect_true(!strcmp(perms, "r--s"), "first page: %s", perms);
    maps_perms(p + 2 * PG, perms);
    ipcv_expect_true(!strcmp(perms, "r--s"), "third page: %s", perms);
    maps_perms(p + PG, perms);
    ipcv_expect_true(!strcmp(perms, "none"), "middle page mapped again: %s", perms);
    if (!strcmp(perms, "none")) {
        ipcv_expect_eq('a', p[0]);
        ipcv_expect_eq('c', p[2 * PG]);
    }
    munmap(p, 3 * PG);
    close(fd);
}

/* POSIX.1-2017 munmap(): [EINVAL] "Addresses in the range [addr,addr+len)
 * are outside the valid range for the address space of a process", "The
 * len argument is 0", and addr "is not a multiple of the page size". */
IPCV_CASE(mmap_file, munmap_of_bad_range_fails_einval,
          .tags = "api", .covers = "B429 B431 B432",
          .spec = "POSIX.1-2017 munmap() EINVAL",
          .desc = "munmap with an unaligned address, a zero length, or a range at the top of the address space fails with EINVAL and the mapping stays")
{
    int fd = case_file("einval", 2);
    char *p = SAFE(mmap(NULL, 2 * PG, PROT_READ, MAP_SHARED, fd, 0));
    ipcv_expect_fail(EINVAL, munmap(p + 1, PG));
    ipcv_expect_fail(EINVAL, munmap(p + 100, 100));
    ipcv_expect_fail(EINVAL, munmap(p, 0));
    ipcv_expect_fail(EINVAL, munmap((void *)(UINTPTR_MAX & ~(uintptr_t)(PG - 1)), PG));
    ipcv_expect_fail(EINVAL, munmap(p, SIZE_MAX & ~(size_t)(PG - 1)));
    char perms[5];
    maps_perms(p, perms);
    ipcv_expect_true(!strcmp(perms, "r--s"), "the mapping changed: %s", perms);
    munmap(p, 2 * PG);
    close(fd);
}

/* POSIX.1-2017 msync(): [EINVAL] "The value of flags is invalid" (both
 * MS_ASYNC and MS_SYNC, or an unknown bit) or addr "is not a multiple of
 * the page size"; [ENOMEM] "The addresses in the range starting at addr
 * and continuing for len bytes are outside the range allowed for the
 * address space of a process or specify one or more pages that are not
 * mapped." */
IPCV_CASE(mmap_file, msync_rejects_bad_flags_and_unmapped_ranges,
          .tags = "api",
          .spec = "POSIX.1-2017 msync() EINVAL, ENOMEM",
          .desc = "msync with MS_SYNC|MS_ASYNC, an unknown flag or an unaligned address fails with EINVAL; over an unmapped page with ENOMEM; a good call returns 0")
{
    int fd = case_file("msync", 2);
    char *p = SAFE(mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
    ipcv_expect_eq(0, msync(p, 2 * PG, MS_SYNC));
    ipcv_expect_eq(0, msync(p, PG, MS_ASYNC | MS_INVALIDATE));
    ipcv_expect_fail(EINVAL, msync(p, PG, MS_SYNC | MS_ASYNC));
    ipcv_expect_fail(EINVAL, msync(p, PG, 0x100));
    ipcv_expect_fail(EINVAL, msync(p + 1, PG, MS_SYNC));
    SAFE(munmap(p + PG, PG));
    ipcv_expect_fail(ENOMEM, msync(p, 2 * PG, MS_SYNC));
    ipcv_expect_fail(ENOMEM, msync(p + PG, PG, MS_ASYNC));
    munmap(p, PG);
    close(fd);
}
