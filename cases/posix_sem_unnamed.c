/* POSIX unnamed semaphores: sem_init and sem_destroy, and pshared
 * semaphores placed in memory that several processes map. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <semaphore.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "ipcvet.h"

static int value_of(sem_t *s)
{
    int v = -12345;
    SAFE(sem_getvalue(s, &v));
    return v;
}

static void *shared_page(void)
{
    return SAFE(mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
}

/* sem_init(3): initialises the semaphore with value; sem_destroy(3): 0 on
 * success. Both kinds (pshared 0 in private memory, 1 in shared memory)
 * work with wait, trywait and post. */
IPCV_CASE(posix_sem, sem_init_sets_the_value_and_sem_destroy_returns_zero,
          .tags = "api", .covers = "B323 B324 B326 B329 B330",
          .spec = "sem_init(3); sem_destroy(3)",
          .desc = "sem_init with value 3 (pshared 0 on the stack, pshared 1 in a MAP_SHARED page) returns 0 and reads 3; wait, trywait and post move it 2, 1, 2; sem_destroy returns 0")
{
    sem_t local;
    sem_t *shared = shared_page();
    sem_t *both[2] = { &local, shared };
    for (int pshared = 0; pshared < 2; pshared++) {
        sem_t *s = both[pshared];
        ipcv_expect_eq(0, sem_init(s, pshared, 3));
        ipcv_expect_eq(3, value_of(s));
        ipcv_expect_eq(0, sem_wait(s));
        ipcv_expect_eq(2, value_of(s));
        ipcv_expect_eq(0, sem_trywait(s));
        ipcv_expect_eq(1, value_of(s));
        ipcv_expect_eq(0, sem_post(s));
        ipcv_expect_eq(2, value_of(s));
        ipcv_expect_eq(0, sem_destroy(s));
    }
    SAFE(munmap(shared, 4096));
}

/* sem_init(3) EINVAL: value exceeds SEM_VALUE_MAX; -1 is returned. */
IPCV_CASE(posix_sem, sem_init_with_a_value_above_sem_value_max_fails_einval,
          .tags = "api limit", .covers = "B327 B326",
          .spec = "sem_init(3) EINVAL",
          .desc = "sem_init with SEM_VALUE_MAX+1 returns -1 with EINVAL; with SEM_VALUE_MAX it returns 0 and reads SEM_VALUE_MAX")
{
    sem_t s;
    errno = 0;
    ipcv_expect_eq(-1, sem_init(&s, 0, (unsigned)SEM_VALUE_MAX + 1));
    ipcv_expect_eq(EINVAL, errno);
    ipcv_expect_eq(0, sem_init(&s, 0, SEM_VALUE_MAX));
    ipcv_expect_eq(SEM_VALUE_MAX, value_of(&s));
    SAFE(sem_destroy(&s));
}

#define ROUNDS 200

struct pingpong { sem_t ping, pong; int counter; };

static int pong_player(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct pingpong *pp = *(struct pingpong **)arg;
    for (int i = 0; i < ROUNDS; i++) {
        SAFE(sem_wait(&pp->ping));
        pp->counter++;
        SAFE(sem_post(&pp->pong));
    }
    return 0;
}

/* sem_init(3): with pshared nonzero the semaphore is shared between
 * processes and must sit in shared memory (here MAP_SHARED, inherited by
 * fork). */
IPCV_CASE(posix_sem, pshared_semaphores_in_shared_memory_work_across_fork,
          .tags = "multi", .covers = "B325 B657 B324",
          .spec = "sem_init(3) pshared; sem_overview(7) Unnamed semaphores",
          .desc = "two pshared semaphores in a MAP_SHARED page play 200 rounds of ping-pong between the coordinator and a forked process; every round is seen exactly once")
{
    struct pingpong *pp = shared_page();
    SAFE(sem_init(&pp->ping, 1, 0));
    SAFE(sem_init(&pp->pong, 1, 0));
    struct ipcv_role *r = ipcv_spawn("pong", pong_player, &pp);
    int out_of_step = 0;
    for (int i = 0; i < ROUNDS; i++) {
        SAFE(sem_post(&pp->ping));
        struct timespec deadline;
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += (time_t)ipcv_wait_bound();
        if (sem_timedwait(&pp->pong, &deadline) != 0) {
            ipcv_expect_true(0, "round %d: no pong (%s)", i, ipcv_errname(errno));
            break;
        }
        out_of_step += pp->counter != i + 1;
    }
    ipcv_expect_eq(0, out_of_step);
    ipcv_join(r, IPCV_EXITED(0));
    ipcv_expect_eq(ROUNDS, pp->counter);
    SAFE(sem_destroy(&pp->ping));
    SAFE(sem_destroy(&pp->pong));
    SAFE(munmap(pp, 4096));
}

static int wait_through_own_mapping(struct ipcv_role *self, void *arg)
{
    const char *path = arg;
    /* Occupy the address the parent used, so ours differs. */
    void *pad = SAFE(mmap(NULL, 8192, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    int fd = SAFE(open(path, O_RDWR | O_CLOEXEC));
    sem_t *s = SAFE(mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
    close(fd);
    ipcv_ready(self);
    ipcv_expect_ok(sem_wait(s));
    munmap(s, 4096);
    munmap(pad, 8192);
    return 0;
}

/* sem_overview(7): a process-shared semaphore may live in a region of a
 * mapped file; another process that maps the file (at any address) uses
 * the same semaphore. */
IPCV_CASE(posix_sem, pshared_semaphore_in_a_mapped_file_works_from_another_mapping,
          .tags = "multi", .covers = "B657 B325",
          .spec = "sem_overview(7); sem_init(3) pshared",
          .desc = "a pshared semaphore at 0 in a file page is waited on by a process that mapped the file itself at another address; the coordinator's post through its own mapping wakes it")
{
    const char *path = ipcv_path("sem-page", 1);
    int fd = SAFE(open(path, O_RDWR | O_CLOEXEC));
    SAFE(ftruncate(fd, 4096));
    sem_t *s = SAFE(mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
    close(fd);
    SAFE(sem_init(s, 1, 0));
    struct ipcv_role *r = ipcv_spawn("mapper", wait_through_own_mapping, (void *)path);
    ipcv_wait_ready(r);
    ipcv_wait_blocked(r, "futex");
    ipcv_expect_ok(sem_post(s));
    ipcv_join(r, IPCV_EXITED(0));
    ipcv_expect_eq(0, value_of(s));
    SAFE(sem_destroy(s));
    SAFE(munmap(s, 4096));
}

#define LOTS 10000

/* sem_init(3) ENOSPC is for a system limit (SEM_NSEMS_MAX) on semaphores;
 * glibc has none: sysconf(_SC_SEM_NSEMS_MAX) is -1 and any number of
 * unnamed semaphores can be initialised. */
IPCV_CASE(posix_sem, sem_init_has_no_limit_on_the_number_of_semaphores,
          .tags = "api limit", .covers = "B328",
          .spec = "sem_init(3) ENOSPC; sysconf(3) _SC_SEM_NSEMS_MAX",
          .desc = "sysconf(_SC_SEM_NSEMS_MAX) reports no limit (-1) and 10000 semaphores are initialised without ENOSPC")
{
    errno = 0;
    ipcv_expect_eq(-1, sysconf(_SC_SEM_NSEMS_MAX));
    ipcv_expect_eq(0, errno);
    sem_t *many = SAFE_PTR(calloc(LOTS, sizeof *many));
    int done = 0;
    for (; done < LOTS; done++)
        if (sem_init(&many[done], done & 1, 1) != 0) {
            ipcv_expect_true(0, "sem_init #%d: %s", done, ipcv_errname(errno));
            break;
        }
    for (int i = 0; i < done; i++)
        sem_destroy(&many[i]);
    free(many);
}
