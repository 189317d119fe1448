/* Robust process-shared mutexes: an owner that dies (SIGKILL in the
 * critical section, exit, thread exit or cancel) hands EOWNERDEAD to the
 * next locker; pthread_mutex_consistent recovers, an unlock without it
 * makes the mutex unrecoverable for everyone. And a non-robust mutex whose
 * owner dies is held forever. Locks are taken by roles only: all of them
 * share one PID namespace, which PI mutexes need. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "ipcvet.h"
#include "watchdog.h"   /* ipcv_describe_blocked */

static void *shared_area(size_t size)
{
    return SAFE(mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
}

/* A process-shared mutex, robust or not, with the protocol asked for. */
static void init_mutex(pthread_mutex_t *m, int robust, int protocol)
{
    pthread_mutexattr_t a;
    SAFE_RC(pthread_mutexattr_init(&a));
    SAFE_RC(pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED));
    if (robust)
        SAFE_RC(pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST));
    int rc = pthread_mutexattr_setprotocol(&a, protocol);
    if (rc == ENOTSUP)
        ipcv_skip("mutex protocol %d is not supported", protocol);
    SAFE_RC(rc);
    SAFE_RC(pthread_mutex_init(m, &a));
    pthread_mutexattr_destroy(&a);
}

static struct timespec in_ms(clockid_t clock, long ms)
{
    struct timespec t;
    clock_gettime(clock, &t);
    t.tv_sec += ms / 1000;
    t.tv_nsec += (ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

struct robust_shared {
    pthread_mutex_t m[2];
    pthread_cond_t c;
    int data;                       /* what m[0] protects */
    int go;
    atomic_int armed[4], done[4];
    atomic_int rc[16];
};

/* rc slots start at -1: "never set". */
static struct robust_shared *new_robust(int robust, int protocol)
{
    struct robust_shared *s = shared_area(sizeof *s);
    init_mutex(&s->m[0], robust, protocol);
    init_mutex(&s->m[1], robust, protocol);
    pthread_condattr_t ca;
    SAFE_RC(pthread_condattr_init(&ca));
    SAFE_RC(pthread_condattr_setpshared(&ca, PTHREAD_PROCESS_SHARED));
    SAFE_RC(pthread_cond_init(&s->c, &ca));
    pthread_condattr_destroy(&ca);
    for (int i = 0; i < 16; i++)
        atomic_store(&s->rc[i], -1);
    return s;
}

#define S(arg) (*(struct robust_shared **)(arg))

/* Lock both mutexes, leave the protected data half updated, say ready
 * from inside the critical section and wait to be killed. */
static int hold_until_killed(struct ipcv_role *self, void *arg)
{
    struct robust_shared *s = S(arg);
    SAFE_RC(pthread_mutex_lock(&s->m[0]));
    SAFE_RC(pthread_mutex_lock(&s->m[1]));
    s->data = -1;
    ipcv_ready(self);
    ipcv_await_release(self);
    return 0;
}

static struct ipcv_role *holder_killed_inside(struct robust_shared *s)
{
    struct ipcv_role *h = ipcv_spawn("holder", hold_until_killed, &s);
    ipcv_wait_ready(h);
    SAFE(kill(ipcv_role_pid(h), SIGKILL));
    ipcv_join(h, IPCV_KILLED(SIGKILL));
    return h;
}

static void run_role(const char *name, ipcv_role_fn fn, struct robust_shared *s)
{
    struct ipcv_role *r = ipcv_spawn(name, fn, &s);
    ipcv_join(r, IPCV_EXITED(0));
}

struct waitee { struct ipcv_role *r; atomic_int *armed, *done; };

static int in_futex_or_done(void *arg)
{
    struct waitee *w = arg;
    if (atomic_load(w->done))
        return 1;
    if (!atomic_load(w->armed))
        return 0;
    char desc[200];
    ipcv_describe_blocked(ipcv_role_pid(w->r), 0, desc, sizeof desc);
    return !strncmp(desc, "futex", 5) && strstr(desc, "(state S)");
}

static void wait_in_futex_or_done(struct ipcv_role *r, atomic_int *armed, atomic_int *done)
{
    struct waitee w = { r, armed, done };
    if (!ipcv_poll_until(in_futex_or_done, &w, ipcv_wait_bound())) {
        char desc[200];
        ipcv_describe_blocked(ipcv_role_pid(r), 0, desc, sizeof desc);
        ipcv_brk(__FILE__, __LINE__, "role '%s' did not block in futex within %.1f s; it is in %s",
                 ipcv_role_name(r), ipcv_wait_bound(), desc);
    }
}

/* ---- the owner dies: EOWNERDEAD, consistent ----------------------- */

static int lock_recover_relock(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct robust_shared *s = S(arg);
    int rc = pthread_mutex_lock(&s->m[0]);
    atomic_store(&s->rc[0], rc);
    if (rc != EOWNERDEAD && rc != 0)
        return 0;
    if (rc == EOWNERDEAD) {
        s->data = 1;                                  /* repair */
        atomic_store(&s->rc[1], pthread_mutex_consistent(&s->m[0]));
    }
    atomic_store(&s->rc[2], pthread_mutex_unlock(&s->m[0]));
    rc = pthread_mutex_lock(&s->m[0]);
    atomic_store(&s->rc[3], rc);
    if (rc == 0)
        pthread_mutex_unlock(&s->m[0]);
    return 0;
}

static int trylock_once(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct robust_shared *s = S(arg);
    int rc = pthread_mutex_trylock(&s->m[0]);
    atomic_store(&s->rc[4], rc);
    if (rc == 0)
        pthread_mutex_unlock(&s->m[0]);
    return 0;
}

/* POSIX.1-2017 pthread_mutex_lock(): [EOWNERDEAD] "The mutex is a robust
 * mutex and the process containing the previous owning thread terminated
 * while holding the mutex lock. The mutex lock shall be acquired by the
 * calling thread"; pthread_mutex_consistent() then makes it usable again
 * (glibc tst-robust1, tst-robust8). */
IPCV_CASE(pshared, robust_lock_after_holder_killed_gives_eownerdead_then_recovers,
          .tags = "crash", .covers = "B670 B674",
          .spec = "POSIX.1-2017 pthread_mutex_lock() EOWNERDEAD, pthread_mutex_consistent()",
          .desc = "a process SIGKILLed inside the critical section of a shared robust mutex: the next process's lock returns EOWNERDEAD holding it; consistent and unlock return 0, its relock 0, and a third process's trylock 0")
{
    struct robust_shared *s = new_robust(1, PTHREAD_PRIO_NONE);
    holder_killed_inside(s);
    run_role("recoverer", lock_recover_relock, s);
    ipcv_expect_rc(EOWNERDEAD, atomic_load(&s->rc[0]));
    ipcv_expect_rc(0, atomic_load(&s->rc[1]));
    ipcv_expect_rc(0, atomic_load(&s->rc[2]));
    ipcv_expect_rc(0, atomic_load(&s->rc[3]));
    run_role("next", trylock_once, s);
    ipcv_expect_rc(0, atomic_load(&s->rc[4]));
    ipcv_expect_eq(1, s->data);
    munmap(s, sizeof *s);
}

static int trylock_recover(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct robust_shared *s = S(arg);
    int rc = pthread_mutex_trylock(&s->m[0]);
    atomic_store(&s->rc[0], rc);
    if (rc == EOWNERDEAD)
        atomic_store(&s->rc[1], pthread_mutex_consistent(&s->m[0]));
    if (rc == EOWNERDEAD || rc == 0)
        atomic_store(&s->rc[2], pthread_mutex_unlock(&s->m[0]));
    return 0;
}

/* POSIX.1-2017 pthread_mutex_trylock(): [EOWNERDEAD] as for lock (glibc
 * tst-robust2). */
IPCV_CASE(pshared, robust_trylock_after_holder_killed_gives_eownerdead,
          .tags = "crash", .covers = "B668",
          .spec = "POSIX.1-2017 pthread_mutex_trylock() EOWNERDEAD",
          .desc = "after the holder of a shared robust mutex is SIGKILLed, another process's trylock returns EOWNERDEAD (not EBUSY) and owns the mutex: consistent and unlock return 0")
{
    struct robust_shared *s = new_robust(1, PTHREAD_PRIO_NONE);
    holder_killed_inside(s);
    run_role("trier", trylock_recover, s);
    ipcv_expect_rc(EOWNERDEAD, atomic_load(&s->rc[0]));
    ipcv_expect_rc(0, atomic_load(&s->rc[1]));
    ipcv_expect_rc(0, atomic_load(&s->rc[2]));
    munmap(s, sizeof *s);
}

static int timedlock_recover(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct robust_shared *s = S(arg);
    struct timespec dl = in_ms(CLOCK_REALTIME, 2000);
    int rc = pthread_mutex_timedlock(&s->m[0], &dl);
    atomic_store(&s->rc[0], rc);
    if (rc == EOWNERDEAD)
        atomic_store(&s->rc[1], pthread_mutex_consistent(&s->m[0]));
    if (rc == EOWNERDEAD || rc == 0)
        atomic_store(&s->rc[2], pthread_mutex_unlock(&s->m[0]));
    return 0;
}

/* POSIX.1-2017 pthread_mutex_timedlock(): [EOWNERDEAD] as for lock (glibc
 * tst-robust3). */
IPCV_CASE(pshared, robust_timedlock_after_holder_killed_gives_eownerdead,
          .tags = "crash", .covers = "B669",
          .spec = "POSIX.1-2017 pthread_mutex_timedlock() EOWNERDEAD",
          .desc = "after the holder of a shared robust mutex is SIGKILLed, another process's timedlock returns EOWNERDEAD (not ETIMEDOUT); consistent and unlock return 0")
{
    struct robust_shared *s = new_robust(1, PTHREAD_PRIO_NONE);
    holder_killed_inside(s);
    run_role("timer", timedlock_recover, s);
    ipcv_expect_rc(EOWNERDEAD, atomic_load(&s->rc[0]));
    ipcv_expect_rc(0, atomic_load(&s->rc[1]));
    ipcv_expect_rc(0, atomic_load(&s->rc[2]));
    munmap(s, sizeof *s);
}

static int block_then_recover(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct robust_shared *s = S(arg);
    atomic_store(&s->armed[0], 1);
    int rc = pthread_mutex_lock(&s->m[0]);
    atomic_store(&s->rc[0], rc);
    atomic_store(&s->done[0], 1);
    if (rc == EOWNERDEAD)
        atomic_store(&s->rc[1], pthread_mutex_consistent(&s->m[0]));
    if (rc == EOWNERDEAD || rc == 0)
        pthread_mutex_unlock(&s->m[0]);
    return 0;
}

/* POSIX.1-2017 pthread_mutex_lock() EOWNERDEAD for a thread already
 * waiting when the owner dies: the kernel's robust-list walk marks the
 * futex FUTEX_OWNER_DIED and wakes a waiter (futex(2) robust futexes). */
IPCV_CASE(pshared, robust_waiter_sleeping_when_holder_is_killed_gets_eownerdead,
          .tags = "crash", .covers = "B674",
          .spec = "POSIX.1-2017 pthread_mutex_lock() EOWNERDEAD; get_robust_list(2)",
          .desc = "a process already sleeping in lock on a shared robust mutex when its holder is SIGKILLed wakes with EOWNERDEAD and recovers it with consistent")
{
    struct robust_shared *s = new_robust(1, PTHREAD_PRIO_NONE);
    struct ipcv_role *h = ipcv_spawn("holder", hold_until_killed, &s);
    ipcv_wait_ready(h);
    struct ipcv_role *w = ipcv_spawn("waiter", block_then_recover, &s);
    wait_in_futex_or_done(w, &s->armed[0], &s->done[0]);
    ipcv_expect_eq(0, atomic_load(&s->done[0]));
    SAFE(kill(ipcv_role_pid(h), SIGKILL));
    ipcv_join(h, IPCV_KILLED(SIGKILL));
    ipcv_join(w, IPCV_EXITED(0));
    ipcv_expect_rc(EOWNERDEAD, atomic_load(&s->rc[0]));
    ipcv_expect_rc(0, atomic_load(&s->rc[1]));
    munmap(s, sizeof *s);
}

static int lock_and_exit(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct robust_shared *s = S(arg);
    SAFE_RC(pthread_mutex_lock(&s->m[0]));
    return 0;                       /* exits holding it */
}

/* POSIX.1-2017 pthread_mutex_lock(): EOWNERDEAD when "the process
 * containing the previous owning thread terminated while holding the mutex
 * lock" — a plain exit counts (glibc nptl/tst-robust-fork.c). */
IPCV_CASE(pshared, robust_mutex_held_at_exit_gives_eownerdead,
          .tags = "multi cleanup", .covers = "B678",
          .spec = "POSIX.1-2017 pthread_mutex_lock() EOWNERDEAD",
          .desc = "a process that exits normally while holding a shared robust mutex leaves it to the next process's lock with EOWNERDEAD; consistent, unlock and a relock return 0")
{
    struct robust_shared *s = new_robust(1, PTHREAD_PRIO_NONE);
    run_role("exiter", lock_and_exit, s);
    run_role("recoverer", lock_recover_relock, s);
    ipcv_expect_rc(EOWNERDEAD, atomic_load(&s->rc[0]));
    ipcv_expect_rc(0, atomic_load(&s->rc[1]));
    ipcv_expect_rc(0, atomic_load(&s->rc[2]));
    ipcv_expect_rc(0, atomic_load(&s->rc[3]));
    munmap(s, sizeof *s);
}

/* ---- unlock without consistent: ENOTRECOVERABLE ------------------- */

static int lock_then_give_up(struct ipcv_role *self, void *arg)
{
    struct robust_shared *s = S(arg);
    int rc = pthread_mutex_lock(&s->m[0]);
    atomic_store(&s->rc[0], rc);
    ipcv_ready(self);
    ipcv_await_release(self);
    if (rc == EOWNERDEAD || rc == 0)
        atomic_store(&s->rc[1], pthread_mutex_unlock(&s->m[0]));   /* no consistent */
    rc = pthread_mutex_lock(&s->m[0]);
    atomic_store(&s->rc[2], rc);
    if (rc == 0 || rc == EOWNERDEAD)
        pthread_mutex_unlock(&s->m[0]);
    return 0;
}

static int wait_behind_the_recoverer(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct robust_shared *s = S(arg);
    atomic_store(&s->armed[0], 1);
    int rc = pthread_mutex_lock(&s->m[0]);
    atomic_store(&s->rc[3], rc);
    atomic_store(&s->done[0], 1);
    if (rc == 0 || rc == EOWNERDEAD)
        pthread_mutex_unlock(&s->m[0]);
    return 0;
}

static int every_lock_call(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct robust_shared *s = S(arg);
    struct timespec dl = in_ms(CLOCK_REALTIME, 1000);
    /* trylock last: glibc 2.36's robust trylock returns ENOTRECOVERABLE
     * but leaves the lock word holding the caller's tid, so every later
     * call would see a held mutex (EBUSY, or a wait) instead. */
    int rc[3];
    rc[0] = pthread_mutex_lock(&s->m[0]);
    rc[2] = pthread_mutex_timedlock(&s->m[0], &dl);
    rc[1] = pthread_mutex_trylock(&s->m[0]);
    for (int i = 0; i < 3; i++) {
        atomic_store(&s->rc[4 + i], rc[i]);
        if (rc[i] == 0 || rc[i] == EOWNERDEAD)
            pthread_mutex_unlock(&s->m[0]);
    }
    return 0;
}

/* POSIX.1-2017 pthread_mutex_lock(): "If the mutex is unlocked without a
 * call to pthread_mutex_consistent(), it shall be in a permanently
 * unusable state and all attempts to lock the mutex shall fail with the
 * error [ENOTRECOVERABLE]" — for the waiter already queued, the same
 * process, and any other (glibc tst-robust4..6). */
IPCV_CASE(pshared, robust_unlock_without_consistent_is_unrecoverable_for_all,
          .tags = "crash", .covers = "B671",
          .spec = "POSIX.1-2017 pthread_mutex_lock() ENOTRECOVERABLE, pthread_mutex_unlock()",
          .desc = "after EOWNERDEAD, an unlock without consistent makes a process already sleeping in lock return ENOTRECOVERABLE, the unlocker's relock too, and another process's lock, trylock and timedlock as well")
{
    struct robust_shared *s = new_robust(1, PTHREAD_PRIO_NONE);
    holder_killed_inside(s);
    struct ipcv_role *giver = ipcv_spawn("giver-up", lock_then_give_up, &s);
    ipcv_wait_ready(giver);
    ipcv_expect_rc(EOWNERDEAD, atomic_load(&s->rc[0]));
    struct ipcv_role *w = ipcv_spawn("queued", wait_behind_the_recoverer, &s);
    wait_in_futex_or_done(w, &s->armed[0], &s->done[0]);
    ipcv_expect_eq(0, atomic_load(&s->done[0]));
    ipcv_release(giver);
    ipcv_join(giver, IPCV_EXITED(0));
    ipcv_join(w, IPCV_EXITED(0));
    ipcv_expect_rc(0, atomic_load(&s->rc[1]));
    ipcv_expect_rc(ENOTRECOVERABLE, atomic_load(&s->rc[2]));
    ipcv_expect_rc(ENOTRECOVERABLE, atomic_load(&s->rc[3]));
    run_role("latecomer", every_lock_call, s);
    static const char *what[] = { "lock", "trylock", "timedlock" };
    for (int i = 0; i < 3; i++)
        if (atomic_load(&s->rc[4 + i]) != ENOTRECOVERABLE)
            ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "latecomer's %s: expected ENOTRECOVERABLE, seen %s",
                        what[i], ipcv_errname(atomic_load(&s->rc[4 + i])));
    munmap(s, sizeof *s);
}

/* ---- condition variables over a robust mutex ---------------------- */

struct cv_arg { struct robust_shared *s; int i; int consistent; };

static int cond_wait_on_robust(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct cv_arg *a = arg;
    struct robust_shared *s = a->s;
    SAFE_RC(pthread_mutex_lock(&s->m[0]));
    atomic_store(&s->armed[a->i], 1);
    int rc;
    do
        rc = pthread_cond_wait(&s->c, &s->m[0]);
    while (rc == 0 && !s->go);
    atomic_store(&s->rc[a->i], rc);
    atomic_store(&s->done[a->i], 1);
    if (rc == EOWNERDEAD && a->consistent)
        atomic_store(&s->rc[8 + a->i], pthread_mutex_consistent(&s->m[0]));
    if (rc == 0 || rc == EOWNERDEAD)
        pthread_mutex_unlock(&s->m[0]);
    return 0;
}

/* Holder of the robust mutex while others wait on the condvar. */
static int hold_mutex_only(struct ipcv_role *self, void *arg)
{
    struct robust_shared *s = S(arg);
    SAFE_RC(pthread_mutex_lock(&s->m[0]));
    ipcv_ready(self);
    ipcv_await_release(self);
    return 0;
}

static void kill_mutex_holder_and_wake(struct robust_shared *s, int broadcast)
{
    struct ipcv_role *h = ipcv_spawn("holder", hold_mutex_only, &s);
    ipcv_wait_ready(h);
    SAFE(kill(ipcv_role_pid(h), SIGKILL));
    ipcv_join(h, IPCV_KILLED(SIGKILL));
    s->go = 1;                      /* the mutex is not available to set it under */
    SAFE_RC(broadcast ? pthread_cond_broadcast(&s->c) : pthread_cond_signal(&s->c));
}

/* POSIX.1-2017 pthread_cond_wait(): the mutex is re-acquired before
 * return, with the errors of pthread_mutex_lock — EOWNERDEAD when the
 * process that held the robust mutex in between died (glibc tst-robust7). */
IPCV_CASE(pshared, robust_cond_wait_relock_reports_eownerdead,
          .tags = "crash", .covers = "B673",
          .spec = "POSIX.1-2017 pthread_cond_wait() EOWNERDEAD",
          .desc = "a process waits on a shared condvar with a robust mutex; another takes the mutex and is SIGKILLed inside; after a signal the waiter's pthread_cond_wait returns EOWNERDEAD with the mutex held, and consistent returns 0")
{
    struct robust_shared *s = new_robust(1, PTHREAD_PRIO_NONE);
    struct cv_arg a = { s, 0, 1 };
    struct ipcv_role *w = ipcv_spawn("waiter", cond_wait_on_robust, &a);
    wait_in_futex_or_done(w, &s->armed[0], &s->done[0]);
    kill_mutex_holder_and_wake(s, 0);
    ipcv_join(w, IPCV_EXITED(0));
    ipcv_expect_rc(EOWNERDEAD, atomic_load(&s->rc[0]));
    ipcv_expect_rc(0, atomic_load(&s->rc[8]));
    munmap(s, sizeof *s);
}

/* POSIX.1-2017 pthread_cond_wait(): the relock after the wait fails with
 * [ENOTRECOVERABLE] like pthread_mutex_lock once an EOWNERDEAD owner
 * unlocked without consistent. */
IPCV_CASE(pshared, robust_cond_wait_relock_reports_enotrecoverable,
          .tags = "crash", .covers = "B673 B671",
          .spec = "POSIX.1-2017 pthread_cond_wait() ENOTRECOVERABLE",
          .desc = "two processes wait on a shared condvar with a robust mutex whose next holder is SIGKILLed; after a broadcast one wait returns EOWNERDEAD and unlocks without consistent, the other returns ENOTRECOVERABLE")
{
    struct robust_shared *s = new_robust(1, PTHREAD_PRIO_NONE);
    struct cv_arg a[2] = { { s, 0, 0 }, { s, 1, 0 } };
    struct ipcv_role *w[2];
    for (int i = 0; i < 2; i++) {
        w[i] = ipcv_spawn("waiter", cond_wait_on_robust, &a[i]);
        wait_in_futex_or_done(w[i], &s->armed[i], &s->done[i]);
    }
    kill_mutex_holder_and_wake(s, 1);
    for (int i = 0; i < 2; i++)
        ipcv_join(w[i], IPCV_EXITED(0));
    int rc0 = atomic_load(&s->rc[0]), rc1 = atomic_load(&s->rc[1]);
    ipcv_expect_true((rc0 == EOWNERDEAD && rc1 == ENOTRECOVERABLE) ||
                     (rc1 == EOWNERDEAD && rc0 == ENOTRECOVERABLE),
                     "the two waits returned %s and %s, expected EOWNERDEAD and ENOTRECOVERABLE",
                     ipcv_errname(rc0), ipcv_errname(rc1));
    munmap(s, sizeof *s);
}

/* ---- a live holder ----------------------------------------------- */

static int hold_first(struct ipcv_role *self, void *arg)
{
    struct robust_shared *s = S(arg);
    SAFE_RC(pthread_mutex_lock(&s->m[0]));
    ipcv_ready(self);
    ipcv_await_release(self);
    SAFE_RC(pthread_mutex_unlock(&s->m[0]));
    return 0;
}

static int time_out_on_live_holder(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct robust_shared *s = S(arg);
    struct timespec t0, t1, dl = in_ms(CLOCK_REALTIME, 50);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = pthread_mutex_timedlock(&s->m[0], &dl);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    atomic_store(&s->rc[0], rc);
    atomic_store(&s->rc[1], (int)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000));
    if (rc == 0 || rc == EOWNERDEAD)
        pthread_mutex_unlock(&s->m[0]);
    return 0;
}

/* POSIX.1-2017 pthread_mutex_timedlock(): [ETIMEDOUT] when a live owner
 * keeps a robust mutex past the timeout (glibc tst-robust10). */
IPCV_CASE(pshared, robust_timedlock_on_a_live_holder_times_out,
          .tags = "multi", .covers = "B676",
          .spec = "POSIX.1-2017 pthread_mutex_timedlock() ETIMEDOUT",
          .desc = "while a live process holds a shared robust mutex, another's 50 ms timedlock fails with ETIMEDOUT after at least 50 ms (no EOWNERDEAD)")
{
    struct robust_shared *s = new_robust(1, PTHREAD_PRIO_NONE);
    struct ipcv_role *h = ipcv_spawn("holder", hold_first, &s);
    ipcv_wait_ready(h);
    run_role("timer", time_out_on_live_holder, s);
    ipcv_expect_rc(ETIMEDOUT, atomic_load(&s->rc[0]));
    ipcv_expect_true(atomic_load(&s->rc[1]) >= 50, "timedlock returned after %d ms", atomic_load(&s->rc[1]));
    ipcv_release(h);
    ipcv_join(h, IPCV_EXITED(0));
    munmap(s, sizeof *s);
}

/* ---- owner threads that end ----------------------------------------- */

#define THREAD_MUTEXES 3

struct thread_locks {
    pthread_mutex_t m[THREAD_MUTEXES];
    pthread_barrier_t started;
    int how;                        /* 0: pthread_exit, 1: wait to be cancelled */
};

static void *lock_all_then_end(void *arg)
{
    struct thread_locks *t = arg;
    for (int i = 0; i < THREAD_MUTEXES; i++)
        if (pthread_mutex_lock(&t->m[i]))
            return NULL;
    if (t->how == 0)
        pthread_exit(NULL);
    pthread_barrier_wait(&t->started);
    for (;;)
        pause();                    /* a cancellation point */
}

static int thread_owner_ends(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct thread_locks t = { .how = *(int *)arg };
    pthread_mutexattr_t a;
    SAFE_RC(pthread_mutexattr_init(&a));
    SAFE_RC(pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST));
    for (int i = 0; i < THREAD_MUTEXES; i++)
        SAFE_RC(pthread_mutex_init(&t.m[i], &a));
    pthread_mutexattr_destroy(&a);
    SAFE_RC(pthread_barrier_init(&t.started, NULL, 2));
    pthread_t th;
    SAFE_RC(pthread_create(&th, NULL, lock_all_then_end, &t));
    if (t.how == 1) {
        pthread_barrier_wait(&t.started);
        SAFE_RC(pthread_cancel(th));
    }
    void *ret = NULL;
    SAFE_RC(pthread_join(th, &ret));
    if (t.how == 1)
        ipcv_expect_true(ret == PTHREAD_CANCELED, "the owner thread was not cancelled");
    for (int i = 0; i < THREAD_MUTEXES; i++) {
        ipcv_expect_rc(EOWNERDEAD, pthread_mutex_lock(&t.m[i]));
        ipcv_expect_rc(0, pthread_mutex_consistent(&t.m[i]));
        ipcv_expect_rc(0, pthread_mutex_unlock(&t.m[i]));
        ipcv_expect_rc(0, pthread_mutex_lock(&t.m[i]));
        ipcv_expect_rc(0, pthread_mutex_unlock(&t.m[i]));
    }
    return 0;
}

/* POSIX.1-2017 pthread_mutexattr_setrobust(): PTHREAD_MUTEX_ROBUST "If the
 * process containing the owning thread of a robust mutex terminates while
 * holding the mutex lock, the next thread that acquires the mutex shall be
 * notified" — glibc (like Linux's robust list) does the same when only the
 * owning thread ends (glibc tst-robust9, gVisor futex.cc PthreadMutexAttr). */
IPCV_CASE(pshared, robust_mutexes_of_an_exited_thread_give_eownerdead,
          .tags = "multi", .covers = "B675 B680",
          .spec = "POSIX.1-2017 pthread_mutexattr_setrobust(), pthread_mutex_consistent()",
          .desc = "in one process a thread locks 3 robust mutexes and calls pthread_exit; the main thread's lock of each returns EOWNERDEAD, consistent and unlock return 0, and a relock returns 0")
{
    int how = 0;
    struct ipcv_role *r = ipcv_spawn("threads", thread_owner_ends, &how);
    ipcv_join(r, IPCV_EXITED(0));
}

/* As above, the owning thread ended by cancellation (glibc tst-robust1:
 * the thread is cancelled while holding robust mutexes). */
IPCV_CASE(pshared, robust_mutexes_of_a_cancelled_thread_give_eownerdead,
          .tags = "multi", .covers = "B667",
          .spec = "POSIX.1-2017 pthread_mutexattr_setrobust(), pthread_cancel()",
          .desc = "in one process a thread holding 3 robust mutexes is cancelled in pause(); the main thread's lock of each returns EOWNERDEAD and consistent, unlock and relock return 0")
{
    int how = 1;
    struct ipcv_role *r = ipcv_spawn("threads", thread_owner_ends, &how);
    ipcv_join(r, IPCV_EXITED(0));
}

/* ---- priority inheritance ----------------------------------------- */

static int recover_pi_pair(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct robust_shared *s = S(arg);
    /* m[0]: recovered with consistent. */
    int rc = pthread_mutex_lock(&s->m[0]);
    atomic_store(&s->rc[0], rc);
    if (rc == EOWNERDEAD)
        atomic_store(&s->rc[1], pthread_mutex_consistent(&s->m[0]));
    if (rc == 0 || rc == EOWNERDEAD)
        atomic_store(&s->rc[2], pthread_mutex_unlock(&s->m[0]));
    rc = pthread_mutex_lock(&s->m[0]);
    atomic_store(&s->rc[3], rc);
    if (rc == 0)
        pthread_mutex_unlock(&s->m[0]);
    /* m[1]: given up without consistent. */
    rc = pthread_mutex_trylock(&s->m[1]);
    atomic_store(&s->rc[4], rc);
    if (rc == 0 || rc == EOWNERDEAD)
        pthread_mutex_unlock(&s->m[1]);
    atomic_store(&s->rc[5], pthread_mutex_lock(&s->m[1]));
    atomic_store(&s->rc[6], pthread_mutex_trylock(&s->m[1]));
    return 0;
}

/* POSIX.1-2017 robust mutexes with PTHREAD_PRIO_INHERIT: the same
 * EOWNERDEAD / consistent / ENOTRECOVERABLE protocol, carried by
 * FUTEX_LOCK_PI (glibc nptl/tst-robustpi1..9). ENOTSUP would be a skip. */
IPCV_CASE(pshared, robust_pi_mutex_owner_death_gives_eownerdead_then_enotrecoverable,
          .tags = "crash", .covers = "B672",
          .spec = "POSIX.1-2017 pthread_mutex_lock() EOWNERDEAD, ENOTRECOVERABLE; PTHREAD_PRIO_INHERIT",
          .desc = "two shared robust PRIO_INHERIT mutexes whose holder is SIGKILLed: lock of the first returns EOWNERDEAD and recovers with consistent; trylock of the second returns EOWNERDEAD, and after an unlock without consistent lock and trylock return ENOTRECOVERABLE")
{
    struct robust_shared *s = new_robust(1, PTHREAD_PRIO_INHERIT);
    holder_killed_inside(s);
    run_role("recoverer", recover_pi_pair, s);
    static const struct { const char *what; int err; } expect[7] = {
        { "lock m1", EOWNERDEAD }, { "consistent m1", 0 }, { "unlock m1", 0 }, { "relock m1", 0 },
        { "trylock m2", EOWNERDEAD }, { "lock m2 after unlock without consistent", ENOTRECOVERABLE },
        { "trylock m2 after unlock without consistent", ENOTRECOVERABLE },
    };
    for (int i = 0; i < 7; i++)
        if (atomic_load(&s->rc[i]) != expect[i].err)
            ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "PI %s: expected %s, seen %s", expect[i].what,
                        ipcv_errname(expect[i].err), ipcv_errname(atomic_load(&s->rc[i])));
    munmap(s, sizeof *s);
}

/* ---- pthread_mutex_consistent ------------------------------------- */

static int inherit_and_hold(struct ipcv_role *self, void *arg)
{
    struct robust_shared *s = S(arg);
    atomic_store(&s->rc[0], pthread_mutex_lock(&s->m[0]));
    ipcv_ready(self);
    ipcv_await_release(self);
    atomic_store(&s->rc[2], pthread_mutex_unlock(&s->m[0]));
    return 0;
}

static int make_consistent_from_outside(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct robust_shared *s = S(arg);
    atomic_store(&s->rc[1], pthread_mutex_consistent(&s->m[0]));
    return 0;
}

static int lock_afterwards(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct robust_shared *s = S(arg);
    int rc = pthread_mutex_lock(&s->m[0]);
    atomic_store(&s->rc[3], rc);
    if (rc == 0 || rc == EOWNERDEAD)
        pthread_mutex_unlock(&s->m[0]);
    return 0;
}

/* glibc nptl/pthread_mutex_consistent.c checks only that the mutex is
 * robust and inconsistent, not who calls (musl checks the owner and fails
 * with EPERM): a process that does not hold the EOWNERDEAD mutex makes it
 * consistent, and the holder's unlock then leaves it usable. */
IPCV_CASE(pshared, consistent_by_a_non_owner_succeeds_on_glibc,
          .tags = "crash", .covers = "B750",
          .spec = "pthread_mutex_consistent(3); glibc nptl/pthread_mutex_consistent.c",
          .desc = "while one process holds a robust mutex it got with EOWNERDEAD, another's pthread_mutex_consistent returns 0; the holder's unlock returns 0 and a later lock returns 0, not ENOTRECOVERABLE")
{
    struct robust_shared *s = new_robust(1, PTHREAD_PRIO_NONE);
    holder_killed_inside(s);
    struct ipcv_role *heir = ipcv_spawn("heir", inherit_and_hold, &s);
    ipcv_wait_ready(heir);
    ipcv_expect_rc(EOWNERDEAD, atomic_load(&s->rc[0]));
    run_role("outsider", make_consistent_from_outside, s);
    ipcv_expect_rc(0, atomic_load(&s->rc[1]));
    ipcv_release(heir);
    ipcv_join(heir, IPCV_EXITED(0));
    ipcv_expect_rc(0, atomic_load(&s->rc[2]));
    run_role("later", lock_afterwards, s);
    ipcv_expect_rc(0, atomic_load(&s->rc[3]));
    munmap(s, sizeof *s);
}

static int consistent_when_healthy(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct robust_shared *s = S(arg);
    pthread_mutex_t plain;
    SAFE_RC(pthread_mutex_init(&plain, NULL));
    ipcv_expect_rc(EINVAL, pthread_mutex_consistent(&s->m[0]));     /* unlocked */
    SAFE_RC(pthread_mutex_lock(&s->m[0]));
    ipcv_expect_rc(EINVAL, pthread_mutex_consistent(&s->m[0]));     /* locked, consistent */
    SAFE_RC(pthread_mutex_unlock(&s->m[0]));
    SAFE_RC(pthread_mutex_lock(&plain));
    ipcv_expect_rc(EINVAL, pthread_mutex_consistent(&plain));       /* not robust */
    pthread_mutex_unlock(&plain);
    return 0;
}

/* POSIX.1-2017 pthread_mutex_consistent(): [EINVAL] "The mutex object
 * referenced by mutex is not robust or does not protect an inconsistent
 * state." */
IPCV_CASE(pshared, consistent_on_a_healthy_mutex_fails_einval,
          .tags = "api",
          .spec = "POSIX.1-2017 pthread_mutex_consistent() EINVAL",
          .desc = "pthread_mutex_consistent on a robust mutex that is unlocked or normally locked, and on a non-robust mutex, fails with EINVAL")
{
    struct robust_shared *s = new_robust(1, PTHREAD_PRIO_NONE);
    run_role("checker", consistent_when_healthy, s);
    munmap(s, sizeof *s);
}

/* ---- a non-robust mutex whose owner dies -------------------------- */

/* POSIX.1-2017 pthread_mutexattr_setrobust(): PTHREAD_MUTEX_STALLED (the
 * default) "No special actions are taken if the owner of the mutex is
 * terminated while holding the mutex lock. This can lead to deadlocks if
 * no other thread can unlock the mutex." The survivor's sleep is seen in
 * /proc, before and after the dead holder is reaped, not by timing out. */
IPCV_CASE(pshared, stalled_mutex_of_a_killed_holder_blocks_the_survivor,
          .tags = "crash",
          .spec = "POSIX.1-2017 pthread_mutexattr_setrobust() PTHREAD_MUTEX_STALLED",
          .desc = "a survivor sleeping in lock on a shared non-robust mutex whose holder is SIGKILLed inside is still asleep in futex after the holder is reaped, and never returns; the coordinator kills it")
{
    struct robust_shared *s = new_robust(0, PTHREAD_PRIO_NONE);
    struct ipcv_role *h = ipcv_spawn("holder", hold_until_killed, &s);
    ipcv_wait_ready(h);
    struct ipcv_role *w = ipcv_spawn("survivor", block_then_recover, &s);
    wait_in_futex_or_done(w, &s->armed[0], &s->done[0]);
    SAFE(kill(ipcv_role_pid(h), SIGKILL));
    ipcv_join(h, IPCV_KILLED(SIGKILL));
    /* A robust owner's death would have woken it before the reap. */
    char desc[200];
    ipcv_describe_blocked(ipcv_role_pid(w), 0, desc, sizeof desc);
    ipcv_expect_true(!strncmp(desc, "futex", 5) && strstr(desc, "(state S)"),
                     "the survivor is no longer asleep in futex: %s", desc);
    ipcv_expect_eq(0, atomic_load(&s->done[0]));
    SAFE(kill(ipcv_role_pid(w), SIGKILL));
    ipcv_join(w, IPCV_KILLED(SIGKILL));
    munmap(s, sizeof *s);
}

/* ---- many mutexes, many threads, killed at random points ---------- */

#define MANY 24
#define CHURNERS 3
#define KILL_ROUNDS 3

struct many_shared {
    pthread_mutex_t m[MANY];
    atomic_int held[MANY];          /* set after lock, cleared before unlock */
    atomic_int pinned;
    atomic_int wrong, recovered, bad_rc;
};

static void *churn(void *arg)
{
    struct many_shared *s = *(struct many_shared **)arg;
    static atomic_int next;
    int me = atomic_fetch_add(&next, 1);
    /* Each thread keeps its own mutex the whole time ... */
    if (pthread_mutex_lock(&s->m[me]) == 0)
        atomic_store(&s->held[me], 1);
    atomic_fetch_add(&s->pinned, 1);
    /* ... and takes the shared ones at random until killed. */
    unsigned seed = (unsigned)me * 7919u + 1;
    for (;;) {
        int i = CHURNERS + (int)(rand_r(&seed) % (MANY - CHURNERS));
        int rc = pthread_mutex_trylock(&s->m[i]);
        if (rc == EOWNERDEAD) {
            pthread_mutex_consistent(&s->m[i]);
            rc = 0;
        }
        if (rc == 0) {
            atomic_store(&s->held[i], 1);
            for (volatile int k = 0; k < 50; k++)
                ;
            atomic_store(&s->held[i], 0);
            pthread_mutex_unlock(&s->m[i]);
        }
    }
    return NULL;
}

static int churn_until_killed(struct ipcv_role *self, void *arg)
{
    struct many_shared *s = *(struct many_shared **)arg;
    pthread_t t[CHURNERS];
    for (int i = 0; i < CHURNERS; i++)
        SAFE_RC(pthread_create(&t[i], NULL, churn, arg));
    while (atomic_load(&s->pinned) < CHURNERS)
        sched_yield();
    ipcv_ready(self);
    ipcv_await_release(self);
    return 0;
}

static int lock_every_mutex(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct many_shared *s = *(struct many_shared **)arg;
    for (int i = 0; i < MANY; i++) {
        int was_held = atomic_load(&s->held[i]);
        int rc = pthread_mutex_lock(&s->m[i]);
        if (rc == EOWNERDEAD) {
            atomic_fetch_add(&s->recovered, 1);
            if (pthread_mutex_consistent(&s->m[i]))
                atomic_fetch_add(&s->bad_rc, 1);
        } else if (rc != 0) {
            atomic_fetch_add(&s->bad_rc, 1);
            continue;
        }
        if (was_held && rc != EOWNERDEAD)
            atomic_fetch_add(&s->wrong, 1);
        atomic_store(&s->held[i], 0);
        pthread_mutex_unlock(&s->m[i]);
    }
    return 0;
}

/* Linux robust futexes (futex(2), get_robust_list(2)): every robust mutex
 * held by any thread of a process that is killed is marked owner-died, so
 * each later lock returns 0 or EOWNERDEAD, EOWNERDEAD for every mutex known
 * to be held (glibc tst-robust8). */
IPCV_CASE(pshared, robust_mutexes_of_a_killed_multithreaded_process_all_recover,
          .tags = "crash sync", .covers = "B674",
          .spec = "POSIX.1-2017 pthread_mutex_lock() EOWNERDEAD; futex(2) robust futexes",
          .desc = "3 rounds: a process whose 3 threads each hold one of 24 shared robust mutexes and churn through the rest is SIGKILLed; another process locks all 24: each returns 0 or EOWNERDEAD, EOWNERDEAD for every one marked held, and all recover")
{
    struct many_shared *s = shared_area(sizeof *s);
    for (int i = 0; i < MANY; i++)
        init_mutex(&s->m[i], 1, PTHREAD_PRIO_NONE);
    for (int round = 0; round < KILL_ROUNDS; round++) {
        atomic_store(&s->pinned, 0);
        struct ipcv_role *h = ipcv_spawn("churner", churn_until_killed, &s);
        ipcv_wait_ready(h);
        SAFE(kill(ipcv_role_pid(h), SIGKILL));
        ipcv_join(h, IPCV_KILLED(SIGKILL));
        int recovered_before = atomic_load(&s->recovered);
        struct ipcv_role *c = ipcv_spawn("checker", lock_every_mutex, &s);
        ipcv_join(c, IPCV_EXITED(0));
        /* At least the pinned ones were held. */
        if (atomic_load(&s->recovered) - recovered_before < CHURNERS)
            ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "round %d: %d EOWNERDEAD, expected at least %d",
                        round, atomic_load(&s->recovered) - recovered_before, CHURNERS);
    }
    ipcv_expect_eq(0, atomic_load(&s->wrong));
    ipcv_expect_eq(0, atomic_load(&s->bad_rc));
    munmap(s, sizeof *s);
}
