/* POSIX message queues interrupted: signal handlers with and without
 * SA_RESTART, stop and continue, thread cancellation, and a deadline that
 * never comes. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>

#include "posix_mq.h"

#define HANDLED_CP 7    /* checkpoint the role's signal handler bumps */

enum call { C_SEND, C_TIMEDSEND, C_RECEIVE, C_TIMEDRECEIVE };
static const char *const call_name[] = { "mq_send", "mq_timedsend", "mq_receive", "mq_timedreceive" };

static int is_send(enum call c) { return c == C_SEND || c == C_TIMEDSEND; }
static const char *syscall_of(enum call c) { return is_send(c) ? "mq_timedsend" : "mq_timedreceive"; }

struct intr { mqd_t q; enum call call; int restart; struct timespec deadline; };

static void on_signal(int sig)
{
    (void)sig;
    ipcv_checkpoint_signal(HANDLED_CP);
}

/* The blocking call under test; -1 with errno, or what the call returns. */
static long do_call(const struct intr *in)
{
    char buf[16];
    unsigned prio;
    switch (in->call) {
    case C_SEND:      return mq_send(in->q, "sent", 4, 0);
    case C_TIMEDSEND: return mq_timedsend(in->q, "sent", 4, 0, &in->deadline);
    case C_RECEIVE:   return mq_receive(in->q, buf, sizeof buf, &prio);
    default:          return mq_timedreceive(in->q, buf, sizeof buf, &prio, &in->deadline);
    }
}

static int call_with_handler(struct ipcv_role *self, void *arg)
{
    struct intr *in = arg;
    struct sigaction sa = { .sa_handler = on_signal, .sa_flags = in->restart ? SA_RESTART : 0 };
    sigemptyset(&sa.sa_mask);
    SAFE(sigaction(SIGUSR1, &sa, NULL));
    ipcv_ready(self);
    errno = 0;
    long rc = do_call(in);
    int err = errno;
    if (in->restart) {
        long want = is_send(in->call) ? 0 : 4;
        if (rc != want)
            ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "%s with SA_RESTART: expected it restarted and %ld, seen %ld (%s)",
                        call_name[in->call], want, rc, ipcv_errname(err));
    } else if (rc != -1 || err != EINTR) {
        ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "%s without SA_RESTART: expected EINTR, seen %ld (%s)",
                    call_name[in->call], rc, rc == -1 ? ipcv_errname(err) : "success");
    }
    return 0;
}

/* Let a call blocked in the role complete: make room or send something. */
static void unblock(mqd_t q, enum call c)
{
    char buf[16];
    unsigned prio;
    struct timespec soon = mq_in_ms(2000);
    if (is_send(c))
        SAFE(mq_timedreceive(q, buf, sizeof buf, &prio, &soon));
    else
        SAFE(mq_timedsend(q, "wake", 4, 0, &soon));
}

/* signal(7) "Interruption of system calls and library functions by signal
 * handlers": mq_receive, mq_timedreceive, mq_send and mq_timedsend are in
 * the list of calls that are "automatically restarted after the signal
 * handler returns if the SA_RESTART flag was used; otherwise the call
 * fails with the error EINTR". The peer is seen blocked before the
 * signal; what the call did must leave the queue as it was. */
static void interrupt_blocked(enum call c, int restart)
{
    char name[MQ_NAME_LEN];
    mqd_t q = mq_fresh(name, "q", 1, 16, 0);
    if (is_send(c))
        SAFE(mq_send(q, "full", 4, 0));
    struct intr in = { q, c, restart, mq_in_ms(20000) };
    struct ipcv_role *r = ipcv_spawn("caller", call_with_handler, &in);
    ipcv_wait_ready(r);
    mq_expect_blocked(r, syscall_of(c));
    SAFE(kill(ipcv_role_pid(r), SIGUSR1));
    mq_expect_checkpoint(HANDLED_CP, 1, "the role's SIGUSR1 handler");
    int ended = mq_ended_or_blocked(r, syscall_of(c));
    if (!ended) {
        if (!restart)
            ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "%s without SA_RESTART went back to sleep after the handler",
                        call_name[c]);
        unblock(q, c);
    }
    ipcv_join(r, IPCV_EXITED(0));
    if (!restart)
        /* Interrupted: the send queued nothing, the receive took nothing. */
        ipcv_expect_eq(is_send(c) ? 1 : 0, mq_count(q));
    mq_gone(q, name);
}

/* signal(7): mq_send interrupted by a handler without SA_RESTART fails with EINTR. */
IPCV_CASE(posix_mq, blocked_send_fails_eintr_without_sa_restart,
          .tags = "multi fault", .covers = "B241 B612",
          .spec = "signal(7) Interruption of system calls; mq_send(3) EINTR",
          .desc = "a process blocked in mq_send on a full queue, seen blocked, gets a signal whose handler lacks SA_RESTART: mq_send fails with EINTR and queues nothing")
{
    interrupt_blocked(C_SEND, 0);
}

/* signal(7): mq_timedsend interrupted by a handler without SA_RESTART fails with EINTR. */
IPCV_CASE(posix_mq, blocked_timedsend_fails_eintr_without_sa_restart,
          .tags = "multi fault", .covers = "B153 B263 B612",
          .spec = "signal(7) Interruption of system calls; mq_send(3) EINTR",
          .desc = "a process blocked in mq_timedsend on a full queue gets a signal whose handler lacks SA_RESTART: mq_timedsend fails with EINTR and queues nothing")
{
    interrupt_blocked(C_TIMEDSEND, 0);
}

/* signal(7): mq_receive interrupted by a handler without SA_RESTART fails with EINTR. */
IPCV_CASE(posix_mq, blocked_receive_fails_eintr_without_sa_restart,
          .tags = "multi fault", .covers = "B252 B611",
          .spec = "signal(7) Interruption of system calls; mq_receive(3) EINTR",
          .desc = "a process blocked in mq_receive on an empty queue gets a signal whose handler lacks SA_RESTART: mq_receive fails with EINTR")
{
    interrupt_blocked(C_RECEIVE, 0);
}

/* signal(7): mq_timedreceive interrupted by a handler without SA_RESTART fails with EINTR. */
IPCV_CASE(posix_mq, blocked_timedreceive_fails_eintr_without_sa_restart,
          .tags = "multi fault", .covers = "B161 B611",
          .spec = "signal(7) Interruption of system calls; mq_receive(3) EINTR",
          .desc = "a process blocked in mq_timedreceive on an empty queue gets a signal whose handler lacks SA_RESTART: mq_timedreceive fails with EINTR")
{
    interrupt_blocked(C_TIMEDRECEIVE, 0);
}

/* signal(7): mq_send interrupted by an SA_RESTART handler is restarted. */
IPCV_CASE(posix_mq, blocked_send_is_restarted_under_sa_restart,
          .tags = "multi fault", .covers = "B235 B241",
          .spec = "signal(7) Interruption of system calls",
          .desc = "a process blocked in mq_send gets a signal whose handler has SA_RESTART: after the handler it blocks again, and completes with 0 once room is made")
{
    interrupt_blocked(C_SEND, 1);
}

/* signal(7): mq_timedsend interrupted by an SA_RESTART handler is restarted. */
IPCV_CASE(posix_mq, blocked_timedsend_is_restarted_under_sa_restart,
          .tags = "multi fault", .covers = "B257 B263",
          .spec = "signal(7) Interruption of system calls",
          .desc = "a process blocked in mq_timedsend gets a signal whose handler has SA_RESTART: after the handler it blocks again, and completes with 0 once room is made")
{
    interrupt_blocked(C_TIMEDSEND, 1);
}

/* signal(7): mq_receive interrupted by an SA_RESTART handler is restarted. */
IPCV_CASE(posix_mq, blocked_receive_is_restarted_under_sa_restart,
          .tags = "multi fault", .covers = "B246 B252",
          .spec = "signal(7) Interruption of system calls",
          .desc = "a process blocked in mq_receive gets a signal whose handler has SA_RESTART: after the handler it blocks again, and returns the message sent next")
{
    interrupt_blocked(C_RECEIVE, 1);
}

/* signal(7): mq_timedreceive interrupted by an SA_RESTART handler is restarted. */
IPCV_CASE(posix_mq, blocked_timedreceive_is_restarted_under_sa_restart,
          .tags = "multi fault", .covers = "B273 B161",
          .spec = "signal(7) Interruption of system calls",
          .desc = "a process blocked in mq_timedreceive gets a signal whose handler has SA_RESTART: after the handler it blocks again, and returns the message sent next")
{
    interrupt_blocked(C_TIMEDRECEIVE, 1);
}

static int receive_plain(struct ipcv_role *self, void *arg)
{
    struct intr *in = arg;
    ipcv_ready(self);
    errno = 0;
    long rc = do_call(in);
    ipcv_expect_true(rc == 4, "%s after SIGSTOP/SIGCONT: expected 4, seen %ld (%s)",
                     call_name[in->call], rc, rc < 0 ? ipcv_errname(errno) : "");
    return 0;
}

struct stopped_probe { pid_t pid; };

static int is_stopped(void *arg)
{
    struct stopped_probe *p = arg;
    char path[64], stat[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)p->pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return 0;
    size_t n = fread(stat, 1, sizeof stat - 1, f);
    fclose(f);
    stat[n] = '\0';
    const char *paren = strrchr(stat, ')');
    return paren && paren[1] && paren[2] == 'T';
}

/* signal(7) "Interruption of system calls and library functions by stop
 * signals" lists the calls that can fail with EINTR after SIGSTOP and
 * SIGCONT with no handler at all; the POSIX queue calls are not among
 * them: a stopped and continued receiver goes on waiting. */
IPCV_CASE(posix_mq, stop_and_continue_does_not_interrupt_a_blocked_receive,
          .tags = "multi fault", .covers = "B246 B273",
          .spec = "signal(7) Interruption by stop signals",
          .desc = "a process blocked in mq_receive (and one in mq_timedreceive) is stopped with SIGSTOP and continued with SIGCONT: it blocks again and returns the message sent afterwards")
{
    char name[MQ_NAME_LEN];
    mqd_t q = mq_fresh(name, "q", 1, 16, 0);
    for (int timed = 0; timed < 2; timed++) {
        struct intr in = { q, timed ? C_TIMEDRECEIVE : C_RECEIVE, 0, mq_in_ms(20000) };
        struct ipcv_role *r = ipcv_spawn("receiver", receive_plain, &in);
        ipcv_wait_ready(r);
        mq_expect_blocked(r, "mq_timedreceive");
        SAFE(kill(ipcv_role_pid(r), SIGSTOP));
        struct stopped_probe p = { ipcv_role_pid(r) };
        if (!ipcv_poll_until(is_stopped, &p, ipcv_wait_bound()))
            ipcv_brk(__FILE__, __LINE__, "role did not stop after SIGSTOP");
        SAFE(kill(ipcv_role_pid(r), SIGCONT));
        mq_ended_or_blocked(r, "mq_timedreceive");
        SAFE(mq_send(q, "wake", 4, 0));
        ipcv_join(r, IPCV_EXITED(0));
        ipcv_expect_eq(0, mq_count(q));
    }
    mq_gone(q, name);
}

struct cancel_arg { struct intr in; atomic_int started; };

static void *call_in_thread(void *arg)
{
    struct cancel_arg *a = arg;
    atomic_store(&a->started, 1);
    do_call(&a->in);
    return NULL;
}

/* In a role: the coordinator cannot start threads. */
static int cancel_each_call(struct ipcv_role *self, void *arg)
{
    (void)self;
    mqd_t q = *(mqd_t *)arg;
    for (enum call c = C_SEND; c <= C_TIMEDRECEIVE; c++) {
        if (is_send(c))
            SAFE(mq_send(q, "full", 4, 0));
        static struct cancel_arg a;
        a.in = (struct intr){ q, c, 0, mq_in_ms(20000) };
        pthread_t th;
        SAFE_RC(pthread_create(&th, NULL, call_in_thread, &a));
        mq_expect_sibling_blocked(syscall_of(c));
        SAFE_RC(pthread_cancel(th));
        void *res = NULL;
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 3;
        if (pthread_timedjoin_np(th, &res, &until) == ETIMEDOUT) {
            ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "%s: the thread was not cancelled within 3 s", call_name[c]);
            unblock(q, c);
            pthread_join(th, &res);
        } else {
            ipcv_expect_true(res == PTHREAD_CANCELED, "%s: the thread ended without being cancelled",
                             call_name[c]);
        }
        /* Nothing was sent or taken by the cancelled call. */
        if (mq_count(q) != (is_send(c) ? 1 : 0))
            ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "%s cancelled: mq_curmsgs %ld, expected %d",
                        call_name[c], mq_count(q), is_send(c) ? 1 : 0);
        char buf[16];
        unsigned prio;
        struct timespec past = { 0, 0 };
        while (mq_timedreceive(q, buf, sizeof buf, &prio, &past) >= 0)
            ;
    }
    return 0;
}

/* pthreads(7) "Cancellation points": mq_receive, mq_send, mq_timedreceive
 * and mq_timedsend are cancellation points (glibc tst-mqueue8): a thread
 * blocked in one is cancelled, and the queue is as before. */
IPCV_CASE(posix_mq, blocked_calls_are_cancellation_points,
          .tags = "fault", .covers = "B619",
          .spec = "pthreads(7) Cancellation points",
          .desc = "a thread blocked in mq_send, mq_timedsend, mq_receive or mq_timedreceive is cancelled by pthread_cancel and joins as PTHREAD_CANCELED; its send queued nothing, its receive took nothing")
{
    char name[MQ_NAME_LEN];
    mqd_t q = mq_fresh(name, "q", 1, 16, 0);
    struct ipcv_role *r = ipcv_spawn("threads", cancel_each_call, &q);
    ipcv_join(r, IPCV_EXITED(0));
    mq_gone(q, name);
}

/* glibc tst-mqueue10: a deadline of the largest time_t. On 64-bit time
 * the kernel cannot reach it; the call blocks until a signal interrupts
 * it (EINTR). EOVERFLOW is allowed only where time_t is 32 bits. */
IPCV_CASE(posix_mq, deadline_of_time_t_max_blocks_until_a_signal_interrupts_it,
          .tags = "multi fault limit", .covers = "B618",
          .spec = "mq_send(3), mq_receive(3); glibc tst-mqueue10",
          .desc = "mq_timedreceive on an empty queue and mq_timedsend on a full one with tv_sec = the largest time_t block, and fail with EINTR when a signal handler (no SA_RESTART) runs")
{
    char name[MQ_NAME_LEN];
    mqd_t q = mq_fresh(name, "q", 1, 16, 0);
    static const enum call calls[] = { C_TIMEDRECEIVE, C_TIMEDSEND };
    for (int i = 0; i < 2; i++) {
        enum call c = calls[i];
        if (is_send(c))
            SAFE(mq_send(q, "full", 4, 0));
        struct timespec never = { .tv_sec = sizeof(time_t) == 8 ? (time_t)INT64_MAX : (time_t)INT32_MAX,
                                  .tv_nsec = 999999999 };
        struct intr in = { q, c, 0, never };
        struct ipcv_role *r = ipcv_spawn("caller", call_with_handler, &in);
        ipcv_wait_ready(r);
        mq_expect_blocked(r, syscall_of(c));
        SAFE(kill(ipcv_role_pid(r), SIGUSR1));
        mq_expect_checkpoint(HANDLED_CP, (unsigned)i + 1, "the role's SIGUSR1 handler");
        if (!mq_ended_or_blocked(r, syscall_of(c)))
            unblock(q, c);      /* it went back to sleep: the role says so */
        ipcv_join(r, IPCV_EXITED(0));
        char buf[16];
        unsigned prio;
        struct timespec past = { 0, 0 };
        while (mq_timedreceive(q, buf, sizeof buf, &prio, &past) >= 0)
            ;
    }
    mq_gone(q, name);
}
