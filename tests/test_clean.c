/* ipcvet clean: what an interrupted --isolate none run left (names of a
 * dead ipcvet pid) is listed by --dry-run and nothing is removed; names of
 * a live pid are never touched. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_support.h"

TestSuite(e2e_clean, .timeout = 60);

/* A pid that has just ended (and is very unlikely to be reused at once). */
static pid_t dead_pid(void)
{
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0)
        _exit(0);
    waitpid(pid, NULL, 0);
    return pid;
}

static void touch(const char *path)
{
    int fd = open(path, O_CREAT | O_WRONLY, 0600);
    cr_assert(fd >= 0, "cannot create %s: %s", path, strerror(errno));
    close(fd);
}

Test(e2e_clean, dry_run_lists_leftovers_of_dead_runs_and_removes_nothing)
{
    int lock = sup_host_lock();
    pid_t dead = dead_pid();
    char shm[128], sem[128], dir[128], live[128];
    snprintf(shm, sizeof shm, "/dev/shm/ipcv%d.selftest", (int)dead);
    snprintf(sem, sizeof sem, "/dev/shm/sem.ipcv%d.selftest", (int)dead);
    snprintf(dir, sizeof dir, "/tmp/ipcvet.%d.selftest", (int)dead);
    snprintf(live, sizeof live, "/dev/shm/ipcv%d.live", (int)getpid());
    touch(shm);
    touch(sem);
    touch(live);
    mkdir(dir, 0700);

    struct sup_cmd c;
    RUN_IPCVET(&c, 30, "clean", "--dry-run");
    struct stat st;
    int kept = stat(shm, &st) == 0 && stat(sem, &st) == 0 && stat(dir, &st) == 0 && stat(live, &st) == 0;
    unlink(shm);
    unlink(sem);
    unlink(live);
    rmdir(dir);
    sup_host_unlock(lock);

    cr_expect_eq(c.code, 0, "clean --dry-run: exit %d: %s", c.code, c.err);
    char want[200];
    snprintf(want, sizeof want, "would remove posix_shm /ipcv%d.selftest\n", (int)dead);
    cr_expect(strstr(c.out, want), "lacks '%s':\n%s", want, c.out);
    snprintf(want, sizeof want, "would remove posix_sem /ipcv%d.selftest\n", (int)dead);
    cr_expect(strstr(c.out, want), "lacks '%s':\n%s", want, c.out);
    snprintf(want, sizeof want, "would remove directory %s\n", dir);
    cr_expect(strstr(c.out, want), "lacks '%s':\n%s", want, c.out);
    snprintf(want, sizeof want, "ipcv%d.live", (int)getpid());
    cr_expect(!strstr(c.out, want), "a live run's name is listed:\n%s", c.out);
    cr_expect(kept, "--dry-run removed something");
    for (const char *p = c.out; *p; p += strcspn(p, "\n") + 1)
        cr_expect(!strncmp(p, "would remove ", 13) || !strncmp(p, "nothing to clean", 16),
                  "unexpected line: %.*s", (int)strcspn(p, "\n"), p);
    sup_cmd_free(&c);
}

/* A queue left by a dead run is listed too, also where the host has no
 * /dev/mqueue mount (clean should read the mqueue fs as the census does). */
Test(e2e_clean, dry_run_lists_queues_of_dead_runs)
{
    int lock = sup_host_lock();
    pid_t dead = dead_pid();
    char name[64];
    snprintf(name, sizeof name, "/ipcv%d.selftest", (int)dead);
    mqd_t q = mq_open(name, O_CREAT | O_RDWR, 0600, NULL);
    if (q == (mqd_t)-1) {
        sup_host_unlock(lock);
        cr_skip_test("mq_open: %s", strerror(errno));
    }
    mq_close(q);
    struct sup_cmd c;
    RUN_IPCVET(&c, 30, "clean", "--dry-run");
    mq_unlink(name);
    sup_host_unlock(lock);
    char want[128];
    snprintf(want, sizeof want, "would remove posix_mq %s\n", name);
    cr_expect(strstr(c.out, want), "a dead run's queue is not listed ('%s'):\n%s", want, c.out);
    sup_cmd_free(&c);
}
