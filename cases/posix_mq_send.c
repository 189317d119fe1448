/* POSIX message queues: mq_send, mq_timedsend, mq_receive, mq_timedreceive
 * in one process: data, priorities, sizes, descriptors, O_NONBLOCK and
 * deadlines. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "posix_mq.h"

enum via { VIA_PLAIN, VIA_TIMED, VIA_RAW, VIA_RAW_TIMED };

static int send_via(enum via v, mqd_t q, const char *msg, size_t len, unsigned prio)
{
    struct timespec later = mq_in_ms(5000);
    switch (v) {
    case VIA_PLAIN: return mq_send(q, msg, len, prio);
    case VIA_TIMED: return mq_timedsend(q, msg, len, prio, &later);
    case VIA_RAW:   return (int)syscall(SYS_mq_timedsend, q, msg, len, prio, NULL);
    default:        return (int)syscall(SYS_mq_timedsend, q, msg, len, prio, &later);
    }
}

static ssize_t receive_via(enum via v, mqd_t q, char *buf, size_t len, unsigned *prio)
{
    struct timespec later = mq_in_ms(5000);
    switch (v) {
    case VIA_PLAIN: return mq_receive(q, buf, len, prio);
    case VIA_TIMED: return mq_timedreceive(q, buf, len, prio, &later);
    case VIA_RAW:   return syscall(SYS_mq_timedreceive, q, buf, len, prio, NULL);
    default:        return syscall(SYS_mq_timedreceive, q, buf, len, prio, &later);
    }
}

static const char *const via_name[] = { "mq_send/mq_receive", "mq_timedsend/mq_timedreceive",
                                        "raw syscalls, no timeout", "raw syscalls, timeout" };

/* mq_send(3), mq_receive(3): the message, its length and its priority
 * come back as sent (LTP mq_timedsend01/mq_timedreceive01: 0, 1 and
 * 8192 bytes at MQ_PRIO_MAX-1, libc and raw syscall). */
IPCV_CASE(posix_mq, send_and_receive_keep_data_length_and_priority,
          .tags = "api", .covers = "B146 B155 B248 B277",
          .spec = "mq_send(3), mq_receive(3)",
          .desc = "messages of 0, 1, 100 and 8192 bytes at priorities 0, 1, 77 and MQ_PRIO_MAX-1 come back with the same bytes, length and priority through the libc calls and the raw syscalls")
{
    char name[MQ_NAME_LEN];
    mqd_t q = mq_fresh(name, "q", 4, 8192, 0);
    static char msg[8192], buf[8192];
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (char)(i * 31 + 7);
    static const struct { size_t len; unsigned prio; } tcases[] = {
        { 0, 0 }, { 1, MQ_PRIO_MAX - 1 }, { 100, 77 }, { 8192, MQ_PRIO_MAX - 1 }, { 8192, 1 },
    };
    for (int v = VIA_PLAIN; v <= VIA_RAW_TIMED; v++) {
        for (size_t i = 0; i < sizeof tcases / sizeof tcases[0]; i++) {
            size_t len = tcases[i].len;
            if (send_via(v, q, msg + i, len, tcases[i].prio) != 0) {
                ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "%s: send of %zu bytes: %s",
                            via_name[v], len, ipcv_errname(errno));
                continue;
            }
            unsigned prio = 12345;
            memset(buf, 0, sizeof buf);
            ssize_t got = receive_via(v, q, buf, sizeof buf, &prio);
            if (got != (ssize_t)len || prio != tcases[i].prio || memcmp(buf, msg + i, len) != 0)
                ipcv_record(IPCV_FAIL, __FILE__, __LINE__,
                            "%s: sent %zu bytes at priority %u, received %zd bytes at priority %u%s",
                            via_name[v], len, tcases[i].prio, got, prio,
                            got == (ssize_t)len && memcmp(buf, msg + i, len) ? ", bytes differ" : "");
        }
    }
    ipcv_expect_eq(0, mq_count(q));
    /* msg_prio may be NULL. */
    SAFE(mq_send(q, "n", 1, 3));
    ipcv_expect_eq(1, mq_receive(q, buf, sizeof buf, NULL));
    mq_gone(q, name);
}

/* mq_send(3): "Messages are placed on the queue in decreasing order of
 * priority, with newer messages of the same priority being placed after
 * older messages with the same priority"; mq_receive(3) "removes the
 * oldest message with the highest priority". */
IPCV_CASE(posix_mq, receive_takes_the_highest_priority_then_the_oldest,
          .tags = "api", .covers = "B233 B244 B255 B271 B598",
          .spec = "mq_send(3), mq_receive(3)",
          .desc = "10 messages sent by mq_send and mq_timedsend at mixed priorities come out highest priority first and, within a priority, in the order sent; each receive removes one")
{
    char name[MQ_NAME_LEN];
    mqd_t q = mq_fresh(name, "q", 10, 8, 0);
    static const unsigned prios[] = { 3, 1, 3, 0, 7, 1, 7, 3, 0, 32767 };
    enum { N = sizeof prios / sizeof prios[0] };
    for (int i = 0; i < N; i++) {
        char m = (char)('a' + i);
        struct timespec later = mq_in_ms(5000);
        SAFE(i % 2 ? mq_timedsend(q, &m, 1, prios[i], &later) : mq_send(q, &m, 1, prios[i]));
    }
    /* expected: by priority down, then by index up */
    static const int order[] = { 9, 4, 6, 0, 2, 7, 1, 5, 3, 8 };
    for (int k = 0; k < N; k++) {
        char m = 0;
        unsigned prio = 0;
        struct timespec later = mq_in_ms(5000);
        ssize_t got = k % 2 ? mq_timedreceive(q, &m, 8, &prio, &later) : mq_receive(q, &m, 8, &prio);
        if (got != 1 || m != 'a' + order[k] || prio != prios[order[k]])
            ipcv_record(IPCV_FAIL, __FILE__, __LINE__,
                        "receive %d: expected '%c' at priority %u, seen '%c' at priority %u (%zd bytes)",
                        k, 'a' + order[k], prios[order[k]], m, prio, got);
        ipcv_expect_eq(N - k - 1, mq_count(q));
    }
    mq_gone(q, name);
}

/* mq_send(3) EMSGSIZE: "msg_len was greater than the mq_msgsize attribute
 * of the message queue"; on failure "the message is not queued". */
IPCV_CASE(posix_mq, send_longer_than_msgsize_is_emsgsize_and_queues_nothing,
          .tags = "api", .covers = "B147 B232 B238 B243 B254 B260 B265 B614",
          .spec = "mq_send(3) EMSGSIZE",
          .desc = "with mq_msgsize 16, 17 and 4096 bytes fail with EMSGSIZE in mq_send and mq_timedsend, return -1 and queue nothing; 16 bytes go")
{
    char name[MQ_NAME_LEN];
    mqd_t q = mq_fresh(name, "q", 4, 16, 0);
    static char msg[4096];
    struct timespec later = mq_in_ms(5000);
    ipcv_expect_fail(EMSGSIZE, mq_send(q, msg, 17, 0));
    ipcv_expect_fail(EMSGSIZE, mq_timedsend(q, msg, 17, 0, &later));
    ipcv_expect_fail(EMSGSIZE, mq_send(q, msg, sizeof msg, 0));
    ipcv_expect_fail(EMSGSIZE, mq_timedsend(q, msg, sizeof msg, 0, &later));
    ipcv_expect_eq(0, mq_count(q));
    ipcv_expect_eq(0, mq_send(q, msg, 16, 0));
    ipcv_expect_eq(1, mq_count(q));
    mq_gone(q, name);
}

/* mq_receive(3) EMSGSIZE: "msg_len was less than the mq_msgsize attribute
 * of the message queue" -- whatever the size of the queued message; it
 * stays queued (glibc tst-mqueue2). */
IPCV_CASE(posix_mq, receive_buffer_smaller_than_msgsize_is_emsgsize,
          .tags = "api", .covers = "B156 B245 B251 B272 B280 B606 B607",
          .spec = "mq_receive(3) EMSGSIZE",
          .desc = "with mq_msgsize 16 a 1-byte message cannot be received into 15 or 1 bytes (EMSGSIZE in mq_receive and mq_timedreceive); it stays queued and comes out into 16")
{
    char name[MQ_NAME_LEN];
    mqd_t q = mq_fresh(name, "q", 4, 16, 0);
    SAFE(mq_send(q, "x", 1, 5));
    char buf[16];
    unsigned prio;
    struct timespec later = mq_in_ms(5000);
    ipcv_expect_fail(EMSGSIZE, mq_receive(q, buf, 15, &prio));
    ipcv_expect_fail(EMSGSIZE, mq_timedreceive(q, buf, 15, &prio, &later));
    ipcv_expect_fail(EMSGSIZE, mq_receive(q, buf, 1, &prio));
    ipcv_expect_eq(1, mq_count(q));
    ipcv_expect_eq(1, mq_receive(q, buf, 16, &prio));
    ipcv_expect_eq(5, prio);
    mq_gone(q, name);
}

/* mq_send(3) EINVAL: "The call would have blocked, and abs_timeout was
 * invalid" is the other EINVAL; POSIX.1-2017: EINVAL "The value of
 * msg_prio was outside the valid range" (0 .. MQ_PRIO_MAX-1). */
IPCV_CASE(posix_mq, priority_of_mq_prio_max_or_more_is_einval,
          .tags = "api limit", .covers = "B150 B234 B242 B256 B264 B613",
          .spec = "POSIX.1-2017 mq_send() EINVAL; mq_overview(7)",
          .desc = "priorities MQ_PRIO_MAX, MQ_PRIO_MAX+1 and UINT_MAX fail with EINVAL in mq_send and mq_timedsend and queue nothing; MQ_PRIO_MAX-1 goes; sysconf(_SC_MQ_PRIO_MAX) is MQ_PRIO_MAX")
{
    ipcv_expect_eq(MQ_PRIO_MAX, sysconf(_SC_MQ_PRIO_MAX));
    char name[MQ_NAME_LEN];
    mqd_t q = mq_fresh(name, "q", 4, 8, 0);
    static const unsigned bad[] = { MQ_PRIO_MAX, MQ_PRIO_MAX + 1, UINT_MAX };
    for (size_t i = 0; i < 3; i++) {
        struct timespec later = mq_in_ms(5000);
        errno = 0;
        int rc = mq_send(q, "x", 1, bad[i]);
        if (rc != -1 || errno != EINVAL)
            ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "mq_send at priority %u: expected EINVAL, seen %s",
                        bad[i], rc == 0 ? "success" : ipcv_errname(errno));
        errno = 0;
        rc = mq_timedsend(q, "x", 1, bad[i], &later);
        if (rc != -1 || errno != EINVAL)
            ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "mq_timedsend at priority %u: expected EINVAL, seen %s",
                        bad[i], rc == 0 ? "success" : ipcv_errname(errno));
    }
    ipcv_expect_eq(0, mq_count(q));
    ipcv_expect_eq(0, mq_send(q, "x", 1, MQ_PRIO_MAX - 1));
    mq_gone(q, name);
}

/* EBADF in every call for a descriptor that is not a queue descriptor:
 * -1, a huge number, and a pipe (LTP "non-mq fd"). mq_close is close(2)
 * on Linux, so it is checked for the two that are not open at all. */
IPCV_CASE(posix_mq, invalid_descriptor_is_ebadf_in_every_call,
          .tags = "api", .covers = "B133 B148 B157 B240 B250 B262 B279 B288 B295 B300 B303",
          .spec = "mq_send(3), mq_receive(3), mq_notify(3), mq_getattr(3), mq_close(3) EBADF",
          .desc = "mq_send, mq_timedsend, mq_receive, mq_timedreceive, mq_notify, mq_getattr and mq_setattr fail with EBADF on -1, INT_MAX-1 and a pipe; mq_close on -1 and INT_MAX-1")
{
    int p[2];
    SAFE(pipe(p));
    const int bad[] = { -1, INT_MAX - 1, p[0] };
    for (size_t i = 0; i < 3; i++) {
        mqd_t q = bad[i];
        char buf[64];
        unsigned prio;
        struct timespec later = mq_in_ms(1000);
        struct mq_attr a = { 0 }, old;
        struct sigevent ev = { .sigev_notify = SIGEV_NONE };
        ipcv_expect_fail(EBADF, mq_send(q, "x", 1, 0));
        ipcv_expect_fail(EBADF, mq_timedsend(q, "x", 1, 0, &later));
        ipcv_expect_fail(EBADF, mq_receive(q, buf, sizeof buf, &prio));
        ipcv_expect_fail(EBADF, mq_timedreceive(q, buf, sizeof buf, &prio, &later));
        ipcv_expect_fail(EBADF, mq_notify(q, &ev));
        ipcv_expect_fail(EBADF, mq_notify(q, NULL));
        ipcv_expect_fail(EBADF, mq_getattr(q, &a));
        ipcv_expect_fail(EBADF, mq_setattr(q, &a, &old));
        if (i < 2)
            ipcv_expect_fail(EBADF, mq_close(q));
    }
    close(p[0]);
    close(p[1]);
}

/* mq_close(3): the descriptor is gone; every later call on it fails with
 * EBADF, a second mq_close too (glibc tst-mqueue1, tst-mqueue2,
 * tst-mqueue6). */
IPCV_CASE(posix_mq, closed_descriptor_is_ebadf_in_every_call,
          .tags = "api cleanup", .covers = "B296 B605 B615 B631",
          .spec = "mq_close(3), mq_send(3) EBADF",
          .desc = "after mq_close returns 0, send, receive (plain and timed), notify, getattr, setattr and a second close fail with EBADF")
{
    char name[MQ_NAME_LEN];
    mqd_t q = mq_fresh(name, "q", 2, 8, 0);
    SAFE(mq_send(q, "x", 1, 0));
    ipcv_expect_eq(0, mq_close(q));
    char buf[8];
    unsigned prio;
    struct timespec later = mq_in_ms(1000);
    struct mq_attr a = { 0 }, old;
    struct sigevent ev = { .sigev_notify = SIGEV_NONE };
    ipcv_expect_fail(EBADF, mq_send(q, "y", 1, 0));
    ipcv_expect_fail(EBADF, mq_timedsend(q, "y", 1, 0, &later));
    ipcv_expect_fail(EBADF, mq_receive(q, buf, sizeof buf, &prio));
    ipcv_expect_fail(EBADF, mq_timedreceive(q, buf, sizeof buf, &prio, &later));
    ipcv_expect_fail(EBADF, mq_notify(q, &ev));
    ipcv_expect_fail(EBADF, mq_getattr(q, &a));
    ipcv_expect_fail(EBADF, mq_setattr(q, &a, &old));
    ipcv_expect_fail(EBADF, mq_close(q));
    /* The queue itself is untouched. */
    mqd_t again = SAFE(mq_open(name, O_RDONLY));
    ipcv_expect_eq(1, mq_count(again));
    mq_gone(again, name);
}

/* mq_send(3) EAGAIN: "The queue was full, and the O_NONBLOCK flag was set
 * for the message queue description referred to by mqdes" -- for
 * mq_timedsend as well, at once, whatever the deadline. */
IPCV_CASE(posix_mq, full_queue_with_o_nonblock_is_eagain_and_queues_nothing,
          .tags = "api", .covers = "B149 B236 B239 B258 B261 B599 B600",
          .spec = "mq_send(3) EAGAIN",
          .desc = "on a full O_NONBLOCK queue mq_send and mq_timedsend fail at once with EAGAIN; the queue keeps exactly its two first messages")
{
    char name[MQ_NAME_LEN];
    mqd_t q = mq_fresh(name, "q", 2, 8, O_NONBLOCK);
    SAFE(mq_send(q, "1", 1, 0));
    SAFE(mq_send(q, "2", 1, 0));
    struct timespec later = mq_in_ms(2000);
    double t0 = mq_mono();
    ipcv_expect_fail(EAGAIN, mq_send(q, "3", 1, 0));
    ipcv_expect_fail(EAGAIN, mq_timedsend(q, "4", 1, 9, &later));
    ipcv_expect_true(mq_mono() - t0 < 1.0, "O_NONBLOCK sends took %.3f s", mq_mono() - t0);
    ipcv_expect_eq(2, mq_count(q));
    char buf[8];
    unsigned prio;
    ipcv_expect_eq(1, mq_receive(q, buf, sizeof buf, &prio));
    ipcv_expect_eq('1', buf[0]);
    ipcv_expect_eq(1, mq_receive(q, buf, sizeof buf, &prio));
    ipcv_expect_eq('2', buf[0]);
    ipcv_expect_fail(EAGAIN, mq_receive(q, buf, sizeof buf, &prio));
    mq_gone(q, name);
}

/* mq_receive(3) EAGAIN: "The queue was empty, and the O_NONBLOCK flag was
 * set for the message queue description referred to by mqdes." */
IPCV_CASE(posix_mq, empty_queue_with_o_nonblock_is_eagain,
          .tags = "api", .covers = "B158 B247 B249 B274 B278 B601 B602",
          .spec = "mq_receive(3) EAGAIN",
          .desc = "on an empty O_NONBLOCK queue mq_receive and mq_timedreceive fail at once with EAGAIN")
{
    char name[MQ_NAME_LEN];
    mqd_t q = mq_fresh(name, "q", 2, 8, O_NONBLOCK);
    char buf[8];
    unsigned prio;
    struct timespec later = mq_in_ms(2000);
    double t0 = mq_mono();
    ipcv_expect_fail(EAGAIN, mq_receive(q, buf, sizeof buf, &prio));
    ipcv_expect_fail(EAGAIN, mq_timedreceive(q, buf, sizeof buf, &prio, &later));
    ipcv_expect_true(mq_mono() - t0 < 1.0, "O_NONBLOCK receives took %.3f s", mq_mono() - t0);
    SAFE(mq_send(q, "1", 1, 0));
    ipcv_expect_eq(1, mq_receive(q, buf, sizeof buf, &prio));
    ipcv_expect_fail(EAGAIN, mq_receive(q, buf, sizeof buf, &prio));
    mq_gone(q, name);
}

/* mq_send(3) ETIMEDOUT: "The call timed out before a message could be
 * transferred"; mq_timedsend waits until abs_timeout, no less. */
IPCV_CASE(posix_mq, timedsend_on_a_full_queue_times_out_at_the_deadline,
          .tags = "api", .covers = "B152 B257 B270 B599",
          .spec = "mq_send(3) ETIMEDOUT",
          .desc = "mq_timedsend on a full blocking queue with a deadline 150 ms ahead fails with ETIMEDOUT after at least 150 ms and queues nothing")
{
    char name[MQ_NAME_LEN];
    mqd_t q = mq_fresh(name, "q", 1, 8, 0);
    SAFE(mq_send(q, "1", 1, 0));
    struct timespec deadline = mq_in_ms(150);
    double t0 = mq_mono();
    ipcv_expect_fail(ETIMEDOUT, mq_timedsend(q, "2", 1, 0, &deadline));
    double took = mq_mono() - t0;
    ipcv_expect_true(took >= 0.145 && took < 3.0, "timed out after %.3f s, deadline was 0.150 s", took);
    struct timespec now = mq_in_ms(0);
    ipcv_expect_true(now.tv_sec > deadline.tv_sec ||
                     (now.tv_sec == deadline.tv_sec && now.tv_nsec >= deadline.tv_nsec),
                     "returned before the deadline on CLOCK_REALTIME");
    ipcv_expect_eq(1, mq_count(q));
    mq_gone(q, name);
}

/* mq_receive(3) ETIMEDOUT: "The call timed out before a message could be
 * transferred." */
IPCV_CASE(posix_mq, timedreceive_on_an_empty_queue_times_out_at_the_deadline,
          .tags = "api", .covers = "B160 B273 B282 B601",
          .spec = "mq_receive(3) ETIMEDOUT",
          .desc = "mq_timedreceive on an empty blocking queue with a deadline 150 ms ahead fails with ETIMEDOUT after at least 150 ms")
{
    char name[MQ_NAME_LEN];
    mqd_t q = mq_fresh(name, "q", 1, 8, 0);
    char buf[8];
    unsigned prio;
    struct timespec deadline = mq_in_ms(150);
    double t0 = mq_mono();
    ipcv_expect_fail(ETIMEDOUT, mq_timedreceive(q, buf, sizeof buf, &prio, &deadline));
    double took = mq_mono() - t0;
    ipcv_expect_true(took >= 0.145 && took < 3.0, "timed out after %.3f s, deadline was 0.150 s", took);
    mq_gone(q, name);
}

/* POSIX.1-2017 mq_timedsend(): ETIMEDOUT "The O_NONBLOCK flag was not set
 * when the message queue was opened, but the timeout expired before the
 * message could be added to the queue" -- a deadline already passed
 * expires at once (open posix testsuite mq_timedsend/15-1). */
IPCV_CASE(posix_mq, deadline_already_passed_times_out_at_once,
          .tags = "api", .covers = "B266 B282",
          .spec = "POSIX.1-2017 mq_timedsend(), mq_timedreceive() ETIMEDOUT",
          .desc = "deadlines of the epoch and of one second ago give ETIMEDOUT at once on a full queue (send) and an empty one (receive)")
{
    char name[MQ_NAME_LEN], name2[MQ_NAME_LEN];
    mqd_t full = mq_fresh(name, "full", 1, 8, 0);
    mqd_t empty = mq_fresh(name2, "empty", 1, 8, 0);
    SAFE(mq_send(full, "1", 1, 0));
    struct timespec deadlines[] = { { 0, 0 }, mq_in_ms(-1000) };
    double t0 = mq_mono();
    for (int i = 0; i < 2; i++) {
        char buf[8];
        unsigned prio;
        ipcv_expect_fail(ETIMEDOUT, mq_timedsend(full, "2", 1, 0, &deadlines[i]));
        ipcv_expect_fail(ETIMEDOUT, mq_timedreceive(empty, buf, sizeof buf, &prio, &deadlines[i]));
    }
    ipcv_expect_true(mq_mono() - t0 < 1.0, "passed deadlines took %.3f s", mq_mono() - t0);
    ipcv_expect_eq(1, mq_count(full));
    mq_gone(full, name);
    mq_gone(empty, name2);
}

/* POSIX.1-2017 mq_timedsend(): "Under no circumstance shall the operation
 * fail with a timeout if there is sufficient room in the queue to add
 * the message immediately"; mq_timedreceive() likewise "if a message can
 * be removed from the message queue immediately". */
IPCV_CASE(posix_mq, passed_deadline_never_fails_a_call_that_need_not_block,
          .tags = "api", .covers = "B268 B276",
          .spec = "POSIX.1-2017 mq_timedsend(), mq_timedreceive()",
          .desc = "with room in the queue mq_timedsend with a passed deadline queues the message; with a message queued mq_timedreceive with a passed deadline returns it")
{
    char name[MQ_NAME_LEN];
    mqd_t q = mq_fresh(name, "q", 2, 8, 0);
    struct timespec deadlines[] = { { 0, 0 }, mq_in_ms(-1000) };
    for (int i = 0; i < 2; i++) {
        char buf[8];
        unsigned prio;
        ipcv_expect_eq(0, mq_timedsend(q, "r", 1, 4, &deadlines[i]));
        ipcv_expect_eq(1, mq_timedreceive(q, buf, sizeof buf, &prio, &deadlines[i]));
        ipcv_expect_eq(4, prio);
    }
    mq_gone(q, name);
}

static const struct { struct timespec ts; const char *what; } bad_deadlines[] = {
    { { 0, -1 }, "tv_nsec -1" }, { { 0, 1000000000 }, "tv_nsec 1e9" },
    { { 0, LONG_MAX }, "tv_nsec LONG_MAX" }, { { -1, 0 }, "tv_sec -1" },
};

/* mq_send(3), mq_receive(3) EINVAL: "The call would have blocked, and
 * abs_timeout was invalid, either because tv_sec was less than zero, or
 * because tv_nsec was less than zero or greater than 1000 million." */
IPCV_CASE(posix_mq, invalid_deadline_is_einval_when_the_call_would_block,
          .tags = "api", .covers = "B151 B159 B269 B281 B608 B610",
          .spec = "mq_send(3), mq_receive(3) EINVAL",
          .desc = "on a full queue mq_timedsend and on an empty one mq_timedreceive fail with EINVAL for tv_nsec -1, 1e9, LONG_MAX and tv_sec -1, queueing and taking nothing")
{
    char name[MQ_NAME_LEN], name2[MQ_NAME_LEN];
    mqd_t full = mq_fresh(name, "full", 1, 8, 0);
    mqd_t empty = mq_fresh(name2, "empty", 1, 8, 0);
    SAFE(mq_send(full, "1", 1, 0));
    for (size_t i = 0; i < sizeof bad_deadlines / sizeof bad_deadlines[0]; i++) {
        char buf[8];
        unsigned prio;
        errno = 0;
        int rc = mq_timedsend(full, "2", 1, 0, &bad_deadlines[i].ts);
        if (rc != -1 || errno != EINVAL)
            ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "mq_timedsend, %s: expected EINVAL, seen %s",
                        bad_deadlines[i].what, rc == 0 ? "success" : ipcv_errname(errno));
        errno = 0;
        ssize_t got = mq_timedreceive(empty, buf, sizeof buf, &prio, &bad_deadlines[i].ts);
        if (got != -1 || errno != EINVAL)
            ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "mq_timedreceive, %s: expected EINVAL, seen %s",
                        bad_deadlines[i].what, got >= 0 ? "success" : ipcv_errname(errno));
    }
    ipcv_expect_eq(1, mq_count(full));
    ipcv_expect_eq(0, mq_count(empty));
    mq_gone(full, name);
    mq_gone(empty, name2);
}

/* POSIX.1-2017 mq_timedsend(): "The validity of the abs_timeout parameter
 * need not be checked when there is sufficient room in the queue" (and
 * likewise for mq_timedreceive with a message queued): an invalid
 * deadline then either succeeds or fails with EINVAL -- Linux checks it
 * anyway and says EINVAL (glibc tst-mqueue2 allows both). Never a
 * timeout, and the message moves exactly when the call succeeds. */
IPCV_CASE(posix_mq, invalid_deadline_on_a_call_that_need_not_block_succeeds_or_is_einval,
          .tags = "api", .covers = "B609 B268 B276",
          .spec = "POSIX.1-2017 mq_timedsend(), mq_timedreceive()",
          .desc = "with room, mq_timedsend with an invalid deadline either queues the message or fails with EINVAL queueing nothing; with a message queued, mq_timedreceive either returns it or fails with EINVAL leaving it")
{
    char name[MQ_NAME_LEN];
    mqd_t q = mq_fresh(name, "q", 4, 8, 0);
    for (size_t i = 0; i < sizeof bad_deadlines / sizeof bad_deadlines[0]; i++) {
        long before = mq_count(q);
        errno = 0;
        int rc = mq_timedsend(q, "s", 1, 0, &bad_deadlines[i].ts);
        int err = errno;
        if (rc == 0)
            ipcv_expect_eq(before + 1, mq_count(q));
        else if (err != EINVAL)
            ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "mq_timedsend with room, %s: expected success or EINVAL, seen %s",
                        bad_deadlines[i].what, ipcv_errname(err));
        else
            ipcv_expect_eq(before, mq_count(q));
        if (mq_count(q) == 0)
            SAFE(mq_send(q, "s", 1, 0));
        before = mq_count(q);
        char buf[8];
        unsigned prio;
        errno = 0;
        ssize_t got = mq_timedreceive(q, buf, sizeof buf, &prio, &bad_deadlines[i].ts);
        err = errno;
        if (got == 1)
            ipcv_expect_eq(before - 1, mq_count(q));
        else if (got != -1 || err != EINVAL)
            ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "mq_timedreceive with a message, %s: expected success or EINVAL, seen %s",
                        bad_deadlines[i].what, got >= 0 ? "a wrong length" : ipcv_errname(err));
        else
            ipcv_expect_eq(before, mq_count(q));
    }
    mq_gone(q, name);
}

/* mq_send(3): abs_timeout is "an absolute timeout ... measured in seconds
 * and nanoseconds since the Epoch"; POSIX: "based on the CLOCK_REALTIME
 * clock". A deadline taken from CLOCK_MONOTONIC lies decades in the past
 * on CLOCK_REALTIME. */
IPCV_CASE(posix_mq, deadline_is_measured_on_clock_realtime,
          .tags = "api", .covers = "B267 B275",
          .spec = "mq_send(3), mq_receive(3); POSIX.1-2017 mq_timedsend() CLOCK_REALTIME",
          .desc = "a deadline of CLOCK_MONOTONIC now + 400 ms expires at once; CLOCK_REALTIME now + 400 ms waits 400 ms; for send and receive")
{
    char name[MQ_NAME_LEN], name2[MQ_NAME_LEN];
    mqd_t full = mq_fresh(name, "full", 1, 8, 0);
    mqd_t empty = mq_fresh(name2, "empty", 1, 8, 0);
    SAFE(mq_send(full, "1", 1, 0));
    char buf[8];
    unsigned prio;
    for (int send = 0; send < 2; send++) {
        struct timespec mono;
        clock_gettime(CLOCK_MONOTONIC, &mono);
        mono.tv_nsec += 400000000;
        if (mono.tv_nsec >= 1000000000) {
            mono.tv_nsec -= 1000000000;
            mono.tv_sec++;
        }
        double t0 = mq_mono();
        ipcv_expect_fail(ETIMEDOUT, send ? mq_timedsend(full, "2", 1, 0, &mono)
                                         : mq_timedreceive(empty, buf, sizeof buf, &prio, &mono));
        double took = mq_mono() - t0;
        if (took >= 0.3) {
            /* Measured on the wrong clock: a CLOCK_REALTIME deadline may
             * then lie decades ahead, so do not wait for one. */
            ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "%s: a CLOCK_MONOTONIC deadline 0.4 s ahead waited %.3f s",
                        send ? "mq_timedsend" : "mq_timedreceive", took);
            continue;
        }
        struct timespec real = mq_in_ms(400);
        t0 = mq_mono();
        ipcv_expect_fail(ETIMEDOUT, send ? mq_timedsend(full, "2", 1, 0, &real)
                                         : mq_timedreceive(empty, buf, sizeof buf, &prio, &real));
        took = mq_mono() - t0;
        ipcv_expect_true(took >= 0.39 && took < 3.0, "%s: a CLOCK_REALTIME deadline 0.4 s ahead waited %.3f s",
                         send ? "mq_timedsend" : "mq_timedreceive", took);
    }
    mq_gone(full, name);
    mq_gone(empty, name2);
}

/* mq_send(3), mq_receive(3): the kernel copies the message and the
 * deadline from and to the caller; a pointer it cannot use fails with
 * EFAULT (LTP mq_timedsend01, mq_timedreceive01). glibc hands the
 * pointers to the syscall as they are. */
IPCV_CASE(posix_mq, unusable_buffer_or_deadline_pointer_is_efault,
          .tags = "api", .covers = "B154 B162",
          .spec = "mq_send(3), mq_receive(3); errno(3) EFAULT",
          .desc = "mq_send and mq_timedsend from an inaccessible buffer, mq_timedsend and mq_timedreceive with an inaccessible deadline, and mq_receive into an inaccessible buffer fail with EFAULT; the sends queue nothing")
{
    char name[MQ_NAME_LEN];
    mqd_t q = mq_fresh(name, "q", 2, 16, 0);
    void *none = SAFE(mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    struct timespec later = mq_in_ms(5000);
    char buf[16];
    unsigned prio;
    ipcv_expect_fail(EFAULT, mq_send(q, none, 4, 0));
    ipcv_expect_fail(EFAULT, mq_timedsend(q, none, 4, 0, &later));
    ipcv_expect_fail(EFAULT, mq_timedsend(q, "x", 1, 0, none));
    ipcv_expect_eq(0, mq_count(q));
    SAFE(mq_send(q, "kept", 4, 0));
    ipcv_expect_fail(EFAULT, mq_timedreceive(q, buf, sizeof buf, &prio, none));
    ipcv_expect_eq(1, mq_count(q));
    ipcv_expect_fail(EFAULT, mq_receive(q, none, 16, &prio));
    SAFE(munmap(none, 4096));
    mq_gone(q, name);
}
