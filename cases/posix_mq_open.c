/* POSIX message queues: mq_open, mq_unlink and mq_close; names, flags,
 * attributes, permissions and the life of a queue. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "posix_mq.h"

/* mq_open(3): "Upon successful completion, mq_open() returns a message
 * queue descriptor" usable as its access mode allows; mq_send(3) returns 0,
 * mq_receive(3) the length, mq_close(3) 0. */
IPCV_CASE(posix_mq, open_gives_a_descriptor_for_send_and_receive,
          .tags = "api", .covers = "B210 B224 B231 B237 B253 B259 B293 B574",
          .spec = "mq_open(3), mq_send(3), mq_close(3)",
          .desc = "O_CREAT|O_EXCL on a new name returns a descriptor; mq_send and mq_timedsend return 0 and queue the message, mq_receive returns it, mq_close returns 0")
{
    char name[MQ_NAME_LEN];
    mq_name(name, "q");
    mqd_t q = mq_open(name, O_CREAT | O_EXCL | O_RDWR, 0600, NULL);
    ipcv_expect_ne(-1, q);
    if (q == (mqd_t)-1)
        return;
    struct mq_attr a;
    SAFE(mq_getattr(q, &a));
    char buf[a.mq_msgsize];
    struct timespec later = mq_in_ms(5000);
    ipcv_expect_eq(0, mq_send(q, "first", 5, 1));
    ipcv_expect_eq(0, mq_timedsend(q, "second", 6, 1, &later));
    ipcv_expect_eq(2, mq_count(q));
    unsigned prio = 0;
    ipcv_expect_eq(5, mq_receive(q, buf, sizeof buf, &prio));
    ipcv_expect_mem("first", buf, 5);
    ipcv_expect_eq(6, mq_receive(q, buf, sizeof buf, &prio));
    ipcv_expect_mem("second", buf, 6);
    ipcv_expect_eq(0, mq_close(q));
    SAFE(mq_unlink(name));
}

/* A name "/" followed by NAME_MAX characters, from ipcv_name's prefix. */
static void long_name(char *out, size_t len, size_t chars)
{
    snprintf(out, len, "%s", ipcv_name("n"));
    size_t have = strlen(out);
    for (size_t i = have; i < chars + 1 && i < len - 1; i++)
        out[i] = 'n';
    out[chars + 1 < len - 1 ? chars + 1 : len - 1] = '\0';
}

/* mq_overview(7): a name is a slash followed by up to NAME_MAX (255)
 * characters; glibc tst-mqueue4 opens and unlinks one of exactly NAME_MAX. */
IPCV_CASE(posix_mq, name_of_name_max_characters_is_accepted,
          .tags = "api limit", .covers = "B138 B582",
          .spec = "mq_overview(7) Message queue names",
          .desc = "a name of a slash and exactly NAME_MAX characters opens, carries a message and unlinks")
{
    char name[NAME_MAX + 2];
    long_name(name, sizeof name, NAME_MAX);
    ipcv_expect_eq(NAME_MAX + 1, strlen(name));
    mqd_t q = ipcv_expect_ok(mq_open(name, O_CREAT | O_EXCL | O_RDWR, 0600, NULL));
    if (q == (mqd_t)-1)
        return;
    ipcv_expect_ok(mq_send(q, "x", 1, 0));
    ipcv_expect_eq(1, mq_count(q));
    mqd_t again = ipcv_expect_ok(mq_open(name, O_RDONLY));
    if (again != (mqd_t)-1) {
        ipcv_expect_eq(1, mq_count(again));
        mq_close(again);
    }
    SAFE(mq_close(q));
    ipcv_expect_ok(mq_unlink(name));
}

/* mq_open(3), mq_unlink(3) ENAMETOOLONG: "name was too long". */
IPCV_CASE(posix_mq, name_longer_than_name_max_is_enametoolong,
          .tags = "api limit", .covers = "B139 B166 B229 B581 B583",
          .spec = "mq_open(3), mq_unlink(3) ENAMETOOLONG",
          .desc = "names of NAME_MAX+1 characters and far beyond fail with ENAMETOOLONG in mq_open (with and without O_CREAT) and mq_unlink")
{
    static const size_t lengths[] = { NAME_MAX + 1, NAME_MAX + 50, PATH_MAX + 10 };
    for (size_t i = 0; i < sizeof lengths / sizeof lengths[0]; i++) {
        char *name = SAFE_PTR(malloc(lengths[i] + 2));
        long_name(name, lengths[i] + 2, lengths[i]);
        ipcv_expect_fail(ENAMETOOLONG, mq_open(name, O_CREAT | O_RDWR, 0600, NULL));
        ipcv_expect_fail(ENAMETOOLONG, mq_open(name, O_RDWR));
        ipcv_expect_fail(ENAMETOOLONG, mq_unlink(name));
        free(name);
    }
}

/* mq_overview(7): "/somename", one initial slash then characters none of
 * which are slashes. mq_open(3): EINVAL for a name not of that form
 * (glibc checks the leading slash itself; musl would accept "q"),
 * EACCES for a second slash, ENOENT for "/" alone. The kernel refuses
 * the names "." and ".." behind the slash with EACCES, as for a slash. */
IPCV_CASE(posix_mq, name_not_of_the_form_slash_name_is_rejected,
          .tags = "api", .covers = "B140 B577 B578 B579 B737",
          .spec = "mq_overview(7) Message queue names; mq_open(3) EINVAL EACCES ENOENT",
          .desc = "\"\", \"q\", \".\", \"..\" fail with EINVAL; \"/a/b\", \"//a\", \"/.\", \"/..\" with EACCES; \"/\" with ENOENT; in mq_open with O_CREAT and in mq_unlink, creating nothing")
{
    static const struct { char name[8]; int err; } tcases[] = {
        { "", EINVAL }, { "q", EINVAL }, { ".", EINVAL }, { "..", EINVAL },
        { "ipcvq", EINVAL },
        { "/a/b", EACCES }, { "//a", EACCES }, { "/.", EACCES }, { "/..", EACCES },
        { "/", ENOENT },
    };
    for (size_t i = 0; i < sizeof tcases / sizeof tcases[0]; i++) {
        errno = 0;
        mqd_t q = mq_open(tcases[i].name, O_CREAT | O_RDWR, 0600, NULL);
        int err = errno;
        if (q != (mqd_t)-1) {
            ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "mq_open(\"%s\", O_CREAT): expected %s, seen success",
                        tcases[i].name, ipcv_errname(tcases[i].err));
            mq_close(q);
            /* A libc that adds the slash created "/name": remove it. */
            char fixed[sizeof tcases[0].name + 1];
            fixed[0] = '/';
            memcpy(fixed + 1, tcases[i].name, sizeof tcases[i].name);
            mq_unlink(fixed);
        } else if (err != tcases[i].err) {
            ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "mq_open(\"%s\", O_CREAT): expected %s, seen %s",
                        tcases[i].name, ipcv_errname(tcases[i].err), ipcv_errname(err));
        }
        errno = 0;
        int rc = mq_unlink(tcases[i].name);
        err = errno;
        if (rc == 0 || err != tcases[i].err)
            ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "mq_unlink(\"%s\"): expected %s, seen %s",
                        tcases[i].name, ipcv_errname(tcases[i].err), rc == 0 ? "success" : ipcv_errname(err));
    }
}

/* mq_open(3) ENOENT: "The O_CREAT flag was not specified in oflag, and no
 * queue with this name exists"; on failure it returns (mqd_t) -1. */
IPCV_CASE(posix_mq, missing_name_without_o_creat_is_enoent,
          .tags = "api", .covers = "B144 B212 B225 B230 B585",
          .spec = "mq_open(3) ENOENT, RETURN VALUE",
          .desc = "mq_open of a name that does not exist, without O_CREAT, returns (mqd_t)-1 with ENOENT for every access mode and creates nothing")
{
    char name[MQ_NAME_LEN];
    mq_name(name, "missing");
    static const int modes[] = { O_RDONLY, O_WRONLY, O_RDWR, O_RDWR | O_NONBLOCK, O_RDWR | O_EXCL };
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        errno = 0;
        mqd_t q = mq_open(name, modes[i]);
        ipcv_expect_eq(-1, q);
        ipcv_expect_eq(ENOENT, errno);
        if (q != (mqd_t)-1) {
            mq_close(q);
            mq_unlink(name);
        }
    }
    ipcv_expect_fail(ENOENT, mq_unlink(name));
}

/* mq_open(3) EEXIST: "Both O_CREAT and O_EXCL were specified in oflag, but
 * a queue with this name already exists." */
IPCV_CASE(posix_mq, o_excl_on_an_existing_name_is_eexist,
          .tags = "api", .covers = "B142 B220 B226 B584",
          .spec = "mq_open(3) EEXIST",
          .desc = "O_CREAT|O_EXCL on an existing name fails with EEXIST and leaves the queue and its messages alone")
{
    char name[MQ_NAME_LEN];
    mqd_t q = mq_fresh(name, "q", 4, 16, 0);
    SAFE(mq_send(q, "kept", 4, 0));
    static const int modes[] = { O_RDONLY, O_WRONLY, O_RDWR };
    for (size_t i = 0; i < 3; i++) {
        struct mq_attr other = { .mq_maxmsg = 2, .mq_msgsize = 8 };
        errno = 0;
        mqd_t again = mq_open(name, O_CREAT | O_EXCL | modes[i], 0600, &other);
        ipcv_expect_eq(-1, again);
        ipcv_expect_eq(EEXIST, errno);
        if (again != (mqd_t)-1)
            mq_close(again);
    }
    struct mq_attr a;
    SAFE(mq_getattr(q, &a));
    ipcv_expect_eq(4, a.mq_maxmsg);
    ipcv_expect_eq(1, a.mq_curmsgs);
    mq_gone(q, name);
}

#define RACERS 4
#define RACE_ROUNDS 25

struct race {
    char names[RACE_ROUNDS][MQ_NAME_LEN];
};

struct race_tally { atomic_int created[RACE_ROUNDS], eexist[RACE_ROUNDS], other[RACE_ROUNDS]; };

static int race_to_create(struct ipcv_role *self, void *arg)
{
    struct race *r = arg;
    struct race_tally *t = (void *)ipcv_self.page->scratch;
    ipcv_ready(self);
    for (int i = 0; i < RACE_ROUNDS; i++) {
        ipcv_checkpoint_wait(0, (unsigned)i + 1);
        mqd_t q = mq_open(r->names[i], O_CREAT | O_EXCL | O_RDWR, 0600, NULL);
        if (q != (mqd_t)-1) {
            atomic_fetch_add(&t->created[i], 1);
            mq_close(q);
        } else if (errno == EEXIST) {
            atomic_fetch_add(&t->eexist[i], 1);
        } else {
            atomic_fetch_add(&t->other[i], 1);
        }
        ipcv_checkpoint_signal(1);
    }
    return 0;
}

/* POSIX.1-2017 mq_open(): "The check for the existence of the message
 * queue and the creation of the message queue if it does not exist shall
 * be atomic with respect to other processes executing mq_open() naming
 * the same name with O_EXCL and O_CREAT set." */
IPCV_CASE(posix_mq, o_excl_makes_exactly_one_creator_among_racing_processes,
          .tags = "multi sync", .covers = "B221",
          .spec = "POSIX.1-2017 mq_open() O_EXCL",
          .desc = "four processes released together on one new name with O_CREAT|O_EXCL: exactly one creates it, the others get EEXIST, in every one of 25 rounds")
{
    struct race r;
    for (int i = 0; i < RACE_ROUNDS; i++) {
        char suffix[16];
        snprintf(suffix, sizeof suffix, "race%d", i);
        mq_name(r.names[i], suffix);
    }
    struct race_tally *t = (void *)ipcv_self.page->scratch;
    struct ipcv_role *roles[RACERS];
    for (int k = 0; k < RACERS; k++)
        roles[k] = ipcv_spawn("racer", race_to_create, &r);
    for (int k = 0; k < RACERS; k++)
        ipcv_wait_ready(roles[k]);
    for (int i = 0; i < RACE_ROUNDS; i++) {
        ipcv_checkpoint_signal(0);
        ipcv_checkpoint_wait(1, (unsigned)(i + 1) * RACERS);
        int created = atomic_load(&t->created[i]);
        if (created != 1 || atomic_load(&t->eexist[i]) != RACERS - 1)
            ipcv_record(IPCV_FAIL, __FILE__, __LINE__,
                        "round %d: expected 1 creator and %d EEXIST, seen %d creators, %d EEXIST, %d other errors",
                        i, RACERS - 1, created, atomic_load(&t->eexist[i]), atomic_load(&t->other[i]));
        SAFE(mq_unlink(r.names[i]));
    }
    for (int k = 0; k < RACERS; k++)
        ipcv_join(roles[k], IPCV_EXITED(0));
}

struct named { char name[MQ_NAME_LEN]; };

static int receive_by_name(struct ipcv_role *self, void *arg)
{
    struct named *n = arg;
    mqd_t q = SAFE(mq_open(n->name, O_RDONLY));
    ipcv_ready(self);
    static const unsigned want_prio[] = { 9, 5, 5, 1, 0 };
    static const char *want[] = { "d", "b", "e", "c", "a" };
    for (int i = 0; i < 5; i++) {
        char buf[64];
        unsigned prio = 99;
        ssize_t len = mq_receive(q, buf, sizeof buf, &prio);
        ipcv_expect_eq(1, len);
        if (len == 1)
            ipcv_expect_true(buf[0] == want[i][0], "message %d: expected \"%s\", seen \"%c\"",
                             i, want[i], buf[0]);
        ipcv_expect_eq(want_prio[i], prio);
    }
    ipcv_expect_fail(EBADF, mq_send(q, "z", 1, 0));
    mq_close(q);
    return 0;
}

/* mq_open(3): "The message queue is identified by name"; processes that
 * open the same name share the queue (glibc tst-mqueue1: a forked child
 * opens it by name O_RDONLY and receives every message and priority). */
IPCV_CASE(posix_mq, same_name_in_two_processes_is_one_queue,
          .tags = "multi", .covers = "B211 B603",
          .spec = "mq_open(3), mq_overview(7)",
          .desc = "messages sent by one process are received, in priority order with their priorities, by another process that opened the same name O_RDONLY")
{
    struct named n;
    mqd_t q = mq_fresh(n.name, "q", 8, 64, 0);
    SAFE(mq_send(q, "a", 1, 0));
    SAFE(mq_send(q, "b", 1, 5));
    SAFE(mq_send(q, "c", 1, 1));
    SAFE(mq_send(q, "d", 1, 9));
    SAFE(mq_send(q, "e", 1, 5));
    struct ipcv_role *r = ipcv_spawn("receiver", receive_by_name, &n);
    ipcv_wait_ready(r);
    ipcv_join(r, IPCV_EXITED(0));
    ipcv_expect_eq(0, mq_count(q));
    mq_gone(q, n.name);
}

/* mq_open(3): O_CREAT on an existing queue opens it; attr is used only
 * when the queue is created (glibc tst-mqueue4). */
IPCV_CASE(posix_mq, o_creat_on_an_existing_queue_opens_it_and_ignores_attr,
          .tags = "api", .covers = "B217 B588",
          .spec = "mq_open(3) O_CREAT",
          .desc = "O_CREAT without O_EXCL on an existing name opens the same queue: its messages are there and its attributes stay, whatever attr asks")
{
    char name[MQ_NAME_LEN];
    mqd_t q = mq_fresh(name, "q", 3, 16, 0);
    SAFE(mq_send(q, "kept", 4, 2));
    struct mq_attr other = { .mq_maxmsg = 5, .mq_msgsize = 32 };
    mqd_t again = ipcv_expect_ok(mq_open(name, O_CREAT | O_RDWR, 0600, &other));
    if (again != (mqd_t)-1) {
        struct mq_attr a;
        SAFE(mq_getattr(again, &a));
        ipcv_expect_eq(3, a.mq_maxmsg);
        ipcv_expect_eq(16, a.mq_msgsize);
        ipcv_expect_eq(1, a.mq_curmsgs);
        char buf[16];
        unsigned prio = 0;
        ipcv_expect_eq(4, mq_receive(again, buf, sizeof buf, &prio));
        ipcv_expect_mem("kept", buf, 4);
        ipcv_expect_eq(2, prio);
        ipcv_expect_eq(0, mq_count(q));
        mq_close(again);
    }
    mq_gone(q, name);
}

/* mq_open(3): with O_CREAT and attr, "the mq_maxmsg and mq_msgsize fields
 * are used to set the maximum number of messages and the maximum size of
 * messages"; mq_getattr(3) reports them, mq_flags as opened. */
IPCV_CASE(posix_mq, attr_sets_maxmsg_and_msgsize,
          .tags = "api", .covers = "B219 B298 B595",
          .spec = "mq_open(3) attr; mq_getattr(3)",
          .desc = "a queue created with mq_maxmsg 3, mq_msgsize 17 reports them, holds exactly 3 messages and takes 17 bytes but not 18")
{
    char name[MQ_NAME_LEN];
    mqd_t q = mq_fresh(name, "q", 3, 17, O_NONBLOCK);
    struct mq_attr a;
    SAFE(mq_getattr(q, &a));
    ipcv_expect_eq(3, a.mq_maxmsg);
    ipcv_expect_eq(17, a.mq_msgsize);
    ipcv_expect_eq(0, a.mq_curmsgs);
    ipcv_expect_eq(O_NONBLOCK, a.mq_flags);
    char msg[18] = "0123456789abcdefg";
    ipcv_expect_eq(0, mq_send(q, msg, 17, 0));
    ipcv_expect_fail(EMSGSIZE, mq_send(q, msg, 18, 0));
    ipcv_expect_eq(0, mq_send(q, msg, 1, 0));
    ipcv_expect_eq(0, mq_send(q, msg, 1, 0));
    ipcv_expect_fail(EAGAIN, mq_send(q, msg, 1, 0));
    ipcv_expect_eq(3, mq_count(q));
    mq_gone(q, name);
}

/* mq_open(3) EINVAL: "O_CREAT was specified in oflag, and attr was not
 * NULL, but attr->mq_maxmsg or attr->mq_msqsize was invalid. Both of these
 * fields must be greater than zero." */
IPCV_CASE(posix_mq, nonpositive_maxmsg_or_msgsize_is_einval,
          .tags = "api", .covers = "B227 B580",
          .spec = "mq_open(3) EINVAL",
          .desc = "mq_maxmsg or mq_msgsize of 0, -1 or LONG_MIN fails with EINVAL and creates no queue")
{
    static const struct { long maxmsg, msgsize; } tcases[] = {
        { 0, 8 }, { -1, 8 }, { LONG_MIN, 8 }, { 4, 0 }, { 4, -1 }, { 4, LONG_MIN }, { 0, 0 },
    };
    char name[MQ_NAME_LEN];
    mq_name(name, "bad");
    for (size_t i = 0; i < sizeof tcases / sizeof tcases[0]; i++) {
        struct mq_attr a = { .mq_maxmsg = tcases[i].maxmsg, .mq_msgsize = tcases[i].msgsize };
        errno = 0;
        mqd_t q = mq_open(name, O_CREAT | O_EXCL | O_RDWR, 0600, &a);
        if (q != (mqd_t)-1 || errno != EINVAL)
            ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "mq_maxmsg %ld, mq_msgsize %ld: expected EINVAL, seen %s",
                        tcases[i].maxmsg, tcases[i].msgsize, q != (mqd_t)-1 ? "success" : ipcv_errname(errno));
        if (q != (mqd_t)-1) {
            mq_close(q);
            mq_unlink(name);
        }
    }
    ipcv_expect_fail(ENOENT, mq_unlink(name));
}

/* mq_open(3) O_RDONLY / O_WRONLY / O_RDWR: the descriptor may only
 * receive, only send, or both; mq_send(3) and mq_receive(3) EBADF "not
 * opened for writing / reading". A queue may be opened many times. */
IPCV_CASE(posix_mq, access_mode_decides_which_calls_are_allowed,
          .tags = "api", .covers = "B214 B215 B216 B596 B597 B240 B250 B262",
          .spec = "mq_open(3) oflag; mq_send(3), mq_receive(3) EBADF",
          .desc = "on O_RDONLY send and timedsend fail with EBADF and receive works; on O_WRONLY the reverse; O_RDWR does both; each descriptor is another open of one queue")
{
    char name[MQ_NAME_LEN];
    mqd_t q = mq_fresh(name, "q", 4, 16, 0);
    static const struct { int mode; int can_send, can_receive; } tcases[] = {
        { O_RDONLY, 0, 1 }, { O_RDONLY, 0, 1 }, { O_WRONLY, 1, 0 }, { O_RDWR, 1, 1 }, { O_RDWR, 1, 1 },
    };
    for (size_t i = 0; i < sizeof tcases / sizeof tcases[0]; i++) {
        mqd_t d = ipcv_expect_ok(mq_open(name, tcases[i].mode));
        if (d == (mqd_t)-1)
            continue;
        char buf[16];
        unsigned prio;
        struct timespec later = mq_in_ms(5000);
        SAFE(mq_send(q, "m", 1, 0));    /* something to receive */
        SAFE(mq_send(q, "n", 1, 0));
        if (tcases[i].can_receive) {
            ipcv_expect_eq(1, mq_receive(d, buf, sizeof buf, &prio));
            ipcv_expect_eq(1, mq_timedreceive(d, buf, sizeof buf, &prio, &later));
        } else {
            ipcv_expect_fail(EBADF, mq_receive(d, buf, sizeof buf, &prio));
            ipcv_expect_fail(EBADF, mq_timedreceive(d, buf, sizeof buf, &prio, &later));
        }
        if (tcases[i].can_send) {
            ipcv_expect_eq(0, mq_send(d, "s", 1, 0));
            ipcv_expect_eq(0, mq_timedsend(d, "t", 1, 0, &later));
        } else {
            ipcv_expect_fail(EBADF, mq_send(d, "s", 1, 0));
            ipcv_expect_fail(EBADF, mq_timedsend(d, "t", 1, 0, &later));
        }
        /* Drain through the owner's descriptor: what is left is what the
         * access mode let through. */
        struct timespec past = { 0, 0 };
        long left = 0;
        while (mq_timedreceive(q, buf, sizeof buf, &prio, &past) >= 0)
            left++;
        ipcv_expect_eq((tcases[i].can_receive ? 0 : 2) + (tcases[i].can_send ? 2 : 0), left);
        SAFE(mq_close(d));
    }
    mq_gone(q, name);
}

/* POSIX.1-2017 mq_open(): oflag is one of O_RDONLY, O_WRONLY, O_RDWR,
 * with any of O_CREAT, O_EXCL, O_NONBLOCK; mq_getattr(3) mq_flags shows
 * O_NONBLOCK as opened (and nothing else). */
IPCV_CASE(posix_mq, every_oflag_combination_is_accepted,
          .tags = "api", .covers = "B213",
          .spec = "POSIX.1-2017 mq_open() oflag",
          .desc = "each access mode with each combination of O_CREAT, O_EXCL and O_NONBLOCK opens the queue, and mq_flags reports exactly its O_NONBLOCK")
{
    static const int access[] = { O_RDONLY, O_WRONLY, O_RDWR };
    static const int extra[] = { 0, O_NONBLOCK, O_CREAT, O_CREAT | O_NONBLOCK,
                                 O_CREAT | O_EXCL, O_CREAT | O_EXCL | O_NONBLOCK };
    char name[MQ_NAME_LEN];
    mq_name(name, "q");
    for (size_t i = 0; i < 3; i++) {
        for (size_t j = 0; j < sizeof extra / sizeof extra[0]; j++) {
            int flags = access[i] | extra[j];
            /* Without O_CREAT the queue must exist; with O_EXCL it must not. */
            mqd_t keep = (mqd_t)-1;
            if (!(flags & O_CREAT) || !(flags & O_EXCL))
                keep = SAFE(mq_open(name, O_CREAT | O_RDWR, 0600, NULL));
            errno = 0;
            mqd_t q = mq_open(name, flags, 0600, NULL);
            if (q == (mqd_t)-1) {
                ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "mq_open(oflag %#x): %s", flags, ipcv_errname(errno));
            } else {
                struct mq_attr a;
                SAFE(mq_getattr(q, &a));
                if (a.mq_flags != (flags & O_NONBLOCK))
                    ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "mq_open(oflag %#x): mq_flags %#lx, expected %#x",
                                flags, a.mq_flags, flags & O_NONBLOCK);
                mq_close(q);
            }
            if (keep != (mqd_t)-1)
                mq_close(keep);
            SAFE(mq_unlink(name));
        }
    }
}

/* mq_open(3) O_NONBLOCK: "Open the queue in nonblocking mode. In
 * circumstances where mq_receive(3) and mq_send(3) would normally block,
 * these functions instead fail with the error EAGAIN." */
IPCV_CASE(posix_mq, o_nonblock_at_open_is_honoured,
          .tags = "api", .covers = "B222",
          .spec = "mq_open(3) O_NONBLOCK",
          .desc = "a descriptor opened O_NONBLOCK fails with EAGAIN at once where a blocking one would wait; another blocking descriptor of the same queue still waits")
{
    char name[MQ_NAME_LEN];
    mqd_t q = mq_fresh(name, "q", 1, 8, 0);
    mqd_t nb = SAFE(mq_open(name, O_RDWR | O_NONBLOCK));
    char buf[8];
    unsigned prio;
    /* A deadline, so that an ignored O_NONBLOCK shows as ETIMEDOUT. */
    struct timespec soon = mq_in_ms(1000);
    double t0 = mq_mono();
    ipcv_expect_fail(EAGAIN, mq_timedreceive(nb, buf, sizeof buf, &prio, &soon));
    SAFE(mq_send(q, "f", 1, 0));
    soon = mq_in_ms(1000);
    ipcv_expect_fail(EAGAIN, mq_timedsend(nb, "g", 1, 0, &soon));
    ipcv_expect_true(mq_mono() - t0 < 0.5, "O_NONBLOCK calls took %.3f s", mq_mono() - t0);
    soon = mq_in_ms(20);
    ipcv_expect_fail(ETIMEDOUT, mq_timedsend(q, "g", 1, 0, &soon));
    SAFE(mq_close(nb));
    mq_gone(q, name);
}

static int open_and_count(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct named *n = arg;
    mqd_t q = ipcv_expect_ok(mq_open(n->name, O_CREAT | O_RDONLY, 0600, NULL));
    if (q != (mqd_t)-1) {
        ipcv_expect_eq(2, mq_count(q));
        mq_close(q);
    }
    return 0;
}

/* POSIX.1-2017 mq_open(): "The mq_open() function does not add or remove
 * messages from the queue." */
IPCV_CASE(posix_mq, open_does_not_add_or_remove_messages,
          .tags = "api multi", .covers = "B223",
          .spec = "POSIX.1-2017 mq_open()",
          .desc = "opening a queue holding 2 messages again, here and in another process, with or without O_CREAT, leaves mq_curmsgs at 2")
{
    struct named n;
    mqd_t q = mq_fresh(n.name, "q", 4, 8, 0);
    SAFE(mq_send(q, "a", 1, 0));
    SAFE(mq_send(q, "b", 1, 3));
    ipcv_expect_eq(2, mq_count(q));
    mqd_t again = ipcv_expect_ok(mq_open(n.name, O_CREAT | O_RDWR, 0600, NULL));
    if (again != (mqd_t)-1) {
        ipcv_expect_eq(2, mq_count(again));
        mq_close(again);
    }
    struct ipcv_role *r = ipcv_spawn("opener", open_and_count, &n);
    ipcv_join(r, IPCV_EXITED(0));
    ipcv_expect_eq(2, mq_count(q));
    mq_gone(q, n.name);
}

/* gVisor MqTest.ModeWithFileType: file-type bits in mode are ignored; the
 * queue is a regular file of the mqueue fs (fstat on the descriptor). */
IPCV_CASE(posix_mq, file_type_bits_in_mode_are_ignored,
          .tags = "api", .covers = "B575",
          .spec = "mq_open(3) mode; mq_overview(7) Linux implementation",
          .desc = "mq_open with S_IFIFO|0600 creates a usable queue whose fstat shows S_IFREG with mode 0600")
{
    char name[MQ_NAME_LEN];
    mq_name(name, "q");
    mode_t old = umask(0);
    mqd_t q = mq_open(name, O_CREAT | O_EXCL | O_RDWR, S_IFIFO | 0600, NULL);
    umask(old);
    ipcv_expect_ne(-1, q);
    if (q == (mqd_t)-1)
        return;
    struct stat st;
    SAFE(fstat(q, &st));
    ipcv_expect_true(S_ISREG(st.st_mode), "st_mode %#o is not a regular file", (unsigned)st.st_mode);
    ipcv_expect_eq(0600, st.st_mode & 07777);
    ipcv_expect_eq(0, mq_send(q, "x", 1, 0));
    mq_gone(q, name);
}

/* mq_open(3): "The permissions settings are masked against the process
 * umask." */
IPCV_CASE(posix_mq, mode_is_masked_by_the_umask,
          .tags = "api", .covers = "B575",
          .spec = "mq_open(3) mode",
          .desc = "with umask 027 a queue created with mode 0604 gets mode 0600, and with umask 0 mode 0640 stays 0640")
{
    static const struct { mode_t umask, mode, want; } tcases[] = {
        { 027, 0604, 0600 }, { 0, 0640, 0640 }, { 077, 0666, 0600 },
    };
    char name[MQ_NAME_LEN];
    mq_name(name, "q");
    for (size_t i = 0; i < sizeof tcases / sizeof tcases[0]; i++) {
        mode_t old = umask(tcases[i].umask);
        mqd_t q = mq_open(name, O_CREAT | O_EXCL | O_RDWR, tcases[i].mode, NULL);
        umask(old);
        if (q == (mqd_t)-1) {
            ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "mq_open mode %#o: %s",
                        (unsigned)tcases[i].mode, ipcv_errname(errno));
            continue;
        }
        struct stat st;
        SAFE(fstat(q, &st));
        if ((st.st_mode & 0777) != tcases[i].want)
            ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "umask %#o, mode %#o: expected %#o, seen %#o",
                        (unsigned)tcases[i].umask, (unsigned)tcases[i].mode,
                        (unsigned)tcases[i].want, (unsigned)(st.st_mode & 0777));
        mq_gone(q, name);
    }
}

/* mq_unlink(3): "removes the specified message queue name"; afterwards
 * mq_open without O_CREAT fails with ENOENT (gVisor OpenAfterUnlink). */
IPCV_CASE(posix_mq, open_after_unlink_is_enoent,
          .tags = "api cleanup", .covers = "B576 B290 B163",
          .spec = "mq_unlink(3)",
          .desc = "mq_unlink returns 0; then mq_open of the name without O_CREAT fails with ENOENT and a second mq_unlink with ENOENT")
{
    char name[MQ_NAME_LEN];
    mqd_t q = mq_fresh(name, "q", 2, 8, 0);
    SAFE(mq_close(q));
    ipcv_expect_eq(0, mq_unlink(name));
    errno = 0;
    mqd_t again = mq_open(name, O_RDWR);
    ipcv_expect_eq(-1, again);
    ipcv_expect_eq(ENOENT, errno);
    if (again != (mqd_t)-1) {
        mq_close(again);
        mq_unlink(name);
    }
    ipcv_expect_fail(ENOENT, mq_unlink(name));
}

struct modes_arg { char names[4][MQ_NAME_LEN]; };

static int reopen_per_mode(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct modes_arg *m = arg;
    mq_become(MQ_NOBODY);
    /* expected errno per reopen O_RDONLY, O_WRONLY, O_RDWR (0: success) */
    static const struct { mode_t mode; int err[3]; } tcases[] = {
        { 0000, { EACCES, EACCES, EACCES } },
        { 0400, { 0, EACCES, EACCES } },
        { 0200, { EACCES, 0, EACCES } },
        { 0600, { 0, 0, 0 } },
    };
    static const int access[] = { O_RDONLY, O_WRONLY, O_RDWR };
    umask(0);
    for (int i = 0; i < 4; i++) {
        mqd_t own = ipcv_expect_ok(mq_open(m->names[i], O_CREAT | O_EXCL | O_RDONLY, tcases[i].mode, NULL));
        if (own == (mqd_t)-1)
            continue;
        for (int k = 0; k < 3; k++) {
            errno = 0;
            mqd_t q = mq_open(m->names[i], access[k]);
            int err = q == (mqd_t)-1 ? errno : 0;
            if (err != tcases[i].err[k])
                ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "mode %04o, reopen %s: expected %s, seen %s",
                            (unsigned)tcases[i].mode, k == 0 ? "O_RDONLY" : k == 1 ? "O_WRONLY" : "O_RDWR",
                            ipcv_errname(tcases[i].err[k]), ipcv_errname(err));
            if (q != (mqd_t)-1)
                mq_close(q);
        }
        mq_close(own);
        ipcv_expect_ok(mq_unlink(m->names[i]));
    }
    return 0;
}

/* mq_open(3) EACCES: "The queue exists, but the caller does not have
 * permission to open it in the specified mode" (gVisor OpenNoAccess,
 * OpenReadAccess, OpenWriteAccess). Checked by the owner, not root, so
 * that the owner's mode bits decide. */
IPCV_CASE(posix_mq, reopen_needs_the_permission_its_access_mode_asks_for,
          .tags = "api", .covers = "B586 B587",
          .spec = "mq_open(3) EACCES",
          .desc = "the owner (uid 65534) reopening its queue: mode 0000 refuses every access mode, 0400 allows only O_RDONLY, 0200 only O_WRONLY, 0600 all three")
{
    struct modes_arg m;
    for (int i = 0; i < 4; i++) {
        char suffix[8];
        snprintf(suffix, sizeof suffix, "m%d", i);
        mq_name(m.names[i], suffix);
    }
    struct ipcv_role *r = ipcv_spawn("owner", reopen_per_mode, &m);
    ipcv_join(r, IPCV_EXITED(0));
}

static int open_as_nobody(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct named *n = arg;
    mq_become(MQ_NOBODY);
    ipcv_expect_fail(EACCES, mq_open(n->name, O_RDONLY));
    ipcv_expect_fail(EACCES, mq_open(n->name, O_WRONLY));
    ipcv_expect_fail(EACCES, mq_open(n->name, O_RDWR));
    ipcv_expect_fail(EACCES, mq_open(n->name, O_CREAT | O_RDWR, 0600, NULL));
    return 0;
}

/* mq_open(3) EACCES for another user (LTP mq_open01 "unprivileged user"). */
IPCV_CASE(posix_mq, another_user_without_permission_gets_eacces,
          .tags = "api multi", .covers = "B141",
          .spec = "mq_open(3) EACCES",
          .desc = "a queue of root with mode 0600 cannot be opened by uid 65534 in any access mode, with or without O_CREAT")
{
    struct named n;
    mqd_t q = mq_fresh(n.name, "q", 2, 8, 0);
    struct ipcv_role *r = ipcv_spawn("nobody", open_as_nobody, &n);
    ipcv_join(r, IPCV_EXITED(0));
    mq_gone(q, n.name);
}

static int unlink_as_nobody(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct named *n = arg;
    mq_become(MQ_NOBODY);
    mqd_t q = ipcv_expect_ok(mq_open(n->name, O_RDWR));   /* mode 0666: allowed */
    if (q != (mqd_t)-1)
        mq_close(q);
    ipcv_expect_fail(EACCES, mq_unlink(n->name));
    return 0;
}

/* mq_unlink(3) EACCES: "The caller does not have permission to unlink
 * this message queue." The mqueue root is sticky, so the kernel says
 * EPERM; glibc (and musl) turn it into EACCES (tst-mqueue9). */
IPCV_CASE(posix_mq, unlink_by_another_user_is_eacces,
          .tags = "api multi", .covers = "B164 B617 B738",
          .spec = "mq_unlink(3) EACCES",
          .desc = "uid 65534 may open root's mode 0666 queue but mq_unlink of it fails with EACCES (not the kernel's EPERM) and the queue stays")
{
    struct named n;
    mq_name(n.name, "q");
    mode_t old = umask(0);
    mqd_t q = SAFE(mq_open(n.name, O_CREAT | O_EXCL | O_RDWR, 0666, NULL));
    umask(old);
    struct ipcv_role *r = ipcv_spawn("nobody", unlink_as_nobody, &n);
    ipcv_join(r, IPCV_EXITED(0));
    mqd_t still = ipcv_expect_ok(mq_open(n.name, O_RDONLY));
    if (still != (mqd_t)-1)
        mq_close(still);
    mq_gone(q, n.name);
}

/* mq_unlink(3) ENOENT: "There is no message queue with the given name." */
IPCV_CASE(posix_mq, unlink_of_a_missing_name_is_enoent,
          .tags = "api", .covers = "B165 B292 B616",
          .spec = "mq_unlink(3) ENOENT",
          .desc = "mq_unlink of a name never created fails with ENOENT, and so does a second mq_unlink")
{
    char name[MQ_NAME_LEN];
    mq_name(name, "never");
    ipcv_expect_fail(ENOENT, mq_unlink(name));
    mqd_t q = mq_fresh(name, "q", 2, 8, 0);
    SAFE(mq_close(q));
    ipcv_expect_eq(0, mq_unlink(name));
    ipcv_expect_fail(ENOENT, mq_unlink(name));
}

static int hold_then_use(struct ipcv_role *self, void *arg)
{
    struct named *n = arg;
    mqd_t q = SAFE(mq_open(n->name, O_RDWR));
    ipcv_ready(self);
    ipcv_await_release(self);
    char buf[16];
    unsigned prio;
    struct timespec soon = mq_in_ms(2000);
    ipcv_expect_eq(6, mq_timedreceive(q, buf, sizeof buf, &prio, &soon));
    ipcv_expect_mem("before", buf, 6);
    ipcv_expect_eq(0, mq_send(q, "after", 5, 1));
    mq_close(q);
    return 0;
}

/* mq_unlink(3): "The message queue name is removed immediately. The queue
 * itself is destroyed once any other processes that have the queue open
 * close their descriptors referring to the queue." */
IPCV_CASE(posix_mq, unlink_keeps_the_queue_until_the_last_close,
          .tags = "multi cleanup", .covers = "B291",
          .spec = "mq_unlink(3)",
          .desc = "after mq_unlink the name is gone at once, yet a process holding a descriptor still receives what was queued and sends; a new queue of the same name is another, empty queue")
{
    struct named n;
    mqd_t q = mq_fresh(n.name, "q", 4, 16, 0);
    struct ipcv_role *r = ipcv_spawn("holder", hold_then_use, &n);
    ipcv_wait_ready(r);
    SAFE(mq_send(q, "before", 6, 0));
    ipcv_expect_eq(0, mq_unlink(n.name));
    ipcv_expect_fail(ENOENT, mq_open(n.name, O_RDWR));
    mqd_t fresh = SAFE(mq_open(n.name, O_CREAT | O_EXCL | O_RDWR, 0600, NULL));
    ipcv_release(r);
    ipcv_join(r, IPCV_EXITED(0));
    char buf[16];
    unsigned prio;
    struct timespec soon = mq_in_ms(2000);
    ipcv_expect_eq(5, mq_timedreceive(q, buf, sizeof buf, &prio, &soon));
    ipcv_expect_mem("after", buf, 5);
    ipcv_expect_eq(0, mq_count(fresh));
    SAFE(mq_close(q));
    mq_gone(fresh, n.name);
}

static int create_send_and_exit(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct named *n = arg;
    struct mq_attr a = { .mq_maxmsg = 2, .mq_msgsize = 16 };
    mqd_t q = SAFE(mq_open(n->name, O_CREAT | O_EXCL | O_WRONLY, 0600, &a));
    SAFE(mq_send(q, "persist", 7, 4));
    return 0;   /* exit closes the descriptor */
}

/* mq_overview(7): "POSIX message queues have kernel persistence: if not
 * removed by mq_unlink(3), a message queue will exist until the system is
 * shut down." */
IPCV_CASE(posix_mq, queue_outlives_the_process_that_made_it,
          .tags = "multi cleanup", .covers = "B211",
          .spec = "mq_overview(7) kernel persistence",
          .desc = "a queue created and filled by a process that then exits is still there, with its message and attributes, for a process that opens it later")
{
    struct named n;
    mq_name(n.name, "q");
    struct ipcv_role *r = ipcv_spawn("creator", create_send_and_exit, &n);
    ipcv_join(r, IPCV_EXITED(0));
    mqd_t q = ipcv_expect_ok(mq_open(n.name, O_RDONLY));
    if (q == (mqd_t)-1)
        return;
    struct mq_attr a;
    SAFE(mq_getattr(q, &a));
    ipcv_expect_eq(2, a.mq_maxmsg);
    ipcv_expect_eq(1, a.mq_curmsgs);
    char buf[16];
    unsigned prio;
    ipcv_expect_eq(7, mq_receive(q, buf, sizeof buf, &prio));
    ipcv_expect_mem("persist", buf, 7);
    ipcv_expect_eq(4, prio);
    mq_gone(q, n.name);
}

struct exec_arg { int fd; };

static int exec_and_look(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct exec_arg *e = arg;
    char script[64];
    /* exit 0 when the descriptor is closed in the new program */
    snprintf(script, sizeof script, "[ ! -e /proc/self/fd/%d ]", e->fd);
    execl("/bin/sh", "sh", "-c", script, (char *)NULL);
    ipcv_brk(__FILE__, __LINE__, "execl /bin/sh: %s", ipcv_errname(errno));
}

/* mq_overview(7), Linux: the descriptor is a file descriptor, and the
 * kernel opens it close-on-exec (glibc tst-mqueue7: after execv the
 * descriptor is gone, mq_getattr EBADF). */
IPCV_CASE(posix_mq, descriptor_is_closed_on_exec,
          .tags = "multi cleanup", .covers = "B620",
          .spec = "mq_overview(7) Linux implementation; POSIX.1-2017 exec",
          .desc = "a queue descriptor has FD_CLOEXEC and is no longer open in the program a child execs")
{
    char name[MQ_NAME_LEN];
    mqd_t q = mq_fresh(name, "q", 2, 8, 0);
    int fdflags = SAFE(fcntl(q, F_GETFD));
    ipcv_expect_bits(FD_CLOEXEC, fdflags);
    struct exec_arg e = { q };
    struct ipcv_role *r = ipcv_spawn("exec", exec_and_look, &e);
    ipcv_join(r, IPCV_EXITED(0));
    mq_gone(q, name);
}
