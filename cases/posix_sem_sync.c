/* POSIX semaphores under load, named and unnamed (pshared, in a MAP_SHARED
 * page): K processes using one as a lock, and three as the signals of a
 * bounded buffer. Shared state lives in a mapping inherited by the roles. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ipcvet.h"

enum kind { NAMED, UNNAMED };

#define LOCKERS 4
#define LOCK_ROUNDS 2000

struct lock_area {
    enum kind kind;
    char name[64];
    sem_t sem;                 /* the unnamed one */
    atomic_int inside;
    atomic_int overlaps;
    long counter;
};

static sem_t *lock_sem(struct lock_area *a)
{
    return a->kind == UNNAMED ? &a->sem : SAFE_PTR(sem_open(a->name, 0));
}

static int lock_loop(struct ipcv_role *self, void *arg)
{
    struct lock_area *a = *(struct lock_area **)arg;
    sem_t *s = lock_sem(a);
    ipcv_ready(self);
    ipcv_await_release(self);
    for (int i = 0; i < LOCK_ROUNDS; i++) {
        SAFE(sem_wait(s));
        if (atomic_fetch_add(&a->inside, 1) != 0)
            atomic_fetch_add(&a->overlaps, 1);
        long c = a->counter;
        if (i % 4 == 0)
            sched_yield();      /* widen the window another locker could use */
        a->counter = c + 1;
        atomic_fetch_sub(&a->inside, 1);
        SAFE(sem_post(s));
    }
    if (a->kind == NAMED)
        SAFE(sem_close(s));
    return 0;
}

static void run_lock(enum kind kind)
{
    struct lock_area *a = SAFE(mmap(NULL, sizeof *a, PROT_READ | PROT_WRITE,
                                    MAP_SHARED | MAP_ANONYMOUS, -1, 0));
    a->kind = kind;
    sem_t *s;
    if (kind == NAMED) {
        snprintf(a->name, sizeof a->name, "%s", ipcv_name("lock"));
        s = SAFE_PTR(sem_open(a->name, O_CREAT | O_EXCL, 0600, 1));
    } else {
        s = &a->sem;
        SAFE(sem_init(s, 1, 1));
    }
    struct ipcv_role *r[LOCKERS];
    for (int i = 0; i < LOCKERS; i++) {
        char name[16];
        snprintf(name, sizeof name, "locker%d", i);
        r[i] = ipcv_spawn(name, lock_loop, &a);
    }
    for (int i = 0; i < LOCKERS; i++)
        ipcv_wait_ready(r[i]);
    for (int i = 0; i < LOCKERS; i++)
        ipcv_release(r[i]);
    for (int i = 0; i < LOCKERS; i++)
        ipcv_join(r[i], IPCV_EXITED(0));
    ipcv_expect_eq(0, atomic_load(&a->overlaps));
    ipcv_expect_eq(LOCKERS * LOCK_ROUNDS, a->counter);
    int v = -1;
    ipcv_expect_ok(sem_getvalue(s, &v));
    ipcv_expect_eq(1, v);
    if (kind == NAMED) {
        SAFE(sem_close(s));
        SAFE(sem_unlink(a->name));
    } else {
        SAFE(sem_destroy(s));
    }
    SAFE(munmap(a, sizeof *a));
}

/* sem_overview(7): a named semaphore at 1 opened by several processes is a
 * lock between them (LTP functional/semaphores/sem_lock). */
IPCV_CASE(posix_sem, named_semaphore_lock_keeps_four_processes_mutually_exclusive,
          .tags = "sync multi", .covers = "B442",
          .spec = "sem_overview(7); sem_wait(3); sem_post(3)",
          .desc = "4 processes x 2000 rounds of sem_wait/sem_post on a named semaphore around a shared counter: never two inside, the counter is exactly 8000 and the value ends at 1")
{
    run_lock(NAMED);
}

/* sem_init(3) pshared: the same lock with an unnamed semaphore in shared
 * memory. */
IPCV_CASE(posix_sem, unnamed_semaphore_lock_keeps_four_processes_mutually_exclusive,
          .tags = "sync multi", .covers = "B325",
          .spec = "sem_init(3) pshared; sem_wait(3); sem_post(3)",
          .desc = "4 processes x 2000 rounds of sem_wait/sem_post on a pshared semaphore in a MAP_SHARED page around a shared counter: never two inside, the counter is exactly 8000 and the value ends at 1")
{
    run_lock(UNNAMED);
}

#define PRODUCERS 2
#define CONSUMERS 2
#define ITEMS 1000
#define SLOTS 4
enum { EMPTY, FULL, MUTEX };

struct ring {
    enum kind kind;
    char name[3][64];
    sem_t sem[3];              /* the unnamed ones */
    unsigned head, tail;       /* under MUTEX */
    unsigned slot[SLOTS];      /* producer << 16 | sequence */
    unsigned taken[PRODUCERS * ITEMS];
    atomic_uint ntaken;
};

struct worker { struct ring *g; unsigned who; };

static void ring_sems(struct ring *g, sem_t *s[3])
{
    for (int i = 0; i < 3; i++)
        s[i] = g->kind == UNNAMED ? &g->sem[i] : SAFE_PTR(sem_open(g->name[i], 0));
}

static void ring_close(struct ring *g, sem_t *s[3])
{
    for (int i = 0; g->kind == NAMED && i < 3; i++)
        SAFE(sem_close(s[i]));
}

static int producer(struct ipcv_role *self, void *arg)
{
    const struct worker *w = arg;
    struct ring *g = w->g;
    sem_t *s[3];
    ring_sems(g, s);
    ipcv_ready(self);
    ipcv_await_release(self);
    for (unsigned seq = 0; seq < ITEMS; seq++) {
        SAFE(sem_wait(s[EMPTY]));
        SAFE(sem_wait(s[MUTEX]));
        g->slot[g->head++ % SLOTS] = w->who << 16 | seq;
        SAFE(sem_post(s[MUTEX]));
        SAFE(sem_post(s[FULL]));
    }
    ring_close(g, s);
    return 0;
}

static int consumer(struct ipcv_role *self, void *arg)
{
    const struct worker *w = arg;
    struct ring *g = w->g;
    sem_t *s[3];
    ring_sems(g, s);
    ipcv_ready(self);
    ipcv_await_release(self);
    for (unsigned n = 0; n < PRODUCERS * ITEMS / CONSUMERS; n++) {
        SAFE(sem_wait(s[FULL]));
        SAFE(sem_wait(s[MUTEX]));
        unsigned t = g->tail++;
        g->taken[t % (PRODUCERS * ITEMS)] = g->slot[t % SLOTS];
        atomic_fetch_add(&g->ntaken, 1);
        SAFE(sem_post(s[MUTEX]));
        SAFE(sem_post(s[EMPTY]));
    }
    ring_close(g, s);
    return 0;
}

static void run_ring(enum kind kind)
{
    struct ring *g = SAFE(mmap(NULL, sizeof *g, PROT_READ | PROT_WRITE,
                               MAP_SHARED | MAP_ANONYMOUS, -1, 0));
    g->kind = kind;
    static const unsigned init[3] = { [EMPTY] = SLOTS, [FULL] = 0, [MUTEX] = 1 };
    static const char *const suffix[3] = { "empty", "full", "mutex" };
    sem_t *s[3];
    for (int i = 0; i < 3; i++) {
        if (kind == NAMED) {
            snprintf(g->name[i], sizeof g->name[i], "%s", ipcv_name(suffix[i]));
            s[i] = SAFE_PTR(sem_open(g->name[i], O_CREAT | O_EXCL, 0600, init[i]));
        } else {
            s[i] = &g->sem[i];
            SAFE(sem_init(s[i], 1, init[i]));
        }
    }
    struct worker w[PRODUCERS + CONSUMERS];
    struct ipcv_role *r[PRODUCERS + CONSUMERS];
    for (unsigned i = 0; i < PRODUCERS + CONSUMERS; i++) {
        w[i] = (struct worker){ g, i };
        char name[16];
        snprintf(name, sizeof name, "%s%u", i < PRODUCERS ? "producer" : "consumer", i);
        r[i] = ipcv_spawn(name, i < PRODUCERS ? producer : consumer, &w[i]);
    }
    for (unsigned i = 0; i < PRODUCERS + CONSUMERS; i++)
        ipcv_wait_ready(r[i]);
    for (unsigned i = 0; i < PRODUCERS + CONSUMERS; i++)
        ipcv_release(r[i]);
    for (unsigned i = 0; i < PRODUCERS + CONSUMERS; i++)
        ipcv_join(r[i], IPCV_EXITED(0));

    ipcv_expect_eq(PRODUCERS * ITEMS, atomic_load(&g->ntaken));
    unsigned next[PRODUCERS] = { 0 };
    int bad = 0;
    for (unsigned t = 0; t < PRODUCERS * ITEMS && !bad; t++) {
        unsigned p = g->taken[t] >> 16, seq = g->taken[t] & 0xffff;
        if (p >= PRODUCERS || seq != next[p]) {
            ipcv_expect_true(0, "item %u out of the ring was producer %u #%u, expected #%u",
                             t, p, seq, p < PRODUCERS ? next[p] : 0);
            bad = 1;
        } else {
            next[p]++;
        }
    }
    for (unsigned p = 0; p < PRODUCERS && !bad; p++)
        ipcv_expect_eq(ITEMS, next[p]);
    for (int i = 0; i < 3; i++) {
        int v = -1;
        ipcv_expect_ok(sem_getvalue(s[i], &v));
        ipcv_expect_eq(init[i], v);
        if (kind == NAMED) {
            SAFE(sem_close(s[i]));
            SAFE(sem_unlink(g->name[i]));
        } else {
            SAFE(sem_destroy(s[i]));
        }
    }
    SAFE(munmap(g, sizeof *g));
}

/* sem_overview(7): counting semaphores EMPTY and FULL and a binary MUTEX
 * make a bounded buffer between processes (LTP functional sem_conpro):
 * every item is delivered exactly once, each producer's in order. */
IPCV_CASE(posix_sem, bounded_buffer_with_named_semaphores_delivers_every_item_once_in_order,
          .tags = "sync multi", .covers = "B441",
          .spec = "sem_overview(7); sem_wait(3); sem_post(3)",
          .desc = "2 producers x 1000 items through a 4-slot ring to 2 consumers, signalled by three named semaphores: each item leaves once, each producer's in sequence; the semaphores end at 4, 0, 1")
{
    run_ring(NAMED);
}

/* sem_init(3) pshared: the same bounded buffer with unnamed semaphores in
 * the shared page. */
IPCV_CASE(posix_sem, bounded_buffer_with_unnamed_semaphores_delivers_every_item_once_in_order,
          .tags = "sync multi", .covers = "B441 B325",
          .spec = "sem_init(3) pshared; sem_wait(3); sem_post(3)",
          .desc = "2 producers x 1000 items through a 4-slot ring to 2 consumers, signalled by three pshared semaphores: each item leaves once, each producer's in sequence; the semaphores end at 4, 0, 1")
{
    run_ring(UNNAMED);
}

#define PAIRS 2
#define HANDOFFS 5000

struct handoff { sem_t sem; atomic_int waited; };

static int post_many(struct ipcv_role *self, void *arg)
{
    struct handoff *h = *(struct handoff **)arg;
    ipcv_ready(self);
    ipcv_await_release(self);
    for (int i = 0; i < HANDOFFS; i++)
        SAFE(sem_post(&h->sem));
    return 0;
}

static int wait_many(struct ipcv_role *self, void *arg)
{
    struct handoff *h = *(struct handoff **)arg;
    ipcv_ready(self);           /* and straight into sem_wait */
    for (int i = 0; i < HANDOFFS; i++) {
        SAFE(sem_wait(&h->sem));
        atomic_fetch_add(&h->waited, 1);
    }
    return 0;
}

/* sem_post(3): every post either wakes a waiter or leaves a unit to take;
 * none is lost when posts and waits race (glibc BZ 14532, tst-sem14). */
IPCV_CASE(posix_sem, racing_posts_and_waits_lose_no_wakeup,
          .tags = "sync multi", .covers = "B664",
          .spec = "sem_post(3); glibc BZ 14532",
          .desc = "2 processes asleep on a pshared semaphore at 0 then wait 5000 times each while 2 others post 5000 times each: every wait returns and the value ends at 0")
{
    struct handoff *h = SAFE(mmap(NULL, 4096, PROT_READ | PROT_WRITE,
                                  MAP_SHARED | MAP_ANONYMOUS, -1, 0));
    SAFE(sem_init(&h->sem, 1, 0));
    struct ipcv_role *r[2 * PAIRS];
    for (int i = 0; i < 2 * PAIRS; i++) {
        char name[16];
        snprintf(name, sizeof name, "%s%d", i < PAIRS ? "poster" : "waiter", i);
        r[i] = ipcv_spawn(name, i < PAIRS ? post_many : wait_many, &h);
    }
    for (int i = 0; i < 2 * PAIRS; i++)
        ipcv_wait_ready(r[i]);
    /* The waiters are asleep on the empty semaphore before anyone posts. */
    for (int i = PAIRS; i < 2 * PAIRS; i++)
        ipcv_wait_blocked(r[i], "futex");
    for (int i = 0; i < PAIRS; i++)
        ipcv_release(r[i]);
    for (int i = 0; i < 2 * PAIRS; i++)
        ipcv_join(r[i], IPCV_EXITED(0));
    ipcv_expect_eq(PAIRS * HANDOFFS, atomic_load(&h->waited));
    int v = -1;
    ipcv_expect_ok(sem_getvalue(&h->sem, &v));
    ipcv_expect_eq(0, v);
    SAFE(sem_destroy(&h->sem));
    SAFE(munmap(h, 4096));
}
