/* SysV semaphores when a process dies: SEM_UNDO adjustments are applied at
 * exit, even after SIGKILL; without SEM_UNDO nothing is given back. No
 * anchor kills a holder, so these are ours. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sem.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ipcvet.h"

union semun { int val; struct semid_ds *buf; unsigned short *array; struct seminfo *__buf; };

static void setval(int id, int num, int val)
{
    SAFE_SEMCTL(id, num, SETVAL, (union semun){ .val = val });
}


struct crash_scene {
    int id;
    short flg;                 /* SEM_UNDO or 0, for both processes */
    int expect_errno;          /* what the waiter's semop should end with */
};

/* Take the lock, say so, and wait to be killed. */
static int hold_until_killed(struct ipcv_role *self, void *arg)
{
    const struct crash_scene *s = arg;
    struct sembuf down = { 0, -1, s->flg };
    SAFE(semop(s->id, &down, 1));
    ipcv_ready(self);           /* "inside the critical section" */
    pause();
    return 0;
}

/* Block on the lock; once through, flag it in the scratch page and hold it
 * until released. */
static int wait_for_lock(struct ipcv_role *self, void *arg)
{
    const struct crash_scene *s = arg;
    atomic_int *through = (atomic_int *)ipcv_self.page->scratch;
    struct sembuf down = { 0, -1, s->flg };
    ipcv_ready(self);
    errno = 0;
    int rc = semop(s->id, &down, 1);
    int err = errno;
    if (s->expect_errno) {
        ipcv_expect_true(rc == -1 && err == s->expect_errno,
                         "waiter: expected %s, seen %d (%s)", ipcv_errname(s->expect_errno),
                         rc, ipcv_errname(err));
        return 0;
    }
    ipcv_expect_true(rc == 0, "waiter: expected to take the lock, seen %s", ipcv_errname(err));
    atomic_store(through, 1);
    ipcv_await_release(self);
    return 0;
}

static int is_set(void *arg) { return atomic_load((atomic_int *)arg) != 0; }

static void stage_crash(struct crash_scene *s, struct ipcv_role **holder,
                        struct ipcv_role **waiter)
{
    s->id = SAFE_SEMGET(IPC_PRIVATE, 1, IPC_CREAT | 0600);
    setval(s->id, 0, 1);
    *holder = ipcv_spawn("holder", hold_until_killed, s);
    ipcv_wait_ready(*holder);
    *waiter = ipcv_spawn("waiter", wait_for_lock, s);
    ipcv_wait_ready(*waiter);
    ipcv_wait_blocked(*waiter, "semtimedop");
    ipcv_expect_eq(0, semctl(s->id, 0, GETVAL));
    ipcv_expect_eq(1, semctl(s->id, 0, GETNCNT));
    SAFE(kill(ipcv_role_pid(*holder), SIGKILL));
    ipcv_join(*holder, IPCV_KILLED(SIGKILL));
}

/* semop(2) SEM_UNDO: the operation is undone when the process terminates,
 * whatever the cause; the restored unit goes to the blocked waiter. */
IPCV_CASE(sysv_sem, sem_undo_gives_the_lock_back_when_its_holder_is_killed,
          .tags = "crash multi", .covers = "B573 B053",
          .spec = "semop(2) SEM_UNDO",
          .desc = "a holder takes a SEM_UNDO lock and is SIGKILLed inside; its adjustment restores the unit, the blocked waiter takes it, and after the waiter's exit the value is 1")
{
    struct crash_scene s = { .flg = SEM_UNDO };
    struct ipcv_role *holder, *waiter;
    stage_crash(&s, &holder, &waiter);
    int through = ipcv_poll_until(is_set, ipcv_self.page->scratch, ipcv_wait_bound());
    ipcv_expect_true(through, "the waiter did not get the lock after the holder was killed");
    if (through) {
        ipcv_expect_eq(0, semctl(s.id, 0, GETVAL));
        ipcv_release(waiter);
        ipcv_join(waiter, IPCV_EXITED(0));
        ipcv_expect_eq(1, semctl(s.id, 0, GETVAL));
    }
    SAFE_SEMCTL(s.id, 0, IPC_RMID);
    ipcv_join(waiter, IPCV_ANY_END);
}

/* semop(2): without SEM_UNDO nothing is recorded, so a holder's death
 * gives nothing back: the waiter stays blocked until IPC_RMID (EIDRM). */
IPCV_CASE(sysv_sem, holder_killed_without_sem_undo_leaves_the_waiter_blocked,
          .tags = "crash multi", .covers = "",
          .spec = "semop(2) SEM_UNDO, EIDRM",
          .desc = "a holder takes the lock without SEM_UNDO and is SIGKILLed; after it is reaped the value is still 0 and the waiter still sleeps in semtimedop (GETNCNT 1); IPC_RMID ends its wait with EIDRM")
{
    struct crash_scene s = { .flg = 0, .expect_errno = EIDRM };
    struct ipcv_role *holder, *waiter;
    stage_crash(&s, &holder, &waiter);
    ipcv_expect_eq(0, semctl(s.id, 0, GETVAL));
    ipcv_expect_eq(1, semctl(s.id, 0, GETNCNT));
    ipcv_expect_true(ipcv_role_asleep_in(waiter, SYS_semtimedop),
                     "the waiter is no longer asleep in semtimedop after the holder died");
    SAFE_SEMCTL(s.id, 0, IPC_RMID);
    ipcv_join(waiter, IPCV_EXITED(0));
}

struct adjust { int id; unsigned short num; short amount; };

static int adjust_then_pause(struct ipcv_role *self, void *arg)
{
    const struct adjust *a = arg;
    struct sembuf op = { a->num, a->amount, SEM_UNDO };
    SAFE(semop(a->id, &op, 1));
    ipcv_ready(self);
    pause();
    return 0;
}

static int adjust_three(struct ipcv_role *self, void *arg)
{
    int id = *(int *)arg;
    struct sembuf ops[3] = { { 0, 1, SEM_UNDO }, { 1, 2, SEM_UNDO }, { 2, -1, SEM_UNDO } };
    SAFE(semop(id, ops, 3));
    ipcv_ready(self);
    pause();
    return 0;
}

/* semop(2) SEM_UNDO: each semaphore the process adjusted gets its own
 * semadj back at exit, in either direction. */
IPCV_CASE(sysv_sem, sem_undo_at_a_killed_exit_restores_every_adjusted_semaphore,
          .tags = "crash multi", .covers = "B573",
          .spec = "semop(2) SEM_UNDO",
          .desc = "a process does +1, +2 and -1 with SEM_UNDO on three semaphores at 0, 0, 5 and is SIGKILLed; the set is back to 0, 0, 5")
{
    int id = SAFE_SEMGET(IPC_PRIVATE, 3, IPC_CREAT | 0600);
    setval(id, 2, 5);
    struct ipcv_role *r = ipcv_spawn("adjuster", adjust_three, &id);
    ipcv_wait_ready(r);
    unsigned short v[3];
    SAFE_SEMCTL(id, 0, GETALL, (union semun){ .array = v });
    static const unsigned short held[3] = { 1, 2, 4 }, back[3] = { 0, 0, 5 };
    ipcv_expect_mem(held, v, sizeof v);
    SAFE(kill(ipcv_role_pid(r), SIGKILL));
    ipcv_join(r, IPCV_KILLED(SIGKILL));
    SAFE_SEMCTL(id, 0, GETALL, (union semun){ .array = v });
    ipcv_expect_mem(back, v, sizeof v);
    SAFE_SEMCTL(id, 0, IPC_RMID);
}

/* semop(2) BUGS: when an adjustment at exit would take a value below zero,
 * Linux decreases it as far as possible (to 0) and lets the exit proceed. */
IPCV_CASE(sysv_sem, sem_undo_at_exit_stops_at_zero,
          .tags = "crash multi", .covers = "B573",
          .spec = "semop(2) BUGS",
          .desc = "a process adds 3 with SEM_UNDO, another takes 2 of them, and the first is SIGKILLed: its -3 adjustment leaves 0, not an error or a wrapped value")
{
    struct adjust a = { .id = SAFE_SEMGET(IPC_PRIVATE, 1, IPC_CREAT | 0600), .amount = 3 };
    struct ipcv_role *r = ipcv_spawn("adjuster", adjust_then_pause, &a);
    ipcv_wait_ready(r);
    struct sembuf take = { 0, -2, 0 };
    SAFE(semop(a.id, &take, 1));
    SAFE(kill(ipcv_role_pid(r), SIGKILL));
    ipcv_join(r, IPCV_KILLED(SIGKILL));
    ipcv_expect_eq(0, semctl(a.id, 0, GETVAL));
    SAFE_SEMCTL(a.id, 0, IPC_RMID);
}

static int wait_for_zero(struct ipcv_role *self, void *arg)
{
    struct sembuf zero = { 0, 0, 0 };
    ipcv_ready(self);
    ipcv_expect_ok(semop(*(int *)arg, &zero, 1));
    return 0;
}

/* semop(2): an adjustment applied at exit is a change like any other: a
 * process waiting for zero wakes when it brings the value to 0 (the
 * Linux 2.6.10 bug in semop(2) BUGS was that it did not). */
IPCV_CASE(sysv_sem, sem_undo_at_exit_wakes_a_process_waiting_for_zero,
          .tags = "crash multi", .covers = "B573",
          .spec = "semop(2) SEM_UNDO, BUGS",
          .desc = "a process adds 1 with SEM_UNDO and another waits for zero (GETZCNT 1); when the first is SIGKILLed the value drops to 0 and the waiter returns")
{
    struct adjust a = { .id = SAFE_SEMGET(IPC_PRIVATE, 1, IPC_CREAT | 0600), .amount = 1 };
    struct ipcv_role *r = ipcv_spawn("adjuster", adjust_then_pause, &a);
    ipcv_wait_ready(r);
    struct ipcv_role *w = ipcv_spawn("zero-waiter", wait_for_zero, &a.id);
    ipcv_wait_ready(w);
    ipcv_wait_blocked(w, "semtimedop");
    ipcv_expect_eq(1, semctl(a.id, 0, GETZCNT));
    SAFE(kill(ipcv_role_pid(r), SIGKILL));
    ipcv_join(r, IPCV_KILLED(SIGKILL));
    ipcv_join(w, IPCV_EXITED(0));
    ipcv_expect_eq(0, semctl(a.id, 0, GETVAL));
    SAFE_SEMCTL(a.id, 0, IPC_RMID);
}
