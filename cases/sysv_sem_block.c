/* SysV semaphores: operations that sleep, what wakes them (another
 * process, SETVAL, IPC_RMID, a signal), and SEM_UNDO with threads.
 * glibc's semop is the semtimedop syscall on x86_64, so a blocked role
 * sleeps in "semtimedop". */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/sem.h>
#include <time.h>
#include <unistd.h>

#include "ipcvet.h"

union semun { int val; struct semid_ds *buf; unsigned short *array; struct seminfo *__buf; };

static int op1(int id, unsigned short num, short op, short flg)
{
    struct sembuf b = { num, op, flg };
    return semop(id, &b, 1);
}

static void setval(int id, int num, int val)
{
    SAFE_SEMCTL(id, num, SETVAL, (union semun){ .val = val });
}

/* What a blocked role does and what it should see when it returns. */
struct waiter {
    int id;
    unsigned short num;
    short op;
    int expect_errno;          /* 0: success */
    int sa_flags;              /* for the SIGUSR1 handler; -1: none */
    int huge_timeout;          /* semtimedop with tv_sec = max time_t */
};

static void on_usr1(int sig) { (void)sig; }

static int blocked_op(struct ipcv_role *self, void *arg)
{
    const struct waiter *w = arg;
    if (w->sa_flags >= 0) {
        struct sigaction sa = { .sa_handler = on_usr1, .sa_flags = w->sa_flags };
        sigemptyset(&sa.sa_mask);
        SAFE(sigaction(SIGUSR1, &sa, NULL));
    }
    ipcv_ready(self);
    struct sembuf b = { w->num, w->op, 0 };
    struct timespec forever = { .tv_sec = (time_t)(((uintmax_t)1 << (sizeof(time_t) * 8 - 1)) - 1) };
    errno = 0;
    int rc = w->huge_timeout ? semtimedop(w->id, &b, 1, &forever) : semop(w->id, &b, 1);
    int err = errno;
    if (w->expect_errno)
        ipcv_expect_true(rc == -1 && err == w->expect_errno,
                         "semop(%d) on semaphore %u: expected %s, seen %d (%s)", w->op, w->num,
                         ipcv_errname(w->expect_errno), rc, ipcv_errname(err));
    else
        ipcv_expect_true(rc == 0, "semop(%d) on semaphore %u: expected success, seen %s",
                         w->op, w->num, ipcv_errname(err));
    return 0;
}

static struct ipcv_role *start_blocked(const char *name, const struct waiter *w)
{
    struct ipcv_role *r = ipcv_spawn(name, blocked_op, (void *)w);
    ipcv_wait_ready(r);
    ipcv_wait_blocked(r, "semtimedop");
    return r;
}

/* semop(2): with sem_op < 0 and semval too small, the caller sleeps until
 * semval becomes large enough, then the decrement is applied. */
IPCV_CASE(sysv_sem, semop_blocked_decrement_returns_when_another_process_increments,
          .tags = "multi", .covers = "B540 B054",
          .spec = "semop(2)",
          .desc = "a process blocks decrementing a semaphore at 0 (GETNCNT 1); an increment by another process lets it through and the value ends at 0")
{
    int id = SAFE_SEMGET(IPC_PRIVATE, 1, IPC_CREAT | 0600);
    struct waiter w = { .id = id, .op = -1, .sa_flags = -1 };
    struct ipcv_role *r = start_blocked("waiter", &w);
    ipcv_expect_eq(1, semctl(id, 0, GETNCNT));
    ipcv_expect_ok(op1(id, 0, 1, 0));
    ipcv_join(r, IPCV_EXITED(0));
    ipcv_expect_eq(0, semctl(id, 0, GETVAL));
    ipcv_expect_eq(0, semctl(id, 0, GETNCNT));
    SAFE_SEMCTL(id, 0, IPC_RMID);
}

/* semop(2): with sem_op 0 and semval nonzero, the caller sleeps until
 * semval becomes 0; a decrement that leaves it nonzero does not wake it. */
IPCV_CASE(sysv_sem, semop_blocked_wait_for_zero_returns_when_the_value_reaches_zero,
          .tags = "multi", .covers = "B054",
          .spec = "semop(2)",
          .desc = "a process waiting for zero on a semaphore at 2 stays blocked after one decrement (GETZCNT 1) and returns after the second")
{
    int id = SAFE_SEMGET(IPC_PRIVATE, 1, IPC_CREAT | 0600);
    setval(id, 0, 2);
    struct waiter w = { .id = id, .op = 0, .sa_flags = -1 };
    struct ipcv_role *r = start_blocked("waiter", &w);
    ipcv_expect_eq(1, semctl(id, 0, GETZCNT));
    ipcv_expect_ok(op1(id, 0, -1, 0));
    ipcv_wait_blocked(r, "semtimedop");
    ipcv_expect_eq(1, semctl(id, 0, GETZCNT));
    ipcv_expect_ok(op1(id, 0, -1, 0));
    ipcv_join(r, IPCV_EXITED(0));
    ipcv_expect_eq(0, semctl(id, 0, GETZCNT));
    SAFE_SEMCTL(id, 0, IPC_RMID);
}

/* semctl(2) SETVAL: the new value wakes whoever it satisfies: a blocked
 * decrement when raised, a wait-for-zero when set to 0. */
IPCV_CASE(sysv_sem, semctl_setval_wakes_blocked_decrements_and_zero_waiters,
          .tags = "multi", .covers = "B550",
          .spec = "semctl(2) SETVAL; semop(2)",
          .desc = "SETVAL 1 releases a process blocked decrementing semaphore 0; SETVAL 0 releases a process waiting for zero on semaphore 1")
{
    int id = SAFE_SEMGET(IPC_PRIVATE, 2, IPC_CREAT | 0600);
    setval(id, 1, 3);
    struct waiter down = { .id = id, .num = 0, .op = -1, .sa_flags = -1 };
    struct waiter zero = { .id = id, .num = 1, .op = 0, .sa_flags = -1 };
    struct ipcv_role *rd = start_blocked("decrementer", &down);
    struct ipcv_role *rz = start_blocked("zero-waiter", &zero);
    setval(id, 0, 1);
    ipcv_join(rd, IPCV_EXITED(0));
    ipcv_expect_eq(0, semctl(id, 0, GETVAL));
    ipcv_wait_blocked(rz, "semtimedop");
    setval(id, 1, 0);
    ipcv_join(rz, IPCV_EXITED(0));
    SAFE_SEMCTL(id, 0, IPC_RMID);
}

/* semop(2) EIDRM: the set was removed while the caller slept; afterwards
 * the identifier is invalid (semctl(2) EINVAL). */
IPCV_CASE(sysv_sem, ipc_rmid_wakes_blocked_waiters_with_eidrm,
          .tags = "multi cleanup", .covers = "B075 B546 B560 B563",
          .spec = "semop(2) EIDRM; semctl(2) IPC_RMID",
          .desc = "IPC_RMID wakes a blocked decrement and a blocked wait-for-zero, both failing with EIDRM; GETNCNT and GETZCNT on the old id then fail with EINVAL")
{
    int id = SAFE_SEMGET(IPC_PRIVATE, 2, IPC_CREAT | 0600);
    setval(id, 1, 1);
    struct waiter down = { .id = id, .num = 0, .op = -1, .expect_errno = EIDRM, .sa_flags = -1 };
    struct waiter zero = { .id = id, .num = 1, .op = 0, .expect_errno = EIDRM, .sa_flags = -1 };
    struct ipcv_role *rd = start_blocked("decrementer", &down);
    struct ipcv_role *rz = start_blocked("zero-waiter", &zero);
    int gone = id;
    SAFE_SEMCTL(id, 0, IPC_RMID);
    ipcv_join(rd, IPCV_EXITED(0));
    ipcv_join(rz, IPCV_EXITED(0));
    ipcv_expect_fail(EINVAL, semctl(gone, 0, GETNCNT));
    ipcv_expect_fail(EINVAL, semctl(gone, 1, GETZCNT));
}

/* Send SIGUSR1 to a role blocked in semtimedop, check the counts drop back
 * to 0 once it has returned (it checks its own errno). */
static void interrupt_and_check(int id, struct ipcv_role *r, int cmd)
{
    ipcv_expect_eq(1, semctl(id, 0, cmd));
    SAFE(kill(ipcv_role_pid(r), SIGUSR1));
    ipcv_join(r, IPCV_EXITED(0));
    ipcv_expect_eq(0, semctl(id, 0, cmd));
}

/* semop(2) EINTR; signal(7): semop is never restarted after a handler. */
IPCV_CASE(sysv_sem, semop_blocked_decrement_interrupted_by_a_handler_fails_eintr,
          .tags = "multi", .covers = "B076 B564",
          .spec = "semop(2) EINTR; signal(7)",
          .desc = "a process blocked decrementing (GETNCNT 1) catches SIGUSR1 (no SA_RESTART): semop fails with EINTR, GETNCNT is 0 and the value is still 0")
{
    int id = SAFE_SEMGET(IPC_PRIVATE, 1, IPC_CREAT | 0600);
    struct waiter w = { .id = id, .op = -1, .expect_errno = EINTR, .sa_flags = 0 };
    interrupt_and_check(id, start_blocked("waiter", &w), GETNCNT);
    ipcv_expect_eq(0, semctl(id, 0, GETVAL));
    SAFE_SEMCTL(id, 0, IPC_RMID);
}

/* semop(2) EINTR, for sem_op 0: the wait for zero ends and semzcnt drops. */
IPCV_CASE(sysv_sem, semop_wait_for_zero_interrupted_by_a_handler_fails_eintr,
          .tags = "multi", .covers = "B561",
          .spec = "semop(2) EINTR; signal(7)",
          .desc = "a process waiting for zero (GETZCNT 1) catches SIGUSR1: semop fails with EINTR, GETZCNT is back to 0 and the value is still 1")
{
    int id = SAFE_SEMGET(IPC_PRIVATE, 1, IPC_CREAT | 0600);
    setval(id, 0, 1);
    struct waiter w = { .id = id, .op = 0, .expect_errno = EINTR, .sa_flags = 0 };
    interrupt_and_check(id, start_blocked("waiter", &w), GETZCNT);
    ipcv_expect_eq(1, semctl(id, 0, GETVAL));
    SAFE_SEMCTL(id, 0, IPC_RMID);
}

/* signal(7): semop(2) and semtimedop(2) are never restarted after being
 * interrupted by a signal handler, regardless of SA_RESTART. */
IPCV_CASE(sysv_sem, semop_is_not_restarted_after_an_sa_restart_handler,
          .tags = "multi", .covers = "B076",
          .spec = "signal(7) Interruption of system calls",
          .desc = "with the SIGUSR1 handler installed with SA_RESTART, a blocked semop still fails with EINTR when the signal arrives")
{
    int id = SAFE_SEMGET(IPC_PRIVATE, 1, IPC_CREAT | 0600);
    struct waiter w = { .id = id, .op = -1, .expect_errno = EINTR, .sa_flags = SA_RESTART };
    interrupt_and_check(id, start_blocked("waiter", &w), GETNCNT);
    SAFE_SEMCTL(id, 0, IPC_RMID);
}

/* signal(7) as above, for semtimedop with the largest time_t as timeout: on
 * 64-bit Linux the timeout is accepted (no EOVERFLOW) and the call sleeps
 * until the handler interrupts it. */
IPCV_CASE(sysv_sem, semtimedop_with_the_largest_timeout_interrupted_fails_eintr,
          .tags = "multi", .covers = "B543",
          .spec = "semtimedop(2) EINTR; signal(7)",
          .desc = "semtimedop with tv_sec = max time_t blocks (not EOVERFLOW) and fails with EINTR when an SA_RESTART handler runs")
{
    int id = SAFE_SEMGET(IPC_PRIVATE, 1, IPC_CREAT | 0600);
    struct waiter w = { .id = id, .op = -1, .expect_errno = EINTR, .sa_flags = SA_RESTART,
                        .huge_timeout = 1 };
    interrupt_and_check(id, start_blocked("waiter", &w), GETNCNT);
    SAFE_SEMCTL(id, 0, IPC_RMID);
}

/* semop(2) (Linux): blocked operations are retried in any order after each
 * change; a process that can proceed does, even if an earlier waiter
 * still cannot (no FIFO). */
IPCV_CASE(sysv_sem, semop_lets_a_small_decrement_pass_a_blocked_larger_one,
          .tags = "multi", .covers = "B547",
          .spec = "semop(2); Linux ipc/sem.c update_queue",
          .desc = "while a process waits to subtract 2, five rounds of +1 then -1 with IPC_NOWAIT all succeed and it stays blocked; +2 then releases it")
{
    int id = SAFE_SEMGET(IPC_PRIVATE, 1, IPC_CREAT | 0600);
    struct waiter w = { .id = id, .op = -2, .sa_flags = -1 };
    struct ipcv_role *r = start_blocked("big-waiter", &w);
    for (int i = 0; i < 5; i++) {
        ipcv_expect_ok(op1(id, 0, 1, 0));
        ipcv_expect_ok(op1(id, 0, -1, IPC_NOWAIT));
    }
    /* Still waiting: the kernel counts it, and nothing is left over. */
    ipcv_expect_eq(1, semctl(id, 0, GETNCNT));
    ipcv_expect_eq(0, semctl(id, 0, GETVAL));
    ipcv_expect_ok(op1(id, 0, 2, 0));
    ipcv_join(r, IPCV_EXITED(0));
    ipcv_expect_eq(0, semctl(id, 0, GETVAL));
    SAFE_SEMCTL(id, 0, IPC_RMID);
}

static void *undo_in_thread(void *arg)
{
    intptr_t rc = op1(*(int *)arg, 0, 1, SEM_UNDO);
    return (void *)rc;
}

static int thread_adjusts(struct ipcv_role *self, void *arg)
{
    (void)self;
    int id = *(int *)arg;
    pthread_t t;
    void *rc;
    SAFE_RC(pthread_create(&t, NULL, undo_in_thread, &id));
    SAFE_RC(pthread_join(t, &rc));
    ipcv_expect_eq(0, (intptr_t)rc);
    /* The thread is gone; the adjustment belongs to the process. */
    ipcv_expect_eq(1, semctl(id, 0, GETVAL));
    return 0;
}

/* semop(2) NOTES: the semadj list is shared by the threads of a process
 * (CLONE_SYSVSEM) and applied when the process terminates, not when the
 * thread that made the adjustment exits. */
IPCV_CASE(sysv_sem, sem_undo_survives_the_thread_and_is_applied_when_the_process_exits,
          .tags = "multi cleanup", .covers = "B078",
          .spec = "semop(2) SEM_UNDO; clone(2) CLONE_SYSVSEM",
          .desc = "a thread adds 1 with SEM_UNDO and exits: the value stays 1 in its process; when the process exits the value is back to 0")
{
    int id = SAFE_SEMGET(IPC_PRIVATE, 1, IPC_CREAT | 0600);
    ipcv_join(ipcv_spawn("threaded", thread_adjusts, &id), IPCV_EXITED(0));
    ipcv_expect_eq(0, semctl(id, 0, GETVAL));
    SAFE_SEMCTL(id, 0, IPC_RMID);
}
