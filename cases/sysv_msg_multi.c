/* SysV message queues across processes: blocking and wake-up, removal and
 * signals while blocked, processes killed while blocked, and ordering and
 * exactly-once delivery with several senders and receivers. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/msg.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ipcvet.h"

#define TEXT_MAX 8192
struct msgb { long mtype; char mtext[TEXT_MAX]; };

static void put(int id, long type, const void *text, size_t len)
{
    struct msgb m = { .mtype = type };
    memcpy(m.mtext, text, len);
    SAFE(msgsnd(id, &m, len, IPC_NOWAIT));
}

static struct msqid_ds stat_of(int id)
{
    struct msqid_ds ds;
    SAFE_MSGCTL(id, IPC_STAT, &ds);
    return ds;
}

/* Lower the queue's msg_qbytes and fill it with one message of that size. */
static void fill_to(int id, msglen_t bytes)
{
    struct msqid_ds ds = stat_of(id);
    ds.msg_qbytes = bytes;
    SAFE_MSGCTL(id, IPC_SET, &ds);
    static char text[TEXT_MAX];
    put(id, 1, text, bytes);
}

/* Is `pid` asleep (S or D) in system call `nr`? /proc/PID/syscall. */
static int sleeps_in(pid_t pid, long nr)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *paren = strrchr(buf, ')');
    if (!paren || (paren[2] != 'S' && paren[2] != 'D'))
        return 0;
    snprintf(path, sizeof path, "/proc/%d/syscall", (int)pid);
    f = fopen(path, "re");
    if (!f)
        return 0;
    long seen = -1;
    int ok = fscanf(f, "%ld", &seen) == 1;
    fclose(f);
    return ok && seen == nr;
}

/* --- blocking and wake-up ------------------------------------------------ */

struct rcv_job { int id; long msgtyp; long want_type; const char *want_text; int want_errno; };

static int blocking_receiver(struct ipcv_role *self, void *arg)
{
    struct rcv_job *j = arg;
    ipcv_ready(self);
    struct msgb m;
    memset(&m, 0, sizeof m);
    errno = 0;
    ssize_t n = msgrcv(j->id, &m, TEXT_MAX, j->msgtyp, 0);
    if (j->want_errno) {
        ipcv_expect_true(n == -1 && errno == j->want_errno, "blocked msgrcv: expected %s, seen %s",
                         ipcv_errname(j->want_errno), n == -1 ? ipcv_errname(errno) : "success");
        /* A call on the removed id is EINVAL: the id no longer exists. */
        ipcv_expect_fail(EINVAL, msgrcv(j->id, &m, TEXT_MAX, j->msgtyp, IPC_NOWAIT));
        return 0;
    }
    ipcv_expect_true(n == (ssize_t)strlen(j->want_text) && m.mtype == j->want_type &&
                     !memcmp(m.mtext, j->want_text, strlen(j->want_text)),
                     "blocked msgrcv(msgtyp %ld): expected type %ld '%s', seen %zd (%s) type %ld '%.*s'",
                     j->msgtyp, j->want_type, j->want_text, n, n < 0 ? ipcv_errname(errno) : "ok",
                     m.mtype, n > 0 ? (int)n : 0, m.mtext);
    return 0;
}

/* msgrcv(2): without IPC_NOWAIT "the calling process blocks until ... a
 * message of the desired type is placed in the queue". */
IPCV_CASE(sysv_msg, blocked_msgrcv_is_woken_by_a_msgsnd,
          .tags = "multi", .covers = "B505", .spec = "msgrcv(2) blocking",
          .desc = "a receiver asleep in msgrcv on an empty queue wakes when another process sends, and gets that message")
{
    int id = SAFE_MSGGET(IPC_PRIVATE, IPC_CREAT | 0600);
    struct rcv_job j = { id, 0, 4, "wake up", 0 };
    struct ipcv_role *r = ipcv_spawn("receiver", blocking_receiver, &j);
    ipcv_wait_ready(r);
    ipcv_wait_blocked(r, "msgrcv");
    put(id, 4, "wake up", 7);
    ipcv_join(r, IPCV_EXITED(0));
    ipcv_expect_eq(0, stat_of(id).msg_qnum);
    SAFE_MSGCTL(id, IPC_RMID, NULL);
}

/* msgrcv(2) msgtyp > 0: a receiver waiting for type 2 is not given, and
 * does not take, a message of type 1. */
IPCV_CASE(sysv_msg, blocked_typed_msgrcv_ignores_other_types,
          .tags = "multi", .covers = "B506", .spec = "msgrcv(2) msgtyp > 0 blocking",
          .desc = "a receiver asleep in msgrcv(msgtyp 2) stays asleep when a type-1 message arrives (it stays queued), and wakes with the type-2 message that follows")
{
    int id = SAFE_MSGGET(IPC_PRIVATE, IPC_CREAT | 0600);
    struct rcv_job j = { id, 2, 2, "for two", 0 };
    struct ipcv_role *r = ipcv_spawn("receiver", blocking_receiver, &j);
    ipcv_wait_ready(r);
    ipcv_wait_blocked(r, "msgrcv");
    put(id, 1, "for one", 7);
    ipcv_expect_eq(1, stat_of(id).msg_qnum);
    ipcv_expect_true(sleeps_in(ipcv_role_pid(r), SYS_msgrcv),
                     "the type-2 receiver is no longer asleep in msgrcv after a type-1 send");
    put(id, 2, "for two", 7);
    ipcv_join(r, IPCV_EXITED(0));
    struct msgb m;
    ipcv_expect_eq(7, msgrcv(id, &m, TEXT_MAX, 0, IPC_NOWAIT));
    ipcv_expect_eq(1, m.mtype);
    SAFE_MSGCTL(id, IPC_RMID, NULL);
}

/* msgrcv(2) EIDRM: "While the process was sleeping to receive a message,
 * the message queue was removed." */
IPCV_CASE(sysv_msg, blocked_msgrcv_fails_eidrm_when_the_queue_is_removed,
          .tags = "multi cleanup", .covers = "B030 B509", .spec = "msgrcv(2) EIDRM",
          .desc = "a receiver asleep in msgrcv returns EIDRM when another process removes the queue, and a retry on the old id fails EINVAL")
{
    int id = SAFE_MSGGET(IPC_PRIVATE, IPC_CREAT | 0600);
    struct rcv_job j = { id, 0, 0, "", EIDRM };
    struct ipcv_role *r = ipcv_spawn("receiver", blocking_receiver, &j);
    ipcv_wait_ready(r);
    ipcv_wait_blocked(r, "msgrcv");
    SAFE_MSGCTL(id, IPC_RMID, NULL);
    ipcv_join(r, IPCV_EXITED(0));
}

static int blocking_sender(struct ipcv_role *self, void *arg)
{
    int id = *(int *)arg;
    ipcv_ready(self);
    struct msgb m = { .mtype = 1 };
    errno = 0;
    int rc = msgsnd(id, &m, 16, 0);
    ipcv_expect_true(rc == -1 && errno == EIDRM, "blocked msgsnd: expected EIDRM, seen %s",
                     rc == -1 ? ipcv_errname(errno) : "success");
    ipcv_expect_fail(EINVAL, msgsnd(id, &m, 16, IPC_NOWAIT));
    return 0;
}

/* msgsnd(2) EIDRM: "The message queue was removed." while the sender
 * slept waiting for room. */
IPCV_CASE(sysv_msg, blocked_msgsnd_fails_eidrm_when_the_queue_is_removed,
          .tags = "multi cleanup", .covers = "B044 B508", .spec = "msgsnd(2) EIDRM",
          .desc = "a sender asleep in msgsnd on a full queue returns EIDRM when another process removes the queue, and a retry fails EINVAL")
{
    int id = SAFE_MSGGET(IPC_PRIVATE, IPC_CREAT | 0600);
    fill_to(id, 64);
    struct ipcv_role *r = ipcv_spawn("sender", blocking_sender, &id);
    ipcv_wait_ready(r);
    ipcv_wait_blocked(r, "msgsnd");
    SAFE_MSGCTL(id, IPC_RMID, NULL);
    ipcv_join(r, IPCV_EXITED(0));
}

/* --- interruption: never restarted --------------------------------------- */

struct intr_state { atomic_int handled, done; long rc; int err; };
#define INTR ((struct intr_state *)(void *)ipcv_self.page->scratch)

static void on_usr1(int sig)
{
    (void)sig;
    atomic_fetch_add(&INTR->handled, 1);
}

struct intr_job { int id; int sa_flags; int send; };

static int interrupted_call(struct ipcv_role *self, void *arg)
{
    struct intr_job *j = arg;
    struct sigaction sa = { .sa_handler = on_usr1, .sa_flags = j->sa_flags };
    sigemptyset(&sa.sa_mask);
    SAFE(sigaction(SIGUSR1, &sa, NULL));
    ipcv_ready(self);
    struct msgb m = { .mtype = 1 };
    errno = 0;
    long rc = j->send ? msgsnd(j->id, &m, 16, 0) : msgrcv(j->id, &m, TEXT_MAX, 0, 0);
    INTR->err = errno;
    INTR->rc = rc;
    atomic_store(&INTR->done, 1);
    return 0;
}

struct settle { pid_t pid; long nr; };

static int settled(void *arg)
{
    struct settle *s = arg;
    return atomic_load(&INTR->done) || (atomic_load(&INTR->handled) && sleeps_in(s->pid, s->nr));
}

/* signal(7): msgrcv and msgsnd "are never restarted after being
 * interrupted by a signal handler, regardless of the use of SA_RESTART;
 * they always fail with the error EINTR". Each row: block, signal, and if
 * the call went back to sleep instead, let it finish and fail the row. */
static void interrupt_rows(int send)
{
    static const struct { const char *what; int flags; } rows[] = {
        { "handler without SA_RESTART", 0 },
        { "handler with SA_RESTART", SA_RESTART },
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        int id = SAFE_MSGGET(IPC_PRIVATE, IPC_CREAT | 0600);
        if (send)
            fill_to(id, 16);
        memset(INTR, 0, sizeof *INTR);
        struct intr_job j = { id, rows[i].flags, send };
        struct ipcv_role *r = ipcv_spawn(send ? "sender" : "receiver", interrupted_call, &j);
        ipcv_wait_ready(r);
        ipcv_wait_blocked(r, send ? "msgsnd" : "msgrcv");
        SAFE(kill(ipcv_role_pid(r), SIGUSR1));
        struct settle s = { ipcv_role_pid(r), send ? SYS_msgsnd : SYS_msgrcv };
        if (!ipcv_poll_until(settled, &s, ipcv_wait_bound()))
            ipcv_brk(__FILE__, __LINE__, "%s: the role neither returned nor slept again after SIGUSR1", rows[i].what);
        if (!atomic_load(&INTR->done)) {
            struct msgb m = { .mtype = 1 };   /* it restarted: let it finish */
            if (send)
                SAFE(msgrcv(id, &m, TEXT_MAX, 0, IPC_NOWAIT));
            else
                put(id, 1, "late", 4);
        }
        ipcv_join(r, IPCV_EXITED(0));
        ipcv_expect_eq(1, atomic_load(&INTR->handled));
        ipcv_expect_true(INTR->rc == -1 && INTR->err == EINTR, "%s %s: expected EINTR, seen %s",
                         send ? "msgsnd" : "msgrcv", rows[i].what,
                         INTR->rc == -1 ? ipcv_errname(INTR->err) : "success after a restart");
        SAFE_MSGCTL(id, IPC_RMID, NULL);
    }
}

IPCV_CASE(sysv_msg, interrupted_msgrcv_fails_eintr_even_with_sa_restart,
          .tags = "multi fault", .covers = "B029 B511", .spec = "signal(7) Interruption of system calls; msgrcv(2) EINTR",
          .desc = "a receiver asleep in msgrcv whose SIGUSR1 handler runs returns EINTR, with and without SA_RESTART")
{
    interrupt_rows(0);
}

IPCV_CASE(sysv_msg, interrupted_msgsnd_fails_eintr_even_with_sa_restart,
          .tags = "multi fault", .covers = "B043 B512", .spec = "signal(7) Interruption of system calls; msgsnd(2) EINTR",
          .desc = "a sender asleep in msgsnd on a full queue whose SIGUSR1 handler runs returns EINTR, with and without SA_RESTART")
{
    interrupt_rows(1);
}

/* --- processes killed while blocked -------------------------------------- */

static int receive_forever(struct ipcv_role *self, void *arg)
{
    ipcv_ready(self);
    struct msgb m;
    msgrcv(*(int *)arg, &m, TEXT_MAX, 0, 0);
    return 0;
}

/* msgrcv(2): a message is taken only by a receiver that returns with it; a
 * receiver killed while asleep leaves the next message on the queue. */
IPCV_CASE(sysv_msg, receiver_killed_while_blocked_takes_no_message,
          .tags = "multi crash", .spec = "msgrcv(2), msgsnd(2)",
          .desc = "a receiver SIGKILLed while asleep in msgrcv does not swallow the message sent afterwards: qnum is 1 and another receive gets it")
{
    int id = SAFE_MSGGET(IPC_PRIVATE, IPC_CREAT | 0600);
    struct ipcv_role *r = ipcv_spawn("receiver", receive_forever, &id);
    ipcv_wait_ready(r);
    ipcv_wait_blocked(r, "msgrcv");
    SAFE(kill(ipcv_role_pid(r), SIGKILL));
    ipcv_join(r, IPCV_KILLED(SIGKILL));
    put(id, 6, "after", 5);
    ipcv_expect_eq(1, stat_of(id).msg_qnum);
    struct msgb m;
    ipcv_expect_eq(5, msgrcv(id, &m, TEXT_MAX, 0, IPC_NOWAIT));
    SAFE_MSGCTL(id, IPC_RMID, NULL);
}

static int send_forever(struct ipcv_role *self, void *arg)
{
    ipcv_ready(self);
    struct msgb m = { .mtype = 2 };
    msgsnd(*(int *)arg, &m, 32, 0);
    return 0;
}

/* msgsnd(2): a message is queued whole or not at all; a sender killed
 * while waiting for room leaves the queue as it was, and usable. */
IPCV_CASE(sysv_msg, sender_killed_while_blocked_leaves_no_partial_message,
          .tags = "multi crash", .spec = "msgsnd(2)",
          .desc = "a sender SIGKILLed while asleep in msgsnd on a full queue adds nothing: qnum 1 and cbytes 64 stay, and after a receive a new send fits")
{
    int id = SAFE_MSGGET(IPC_PRIVATE, IPC_CREAT | 0600);
    fill_to(id, 64);
    struct ipcv_role *r = ipcv_spawn("sender", send_forever, &id);
    ipcv_wait_ready(r);
    ipcv_wait_blocked(r, "msgsnd");
    SAFE(kill(ipcv_role_pid(r), SIGKILL));
    ipcv_join(r, IPCV_KILLED(SIGKILL));
    struct msqid_ds ds = stat_of(id);
    ipcv_expect_eq(1, ds.msg_qnum);
    ipcv_expect_eq(64, ds.msg_cbytes);
    struct msgb m;
    ipcv_expect_eq(64, msgrcv(id, &m, TEXT_MAX, 0, IPC_NOWAIT));
    ipcv_expect_eq(1, m.mtype);
    m.mtype = 3;
    ipcv_expect_ok(msgsnd(id, &m, 32, IPC_NOWAIT));
    ipcv_expect_eq(1, stat_of(id).msg_qnum);
    SAFE_MSGCTL(id, IPC_RMID, NULL);
}

/* --- ordering and exactly-once delivery ----------------------------------- */

#define SENDERS 4
#define PER_SENDER 240           /* even: see tests/mutants/sysv_msg.tsv */
#define CP_GO 0

struct rec { uint16_t sender, seq; uint32_t sum; uint8_t payload[300]; };

static uint32_t rec_sum(const struct rec *r, size_t len)
{
    uint32_t h = 2166136261u ^ r->sender ^ ((uint32_t)r->seq << 16);
    for (size_t i = 0; i < len; i++)
        h = (h ^ r->payload[i]) * 16777619u;
    return h;
}

static size_t rec_len(unsigned sender, unsigned seq)
{
    return (seq * 37 + sender * 11) % 300;
}

struct stream_job { int id; unsigned sender; int typed; };

/* A sender: PER_SENDER records with its number, a sequence number, a
 * payload of varying size and a checksum; the type is 1, or 1..4 in turn. */
static int stream_sender(struct ipcv_role *self, void *arg)
{
    struct stream_job *j = arg;
    ipcv_ready(self);
    ipcv_checkpoint_wait(CP_GO, 1);
    struct { long mtype; struct rec r; } m;
    for (unsigned seq = 0; seq < PER_SENDER; seq++) {
        size_t len = rec_len(j->sender, seq);
        m.mtype = j->typed ? (long)(seq % 4) + 1 : 1;
        m.r.sender = (uint16_t)j->sender;
        m.r.seq = (uint16_t)seq;
        for (size_t i = 0; i < len; i++)
            m.r.payload[i] = (uint8_t)(seq + i * j->sender);
        m.r.sum = rec_sum(&m.r, len);
        SAFE(msgsnd(j->id, &m, offsetof(struct rec, payload) + len, 0));
    }
    return 0;
}

/* Check one received record; returns 0 if it is malformed. */
static int rec_ok(const struct rec *r, ssize_t n)
{
    if (n < (ssize_t)offsetof(struct rec, payload) || r->sender >= SENDERS || r->seq >= PER_SENDER)
        return 0;
    size_t len = (size_t)n - offsetof(struct rec, payload);
    return len == rec_len(r->sender, r->seq) && r->sum == rec_sum(r, len);
}

static void start_senders(struct ipcv_role **s, struct stream_job *jobs, int id, int typed)
{
    for (unsigned i = 0; i < SENDERS; i++) {
        jobs[i] = (struct stream_job){ id, i, typed };
        char name[16];
        snprintf(name, sizeof name, "sender%u", i);
        s[i] = ipcv_spawn(name, stream_sender, &jobs[i]);
        ipcv_wait_ready(s[i]);
    }
}

static int ordered_receiver(struct ipcv_role *self, void *arg)
{
    int id = *(int *)arg;
    ipcv_ready(self);
    unsigned next[SENDERS] = { 0 }, bad = 0, disorder = 0;
    struct { long mtype; struct rec r; } m;
    for (unsigned k = 0; k < SENDERS * PER_SENDER; k++) {
        ssize_t n = msgrcv(id, &m, sizeof m.r, 0, 0);
        if (!rec_ok(&m.r, n)) {
            bad++;
            continue;
        }
        if (m.r.seq != next[m.r.sender])
            disorder++;
        next[m.r.sender] = m.r.seq + 1u;
    }
    ipcv_expect_eq(0, bad);
    ipcv_expect_true(disorder == 0, "%u records arrived out of their sender's order", disorder);
    return 0;
}

/* msgsnd(2)/msgrcv(2): a queue is FIFO, so the messages of each sender
 * arrive in the order that sender sent them, however several senders in
 * different processes interleave. */
IPCV_CASE(sysv_msg, each_sender_keeps_its_order_among_concurrent_senders,
          .tags = "multi sync", .spec = "msgrcv(2) msgtyp 0 (first message in the queue)",
          .desc = "four sender processes each send 240 numbered, checksummed records of one type at once; one receiver sees every record intact and each sender's records in its sequence order")
{
    int id = SAFE_MSGGET(IPC_PRIVATE, IPC_CREAT | 0600);
    struct ipcv_role *rcv = ipcv_spawn("receiver", ordered_receiver, &id);
    ipcv_wait_ready(rcv);
    struct ipcv_role *s[SENDERS];
    struct stream_job jobs[SENDERS];
    start_senders(s, jobs, id, 0);
    ipcv_checkpoint_signal(CP_GO);
    for (int i = 0; i < SENDERS; i++)
        ipcv_join(s[i], IPCV_EXITED(0));
    ipcv_join(rcv, IPCV_EXITED(0));
    ipcv_expect_eq(0, stat_of(id).msg_qnum);
    SAFE_MSGCTL(id, IPC_RMID, NULL);
}

struct typed_job { int id; long type; };

static int typed_receiver(struct ipcv_role *self, void *arg)
{
    struct typed_job *j = arg;
    ipcv_ready(self);
    unsigned next[SENDERS], bad = 0, wrong = 0, disorder = 0;
    for (unsigned i = 0; i < SENDERS; i++)
        next[i] = (unsigned)j->type - 1;
    struct { long mtype; struct rec r; } m;
    for (unsigned k = 0; k < PER_SENDER; k++) {   /* SENDERS * PER_SENDER / 4 types */
        ssize_t n = msgrcv(j->id, &m, sizeof m.r, j->type, 0);
        if (!rec_ok(&m.r, n)) {
            bad++;
            continue;
        }
        if (m.mtype != j->type || m.r.seq % 4 != (unsigned)j->type - 1)
            wrong++;
        if (m.r.seq != next[m.r.sender])
            disorder++;
        next[m.r.sender] = m.r.seq + 4u;
    }
    ipcv_expect_eq(0, bad);
    ipcv_expect_true(wrong == 0, "receiver of type %ld got %u records of another type", j->type, wrong);
    ipcv_expect_true(disorder == 0, "receiver of type %ld: %u records out of their sender's order",
                     j->type, disorder);
    return 0;
}

/* msgrcv(2) msgtyp > 0 under load: four receivers, each of one type, take
 * only their type while four senders send all four types at once. */
IPCV_CASE(sysv_msg, typed_receivers_get_only_their_type_while_others_send,
          .tags = "multi sync", .covers = "B510", .spec = "msgrcv(2) msgtyp > 0",
          .desc = "four senders send types 1..4 in turn, four receivers each msgrcv one type: each gets exactly its 240 records, intact, in each sender's order, and the queue ends empty")
{
    int id = SAFE_MSGGET(IPC_PRIVATE, IPC_CREAT | 0600);
    struct ipcv_role *rcv[4];
    struct typed_job tj[4];
    for (int t = 0; t < 4; t++) {
        tj[t] = (struct typed_job){ id, t + 1 };
        char name[16];
        snprintf(name, sizeof name, "receiver%d", t + 1);
        rcv[t] = ipcv_spawn(name, typed_receiver, &tj[t]);
        ipcv_wait_ready(rcv[t]);
    }
    struct ipcv_role *s[SENDERS];
    struct stream_job jobs[SENDERS];
    start_senders(s, jobs, id, 1);
    ipcv_checkpoint_signal(CP_GO);
    for (int i = 0; i < SENDERS; i++)
        ipcv_join(s[i], IPCV_EXITED(0));
    for (int t = 0; t < 4; t++)
        ipcv_join(rcv[t], IPCV_EXITED(0));
    ipcv_expect_eq(0, stat_of(id).msg_qnum);
    SAFE_MSGCTL(id, IPC_RMID, NULL);
}

/* Shared by the receivers of the exactly-once case. */
struct once_state { atomic_uint received, duplicates, bad; atomic_uchar seen[SENDERS * PER_SENDER]; };
#define ONCE ((struct once_state *)(void *)ipcv_self.page->scratch)
#define STOP_TYPE 99

static int once_receiver(struct ipcv_role *self, void *arg)
{
    int id = *(int *)arg;
    ipcv_ready(self);
    struct { long mtype; struct rec r; } m;
    for (;;) {
        ssize_t n = msgrcv(id, &m, sizeof m.r, 0, 0);
        if (n >= 0 && m.mtype == STOP_TYPE)
            return 0;
        if (n < 0 && errno != EINTR) {
            ipcv_expect_true(0, "msgrcv: %s", ipcv_errname(errno));
            return 0;
        }
        if (!rec_ok(&m.r, n)) {
            atomic_fetch_add(&ONCE->bad, 1);
            continue;
        }
        if (atomic_exchange(&ONCE->seen[m.r.sender * PER_SENDER + m.r.seq], 1))
            atomic_fetch_add(&ONCE->duplicates, 1);
        atomic_fetch_add(&ONCE->received, 1);
    }
}

static int all_received(void *arg)
{
    (void)arg;
    return atomic_load(&ONCE->received) >= SENDERS * PER_SENDER;
}

/* msgsnd(2)/msgrcv(2): every message sent is received exactly once, with
 * several senders and several receivers in different processes. */
IPCV_CASE(sysv_msg, every_message_is_delivered_exactly_once_to_concurrent_receivers,
          .tags = "multi sync", .covers = "B045", .spec = "msgsnd(2), msgrcv(2)",
          .desc = "four senders send 960 numbered, checksummed records while three receivers take any type: each record is received exactly once, intact, and nothing is left")
{
    _Static_assert(sizeof(struct once_state) <= sizeof ipcv_self.page->scratch, "scratch too small");
    int id = SAFE_MSGGET(IPC_PRIVATE, IPC_CREAT | 0600);
    memset(ONCE, 0, sizeof *ONCE);
    struct ipcv_role *rcv[3];
    for (int i = 0; i < 3; i++) {
        char name[16];
        snprintf(name, sizeof name, "receiver%d", i);
        rcv[i] = ipcv_spawn(name, once_receiver, &id);
        ipcv_wait_ready(rcv[i]);
    }
    struct ipcv_role *s[SENDERS];
    struct stream_job jobs[SENDERS];
    start_senders(s, jobs, id, 0);
    ipcv_checkpoint_signal(CP_GO);
    for (int i = 0; i < SENDERS; i++)
        ipcv_join(s[i], IPCV_EXITED(0));
    ipcv_expect_true(ipcv_poll_until(all_received, NULL, ipcv_wait_bound()),
                     "only %u of %d records were received", atomic_load(&ONCE->received),
                     SENDERS * PER_SENDER);
    for (int i = 0; i < 3; i++) {
        struct msgb stop = { .mtype = STOP_TYPE };
        SAFE(msgsnd(id, &stop, 0, 0));
    }
    for (int i = 0; i < 3; i++)
        ipcv_join(rcv[i], IPCV_EXITED(0));
    ipcv_expect_eq(SENDERS * PER_SENDER, atomic_load(&ONCE->received));
    ipcv_expect_eq(0, atomic_load(&ONCE->duplicates));
    ipcv_expect_eq(0, atomic_load(&ONCE->bad));
    unsigned missing = 0;
    for (unsigned i = 0; i < SENDERS * PER_SENDER; i++)
        missing += !atomic_load(&ONCE->seen[i]);
    ipcv_expect_eq(0, missing);
    ipcv_expect_eq(0, stat_of(id).msg_qnum);
    SAFE_MSGCTL(id, IPC_RMID, NULL);
}
