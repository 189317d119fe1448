/* SysV semaphores under load: K processes using a set as a lock, as the
 * signals of a bounded buffer, and in random multi-operation transfers.
 * The shared state lives in a MAP_SHARED mapping inherited by the roles. */
#define _GNU_SOURCE
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/sem.h>
#include <time.h>
#include <unistd.h>

#include "ipcvet.h"

union semun { int val; struct semid_ds *buf; unsigned short *array; struct seminfo *__buf; };

#define LOCKERS 4
#define LOCK_ROUNDS 2000

struct lock_area {
    int id;
    short flg;               /* 0 or SEM_UNDO */
    atomic_int inside;       /* processes in the critical section now */
    atomic_int overlaps;     /* times someone found another inside */
    long counter;            /* updated non-atomically under the lock */
};

static int lock_loop(struct ipcv_role *self, void *arg)
{
    struct lock_area *a = *(struct lock_area **)arg;
    struct sembuf down = { 0, -1, a->flg }, up = { 0, 1, a->flg };
    ipcv_ready(self);
    ipcv_await_release(self);
    for (int i = 0; i < LOCK_ROUNDS; i++) {
        SAFE(semop(a->id, &down, 1));
        if (atomic_fetch_add(&a->inside, 1) != 0)
            atomic_fetch_add(&a->overlaps, 1);
        long c = a->counter;
        if (i % 4 == 0)
            sched_yield();      /* widen the window another locker could use */
        a->counter = c + 1;
        atomic_fetch_sub(&a->inside, 1);
        SAFE(semop(a->id, &up, 1));
    }
    return 0;
}

static void run_lock(short flg)
{
    struct lock_area *a = SAFE(mmap(NULL, sizeof *a, PROT_READ | PROT_WRITE,
                                    MAP_SHARED | MAP_ANONYMOUS, -1, 0));
    a->id = SAFE_SEMGET(IPC_PRIVATE, 1, IPC_CREAT | 0600);
    a->flg = flg;
    SAFE_SEMCTL(a->id, 0, SETVAL, (union semun){ .val = 1 });
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
    ipcv_expect_eq(1, semctl(a->id, 0, GETVAL));
    SAFE_SEMCTL(a->id, 0, IPC_RMID);
    SAFE(munmap(a, sizeof *a));
}

/* semop(2): a semaphore at 1 used as down/up around a critical section
 * admits one process at a time; with SEM_UNDO the balanced adjustments
 * cancel, so the value is 1 again after every process has exited. */
IPCV_CASE(sysv_sem, lock_with_sem_undo_keeps_four_processes_mutually_exclusive,
          .tags = "sync multi", .covers = "B053 B077 B545",
          .spec = "semop(2) SEM_UNDO",
          .desc = "4 processes x 2000 rounds of down/up with SEM_UNDO around a shared counter: never two inside, the counter is exactly 8000 and the value ends at 1")
{
    run_lock(SEM_UNDO);
}

/* semop(2): the same lock without SEM_UNDO. */
IPCV_CASE(sysv_sem, lock_without_sem_undo_keeps_four_processes_mutually_exclusive,
          .tags = "sync multi", .covers = "B077 B545",
          .spec = "semop(2)",
          .desc = "4 processes x 2000 rounds of down/up around a shared counter: never two inside, the counter is exactly 8000 and the value ends at 1")
{
    run_lock(0);
}

#define PRODUCERS 2
#define CONSUMERS 2
#define ITEMS 1000                      /* per producer */
#define SLOTS 4
enum { EMPTY, FULL, MUTEX };

struct ring {
    int id;
    unsigned head, tail;                /* under MUTEX */
    unsigned slot[SLOTS];               /* producer << 16 | sequence */
    unsigned taken[PRODUCERS * ITEMS];  /* items in the order they left the ring */
    atomic_uint ntaken;
};

struct worker { struct ring *g; unsigned who; };

static int producer(struct ipcv_role *self, void *arg)
{
    const struct worker *w = arg;
    struct ring *g = w->g;
    struct sembuf get_slot[2] = { { EMPTY, -1, 0 }, { MUTEX, -1, 0 } };
    struct sembuf put_item[2] = { { MUTEX, 1, 0 }, { FULL, 1, 0 } };
    ipcv_ready(self);
    ipcv_await_release(self);
    for (unsigned seq = 0; seq < ITEMS; seq++) {
        SAFE(semop(g->id, get_slot, 2));
        g->slot[g->head++ % SLOTS] = w->who << 16 | seq;
        SAFE(semop(g->id, put_item, 2));
    }
    return 0;
}

static int consumer(struct ipcv_role *self, void *arg)
{
    const struct worker *w = arg;
    struct ring *g = w->g;
    struct sembuf get_item[2] = { { FULL, -1, 0 }, { MUTEX, -1, 0 } };
    struct sembuf free_slot[2] = { { MUTEX, 1, 0 }, { EMPTY, 1, 0 } };
    ipcv_ready(self);
    ipcv_await_release(self);
    for (unsigned n = 0; n < PRODUCERS * ITEMS / CONSUMERS; n++) {
        SAFE(semop(g->id, get_item, 2));
        unsigned t = g->tail++;
        g->taken[t % (PRODUCERS * ITEMS)] = g->slot[t % SLOTS];
        atomic_fetch_add(&g->ntaken, 1);
        SAFE(semop(g->id, free_slot, 2));
    }
    return 0;
}

/* semop(2): counting semaphores EMPTY and FULL and a binary MUTEX, taken
 * together in one atomic semop, make a bounded buffer: every item is
 * delivered exactly once, each producer's items in the order produced. */
IPCV_CASE(sysv_sem, bounded_buffer_delivers_every_item_once_and_in_order,
          .tags = "sync multi", .covers = "B077",
          .spec = "semop(2)",
          .desc = "2 producers x 1000 items through a 4-slot ring to 2 consumers, signalled by a 3-semaphore set: each item leaves the ring once, each producer's in sequence; the set ends at 4,0,1")
{
    struct ring *g = SAFE(mmap(NULL, sizeof *g, PROT_READ | PROT_WRITE,
                               MAP_SHARED | MAP_ANONYMOUS, -1, 0));
    g->id = SAFE_SEMGET(IPC_PRIVATE, 3, IPC_CREAT | 0600);
    unsigned short init[3] = { [EMPTY] = SLOTS, [FULL] = 0, [MUTEX] = 1 };
    SAFE_SEMCTL(g->id, 0, SETALL, (union semun){ .array = init });
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
    unsigned short end[3];
    SAFE_SEMCTL(g->id, 0, GETALL, (union semun){ .array = end });
    ipcv_expect_eq(SLOTS, end[EMPTY]);
    ipcv_expect_eq(0, end[FULL]);
    ipcv_expect_eq(1, end[MUTEX]);
    SAFE_SEMCTL(g->id, 0, IPC_RMID);
    SAFE(munmap(g, sizeof *g));
}

#define MOVERS 4
#define MOVES 3000
#define TOKENS 8

struct transfers {
    int id;
    atomic_long net;        /* units moved 0 -> 1, minus 1 -> 0 */
    atomic_int torn;        /* GETALL snapshots with sem0 + sem1 != TOKENS */
};

static int random_moves(struct ipcv_role *self, void *arg)
{
    struct transfers *x = *(struct transfers **)arg;
    unsigned seed = (unsigned)getpid();
    long net = 0;
    ipcv_ready(self);
    ipcv_await_release(self);
    for (int i = 0; i < MOVES; i++) {
        struct sembuf ops[4];
        size_t n = 0;
        int dir = 0;
        struct timespec ms = { 0, 1000 * 1000 };
        int timed = 0;
        switch (rand_r(&seed) % 5) {
        case 0:     /* 0 -> 1 */
            ops[n++] = (struct sembuf){ 0, -1, IPC_NOWAIT };
            ops[n++] = (struct sembuf){ 1, 1, 0 };
            dir = 1;
            break;
        case 1:     /* 1 -> 0 */
            ops[n++] = (struct sembuf){ 1, -1, IPC_NOWAIT };
            ops[n++] = (struct sembuf){ 0, 1, 0 };
            dir = -1;
            break;
        case 2:     /* 2 units 0 -> 1, only while semaphore 2 is 0 */
            ops[n++] = (struct sembuf){ 2, 0, IPC_NOWAIT };
            ops[n++] = (struct sembuf){ 0, -2, 0 };
            ops[n++] = (struct sembuf){ 1, 2, 0 };
            dir = 2;
            timed = 1;
            break;
        case 3:     /* a +1/-1 pair on semaphore 2 nobody may see */
            ops[n++] = (struct sembuf){ 2, 1, 0 };
            ops[n++] = (struct sembuf){ 1, -1, 0 };
            ops[n++] = (struct sembuf){ 0, 1, 0 };
            ops[n++] = (struct sembuf){ 2, -1, 0 };
            dir = -1;
            timed = 1;
            break;
        default: {  /* a snapshot */
            unsigned short v[3];
            SAFE(semctl(x->id, 0, GETALL, (union semun){ .array = v }));
            if (v[0] + v[1] != TOKENS || v[2] != 0)
                atomic_fetch_add(&x->torn, 1);
            continue;
        }
        }
        int rc = timed ? semtimedop(x->id, ops, n, &ms) : semop(x->id, ops, n);
        if (rc == 0)
            net += dir;
        else if (errno != EAGAIN)
            ipcv_expect_true(0, "semop of %zu operations: %s", n, ipcv_errname(errno));
    }
    atomic_fetch_add(&x->net, net);
    return 0;
}

/* semop(2): each array is applied atomically, so under random concurrent
 * transfers between two semaphores (guarded by a third that must read 0)
 * no snapshot sees a torn sum and the final values match the moves made. */
IPCV_CASE(sysv_sem, random_multi_operation_transfers_keep_the_total,
          .tags = "sync multi", .covers = "B548",
          .spec = "semop(2)",
          .desc = "4 processes x 3000 random transfers (IPC_NOWAIT, timed, wait-for-zero, hidden +1/-1) between two semaphores holding 8 units: every GETALL sums to 8 and the end values equal the units each moved")
{
    struct transfers *x = SAFE(mmap(NULL, sizeof *x, PROT_READ | PROT_WRITE,
                                    MAP_SHARED | MAP_ANONYMOUS, -1, 0));
    x->id = SAFE_SEMGET(IPC_PRIVATE, 3, IPC_CREAT | 0600);
    SAFE_SEMCTL(x->id, 0, SETVAL, (union semun){ .val = TOKENS });
    struct ipcv_role *r[MOVERS];
    for (int i = 0; i < MOVERS; i++) {
        char name[16];
        snprintf(name, sizeof name, "mover%d", i);
        r[i] = ipcv_spawn(name, random_moves, &x);
    }
    for (int i = 0; i < MOVERS; i++)
        ipcv_wait_ready(r[i]);
    for (int i = 0; i < MOVERS; i++)
        ipcv_release(r[i]);
    for (int i = 0; i < MOVERS; i++)
        ipcv_join(r[i], IPCV_EXITED(0));
    unsigned short v[3];
    SAFE_SEMCTL(x->id, 0, GETALL, (union semun){ .array = v });
    long net = atomic_load(&x->net);
    ipcv_expect_eq(0, atomic_load(&x->torn));
    ipcv_expect_eq(net, v[1]);
    ipcv_expect_eq(TOKENS - net, v[0]);
    ipcv_expect_eq(0, v[2]);
    ipcv_expect_eq(0, semctl(x->id, 0, GETNCNT));
    ipcv_expect_eq(0, semctl(x->id, 2, GETZCNT));
    SAFE_SEMCTL(x->id, 0, IPC_RMID);
    SAFE(munmap(x, sizeof *x));
}
