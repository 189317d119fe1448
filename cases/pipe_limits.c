/* Pipes at their limits: RLIMIT_NOFILE (lowered inside a role) and the
 * per-user pipe-user-pages-soft budget (read, never written: host-wide). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ipcvet.h"

#define NOFILE 16

static int free_slots_below(int limit)
{
    int n = 0;
    for (int fd = 0; fd < limit; fd++)
        n += fcntl(fd, F_GETFD) == -1 && errno == EBADF;
    return n;
}

static int exhaust_with_pipes(struct ipcv_role *self, void *arg)
{
    (void)self;
    (void)arg;
    syscall(SYS_close_range, 3, ~0U, 0);
    struct rlimit rl = { NOFILE, NOFILE };
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
        ipcv_skip("setrlimit(RLIMIT_NOFILE, %d): %s", NOFILE, ipcv_errname(errno));
    int free_before = free_slots_below(NOFILE);
    int fd[2], made = 0, err = 0;
    for (;;) {
        errno = 0;
        if (pipe(fd) < 0) {
            err = errno;
            break;
        }
        made++;
    }
    ipcv_expect_true(err == EMFILE, "pipe past RLIMIT_NOFILE: expected EMFILE, seen %s", ipcv_errname(err));
    ipcv_expect_eq(free_before / 2, made);
    ipcv_expect_eq(free_before % 2, free_slots_below(NOFILE));
    if (free_slots_below(NOFILE) == 0) {
        /* Leave exactly one slot: pipe needs two, fails, and keeps none. */
        close(NOFILE - 1);
    }
    ipcv_expect_fail(EMFILE, pipe(fd));
    ipcv_expect_fail(EMFILE, pipe2(fd, O_CLOEXEC));
    ipcv_expect_eq(1, free_slots_below(NOFILE));
    int last = open("/dev/null", O_RDONLY);
    ipcv_expect_true(last >= 0, "open with one slot left: %s", ipcv_errname(errno));
    ipcv_expect_fail(EMFILE, open("/dev/null", O_RDONLY));
    return 0;
}

/* pipe(2) EMFILE: "The per-process limit on the number of open file
 * descriptors has been reached"; pipes can be opened until fewer than two
 * slots are left below RLIMIT_NOFILE (LTP pipe06, pipe07). */
IPCV_CASE(pipe, pipes_past_rlimit_nofile_fail_emfile,
          .tags = "api limit", .covers = "B172 B173", .spec = "pipe(2) EMFILE; getrlimit(2) RLIMIT_NOFILE",
          .desc = "with RLIMIT_NOFILE lowered to 16, pipe succeeds until fewer than two descriptors are free, then fails EMFILE; with one slot free, pipe and pipe2 fail EMFILE and the slot stays free for open; with none, open fails EMFILE too")
{
    struct ipcv_role *r = ipcv_spawn("opener", exhaust_with_pipes, NULL);
    ipcv_join(r, IPCV_EXITED(0));
}

static long read_long(const char *path)
{
    FILE *f = fopen(path, "re");
    long v = -1;
    if (!f)
        return -1;
    if (fscanf(f, "%ld", &v) != 1)
        v = -1;
    fclose(f);
    return v;
}

static int over_the_soft_limit(struct ipcv_role *self, void *arg)
{
    (void)self;
    long soft = *(long *)arg;
    if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
        setresuid(65534, 65534, 65534) < 0)
        ipcv_skip("cannot become uid 65534: %s", ipcv_errname(errno));
    long bound = soft / 16 + 64;   /* default pipes are 16 pages */
    int *fds = SAFE_PTR(calloc((size_t)bound * 2, sizeof *fds));
    int small = -1, made = 0;
    for (long i = 0; i < bound; i++) {
        if (pipe2(fds + 2 * i, O_NONBLOCK) < 0)
            ipcv_brk(__FILE__, __LINE__, "pipe number %ld: %s", i, ipcv_errname(errno));
        made++;
        if (fcntl(fds[2 * i], F_GETPIPE_SZ) < 65536) {
            small = (int)i;
            break;
        }
    }
    ipcv_expect_true(small >= 0, "after %d pipes (pipe-user-pages-soft %ld) no new pipe was smaller than 64 KiB",
                     made, soft);
    if (small >= 0) {
        int rfd = fds[2 * small], wfd = fds[2 * small + 1];
        int cap = fcntl(wfd, F_GETPIPE_SZ);
        ipcv_expect_true(cap >= 4096, "capacity %d below one page", cap);
        /* The small pipe works: fill it, read it all back, no hang. */
        char *buf = SAFE_PTR(calloc(1, (size_t)cap + 1));
        ipcv_expect_eq(cap, write(wfd, buf, (size_t)cap + 1));
        ipcv_expect_fail(EAGAIN, write(wfd, buf, 1));
        ipcv_expect_eq(cap, read(rfd, buf, (size_t)cap + 1));
        ipcv_expect_fail(EPERM, fcntl(wfd, F_SETPIPE_SZ, 65536));
        free(buf);
    }
    for (int i = 0; i < 2 * made; i++)
        close(fds[i]);
    free(fds);
    return 0;
}

/* pipe(7) pipe-user-pages-soft: once an unprivileged user's pipes use more
 * pages than this, new pipes get a minimal capacity and may not grow; they
 * still work (LTP pipe15: nothing hangs). */
IPCV_CASE(pipe, pipes_past_the_user_soft_page_limit_are_small_but_work,
          .tags = "multi limit", .covers = "B181", .spec = "pipe(7) /proc/sys/fs/pipe-user-pages-soft",
          .desc = "uid 65534 opening pipes past pipe-user-pages-soft gets a pipe under 64 KiB (at least a page); it fills and drains without hanging, and F_SETPIPE_SZ 65536 on it fails EPERM")
{
    long soft = read_long("/proc/sys/fs/pipe-user-pages-soft");
    if (soft <= 0)
        ipcv_skip("pipe-user-pages-soft is %ld: no soft limit to reach", soft);
    if (soft > 65536)
        ipcv_skip("pipe-user-pages-soft is %ld pages: too many pipes to reach it here", soft);
    struct rlimit rl;
    SAFE(getrlimit(RLIMIT_NOFILE, &rl));
    if (rl.rlim_cur != RLIM_INFINITY && (long)rl.rlim_cur < 2 * (soft / 16 + 64) + 16)
        ipcv_skip("RLIMIT_NOFILE %llu is too low to open %ld pipes", (unsigned long long)rl.rlim_cur, soft / 16 + 64);
    struct ipcv_role *r = ipcv_spawn("nobody", over_the_soft_limit, &soft);
    ipcv_join(r, IPCV_EXITED(0));
}
