/* POSIX semaphores and signal handlers: EINTR, SA_RESTART, sem_post from
 * a handler. Linux sleeps in FUTEX_WAIT(_BITSET): without a timeout the
 * kernel restarts the wait after an SA_RESTART handler, with a timeout
 * (sem_timedwait) it never does, whatever signal(7)'s list says. The
 * blocked role is signalled only once it sleeps in futex. */
#define _GNU_SOURCE
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "ipcvet.h"

struct intr {
    sem_t sem;                 /* pshared, in the shared page */
    int sa_flags;
    int timed;                 /* sem_timedwait with a 3 s deadline */
    int expect_errno;          /* 0: sem_wait returns 0 */
    int post_in_handler;
    atomic_int handled;        /* the handler ran */
};

static struct intr *the_scene;  /* the role's copy of the pointer */

static void on_usr1(int sig)
{
    (void)sig;
    if (the_scene->post_in_handler)
        sem_post(&the_scene->sem);   /* async-signal-safe: signal-safety(7) */
    atomic_store(&the_scene->handled, 1);
}

static int blocked_waiter(struct ipcv_role *self, void *arg)
{
    struct intr *x = *(struct intr **)arg;
    the_scene = x;
    struct sigaction sa = { .sa_handler = on_usr1, .sa_flags = x->sa_flags };
    sigemptyset(&sa.sa_mask);
    SAFE(sigaction(SIGUSR1, &sa, NULL));
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 3;
    ipcv_ready(self);
    errno = 0;
    int rc = x->timed ? sem_timedwait(&x->sem, &deadline) : sem_wait(&x->sem);
    int err = errno;
    if (x->expect_errno)
        ipcv_expect_true(rc == -1 && err == x->expect_errno, "%s: expected %s, seen %d (%s)",
                         x->timed ? "sem_timedwait" : "sem_wait",
                         ipcv_errname(x->expect_errno), rc, ipcv_errname(err));
    else
        ipcv_expect_true(rc == 0, "%s: expected 0, seen %s", x->timed ? "sem_timedwait" : "sem_wait",
                         ipcv_errname(err));
    ipcv_expect_eq(1, atomic_load(&x->handled));
    return 0;
}

static struct intr *new_scene(int sa_flags, int timed, int expect_errno)
{
    struct intr *x = SAFE(mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                               -1, 0));
    SAFE(sem_init(&x->sem, 1, 0));
    x->sa_flags = sa_flags;
    x->timed = timed;
    x->expect_errno = expect_errno;
    return x;
}

static void drop_scene(struct intr *x)
{
    int v = -1;
    ipcv_expect_ok(sem_getvalue(&x->sem, &v));
    ipcv_expect_eq(0, v);
    SAFE(sem_destroy(&x->sem));
    SAFE(munmap(x, 4096));
}

static struct ipcv_role *start_and_signal(struct intr **x)
{
    struct ipcv_role *r = ipcv_spawn("waiter", blocked_waiter, x);
    ipcv_wait_ready(r);
    ipcv_wait_blocked(r, "futex");
    SAFE(kill(ipcv_role_pid(r), SIGUSR1));
    return r;
}

/* sem_wait(3) EINTR: the call was interrupted by a signal handler
 * (installed without SA_RESTART, signal(7)). */
IPCV_CASE(posix_sem, sem_wait_interrupted_by_a_handler_fails_eintr,
          .tags = "multi", .covers = "B334 B659",
          .spec = "sem_wait(3) EINTR; signal(7)",
          .desc = "a process blocked in sem_wait catches SIGUSR1 (handler without SA_RESTART): sem_wait fails with EINTR and the value is still 0")
{
    struct intr *x = new_scene(0, 0, EINTR);
    ipcv_join(start_and_signal(&x), IPCV_EXITED(0));
    drop_scene(x);
}

static int handled(void *arg) { return atomic_load(&((struct intr *)arg)->handled); }

/* poll_until condition: the role sleeps in futex. */
static int asleep_in_futex(void *arg) { return ipcv_role_asleep_in(arg, SYS_futex); }

/* signal(7): sem_wait is restarted after a handler installed with
 * SA_RESTART (since Linux 2.6.22; glibc's sem_wait waits in FUTEX_WAIT
 * without a timeout, which the kernel restarts), so the caller keeps
 * waiting and later takes the semaphore. */
IPCV_CASE(posix_sem, sem_wait_is_restarted_after_an_sa_restart_handler,
          .tags = "multi", .covers = "B334",
          .spec = "signal(7) Interruption of system calls; sem_wait(3)",
          .desc = "a process blocked in sem_wait catches SIGUSR1 (SA_RESTART): the handler runs, it goes back to sleep in futex instead of failing, and returns 0 on the next post")
{
    struct intr *x = new_scene(SA_RESTART, 0, 0);
    struct ipcv_role *r = start_and_signal(&x);
    ipcv_expect_true(ipcv_poll_until(handled, x, ipcv_wait_bound()), "the handler did not run");
    ipcv_expect_true(ipcv_poll_until(asleep_in_futex, r, ipcv_wait_bound()),
                     "after the SA_RESTART handler the waiter is not back asleep in futex");
    SAFE(sem_post(&x->sem));
    ipcv_join(r, IPCV_EXITED(0));
    drop_scene(x);
}

/* sem_timedwait(3) EINTR: the call was interrupted by a signal handler. */
IPCV_CASE(posix_sem, sem_timedwait_interrupted_by_a_handler_fails_eintr,
          .tags = "multi", .covers = "B344",
          .spec = "sem_timedwait(3) EINTR",
          .desc = "a process blocked in sem_timedwait (3 s deadline) catches SIGUSR1 without SA_RESTART: it fails with EINTR at once, not ETIMEDOUT")
{
    struct intr *x = new_scene(0, 1, EINTR);
    ipcv_join(start_and_signal(&x), IPCV_EXITED(0));
    drop_scene(x);
}

/* Linux: sem_timedwait sleeps in FUTEX_WAIT_BITSET with an absolute
 * timeout; the kernel ends such a wait with ERESTART_RESTARTBLOCK, which a
 * handler turns into EINTR even with SA_RESTART. signal(7) lists
 * sem_timedwait among the calls SA_RESTART restarts; this is what Linux 6.x
 * with glibc 2.36 does. */
IPCV_CASE(posix_sem, sem_timedwait_fails_eintr_even_after_an_sa_restart_handler,
          .tags = "multi", .covers = "B344",
          .spec = "sem_timedwait(3) EINTR; Linux kernel/futex/waitwake.c futex_wait",
          .desc = "a process blocked in sem_timedwait (3 s deadline) catches SIGUSR1 with SA_RESTART: it still fails with EINTR at once")
{
    struct intr *x = new_scene(SA_RESTART, 1, EINTR);
    ipcv_join(start_and_signal(&x), IPCV_EXITED(0));
    drop_scene(x);
}

/* sem_post(3) is async-signal-safe (signal-safety(7)): a handler may post
 * the semaphore the interrupted code waits on; with SA_RESTART the wait
 * resumes and takes it. */
IPCV_CASE(posix_sem, sem_post_from_a_signal_handler_releases_the_interrupted_wait,
          .tags = "multi", .covers = "B350 B351",
          .spec = "sem_post(3); signal-safety(7)",
          .desc = "a process blocked in sem_wait gets SIGUSR1 whose SA_RESTART handler posts the same semaphore: sem_wait returns 0 and the value is 0")
{
    struct intr *x = new_scene(SA_RESTART, 0, 0);
    x->post_in_handler = 1;
    ipcv_join(start_and_signal(&x), IPCV_EXITED(0));
    drop_scene(x);
}
