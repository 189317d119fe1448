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
