/* Cases that misbehave on purpose, built into build/ipcvet-demo only: the
 * harness's own tests run them to prove each failure is caught, named and
 * cleaned up. Their mechanism is "demo", so --filter 'demo/...' picks one. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <mqueue.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ipcvet.h"

IPCV_CASE(demo, passes, .tags = "api", .desc = "does nothing wrong")
{
    int id = SAFE_SHMGET(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    SAFE_SHMCTL(id, IPC_RMID, NULL);
}

IPCV_CASE(demo, leaks_sysv_shm, .tags = "cleanup", .desc = "leaves a SysV segment")
{
    SAFE_SHMGET(ipcv_key(1), 4096, IPC_CREAT | 0600);
}

IPCV_CASE(demo, leaks_sysv_msg, .tags = "cleanup", .desc = "leaves a SysV queue")
{
    SAFE_MSGGET(IPC_PRIVATE, IPC_CREAT | 0600);
}

IPCV_CASE(demo, leaks_sysv_sem, .tags = "cleanup", .desc = "leaves a SysV semaphore set")
{
    SAFE_SEMGET(IPC_PRIVATE, 1, IPC_CREAT | 0600);
}

IPCV_CASE(demo, leaks_posix_shm, .tags = "cleanup", .desc = "leaves a POSIX shm name")
{
    close(SAFE(shm_open(ipcv_name("leak"), O_CREAT | O_RDWR, 0600)));
}

IPCV_CASE(demo, leaks_posix_sem, .tags = "cleanup", .desc = "leaves a named semaphore")
{
    sem_close(SAFE_PTR(sem_open(ipcv_name("leak"), O_CREAT, 0600, 1)));
}

IPCV_CASE(demo, leaks_posix_mq, .tags = "cleanup", .desc = "leaves a POSIX queue")
{
    mq_close(SAFE(mq_open(ipcv_name("leak"), O_CREAT | O_RDWR, 0600, NULL)));
}

static int sleeper(struct ipcv_role *self, void *arg)
{
    (void)arg;
    ipcv_ready(self);
    int id = semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
    struct sembuf down = { 0, -1, 0 };
    semop(id, &down, 1);   /* never comes back */
    return 0;
}

IPCV_CASE(demo, hangs, .tags = "multi", .timeout = 1, .desc = "a role and the coordinator block forever")
{
    struct ipcv_role *r = ipcv_spawn("sleeper", sleeper, NULL);
    ipcv_wait_ready(r);
    int fds[2];
    SAFE(pipe(fds));
    char c;
    (void)!read(fds[0], &c, 1);   /* nobody writes */
}

static int fails_check(struct ipcv_role *self, void *arg)
{
    (void)self; (void)arg;
    ipcv_expect_eq(42, 41);
    return 0;
}

IPCV_CASE(demo, role_fails, .tags = "multi", .desc = "a role's check fails")
{
    struct ipcv_role *r = ipcv_spawn("checker", fails_check, NULL);
    ipcv_join(r, IPCV_EXITED(0));
}

static int crashes(struct ipcv_role *self, void *arg)
{
    (void)self; (void)arg;
    printf("about to crash\n");
    raise(SIGSEGV);
    return 0;
}

IPCV_CASE(demo, role_crashes, .tags = "crash", .desc = "a role dies by SIGSEGV")
{
    struct ipcv_role *r = ipcv_spawn("crasher", crashes, NULL);
    ipcv_join(r, IPCV_EXITED(0));
}

IPCV_CASE(demo, broken_setup, .tags = "api", .desc = "set-up fails: broken, not failed")
{
    SAFE_SHMGET(IPC_PRIVATE, 0, IPC_CREAT | 0600);   /* EINVAL */
}

IPCV_CASE(demo, skips, .tags = "api", .desc = "the environment lacks something")
{
    ipcv_skip("needs a feature this machine lacks");
}

static int stuck_before_ready(struct ipcv_role *self, void *arg)
{
    (void)self; (void)arg;
    pause();
    return 0;
}

IPCV_CASE(demo, role_never_ready, .tags = "multi", .desc = "a role never says ready")
{
    struct ipcv_role *r = ipcv_spawn("stuck", stuck_before_ready, NULL);
    ipcv_wait_ready(r);
}

IPCV_CASE(demo, slow_for_sigkill, .tags = "multi", .timeout = 30,
          .desc = "creates one object of every kind and then waits: the SIGKILL test kills ipcvet here")
{
    SAFE_SHMGET(ipcv_key(1), 4096, IPC_CREAT | 0600);
    SAFE_MSGGET(ipcv_key(2), IPC_CREAT | 0600);
    SAFE_SEMGET(ipcv_key(3), 1, IPC_CREAT | 0600);
    close(SAFE(shm_open(ipcv_name("held"), O_CREAT | O_RDWR, 0600)));
    mq_close(SAFE(mq_open(ipcv_name("held"), O_CREAT | O_RDWR, 0600, NULL)));
    struct ipcv_role *r = ipcv_spawn("sleeper", sleeper, NULL);
    ipcv_wait_ready(r);
    printf("ipcvet-demo: objects created\n");
    fflush(stdout);
    pause();
}

/* ---- more misbehaviour, for tests/test_roles.c, test_watchdog.c, test_census.c */

IPCV_CASE(demo, coordinator_crashes, .tags = "crash", .desc = "the coordinator itself dies by SIGSEGV")
{
    raise(SIGSEGV);
}

static int dies_early(struct ipcv_role *self, void *arg)
{
    (void)self; (void)arg;
    _exit(3);
}

IPCV_CASE(demo, role_dies_before_ready, .tags = "multi", .desc = "a role exits before it says ready")
{
    struct ipcv_role *r = ipcv_spawn("early", dies_early, NULL);
    ipcv_wait_ready(r);
}

static int talks_then_fails(struct ipcv_role *self, void *arg)
{
    (void)self; (void)arg;
    printf("role says hello\n");
    return 3;
}

IPCV_CASE(demo, role_exits_with_output, .tags = "multi", .desc = "a role prints, then exits 3")
{
    struct ipcv_role *r = ipcv_spawn("talker", talks_then_fails, NULL);
    ipcv_join(r, IPCV_EXITED(0));
}

/* A correct multi-role case: every harness wait used the way cases use
 * them. It must pass; a false failure here is a harness bug. */
static int waits_for_go(struct ipcv_role *self, void *arg)
{
    (void)arg;
    ipcv_ready(self);
    ipcv_await_release(self);
    snprintf(ipcv_self.page->scratch, 64, "released");
    ipcv_checkpoint_signal(0);
    ipcv_await_release(self);
    return 7;
}

static int blocks_in_read(struct ipcv_role *self, void *arg)
{
    int fd = *(int *)arg;
    char c;
    ipcv_ready(self);
    (void)!read(fd, &c, 1);   /* until the coordinator kills it */
    return 0;
}

static int scratch_says_released(void *arg)
{
    (void)arg;
    return !strcmp(ipcv_self.page->scratch, "released");
}

IPCV_CASE(demo, roles_synchronise, .tags = "multi", .desc = "ready, release, checkpoints, blocked, join: all pass")
{
    int fds[2];
    SAFE(pipe(fds));
    struct ipcv_role *a = ipcv_spawn("waiter", waits_for_go, NULL);
    struct ipcv_role *b = ipcv_spawn("reader", blocks_in_read, &fds[0]);
    ipcv_wait_ready(a);
    ipcv_wait_ready(b);
    ipcv_wait_blocked(b, "read");
    ipcv_release(a);
    ipcv_checkpoint_wait(0, 1);
    ipcv_expect_true(ipcv_poll_until(scratch_says_released, NULL, 5), "scratch page not shared");
    ipcv_release(a);
    ipcv_join(a, IPCV_EXITED(7));
    kill(ipcv_role_pid(b), SIGKILL);
    ipcv_join(b, IPCV_KILLED(SIGKILL));
    close(fds[0]);
    close(fds[1]);
}

static int forks_then_hangs(struct ipcv_role *self, void *arg)
{
    (void)arg;
    int fds[2];
    if (pipe(fds) < 0)
        return 1;
    ipcv_ready(self);
    pid_t kid = fork();   /* not a role: a plain child the harness never saw */
    if (kid == 0) {
        char c;
        (void)!read(fds[0], &c, 1);
        _exit(0);
    }
    pause();
    return 0;
}

IPCV_CASE(demo, hangs_with_grandchild, .tags = "multi", .timeout = 1,
          .desc = "a role forks a child of its own; all three block forever")
{
    struct ipcv_role *r = ipcv_spawn("parent", forks_then_hangs, NULL);
    ipcv_wait_ready(r);
    pause();
}

IPCV_CASE(demo, leaks_every_kind, .tags = "cleanup", .desc = "leaves one object of every kind")
{
    SAFE_SHMGET(ipcv_key(1), 4096, IPC_CREAT | 0600);
    SAFE_MSGGET(ipcv_key(2), IPC_CREAT | 0600);
    SAFE_SEMGET(IPC_PRIVATE, 1, IPC_CREAT | 0600);
    close(SAFE(shm_open(ipcv_name("leak"), O_CREAT | O_RDWR, 0600)));
    sem_close(SAFE_PTR(sem_open(ipcv_name("leak"), O_CREAT, 0600, 1)));
    mq_close(SAFE(mq_open(ipcv_name("leak"), O_CREAT | O_RDWR, 0600, NULL)));
}

/* A role that forks a helper of its own before it says ready: the helper
 * inherits the readiness pipe, so "ready" must not depend on EOF alone. */
static int forks_then_ready(struct ipcv_role *self, void *arg)
{
    (void)arg;
    int fds[2];
    if (pipe(fds) < 0)
        return 1;
    pid_t kid = fork();
    if (kid == 0) {
        char c;
        close(fds[1]);
        (void)!read(fds[0], &c, 1);   /* EOF once the role closes its end */
        _exit(0);
    }
    close(fds[0]);
    ipcv_ready(self);
    ipcv_await_release(self);
    close(fds[1]);
    int st;
    if (waitpid(kid, &st, 0) != kid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return 2;
    return 0;
}

IPCV_CASE(demo, role_forks_then_ready, .tags = "multi",
          .desc = "a role forks a helper, then says ready: correct, must pass")
{
    struct ipcv_role *r = ipcv_spawn("forker", forks_then_ready, NULL);
    ipcv_wait_ready(r);
    ipcv_release(r);
    ipcv_join(r, IPCV_EXITED(0));
}

/* More failures than the result page keeps (IPCV_MAX_RECORDS): the report
 * must still say that some were dropped. */
IPCV_CASE(demo, fails_sixty_times, .tags = "api", .desc = "sixty checks fail")
{
    for (int i = 1; i <= 60; i++)
        ipcv_expect_eq(0, i);
}
