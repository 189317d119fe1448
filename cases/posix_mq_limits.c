/* POSIX message queues at their limits: /proc/sys/fs/mqueue (per IPC
 * namespace, lowered or raised inside the sandbox), RLIMIT_MSGQUEUE and
 * RLIMIT_NOFILE (lowered in a role; raising them needs CAP_SYS_RESOURCE,
 * which root lacks here). */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "posix_mq.h"

/* Queue bytes count against RLIMIT_MSGQUEUE per user, and root's count is
 * shared with every case running at the same time: each role that needs
 * an exact count runs as a uid of its own. */
#define UID_RAISED   62010
#define UID_DEFAULTS 62011
#define UID_ATTR     62012
#define UID_SUM      62013
#define UID_HUGE     62014

/* mq_overview(7) /proc/sys/fs/mqueue/queues_max: "the system-wide limit
 * on the number of message queues that can be created"; mq_open(3)
 * ENOSPC: "Insufficient space for the creation of a new message queue.
 * This probably occurred because the queues_max limit was encountered".
 * It is per IPC namespace; CAP_SYS_RESOURCE would lift it. */
IPCV_CASE(posix_mq, queues_max_reached_is_enospc,
          .tags = "limit", .covers = "B145",
          .spec = "mq_overview(7) queues_max; mq_open(3) ENOSPC",
          .desc = "with queues_max 3, three queues are created, the fourth fails with ENOSPC; once one is closed and unlinked another can be created")
{
    if (ipcv_has_cap(CAP_SYS_RESOURCE))
        ipcv_skip("CAP_SYS_RESOURCE lifts queues_max");
    IPCV_SET_LIMIT("queues_max", 3);
    char names[4][MQ_NAME_LEN];
    mqd_t q[3];
    for (int i = 0; i < 3; i++) {
        char suffix[8];
        snprintf(suffix, sizeof suffix, "q%d", i);
        q[i] = mq_fresh(names[i], suffix, 2, 8, 0);
    }
    mq_name(names[3], "q3");
    errno = 0;
    mqd_t extra = mq_open(names[3], O_CREAT | O_EXCL | O_RDWR, 0600, NULL);
    ipcv_expect_eq(-1, extra);
    ipcv_expect_eq(ENOSPC, errno);
    if (extra != (mqd_t)-1)
        mq_gone(extra, names[3]);
    mq_gone(q[0], names[0]);
    extra = ipcv_expect_ok(mq_open(names[3], O_CREAT | O_EXCL | O_RDWR, 0600, NULL));
    if (extra != (mqd_t)-1)
        mq_gone(extra, names[3]);
    mq_gone(q[1], names[1]);
    mq_gone(q[2], names[2]);
}

/* A queue counts against queues_max until it is destroyed, which
 * mq_unlink(3) defers to the last close. */
IPCV_CASE(posix_mq, unlinked_queue_still_open_counts_against_queues_max,
          .tags = "limit cleanup", .covers = "B145 B291",
          .spec = "mq_overview(7) queues_max; mq_unlink(3)",
          .desc = "with queues_max 2 and two queues, unlinking one that is still open does not free a place (ENOSPC); closing it does")
{
    if (ipcv_has_cap(CAP_SYS_RESOURCE))
        ipcv_skip("CAP_SYS_RESOURCE lifts queues_max");
    IPCV_SET_LIMIT("queues_max", 2);
    char a[MQ_NAME_LEN], b[MQ_NAME_LEN], c[MQ_NAME_LEN];
    mqd_t qa = mq_fresh(a, "a", 2, 8, 0);
    mqd_t qb = mq_fresh(b, "b", 2, 8, 0);
    mq_name(c, "c");
    SAFE(mq_unlink(a));
    ipcv_expect_fail(ENOSPC, mq_open(c, O_CREAT | O_EXCL | O_RDWR, 0600, NULL));
    SAFE(mq_close(qa));
    mqd_t qc = ipcv_expect_ok(mq_open(c, O_CREAT | O_EXCL | O_RDWR, 0600, NULL));
    if (qc != (mqd_t)-1)
        mq_gone(qc, c);
    mq_gone(qb, b);
}

struct attr_try { char name[MQ_NAME_LEN]; long maxmsg, msgsize; int err; uid_t uid; };

static void try_attr(const struct attr_try *t)
{
    struct mq_attr a = { .mq_maxmsg = t->maxmsg, .mq_msgsize = t->msgsize };
    errno = 0;
    mqd_t q = mq_open(t->name, O_CREAT | O_EXCL | O_RDWR, 0600, &a);
    int err = q == (mqd_t)-1 ? errno : 0;
    if (err != t->err)
        ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "uid %u, mq_maxmsg %ld, mq_msgsize %ld: expected %s, seen %s",
                    (unsigned)geteuid(), t->maxmsg, t->msgsize, ipcv_errname(t->err), ipcv_errname(err));
    if (q != (mqd_t)-1) {
        struct mq_attr got;
        SAFE(mq_getattr(q, &got));
        if (got.mq_maxmsg != t->maxmsg || got.mq_msgsize != t->msgsize)
            ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "asked %ld x %ld, created %ld x %ld",
                        t->maxmsg, t->msgsize, got.mq_maxmsg, got.mq_msgsize);
        mq_close(q);
        mq_unlink(t->name);
    }
}

static int try_attr_as(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct attr_try *t = arg;
    mq_become(t->uid);
    for (; t->name[0]; t++)
        try_attr(t);
    return 0;
}

/* mq_overview(7) msg_max / msgsize_max: "a ceiling on the value that can
 * be specified for attr->mq_maxmsg [attr->mq_msgsize] when creating a
 * message queue ... This limit is ignored for privileged processes
 * (CAP_SYS_RESOURCE)"; mq_open(3) EINVAL: "attr->mq_maxmsg or
 * attr->mq_msqsize was invalid ... for a process that is unprivileged
 * (does not have the CAP_SYS_RESOURCE capability), attr->mq_maxmsg must
 * be less than or equal to the msg_max limit, and attr->mq_msgsize must
 * be less than or equal to the msgsize_max limit." Root here has no
 * CAP_SYS_RESOURCE, so it is held to them like uid 65534. */
IPCV_CASE(posix_mq, attr_above_msg_max_or_msgsize_max_is_einval_without_cap_sys_resource,
          .tags = "limit", .covers = "B636",
          .spec = "mq_overview(7) msg_max, msgsize_max; mq_open(3) EINVAL",
          .desc = "with msg_max 5 and msgsize_max 256, mq_maxmsg 5 x 256 is created, 6 x 256 and 5 x 257 fail with EINVAL, for root without CAP_SYS_RESOURCE and for uid 65534")
{
    IPCV_SET_LIMIT("msg_max", 5);
    IPCV_SET_LIMIT("msgsize_max", 256);
    int capped = ipcv_has_cap(CAP_SYS_RESOURCE);
    struct attr_try t[4] = {
        { .maxmsg = 5, .msgsize = 256, .err = 0 },
        { .maxmsg = 6, .msgsize = 256, .err = capped ? 0 : EINVAL },
        { .maxmsg = 5, .msgsize = 257, .err = capped ? 0 : EINVAL },
    };
    for (int i = 0; i < 3; i++)
        mq_name(t[i].name, "q");
    for (int i = 0; i < 3; i++)
        try_attr(&t[i]);
    /* uid 65534 never has the capability */
    t[1].err = t[2].err = EINVAL;
    t[0].uid = MQ_NOBODY;
    struct ipcv_role *r = ipcv_spawn("nobody", try_attr_as, t);
    ipcv_join(r, IPCV_EXITED(0));
}

/* LTP mq_open01 creates mq_maxmsg 20 x mq_msgsize 16384, beyond the
 * default maxima (10 x 8192): with msg_max and msgsize_max raised in the
 * queue's IPC namespace, no capability is needed. */
IPCV_CASE(posix_mq, attr_within_raised_namespace_maxima_is_accepted,
          .tags = "limit", .covers = "B137",
          .spec = "mq_overview(7) msg_max, msgsize_max",
          .desc = "after raising msg_max to 20 and msgsize_max to 16384 in the namespace, a process without CAP_SYS_RESOURCE creates a 20 x 16384 queue with those attributes")
{
    IPCV_SET_LIMIT("msg_max", 20);
    IPCV_SET_LIMIT("msgsize_max", 16384);
    struct attr_try t[2] = { { .maxmsg = 20, .msgsize = 16384, .err = 0, .uid = UID_RAISED } };
    mq_name(t[0].name, "q");
    struct ipcv_role *r = ipcv_spawn("creator", try_attr_as, t);
    ipcv_join(r, IPCV_EXITED(0));
}

/* mq_overview(7) msg_default / msgsize_default: "the value used for
 * mq_maxmsg [mq_msgsize] when a new queue is created ... and attr is
 * NULL" (kernel selftests mq_open_tests). */
IPCV_CASE(posix_mq, null_attr_takes_msg_default_and_msgsize_default,
          .tags = "limit", .covers = "B218 B632",
          .spec = "mq_overview(7) msg_default, msgsize_default; mq_open(3)",
          .desc = "with msg_default 4 and msgsize_default 200, a queue created with attr NULL has mq_maxmsg 4 and mq_msgsize 200, and holds 4 messages of 200 bytes")
{
    IPCV_SET_LIMIT("msg_default", 4);
    IPCV_SET_LIMIT("msgsize_default", 200);
    char name[MQ_NAME_LEN];
    mqd_t q = mq_fresh(name, "q", 0, 0, O_NONBLOCK);
    struct mq_attr a;
    SAFE(mq_getattr(q, &a));
    ipcv_expect_eq(4, a.mq_maxmsg);
    ipcv_expect_eq(200, a.mq_msgsize);
    static char msg[201];
    ipcv_expect_fail(EMSGSIZE, mq_send(q, msg, 201, 0));
    for (int i = 0; i < 4; i++)
        ipcv_expect_eq(0, mq_send(q, msg, 200, 0));
    ipcv_expect_fail(EAGAIN, mq_send(q, msg, 1, 0));
    mq_gone(q, name);
}

/* mq_overview(7): msg_default and msgsize_default apply to a NULL attr,
 * but never beyond msg_max and msgsize_max: the kernel takes the smaller
 * (kernel selftests mq_open_tests, "defaults > max are clamped"). */
IPCV_CASE(posix_mq, defaults_above_the_maxima_are_clamped_to_them,
          .tags = "limit", .covers = "B633",
          .spec = "mq_overview(7) msg_default, msgsize_default",
          .desc = "with msg_max 3 below msg_default 7 and msgsize_max 128 below msgsize_default 1000, a queue created with attr NULL gets 3 x 128")
{
    IPCV_SET_LIMIT("msg_max", 3);
    IPCV_SET_LIMIT("msg_default", 7);
    IPCV_SET_LIMIT("msgsize_max", 128);
    IPCV_SET_LIMIT("msgsize_default", 1000);
    char name[MQ_NAME_LEN];
    mq_name(name, "q");
    mqd_t q = ipcv_expect_ok(mq_open(name, O_CREAT | O_EXCL | O_RDWR, 0600, NULL));
    if (q == (mqd_t)-1)
        return;
    struct mq_attr a;
    SAFE(mq_getattr(q, &a));
    ipcv_expect_eq(3, a.mq_maxmsg);
    ipcv_expect_eq(128, a.mq_msgsize);
    mq_gone(q, name);
}

struct rlimit_try { char name[MQ_NAME_LEN]; uid_t uid; unsigned long long limit; };

static int defaults_under_rlimit(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct rlimit_try *t = arg;
    mq_become(t->uid);
    IPCV_SET_LIMIT("rlimit_msgqueue", t->limit);
    errno = 0;
    mqd_t q = mq_open(t->name, O_CREAT | O_EXCL | O_RDWR, 0600, NULL);
    ipcv_expect_eq(-1, q);
    ipcv_expect_eq(EMFILE, errno);
    if (q != (mqd_t)-1) {
        mq_close(q);
        mq_unlink(t->name);
    }
    /* a small queue fits */
    struct mq_attr small = { .mq_maxmsg = 1, .mq_msgsize = 64 };
    q = ipcv_expect_ok(mq_open(t->name, O_CREAT | O_EXCL | O_RDWR, 0600, &small));
    if (q != (mqd_t)-1) {
        mq_close(q);
        mq_unlink(t->name);
    }
    return 0;
}

/* getrlimit(2) RLIMIT_MSGQUEUE: "the number of bytes that can be
 * allocated for POSIX message queues for the real user ID of the calling
 * process"; the kernel fails mq_open with EMFILE beyond it -- defaults
 * included (kernel selftests mq_open_tests). */
IPCV_CASE(posix_mq, null_attr_defaults_beyond_rlimit_msgqueue_are_emfile,
          .tags = "limit", .covers = "B634",
          .spec = "getrlimit(2) RLIMIT_MSGQUEUE; mq_overview(7)",
          .desc = "with RLIMIT_MSGQUEUE lowered to 16384 bytes, a queue with attr NULL (10 x 8192) fails with EMFILE, while a 1 x 64 queue is created")
{
    struct rlimit_try t = { .uid = UID_DEFAULTS, .limit = 16384 };
    mq_name(t.name, "q");
    struct ipcv_role *r = ipcv_spawn("user", defaults_under_rlimit, &t);
    ipcv_join(r, IPCV_EXITED(0));
}

static int attr_over_rlimit(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct rlimit_try *t = arg;
    if (t->uid)
        mq_become(t->uid);
    IPCV_SET_LIMIT("rlimit_msgqueue", t->limit);
    struct mq_attr big = { .mq_maxmsg = 4, .mq_msgsize = 8192 };
    errno = 0;
    mqd_t q = mq_open(t->name, O_CREAT | O_EXCL | O_RDWR, 0600, &big);
    ipcv_expect_eq(-1, q);
    ipcv_expect_eq(EMFILE, errno);
    if (q != (mqd_t)-1) {
        mq_close(q);
        mq_unlink(t->name);
    }
    return 0;
}

/* getrlimit(2) RLIMIT_MSGQUEUE, for root as for anyone: a queue whose
 * bytes alone exceed the limit fails with EMFILE (kernel selftests
 * mq_open_tests, as euid 0 and 99). */
IPCV_CASE(posix_mq, attr_beyond_rlimit_msgqueue_is_emfile_for_root_and_others,
          .tags = "limit", .covers = "B635",
          .spec = "getrlimit(2) RLIMIT_MSGQUEUE",
          .desc = "with RLIMIT_MSGQUEUE lowered to 4096 bytes, a 4 x 8192 queue fails with EMFILE for root and for another user")
{
    for (int i = 0; i < 2; i++) {
        struct rlimit_try t = { .uid = i ? UID_ATTR : 0, .limit = 4096 };
        mq_name(t.name, "q");
        struct ipcv_role *r = ipcv_spawn(i ? "user" : "root", attr_over_rlimit, &t);
        ipcv_join(r, IPCV_EXITED(0));
    }
}

static int fill_rlimit(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct rlimit_try *t = arg;
    mq_become(t->uid);
    IPCV_SET_LIMIT("rlimit_msgqueue", t->limit);
    struct mq_attr a = { .mq_maxmsg = 1, .mq_msgsize = 4000 };
    char names[3][MQ_NAME_LEN + 4];
    mqd_t q[3];
    for (int i = 0; i < 3; i++) {
        snprintf(names[i], sizeof names[i], "%s%d", t->name, i);
        errno = 0;
        q[i] = mq_open(names[i], O_CREAT | O_EXCL | O_RDWR, 0600, &a);
        int err = q[i] == (mqd_t)-1 ? errno : 0;
        if (err != (i < 2 ? 0 : EMFILE))
            ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "queue %d of 4000 bytes under a 10000-byte limit: expected %s, seen %s",
                        i + 1, ipcv_errname(i < 2 ? 0 : EMFILE), ipcv_errname(err));
    }
    /* Unlinked but open, the first still counts; closed, it does not. */
    if (q[0] != (mqd_t)-1) {
        mq_unlink(names[0]);
        ipcv_expect_fail(EMFILE, mq_open(names[2], O_CREAT | O_EXCL | O_RDWR, 0600, &a));
        mq_close(q[0]);
    }
    mqd_t again = ipcv_expect_ok(mq_open(names[2], O_CREAT | O_RDWR, 0600, &a));
    if (again != (mqd_t)-1)
        mq_close(again);
    for (int i = 1; i < 3; i++) {
        if (q[i] != (mqd_t)-1)
            mq_close(q[i]);
        mq_unlink(names[i]);
    }
    return 0;
}

/* getrlimit(2) RLIMIT_MSGQUEUE: the bytes of all the user's queues add up
 * against it, and a queue's bytes are given back when it is destroyed. */
IPCV_CASE(posix_mq, queue_bytes_of_one_user_add_up_against_rlimit_msgqueue,
          .tags = "limit cleanup", .covers = "B635",
          .spec = "getrlimit(2) RLIMIT_MSGQUEUE",
          .desc = "under a 10000-byte RLIMIT_MSGQUEUE one user creates two 1 x 4000 queues, the third fails with EMFILE, still so once the first is unlinked but open, and succeeds once it is closed")
{
    struct rlimit_try t = { .uid = UID_SUM, .limit = 10000 };
    mq_name(t.name, "q");
    struct ipcv_role *r = ipcv_spawn("user", fill_rlimit, &t);
    ipcv_join(r, IPCV_EXITED(0));
}

static int try_huge(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct attr_try *t = arg;
    if (t->uid)
        mq_become(t->uid);
    try_attr(t);
    return 0;
}

/* kernel selftests mq_open_tests: a queue of 65536 x 65536 bytes (4 GiB)
 * is refused, privileged or not -- beyond the maxima with EINVAL, within
 * raised maxima because of RLIMIT_MSGQUEUE (EMFILE). */
IPCV_CASE(posix_mq, queue_of_4_gib_is_refused,
          .tags = "limit", .covers = "B637",
          .spec = "mq_overview(7); getrlimit(2) RLIMIT_MSGQUEUE",
          .desc = "mq_maxmsg 65536 x mq_msgsize 65536 fails with EINVAL under the default maxima, and with EMFILE once msg_max and msgsize_max allow it, for root and another user")
{
    struct attr_try t = { .maxmsg = 65536, .msgsize = 65536, .err = EINVAL };
    mq_name(t.name, "q");
    try_attr(&t);
    IPCV_SET_LIMIT("msg_max", 65536);
    IPCV_SET_LIMIT("msgsize_max", 65536);
    t.err = EMFILE;
    for (int i = 0; i < 2; i++) {
        t.uid = i ? UID_HUGE : 0;
        struct ipcv_role *r = ipcv_spawn(i ? "user" : "root", try_huge, &t);
        ipcv_join(r, IPCV_EXITED(0));
    }
}

static int highest_open_fd(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    int high = -1;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.' && atoi(e->d_name) > high)
            high = atoi(e->d_name);
    closedir(d);
    return high;
}

static int open_until_emfile(struct ipcv_role *self, void *arg)
{
    (void)self;
    const char *name = arg;
    int high = highest_open_fd();
    if (high < 0)
        ipcv_brk(__FILE__, __LINE__, "cannot list /proc/self/fd");
    IPCV_SET_LIMIT("rlimit_nofile", (unsigned long long)high + 4);
    mqd_t q[64];
    int n = 0, err = 0;
    while (n < 64) {
        errno = 0;
        q[n] = mq_open(name, O_RDWR);
        if (q[n] == (mqd_t)-1) {
            err = errno;
            break;
        }
        n++;
    }
    ipcv_expect_eq(EMFILE, err);
    ipcv_expect_true(n >= 3 && n < 64, "opened %d descriptors under RLIMIT_NOFILE %d", n, high + 4);
    if (n > 0) {
        mq_close(q[--n]);
        mqd_t one = ipcv_expect_ok(mq_open(name, O_RDWR));
        if (one != (mqd_t)-1)
            mq_close(one);
    }
    while (n > 0)
        mq_close(q[--n]);
    return 0;
}

/* mq_open(3) EMFILE: "The per-process limit on the number of open file
 * and message queue descriptors has been reached (see the description of
 * RLIMIT_NOFILE in getrlimit(2))." */
IPCV_CASE(posix_mq, descriptors_beyond_rlimit_nofile_are_emfile,
          .tags = "limit", .covers = "B143 B228",
          .spec = "mq_open(3) EMFILE; getrlimit(2) RLIMIT_NOFILE",
          .desc = "with RLIMIT_NOFILE just above the open descriptors, mq_open of an existing queue succeeds until it fails with EMFILE, and succeeds again after one mq_close")
{
    char name[MQ_NAME_LEN];
    mqd_t q = mq_fresh(name, "q", 2, 8, 0);
    struct ipcv_role *r = ipcv_spawn("opener", open_until_emfile, name);
    ipcv_join(r, IPCV_EXITED(0));
    mq_gone(q, name);
}
