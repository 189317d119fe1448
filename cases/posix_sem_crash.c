/* POSIX semaphores when the holder dies: nothing gives the unit back (no
 * SEM_UNDO, no robustness), so a waiter stays blocked until someone posts.
 * The case shows the waiter is still asleep after the holder was reaped,
 * then posts to let it finish. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ipcvet.h"


struct scene { int named; char name[64]; sem_t *unnamed; };

static sem_t *scene_sem(const struct scene *sc)
{
    return sc->named ? SAFE_PTR(sem_open(sc->name, 0)) : sc->unnamed;
}

static int hold_until_killed(struct ipcv_role *self, void *arg)
{
    sem_t *s = scene_sem(arg);
    SAFE(sem_wait(s));
    ipcv_ready(self);           /* inside the critical section */
    pause();
    return 0;
}

static int wait_for_it(struct ipcv_role *self, void *arg)
{
    sem_t *s = scene_sem(arg);
    ipcv_ready(self);
    ipcv_expect_eq(0, sem_wait(s));
    return 0;
}

static void holder_dies(struct scene *sc, sem_t *s)
{
    struct ipcv_role *holder = ipcv_spawn("holder", hold_until_killed, sc);
    ipcv_wait_ready(holder);
    struct ipcv_role *waiter = ipcv_spawn("waiter", wait_for_it, sc);
    ipcv_wait_ready(waiter);
    ipcv_wait_blocked(waiter, "futex");
    SAFE(kill(ipcv_role_pid(holder), SIGKILL));
    ipcv_join(holder, IPCV_KILLED(SIGKILL));
    /* The holder is gone and reaped: its unit is gone with it. */
    int v = -1;
    ipcv_expect_ok(sem_getvalue(s, &v));
    ipcv_expect_eq(0, v);
    ipcv_expect_true(ipcv_role_asleep_in(waiter, SYS_futex),
                     "the waiter is no longer asleep in futex after the holder died");
    ipcv_expect_ok(sem_post(s));
    ipcv_join(waiter, IPCV_EXITED(0));
    ipcv_expect_ok(sem_getvalue(s, &v));
    ipcv_expect_eq(0, v);
}

/* sem_overview(7): a POSIX semaphore has no owner and no undo: a process
 * killed after sem_wait leaves the value decremented for good. */
IPCV_CASE(posix_sem, named_semaphore_holder_killed_leaves_the_waiter_blocked,
          .tags = "crash multi", .covers = "",
          .spec = "sem_overview(7); sem_wait(3)",
          .desc = "a holder takes a named semaphore at 1 and is SIGKILLed; once it is reaped the value is still 0 and the waiter still sleeps in futex; a post then lets it through")
{
    struct scene sc = { .named = 1 };
    snprintf(sc.name, sizeof sc.name, "%s", ipcv_name("crash"));
    sem_t *s = SAFE_PTR(sem_open(sc.name, O_CREAT | O_EXCL, 0600, 1));
    holder_dies(&sc, s);
    SAFE(sem_close(s));
    SAFE(sem_unlink(sc.name));
}

/* sem_overview(7): the same for an unnamed pshared semaphore in shared
 * memory. */
IPCV_CASE(posix_sem, unnamed_semaphore_holder_killed_leaves_the_waiter_blocked,
          .tags = "crash multi", .covers = "",
          .spec = "sem_overview(7); sem_init(3) pshared",
          .desc = "a holder takes a pshared semaphore at 1 in a MAP_SHARED page and is SIGKILLed; once it is reaped the value is still 0 and the waiter still sleeps in futex; a post then lets it through")
{
    struct scene sc = { .named = 0 };
    sc.unnamed = SAFE(mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
    SAFE(sem_init(sc.unnamed, 1, 1));
    holder_dies(&sc, sc.unnamed);
    SAFE(sem_destroy(sc.unnamed));
    SAFE(munmap(sc.unnamed, 4096));
}
