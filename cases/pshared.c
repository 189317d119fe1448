/* Process-shared pthread objects, the attribute side: the pshared
 * attribute of mutexes, condition variables, barriers and rwlocks, the
 * PRIO_PROTECT protocol, and process-shared spinlocks. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ipcvet.h"

/* Memory shared by the coordinator and every role started afterwards. */
static void *shared_area(size_t size)
{
    return SAFE(mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
}

/* One attribute type seen through the same three calls. */
struct attr_ops {
    const char *what;
    int (*init)(void *);
    int (*destroy)(void *);
    int (*set)(void *, int);
    int (*get)(const void *, int *);
};

#define ATTR_OPS(kind)                                                        \
    { #kind,                                                                  \
      (int (*)(void *))pthread_##kind##_init,                                 \
      (int (*)(void *))pthread_##kind##_destroy,                              \
      (int (*)(void *, int))pthread_##kind##_setpshared,                      \
      (int (*)(const void *, int *))pthread_##kind##_getpshared }

static const struct attr_ops attr_ops[] = {
    ATTR_OPS(mutexattr), ATTR_OPS(condattr), ATTR_OPS(barrierattr), ATTR_OPS(rwlockattr),
};

union any_attr {
    pthread_mutexattr_t m;
    pthread_condattr_t c;
    pthread_barrierattr_t b;
    pthread_rwlockattr_t r;
};

/* The attribute starts PTHREAD_PROCESS_PRIVATE; setpshared returns 0 and
 * getpshared returns what was last set. */
static void check_default_and_readback(const struct attr_ops *ops)
{
    union any_attr a;
    SAFE_RC(ops->init(&a));
    int v = -1;
    ipcv_expect_rc(0, ops->get(&a, &v));
    if (v != PTHREAD_PROCESS_PRIVATE)
        ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "%s: default is %d, not PTHREAD_PROCESS_PRIVATE", ops->what, v);
    ipcv_expect_rc(0, ops->set(&a, PTHREAD_PROCESS_SHARED));
    v = -1;
    ipcv_expect_rc(0, ops->get(&a, &v));
    if (v != PTHREAD_PROCESS_SHARED)
        ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "%s: after set SHARED get gives %d", ops->what, v);
    ipcv_expect_rc(0, ops->set(&a, PTHREAD_PROCESS_PRIVATE));
    v = -1;
    ipcv_expect_rc(0, ops->get(&a, &v));
    if (v != PTHREAD_PROCESS_PRIVATE)
        ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "%s: after set PRIVATE get gives %d", ops->what, v);
    ops->destroy(&a);
}

/* POSIX.1-2017 pthread_mutexattr_getpshared(): "The default value of the
 * attribute shall be PTHREAD_PROCESS_PRIVATE"; set "shall return zero" and
 * get "shall return the value of the process-shared attribute". */
IPCV_CASE(pshared, mutexattr_pshared_defaults_private_and_reads_back,
          .tags = "api", .covers = "B389 B390 B392 B698",
          .spec = "POSIX.1-2017 pthread_mutexattr_getpshared(), pthread_mutexattr_setpshared()",
          .desc = "a new mutex attribute is PTHREAD_PROCESS_PRIVATE; setting SHARED then PRIVATE returns 0 and reads back each value")
{
    check_default_and_readback(&attr_ops[0]);
}

/* POSIX.1-2017 pthread_condattr_getpshared(): default PRIVATE, readback. */
IPCV_CASE(pshared, condattr_pshared_defaults_private_and_reads_back,
          .tags = "api", .covers = "B394 B396 B397 B698",
          .spec = "POSIX.1-2017 pthread_condattr_getpshared(), pthread_condattr_setpshared()",
          .desc = "a new condition variable attribute is PTHREAD_PROCESS_PRIVATE; setting SHARED then PRIVATE returns 0 and reads back each value")
{
    check_default_and_readback(&attr_ops[1]);
}

/* POSIX.1-2017 pthread_barrierattr_getpshared(): default PRIVATE, readback. */
IPCV_CASE(pshared, barrierattr_pshared_defaults_private_and_reads_back,
          .tags = "api", .covers = "B398 B400 B698",
          .spec = "POSIX.1-2017 pthread_barrierattr_getpshared(), pthread_barrierattr_setpshared()",
          .desc = "a new barrier attribute is PTHREAD_PROCESS_PRIVATE; setting SHARED then PRIVATE returns 0 and reads back each value")
{
    check_default_and_readback(&attr_ops[2]);
}

/* POSIX.1-2017 pthread_rwlockattr_getpshared(): default PRIVATE, readback. */
IPCV_CASE(pshared, rwlockattr_pshared_defaults_private_and_reads_back,
          .tags = "api", .covers = "B402 B403 B405 B698",
          .spec = "POSIX.1-2017 pthread_rwlockattr_getpshared(), pthread_rwlockattr_setpshared()",
          .desc = "a new rwlock attribute is PTHREAD_PROCESS_PRIVATE; setting SHARED then PRIVATE returns 0 and reads back each value")
{
    check_default_and_readback(&attr_ops[3]);
}

/* POSIX.1-2017 pthread_*attr_setpshared(): [EINVAL] "The new value
 * specified for the attribute is outside the range of legal values for
 * that attribute" — and a rejected value changes nothing. */
IPCV_CASE(pshared, setpshared_rejects_unknown_values_with_einval,
          .tags = "api", .covers = "B391 B395 B399",
          .spec = "POSIX.1-2017 pthread_mutexattr_setpshared(), pthread_condattr_setpshared(), pthread_barrierattr_setpshared(), pthread_rwlockattr_setpshared() EINVAL",
          .desc = "for the mutex, condvar, barrier and rwlock attributes, setpshared with 2, -1 and 42 fails with EINVAL and the attribute stays PTHREAD_PROCESS_SHARED")
{
    static const int bad[] = { 2, -1, 42 };
    for (size_t i = 0; i < sizeof attr_ops / sizeof attr_ops[0]; i++) {
        union any_attr a;
        SAFE_RC(attr_ops[i].init(&a));
        SAFE_RC(attr_ops[i].set(&a, PTHREAD_PROCESS_SHARED));
        for (size_t j = 0; j < sizeof bad / sizeof bad[0]; j++) {
            int rc = attr_ops[i].set(&a, bad[j]);
            if (rc != EINVAL)
                ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "%s_setpshared(%d): expected EINVAL, seen %s",
                            attr_ops[i].what, bad[j], ipcv_errname(rc));
        }
        int v = -1;
        ipcv_expect_rc(0, attr_ops[i].get(&a, &v));
        if (v != PTHREAD_PROCESS_SHARED)
            ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "%s: a rejected value changed the attribute to %d",
                        attr_ops[i].what, v);
        attr_ops[i].destroy(&a);
    }
}

struct pp_shared { pthread_mutex_t m; int lock_rc, unlock_rc, above_rc; };

static int lock_pp_mutex(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct pp_shared *s = *(struct pp_shared **)arg;
    /* glibc raises the locker to the ceiling with sched_setscheduler, which
     * a SCHED_OTHER thread cannot be given: lock as SCHED_FIFO (set through
     * pthread_setschedparam, whose value glibc keeps for the check). */
    int low = sched_get_priority_min(SCHED_FIFO);
    struct sched_param sp = { .sched_priority = low };
    int rc = pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);
    if (rc)
        ipcv_skip("cannot switch to SCHED_FIFO: %s", ipcv_errname(rc));
    s->lock_rc = pthread_mutex_lock(&s->m);
    if (s->lock_rc == 0)
        s->unlock_rc = pthread_mutex_unlock(&s->m);
    /* Above the ceiling the lock is refused. */
    sp.sched_priority = low + 1;
    SAFE_RC(pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp));
    s->above_rc = pthread_mutex_lock(&s->m);
    if (s->above_rc == 0)
        pthread_mutex_unlock(&s->m);
    return 0;
}

/* POSIX.1-2017 pthread_mutexattr_setprotocol(): PTHREAD_PRIO_PROTECT is a
 * valid protocol (Thread Priority Protection option); glibc supports it,
 * musl fails with ENOTSUP. pthread_mutex_lock(): [EINVAL] "the calling
 * thread's priority is higher than the mutex's current priority ceiling". */
IPCV_CASE(pshared, mutexattr_prio_protect_is_supported,
          .tags = "api multi", .covers = "B748",
          .spec = "POSIX.1-2017 pthread_mutexattr_setprotocol(), pthread_mutexattr_setprioceiling(), pthread_mutex_lock() EINVAL",
          .desc = "setprotocol(PTHREAD_PRIO_PROTECT) returns 0 and reads back; another process at the lowest SCHED_FIFO priority locks and unlocks a pshared PRIO_PROTECT mutex with that ceiling, and one priority higher gets EINVAL")
{
    pthread_mutexattr_t a;
    SAFE_RC(pthread_mutexattr_init(&a));
    ipcv_expect_rc(0, pthread_mutexattr_setprotocol(&a, PTHREAD_PRIO_PROTECT));
    int proto = -1;
    ipcv_expect_rc(0, pthread_mutexattr_getprotocol(&a, &proto));
    ipcv_expect_eq(PTHREAD_PRIO_PROTECT, proto);
    int ceiling = sched_get_priority_min(SCHED_FIFO);
    ipcv_expect_rc(0, pthread_mutexattr_setprioceiling(&a, ceiling));
    SAFE_RC(pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED));
    struct pp_shared *s = shared_area(sizeof *s);
    if (proto == PTHREAD_PRIO_PROTECT) {
        SAFE_RC(pthread_mutex_init(&s->m, &a));
        s->lock_rc = s->unlock_rc = s->above_rc = -1;
        struct ipcv_role *r = ipcv_spawn("locker", lock_pp_mutex, &s);
        int st = ipcv_join(r, IPCV_EXITED(0));
        if (WIFEXITED(st) && WEXITSTATUS(st) == IPCV_ROLE_SKIP) {
            pthread_mutexattr_destroy(&a);
            munmap(s, sizeof *s);
            return;
        }
        ipcv_expect_rc(0, s->lock_rc);
        ipcv_expect_rc(0, s->unlock_rc);
        ipcv_expect_rc(EINVAL, s->above_rc);
        int now = -1;
        ipcv_expect_rc(0, pthread_mutex_getprioceiling(&s->m, &now));
        ipcv_expect_eq(ceiling, now);
        pthread_mutex_destroy(&s->m);
    }
    pthread_mutexattr_destroy(&a);
    munmap(s, sizeof *s);
}

struct spin_shared {
    pthread_spinlock_t lock;
    atomic_int busy_rc, free_rc;
};

static int try_spin_twice(struct ipcv_role *self, void *arg)
{
    struct spin_shared *s = *(struct spin_shared **)arg;
    atomic_store(&s->busy_rc, pthread_spin_trylock(&s->lock));
    ipcv_ready(self);
    ipcv_await_release(self);               /* the coordinator unlocked */
    int rc = pthread_spin_trylock(&s->lock);
    atomic_store(&s->free_rc, rc);
    if (rc == 0)
        pthread_spin_unlock(&s->lock);
    return 0;
}

/* POSIX.1-2017 pthread_spin_init(): with PTHREAD_PROCESS_SHARED "the spin
 * lock can be operated upon by any thread that has access to the memory
 * where the spin lock is allocated, even if it is allocated in memory that
 * is shared by multiple processes"; pthread_spin_trylock(): [EBUSY] "A
 * thread currently holds the lock." */
IPCV_CASE(pshared, pshared_spinlock_held_in_one_process_is_busy_in_another,
          .tags = "multi", .covers = "B406 B407 B697",
          .spec = "POSIX.1-2017 pthread_spin_init(), pthread_spin_trylock()",
          .desc = "a PTHREAD_PROCESS_SHARED spinlock in MAP_SHARED memory held by the coordinator makes a child's trylock fail with EBUSY; once unlocked the child's trylock succeeds")
{
    struct spin_shared *s = shared_area(sizeof *s);
    ipcv_expect_rc(0, pthread_spin_init(&s->lock, PTHREAD_PROCESS_SHARED));
    SAFE_RC(pthread_spin_lock(&s->lock));
    atomic_store(&s->busy_rc, -1);
    atomic_store(&s->free_rc, -1);
    struct ipcv_role *r = ipcv_spawn("trier", try_spin_twice, &s);
    ipcv_wait_ready(r);
    ipcv_expect_rc(EBUSY, atomic_load(&s->busy_rc));
    SAFE_RC(pthread_spin_unlock(&s->lock));
    ipcv_release(r);
    ipcv_join(r, IPCV_EXITED(0));
    ipcv_expect_rc(0, atomic_load(&s->free_rc));
    pthread_spin_destroy(&s->lock);
    munmap(s, sizeof *s);
}

static int hold_spin(struct ipcv_role *self, void *arg)
{
    struct spin_shared *s = *(struct spin_shared **)arg;
    atomic_store(&s->free_rc, pthread_spin_trylock(&s->lock));
    ipcv_ready(self);
    ipcv_await_release(self);
    pthread_spin_unlock(&s->lock);
    return 0;
}

/* POSIX.1-2017 pthread_spin_init(): "may fail if: [EBUSY] The
 * implementation has detected an attempt to initialize or destroy a spin
 * lock while it is in use"; glibc does not detect it and re-initializes.
 * Either way the lock must work across processes afterwards. */
IPCV_CASE(pshared, spin_init_of_a_held_spinlock_gives_zero_or_ebusy,
          .tags = "multi", .covers = "B408",
          .spec = "POSIX.1-2017 pthread_spin_init() EBUSY (optional)",
          .desc = "pthread_spin_init(PTHREAD_PROCESS_SHARED) on a held spinlock returns 0 or EBUSY; if 0 the lock is free, a child takes it and the coordinator's trylock then fails with EBUSY")
{
    struct spin_shared *s = shared_area(sizeof *s);
    SAFE_RC(pthread_spin_init(&s->lock, PTHREAD_PROCESS_SHARED));
    SAFE_RC(pthread_spin_lock(&s->lock));
    int rc = pthread_spin_init(&s->lock, PTHREAD_PROCESS_SHARED);
    ipcv_expect_true(rc == 0 || rc == EBUSY, "pthread_spin_init on a held lock: %s", ipcv_errname(rc));
    if (rc == EBUSY)
        pthread_spin_unlock(&s->lock);
    atomic_store(&s->free_rc, -1);
    struct ipcv_role *r = ipcv_spawn("holder", hold_spin, &s);
    ipcv_wait_ready(r);
    ipcv_expect_rc(0, atomic_load(&s->free_rc));
    ipcv_expect_rc(EBUSY, pthread_spin_trylock(&s->lock));
    ipcv_release(r);
    ipcv_join(r, IPCV_EXITED(0));
    ipcv_expect_rc(0, pthread_spin_trylock(&s->lock));
    pthread_spin_unlock(&s->lock);
    pthread_spin_destroy(&s->lock);
    munmap(s, sizeof *s);
}
