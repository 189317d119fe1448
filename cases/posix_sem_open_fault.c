/* POSIX named semaphores when sem_open's own steps fail. glibc creates a
 * named semaphore in steps: a temporary /dev/shm/sem.XXXXXX is written and
 * mapped, then link(2)ed to sem.NAME and unlinked. Here a seccomp filter
 * makes link fail or kills the process at it, and RLIMIT_NOFILE takes
 * away the descriptor sem_open needs. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <semaphore.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ipcvet.h"

/* Make link(2) and linkat(2) return `action` (SECCOMP_RET_*). */
static void filter_link(unsigned action)
{
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_link, 1, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_linkat, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, action),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = { sizeof f / sizeof f[0], f };
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
        syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
        ipcv_skip("cannot install a seccomp filter: %s", ipcv_errname(errno));
}

/* Names in /dev/shm (a private tmpfs: only this case's). */
static int shm_entries(char names[][256], int max)
{
    DIR *d = SAFE_PTR(opendir("/dev/shm"));
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.' && n < max)
            snprintf(names[n++], 256, "%s", e->d_name);
    closedir(d);
    return n;
}

static int unlink_shm(const char *entry)
{
    int dir = SAFE(open("/dev/shm", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    int rc = unlinkat(dir, entry, 0);
    close(dir);
    return rc;
}

/* Each entry of /dev/shm is a failure; remove it so the census says no more. */
static void expect_dev_shm_empty(const char *when)
{
    char names[8][256];
    int n = shm_entries(names, 8);
    for (int i = 0; i < n; i++) {
        ipcv_expect_true(0, "%s: /dev/shm/%s is left", when, names[i]);
        unlink_shm(names[i]);
    }
}

struct named { char name[64]; };

static int open_with_link_failing(struct ipcv_role *self, void *arg)
{
    (void)self;
    const struct named *n = arg;
    filter_link(SECCOMP_RET_ERRNO | ENOSPC);
    errno = 0;
    sem_t *s = sem_open(n->name, O_CREAT, 0600, 1);
    int err = errno;
    ipcv_expect_true(s == SEM_FAILED && err == ENOSPC,
                     "sem_open with link failing: expected SEM_FAILED with ENOSPC, seen %s (%s)",
                     s == SEM_FAILED ? "SEM_FAILED" : "a semaphore", ipcv_errname(err));
    if (s != SEM_FAILED)
        sem_close(s);
    return 0;
}

/* sem_open(3) ERRORS / glibc sem_open.c: when publishing the new semaphore
 * fails, sem_open fails with that error and removes its temporary file;
 * the name is never created. */
IPCV_CASE(posix_sem, sem_open_whose_link_fails_cleans_up_and_reports_the_error,
          .tags = "fault multi cleanup", .covers = "B744",
          .spec = "sem_open(3); glibc sysdeps/pthread/sem_open.c",
          .desc = "with link(2) failing ENOSPC (seccomp), sem_open(O_CREAT) fails with ENOSPC and /dev/shm holds neither the name nor a sem.XXXXXX temporary")
{
    struct named n;
    snprintf(n.name, sizeof n.name, "%s", ipcv_name("s"));
    ipcv_join(ipcv_spawn("opener", open_with_link_failing, &n), IPCV_EXITED(0));
    expect_dev_shm_empty("after the failed sem_open");
}

static int open_and_die_at_link(struct ipcv_role *self, void *arg)
{
    (void)self;
    const struct named *n = arg;
    filter_link(SECCOMP_RET_KILL_PROCESS);
    sem_t *s = sem_open(n->name, O_CREAT, 0600, 1);
    ipcv_expect_true(0, "sem_open returned %p without calling link(2)", (void *)s);
    return 0;
}

/* glibc sem_open.c: the semaphore is initialised in a temporary file and
 * then published under its name with link(2), so a process killed before
 * the link leaves no half-made semaphore under the name, only the
 * temporary (sem.XXXXXX), which nobody removes. */
IPCV_CASE(posix_sem, sem_open_killed_before_publishing_leaves_the_name_absent,
          .tags = "fault crash multi", .covers = "B744",
          .spec = "sem_open(3) O_CREAT; glibc sysdeps/pthread/sem_open.c",
          .desc = "a process killed (seccomp) at sem_open's link(2) leaves the name unopenable (ENOENT) and exactly one initialised sem.XXXXXX temporary in /dev/shm, which the case removes")
{
    struct named n;
    snprintf(n.name, sizeof n.name, "%s", ipcv_name("s"));
    ipcv_join(ipcv_spawn("opener", open_and_die_at_link, &n), IPCV_KILLED(SIGSYS));
    errno = 0;
    sem_t *s = sem_open(n.name, 0);
    ipcv_expect_true(s == SEM_FAILED && errno == ENOENT,
                     "the name of a semaphore whose creator died before link(2) opens (%s)",
                     s == SEM_FAILED ? ipcv_errname(errno) : "a semaphore");
    if (s != SEM_FAILED) {
        sem_close(s);
        sem_unlink(n.name);
    }
    char names[8][256];
    int count = shm_entries(names, 8), temps = 0;
    for (int i = 0; i < count; i++) {
        int temp = !strncmp(names[i], "sem.", 4) && strlen(names[i]) == 10;
        ipcv_expect_true(temp, "unexpected /dev/shm/%s", names[i]);
        temps += temp;
        /* Written in full before the link was tried. */
        struct stat st;
        int dir = SAFE(open("/dev/shm", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (temp && fstatat(dir, names[i], &st, 0) == 0)
            ipcv_expect_eq(sizeof(sem_t), st.st_size);
        close(dir);
        SAFE(unlink_shm(names[i]));
    }
    ipcv_expect_eq(1, temps);
}

struct fd_scene { char name[12][64]; };

/* Lower RLIMIT_NOFILE a little above the descriptors in use, then use up
 * every descriptor but `spare`. */
static void fill_descriptors(int spare)
{
    int highest = 0;
    DIR *d = SAFE_PTR(opendir("/proc/self/fd"));
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.' && atoi(e->d_name) > highest)
            highest = atoi(e->d_name);
    closedir(d);
    IPCV_SET_LIMIT("rlimit_nofile", (unsigned long long)highest + 8);
    int fds[64], n = 0, fd;
    while (n < 64 && (fd = dup(0)) >= 0)
        fds[n++] = fd;
    ipcv_expect_true(n < 64 && errno == EMFILE, "dup stopped after %d with %s", n,
                     ipcv_errname(errno));
    for (int i = 0; i < spare && n > 0; i++)
        close(fds[--n]);
}

static int open_without_descriptors(struct ipcv_role *self, void *arg)
{
    (void)self;
    const struct fd_scene *sc = arg;
    fill_descriptors(0);
    errno = 0;
    sem_t *s = sem_open(sc->name[0], O_CREAT, 0600, 1);
    int err = errno;
    ipcv_expect_true(s == SEM_FAILED && err == EMFILE,
                     "sem_open with no free descriptor: expected SEM_FAILED with EMFILE, seen %s (%s)",
                     s == SEM_FAILED ? "SEM_FAILED" : "a semaphore", ipcv_errname(err));
    if (s != SEM_FAILED) {
        sem_close(s);
        sem_unlink(sc->name[0]);
    }
    return 0;
}

/* sem_open(3) EMFILE: the per-process limit on open file descriptors has
 * been reached (RLIMIT_NOFILE, lowered here). Nothing is left behind. */
IPCV_CASE(posix_sem, sem_open_with_no_free_descriptor_fails_emfile,
          .tags = "limit multi", .covers = "",
          .spec = "sem_open(3) EMFILE; getrlimit(2) RLIMIT_NOFILE",
          .desc = "a process with RLIMIT_NOFILE lowered to its open descriptors + 8 and all of them in use gets EMFILE from sem_open(O_CREAT), and /dev/shm stays empty")
{
    struct fd_scene sc;
    snprintf(sc.name[0], sizeof sc.name[0], "%s", ipcv_name("s"));
    ipcv_join(ipcv_spawn("crowded", open_without_descriptors, &sc), IPCV_EXITED(0));
    expect_dev_shm_empty("after sem_open failed with EMFILE");
}

static int open_many_with_one_descriptor(struct ipcv_role *self, void *arg)
{
    (void)self;
    const struct fd_scene *sc = arg;
    fill_descriptors(1);
    sem_t *s[12];
    int opened = 0;
    for (int i = 0; i < 12; i++) {
        s[i] = sem_open(sc->name[i], O_CREAT | O_EXCL, 0600, (unsigned)i);
        if (s[i] == SEM_FAILED) {
            ipcv_expect_true(0, "sem_open #%d with one free descriptor: %s", i,
                             ipcv_errname(errno));
            break;
        }
        opened++;
    }
    for (int i = 0; i < opened; i++) {
        int v = -1;
        ipcv_expect_ok(sem_getvalue(s[i], &v));
        ipcv_expect_eq(i, v);
        ipcv_expect_ok(sem_close(s[i]));
        ipcv_expect_ok(sem_unlink(sc->name[i]));
    }
    return 0;
}

/* sem_open(3) returns a pointer, not a descriptor: glibc closes the file
 * once it is mapped, so one free descriptor is enough for any number of
 * named semaphores. */
IPCV_CASE(posix_sem, sem_open_keeps_no_descriptor_open,
          .tags = "limit multi", .covers = "",
          .spec = "sem_open(3); glibc sysdeps/pthread/sem_open.c",
          .desc = "a process with a single free descriptor under a lowered RLIMIT_NOFILE opens 12 named semaphores in a row, each keeping its value")
{
    struct fd_scene sc;
    for (int i = 0; i < 12; i++) {
        char suffix[8];
        snprintf(suffix, sizeof suffix, "s%d", i);
        snprintf(sc.name[i], sizeof sc.name[i], "%s", ipcv_name(suffix));
    }
    ipcv_join(ipcv_spawn("crowded", open_many_with_one_descriptor, &sc), IPCV_EXITED(0));
    expect_dev_shm_empty("after the semaphores were unlinked");
}
