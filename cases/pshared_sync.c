/* Process-shared mutexes, rwlocks, condition variables, barriers and
 * spinlocks used by several processes: blocking and waking, time-outs,
 * exclusion under load, and signal handlers during a wait. Robust mutexes
 * and crashes are in pshared_robust.c. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
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

static void init_mutex(pthread_mutex_t *m, int type, int robust)
{
    pthread_mutexattr_t a;
    SAFE_RC(pthread_mutexattr_init(&a));
    SAFE_RC(pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED));
    SAFE_RC(pthread_mutexattr_settype(&a, type));
    if (robust)
        SAFE_RC(pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST));
    SAFE_RC(pthread_mutex_init(m, &a));
    pthread_mutexattr_destroy(&a);
}

static void init_cond(pthread_cond_t *c, clockid_t clock)
{
    pthread_condattr_t a;
    SAFE_RC(pthread_condattr_init(&a));
    SAFE_RC(pthread_condattr_setpshared(&a, PTHREAD_PROCESS_SHARED));
    SAFE_RC(pthread_condattr_setclock(&a, clock));
    SAFE_RC(pthread_cond_init(c, &a));
    pthread_condattr_destroy(&a);
}

static void init_rwlock(pthread_rwlock_t *l)
{
    pthread_rwlockattr_t a;
    SAFE_RC(pthread_rwlockattr_init(&a));
    SAFE_RC(pthread_rwlockattr_setpshared(&a, PTHREAD_PROCESS_SHARED));
    SAFE_RC(pthread_rwlock_init(l, &a));
    pthread_rwlockattr_destroy(&a);
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

static long ms_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/* The role announced it is about to block (armed) and now sleeps in a
 * futex, or it is already past the call (done). A role that never blocks
 * is then a failure the caller sees in `done`, not a broken set-up. */
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

static int flag_set(void *arg)
{
    return atomic_load((atomic_int *)arg) != 0;
}

/* ---- mutexes ------------------------------------------------------ */

struct trylock_shared {
    pthread_mutex_t m[2];           /* plain, robust */
    atomic_int busy_rc[2], free_rc[2];
};

static int trylock_twice(struct ipcv_role *self, void *arg)
{
    struct trylock_shared *s = *(struct trylock_shared **)arg;
    for (int i = 0; i < 2; i++)
        atomic_store(&s->busy_rc[i], pthread_mutex_trylock(&s->m[i]));
    ipcv_ready(self);
    ipcv_await_release(self);
    for (int i = 0; i < 2; i++) {
        int rc = pthread_mutex_trylock(&s->m[i]);
        atomic_store(&s->free_rc[i], rc);
        if (rc == 0)
            pthread_mutex_unlock(&s->m[i]);
    }
    return 0;
}

/* POSIX.1-2017 pthread_mutex_trylock(): "identical to pthread_mutex_lock()
 * except that if the mutex object referenced by mutex is currently locked
 * (by any thread, including the current thread), the call shall return
 * immediately" with [EBUSY]; with PTHREAD_PROCESS_SHARED this holds for a
 * holder in another process (glibc tst-mutex4 keeps the mutex in a shared
 * file page; tst-robust-fork does it for a robust one). */
IPCV_CASE(pshared, trylock_in_another_process_sees_the_holder,
          .tags = "multi", .covers = "B433 B677 B690",
          .spec = "POSIX.1-2017 pthread_mutex_trylock() EBUSY, pthread_mutexattr_setpshared()",
          .desc = "plain and robust PTHREAD_PROCESS_SHARED mutexes in a shm object page, locked by the coordinator: a child's trylock fails with EBUSY; after unlock it succeeds")
{
    const char *name = ipcv_name("mutexpage");
    int fd = SAFE(shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600));
    SAFE(ftruncate(fd, 4096));
    struct trylock_shared *s = SAFE(mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
    close(fd);
    init_mutex(&s->m[0], PTHREAD_MUTEX_NORMAL, 0);
    init_mutex(&s->m[1], PTHREAD_MUTEX_NORMAL, 1);
    for (int i = 0; i < 2; i++) {
        SAFE_RC(pthread_mutex_lock(&s->m[i]));
        atomic_store(&s->busy_rc[i], -1);
        atomic_store(&s->free_rc[i], -1);
    }
    struct ipcv_role *r = ipcv_spawn("trier", trylock_twice, &s);
    ipcv_wait_ready(r);
    for (int i = 0; i < 2; i++) {
        ipcv_expect_rc(EBUSY, atomic_load(&s->busy_rc[i]));
        SAFE_RC(pthread_mutex_unlock(&s->m[i]));
    }
    ipcv_release(r);
    ipcv_join(r, IPCV_EXITED(0));
    for (int i = 0; i < 2; i++)
        ipcv_expect_rc(0, atomic_load(&s->free_rc[i]));
    munmap(s, 4096);
    SAFE(shm_unlink(name));
}

struct lockwait {
    pthread_mutex_t m;
    atomic_int armed, done, rc;
};

static int lock_and_note(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct lockwait *s = *(struct lockwait **)arg;
    atomic_store(&s->armed, 1);
    int rc = pthread_mutex_lock(&s->m);
    atomic_store(&s->rc, rc);
    atomic_store(&s->done, 1);
    if (rc == 0)
        pthread_mutex_unlock(&s->m);
    return 0;
}

/* POSIX.1-2017 pthread_mutex_lock(): "If the mutex is already locked by
 * another thread, the calling thread shall block until the mutex becomes
 * available"; with PTHREAD_PROCESS_SHARED the other thread may be in
 * another process, and its unlock wakes the waiter. */
IPCV_CASE(pshared, lock_waits_for_the_holder_in_another_process,
          .tags = "multi", .covers = "B433 B690",
          .spec = "POSIX.1-2017 pthread_mutex_lock(), pthread_mutexattr_setpshared()",
          .desc = "a child locking a shared mutex the coordinator holds sleeps in futex and has not returned; the coordinator's unlock lets it return 0")
{
    struct lockwait *s = shared_area(sizeof *s);
    init_mutex(&s->m, PTHREAD_MUTEX_NORMAL, 0);
    atomic_store(&s->rc, -1);
    SAFE_RC(pthread_mutex_lock(&s->m));
    struct ipcv_role *r = ipcv_spawn("waiter", lock_and_note, &s);
    wait_in_futex_or_done(r, &s->armed, &s->done);
    ipcv_expect_eq(0, atomic_load(&s->done));
    SAFE_RC(pthread_mutex_unlock(&s->m));
    ipcv_join(r, IPCV_EXITED(0));
    ipcv_expect_rc(0, atomic_load(&s->rc));
    munmap(s, sizeof *s);
}

struct errcheck_shared {
    pthread_mutex_t m;
    atomic_int try_rc, timed_rc, unlock_rc;
};

static int poke_errorcheck(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct errcheck_shared *s = *(struct errcheck_shared **)arg;
    atomic_store(&s->try_rc, pthread_mutex_trylock(&s->m));
    struct timespec t = in_ms(CLOCK_REALTIME, 20);
    atomic_store(&s->timed_rc, pthread_mutex_timedlock(&s->m, &t));
    atomic_store(&s->unlock_rc, pthread_mutex_unlock(&s->m));
    return 0;
}

/* POSIX.1-2017 pthread_mutex_lock(): PTHREAD_MUTEX_ERRORCHECK "If a thread
 * attempts to relock a mutex that it has already locked, an error shall be
 * returned" [EDEADLK], and unlocking a mutex it does not own [EPERM]; in
 * another process the lock is simply held by someone else (EBUSY,
 * ETIMEDOUT), never EDEADLK (glibc nptl/tst-robust-fork.c). */
IPCV_CASE(pshared, errorcheck_relock_fails_edeadlk_only_for_the_owner,
          .tags = "multi", .covers = "B679",
          .spec = "POSIX.1-2017 pthread_mutex_lock() EDEADLK, pthread_mutex_unlock() EPERM",
          .desc = "the coordinator relocking its shared errorcheck mutex gets EDEADLK; a child gets EBUSY from trylock, ETIMEDOUT from a 20 ms timedlock and EPERM from unlock")
{
    struct errcheck_shared *s = shared_area(sizeof *s);
    init_mutex(&s->m, PTHREAD_MUTEX_ERRORCHECK, 0);
    SAFE_RC(pthread_mutex_lock(&s->m));
    ipcv_expect_rc(EDEADLK, pthread_mutex_lock(&s->m));
    struct ipcv_role *r = ipcv_spawn("other", poke_errorcheck, &s);
    ipcv_join(r, IPCV_EXITED(0));
    ipcv_expect_rc(EBUSY, atomic_load(&s->try_rc));
    ipcv_expect_rc(ETIMEDOUT, atomic_load(&s->timed_rc));
    ipcv_expect_rc(EPERM, atomic_load(&s->unlock_rc));
    ipcv_expect_rc(0, pthread_mutex_unlock(&s->m));
    ipcv_expect_rc(EPERM, pthread_mutex_unlock(&s->m));
    munmap(s, sizeof *s);
}

struct timed_shared {
    pthread_mutex_t m;
    atomic_int rc[3];
    atomic_long waited[3];
    atomic_int armed, done;
};

#define TIMEOUT_MS 50

static int time_out_then_lock(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct timed_shared *s = *(struct timed_shared **)arg;
    for (int i = 0; i < 3; i++) {
        struct timespec t0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        clockid_t clk = i == 1 ? CLOCK_MONOTONIC : CLOCK_REALTIME;
        struct timespec dl = in_ms(clk, TIMEOUT_MS);
        int rc = i == 0 ? pthread_mutex_timedlock(&s->m, &dl) : pthread_mutex_clocklock(&s->m, clk, &dl);
        atomic_store(&s->rc[i], rc);
        atomic_store(&s->waited[i], ms_since(&t0));
    }
    atomic_store(&s->armed, 1);
    pthread_mutex_lock(&s->m);      /* sleeps until the coordinator kills it */
    atomic_store(&s->done, 1);
    return 0;
}

/* POSIX.1-2017 pthread_mutex_timedlock(), pthread_mutex_clocklock() (glibc
 * 2.30, POSIX 2024): [ETIMEDOUT] "The mutex could not be locked before the
 * specified timeout expired", against CLOCK_REALTIME or the clock given;
 * a plain lock then waits with no end (glibc tst-mutex9: it is ended by a
 * signal, here SIGALRM sent by the coordinator). */
IPCV_CASE(pshared, timedlock_and_clocklock_time_out_then_lock_blocks,
          .tags = "multi", .covers = "B691",
          .spec = "POSIX.1-2017 pthread_mutex_timedlock() ETIMEDOUT; pthread_mutex_clocklock(3)",
          .desc = "with the coordinator holding a shared mutex, a child's 50 ms timedlock (REALTIME) and clocklock (MONOTONIC, REALTIME) each fail with ETIMEDOUT after at least 50 ms; its plain lock then sleeps until SIGALRM kills it")
{
    struct timed_shared *s = shared_area(sizeof *s);
    init_mutex(&s->m, PTHREAD_MUTEX_NORMAL, 0);
    SAFE_RC(pthread_mutex_lock(&s->m));
    struct ipcv_role *r = ipcv_spawn("timer", time_out_then_lock, &s);
    wait_in_futex_or_done(r, &s->armed, &s->done);
    static const char *what[] = { "timedlock", "clocklock MONOTONIC", "clocklock REALTIME" };
    for (int i = 0; i < 3; i++) {
        if (atomic_load(&s->rc[i]) != ETIMEDOUT)
            ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "%s: expected ETIMEDOUT, seen %s", what[i],
                        ipcv_errname(atomic_load(&s->rc[i])));
        if (atomic_load(&s->waited[i]) < TIMEOUT_MS)
            ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "%s returned after %ld ms, before its %d ms timeout",
                        what[i], atomic_load(&s->waited[i]), TIMEOUT_MS);
    }
    ipcv_expect_eq(0, atomic_load(&s->done));
    SAFE(kill(ipcv_role_pid(r), SIGALRM));
    ipcv_join(r, IPCV_KILLED(SIGALRM));
    SAFE_RC(pthread_mutex_unlock(&s->m));
    munmap(s, sizeof *s);
}

struct pi_shared {
    pthread_mutex_t m;
    atomic_int rc[2], lock_rc, armed, done;
    atomic_long waited[2];
};

static int hold_pi(struct ipcv_role *self, void *arg)
{
    struct pi_shared *s = *(struct pi_shared **)arg;
    SAFE_RC(pthread_mutex_lock(&s->m));
    ipcv_ready(self);
    ipcv_await_release(self);
    SAFE_RC(pthread_mutex_unlock(&s->m));
    return 0;
}

static int time_out_on_pi(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct pi_shared *s = *(struct pi_shared **)arg;
    for (int i = 0; i < 2; i++) {
        struct timespec t0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        clockid_t clk = i ? CLOCK_MONOTONIC : CLOCK_REALTIME;
        struct timespec dl = in_ms(clk, TIMEOUT_MS);
        atomic_store(&s->rc[i], i ? pthread_mutex_clocklock(&s->m, clk, &dl)
                                   : pthread_mutex_timedlock(&s->m, &dl));
        atomic_store(&s->waited[i], ms_since(&t0));
    }
    atomic_store(&s->armed, 1);
    int rc = pthread_mutex_lock(&s->m);
    atomic_store(&s->lock_rc, rc);
    atomic_store(&s->done, 1);
    if (rc == 0)
        pthread_mutex_unlock(&s->m);
    return 0;
}

/* pthread_mutex_clocklock(3) with a PTHREAD_PRIO_INHERIT mutex: glibc
 * waits with FUTEX_LOCK_PI2 for CLOCK_MONOTONIC (EINVAL only on kernels
 * before 5.14; glibc nptl/tst-mutexpi9.c); across processes the timed
 * calls fail with ETIMEDOUT and a plain lock is handed the mutex at
 * unlock. Both processes are roles: PI owners are found by thread id in
 * the caller's PID namespace. */
IPCV_CASE(pshared, pi_mutex_times_out_on_both_clocks_then_is_handed_over,
          .tags = "multi", .covers = "B691",
          .spec = "pthread_mutex_clocklock(3); pthread_mutexattr_setprotocol() PTHREAD_PRIO_INHERIT",
          .desc = "a shared PRIO_INHERIT mutex held by one process: another's 50 ms timedlock and CLOCK_MONOTONIC clocklock fail with ETIMEDOUT; its plain lock sleeps and returns 0 when the holder unlocks")
{
    struct pi_shared *s = shared_area(sizeof *s);
    pthread_mutexattr_t a;
    SAFE_RC(pthread_mutexattr_init(&a));
    SAFE_RC(pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED));
    int rc = pthread_mutexattr_setprotocol(&a, PTHREAD_PRIO_INHERIT);
    if (rc == ENOTSUP)
        ipcv_skip("PTHREAD_PRIO_INHERIT is not supported");
    SAFE_RC(rc);
    SAFE_RC(pthread_mutex_init(&s->m, &a));
    pthread_mutexattr_destroy(&a);
    atomic_store(&s->lock_rc, -1);
    struct ipcv_role *holder = ipcv_spawn("holder", hold_pi, &s);
    ipcv_wait_ready(holder);
    struct ipcv_role *waiter = ipcv_spawn("waiter", time_out_on_pi, &s);
    wait_in_futex_or_done(waiter, &s->armed, &s->done);
    static const char *what[] = { "timedlock", "clocklock MONOTONIC" };
    for (int i = 0; i < 2; i++) {
        if (atomic_load(&s->rc[i]) != ETIMEDOUT)
            ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "PI %s: expected ETIMEDOUT, seen %s", what[i],
                        ipcv_errname(atomic_load(&s->rc[i])));
        if (atomic_load(&s->waited[i]) < TIMEOUT_MS)
            ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "PI %s returned after %ld ms, before its %d ms timeout",
                        what[i], atomic_load(&s->waited[i]), TIMEOUT_MS);
    }
    ipcv_expect_eq(0, atomic_load(&s->done));
    ipcv_release(holder);
    ipcv_join(holder, IPCV_EXITED(0));
    ipcv_join(waiter, IPCV_EXITED(0));
    ipcv_expect_rc(0, atomic_load(&s->lock_rc));
    munmap(s, sizeof *s);
}

/* ---- exclusion under load ----------------------------------------- */

#define WORKERS 4
#define ROUNDS 2000

struct excl_shared {
    pthread_mutex_t m;
    pthread_spinlock_t spin;
    atomic_int inside, trying, finished;
    volatile long counter;
    atomic_int violations, errors;
};

/* Stay inside until another worker is trying to get in (or every other
 * worker is done), and a little longer: a lock that let it in would be
 * seen here, whatever the scheduler does on a busy machine. */
static void critical_section(struct excl_shared *s, int workers)
{
    int v = atomic_fetch_add(&s->inside, 1) + 1;
    long c = s->counter;
    for (int k = 0; k < 100 && atomic_load(&s->trying) == 0 &&
                    atomic_load(&s->finished) < workers - 1; k++)
        sched_yield();
    for (volatile int k = 0; k < 200; k++)
        ;
    if (v != 1 || atomic_load(&s->inside) != 1)
        atomic_fetch_add(&s->violations, 1);
    s->counter = c + 1;
    atomic_fetch_sub(&s->inside, 1);
}

static int mutex_worker(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct excl_shared *s = *(struct excl_shared **)arg;
    ipcv_checkpoint_wait(0, 1);
    for (int i = 0; i < ROUNDS; i++) {
        atomic_fetch_add(&s->trying, 1);
        int rc = pthread_mutex_lock(&s->m);
        atomic_fetch_sub(&s->trying, 1);
        if (rc) {
            atomic_fetch_add(&s->errors, 1);
            continue;
        }
        critical_section(s, WORKERS);
        pthread_mutex_unlock(&s->m);
    }
    atomic_fetch_add(&s->finished, 1);
    return 0;
}

static void run_exclusion(struct excl_shared *s, ipcv_role_fn worker)
{
    struct ipcv_role *w[WORKERS];
    for (int i = 0; i < WORKERS; i++)
        w[i] = ipcv_spawn("worker", worker, &s);
    ipcv_checkpoint_signal(0);
    for (int i = 0; i < WORKERS; i++)
        ipcv_join(w[i], IPCV_EXITED(0));
    ipcv_expect_eq(0, atomic_load(&s->violations));
    ipcv_expect_eq(0, atomic_load(&s->errors));
    ipcv_expect_eq(WORKERS * ROUNDS, s->counter);
}

/* POSIX.1-2017 pthread_mutex_lock(), pthread_mutexattr_setpshared(): a
 * PTHREAD_PROCESS_SHARED mutex excludes threads of all processes; under
 * contention never two are inside, no update is lost. */
IPCV_CASE(pshared, mutex_excludes_across_processes_under_load,
          .tags = "sync", .covers = "B433 B690",
          .spec = "POSIX.1-2017 pthread_mutex_lock(), pthread_mutexattr_setpshared()",
          .desc = "4 processes lock a shared mutex 2000 times each around an occupancy check and an increment: nobody is ever inside with another, the count ends at exactly 8000")
{
    struct excl_shared *s = shared_area(sizeof *s);
    init_mutex(&s->m, PTHREAD_MUTEX_NORMAL, 0);
    run_exclusion(s, mutex_worker);
    munmap(s, sizeof *s);
}

/* POSIX.1-2017 pthread_mutexattr_setrobust(): a robust mutex is still a
 * mutex — the same exclusion with no owner ever dying. */
IPCV_CASE(pshared, robust_mutex_excludes_across_processes_under_load,
          .tags = "sync", .covers = "B433",
          .spec = "POSIX.1-2017 pthread_mutex_lock(), pthread_mutexattr_setrobust()",
          .desc = "4 processes lock a shared robust mutex 2000 times each: never two inside, no EOWNERDEAD, the count ends at exactly 8000")
{
    struct excl_shared *s = shared_area(sizeof *s);
    init_mutex(&s->m, PTHREAD_MUTEX_NORMAL, 1);
    run_exclusion(s, mutex_worker);
    munmap(s, sizeof *s);
}

#define SPIN_WORKERS 2

static int spin_worker(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct excl_shared *s = *(struct excl_shared **)arg;
    ipcv_checkpoint_wait(0, 1);
    for (int i = 0; i < ROUNDS; i++) {
        atomic_fetch_add(&s->trying, 1);
        int rc = pthread_spin_lock(&s->spin);
        atomic_fetch_sub(&s->trying, 1);
        if (rc) {
            atomic_fetch_add(&s->errors, 1);
            continue;
        }
        critical_section(s, SPIN_WORKERS);
        pthread_spin_unlock(&s->spin);
    }
    atomic_fetch_add(&s->finished, 1);
    return 0;
}

/* POSIX.1-2017 pthread_spin_lock(): "shall lock the spin lock ... The
 * calling thread shall acquire the lock if it is not held by another
 * thread. Otherwise, the thread shall spin"; PTHREAD_PROCESS_SHARED makes
 * that hold across processes. Two workers: one per CPU here. */
IPCV_CASE(pshared, spinlock_excludes_across_processes_under_load,
          .tags = "sync", .covers = "B407",
          .spec = "POSIX.1-2017 pthread_spin_lock(), pthread_spin_init() PTHREAD_PROCESS_SHARED",
          .desc = "2 processes take a shared spinlock 2000 times each around an occupancy check and an increment: never two inside, the count ends at exactly 4000")
{
    struct excl_shared *s = shared_area(sizeof *s);
    SAFE_RC(pthread_spin_init(&s->spin, PTHREAD_PROCESS_SHARED));
    struct ipcv_role *w[SPIN_WORKERS];
    for (int i = 0; i < SPIN_WORKERS; i++)
        w[i] = ipcv_spawn("spinner", spin_worker, &s);
    ipcv_checkpoint_signal(0);
    for (int i = 0; i < SPIN_WORKERS; i++)
        ipcv_join(w[i], IPCV_EXITED(0));
    ipcv_expect_eq(0, atomic_load(&s->violations));
    ipcv_expect_eq(0, atomic_load(&s->errors));
    ipcv_expect_eq(SPIN_WORKERS * ROUNDS, s->counter);
    munmap(s, sizeof *s);
}

/* ---- rwlocks -------------------------------------------------------- */

struct rw_shared {
    pthread_rwlock_t l;
    atomic_int armed, done, wr_rc;
};

static int hold_read(struct ipcv_role *self, void *arg)
{
    struct rw_shared *s = *(struct rw_shared **)arg;
    SAFE_RC(pthread_rwlock_rdlock(&s->l));
    ipcv_ready(self);
    ipcv_await_release(self);
    SAFE_RC(pthread_rwlock_unlock(&s->l));
    return 0;
}

static int write_lock_and_hold(struct ipcv_role *self, void *arg)
{
    struct rw_shared *s = *(struct rw_shared **)arg;
    atomic_store(&s->armed, 1);
    int rc = pthread_rwlock_wrlock(&s->l);
    atomic_store(&s->wr_rc, rc);
    atomic_store(&s->done, 1);
    ipcv_await_release(self);
    if (rc == 0)
        pthread_rwlock_unlock(&s->l);
    return 0;
}

/* POSIX.1-2017 pthread_rwlock_rdlock(): "The calling thread acquires the
 * read lock if a writer does not hold the lock and there are no writers
 * blocked on the lock"; pthread_rwlock_wrlock(): "The calling thread
 * acquires the write lock if no thread (reader or writer) holds the
 * read-write lock"; PTHREAD_PROCESS_SHARED extends both across processes
 * (LTP pthread_rwlockattr_getpshared/2-1). */
IPCV_CASE(pshared, rwlock_readers_share_and_a_writer_waits_for_them,
          .tags = "multi", .covers = "B404",
          .spec = "POSIX.1-2017 pthread_rwlock_rdlock(), pthread_rwlock_wrlock(), pthread_rwlockattr_setpshared()",
          .desc = "with a child holding a shared rwlock for reading, the coordinator's tryrdlock succeeds and trywrlock fails with EBUSY; a writer child sleeps until the reader leaves, then holds it alone")
{
    struct rw_shared *s = shared_area(sizeof *s);
    init_rwlock(&s->l);
    atomic_store(&s->wr_rc, -1);
    struct ipcv_role *reader = ipcv_spawn("reader", hold_read, &s);
    ipcv_wait_ready(reader);
    int rc = pthread_rwlock_tryrdlock(&s->l);
    ipcv_expect_rc(0, rc);
    if (rc == 0)
        pthread_rwlock_unlock(&s->l);
    ipcv_expect_rc(EBUSY, pthread_rwlock_trywrlock(&s->l));
    struct ipcv_role *writer = ipcv_spawn("writer", write_lock_and_hold, &s);
    wait_in_futex_or_done(writer, &s->armed, &s->done);
    ipcv_expect_eq(0, atomic_load(&s->done));
    ipcv_release(reader);
    ipcv_join(reader, IPCV_EXITED(0));
    ipcv_expect_true(ipcv_poll_until(flag_set, &s->done, ipcv_wait_bound()),
                     "the writer did not get the lock after the reader left");
    ipcv_expect_rc(0, atomic_load(&s->wr_rc));
    ipcv_expect_rc(EBUSY, pthread_rwlock_tryrdlock(&s->l));
    ipcv_expect_rc(EBUSY, pthread_rwlock_trywrlock(&s->l));
    ipcv_release(writer);
    ipcv_join(writer, IPCV_EXITED(0));
    munmap(s, sizeof *s);
}

struct rwtry_shared {
    pthread_rwlock_t l;
    atomic_int rc[5], later_rc;
};

static int try_while_written(struct ipcv_role *self, void *arg)
{
    struct rwtry_shared *s = *(struct rwtry_shared **)arg;
    atomic_store(&s->rc[0], pthread_rwlock_trywrlock(&s->l));
    atomic_store(&s->rc[1], pthread_rwlock_tryrdlock(&s->l));
    struct timespec t = in_ms(CLOCK_REALTIME, TIMEOUT_MS);
    atomic_store(&s->rc[2], pthread_rwlock_timedwrlock(&s->l, &t));
    t = in_ms(CLOCK_REALTIME, TIMEOUT_MS);
    atomic_store(&s->rc[3], pthread_rwlock_timedrdlock(&s->l, &t));
    t = in_ms(CLOCK_MONOTONIC, TIMEOUT_MS);
    atomic_store(&s->rc[4], pthread_rwlock_clockwrlock(&s->l, CLOCK_MONOTONIC, &t));
    ipcv_ready(self);
    ipcv_await_release(self);
    int rc = pthread_rwlock_wrlock(&s->l);
    atomic_store(&s->later_rc, rc);
    if (rc == 0)
        pthread_rwlock_unlock(&s->l);
    return 0;
}

/* POSIX.1-2017 pthread_rwlock_trywrlock(), pthread_rwlock_tryrdlock():
 * [EBUSY]; pthread_rwlock_timedwrlock(), pthread_rwlock_timedrdlock():
 * [ETIMEDOUT] — for a write lock held in another process (glibc
 * tst-rwlock4, tst-rwlock12). */
IPCV_CASE(pshared, rwlock_written_in_one_process_is_busy_in_another,
          .tags = "multi", .covers = "B696 B404",
          .spec = "POSIX.1-2017 pthread_rwlock_trywrlock() EBUSY, pthread_rwlock_timedwrlock() ETIMEDOUT",
          .desc = "while the coordinator holds a shared rwlock for writing, a child's trywrlock and tryrdlock fail with EBUSY and 50 ms timedwrlock, timedrdlock and clockwrlock with ETIMEDOUT; after unlock its wrlock returns 0")
{
    struct rwtry_shared *s = shared_area(sizeof *s);
    init_rwlock(&s->l);
    atomic_store(&s->later_rc, -1);
    SAFE_RC(pthread_rwlock_wrlock(&s->l));
    struct ipcv_role *r = ipcv_spawn("other", try_while_written, &s);
    ipcv_wait_ready(r);
    static const struct { const char *what; int err; } expect[5] = {
        { "trywrlock", EBUSY }, { "tryrdlock", EBUSY }, { "timedwrlock", ETIMEDOUT },
        { "timedrdlock", ETIMEDOUT }, { "clockwrlock", ETIMEDOUT },
    };
    for (int i = 0; i < 5; i++)
        if (atomic_load(&s->rc[i]) != expect[i].err)
            ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "%s: expected %s, seen %s", expect[i].what,
                        ipcv_errname(expect[i].err), ipcv_errname(atomic_load(&s->rc[i])));
    SAFE_RC(pthread_rwlock_unlock(&s->l));
    ipcv_release(r);
    ipcv_join(r, IPCV_EXITED(0));
    ipcv_expect_rc(0, atomic_load(&s->later_rc));
    munmap(s, sizeof *s);
}

#define RW_WRITERS 2
#define RW_READERS 2
#define RW_ROUNDS 1500

struct rwload_shared {
    pthread_rwlock_t l;
    atomic_int writers_in, readers_in, writers_trying, finished;
    atomic_int violations, errors, regressions;
    volatile long counter;
};

/* Like critical_section(): stay until a writer is trying to get in (or
 * all other workers are done), so an overlap would be seen. */
static void linger(struct rwload_shared *s)
{
    for (int k = 0; k < 100 && atomic_load(&s->writers_trying) == 0 &&
                    atomic_load(&s->finished) < RW_WRITERS + RW_READERS - 1; k++)
        sched_yield();
    for (volatile int k = 0; k < 200; k++)
        ;
}

static int rw_writer(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct rwload_shared *s = *(struct rwload_shared **)arg;
    ipcv_checkpoint_wait(0, 1);
    for (int i = 0; i < RW_ROUNDS; i++) {
        atomic_fetch_add(&s->writers_trying, 1);
        int rc = pthread_rwlock_wrlock(&s->l);
        atomic_fetch_sub(&s->writers_trying, 1);
        if (rc) {
            atomic_fetch_add(&s->errors, 1);
            continue;
        }
        int w = atomic_fetch_add(&s->writers_in, 1);
        long c = s->counter;
        linger(s);
        if (w != 0 || atomic_load(&s->writers_in) != 1 || atomic_load(&s->readers_in) != 0)
            atomic_fetch_add(&s->violations, 1);
        s->counter = c + 1;
        atomic_fetch_sub(&s->writers_in, 1);
        pthread_rwlock_unlock(&s->l);
    }
    atomic_fetch_add(&s->finished, 1);
    return 0;
}

static int rw_reader(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct rwload_shared *s = *(struct rwload_shared **)arg;
    long last = 0;
    ipcv_checkpoint_wait(0, 1);
    for (int i = 0; i < RW_ROUNDS; i++) {
        if (pthread_rwlock_rdlock(&s->l)) {
            atomic_fetch_add(&s->errors, 1);
            continue;
        }
        atomic_fetch_add(&s->readers_in, 1);
        long now = s->counter;
        linger(s);
        if (atomic_load(&s->writers_in) != 0)
            atomic_fetch_add(&s->violations, 1);
        if (s->counter != now || now < last)
            atomic_fetch_add(&s->regressions, 1);
        last = now;
        atomic_fetch_sub(&s->readers_in, 1);
        pthread_rwlock_unlock(&s->l);
    }
    atomic_fetch_add(&s->finished, 1);
    return 0;
}

/* POSIX.1-2017 pthread_rwlock_wrlock(), pthread_rwlock_rdlock(): writers
 * are exclusive, readers see no writer and a value that does not change
 * under them — across processes, under load. */
IPCV_CASE(pshared, rwlock_writers_exclusive_readers_undisturbed_under_load,
          .tags = "sync", .covers = "B404",
          .spec = "POSIX.1-2017 pthread_rwlock_wrlock(), pthread_rwlock_rdlock(), pthread_rwlockattr_setpshared()",
          .desc = "2 writer and 2 reader processes take a shared rwlock 1500 times each: a writer never overlaps anyone, a reader never sees a writer or the value change, the count ends at exactly 3000")
{
    struct rwload_shared *s = shared_area(sizeof *s);
    init_rwlock(&s->l);
    struct ipcv_role *r[RW_WRITERS + RW_READERS];
    for (int i = 0; i < RW_WRITERS; i++)
        r[i] = ipcv_spawn("writer", rw_writer, &s);
    for (int i = 0; i < RW_READERS; i++)
        r[RW_WRITERS + i] = ipcv_spawn("reader", rw_reader, &s);
    ipcv_checkpoint_signal(0);
    for (int i = 0; i < RW_WRITERS + RW_READERS; i++)
        ipcv_join(r[i], IPCV_EXITED(0));
    ipcv_expect_eq(0, atomic_load(&s->violations));
    ipcv_expect_eq(0, atomic_load(&s->regressions));
    ipcv_expect_eq(0, atomic_load(&s->errors));
    ipcv_expect_eq(RW_WRITERS * RW_ROUNDS, s->counter);
    munmap(s, sizeof *s);
}

/* ---- condition variables ------------------------------------------ */

#define CV_WAITERS 3

struct cv_shared {
    pthread_mutex_t m;
    pthread_cond_t c;
    int go, tokens, consumed;
    atomic_int armed[CV_WAITERS], done[CV_WAITERS], bad, handled;
    int rc_last[CV_WAITERS];
};

struct cv_arg { struct cv_shared *s; int i; };

static int wait_for_go(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct cv_arg *a = arg;
    struct cv_shared *s = a->s;
    SAFE_RC(pthread_mutex_lock(&s->m));
    atomic_store(&s->armed[a->i], 1);
    while (!s->go) {
        int rc = pthread_cond_wait(&s->c, &s->m);
        if (rc)
            atomic_fetch_add(&s->bad, 1);
    }
    atomic_store(&s->done[a->i], 1);
    pthread_mutex_unlock(&s->m);
    return 0;
}

static struct cv_shared *new_cv(void)
{
    struct cv_shared *s = shared_area(sizeof *s);
    init_mutex(&s->m, PTHREAD_MUTEX_NORMAL, 0);
    init_cond(&s->c, CLOCK_REALTIME);
    return s;
}

/* POSIX.1-2017 pthread_cond_broadcast(): "shall unblock all threads
 * currently blocked on the specified condition variable cond"; with
 * PTHREAD_PROCESS_SHARED those threads may be in other processes (glibc
 * tst-cond4, LTP pthread_cond_broadcast/1-2). */
IPCV_CASE(pshared, cond_broadcast_wakes_waiters_in_every_process,
          .tags = "multi", .covers = "B434 B436 B692",
          .spec = "POSIX.1-2017 pthread_cond_broadcast(), pthread_cond_wait(), pthread_condattr_setpshared()",
          .desc = "3 processes sleep in pthread_cond_wait on a shared condvar; one broadcast by the coordinator wakes all three and every wait returned 0")
{
    struct cv_shared *s = new_cv();
    struct ipcv_role *w[CV_WAITERS];
    struct cv_arg a[CV_WAITERS];
    for (int i = 0; i < CV_WAITERS; i++) {
        a[i] = (struct cv_arg){ s, i };
        w[i] = ipcv_spawn("waiter", wait_for_go, &a[i]);
    }
    for (int i = 0; i < CV_WAITERS; i++) {
        wait_in_futex_or_done(w[i], &s->armed[i], &s->done[i]);
        ipcv_expect_eq(0, atomic_load(&s->done[i]));
    }
    SAFE_RC(pthread_mutex_lock(&s->m));
    s->go = 1;
    ipcv_expect_rc(0, pthread_cond_broadcast(&s->c));
    SAFE_RC(pthread_mutex_unlock(&s->m));
    for (int i = 0; i < CV_WAITERS; i++)
        ipcv_join(w[i], IPCV_EXITED(0));
    ipcv_expect_eq(0, atomic_load(&s->bad));
    munmap(s, sizeof *s);
}

static int take_a_token(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct cv_arg *a = arg;
    struct cv_shared *s = a->s;
    SAFE_RC(pthread_mutex_lock(&s->m));
    atomic_store(&s->armed[a->i], 1);
    while (s->tokens == 0) {
        int rc = pthread_cond_wait(&s->c, &s->m);
        if (rc)
            atomic_fetch_add(&s->bad, 1);
    }
    s->tokens--;
    s->consumed++;
    atomic_store(&s->done[a->i], 1);
    pthread_mutex_unlock(&s->m);
    return 0;
}

struct consumed_probe { struct cv_shared *s; int want; };

static int consumed_reached(void *arg)
{
    struct consumed_probe *p = arg;
    pthread_mutex_lock(&p->s->m);
    int n = p->s->consumed;
    pthread_mutex_unlock(&p->s->m);
    return n >= p->want;
}

/* POSIX.1-2017 pthread_cond_signal(): "shall unblock at least one of the
 * threads that are blocked on the specified condition variable cond"
 * (LTP pthread_cond_signal/1-2, glibc tst-cond4). */
IPCV_CASE(pshared, cond_signal_wakes_a_waiter_in_another_process,
          .tags = "multi", .covers = "B435 B436 B692",
          .spec = "POSIX.1-2017 pthread_cond_signal(), pthread_cond_wait()",
          .desc = "2 processes wait for tokens on a shared condvar; each token added with one pthread_cond_signal is taken by exactly one of them, and every wait returned 0")
{
    struct cv_shared *s = new_cv();
    struct ipcv_role *w[2];
    struct cv_arg a[2];
    for (int i = 0; i < 2; i++) {
        a[i] = (struct cv_arg){ s, i };
        w[i] = ipcv_spawn("taker", take_a_token, &a[i]);
    }
    for (int i = 0; i < 2; i++)
        wait_in_futex_or_done(w[i], &s->armed[i], &s->done[i]);
    for (int t = 1; t <= 2; t++) {
        SAFE_RC(pthread_mutex_lock(&s->m));
        s->tokens++;
        ipcv_expect_rc(0, pthread_cond_signal(&s->c));
        SAFE_RC(pthread_mutex_unlock(&s->m));
        struct consumed_probe p = { s, t };
        if (!ipcv_poll_until(consumed_reached, &p, ipcv_wait_bound()))
            ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "token %d was not taken after pthread_cond_signal", t);
        pthread_mutex_lock(&s->m);
        if (s->consumed > t)
            ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "%d tokens taken after %d signals", s->consumed, t);
        pthread_mutex_unlock(&s->m);
    }
    for (int i = 0; i < 2; i++)
        ipcv_join(w[i], IPCV_EXITED(0));
    ipcv_expect_eq(0, atomic_load(&s->bad));
    munmap(s, sizeof *s);
}

struct timedwait_shared {
    pthread_mutex_t m;
    pthread_cond_t c;
    int go;
    atomic_int armed, done, first_rc, relock_rc, second_rc;
    atomic_long waited;
};

static int time_out_then_wait(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct timedwait_shared *s = *(struct timedwait_shared **)arg;
    SAFE_RC(pthread_mutex_lock(&s->m));
    struct timespec t0, dl = in_ms(CLOCK_MONOTONIC, TIMEOUT_MS);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc;
    do
        rc = pthread_cond_timedwait(&s->c, &s->m, &dl);
    while (rc == 0);                /* spurious wake-ups are allowed */
    atomic_store(&s->waited, ms_since(&t0));
    atomic_store(&s->first_rc, rc);
    /* The mutex is held again on return, even after a time-out. */
    atomic_store(&s->relock_rc, pthread_mutex_lock(&s->m));
    atomic_store(&s->armed, 1);
    dl = in_ms(CLOCK_MONOTONIC, (long)(ipcv_wait_bound() * 1000));
    rc = 0;
    while (!s->go && rc == 0)
        rc = pthread_cond_timedwait(&s->c, &s->m, &dl);
    atomic_store(&s->second_rc, s->go ? rc : ETIMEDOUT);
    atomic_store(&s->done, 1);
    pthread_mutex_unlock(&s->m);
    return 0;
}

/* POSIX.1-2017 pthread_cond_timedwait(): [ETIMEDOUT] "The time specified
 * by abstime to pthread_cond_timedwait() has passed", measured on the
 * condvar's clock (pthread_condattr_setclock), and "the mutex shall have
 * been locked and shall be owned by the calling thread" on return; a
 * signal from another process ends the wait early (glibc tst-cond6). */
IPCV_CASE(pshared, cond_timedwait_times_out_then_wakes_on_signal,
          .tags = "multi", .covers = "B437 B693",
          .spec = "POSIX.1-2017 pthread_cond_timedwait() ETIMEDOUT, pthread_condattr_setclock()",
          .desc = "on a shared CLOCK_MONOTONIC condvar a child's 50 ms timedwait fails with ETIMEDOUT after at least 50 ms still owning its errorcheck mutex (relock gives EDEADLK); its next timedwait returns 0 when the coordinator signals")
{
    struct timedwait_shared *s = shared_area(sizeof *s);
    init_mutex(&s->m, PTHREAD_MUTEX_ERRORCHECK, 0);
    init_cond(&s->c, CLOCK_MONOTONIC);
    atomic_store(&s->second_rc, -1);
    struct ipcv_role *r = ipcv_spawn("waiter", time_out_then_wait, &s);
    wait_in_futex_or_done(r, &s->armed, &s->done);
    ipcv_expect_rc(ETIMEDOUT, atomic_load(&s->first_rc));
    ipcv_expect_true(atomic_load(&s->waited) >= TIMEOUT_MS, "timedwait returned after %ld ms, before %d ms",
                     atomic_load(&s->waited), TIMEOUT_MS);
    ipcv_expect_rc(EDEADLK, atomic_load(&s->relock_rc));
    ipcv_expect_eq(0, atomic_load(&s->done));
    SAFE_RC(pthread_mutex_lock(&s->m));
    s->go = 1;
    SAFE_RC(pthread_cond_signal(&s->c));
    SAFE_RC(pthread_mutex_unlock(&s->m));
    ipcv_join(r, IPCV_EXITED(0));
    ipcv_expect_rc(0, atomic_load(&s->second_rc));
    munmap(s, sizeof *s);
}

/* POSIX.1-2017 pthread_cond_destroy(): "It shall be safe to destroy an
 * initialized condition variable upon which no threads are currently
 * blocked"; it returns 0, and the memory can be initialized again
 * (LTP pthread_cond_destroy/2-1). */
IPCV_CASE(pshared, cond_destroy_after_cross_process_use_succeeds,
          .tags = "multi cleanup", .covers = "B438",
          .spec = "POSIX.1-2017 pthread_cond_destroy(), pthread_cond_init()",
          .desc = "after a waiter in another process was signalled and left, pthread_cond_destroy returns 0; the condvar re-initialized in place serves a second process the same way and is destroyed again")
{
    struct cv_shared *s = new_cv();
    for (int round = 0; round < 2; round++) {
        s->go = 0;
        atomic_store(&s->armed[0], 0);
        atomic_store(&s->done[0], 0);
        struct cv_arg a = { s, 0 };
        struct ipcv_role *w = ipcv_spawn("waiter", wait_for_go, &a);
        wait_in_futex_or_done(w, &s->armed[0], &s->done[0]);
        SAFE_RC(pthread_mutex_lock(&s->m));
        s->go = 1;
        SAFE_RC(pthread_cond_signal(&s->c));
        SAFE_RC(pthread_mutex_unlock(&s->m));
        ipcv_join(w, IPCV_EXITED(0));
        ipcv_expect_eq(1, atomic_load(&s->done[0]));
        ipcv_expect_rc(0, pthread_cond_destroy(&s->c));
        if (round == 0)
            init_cond(&s->c, CLOCK_REALTIME);
    }
    ipcv_expect_eq(0, atomic_load(&s->bad));
    munmap(s, sizeof *s);
}

struct remap_shared {
    pthread_mutex_t m;
    pthread_cond_t c;
    int go[2];
    atomic_int armed[2], done[2], bad;
    uintptr_t addr[2];
};

struct remap_arg { char name[64]; int i; };
#define COORD_ADDR (*(uintptr_t *)ipcv_self.page->scratch)

static int wait_at_own_address(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct remap_arg *a = arg;
    /* Drop the mapping inherited from the coordinator: this process maps
     * the object itself, by name, at an address of its own. */
    SAFE(munmap((void *)COORD_ADDR, 4096));
    int fd = SAFE(shm_open(a->name, O_RDWR, 0));
    void *hint = (void *)(COORD_ADDR + ((uintptr_t)(a->i + 1) << 30));
    struct remap_shared *s = SAFE(mmap(hint, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
    close(fd);
    s->addr[a->i] = (uintptr_t)s;
    SAFE_RC(pthread_mutex_lock(&s->m));
    atomic_store(&s->armed[a->i], 1);
    while (!s->go[a->i])
        if (pthread_cond_wait(&s->c, &s->m))
            atomic_fetch_add(&s->bad, 1);
    atomic_store(&s->done[a->i], 1);
    pthread_mutex_unlock(&s->m);
    munmap(s, 4096);
    return 0;
}

/* POSIX.1-2017 pthread_condattr_setpshared(): a process-shared condvar
 * "can be operated upon by any thread that has access to the memory where
 * the condition variable is allocated" — at whatever address each process
 * maps that memory (glibc tst-cond12 with broadcast, tst-cond13 with
 * signal). */
IPCV_CASE(pshared, cond_waiter_mapping_the_object_elsewhere_is_woken,
          .tags = "multi", .covers = "B694",
          .spec = "POSIX.1-2017 pthread_condattr_setpshared(), pthread_cond_signal(), pthread_cond_broadcast()",
          .desc = "processes that map a shm object holding a shared mutex and condvar at other addresses than the coordinator wait on it; the first is woken by pthread_cond_signal, the second by pthread_cond_broadcast")
{
    struct remap_arg a[2];
    for (int i = 0; i < 2; i++) {
        snprintf(a[i].name, sizeof a[i].name, "%s", ipcv_name("remap"));
        a[i].i = i;
    }
    int fd = SAFE(shm_open(a[0].name, O_CREAT | O_EXCL | O_RDWR, 0600));
    SAFE(ftruncate(fd, 4096));
    struct remap_shared *s = SAFE(mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
    close(fd);
    init_mutex(&s->m, PTHREAD_MUTEX_NORMAL, 0);
    init_cond(&s->c, CLOCK_REALTIME);
    COORD_ADDR = (uintptr_t)s;
    static const char *who[2] = { "signalled", "broadcast" };
    struct ipcv_role *w[2];
    for (int i = 0; i < 2; i++) {
        w[i] = ipcv_spawn(who[i], wait_at_own_address, &a[i]);
        wait_in_futex_or_done(w[i], &s->armed[i], &s->done[i]);
        ipcv_expect_eq(0, atomic_load(&s->done[i]));
        SAFE_RC(pthread_mutex_lock(&s->m));
        s->go[i] = 1;
        SAFE_RC(i == 0 ? pthread_cond_signal(&s->c) : pthread_cond_broadcast(&s->c));
        SAFE_RC(pthread_mutex_unlock(&s->m));
        ipcv_join(w[i], IPCV_EXITED(0));
        if (!atomic_load(&s->done[i]))
            break;                  /* not woken: the next round would hang too */
        ipcv_expect_ne((uintptr_t)s, s->addr[i]);
    }
    ipcv_expect_eq(0, atomic_load(&s->bad));
    munmap(s, 4096);
    SAFE(shm_unlink(a[0].name));
}

#define PRODUCERS 2
#define CONSUMERS 2
#define ITEMS 400
#define CAPACITY 4

struct queue_shared {
    pthread_mutex_t m;
    pthread_cond_t not_full, not_empty;
    unsigned buf[CAPACITY];
    int head, tail, count, producers_done;
    atomic_int seen[PRODUCERS][ITEMS];
    atomic_int out_of_order, bad;
};

struct queue_arg { struct queue_shared *s; int i; };

static int produce(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct queue_arg *a = arg;
    struct queue_shared *s = a->s;
    ipcv_checkpoint_wait(0, 1);
    for (unsigned seq = 0; seq < ITEMS; seq++) {
        pthread_mutex_lock(&s->m);
        while (s->count == CAPACITY)
            if (pthread_cond_wait(&s->not_full, &s->m))
                atomic_fetch_add(&s->bad, 1);
        s->buf[s->tail] = (unsigned)a->i << 16 | seq;
        s->tail = (s->tail + 1) % CAPACITY;
        s->count++;
        pthread_cond_signal(&s->not_empty);
        pthread_mutex_unlock(&s->m);
    }
    pthread_mutex_lock(&s->m);
    s->producers_done++;
    pthread_cond_broadcast(&s->not_empty);
    pthread_mutex_unlock(&s->m);
    return 0;
}

static int consume(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct queue_arg *a = arg;
    struct queue_shared *s = a->s;
    int last[PRODUCERS];
    for (int p = 0; p < PRODUCERS; p++)
        last[p] = -1;
    ipcv_checkpoint_wait(0, 1);
    for (;;) {
        pthread_mutex_lock(&s->m);
        while (s->count == 0 && s->producers_done < PRODUCERS)
            if (pthread_cond_wait(&s->not_empty, &s->m))
                atomic_fetch_add(&s->bad, 1);
        if (s->count == 0) {
            pthread_mutex_unlock(&s->m);
            break;
        }
        unsigned item = s->buf[s->head];
        s->head = (s->head + 1) % CAPACITY;
        s->count--;
        pthread_cond_signal(&s->not_full);
        pthread_mutex_unlock(&s->m);
        unsigned p = item >> 16, seq = item & 0xffff;
        if (p >= PRODUCERS || seq >= ITEMS) {
            atomic_fetch_add(&s->bad, 1);
            continue;
        }
        atomic_fetch_add(&s->seen[p][seq], 1);
        if ((int)seq <= last[p])
            atomic_fetch_add(&s->out_of_order, 1);
        last[p] = (int)seq;
    }
    return 0;
}

/* POSIX.1-2017 pthread_cond_wait(), pthread_cond_signal(),
 * pthread_cond_broadcast() with PTHREAD_PROCESS_SHARED: a bounded queue in
 * shared memory between producer and consumer processes loses nothing,
 * duplicates nothing, and keeps each producer's order. */
IPCV_CASE(pshared, cond_bounded_queue_delivers_each_item_once_in_order,
          .tags = "sync", .covers = "B434 B435 B436",
          .spec = "POSIX.1-2017 pthread_cond_wait(), pthread_cond_signal(), pthread_cond_broadcast()",
          .desc = "2 producer and 2 consumer processes pass 800 items through a 4-slot queue guarded by a shared mutex and two shared condvars: every item arrives exactly once, each consumer sees each producer's items in order")
{
    struct queue_shared *s = shared_area(sizeof *s);
    init_mutex(&s->m, PTHREAD_MUTEX_NORMAL, 0);
    init_cond(&s->not_full, CLOCK_REALTIME);
    init_cond(&s->not_empty, CLOCK_REALTIME);
    struct queue_arg a[PRODUCERS + CONSUMERS];
    struct ipcv_role *r[PRODUCERS + CONSUMERS];
    for (int i = 0; i < PRODUCERS + CONSUMERS; i++) {
        a[i] = (struct queue_arg){ s, i < PRODUCERS ? i : i - PRODUCERS };
        r[i] = ipcv_spawn(i < PRODUCERS ? "producer" : "consumer", i < PRODUCERS ? produce : consume, &a[i]);
    }
    ipcv_checkpoint_signal(0);
    for (int i = 0; i < PRODUCERS + CONSUMERS; i++)
        ipcv_join(r[i], IPCV_EXITED(0));
    int missing = 0, duplicated = 0;
    for (int p = 0; p < PRODUCERS; p++)
        for (int q = 0; q < ITEMS; q++) {
            int n = atomic_load(&s->seen[p][q]);
            missing += n == 0;
            duplicated += n > 1;
        }
    ipcv_expect_eq(0, missing);
    ipcv_expect_eq(0, duplicated);
    ipcv_expect_eq(0, atomic_load(&s->out_of_order));
    ipcv_expect_eq(0, atomic_load(&s->bad));
    munmap(s, sizeof *s);
}

/* ---- barriers ----------------------------------------------------- */

#define BARRIER_PARTIES 4
#define BARRIER_ROUNDS 300

struct barrier_shared {
    pthread_barrier_t b;
    atomic_int arrived[BARRIER_ROUNDS], serial[BARRIER_ROUNDS];
    atomic_int early, bad;
};

static int barrier_party(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct barrier_shared *s = *(struct barrier_shared **)arg;
    for (int r = 0; r < BARRIER_ROUNDS; r++) {
        atomic_fetch_add(&s->arrived[r], 1);
        int rc = pthread_barrier_wait(&s->b);
        if (rc == PTHREAD_BARRIER_SERIAL_THREAD)
            atomic_fetch_add(&s->serial[r], 1);
        else if (rc != 0)
            atomic_fetch_add(&s->bad, 1);
        /* Nobody leaves a round before all parties arrived in it. */
        if (atomic_load(&s->arrived[r]) != BARRIER_PARTIES)
            atomic_fetch_add(&s->early, 1);
    }
    return 0;
}

/* POSIX.1-2017 pthread_barrier_wait(): "the calling thread shall block
 * until the required number of threads have called pthread_barrier_wait()
 * ... Upon successful completion, ... shall return
 * PTHREAD_BARRIER_SERIAL_THREAD for a single (arbitrary) thread
 * synchronized at the barrier and zero for each of the other threads";
 * with PTHREAD_PROCESS_SHARED the threads are in several processes (glibc
 * tst-barrier2, LTP pthread_barrierattr_getpshared/2-1). */
IPCV_CASE(pshared, barrier_rounds_release_all_parties_with_one_serial_each,
          .tags = "sync", .covers = "B401 B695",
          .spec = "POSIX.1-2017 pthread_barrier_wait(), pthread_barrierattr_setpshared()",
          .desc = "4 processes pass a shared barrier of count 4 300 times: nobody leaves a round before all 4 arrived, and each round has exactly one PTHREAD_BARRIER_SERIAL_THREAD")
{
    struct barrier_shared *s = shared_area(sizeof *s);
    pthread_barrierattr_t a;
    SAFE_RC(pthread_barrierattr_init(&a));
    SAFE_RC(pthread_barrierattr_setpshared(&a, PTHREAD_PROCESS_SHARED));
    SAFE_RC(pthread_barrier_init(&s->b, &a, BARRIER_PARTIES));
    pthread_barrierattr_destroy(&a);
    struct ipcv_role *r[BARRIER_PARTIES];
    for (int i = 0; i < BARRIER_PARTIES; i++)
        r[i] = ipcv_spawn("party", barrier_party, &s);
    for (int i = 0; i < BARRIER_PARTIES; i++)
        ipcv_join(r[i], IPCV_EXITED(0));
    int wrong = 0;
    for (int k = 0; k < BARRIER_ROUNDS; k++)
        if (atomic_load(&s->serial[k]) != 1 && wrong++ == 0)
            ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "round %d: %d serial threads, expected exactly 1",
                        k, atomic_load(&s->serial[k]));
    ipcv_expect_eq(0, wrong);
    ipcv_expect_eq(0, atomic_load(&s->early));
    ipcv_expect_eq(0, atomic_load(&s->bad));
    pthread_barrier_destroy(&s->b);
    munmap(s, sizeof *s);
}

/* ---- signal handlers during a wait -------------------------------- */

struct intr_shared {
    pthread_mutex_t m;
    pthread_cond_t c;
    pthread_rwlock_t l;
    int go;
    atomic_int armed, done, rc, handled, bad, returns;
};

static atomic_int *handled_counter;

static void count_signal(int sig)
{
    (void)sig;
    atomic_fetch_add(handled_counter, 1);
}

/* No SA_RESTART: whatever the call does after the handler is its own
 * behaviour, not the restart flag's. */
static void catch_sigusr1(atomic_int *counter)
{
    handled_counter = counter;
    struct sigaction sa = { .sa_handler = count_signal };
    sigemptyset(&sa.sa_mask);
    SAFE(sigaction(SIGUSR1, &sa, NULL));
}

static int lock_through_signal(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct intr_shared *s = *(struct intr_shared **)arg;
    catch_sigusr1(&s->handled);
    atomic_store(&s->armed, 1);
    int rc = pthread_mutex_lock(&s->m);
    atomic_store(&s->rc, rc);
    atomic_store(&s->done, 1);
    if (rc == 0)
        pthread_mutex_unlock(&s->m);
    return 0;
}

static int wrlock_through_signal(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct intr_shared *s = *(struct intr_shared **)arg;
    catch_sigusr1(&s->handled);
    atomic_store(&s->armed, 1);
    int rc = pthread_rwlock_wrlock(&s->l);
    atomic_store(&s->rc, rc);
    atomic_store(&s->done, 1);
    if (rc == 0)
        pthread_rwlock_unlock(&s->l);
    return 0;
}

static int cond_wait_through_signal(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct intr_shared *s = *(struct intr_shared **)arg;
    catch_sigusr1(&s->handled);
    SAFE_RC(pthread_mutex_lock(&s->m));
    atomic_store(&s->armed, 1);
    while (!s->go) {
        int rc = pthread_cond_wait(&s->c, &s->m);
        atomic_fetch_add(&s->returns, 1);
        if (rc) {
            atomic_store(&s->rc, rc);
            atomic_fetch_add(&s->bad, 1);
        }
    }
    atomic_store(&s->done, 1);
    pthread_mutex_unlock(&s->m);
    return 0;
}

/* Send SIGUSR1 to a role sleeping in a futex and wait until its handler
 * ran and it sleeps again (or has returned). */
static void interrupt_once(struct ipcv_role *r, struct intr_shared *s)
{
    wait_in_futex_or_done(r, &s->armed, &s->done);
    ipcv_expect_eq(0, atomic_load(&s->done));
    SAFE(kill(ipcv_role_pid(r), SIGUSR1));
    if (!ipcv_poll_until(flag_set, &s->handled, ipcv_wait_bound()))
        ipcv_brk(__FILE__, __LINE__, "the SIGUSR1 handler did not run");
    wait_in_futex_or_done(r, &s->armed, &s->done);
}

static struct intr_shared *new_intr(void)
{
    struct intr_shared *s = shared_area(sizeof *s);
    init_mutex(&s->m, PTHREAD_MUTEX_NORMAL, 0);
    init_cond(&s->c, CLOCK_REALTIME);
    init_rwlock(&s->l);
    atomic_store(&s->rc, -1);
    return s;
}

/* POSIX.1-2017 pthread_mutex_lock(): "If a signal is delivered to a
 * thread waiting for a mutex, upon return from the signal handler the
 * thread shall resume waiting for the mutex as if it was not interrupted"
 * and "These functions shall not return an error code of [EINTR]". */
IPCV_CASE(pshared, mutex_lock_resumes_waiting_after_a_signal_handler,
          .tags = "multi",
          .spec = "POSIX.1-2017 pthread_mutex_lock() (signals, no EINTR)",
          .desc = "a child waiting for a shared mutex held by the coordinator runs a SIGUSR1 handler (no SA_RESTART), goes back to sleep without returning, and gets the mutex with 0 once it is unlocked")
{
    struct intr_shared *s = new_intr();
    SAFE_RC(pthread_mutex_lock(&s->m));
    struct ipcv_role *r = ipcv_spawn("waiter", lock_through_signal, &s);
    interrupt_once(r, s);
    ipcv_expect_eq(0, atomic_load(&s->done));
    SAFE_RC(pthread_mutex_unlock(&s->m));
    ipcv_join(r, IPCV_EXITED(0));
    ipcv_expect_rc(0, atomic_load(&s->rc));
    ipcv_expect_eq(1, atomic_load(&s->handled));
    munmap(s, sizeof *s);
}

/* POSIX.1-2017 pthread_rwlock_wrlock(): "If a signal is delivered to a
 * thread waiting for a read-write lock for writing, upon return from the
 * signal handler the thread resumes waiting for the read-write lock for
 * writing as if it was not interrupted"; no [EINTR]. */
IPCV_CASE(pshared, rwlock_wrlock_resumes_waiting_after_a_signal_handler,
          .tags = "multi", .covers = "B404",
          .spec = "POSIX.1-2017 pthread_rwlock_wrlock() (signals, no EINTR)",
          .desc = "a child waiting to write-lock a shared rwlock read-held by the coordinator runs a SIGUSR1 handler, goes back to sleep without returning, and gets the lock with 0 once it is released")
{
    struct intr_shared *s = new_intr();
    SAFE_RC(pthread_rwlock_rdlock(&s->l));
    struct ipcv_role *r = ipcv_spawn("writer", wrlock_through_signal, &s);
    interrupt_once(r, s);
    ipcv_expect_eq(0, atomic_load(&s->done));
    SAFE_RC(pthread_rwlock_unlock(&s->l));
    ipcv_join(r, IPCV_EXITED(0));
    ipcv_expect_rc(0, atomic_load(&s->rc));
    munmap(s, sizeof *s);
}

/* POSIX.1-2017 pthread_cond_wait(): "If a signal is delivered to a thread
 * waiting for a condition variable, upon return from the signal handler
 * the thread resumes waiting for the condition variable as if it was not
 * interrupted, or it shall return zero due to spurious wakeup"; "These
 * functions shall not return an error code of [EINTR]." */
IPCV_CASE(pshared, cond_wait_returns_zero_or_resumes_after_a_signal_handler,
          .tags = "multi", .covers = "B436",
          .spec = "POSIX.1-2017 pthread_cond_wait() (signals, no EINTR)",
          .desc = "a child in pthread_cond_wait on a shared condvar runs a SIGUSR1 handler and is asleep again (after at most a spurious 0); every return is 0 and the final signal ends its wait")
{
    struct intr_shared *s = new_intr();
    struct ipcv_role *r = ipcv_spawn("waiter", cond_wait_through_signal, &s);
    interrupt_once(r, s);
    ipcv_expect_eq(0, atomic_load(&s->done));
    ipcv_expect_eq(0, atomic_load(&s->bad));
    SAFE_RC(pthread_mutex_lock(&s->m));
    s->go = 1;
    SAFE_RC(pthread_cond_signal(&s->c));
    SAFE_RC(pthread_mutex_unlock(&s->m));
    ipcv_join(r, IPCV_EXITED(0));
    if (atomic_load(&s->bad))
        ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "pthread_cond_wait returned %s", ipcv_errname(atomic_load(&s->rc)));
    munmap(s, sizeof *s);
}
