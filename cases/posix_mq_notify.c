/* POSIX message queues: the mq_notify protocol -- who is told, when,
 * how, and when the registration ends. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "posix_mq.h"

/* A realtime signal: queued, so a second notification would not hide
 * behind a first one still pending. */
#define NOTE_SIG (SIGRTMIN + 2)

struct note {
    mqd_t q;
    char name[MQ_NAME_LEN];
    int expect_err;     /* what a role's mq_notify should give (0: success) */
};

/* Register this process for NOTE_SIG with sigev_value `value`. */
static int notify_signal(mqd_t q, int value)
{
    struct sigevent ev = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = NOTE_SIG,
                           .sigev_value.sival_int = value };
    return mq_notify(q, &ev);
}

/* No NOTE_SIG is pending: anything sent has been sent already (the
 * kernel queues the signal inside the mq_send that causes it). */
#define expect_no_signal(what) do {                                           \
    siginfo_t si_;                                                            \
    if (mq_take_signal(NOTE_SIG, &si_, 0))                                    \
        ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "%s: a notification arrived (si_code %d)", \
                    what, si_.si_code);                                       \
} while (0)

#define expect_signal(what) do {                                              \
    siginfo_t si_;                                                            \
    if (!mq_take_signal(NOTE_SIG, &si_, ipcv_wait_bound()))                   \
        ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "%s: no notification within %.1f s", \
                    what, ipcv_wait_bound());                                 \
} while (0)

/* Roles that send run with NOTE_SIG unblocked and at its default action
 * (terminate): a notification sent to the sender would kill it. */
static void unblock_note_sig(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, NOTE_SIG);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
}

static int send_from_elsewhere(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct note *n = arg;
    unblock_note_sig();
    mqd_t q = SAFE(mq_open(n->name, O_WRONLY));
    ipcv_expect_eq(0, mq_send(q, "note", 4, 1));
    mq_close(q);
    return 0;
}

static void send_from_a_role(struct note *n)
{
    struct ipcv_role *r = ipcv_spawn("sender", send_from_elsewhere, n);
    ipcv_join(r, IPCV_EXITED(0));
}

static int register_from_elsewhere(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct note *n = arg;
    mqd_t own = SAFE(mq_open(n->name, O_RDONLY));
    struct sigevent none = { .sigev_notify = SIGEV_NONE };
    struct sigevent sig = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGUSR2 };
    errno = 0;
    int rc = mq_notify(own, &none);
    int err = rc < 0 ? errno : 0;
    if (err != n->expect_err)
        ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "mq_notify(SIGEV_NONE) from another process: expected %s, seen %s",
                    ipcv_errname(n->expect_err), ipcv_errname(err));
    if (rc == 0)
        mq_notify(own, NULL);
    /* Through the descriptor inherited from the coordinator too. */
    errno = 0;
    rc = mq_notify(n->q, &sig);
    err = rc < 0 ? errno : 0;
    if (err != n->expect_err)
        ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "mq_notify(SIGEV_SIGNAL) on the inherited descriptor: expected %s, seen %s",
                    ipcv_errname(n->expect_err), ipcv_errname(err));
    if (rc == 0)
        mq_notify(n->q, NULL);
    mq_close(own);
    return 0;
}

/* Another process tries to register; its registration, if any, is
 * removed before it exits. */
static void register_from_a_role(struct note *n, int expect_err)
{
    n->expect_err = expect_err;
    struct ipcv_role *r = ipcv_spawn("registrar", register_from_elsewhere, n);
    ipcv_join(r, IPCV_EXITED(0));
}

static mqd_t note_queue(struct note *n)
{
    mq_block_signal(NOTE_SIG);
    n->q = mq_fresh(n->name, "q", 4, 16, 0);
    return n->q;
}

static void drain(mqd_t q)
{
    char buf[64];
    unsigned prio;
    struct timespec past = { 0, 0 };
    while (mq_timedreceive(q, buf, sizeof buf, &prio, &past) >= 0)
        ;
}

/* mq_notify(3): "Message notification occurs only when a new message
 * arrives and the queue was previously empty"; SIGEV_SIGNAL: "Notify the
 * process by sending the signal specified in sev->sigev_signo" -- the
 * registered process, not the sender. */
IPCV_CASE(posix_mq, notify_signal_arrives_when_a_message_enters_an_empty_queue,
          .tags = "multi", .covers = "B283 B621 B132",
          .spec = "mq_notify(3) SIGEV_SIGNAL",
          .desc = "a process registered with SIGEV_SIGNAL gets exactly one signal when another process sends into the empty queue; the sender gets none")
{
    struct note n;
    note_queue(&n);
    ipcv_expect_eq(0, notify_signal(n.q, 1));
    send_from_a_role(&n);
    expect_signal("message into the empty queue");
    expect_no_signal("after the first signal");
    ipcv_expect_eq(1, mq_count(n.q));
    mq_gone(n.q, n.name);
}

#define NOTE_UID 62002

static int send_as_another_user(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct note *n = arg;
    unblock_note_sig();
    mq_become(NOTE_UID);
    mqd_t q = SAFE(mq_open(n->name, O_WRONLY));
    ipcv_expect_eq(0, mq_send(q, "note", 4, 1));
    mq_close(q);
    return 0;
}

/* mq_notify(3): "si_code set to SI_MESGQ ... si_pid to the PID of the
 * process that sent the message ... si_uid to the real user ID of the
 * sending process", and the sigev_value given at registration (glibc
 * tst-mqueue5). */
IPCV_CASE(posix_mq, notify_siginfo_names_mesgq_the_sender_and_the_value,
          .tags = "multi", .covers = "B627",
          .spec = "mq_notify(3) SIGEV_SIGNAL siginfo",
          .desc = "the notification signal carries si_code SI_MESGQ, the sender's pid and real uid (62002), and the registered sigev_value")
{
    struct note n;
    mq_block_signal(NOTE_SIG);
    mq_name(n.name, "q");
    mode_t old = umask(0);
    struct mq_attr a = { .mq_maxmsg = 4, .mq_msgsize = 16 };
    n.q = SAFE(mq_open(n.name, O_CREAT | O_EXCL | O_RDWR, 0666, &a));
    umask(old);
    ipcv_expect_eq(0, notify_signal(n.q, 4242));
    struct ipcv_role *r = ipcv_spawn("sender", send_as_another_user, &n);
    ipcv_join(r, IPCV_EXITED(0));
    siginfo_t si;
    memset(&si, 0, sizeof si);
    if (mq_take_signal(NOTE_SIG, &si, ipcv_wait_bound())) {
        ipcv_expect_eq(NOTE_SIG, si.si_signo);
        ipcv_expect_eq(SI_MESGQ, si.si_code);
        ipcv_expect_eq(ipcv_role_pid(r), si.si_pid);
        ipcv_expect_eq(NOTE_UID, si.si_uid);
        ipcv_expect_eq(4242, si.si_value.sival_int);
    } else {
        ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "no notification within %.1f s", ipcv_wait_bound());
    }
    mq_gone(n.q, n.name);
}

/* mq_notify(3): "Message notification occurs only when a new message
 * arrives and the queue was previously empty. If the queue was not empty
 * at the time mq_notify() was called, then a notification will occur only
 * after the queue is emptied and a new message arrives." */
IPCV_CASE(posix_mq, notify_is_silent_for_a_message_into_a_nonempty_queue,
          .tags = "multi", .covers = "B622",
          .spec = "mq_notify(3)",
          .desc = "registered while a message is queued, a process gets no signal for a second message; once the queue is emptied, the next message signals it")
{
    struct note n;
    note_queue(&n);
    SAFE(mq_send(n.q, "here", 4, 0));
    ipcv_expect_eq(0, notify_signal(n.q, 1));
    send_from_a_role(&n);
    expect_no_signal("message into a queue that held one");
    drain(n.q);
    send_from_a_role(&n);
    expect_signal("message into the emptied queue");
    mq_gone(n.q, n.name);
}

/* mq_notify(3): "After notification occurs, the notification registration
 * is removed and another process can register for message notification.
 * If the notified process wishes to receive the next notification, it can
 * use mq_notify() to request a further notification." */
IPCV_CASE(posix_mq, registration_is_removed_after_one_notification,
          .tags = "multi", .covers = "B286 B621",
          .spec = "mq_notify(3)",
          .desc = "after one signal, a second message into the emptied queue signals nothing, another process may register, and the first may register again and is signalled again")
{
    struct note n;
    note_queue(&n);
    ipcv_expect_eq(0, notify_signal(n.q, 1));
    send_from_a_role(&n);
    expect_signal("first message");
    drain(n.q);
    send_from_a_role(&n);
    expect_no_signal("second message, not registered again");
    register_from_a_role(&n, 0);
    drain(n.q);
    ipcv_expect_eq(0, notify_signal(n.q, 2));
    send_from_a_role(&n);
    expect_signal("message after registering again");
    mq_gone(n.q, n.name);
}

/* mq_notify(3) EBUSY: "Another process has already registered to receive
 * notification for this message queue." */
IPCV_CASE(posix_mq, registration_from_another_process_is_ebusy,
          .tags = "multi", .covers = "B134 B284 B289 B623",
          .spec = "mq_notify(3) EBUSY",
          .desc = "while one process is registered, another process's mq_notify fails with EBUSY through its own descriptor and through one inherited, and the first registration still works")
{
    struct note n;
    note_queue(&n);
    ipcv_expect_eq(0, notify_signal(n.q, 1));
    register_from_a_role(&n, EBUSY);
    send_from_a_role(&n);
    expect_signal("message for the first registration");
    mq_gone(n.q, n.name);
}

/* One registration per queue (mq_notify(3) "Only one process can be
 * registered"): the registered process itself gets EBUSY too, through the
 * same or another descriptor (LTP mq_notify01, glibc tst-mqueue5). */
IPCV_CASE(posix_mq, second_registration_from_the_same_process_is_ebusy,
          .tags = "api", .covers = "B134 B623",
          .spec = "mq_notify(3) EBUSY",
          .desc = "a process registered on a queue gets EBUSY registering again through the same descriptor or another descriptor of the queue, with any sigev_notify")
{
    struct note n;
    note_queue(&n);
    mqd_t other = SAFE(mq_open(n.name, O_RDONLY));
    ipcv_expect_eq(0, notify_signal(n.q, 1));
    struct sigevent none = { .sigev_notify = SIGEV_NONE };
    ipcv_expect_fail(EBUSY, notify_signal(n.q, 2));
    ipcv_expect_fail(EBUSY, mq_notify(n.q, &none));
    ipcv_expect_fail(EBUSY, notify_signal(other, 3));
    ipcv_expect_fail(EBUSY, mq_notify(other, &none));
    SAFE(mq_close(other));
    mq_gone(n.q, n.name);
}

/* mq_notify(3): "If sevp is NULL, and the calling process is currently
 * registered to receive notifications for this message queue, then the
 * registration is removed; another process can then register". A NULL
 * when not registered is not specified by POSIX; Linux returns 0. */
IPCV_CASE(posix_mq, null_removes_the_callers_registration,
          .tags = "multi", .covers = "B285 B624",
          .spec = "mq_notify(3) NULL",
          .desc = "mq_notify(NULL) by the registered process returns 0 and removes the registration: no signal on the next message, another process may register; a second NULL also returns 0 on Linux")
{
    struct note n;
    note_queue(&n);
    ipcv_expect_eq(0, notify_signal(n.q, 1));
    ipcv_expect_eq(0, mq_notify(n.q, NULL));
    send_from_a_role(&n);
    expect_no_signal("message after removal");
    drain(n.q);
    register_from_a_role(&n, 0);
    ipcv_expect_eq(0, mq_notify(n.q, NULL));
    mq_gone(n.q, n.name);
}

static int null_from_elsewhere(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct note *n = arg;
    mqd_t own = SAFE(mq_open(n->name, O_RDONLY));
    ipcv_expect_eq(0, mq_notify(own, NULL));
    ipcv_expect_eq(0, mq_notify(n->q, NULL));
    mq_close(own);
    return 0;
}

/* mq_notify(3): NULL removes a registration only "if ... the calling
 * process is currently registered": from any other process it leaves the
 * registration in place. */
IPCV_CASE(posix_mq, null_from_another_process_leaves_the_registration,
          .tags = "multi", .covers = "B285 B624",
          .spec = "mq_notify(3) NULL",
          .desc = "mq_notify(NULL) from a process that is not registered leaves the registered one in place: a third process still gets EBUSY and the next message signals the registered one")
{
    struct note n;
    note_queue(&n);
    ipcv_expect_eq(0, notify_signal(n.q, 1));
    struct ipcv_role *r = ipcv_spawn("stranger", null_from_elsewhere, &n);
    ipcv_join(r, IPCV_EXITED(0));
    register_from_a_role(&n, EBUSY);
    send_from_a_role(&n);
    expect_signal("message after a stranger's NULL");
    mq_gone(n.q, n.name);
}

static int receive_blocked(struct ipcv_role *self, void *arg)
{
    struct note *n = arg;
    ipcv_ready(self);
    char buf[16];
    unsigned prio;
    ipcv_expect_eq(4, mq_receive(n->q, buf, sizeof buf, &prio));
    return 0;
}

/* mq_notify(3): "If other processes or threads are waiting to receive a
 * message from an empty queue using mq_receive(3), then any message
 * notifications are ignored: the message is delivered to the process or
 * thread calling mq_receive(3), and the message notification registration
 * remains in effect." */
IPCV_CASE(posix_mq, blocked_receiver_takes_the_message_and_the_registration_stays,
          .tags = "multi", .covers = "B287 B626",
          .spec = "mq_notify(3)",
          .desc = "with a process blocked in mq_receive, a message goes to it and no signal is sent; the registration stays: another process gets EBUSY, and the next message, with nobody waiting, signals")
{
    struct note n;
    note_queue(&n);
    ipcv_expect_eq(0, notify_signal(n.q, 1));
    struct ipcv_role *rx = ipcv_spawn("receiver", receive_blocked, &n);
    ipcv_wait_ready(rx);
    mq_expect_blocked(rx, "mq_timedreceive");
    send_from_a_role(&n);
    ipcv_join(rx, IPCV_EXITED(0));
    expect_no_signal("message taken by a blocked receiver");
    ipcv_expect_eq(0, mq_count(n.q));
    register_from_a_role(&n, EBUSY);
    send_from_a_role(&n);
    expect_signal("message with nobody waiting");
    mq_gone(n.q, n.name);
}

/* mq_close(3): "If the calling process has attached a notification
 * request to this message queue via mqdes, then this request is removed,
 * and another process can now attach a notification request." Linux
 * removes it when the registered process closes any descriptor of the
 * queue (glibc tst-mqueue5, B625). */
IPCV_CASE(posix_mq, closing_a_descriptor_of_the_queue_drops_the_callers_registration,
          .tags = "multi cleanup", .covers = "B294 B625",
          .spec = "mq_close(3)",
          .desc = "a registration is removed when the registered process closes the descriptor it registered through, and on Linux also when it closes another descriptor of the queue: another process may then register")
{
    struct note n;
    note_queue(&n);
    for (int other = 0; other < 2; other++) {
        mqd_t d = SAFE(mq_open(n.name, O_RDONLY));
        ipcv_expect_eq(0, notify_signal(other ? n.q : d, 1));
        ipcv_expect_eq(0, mq_close(d));
        register_from_a_role(&n, 0);
    }
    mq_gone(n.q, n.name);
}

static int register_and_hang(struct ipcv_role *self, void *arg)
{
    struct note *n = arg;
    struct sigevent ev = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGUSR2 };
    ipcv_expect_eq(0, mq_notify(n->q, &ev));
    ipcv_ready(self);
    pause();
    return 0;
}

/* A process's descriptors are closed when it dies (mq_close(3) applies):
 * a registered process killed with SIGKILL leaves no registration. */
IPCV_CASE(posix_mq, death_of_the_registered_process_drops_its_registration,
          .tags = "multi crash", .covers = "B294 B625",
          .spec = "mq_close(3); _exit(2)",
          .desc = "a process registered for notification is killed; another process can register at once, and its notification arrives")
{
    struct note n;
    note_queue(&n);
    struct ipcv_role *r = ipcv_spawn("registered", register_and_hang, &n);
    ipcv_wait_ready(r);
    ipcv_expect_fail(EBUSY, notify_signal(n.q, 1));
    SAFE(kill(ipcv_role_pid(r), SIGKILL));
    ipcv_join(r, IPCV_KILLED(SIGKILL));
    ipcv_expect_eq(0, notify_signal(n.q, 2));
    send_from_a_role(&n);
    expect_signal("message after the first owner died");
    mq_gone(n.q, n.name);
}

static int close_inherited(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct note *n = arg;
    ipcv_expect_eq(0, mq_close(n->q));
    return 0;
}

/* mq_close(3) removes a request "attached ... via mqdes" by the calling
 * process: a forked child closing its copy of the parent's descriptor,
 * or exiting, does not touch the parent's registration. */
IPCV_CASE(posix_mq, close_in_a_forked_child_keeps_the_parents_registration,
          .tags = "multi cleanup", .covers = "B294",
          .spec = "mq_close(3); fork(2)",
          .desc = "a child closes the descriptor it inherited and exits; the parent's registration stays (others get EBUSY) and the next message signals the parent")
{
    struct note n;
    note_queue(&n);
    ipcv_expect_eq(0, notify_signal(n.q, 1));
    struct ipcv_role *r = ipcv_spawn("child", close_inherited, &n);
    ipcv_join(r, IPCV_EXITED(0));
    register_from_a_role(&n, EBUSY);
    send_from_a_role(&n);
    expect_signal("message after the child closed its copy");
    mq_gone(n.q, n.name);
}

/* mq_notify(3) SIGEV_NONE: "the calling process is registered as the
 * target for notification, but when a message arrives, no notification is
 * sent" -- the registration still holds the queue's one slot, until the
 * message that would have notified (glibc tst-mqueue5, tst-mqueue6). */
IPCV_CASE(posix_mq, sigev_none_registration_blocks_others_and_sends_nothing,
          .tags = "multi", .covers = "B628 B132",
          .spec = "mq_notify(3) SIGEV_NONE",
          .desc = "a SIGEV_NONE registration makes other processes' mq_notify fail with EBUSY, sends nothing when a message arrives, and ends then: another process may register")
{
    struct note n;
    note_queue(&n);
    struct sigevent none = { .sigev_notify = SIGEV_NONE, .sigev_signo = NOTE_SIG };
    ipcv_expect_eq(0, mq_notify(n.q, &none));
    register_from_a_role(&n, EBUSY);
    send_from_a_role(&n);
    expect_no_signal("SIGEV_NONE");
    register_from_a_role(&n, 0);
    mq_gone(n.q, n.name);
}

/* What the SIGEV_THREAD function saw (in the role that registered). */
static struct {
    atomic_int calls;
    atomic_int tid[4];
    atomic_intptr_t value[4];
    atomic_long guard, stack;
    mqd_t q;
    atomic_int got;    /* bytes the function received from the queue */
} cb;

#define CALLED_CP 5     /* checkpoint the SIGEV_THREAD function bumps */

static void note_function(union sigval v)
{
    int k = atomic_fetch_add(&cb.calls, 1);
    if (k < 4) {
        atomic_store(&cb.tid[k], (int)gettid());
        atomic_store(&cb.value[k], (intptr_t)v.sival_ptr);
    }
    pthread_attr_t a;
    if (pthread_getattr_np(pthread_self(), &a) == 0) {
        size_t guard = 0, stack = 0;
        pthread_attr_getguardsize(&a, &guard);
        pthread_attr_getstacksize(&a, &stack);
        atomic_store(&cb.guard, (long)guard);
        atomic_store(&cb.stack, (long)stack);
        pthread_attr_destroy(&a);
    }
    ipcv_checkpoint_signal(CALLED_CP);
}

static int thread_notify(mqd_t q, void *value, pthread_attr_t *attr)
{
    struct sigevent ev = { .sigev_notify = SIGEV_THREAD, .sigev_notify_function = note_function,
                           .sigev_notify_attributes = attr, .sigev_value.sival_ptr = value };
    return mq_notify(q, &ev);
}

/* SIGEV_THREAD needs threads, which the coordinator cannot start (it made
 * the case's PID namespace): each scenario runs in a role. */
static void in_a_role(const char *what, ipcv_role_fn fn, struct note *n)
{
    struct ipcv_role *r = ipcv_spawn(what, fn, n);
    ipcv_join(r, IPCV_EXITED(0));
}

static int function_in_new_threads(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct note *n = arg;
    static int marker1, marker2;
    ipcv_expect_eq(0, thread_notify(n->q, &marker1, NULL));
    SAFE(mq_send(n->q, "m", 1, 0));
    if (mq_expect_checkpoint(CALLED_CP, 1, "the SIGEV_THREAD function (first)")) {
        ipcv_expect_eq((intptr_t)&marker1, atomic_load(&cb.value[0]));
        ipcv_expect_ne(gettid(), atomic_load(&cb.tid[0]));
    }
    drain(n->q);
    ipcv_expect_eq(0, thread_notify(n->q, &marker2, NULL));
    SAFE(mq_send(n->q, "m", 1, 0));
    if (mq_expect_checkpoint(CALLED_CP, 2, "the SIGEV_THREAD function (second)")) {
        ipcv_expect_eq((intptr_t)&marker2, atomic_load(&cb.value[1]));
        ipcv_expect_ne(gettid(), atomic_load(&cb.tid[1]));
        ipcv_expect_ne(atomic_load(&cb.tid[0]), atomic_load(&cb.tid[1]));
    }
    ipcv_expect_eq(2, atomic_load(&cb.calls));
    return 0;
}

/* mq_notify(3) SIGEV_THREAD: "Upon message notification, invoke
 * sev->sigev_notify_function as if it were the start function of a new
 * thread", with sigev_value as its argument. glibc runs each notification
 * in a new thread (musl in one thread per registration). */
IPCV_CASE(posix_mq, sigev_thread_runs_the_function_in_a_new_thread_with_the_value,
          .tags = "api", .covers = "B132 B739",
          .spec = "mq_notify(3) SIGEV_THREAD",
          .desc = "on a message into the empty queue the registered function runs once, with the registered sigev_value, in a thread that is not the caller; after registering again, the next one runs in another new thread")
{
    struct note n;
    note_queue(&n);
    in_a_role("registrar", function_in_new_threads, &n);
    mq_gone(n.q, n.name);
}

static int function_with_attributes(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct note *n = arg;
    long page = sysconf(_SC_PAGESIZE);
    pthread_attr_t attr;
    SAFE_RC(pthread_attr_init(&attr));
    SAFE_RC(pthread_attr_setguardsize(&attr, (size_t)(4 * page)));
    SAFE_RC(pthread_attr_setstacksize(&attr, 512 * 1024));
    for (int round = 1; round <= 2; round++) {
        ipcv_expect_eq(0, thread_notify(n->q, NULL, &attr));
        SAFE(mq_send(n->q, "m", 1, 0));
        if (mq_expect_checkpoint(CALLED_CP, (unsigned)round, "the SIGEV_THREAD function")) {
            ipcv_expect_eq(4 * page, atomic_load(&cb.guard));
            ipcv_expect_true(atomic_load(&cb.stack) >= 512 * 1024, "round %d: stack size %ld, asked 524288",
                             round, atomic_load(&cb.stack));
        }
        drain(n->q);
    }
    pthread_attr_destroy(&attr);
    return 0;
}

/* mq_notify(3) SIGEV_THREAD: "If sev->sigev_notify_attributes is not NULL,
 * then it should point to a pthread_attr_t structure that defines
 * attributes for the thread" (glibc tst-mqueue6: the guard size). */
IPCV_CASE(posix_mq, sigev_thread_honours_the_notify_attributes,
          .tags = "api", .covers = "B629",
          .spec = "mq_notify(3) SIGEV_THREAD sigev_notify_attributes",
          .desc = "the notification thread has the guard size and at least the stack size of sigev_notify_attributes, and registering again after it fired works the same")
{
    struct note n;
    note_queue(&n);
    in_a_role("registrar", function_with_attributes, &n);
    mq_gone(n.q, n.name);
}

static void child_function(union sigval v)
{
    mqd_t q = (mqd_t)(intptr_t)v.sival_ptr;
    char buf[16];
    unsigned prio;
    struct timespec past = { 0, 0 };
    atomic_store(&cb.got, (int)mq_timedreceive(q, buf, sizeof buf, &prio, &past));
    atomic_fetch_add(&cb.calls, 1);
    ipcv_checkpoint_signal(6);
}

struct exit_probe { pid_t pid; int status; };

static int child_exited(void *arg)
{
    struct exit_probe *p = arg;
    return waitpid(p->pid, &p->status, WNOHANG) == p->pid;
}

static int thread_notify_then_fork(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct note *n = arg;
    pid_t pid = SAFE(fork());
    if (pid == 0) {
        atomic_store(&cb.got, -2);
        struct sigevent ev = { .sigev_notify = SIGEV_THREAD, .sigev_notify_function = child_function,
                               .sigev_value.sival_ptr = (void *)(intptr_t)n->q };
        ipcv_expect_eq(0, mq_notify(n->q, &ev));
        ipcv_checkpoint_signal(7);
        if (mq_expect_checkpoint(6, 1, "the child's SIGEV_THREAD function")) {
            ipcv_expect_eq(4, atomic_load(&cb.got));
            ipcv_expect_eq(1, atomic_load(&cb.calls));
        }
        _exit(0);
    }
    /* The parent sends once the child is registered. */
    if (mq_expect_checkpoint(7, 1, "the child's registration"))
        SAFE(mq_send(n->q, "kids", 4, 0));
    struct exit_probe p = { pid, 0 };
    if (!ipcv_poll_until(child_exited, &p, ipcv_wait_bound())) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "the forked child did not end");
    }
    ipcv_expect_eq(0, mq_count(n->q));
    ipcv_expect_eq(0, atomic_load(&cb.calls));   /* it ran in the child, not here */
    return 0;
}

/* glibc tst-mqueue3: SIGEV_THREAD in a forked child. (Had the parent used
 * SIGEV_THREAD before the fork, glibc 2.36 would share its netlink socket
 * with the child, and the parent's helper thread may run the child's
 * function in the parent: not checked here.) */
IPCV_CASE(posix_mq, sigev_thread_works_in_a_forked_child,
          .tags = "multi", .covers = "B630",
          .spec = "mq_notify(3) SIGEV_THREAD; fork(2)",
          .desc = "a forked child registers SIGEV_THREAD; when its parent sends, the function runs in the child, with the child's value, and reads the message")
{
    struct note n;
    note_queue(&n);
    in_a_role("parent", thread_notify_then_fork, &n);
    mq_gone(n.q, n.name);
}

static int register_remove_register(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct note *n = arg;
    for (int i = 0; i < 2; i++) {
        ipcv_expect_eq(0, thread_notify(n->q, NULL, NULL));
        ipcv_expect_eq(0, mq_notify(n->q, NULL));
    }
    static int marker;
    ipcv_expect_eq(0, thread_notify(n->q, &marker, NULL));
    SAFE(mq_send(n->q, "m", 1, 0));
    if (mq_expect_checkpoint(CALLED_CP, 1, "the SIGEV_THREAD function"))
        ipcv_expect_eq((intptr_t)&marker, atomic_load(&cb.value[0]));
    return 0;
}

/* LTP mq_notify03, glibc bug 28213 (CVE-2021-38604): a SIGEV_THREAD
 * registration with NULL attributes, removed at once, made glibc's helper
 * thread dereference NULL; registering again and sending must work. */
IPCV_CASE(posix_mq, sigev_thread_with_null_attributes_survives_removal,
          .tags = "api", .covers = "B136",
          .spec = "mq_notify(3) SIGEV_THREAD; glibc bug 28213",
          .desc = "SIGEV_THREAD with NULL attributes registered and removed, twice, then registered again: the process lives and the function runs on the next message")
{
    struct note n;
    note_queue(&n);
    in_a_role("registrar", register_remove_register, &n);
    mq_gone(n.q, n.name);
}

/* mq_notify(3) EINVAL: "sevp->sigev_notify is not one of the permitted
 * values; or sevp->sigev_notify is SIGEV_SIGNAL and sevp->sigev_signo is
 * not a valid signal number." A failed call registers nothing. */
IPCV_CASE(posix_mq, invalid_sigevent_is_einval,
          .tags = "api", .covers = "B135",
          .spec = "mq_notify(3) EINVAL",
          .desc = "sigev_notify 99 or -1, and SIGEV_SIGNAL with sigev_signo _NSIG+1 or -1, fail with EINVAL and leave the queue free for a registration")
{
    struct note n;
    note_queue(&n);
    static const struct { int notify, signo; } tcases[] = {
        { 99, SIGUSR1 }, { -1, SIGUSR1 }, { SIGEV_SIGNAL, 65 }, { SIGEV_SIGNAL, 1000 }, { SIGEV_SIGNAL, -1 },
    };
    for (size_t i = 0; i < sizeof tcases / sizeof tcases[0]; i++) {
        struct sigevent ev = { .sigev_notify = tcases[i].notify, .sigev_signo = tcases[i].signo };
        errno = 0;
        int rc = mq_notify(n.q, &ev);
        if (rc != -1 || errno != EINVAL) {
            ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "sigev_notify %d, sigev_signo %d: expected EINVAL, seen %s",
                        tcases[i].notify, tcases[i].signo, rc == 0 ? "success" : ipcv_errname(errno));
            if (rc == 0)
                mq_notify(n.q, NULL);
        }
    }
    register_from_a_role(&n, 0);
    mq_gone(n.q, n.name);
}
