/* POSIX message queues: mq_getattr and mq_setattr, and where the
 * O_NONBLOCK flag lives. */
#define _GNU_SOURCE
#include <fcntl.h>

#include "posix_mq.h"

struct counted { mqd_t q; char name[MQ_NAME_LEN]; };

static int count_from_afar(struct ipcv_role *self, void *arg)
{
    struct counted *c = arg;
    mqd_t own = SAFE(mq_open(c->name, O_RDONLY));
    ipcv_expect_eq(3, mq_count(own));
    ipcv_expect_eq(3, mq_count(c->q));        /* the inherited descriptor */
    ipcv_ready(self);
    ipcv_await_release(self);
    ipcv_expect_eq(2, mq_count(own));
    mq_close(own);
    return 0;
}

/* mq_getattr(3): "mq_curmsgs returns the number of messages currently
 * held in the queue" -- the queue's count, whichever descriptor or
 * process asks (glibc tst-mqueue4: curmsgs through a second descriptor). */
IPCV_CASE(posix_mq, getattr_counts_the_messages_of_the_queue_through_every_descriptor,
          .tags = "api multi", .covers = "B299",
          .spec = "mq_getattr(3) mq_curmsgs",
          .desc = "mq_curmsgs goes 0, 1, 2, 3 with each send and down with each receive, and a second descriptor and another process see the same numbers")
{
    struct counted c;
    c.q = mq_fresh(c.name, "q", 4, 8, 0);
    mqd_t other = SAFE(mq_open(c.name, O_RDONLY));
    for (int i = 0; i < 3; i++) {
        ipcv_expect_eq(i, mq_count(c.q));
        ipcv_expect_eq(i, mq_count(other));
        SAFE(mq_send(c.q, "m", 1, (unsigned)i));
    }
    struct ipcv_role *r = ipcv_spawn("counter", count_from_afar, &c);
    ipcv_wait_ready(r);
    char buf[8];
    unsigned prio;
    SAFE(mq_receive(other, buf, sizeof buf, &prio));
    ipcv_expect_eq(2, mq_count(c.q));
    ipcv_release(r);
    ipcv_join(r, IPCV_EXITED(0));
    SAFE(mq_close(other));
    mq_gone(c.q, c.name);
}

/* mq_setattr(3): "The only attribute that can be modified is the setting
 * of the O_NONBLOCK flag in mq_flags. The other fields in newattr are
 * ignored." */
IPCV_CASE(posix_mq, setattr_changes_only_the_o_nonblock_flag,
          .tags = "api", .covers = "B301 B604 B297",
          .spec = "mq_setattr(3)",
          .desc = "mq_setattr with O_NONBLOCK and other mq_maxmsg, mq_msgsize, mq_curmsgs sets only O_NONBLOCK, which then takes effect; setting mq_flags 0 makes the descriptor block again")
{
    char name[MQ_NAME_LEN];
    mqd_t q = mq_fresh(name, "q", 3, 16, 0);
    SAFE(mq_send(q, "x", 1, 0));
    struct mq_attr set = { .mq_flags = O_NONBLOCK, .mq_maxmsg = 99, .mq_msgsize = 99, .mq_curmsgs = 42 };
    ipcv_expect_eq(0, mq_setattr(q, &set, NULL));
    struct mq_attr a;
    SAFE(mq_getattr(q, &a));
    ipcv_expect_eq(O_NONBLOCK, a.mq_flags);
    ipcv_expect_eq(3, a.mq_maxmsg);
    ipcv_expect_eq(16, a.mq_msgsize);
    ipcv_expect_eq(1, a.mq_curmsgs);
    char buf[16];
    unsigned prio;
    ipcv_expect_eq(1, mq_receive(q, buf, sizeof buf, &prio));
    struct timespec soon = mq_in_ms(1000);
    double t0 = mq_mono();
    ipcv_expect_fail(EAGAIN, mq_timedreceive(q, buf, sizeof buf, &prio, &soon));
    ipcv_expect_true(mq_mono() - t0 < 0.5, "O_NONBLOCK receive waited %.3f s", mq_mono() - t0);

    set.mq_flags = 0;
    ipcv_expect_eq(0, mq_setattr(q, &set, NULL));
    SAFE(mq_getattr(q, &a));
    ipcv_expect_eq(0, a.mq_flags);
    ipcv_expect_eq(3, a.mq_maxmsg);
    soon = mq_in_ms(30);
    ipcv_expect_fail(ETIMEDOUT, mq_timedreceive(q, buf, sizeof buf, &prio, &soon));
    mq_gone(q, name);
}

/* mq_setattr(3): "If oldattr is non-NULL, then the buffer that it points
 * to is used to return an mq_attr structure that contains the same
 * information that is returned by mq_getattr()" -- from before the
 * change. */
IPCV_CASE(posix_mq, setattr_returns_the_attributes_from_before_the_change,
          .tags = "api", .covers = "B302 B604",
          .spec = "mq_setattr(3) oldattr",
          .desc = "mq_setattr's oldattr holds the flags, sizes and count from before the call: 0 then O_NONBLOCK then 0 as the flag is toggled")
{
    char name[MQ_NAME_LEN];
    mqd_t q = mq_fresh(name, "q", 5, 24, 0);
    SAFE(mq_send(q, "a", 1, 0));
    SAFE(mq_send(q, "b", 1, 0));
    static const long flags[] = { O_NONBLOCK, 0, O_NONBLOCK, O_NONBLOCK, 0 };
    long before = 0;
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        struct mq_attr set = { .mq_flags = flags[i] }, old;
        memset(&old, 0x55, sizeof old);
        ipcv_expect_eq(0, mq_setattr(q, &set, &old));
        if (old.mq_flags != before || old.mq_maxmsg != 5 || old.mq_msgsize != 24 || old.mq_curmsgs != 2)
            ipcv_record(IPCV_FAIL, __FILE__, __LINE__,
                        "step %zu: oldattr {flags %#lx maxmsg %ld msgsize %ld curmsgs %ld}, expected {%#lx 5 24 2}",
                        i, old.mq_flags, old.mq_maxmsg, old.mq_msgsize, old.mq_curmsgs, before);
        before = flags[i];
    }
    mq_gone(q, name);
}

/* mq_getattr(3) ERRORS: EINVAL "newattr->mq_flags contained set bits
 * other than O_NONBLOCK." */
IPCV_CASE(posix_mq, setattr_with_flags_other_than_o_nonblock_is_einval,
          .tags = "api", .covers = "B301",
          .spec = "mq_getattr(3) EINVAL",
          .desc = "mq_setattr with O_RDWR, O_APPEND, O_CREAT or O_NONBLOCK|O_ASYNC in mq_flags fails with EINVAL and leaves the flags as they were")
{
    char name[MQ_NAME_LEN];
    mqd_t q = mq_fresh(name, "q", 2, 8, 0);
    static const long bad[] = { O_RDWR, O_APPEND, O_CREAT, O_NONBLOCK | O_ASYNC, O_NONBLOCK | O_RDWR };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct mq_attr set = { .mq_flags = bad[i] }, old;
        errno = 0;
        int rc = mq_setattr(q, &set, &old);
        if (rc != -1 || errno != EINVAL)
            ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "mq_flags %#lx: expected EINVAL, seen %s",
                        bad[i], rc == 0 ? "success" : ipcv_errname(errno));
        struct mq_attr a;
        SAFE(mq_getattr(q, &a));
        ipcv_expect_eq(0, a.mq_flags);
    }
    mq_gone(q, name);
}

struct shared_desc { mqd_t q; };

static int set_nonblock_in_child(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct shared_desc *s = arg;
    struct mq_attr set = { .mq_flags = O_NONBLOCK };
    ipcv_expect_eq(0, mq_setattr(s->q, &set, NULL));
    return 0;
}

/* mq_overview(7): mq_flags belongs to the open message queue description;
 * fork(2): "Each file descriptor in the child refers to the same open
 * message queue description as the corresponding file descriptor in the
 * parent. This means that the two file descriptors share the same flags
 * (mq_flags)." Another mq_open is another description. */
IPCV_CASE(posix_mq, o_nonblock_belongs_to_the_open_description,
          .tags = "api multi", .covers = "B297",
          .spec = "mq_overview(7); fork(2); mq_getattr(3) mq_flags",
          .desc = "O_NONBLOCK set through one mq_open's descriptor is not seen through a second mq_open of the queue, but is seen through a dup of it and after a forked child sets it on the inherited descriptor")
{
    char name[MQ_NAME_LEN];
    mqd_t q = mq_fresh(name, "q", 2, 8, 0);
    mqd_t other = SAFE(mq_open(name, O_RDWR));
    mqd_t dupd = SAFE(dup(q));
    struct mq_attr set = { .mq_flags = O_NONBLOCK }, a;
    ipcv_expect_eq(0, mq_setattr(q, &set, NULL));
    SAFE(mq_getattr(other, &a));
    ipcv_expect_eq(0, a.mq_flags);
    SAFE(mq_getattr(dupd, &a));
    ipcv_expect_eq(O_NONBLOCK, a.mq_flags);

    struct shared_desc s = { other };
    struct ipcv_role *r = ipcv_spawn("child", set_nonblock_in_child, &s);
    ipcv_join(r, IPCV_EXITED(0));
    SAFE(mq_getattr(other, &a));
    ipcv_expect_eq(O_NONBLOCK, a.mq_flags);
    char buf[8];
    unsigned prio;
    struct timespec soon = mq_in_ms(1000);
    double t0 = mq_mono();
    ipcv_expect_fail(EAGAIN, mq_timedreceive(other, buf, sizeof buf, &prio, &soon));
    ipcv_expect_true(mq_mono() - t0 < 0.5, "receive waited %.3f s", mq_mono() - t0);
    SAFE(close(dupd));
    SAFE(mq_close(other));
    mq_gone(q, name);
}
