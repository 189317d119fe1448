/* POSIX semaphores: sem_wait, sem_trywait, sem_timedwait, sem_clockwait,
 * sem_post and sem_getvalue. A process blocked in sem_wait sleeps in the
 * futex syscall. Semaphores shared with roles are pshared ones in a
 * MAP_SHARED page. */
#define _GNU_SOURCE
#include <limits.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "ipcvet.h"

static int value_of(sem_t *s)
{
    int v = -12345;
    SAFE(sem_getvalue(s, &v));
    return v;
}

static sem_t *shared_sem(unsigned value)
{
    sem_t *s = SAFE(mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
    SAFE(sem_init(s, 1, value));
    return s;
}

static void drop_shared_sem(sem_t *s)
{
    SAFE(sem_destroy(s));
    SAFE(munmap(s, 4096));
}

static struct timespec after_ns(clockid_t clock, long ns)
{
    struct timespec t;
    clock_gettime(clock, &t);
    t.tv_nsec += ns % 1000000000;
    t.tv_sec += ns / 1000000000 + t.tv_nsec / 1000000000;
    t.tv_nsec %= 1000000000;
    return t;
}

static double seconds_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (t1.tv_nsec - t0->tv_nsec) / 1e9;
}


/* sem_wait(3): decrements the semaphore if its value is greater than
 * zero and returns at once; sem_trywait(3) likewise. */
IPCV_CASE(posix_sem, sem_wait_and_sem_trywait_decrement_an_unlocked_semaphore,
          .tags = "api", .covers = "B331 B335",
          .spec = "sem_wait(3); sem_trywait(3)",
          .desc = "on a semaphore at 2, sem_wait returns 0 leaving 1 and sem_trywait returns 0 leaving 0")
{
    sem_t s;
    SAFE(sem_init(&s, 0, 2));
    ipcv_expect_eq(0, sem_wait(&s));
    ipcv_expect_eq(1, value_of(&s));
    ipcv_expect_eq(0, sem_trywait(&s));
    ipcv_expect_eq(0, value_of(&s));
    SAFE(sem_destroy(&s));
}

/* sem_trywait(3) EAGAIN: the decrement could not be performed at once. */
IPCV_CASE(posix_sem, sem_trywait_on_zero_fails_eagain,
          .tags = "api", .covers = "B333 B336 B655",
          .spec = "sem_trywait(3) EAGAIN",
          .desc = "sem_trywait on a semaphore at 0 returns -1 with EAGAIN, twice, and the value stays 0")
{
    sem_t s;
    SAFE(sem_init(&s, 0, 0));
    ipcv_expect_fail(EAGAIN, sem_trywait(&s));
    ipcv_expect_fail(EAGAIN, sem_trywait(&s));
    ipcv_expect_eq(0, value_of(&s));
    SAFE(sem_destroy(&s));
}

static int wait_once(struct ipcv_role *self, void *arg)
{
    sem_t *s = *(sem_t **)arg;
    ipcv_ready(self);
    ipcv_expect_eq(0, sem_wait(s));
    atomic_fetch_add((atomic_int *)ipcv_self.page->scratch, 1);
    return 0;
}

/* sem_wait(3): if the value is zero, the call blocks until it becomes
 * possible to decrement (a post) or a signal handler interrupts it. */
IPCV_CASE(posix_sem, sem_wait_on_zero_blocks_until_another_process_posts,
          .tags = "multi", .covers = "B332 B337 B656",
          .spec = "sem_wait(3)",
          .desc = "a process's sem_wait on a pshared semaphore at 0 sleeps in futex with the value still 0; the coordinator's sem_post lets it return 0 and the value is 0 again")
{
    sem_t *s = shared_sem(0);
    struct ipcv_role *r = ipcv_spawn("waiter", wait_once, &s);
    ipcv_wait_ready(r);
    ipcv_wait_blocked(r, "futex");
    ipcv_expect_eq(0, value_of(s));
    ipcv_expect_eq(0, sem_post(s));
    ipcv_join(r, IPCV_EXITED(0));
    ipcv_expect_eq(0, value_of(s));
    drop_shared_sem(s);
}

static int count_is(void *arg)
{
    int *want = arg;
    return atomic_load((atomic_int *)ipcv_self.page->scratch) == *want;
}

/* sem_post(3): increments the semaphore; if that makes it greater than
 * zero, one blocked waiter is woken and takes it. Each post returns 0. */
IPCV_CASE(posix_sem, sem_post_lets_exactly_one_waiter_through_per_post,
          .tags = "multi", .covers = "B347 B348 B349",
          .spec = "sem_post(3); POSIX.1-2017 sem_post()",
          .desc = "with two processes blocked on a semaphore at 0, one sem_post returns 0 and releases exactly one (the other still sleeps, value 0); a second post releases the other")
{
    sem_t *s = shared_sem(0);
    struct ipcv_role *r[2] = { ipcv_spawn("waiter0", wait_once, &s),
                               ipcv_spawn("waiter1", wait_once, &s) };
    for (int i = 0; i < 2; i++) {
        ipcv_wait_ready(r[i]);
        ipcv_wait_blocked(r[i], "futex");
    }
    ipcv_expect_eq(0, sem_post(s));
    int one = 1, two = 2;
    ipcv_expect_true(ipcv_poll_until(count_is, &one, ipcv_wait_bound()),
                     "no waiter returned after a post");
    ipcv_expect_eq(0, value_of(s));
    int still = ipcv_role_asleep_in(r[0], SYS_futex) + ipcv_role_asleep_in(r[1], SYS_futex);
    ipcv_expect_eq(1, still);
    ipcv_expect_eq(1, atomic_load((atomic_int *)ipcv_self.page->scratch));
    ipcv_expect_eq(0, sem_post(s));
    ipcv_expect_true(ipcv_poll_until(count_is, &two, ipcv_wait_bound()),
                     "the second waiter did not return after the second post");
    ipcv_join(r[0], IPCV_EXITED(0));
    ipcv_join(r[1], IPCV_EXITED(0));
    ipcv_expect_eq(0, value_of(s));
    drop_shared_sem(s);
}

/* sem_timedwait(3): if the decrement can be performed at once, the
 * timeout is not looked at (POSIX: "shall not fail with a timeout if the
 * semaphore can be locked immediately"). */
IPCV_CASE(posix_sem, sem_timedwait_takes_a_free_semaphore_even_past_its_deadline,
          .tags = "api", .covers = "B338 B346",
          .spec = "sem_timedwait(3); POSIX.1-2017 sem_timedwait()",
          .desc = "on a semaphore at 2, sem_timedwait with a deadline in 1970 and with one a second ahead both return 0, leaving 0")
{
    sem_t s;
    SAFE(sem_init(&s, 0, 2));
    struct timespec past = { 0, 0 }, ahead = after_ns(CLOCK_REALTIME, 1000000000L);
    ipcv_expect_eq(0, sem_timedwait(&s, &past));
    ipcv_expect_eq(0, sem_timedwait(&s, &ahead));
    ipcv_expect_eq(0, value_of(&s));
    SAFE(sem_destroy(&s));
}

static int timedwait_for_post(struct ipcv_role *self, void *arg)
{
    sem_t *s = *(sem_t **)arg;
    struct timespec deadline = after_ns(CLOCK_REALTIME, 5000000000L), t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ipcv_ready(self);
    ipcv_expect_eq(0, sem_timedwait(s, &deadline));
    double waited = seconds_since(&t0);
    ipcv_expect_true(waited < 4.5, "sem_timedwait returned after %.2f s, at its deadline", waited);
    return 0;
}

/* sem_timedwait(3): the wait ends with success as soon as another process
 * posts, well before the deadline. */
IPCV_CASE(posix_sem, sem_timedwait_returns_when_another_process_posts,
          .tags = "multi", .covers = "B339",
          .spec = "sem_timedwait(3)",
          .desc = "a process in sem_timedwait with a 5 s deadline is woken by the coordinator's post and returns 0 long before the deadline")
{
    sem_t *s = shared_sem(0);
    struct ipcv_role *r = ipcv_spawn("waiter", timedwait_for_post, &s);
    ipcv_wait_ready(r);
    ipcv_wait_blocked(r, "futex");
    ipcv_expect_eq(0, sem_post(s));
    ipcv_join(r, IPCV_EXITED(0));
    drop_shared_sem(s);
}

/* sem_timedwait(3) ETIMEDOUT: the call timed out before the semaphore
 * could be locked; a failed call leaves the semaphore as it was. The delay
 * is the subject. */
IPCV_CASE(posix_sem, sem_timedwait_times_out_with_etimedout_and_leaves_the_value,
          .tags = "api", .covers = "B339 B340 B341 B343 B658",
          .spec = "sem_timedwait(3) ETIMEDOUT",
          .desc = "on a semaphore at 0, sem_timedwait with a deadline 50 ms ahead fails with ETIMEDOUT no earlier than the deadline, one already past fails at once; the value stays 0 and a post still works")
{
    sem_t s;
    SAFE(sem_init(&s, 0, 0));
    struct timespec deadline = after_ns(CLOCK_REALTIME, 50 * 1000000L), now;
    ipcv_expect_fail(ETIMEDOUT, sem_timedwait(&s, &deadline));
    clock_gettime(CLOCK_REALTIME, &now);
    ipcv_expect_true(now.tv_sec > deadline.tv_sec ||
                     (now.tv_sec == deadline.tv_sec && now.tv_nsec >= deadline.tv_nsec),
                     "sem_timedwait returned before its deadline");
    struct timespec past = after_ns(CLOCK_REALTIME, 0), t0;
    past.tv_sec -= 10;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ipcv_expect_fail(ETIMEDOUT, sem_timedwait(&s, &past));
    ipcv_expect_true(seconds_since(&t0) < 0.5, "a past deadline took %.2f s", seconds_since(&t0));
    ipcv_expect_eq(0, value_of(&s));
    SAFE(sem_post(&s));
    ipcv_expect_eq(0, sem_trywait(&s));
    SAFE(sem_destroy(&s));
}

/* sem_timedwait(3): abs_timeout is an absolute time on CLOCK_REALTIME. A
 * CLOCK_MONOTONIC reading (time since boot) is therefore long past. */
IPCV_CASE(posix_sem, sem_timedwait_measures_its_deadline_on_clock_realtime,
          .tags = "api", .covers = "B345",
          .spec = "sem_timedwait(3)",
          .desc = "a deadline of CLOCK_MONOTONIC now + 2 s is in the past on CLOCK_REALTIME: sem_timedwait fails with ETIMEDOUT at once, not after 2 s")
{
    sem_t s;
    SAFE(sem_init(&s, 0, 0));
    struct timespec monotonic = after_ns(CLOCK_MONOTONIC, 2000000000L), t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ipcv_expect_fail(ETIMEDOUT, sem_timedwait(&s, &monotonic));
    double waited = seconds_since(&t0);
    ipcv_expect_true(waited < 1.0, "sem_timedwait waited %.2f s for a deadline long past", waited);
    SAFE(sem_destroy(&s));
}

/* sem_timedwait(3) EINVAL: the call would block and abs_timeout.tv_nsec
 * is less than 0 or not less than 1000000000 (sem_clockwait likewise). The
 * failed call leaves no waiter behind: value and post work as before. */
IPCV_CASE(posix_sem, sem_timedwait_and_sem_clockwait_with_a_bad_tv_nsec_fail_einval,
          .tags = "api", .covers = "B342 B662",
          .spec = "sem_timedwait(3) EINVAL; sem_clockwait(3)",
          .desc = "on a semaphore at 0, tv_nsec -1, 1000000000 and 1000000001 make sem_timedwait and sem_clockwait(CLOCK_MONOTONIC) fail with EINVAL; the value stays 0 and post then trywait work")
{
    sem_t s;
    SAFE(sem_init(&s, 0, 0));
    static const long nsec[] = { -1, 1000000000L, 1000000001L };
    for (size_t i = 0; i < sizeof nsec / sizeof nsec[0]; i++) {
        struct timespec bad = after_ns(CLOCK_REALTIME, 0);
        bad.tv_sec += 1;
        bad.tv_nsec = nsec[i];
        ipcv_expect_fail(EINVAL, sem_timedwait(&s, &bad));
        ipcv_expect_fail(EINVAL, sem_clockwait(&s, CLOCK_MONOTONIC, &bad));
    }
    ipcv_expect_eq(0, value_of(&s));
    SAFE(sem_post(&s));
    ipcv_expect_eq(1, value_of(&s));
    ipcv_expect_eq(0, sem_trywait(&s));
    SAFE(sem_destroy(&s));
}

/* sem_timedwait(3): a negative tv_sec is a valid time (before 1970), hence
 * already past: ETIMEDOUT, not EINVAL (glibc tst-sem13). */
IPCV_CASE(posix_sem, sem_timedwait_with_a_negative_tv_sec_times_out,
          .tags = "api", .covers = "B663",
          .spec = "sem_timedwait(3) ETIMEDOUT; glibc nptl/tst-sem13.c",
          .desc = "sem_timedwait and sem_clockwait(CLOCK_MONOTONIC) with tv_sec -1 on a semaphore at 0 fail with ETIMEDOUT at once")
{
    sem_t s;
    SAFE(sem_init(&s, 0, 0));
    struct timespec before_epoch = { -1, 0 };
    ipcv_expect_fail(ETIMEDOUT, sem_timedwait(&s, &before_epoch));
    ipcv_expect_fail(ETIMEDOUT, sem_clockwait(&s, CLOCK_MONOTONIC, &before_epoch));
    ipcv_expect_eq(0, value_of(&s));
    SAFE(sem_destroy(&s));
}

/* sem_clockwait(3) (glibc 2.30): like sem_timedwait, on the clock given:
 * CLOCK_MONOTONIC or CLOCK_REALTIME. The delay is the subject. */
IPCV_CASE(posix_sem, sem_clockwait_times_out_on_the_monotonic_and_realtime_clocks,
          .tags = "api", .covers = "B658 B747",
          .spec = "sem_clockwait(3)",
          .desc = "sem_clockwait on a semaphore at 0 with a deadline 30 ms ahead on CLOCK_MONOTONIC, then on CLOCK_REALTIME, fails with ETIMEDOUT each time, no earlier than the deadline")
{
    sem_t s;
    SAFE(sem_init(&s, 0, 0));
    static const clockid_t clocks[] = { CLOCK_MONOTONIC, CLOCK_REALTIME };
    for (size_t i = 0; i < 2; i++) {
        struct timespec deadline = after_ns(clocks[i], 30 * 1000000L), now;
        ipcv_expect_fail(ETIMEDOUT, sem_clockwait(&s, clocks[i], &deadline));
        clock_gettime(clocks[i], &now);
        ipcv_expect_true(now.tv_sec > deadline.tv_sec ||
                         (now.tv_sec == deadline.tv_sec && now.tv_nsec >= deadline.tv_nsec),
                         "clock %d: sem_clockwait returned before its deadline", (int)clocks[i]);
    }
    SAFE(sem_destroy(&s));
}

/* sem_clockwait(3) EINVAL: clockid is neither CLOCK_MONOTONIC nor
 * CLOCK_REALTIME (glibc tst-sem17). */
IPCV_CASE(posix_sem, sem_clockwait_with_another_clock_fails_einval,
          .tags = "api", .covers = "B666",
          .spec = "sem_clockwait(3) EINVAL; glibc nptl/tst-sem17.c",
          .desc = "sem_clockwait with CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID, CLOCK_REALTIME_COARSE, CLOCK_BOOTTIME or clock 12345 fails with EINVAL")
{
    sem_t s;
    SAFE(sem_init(&s, 0, 0));
    static const clockid_t clocks[] = { CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID,
                                        CLOCK_REALTIME_COARSE, CLOCK_BOOTTIME, 12345 };
    for (size_t i = 0; i < sizeof clocks / sizeof clocks[0]; i++) {
        struct timespec deadline = after_ns(CLOCK_MONOTONIC, 10 * 1000000L);
        errno = 0;
        int rc = sem_clockwait(&s, clocks[i], &deadline);
        ipcv_expect_true(rc == -1 && errno == EINVAL, "clock %d: expected EINVAL, seen %d (%s)",
                         (int)clocks[i], rc, ipcv_errname(errno));
    }
    SAFE(sem_destroy(&s));
}

/* sem_post(3) EOVERFLOW: the maximum allowable value would be exceeded. */
IPCV_CASE(posix_sem, sem_post_at_sem_value_max_fails_eoverflow,
          .tags = "api limit", .covers = "B665",
          .spec = "sem_post(3) EOVERFLOW",
          .desc = "sem_post on a semaphore at SEM_VALUE_MAX fails with EOVERFLOW and the value stays SEM_VALUE_MAX; after a wait, a post works again")
{
    sem_t s;
    SAFE(sem_init(&s, 0, SEM_VALUE_MAX));
    ipcv_expect_fail(EOVERFLOW, sem_post(&s));
    ipcv_expect_eq(SEM_VALUE_MAX, value_of(&s));
    SAFE(sem_wait(&s));
    ipcv_expect_eq(0, sem_post(&s));
    ipcv_expect_eq(SEM_VALUE_MAX, value_of(&s));
    SAFE(sem_destroy(&s));
}

/* sem_getvalue(3): places the current value in *sval, returns 0, and does
 * not change the semaphore. */
IPCV_CASE(posix_sem, sem_getvalue_reports_the_value_without_changing_it,
          .tags = "api", .covers = "B353 B355 B356",
          .spec = "sem_getvalue(3)",
          .desc = "three sem_getvalue calls on a semaphore at 3 each return 0 and report 3; then exactly three sem_trywait succeed")
{
    sem_t s;
    SAFE(sem_init(&s, 0, 3));
    for (int i = 0; i < 3; i++) {
        int v = -1;
        ipcv_expect_eq(0, sem_getvalue(&s, &v));
        ipcv_expect_eq(3, v);
    }
    for (int i = 0; i < 3; i++)
        ipcv_expect_eq(0, sem_trywait(&s));
    ipcv_expect_fail(EAGAIN, sem_trywait(&s));
    SAFE(sem_destroy(&s));
}

/* sem_getvalue(3): with waiters, POSIX allows 0 or minus the number of
 * waiters; Linux (glibc) reports 0. */
IPCV_CASE(posix_sem, sem_getvalue_with_a_blocked_waiter_is_zero_or_minus_one,
          .tags = "multi", .covers = "B354",
          .spec = "sem_getvalue(3); POSIX.1-2017 sem_getvalue()",
          .desc = "while one process sleeps in sem_wait on a semaphore at 0, sem_getvalue reports 0 (or -1, which POSIX also allows)")
{
    sem_t *s = shared_sem(0);
    struct ipcv_role *r = ipcv_spawn("waiter", wait_once, &s);
    ipcv_wait_ready(r);
    ipcv_wait_blocked(r, "futex");
    int v = 12345;
    ipcv_expect_eq(0, sem_getvalue(s, &v));
    ipcv_expect_true(v == 0 || v == -1, "sem_getvalue with one waiter reported %d", v);
    SAFE(sem_post(s));
    ipcv_join(r, IPCV_EXITED(0));
    drop_shared_sem(s);
}
