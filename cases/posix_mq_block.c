/* POSIX message queues across processes: blocked receivers and senders
 * and who wakes, ordering with concurrent senders, every message exactly
 * once, and processes that die around a queue. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/syscall.h>

#include "posix_mq.h"

/* What a stress message carries: who sent it, its place in the sender's
 * sequence, its priority, and a check over the three. */
struct seqmsg { uint32_t sender, seq, prio, check; };

static uint32_t seq_check(uint32_t sender, uint32_t seq, uint32_t prio)
{
    uint32_t h = 2166136261u;
    uint32_t v[3] = { sender, seq, prio };
    for (int i = 0; i < 3; i++)
        h = (h ^ v[i]) * 16777619u;
    return h;
}

static struct seqmsg seq_make(uint32_t sender, uint32_t seq, uint32_t prio)
{
    return (struct seqmsg){ sender, seq, prio, seq_check(sender, seq, prio) };
}

struct waiter {
    mqd_t q;
    int timed;          /* use the timed call */
    int index;          /* which message this role expects (ordering cases) */
    unsigned prio;
};

static int receive_one(struct ipcv_role *self, void *arg)
{
    struct waiter *w = arg;
    ipcv_ready(self);
    char buf[16] = { 0 };
    unsigned prio = 0;
    struct timespec later = mq_in_ms(20000);
    ssize_t got = w->timed ? mq_timedreceive(w->q, buf, sizeof buf, &prio, &later)
                           : mq_receive(w->q, buf, sizeof buf, &prio);
    ipcv_expect_eq(4, got);
    ipcv_expect_true(got == 4 && buf[0] == 'm' && buf[1] == 's' && buf[2] == 'g' &&
                     buf[3] == '0' + w->index,
                     "expected \"msg%d\", seen \"%.*s\"", w->index, got > 0 ? (int)got : 0, buf);
    ipcv_expect_eq(w->prio, prio);
    return 0;
}

/* mq_receive(3): "If the queue is empty, then, by default, mq_receive()
 * blocks until a message becomes available"; the message sent then is the
 * one it returns. */
IPCV_CASE(posix_mq, blocked_receiver_wakes_with_the_message_sent,
          .tags = "multi", .covers = "B246 B273",
          .spec = "mq_receive(3)",
          .desc = "a process blocked in mq_receive, and one in mq_timedreceive with a far deadline, on an empty queue returns the message another process sends, with its priority")
{
    char name[MQ_NAME_LEN];
    mqd_t q = mq_fresh(name, "q", 2, 16, 0);
    for (int timed = 0; timed < 2; timed++) {
        struct waiter w = { q, timed, timed, 3 };
        struct ipcv_role *r = ipcv_spawn(timed ? "timedreceiver" : "receiver", receive_one, &w);
        ipcv_wait_ready(r);
        mq_expect_blocked(r, "mq_timedreceive");
        char m[4] = { 'm', 's', 'g', (char)('0' + timed) };
        SAFE(mq_send(q, m, 4, 3));
        ipcv_join(r, IPCV_EXITED(0));
        ipcv_expect_eq(0, mq_count(q));
    }
    mq_gone(q, name);
}

static int send_one(struct ipcv_role *self, void *arg)
{
    struct waiter *w = arg;
    ipcv_ready(self);
    char m[4] = { 'm', 's', 'g', (char)('0' + w->index) };
    struct timespec later = mq_in_ms(20000);
    ipcv_expect_eq(0, w->timed ? mq_timedsend(w->q, m, 4, w->prio, &later) : mq_send(w->q, m, 4, w->prio));
    return 0;
}

/* mq_send(3): "If the message queue is already full ... by default,
 * mq_send() blocks until sufficient space becomes available to allow the
 * message to be queued". */
IPCV_CASE(posix_mq, blocked_sender_completes_when_room_is_made,
          .tags = "multi", .covers = "B235 B257",
          .spec = "mq_send(3)",
          .desc = "a process blocked in mq_send, and one in mq_timedsend, on a full queue completes once another process receives, and its message follows the one that was there")
{
    char name[MQ_NAME_LEN];
    mqd_t q = mq_fresh(name, "q", 1, 16, 0);
    for (int timed = 0; timed < 2; timed++) {
        SAFE(mq_send(q, "old", 3, 1));
        struct waiter w = { q, timed, timed, 1 };
        struct ipcv_role *r = ipcv_spawn(timed ? "timedsender" : "sender", send_one, &w);
        ipcv_wait_ready(r);
        mq_expect_blocked(r, "mq_timedsend");
        ipcv_expect_eq(1, mq_count(q));
        char buf[16];
        unsigned prio;
        struct timespec soon = mq_in_ms(5000);
        ipcv_expect_eq(3, mq_timedreceive(q, buf, sizeof buf, &prio, &soon));
        ipcv_expect_mem("old", buf, 3);
        ipcv_join(r, IPCV_EXITED(0));
        soon = mq_in_ms(5000);
        ipcv_expect_eq(4, mq_timedreceive(q, buf, sizeof buf, &prio, &soon));
        ipcv_expect_true(buf[3] == '0' + timed, "expected \"msg%d\", seen \"%.4s\"", timed, buf);
    }
    mq_gone(q, name);
}

#define WAITERS 3

/* POSIX.1-2017 mq_send(): "If more than one thread is waiting to receive
 * a message when a message arrives at an empty queue and the Priority
 * Scheduling option is supported, then the thread of highest priority
 * that has been waiting the longest shall be selected to receive the
 * message." All here have the same priority: the longest waiter wins. */
IPCV_CASE(posix_mq, blocked_receivers_are_served_in_the_order_they_blocked,
          .tags = "multi sync", .covers = "B246 B273",
          .spec = "POSIX.1-2017 mq_send(), mq_receive()",
          .desc = "three processes block in mq_receive one after the other; three messages sent then go to them in that order, one each")
{
    char name[MQ_NAME_LEN];
    mqd_t q = mq_fresh(name, "q", 4, 16, 0);
    struct ipcv_role *r[WAITERS];
    for (int i = 0; i < WAITERS; i++) {
        struct waiter w = { q, i == 1, i, 0 };
        r[i] = ipcv_spawn("receiver", receive_one, &w);
        ipcv_wait_ready(r[i]);
        mq_expect_blocked(r[i], "mq_timedreceive");
    }
    for (int i = 0; i < WAITERS; i++) {
        char m[4] = { 'm', 's', 'g', (char)('0' + i) };
        SAFE(mq_send(q, m, 4, 0));
    }
    for (int i = 0; i < WAITERS; i++)
        ipcv_join(r[i], IPCV_EXITED(0));
    ipcv_expect_eq(0, mq_count(q));
    mq_gone(q, name);
}

/* POSIX.1-2017 mq_send(): "If more than one thread is waiting to send
 * when space becomes available in the message queue and the Priority
 * Scheduling option is supported, then the thread of the highest
 * priority that has been waiting the longest shall be unblocked to send
 * its message." */
IPCV_CASE(posix_mq, blocked_senders_are_admitted_in_the_order_they_blocked,
          .tags = "multi sync", .covers = "B235 B257",
          .spec = "POSIX.1-2017 mq_send()",
          .desc = "three processes block in mq_send on a full queue one after the other; as room is made their messages enter in that order, after the one that was there")
{
    char name[MQ_NAME_LEN];
    mqd_t q = mq_fresh(name, "q", 1, 16, 0);
    SAFE(mq_send(q, "old", 3, 0));
    struct ipcv_role *r[WAITERS];
    for (int i = 0; i < WAITERS; i++) {
        struct waiter w = { q, i == 1, i, 0 };
        r[i] = ipcv_spawn("sender", send_one, &w);
        ipcv_wait_ready(r[i]);
        mq_expect_blocked(r[i], "mq_timedsend");
    }
    char buf[16];
    unsigned prio;
    struct timespec soon = mq_in_ms(5000);
    ipcv_expect_eq(3, mq_timedreceive(q, buf, sizeof buf, &prio, &soon));
    for (int i = 0; i < WAITERS; i++) {
        soon = mq_in_ms(5000);
        ssize_t got = mq_timedreceive(q, buf, sizeof buf, &prio, &soon);
        ipcv_expect_true(got == 4 && buf[3] == '0' + i, "message %d: expected \"msg%d\", seen %zd bytes \"%.4s\"",
                         i + 1, i, got, got == 4 ? buf : "");
    }
    for (int i = 0; i < WAITERS; i++)
        ipcv_join(r[i], IPCV_EXITED(0));
    mq_gone(q, name);
}

static int receive_and_report(struct ipcv_role *self, void *arg)
{
    struct waiter *w = arg;
    atomic_int *got = (void *)ipcv_self.page->scratch;
    ipcv_ready(self);
    char buf[16];
    unsigned prio;
    ssize_t n = mq_receive(w->q, buf, sizeof buf, &prio);
    if (n == 4 && buf[3] >= '0' && buf[3] < '0' + WAITERS)
        atomic_fetch_add(&got[buf[3] - '0'], 1);
    else
        ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "mq_receive returned %zd: %s", n,
                    n < 0 ? ipcv_errname(errno) : "not one of the messages sent");
    return 0;
}

static int count_ended(struct ipcv_role **r, int n)
{
    int ended = 0;
    for (int i = 0; i < n; i++) {
        char desc[200];
        ipcv_describe_blocked(ipcv_role_pid(r[i]), 0, desc, sizeof desc);
        ended += !strcmp(desc, "gone") || !strncmp(desc, "exited", 6);
    }
    return ended;
}

struct ended_probe { struct ipcv_role **r; int n, want; };

static int enough_ended(void *arg)
{
    struct ended_probe *p = arg;
    return count_ended(p->r, p->n) >= p->want;
}

/* mq_receive(3) "removes the oldest message with the highest priority":
 * one message is removed once, so one message wakes one receiver -- the
 * others stay blocked -- and every message goes to exactly one. */
IPCV_CASE(posix_mq, one_message_wakes_exactly_one_of_several_blocked_receivers,
          .tags = "multi sync", .covers = "B246 B244",
          .spec = "mq_receive(3)",
          .desc = "with three processes blocked in mq_receive, one message ends exactly one of them while two stay blocked; two more messages end the others; each message is received exactly once")
{
    char name[MQ_NAME_LEN];
    mqd_t q = mq_fresh(name, "q", 4, 16, 0);
    atomic_int *got = (void *)ipcv_self.page->scratch;
    struct ipcv_role *r[WAITERS];
    for (int i = 0; i < WAITERS; i++) {
        struct waiter w = { q, 0, i, 0 };
        r[i] = ipcv_spawn("receiver", receive_and_report, &w);
    }
    for (int i = 0; i < WAITERS; i++) {
        ipcv_wait_ready(r[i]);
        mq_expect_blocked(r[i], "mq_timedreceive");
    }
    SAFE(mq_send(q, "msg0", 4, 0));
    struct ended_probe p = { r, WAITERS, 1 };
    ipcv_expect_true(ipcv_poll_until(enough_ended, &p, ipcv_wait_bound()), "no receiver returned");
    int still = 0;
    for (int i = 0; i < WAITERS; i++) {
        char desc[200];
        ipcv_describe_blocked(ipcv_role_pid(r[i]), 0, desc, sizeof desc);
        still += !strncmp(desc, "mq_timedreceive ", 16);
    }
    ipcv_expect_eq(WAITERS - 1, still);
    SAFE(mq_send(q, "msg1", 4, 0));
    SAFE(mq_send(q, "msg2", 4, 0));
    for (int i = 0; i < WAITERS; i++)
        ipcv_join(r[i], IPCV_EXITED(0));
    for (int i = 0; i < WAITERS; i++)
        ipcv_expect_eq(1, atomic_load(&got[i]));
    ipcv_expect_eq(0, mq_count(q));
    mq_gone(q, name);
}

#define SENDERS 4
#define PER_SENDER 60

struct stress { mqd_t q; uint32_t sender; uint32_t count; int prios; };

static unsigned stress_prio(uint32_t sender, uint32_t seq, int prios)
{
    return (seq * 7 + sender * 3) % (unsigned)prios;
}

static int send_sequence(struct ipcv_role *self, void *arg)
{
    struct stress *s = arg;
    ipcv_ready(self);
    ipcv_checkpoint_wait(0, 1);
    for (uint32_t seq = 0; seq < s->count; seq++) {
        unsigned prio = stress_prio(s->sender, seq, s->prios);
        struct seqmsg m = seq_make(s->sender, seq, prio);
        if (mq_send(s->q, (char *)&m, sizeof m, prio) != 0) {
            ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "sender %u, message %u: mq_send: %s",
                        s->sender, seq, ipcv_errname(errno));
            return 0;
        }
    }
    return 0;
}

/* mq_send(3): decreasing priority order, and "newer messages of the same
 * priority being placed after older messages with the same priority" --
 * which, with several processes sending at once, keeps each sender's
 * messages of one priority in the order it sent them. */
IPCV_CASE(posix_mq, concurrent_senders_keep_priority_order_and_each_senders_fifo,
          .tags = "multi sync", .covers = "B233 B255 B598 B439",
          .spec = "mq_send(3), mq_receive(3)",
          .desc = "four processes released together send 60 numbered messages each at priorities 0-4 into one queue; drained, the 240 messages come out by priority, each sender's in its order within a priority, every one exactly once and intact")
{
    IPCV_SET_LIMIT("msg_max", SENDERS * PER_SENDER);
    char name[MQ_NAME_LEN];
    mqd_t q = mq_fresh(name, "q", SENDERS * PER_SENDER, sizeof(struct seqmsg), 0);
    struct ipcv_role *r[SENDERS];
    for (uint32_t k = 0; k < SENDERS; k++) {
        struct stress s = { q, k, PER_SENDER, 5 };
        r[k] = ipcv_spawn("sender", send_sequence, &s);
        ipcv_wait_ready(r[k]);
    }
    ipcv_checkpoint_signal(0);
    for (int k = 0; k < SENDERS; k++)
        ipcv_join(r[k], IPCV_EXITED(0));

    int seen[SENDERS][PER_SENDER] = { { 0 } };
    int64_t last[SENDERS][5];
    memset(last, -1, sizeof last);
    unsigned prev_prio = MQ_PRIO_MAX;
    int bad = 0;
    struct timespec past = { 0, 0 };
    struct seqmsg m;
    unsigned prio;
    while (mq_timedreceive(q, (char *)&m, sizeof m, &prio, &past) == sizeof m) {
        if (m.sender >= SENDERS || m.seq >= PER_SENDER || m.prio != prio ||
            m.check != seq_check(m.sender, m.seq, m.prio)) {
            if (bad++ < 3)
                ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "damaged message: sender %u seq %u prio %u/%u",
                            m.sender, m.seq, m.prio, prio);
            continue;
        }
        if (prio > prev_prio && bad++ < 3)
            ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "priority %u came after priority %u", prio, prev_prio);
        prev_prio = prio;
        if ((int64_t)m.seq <= last[m.sender][prio] && bad++ < 3)
            ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "sender %u priority %u: message %u came after %jd",
                        m.sender, prio, m.seq, (intmax_t)last[m.sender][prio]);
        last[m.sender][prio] = m.seq;
        seen[m.sender][m.seq]++;
    }
    int missing = 0, twice = 0;
    for (int k = 0; k < SENDERS; k++)
        for (int i = 0; i < PER_SENDER; i++) {
            missing += seen[k][i] == 0;
            twice += seen[k][i] > 1;
        }
    ipcv_expect_eq(0, missing);
    ipcv_expect_eq(0, twice);
    mq_gone(q, name);
}

#define MIX_SENDERS 3
#define MIX_RECEIVERS 2
#define MIX_COUNT 300
#define MIX_PRIOS 4
#define STOP_SENDER 0xffffu

struct mix_tally { atomic_uchar seen[MIX_SENDERS][MIX_COUNT]; atomic_int damaged, disorder; };

static int receive_until_stop(struct ipcv_role *self, void *arg)
{
    struct stress *s = arg;
    struct mix_tally *t = (void *)ipcv_self.page->scratch;
    int64_t last[MIX_SENDERS][MIX_PRIOS];
    memset(last, -1, sizeof last);
    ipcv_ready(self);
    for (;;) {
        struct seqmsg m;
        unsigned prio;
        struct timespec later = mq_in_ms(10000);
        ssize_t n = mq_timedreceive(s->q, (char *)&m, sizeof m, &prio, &later);
        if (n != sizeof m) {
            ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "mq_timedreceive returned %zd: %s", n,
                        n < 0 ? ipcv_errname(errno) : "short message");
            return 0;
        }
        if (m.sender == STOP_SENDER)
            return 0;
        if (m.sender >= MIX_SENDERS || m.seq >= MIX_COUNT || m.prio != prio ||
            m.check != seq_check(m.sender, m.seq, m.prio)) {
            atomic_fetch_add(&t->damaged, 1);
            continue;
        }
        /* What one receiver takes is in queue order: within a sender and
         * a priority, sequence numbers only grow. */
        if ((int64_t)m.seq <= last[m.sender][prio])
            atomic_fetch_add(&t->disorder, 1);
        last[m.sender][prio] = m.seq;
        atomic_fetch_add(&t->seen[m.sender][m.seq], 1);
    }
}

/* mq_overview(7), mq_send(3), mq_receive(3): with senders and receivers
 * in several processes, on a queue small enough that both sides block,
 * every message is delivered exactly once, intact, and each sender's
 * messages of one priority in its order. */
IPCV_CASE(posix_mq, concurrent_senders_and_receivers_deliver_every_message_exactly_once,
          .tags = "multi sync", .covers = "B439 B443",
          .spec = "mq_send(3), mq_receive(3)",
          .desc = "three sender processes (300 numbered messages each, priorities 0-3) and two receiver processes share a 4-message queue; every message arrives exactly once with a good check, in per-sender order within a priority")
{
    char name[MQ_NAME_LEN];
    mqd_t q = mq_fresh(name, "q", 4, sizeof(struct seqmsg), 0);
    struct mix_tally *t = (void *)ipcv_self.page->scratch;
    struct ipcv_role *rx[MIX_RECEIVERS], *tx[MIX_SENDERS];
    for (int i = 0; i < MIX_RECEIVERS; i++) {
        struct stress s = { q, 0, 0, MIX_PRIOS };
        rx[i] = ipcv_spawn("receiver", receive_until_stop, &s);
        ipcv_wait_ready(rx[i]);
    }
    for (uint32_t k = 0; k < MIX_SENDERS; k++) {
        struct stress s = { q, k, MIX_COUNT, MIX_PRIOS };
        tx[k] = ipcv_spawn("sender", send_sequence, &s);
        ipcv_wait_ready(tx[k]);
    }
    ipcv_checkpoint_signal(0);
    for (int k = 0; k < MIX_SENDERS; k++)
        ipcv_join(tx[k], IPCV_EXITED(0));
    /* All data is sent: stop messages at priority 0 queue behind it. */
    for (int i = 0; i < MIX_RECEIVERS; i++) {
        struct seqmsg stop = seq_make(STOP_SENDER, 0, 0);
        struct timespec later = mq_in_ms(5000);
        ipcv_expect_eq(0, mq_timedsend(q, (char *)&stop, sizeof stop, 0, &later));
    }
    for (int i = 0; i < MIX_RECEIVERS; i++)
        ipcv_join(rx[i], IPCV_EXITED(0));
    int missing = 0, twice = 0;
    for (int k = 0; k < MIX_SENDERS; k++)
        for (int i = 0; i < MIX_COUNT; i++) {
            missing += atomic_load(&t->seen[k][i]) == 0;
            twice += atomic_load(&t->seen[k][i]) > 1;
        }
    ipcv_expect_eq(0, missing);
    ipcv_expect_eq(0, twice);
    ipcv_expect_eq(0, atomic_load(&t->damaged));
    ipcv_expect_eq(0, atomic_load(&t->disorder));
    ipcv_expect_eq(0, mq_count(q));
    mq_gone(q, name);
}

#define PAIRS 4
#define ROUNDS 20
#define STREAM 400

struct pair {
    mqd_t q;
    int id;
    pthread_barrier_t filled, drained;
    atomic_int errors;
};

static void *pair_sender(void *arg)
{
    struct pair *p = arg;
    unsigned seed = 17u + (unsigned)p->id;
    /* Phase 1: fill the queue, let the receiver drain it. */
    for (int round = 0; round < ROUNDS; round++) {
        for (uint32_t i = 0; i < 10; i++) {
            unsigned prio = (unsigned)rand_r(&seed) % 6;
            struct seqmsg m = seq_make((uint32_t)p->id, i, prio);
            if (mq_send(p->q, (char *)&m, sizeof m, prio) != 0)
                atomic_fetch_add(&p->errors, 1);
        }
        pthread_barrier_wait(&p->filled);
        pthread_barrier_wait(&p->drained);
    }
    /* Phase 2: a stream while the receiver takes it. */
    for (uint32_t i = 0; i < STREAM; i++) {
        unsigned prio = i % 3;
        struct seqmsg m = seq_make((uint32_t)p->id, i, prio);
        if (mq_send(p->q, (char *)&m, sizeof m, prio) != 0)
            atomic_fetch_add(&p->errors, 1);
    }
    return NULL;
}

static void *pair_receiver(void *arg)
{
    struct pair *p = arg;
    struct seqmsg m;
    unsigned prio;
    for (int round = 0; round < ROUNDS; round++) {
        pthread_barrier_wait(&p->filled);
        unsigned prev = MQ_PRIO_MAX;
        int64_t last[6];
        memset(last, -1, sizeof last);
        for (int i = 0; i < 10; i++) {
            if (mq_receive(p->q, (char *)&m, sizeof m, &prio) != sizeof m || prio > prev ||
                m.check != seq_check(m.sender, m.seq, m.prio) || m.prio != prio ||
                (int64_t)m.seq <= last[prio] || m.sender != (uint32_t)p->id)
                atomic_fetch_add(&p->errors, 1);
            prev = prio;
            if (prio < 6)
                last[prio] = m.seq;
        }
        pthread_barrier_wait(&p->drained);
    }
    int seen[STREAM] = { 0 };
    int64_t last[3] = { -1, -1, -1 };
    for (int i = 0; i < STREAM; i++) {
        struct timespec later = mq_in_ms(10000);
        if (mq_timedreceive(p->q, (char *)&m, sizeof m, &prio, &later) != sizeof m ||
            m.check != seq_check(m.sender, m.seq, m.prio) || m.seq >= STREAM || prio > 2) {
            atomic_fetch_add(&p->errors, 1);
            continue;
        }
        if ((int64_t)m.seq <= last[prio])
            atomic_fetch_add(&p->errors, 1);
        last[prio] = m.seq;
        seen[m.seq]++;
    }
    for (int i = 0; i < STREAM; i++)
        if (seen[i] != 1)
            atomic_fetch_add(&p->errors, 1);
    return NULL;
}

struct pair_names { char names[PAIRS][MQ_NAME_LEN]; mqd_t q[PAIRS]; };

/* The pairs run in a role: the coordinator cannot start threads. */
static int run_pairs(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct pair_names *pn = arg;
    static struct pair pairs[PAIRS];
    pthread_t th[PAIRS][2];
    for (int i = 0; i < PAIRS; i++) {
        pairs[i].q = pn->q[i];
        pairs[i].id = i;
        atomic_store(&pairs[i].errors, 0);
        SAFE_RC(pthread_barrier_init(&pairs[i].filled, NULL, 2));
        SAFE_RC(pthread_barrier_init(&pairs[i].drained, NULL, 2));
        SAFE_RC(pthread_create(&th[i][0], NULL, pair_sender, &pairs[i]));
        SAFE_RC(pthread_create(&th[i][1], NULL, pair_receiver, &pairs[i]));
    }
    for (int i = 0; i < PAIRS; i++) {
        pthread_join(th[i][0], NULL);
        pthread_join(th[i][1], NULL);
        if (atomic_load(&pairs[i].errors))
            ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "queue %d: %d messages lost, doubled, damaged or out of order",
                        i, atomic_load(&pairs[i].errors));
        ipcv_expect_eq(0, mq_count(pairs[i].q));
    }
    return 0;
}

/* Open POSIX testsuite functional/mqueues send_rev_2 and
 * stress/mqueues/multi_send_rev: threads on separate queues, each pair on
 * its own queue, get priority order and lose nothing. */
IPCV_CASE(posix_mq, threads_on_separate_queues_keep_priority_order_and_lose_nothing,
          .tags = "sync", .covers = "B440 B443",
          .spec = "mq_send(3), mq_receive(3)",
          .desc = "four sender/receiver thread pairs, each on its own queue: 20 rounds of a filled queue drained in priority order, then 400 messages streamed while received, none lost, none doubled, none out of order")
{
    struct pair_names pn;
    for (int i = 0; i < PAIRS; i++) {
        char suffix[8];
        snprintf(suffix, sizeof suffix, "p%d", i);
        pn.q[i] = mq_fresh(pn.names[i], suffix, 10, sizeof(struct seqmsg), 0);
    }
    struct ipcv_role *r = ipcv_spawn("threads", run_pairs, &pn);
    ipcv_join(r, IPCV_EXITED(0));
    for (int i = 0; i < PAIRS; i++)
        mq_gone(pn.q[i], pn.names[i]);
}

/* One step of a near-full queue: the model holds what must be queued. */
struct model { unsigned prio[16]; uint32_t seq[16]; int n; };

static int model_take(struct model *m)
{
    int best = 0;
    for (int i = 1; i < m->n; i++)
        if (m->prio[i] > m->prio[best] || (m->prio[i] == m->prio[best] && m->seq[i] < m->seq[best]))
            best = i;
    return best;
}

/* The workloads of the kernel's mq_perf_tests (a nearly full queue, with
 * constant, increasing, decreasing and random priorities), with what that
 * program never asserts: mq_receive(3) always takes "the oldest message
 * with the highest priority". */
IPCV_CASE(posix_mq, near_full_queue_keeps_priority_order_for_every_priority_pattern,
          .tags = "sync", .covers = "B638",
          .spec = "mq_receive(3); kernel selftests mq_perf_tests",
          .desc = "on a queue kept at 9 of 10 messages, 400 send/receive pairs per pattern (constant, increasing, decreasing, random priorities) each return the oldest message of the highest priority queued")
{
    char name[MQ_NAME_LEN];
    mqd_t q = mq_fresh(name, "q", 10, sizeof(struct seqmsg), 0);
    static const char *const patterns[] = { "constant", "increasing", "decreasing", "random" };
    for (int pat = 0; pat < 4; pat++) {
        struct model m = { .n = 0 };
        unsigned seed = 99;
        int bad = 0;
        for (uint32_t seq = 0; seq < 409; seq++) {
            unsigned prio = pat == 0 ? 5 : pat == 1 ? seq : pat == 2 ? 500 - seq : (unsigned)rand_r(&seed) % 8;
            struct seqmsg msg = seq_make(0, seq, prio);
            SAFE(mq_send(q, (char *)&msg, sizeof msg, prio));
            m.prio[m.n] = prio;
            m.seq[m.n++] = seq;
            if (m.n < 10)
                continue;
            int want = model_take(&m);
            struct seqmsg got;
            unsigned gprio;
            ssize_t n = mq_receive(q, (char *)&got, sizeof got, &gprio);
            if ((n != sizeof got || got.seq != m.seq[want] || gprio != m.prio[want]) && bad++ < 2)
                ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "%s priorities: expected message %u at priority %u, seen %u at %u",
                            patterns[pat], m.seq[want], m.prio[want], got.seq, gprio);
            m.prio[want] = m.prio[m.n - 1];
            m.seq[want] = m.seq[m.n - 1];
            m.n--;
        }
        struct timespec past = { 0, 0 };
        struct seqmsg got;
        unsigned gprio;
        while (mq_timedreceive(q, (char *)&got, sizeof got, &gprio, &past) > 0)
            ;
    }
    mq_gone(q, name);
}

struct named_waiter { char name[MQ_NAME_LEN]; };

static int open_and_wait(struct ipcv_role *self, void *arg)
{
    struct named_waiter *n = arg;
    mqd_t q = SAFE(mq_open(n->name, O_RDONLY));
    ipcv_ready(self);
    char buf[16];
    unsigned prio;
    ssize_t got = mq_receive(q, buf, sizeof buf, &prio);
    ipcv_expect_eq(4, got);
    if (got == 4)
        ipcv_expect_mem("late", buf, 4);
    mq_close(q);
    return 0;
}

/* mq_unlink(3): the name goes at once, the queue lives while a process
 * has it open -- including one blocked in mq_receive on it, which is not
 * woken by the unlink and still gets what is sent later. */
IPCV_CASE(posix_mq, unlink_while_a_receiver_is_blocked_leaves_it_waiting_on_the_queue,
          .tags = "multi cleanup", .covers = "B291",
          .spec = "mq_unlink(3)",
          .desc = "a process blocked in mq_receive stays blocked when the queue is unlinked, the name is gone, and a message sent later through an open descriptor reaches it")
{
    struct named_waiter n;
    mqd_t q = mq_fresh(n.name, "q", 2, 16, 0);
    struct ipcv_role *r = ipcv_spawn("receiver", open_and_wait, &n);
    ipcv_wait_ready(r);
    mq_expect_blocked(r, "mq_timedreceive");
    ipcv_expect_eq(0, mq_unlink(n.name));
    ipcv_expect_fail(ENOENT, mq_open(n.name, O_RDONLY));
    mq_expect_blocked(r, "mq_timedreceive");
    SAFE(mq_send(q, "late", 4, 0));
    ipcv_join(r, IPCV_EXITED(0));
    ipcv_expect_eq(0, mq_count(q));
    SAFE(mq_close(q));
}

static int receive_forever(struct ipcv_role *self, void *arg)
{
    struct waiter *w = arg;
    ipcv_ready(self);
    char buf[16];
    unsigned prio;
    mq_receive(w->q, buf, sizeof buf, &prio);
    ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "mq_receive returned while it should be blocked");
    return 0;
}

/* A receiver killed while blocked takes nothing with it: the next
 * message is queued for whoever comes next. */
IPCV_CASE(posix_mq, receiver_killed_while_blocked_leaves_the_next_message_queued,
          .tags = "multi crash", .covers = "B246",
          .spec = "mq_receive(3); mq_overview(7)",
          .desc = "a process blocked in mq_receive is killed with SIGKILL; a message sent afterwards is queued (mq_curmsgs 1) and another receive gets it")
{
    char name[MQ_NAME_LEN];
    mqd_t q = mq_fresh(name, "q", 2, 16, 0);
    struct waiter w = { q, 0, 0, 0 };
    struct ipcv_role *r = ipcv_spawn("receiver", receive_forever, &w);
    ipcv_wait_ready(r);
    mq_expect_blocked(r, "mq_timedreceive");
    SAFE(kill(ipcv_role_pid(r), SIGKILL));
    ipcv_join(r, IPCV_KILLED(SIGKILL));
    SAFE(mq_send(q, "next", 4, 2));
    ipcv_expect_eq(1, mq_count(q));
    char buf[16];
    unsigned prio;
    struct timespec soon = mq_in_ms(2000);
    ipcv_expect_eq(4, mq_timedreceive(q, buf, sizeof buf, &prio, &soon));
    ipcv_expect_mem("next", buf, 4);
    mq_gone(q, name);
}

static int take_one_then_hang(struct ipcv_role *self, void *arg)
{
    struct waiter *w = arg;
    char buf[16];
    unsigned prio;
    ipcv_expect_eq(5, mq_receive(w->q, buf, sizeof buf, &prio));
    ipcv_ready(self);
    pause();    /* killed here, before it does anything with the message */
    return 0;
}

/* mq_receive(3) removes the message: one taken by a process that then
 * dies is gone for good (the "crash between mq_receive and processing"
 * of anchors-gvisor-kernel-glibc.md section 6) -- never delivered again. */
IPCV_CASE(posix_mq, message_taken_by_a_receiver_that_dies_is_gone,
          .tags = "multi crash", .covers = "B244 B248",
          .spec = "mq_receive(3)",
          .desc = "a process takes the first of two messages and is killed before using it; the queue holds one message, and the next receive returns the second, never the first again")
{
    char name[MQ_NAME_LEN];
    mqd_t q = mq_fresh(name, "q", 2, 16, 0);
    SAFE(mq_send(q, "first", 5, 1));
    SAFE(mq_send(q, "secnd", 5, 1));
    struct waiter w = { q, 0, 0, 0 };
    struct ipcv_role *r = ipcv_spawn("receiver", take_one_then_hang, &w);
    ipcv_wait_ready(r);
    SAFE(kill(ipcv_role_pid(r), SIGKILL));
    ipcv_join(r, IPCV_KILLED(SIGKILL));
    ipcv_expect_eq(1, mq_count(q));
    char buf[16];
    unsigned prio;
    struct timespec past = { 0, 0 };
    ipcv_expect_eq(5, mq_timedreceive(q, buf, sizeof buf, &prio, &past));
    ipcv_expect_mem("secnd", buf, 5);
    ipcv_expect_fail(ETIMEDOUT, mq_timedreceive(q, buf, sizeof buf, &prio, &past));
    mq_gone(q, name);
}

static int send_forever(struct ipcv_role *self, void *arg)
{
    struct waiter *w = arg;
    ipcv_ready(self);
    mq_send(w->q, "ghost", 5, 9);
    ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "mq_send returned while it should be blocked");
    return 0;
}

/* A sender killed while blocked on a full queue leaves nothing behind:
 * the message it was sending is never queued. */
IPCV_CASE(posix_mq, sender_killed_while_blocked_adds_no_message,
          .tags = "multi crash", .covers = "B235",
          .spec = "mq_send(3)",
          .desc = "a process blocked in mq_send on a full queue is killed with SIGKILL; the queue holds only what was there, and once that is received it is empty")
{
    char name[MQ_NAME_LEN];
    mqd_t q = mq_fresh(name, "q", 1, 16, 0);
    SAFE(mq_send(q, "there", 5, 0));
    struct waiter w = { q, 0, 0, 0 };
    struct ipcv_role *r = ipcv_spawn("sender", send_forever, &w);
    ipcv_wait_ready(r);
    mq_expect_blocked(r, "mq_timedsend");
    SAFE(kill(ipcv_role_pid(r), SIGKILL));
    ipcv_join(r, IPCV_KILLED(SIGKILL));
    ipcv_expect_eq(1, mq_count(q));
    char buf[16];
    unsigned prio;
    struct timespec past = { 0, 0 };
    ipcv_expect_eq(5, mq_timedreceive(q, buf, sizeof buf, &prio, &past));
    ipcv_expect_mem("there", buf, 5);
    ipcv_expect_fail(ETIMEDOUT, mq_timedreceive(q, buf, sizeof buf, &prio, &past));
    mq_gone(q, name);
}
