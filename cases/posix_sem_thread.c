/* POSIX semaphores with threads and scheduling: cancellation points and
 * the order in which SCHED_FIFO waiters are woken. The coordinator may not
 * create threads (it unshared its PID namespace), so threads run in roles. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "ipcvet.h"

static struct timespec after_ns(clockid_t clock, long ns)
{
    struct timespec t;
    clock_gettime(clock, &t);
    t.tv_nsec += ns % 1000000000;
    t.tv_sec += ns / 1000000000 + t.tv_nsec / 1000000000;
    t.tv_nsec %= 1000000000;
    return t;
}

struct canceled_wait { sem_t sem; };

static void *wait_forever(void *arg)
{
    struct canceled_wait *cw = arg;
    sem_wait(&cw->sem);
    return (void *)1;          /* only if sem_wait returned */
}

/* The process's other thread sleeps in futex. /proc is the outer PID
 * namespace's, so the thread is found by listing /proc/self/task rather
 * than by its gettid(). */
static int other_thread_in_futex(void *arg)
{
    (void)arg;
    char self[32], path[96], buf[512];
    ssize_t n = readlink("/proc/self", self, sizeof self - 1);
    if (n <= 0)
        return 0;
    self[n] = '\0';
    DIR *d = opendir("/proc/self/task");
    if (!d)
        return 0;
    struct dirent *e;
    int found = 0;
    while (!found && (e = readdir(d))) {
        if (e->d_name[0] == '.' || !strcmp(e->d_name, self))
            continue;
        snprintf(path, sizeof path, "/proc/self/task/%.20s/stat", e->d_name);
        FILE *f = fopen(path, "re");
        if (!f)
            continue;
        size_t len = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[len] = '\0';
        const char *paren = strrchr(buf, ')');
        if (!paren || paren[1] != ' ' || paren[2] != 'S')
            continue;
        snprintf(path, sizeof path, "/proc/self/task/%.20s/syscall", e->d_name);
        f = fopen(path, "re");
        long nr = -1;
        if (f) {
            if (fscanf(f, "%ld", &nr) != 1)
                nr = -1;
            fclose(f);
        }
        found = nr == SYS_futex;
    }
    closedir(d);
    return found;
}

static int cancel_blocked_waiter(struct ipcv_role *self, void *arg)
{
    (void)self;
    (void)arg;
    struct canceled_wait cw;
    SAFE(sem_init(&cw.sem, 0, 0));
    pthread_t t;
    SAFE_RC(pthread_create(&t, NULL, wait_forever, &cw));
    if (!ipcv_poll_until(other_thread_in_futex, NULL, ipcv_wait_bound()))
        ipcv_brk(__FILE__, __LINE__, "the thread did not block in sem_wait");
    SAFE_RC(pthread_cancel(t));
    struct timespec deadline = after_ns(CLOCK_REALTIME, (long)(ipcv_wait_bound() * 1e9));
    void *ret = NULL;
    int rc = pthread_timedjoin_np(t, &ret, &deadline);
    ipcv_expect_true(rc == 0 && ret == PTHREAD_CANCELED,
                     "the thread blocked in sem_wait was not cancelled (join: %s, result %p)",
                     ipcv_errname(rc), ret);
    if (rc != 0) {             /* not cancelled: let it go */
        sem_post(&cw.sem);
        pthread_join(t, NULL);
    } else {
        /* Nothing of the cancelled wait is left: a post is there to take. */
        ipcv_expect_ok(sem_post(&cw.sem));
        int v = -1;
        ipcv_expect_ok(sem_getvalue(&cw.sem, &v));
        ipcv_expect_eq(1, v);
        ipcv_expect_ok(sem_trywait(&cw.sem));
    }
    SAFE(sem_destroy(&cw.sem));
    return 0;
}

/* pthreads(7), sem_wait(3): sem_wait is a cancellation point; a thread
 * cancelled while blocked in it ends as PTHREAD_CANCELED and leaves the
 * semaphore usable (glibc tst-sem11). */
IPCV_CASE(posix_sem, sem_wait_is_a_cancellation_point,
          .tags = "multi", .covers = "B661",
          .spec = "pthreads(7) Cancellation points; sem_wait(3)",
          .desc = "a thread blocked in sem_wait on a semaphore at 0 is cancelled and joins as PTHREAD_CANCELED; afterwards a post leaves 1 and trywait takes it")
{
    ipcv_join(ipcv_spawn("canceller", cancel_blocked_waiter, NULL), IPCV_EXITED(0));
}

static int timedwait_keeps_cancel_type(struct ipcv_role *self, void *arg)
{
    (void)self;
    (void)arg;
    sem_t s;
    SAFE(sem_init(&s, 0, 0));
    int old;
    SAFE_RC(pthread_setcanceltype(PTHREAD_CANCEL_DEFERRED, &old));
    struct timespec deadline = after_ns(CLOCK_REALTIME, 5 * 1000000L);
    ipcv_expect_fail(ETIMEDOUT, sem_timedwait(&s, &deadline));
    SAFE_RC(pthread_setcanceltype(PTHREAD_CANCEL_DEFERRED, &old));
    ipcv_expect_eq(PTHREAD_CANCEL_DEFERRED, old);
    SAFE(sem_destroy(&s));
    return 0;
}

/* pthread_setcanceltype(3): the type is the thread's until it changes it;
 * sem_timedwait, which may enable asynchronous cancellation inside, must
 * put the caller's type back (glibc tst-sem10). */
IPCV_CASE(posix_sem, sem_timedwait_leaves_the_cancel_type_unchanged,
          .tags = "api", .covers = "B660",
          .spec = "pthread_setcanceltype(3); glibc sysdeps/pthread/tst-sem10.c",
          .desc = "a thread with deferred cancellation times out in sem_timedwait and its cancel type is still PTHREAD_CANCEL_DEFERRED")
{
    ipcv_join(ipcv_spawn("thread", timedwait_keeps_cancel_type, NULL), IPCV_EXITED(0));
}

struct not_a_point { char name[64]; int opened, closed, unlinked; };

static void *open_with_cancel_pending(void *arg)
{
    struct not_a_point *np = arg;
    pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
    pthread_setcanceltype(PTHREAD_CANCEL_DEFERRED, NULL);
    pthread_cancel(pthread_self());
    sem_t *s = sem_open(np->name, O_CREAT | O_EXCL, 0600, 0);
    np->opened = s != SEM_FAILED;
    np->closed = s != SEM_FAILED && sem_close(s) == 0;
    np->unlinked = sem_unlink(np->name) == 0;
    pthread_testcancel();
    return NULL;
}

static int open_in_cancelled_thread(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct not_a_point *np = arg;
    pthread_t t;
    void *ret = NULL;
    SAFE_RC(pthread_create(&t, NULL, open_with_cancel_pending, np));
    SAFE_RC(pthread_join(t, &ret));
    ipcv_expect_true(ret == PTHREAD_CANCELED, "the thread was not cancelled at all");
    ipcv_expect_true(np->opened, "sem_open acted on the pending cancellation");
    ipcv_expect_true(np->closed, "sem_close acted on the pending cancellation");
    ipcv_expect_true(np->unlinked, "sem_unlink acted on the pending cancellation");
    if (!np->unlinked)
        sem_unlink(np->name);
    return 0;
}

/* pthreads(7): sem_open, sem_close and sem_unlink are not cancellation
 * points (glibc BZ 15765, tst-sem16): with a cancellation pending they
 * complete, and the thread is cancelled at the next real point. */
IPCV_CASE(posix_sem, sem_open_close_and_unlink_are_not_cancellation_points,
          .tags = "api", .covers = "B653",
          .spec = "pthreads(7) Cancellation points; glibc BZ 15765",
          .desc = "a thread with a deferred cancellation pending creates, closes and unlinks a named semaphore, then is cancelled by pthread_testcancel")
{
    struct not_a_point np = { .opened = 0 };
    snprintf(np.name, sizeof np.name, "%s", ipcv_name("cancel"));
    ipcv_join(ipcv_spawn("thread", open_in_cancelled_thread, &np), IPCV_EXITED(0));
}

#define RT_WAITERS 3

struct rt_order {
    sem_t sem;
    atomic_int woken;
    int order[RT_WAITERS];
};

struct rt_waiter { struct rt_order *o; int prio; };

static int rt_wait(struct ipcv_role *self, void *arg)
{
    const struct rt_waiter *w = arg;
    struct sched_param sp = { .sched_priority = w->prio };
    if (sched_setscheduler(0, SCHED_FIFO, &sp) < 0)
        ipcv_skip("SCHED_FIFO priority %d: %s", w->prio, ipcv_errname(errno));
    ipcv_ready(self);
    ipcv_expect_ok(sem_wait(&w->o->sem));
    w->o->order[atomic_fetch_add(&w->o->woken, 1)] = w->prio;
    return 0;
}

struct woken_at_least { struct rt_order *o; int n; };

static int woken_reached(void *arg)
{
    struct woken_at_least *w = arg;
    return atomic_load(&w->o->woken) >= w->n;
}

/* POSIX.1-2017 sem_post(): with the Process Scheduling option, the thread
 * woken is the highest-priority waiter (SCHED_FIFO), longest waiting
 * among equals. Linux futex wakes by priority (kernel plist). */
IPCV_CASE(posix_sem, sem_post_wakes_the_highest_priority_sched_fifo_waiter_first,
          .tags = "multi", .covers = "B352",
          .spec = "POSIX.1-2017 sem_post(); sched(7) SCHED_FIFO",
          .desc = "processes at SCHED_FIFO 10, 20 and 30 block in that order on a semaphore at 0; three posts, one at a time, wake them as 30, 20, 10")
{
    struct rt_order *o = SAFE(mmap(NULL, 4096, PROT_READ | PROT_WRITE,
                                   MAP_SHARED | MAP_ANONYMOUS, -1, 0));
    SAFE(sem_init(&o->sem, 1, 0));
    struct rt_waiter w[RT_WAITERS];
    struct ipcv_role *r[RT_WAITERS];
    for (int i = 0; i < RT_WAITERS; i++) {
        char name[16];
        w[i] = (struct rt_waiter){ o, 10 * (i + 1) };
        snprintf(name, sizeof name, "fifo%d", w[i].prio);
        r[i] = ipcv_spawn(name, rt_wait, &w[i]);
        ipcv_wait_ready(r[i]);
        ipcv_wait_blocked(r[i], "futex");
    }
    for (int i = 0; i < RT_WAITERS; i++) {
        SAFE(sem_post(&o->sem));
        struct woken_at_least goal = { o, i + 1 };
        ipcv_expect_true(ipcv_poll_until(woken_reached, &goal, ipcv_wait_bound()),
                         "post %d woke nobody", i + 1);
    }
    for (int i = 0; i < RT_WAITERS; i++)
        ipcv_join(r[i], IPCV_EXITED(0));
    for (int i = 0; i < RT_WAITERS; i++)
        ipcv_expect_eq(10 * (RT_WAITERS - i), o->order[i]);
    SAFE(sem_destroy(&o->sem));
    SAFE(munmap(o, 4096));
}
