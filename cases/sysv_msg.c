/* SysV message queues in one process (and one unprivileged role where the
 * rule is about permissions): msgget, msgctl, msgsnd and msgrcv semantics
 * and their errors. */
#define _GNU_SOURCE
#include <grp.h>
#include <linux/capability.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/msg.h>
#include <sys/syscall.h>
#include <time.h>
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

static void become_nobody(void)
{
    if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
        setresuid(65534, 65534, 65534) < 0)
        ipcv_skip("cannot become uid 65534: %s", ipcv_errname(errno));
}

/* msgget(2): a key names one queue; msgget without IPC_CREAT finds it. */
IPCV_CASE(sysv_msg, msgget_by_key_finds_the_queue_it_created,
          .tags = "api", .covers = "B012 B478", .spec = "msgget(2)",
          .desc = "msgget(key, IPC_CREAT) creates a queue; msgget(key, 0) and a second IPC_CREAT return the same id, and a message sent through it comes back equal")
{
    key_t key = ipcv_key(1);
    int id = SAFE_MSGGET(key, IPC_CREAT | 0600);
    ipcv_expect_eq(id, msgget(key, 0));
    ipcv_expect_eq(id, msgget(key, IPC_CREAT | 0600));

    put(id, 7, "hello", 5);
    struct msgb m;
    ipcv_expect_eq(5, msgrcv(id, &m, TEXT_MAX, 0, IPC_NOWAIT));
    ipcv_expect_eq(7, m.mtype);
    ipcv_expect_mem("hello", m.mtext, 5);
    SAFE_MSGCTL(id, IPC_RMID, NULL);
}

/* msgget(2) EEXIST: IPC_CREAT and IPC_EXCL on a key that has a queue. */
IPCV_CASE(sysv_msg, msgget_excl_on_an_existing_key_fails_eexist,
          .tags = "api", .covers = "B013 B480", .spec = "msgget(2) EEXIST",
          .desc = "msgget(key, IPC_CREAT|IPC_EXCL) fails with EEXIST when the key already has a queue")
{
    key_t key = ipcv_key(1);
    int id = SAFE_MSGGET(key, IPC_CREAT | IPC_EXCL | 0600);
    ipcv_expect_fail(EEXIST, msgget(key, IPC_CREAT | IPC_EXCL | 0600));
    SAFE_MSGCTL(id, IPC_RMID, NULL);
}

/* msgget(2) ENOENT: no queue for the key and IPC_CREAT not given. */
IPCV_CASE(sysv_msg, msgget_of_a_missing_key_without_creat_fails_enoent,
          .tags = "api", .covers = "B014 B479", .spec = "msgget(2) ENOENT",
          .desc = "msgget(key, 0) fails with ENOENT when no queue exists for the key, and creates nothing")
{
    key_t key = ipcv_key(2);
    ipcv_expect_fail(ENOENT, msgget(key, 0));
    ipcv_expect_fail(ENOENT, msgget(key, 0600));
}

/* msgget(2): IPC_PRIVATE always creates a new queue. */
IPCV_CASE(sysv_msg, msgget_ipc_private_twice_gives_two_queues,
          .tags = "api", .covers = "B481", .spec = "msgget(2) IPC_PRIVATE",
          .desc = "two msgget(IPC_PRIVATE) calls create two distinct queues: a message in one is not seen in the other")
{
    int a = SAFE_MSGGET(IPC_PRIVATE, IPC_CREAT | 0600);
    int b = SAFE_MSGGET(IPC_PRIVATE, IPC_CREAT | 0600);
    ipcv_expect_ne(a, b);
    put(a, 1, "x", 1);
    struct msgb m;
    if (a != b)
        ipcv_expect_fail(ENOMSG, msgrcv(b, &m, TEXT_MAX, 0, IPC_NOWAIT));
    if (b != a)
        SAFE_MSGCTL(b, IPC_RMID, NULL);
    SAFE_MSGCTL(a, IPC_RMID, NULL);
}

static int lookup_as_nobody(struct ipcv_role *self, void *arg)
{
    (void)self;
    key_t key = *(key_t *)arg;
    become_nobody();
    ipcv_expect_fail(EACCES, msgget(key, 0600));
    ipcv_expect_fail(EACCES, msgget(key, 0400));
    return 0;
}

/* msgget(2) EACCES: a queue exists for key, but the caller asks for access
 * the mode does not grant and lacks CAP_IPC_OWNER. */
IPCV_CASE(sysv_msg, msgget_without_permission_fails_eacces,
          .tags = "api multi", .covers = "B015", .spec = "msgget(2) EACCES",
          .desc = "uid 65534 looking up a root-owned 0600 queue with msgflg 0600 or 0400 gets EACCES")
{
    key_t key = ipcv_key(1);
    int id = SAFE_MSGGET(key, IPC_CREAT | 0600);
    struct ipcv_role *r = ipcv_spawn("nobody", lookup_as_nobody, &key);
    ipcv_join(r, IPCV_EXITED(0));
    SAFE_MSGCTL(id, IPC_RMID, NULL);
}

/* msgctl(2) IPC_STAT and the msgget(2) initialisation of msqid_ds. */
IPCV_CASE(sysv_msg, msgctl_ipc_stat_describes_a_new_queue,
          .tags = "api", .covers = "B001 B513 B521", .spec = "msgget(2) msqid_ds initialisation; msgctl(2) IPC_STAT",
          .desc = "a new queue has key, uid=cuid, gid=cgid, the mode's low 9 bits, qnum 0, cbytes 0, qbytes MSGMNB, no send or receive time or pid, and ctime now")
{
    key_t key = ipcv_key(1);
    unsigned long long mnb = IPCV_GET_LIMIT("msgmnb");
    time_t before = time(NULL);
    int id = SAFE_MSGGET(key, IPC_CREAT | 0640);
    time_t after = time(NULL);
    struct msqid_ds ds = stat_of(id);

    ipcv_expect_eq(key, ds.msg_perm.__key);
    ipcv_expect_eq(geteuid(), ds.msg_perm.uid);
    ipcv_expect_eq(geteuid(), ds.msg_perm.cuid);
    ipcv_expect_eq(getegid(), ds.msg_perm.gid);
    ipcv_expect_eq(getegid(), ds.msg_perm.cgid);
    ipcv_expect_eq(0640, ds.msg_perm.mode & 0777);
    ipcv_expect_eq(0, ds.msg_qnum);
    ipcv_expect_eq(0, ds.msg_cbytes);
    ipcv_expect_eq(mnb, ds.msg_qbytes);
    ipcv_expect_eq(0, ds.msg_stime);
    ipcv_expect_eq(0, ds.msg_rtime);
    ipcv_expect_eq(0, ds.msg_lspid);
    ipcv_expect_eq(0, ds.msg_lrpid);
    ipcv_expect_true(ds.msg_ctime >= before && ds.msg_ctime <= after,
                     "msg_ctime %ld not within [%ld, %ld]", (long)ds.msg_ctime,
                     (long)before, (long)after);
    SAFE_MSGCTL(id, IPC_RMID, NULL);
}

static int send_one(struct ipcv_role *self, void *arg)
{
    (void)self;
    put(*(int *)arg, 3, "abcdefgh", 8);
    return 0;
}

static int receive_one(struct ipcv_role *self, void *arg)
{
    (void)self;
    int id = *(int *)arg;
    struct msgb m;
    ipcv_expect_eq(8, msgrcv(id, &m, TEXT_MAX, 0, IPC_NOWAIT));
    /* The kernel gives msg_lrpid in the reader's PID namespace. */
    struct msqid_ds ds = stat_of(id);
    ipcv_expect_eq(getpid(), ds.msg_lrpid);
    return 0;
}

/* msgsnd(2)/msgrcv(2): a send sets msg_lspid, msg_stime, qnum and cbytes;
 * a receive sets msg_lrpid and msg_rtime and takes them back. */
IPCV_CASE(sysv_msg, msgsnd_and_msgrcv_update_the_queue_status,
          .tags = "api multi", .covers = "B019 B036 B514", .spec = "msgsnd(2), msgrcv(2) msqid_ds updates",
          .desc = "after a send by one process IPC_STAT shows qnum 1, cbytes 8, msg_lspid that process and msg_stime now; after a receive by another, qnum 0, cbytes 0, msg_lrpid and msg_rtime")
{
    int id = SAFE_MSGGET(IPC_PRIVATE, IPC_CREAT | 0600);
    time_t before = time(NULL);
    struct ipcv_role *s = ipcv_spawn("sender", send_one, &id);
    ipcv_join(s, IPCV_EXITED(0));
    struct msqid_ds ds = stat_of(id);
    ipcv_expect_eq(1, ds.msg_qnum);
    ipcv_expect_eq(8, ds.msg_cbytes);
    ipcv_expect_eq(ipcv_role_pid(s), ds.msg_lspid);
    ipcv_expect_eq(0, ds.msg_lrpid);
    ipcv_expect_true(ds.msg_stime >= before, "msg_stime %ld before the send at %ld",
                     (long)ds.msg_stime, (long)before);
    ipcv_expect_eq(0, ds.msg_rtime);

    struct ipcv_role *r = ipcv_spawn("receiver", receive_one, &id);
    ipcv_join(r, IPCV_EXITED(0));
    ds = stat_of(id);
    ipcv_expect_eq(0, ds.msg_qnum);
    ipcv_expect_eq(0, ds.msg_cbytes);
    ipcv_expect_eq(ipcv_role_pid(s), ds.msg_lspid);
    ipcv_expect_eq(ipcv_role_pid(r), ds.msg_lrpid);
    ipcv_expect_true(ds.msg_rtime >= before, "msg_rtime %ld before the receive", (long)ds.msg_rtime);
    SAFE_MSGCTL(id, IPC_RMID, NULL);
}

/* msgctl(2) IPC_SET: the owner may change mode and lower msg_qbytes. */
IPCV_CASE(sysv_msg, msgctl_ipc_set_changes_mode_and_lowers_qbytes,
          .tags = "api", .covers = "B002 B516 B517", .spec = "msgctl(2) IPC_SET",
          .desc = "IPC_SET with mode 0777 and msg_qbytes one less is read back by IPC_STAT, with msg_ctime updated")
{
    int id = SAFE_MSGGET(IPC_PRIVATE, IPC_CREAT | 0600);
    struct msqid_ds ds = stat_of(id);
    msglen_t qbytes = ds.msg_qbytes;
    ds.msg_perm.mode = 0777;
    ds.msg_qbytes = qbytes - 1;
    ipcv_expect_ok(msgctl(id, IPC_SET, &ds));
    ds = stat_of(id);
    ipcv_expect_eq(0777, ds.msg_perm.mode & 0777);
    ipcv_expect_eq(qbytes - 1, ds.msg_qbytes);

    ds.msg_perm.mode = 0640;
    ds.msg_qbytes = 100;
    ipcv_expect_ok(msgctl(id, IPC_SET, &ds));
    ds = stat_of(id);
    ipcv_expect_eq(0640, ds.msg_perm.mode & 0777);
    ipcv_expect_eq(100, ds.msg_qbytes);
    SAFE_MSGCTL(id, IPC_RMID, NULL);
}

/* msgctl(2) EPERM: raising msg_qbytes above MSGMNB needs CAP_SYS_RESOURCE. */
IPCV_CASE(sysv_msg, msgctl_raising_qbytes_above_msgmnb_fails_eperm,
          .tags = "api limit", .covers = "B517", .spec = "msgctl(2) IPC_SET EPERM",
          .desc = "without CAP_SYS_RESOURCE, IPC_SET of msg_qbytes above MSGMNB fails with EPERM and leaves msg_qbytes unchanged")
{
    if (ipcv_has_cap(CAP_SYS_RESOURCE))
        ipcv_skip("has CAP_SYS_RESOURCE: raising msg_qbytes is allowed");
    int id = SAFE_MSGGET(IPC_PRIVATE, IPC_CREAT | 0600);
    struct msqid_ds ds = stat_of(id);
    msglen_t qbytes = ds.msg_qbytes;
    ds.msg_qbytes = (msglen_t)IPCV_GET_LIMIT("msgmnb") + 1;
    ipcv_expect_fail(EPERM, msgctl(id, IPC_SET, &ds));
    ds = stat_of(id);
    ipcv_expect_eq(qbytes, ds.msg_qbytes);
    SAFE_MSGCTL(id, IPC_RMID, NULL);
}

/* msgctl(2) IPC_RMID: the queue is gone at once; its id and key are free. */
IPCV_CASE(sysv_msg, msgctl_ipc_rmid_removes_the_queue_and_its_key,
          .tags = "api cleanup", .covers = "B003", .spec = "msgctl(2) IPC_RMID",
          .desc = "after IPC_RMID, IPC_STAT and msgsnd on the old id fail with EINVAL and msgget(key, 0) fails with ENOENT")
{
    key_t key = ipcv_key(1);
    int id = SAFE_MSGGET(key, IPC_CREAT | 0600);
    put(id, 1, "queued", 6);
    int old = id;
    SAFE_MSGCTL(id, IPC_RMID, NULL);
    struct msqid_ds ds;
    ipcv_expect_fail(EINVAL, msgctl(old, IPC_STAT, &ds));
    struct msgb m = { .mtype = 1 };
    ipcv_expect_fail(EINVAL, msgsnd(old, &m, 1, IPC_NOWAIT));
    ipcv_expect_fail(ENOENT, msgget(key, 0));
}

static int remove_as_nobody(struct ipcv_role *self, void *arg)
{
    (void)self;
    int id = *(int *)arg;
    become_nobody();
    struct msqid_ds ds;
    ipcv_expect_ok(msgctl(id, IPC_STAT, &ds));   /* 0666: reading is allowed */
    ipcv_expect_fail(EPERM, msgctl(id, IPC_SET, &ds));
    ipcv_expect_fail(EPERM, msgctl(id, IPC_RMID, NULL));
    return 0;
}

/* msgctl(2) EPERM: IPC_SET and IPC_RMID need the owner, the creator or
 * CAP_SYS_ADMIN, whatever the mode says. */
IPCV_CASE(sysv_msg, msgctl_rmid_or_set_by_another_user_fails_eperm,
          .tags = "api multi", .covers = "B008", .spec = "msgctl(2) EPERM",
          .desc = "uid 65534 may IPC_STAT a root-owned 0666 queue but IPC_SET and IPC_RMID fail with EPERM; the queue stays")
{
    int id = SAFE_MSGGET(IPC_PRIVATE, IPC_CREAT | 0666);
    struct ipcv_role *r = ipcv_spawn("nobody", remove_as_nobody, &id);
    ipcv_join(r, IPCV_EXITED(0));
    stat_of(id);
    SAFE_MSGCTL(id, IPC_RMID, NULL);
}

/* msgctl(2) EINVAL and EFAULT: invalid command or id; a bad buffer (the
 * raw system call: glibc may copy the structure itself). */
IPCV_CASE(sysv_msg, msgctl_rejects_bad_commands_ids_and_buffers,
          .tags = "api", .covers = "B005 B006 B007 B520", .spec = "msgctl(2) ERRORS",
          .desc = "msgctl fails with EINVAL for cmd -1 and the first unused command, for ids -1 and removed, and with EFAULT for an unmapped buffer")
{
    int id = SAFE_MSGGET(IPC_PRIVATE, IPC_CREAT | 0600);
    int gone = SAFE_MSGGET(IPC_PRIVATE, IPC_CREAT | 0600);
    int removed = gone;
    SAFE_MSGCTL(gone, IPC_RMID, NULL);
    struct msqid_ds ds = stat_of(id);
    void *bad = (void *)1;
    static const struct { const char *what; int cmd; int which; int raw; int err; } tcases[] = {
        { "cmd -1", -1, 0, 0, EINVAL },
        { "first unused cmd (MSG_STAT_ANY + 1)", MSG_STAT_ANY + 1, 0, 0, EINVAL },
        { "IPC_STAT on id -1", IPC_STAT, 1, 0, EINVAL },
        { "IPC_SET on id -1", IPC_SET, 1, 0, EINVAL },
        { "IPC_STAT on a removed id", IPC_STAT, 2, 0, EINVAL },
        { "IPC_SET on a removed id", IPC_SET, 2, 0, EINVAL },
        { "IPC_STAT into an unmapped buffer", IPC_STAT, 0, 1, EFAULT },
        { "IPC_SET from an unmapped buffer", IPC_SET, 0, 1, EFAULT },
    };
    for (size_t i = 0; i < sizeof tcases / sizeof tcases[0]; i++) {
        int target = tcases[i].which == 0 ? id : tcases[i].which == 1 ? -1 : removed;
        errno = 0;
        long rc = tcases[i].raw ? syscall(SYS_msgctl, target, tcases[i].cmd, bad)
                                : msgctl(target, tcases[i].cmd, &ds);
        ipcv_expect_true(rc == -1 && errno == tcases[i].err, "%s: expected %s, seen %s%s",
                         tcases[i].what, ipcv_errname(tcases[i].err),
                         rc == -1 ? "" : "success ", rc == -1 ? ipcv_errname(errno) : "");
    }
    SAFE_MSGCTL(id, IPC_RMID, NULL);
}

/* msgsnd(2) EINVAL/EFAULT: bad id, negative size, mtype below 1; a bad
 * message pointer (raw system call, so the libc cannot touch it first). */
IPCV_CASE(sysv_msg, msgsnd_rejects_bad_ids_sizes_types_and_buffers,
          .tags = "api", .covers = "B038 B039 B040 B041 B486 B487 B488", .spec = "msgsnd(2) ERRORS",
          .desc = "msgsnd fails with EINVAL for id -1, msgsz -1, mtype 0 and mtype -1, and with EFAULT for an unmapped message; nothing is queued")
{
    int id = SAFE_MSGGET(IPC_PRIVATE, IPC_CREAT | 0600);
    static const struct { const char *what; int bad_id; size_t size; long type; int raw; int err; } tcases[] = {
        { "id -1", 1, 4, 1, 0, EINVAL },
        { "msgsz -1", 0, (size_t)-1, 1, 0, EINVAL },
        { "mtype 0", 0, 4, 0, 0, EINVAL },
        { "mtype -1", 0, 4, -1, 0, EINVAL },
        { "unmapped msgp", 0, 4, 1, 1, EFAULT },
    };
    for (size_t i = 0; i < sizeof tcases / sizeof tcases[0]; i++) {
        struct msgb m = { .mtype = tcases[i].type, .mtext = "data" };
        int target = tcases[i].bad_id ? -1 : id;
        errno = 0;
        long rc = tcases[i].raw ? syscall(SYS_msgsnd, target, (void *)1, tcases[i].size, IPC_NOWAIT)
                                : msgsnd(target, &m, tcases[i].size, IPC_NOWAIT);
        ipcv_expect_true(rc == -1 && errno == tcases[i].err, "msgsnd with %s: expected %s, seen %s",
                         tcases[i].what, ipcv_errname(tcases[i].err),
                         rc == -1 ? ipcv_errname(errno) : "success");
    }
    ipcv_expect_eq(0, stat_of(id).msg_qnum);
    SAFE_MSGCTL(id, IPC_RMID, NULL);
}

/* msgrcv(2) EINVAL/EFAULT/ENOMSG. */
IPCV_CASE(sysv_msg, msgrcv_rejects_bad_arguments_and_nowait_finds_nothing,
          .tags = "api", .covers = "B022 B023 B024 B025 B489 B490 B491", .spec = "msgrcv(2) ERRORS",
          .desc = "msgrcv fails with EINVAL for id -1 and msgsz -1, EFAULT for an unmapped buffer, and ENOMSG with IPC_NOWAIT on an empty queue or when no message has the type")
{
    int id = SAFE_MSGGET(IPC_PRIVATE, IPC_CREAT | 0600);
    struct msgb m;
    ipcv_expect_fail(EINVAL, msgrcv(-1, &m, TEXT_MAX, 0, IPC_NOWAIT));
    ipcv_expect_fail(EINVAL, msgrcv(id, &m, (size_t)-1, 0, IPC_NOWAIT));
    ipcv_expect_fail(ENOMSG, msgrcv(id, &m, TEXT_MAX, 0, IPC_NOWAIT));
    put(id, 1, "one", 3);
    ipcv_expect_fail(ENOMSG, msgrcv(id, &m, TEXT_MAX, 2, IPC_NOWAIT));
    ipcv_expect_fail(ENOMSG, msgrcv(id, &m, TEXT_MAX, 1, IPC_NOWAIT | MSG_EXCEPT));
    errno = 0;
    long rc = syscall(SYS_msgrcv, id, (void *)1, TEXT_MAX, 0L, IPC_NOWAIT);
    ipcv_expect_true(rc == -1 && errno == EFAULT, "msgrcv into an unmapped buffer: expected EFAULT, seen %s",
                     rc == -1 ? ipcv_errname(errno) : "success");
    SAFE_MSGCTL(id, IPC_RMID, NULL);
}

struct perm_ids { int root_0644, root_0622; };

static int use_without_permission(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct perm_ids *ids = arg;
    become_nobody();
    struct msgb m = { .mtype = 1, .mtext = "x" };
    struct msqid_ds ds;
    /* Root's queues: nobody is "other". */
    ipcv_expect_fail(EACCES, msgsnd(ids->root_0644, &m, 1, IPC_NOWAIT));
    ipcv_expect_fail(EACCES, msgrcv(ids->root_0622, &m, TEXT_MAX, 0, IPC_NOWAIT));
    ipcv_expect_fail(EACCES, msgctl(ids->root_0622, IPC_STAT, &ds));
    ipcv_expect_ok(msgsnd(ids->root_0622, &m, 1, IPC_NOWAIT));   /* write is granted */

    /* Its own queues: the owner has only what the mode grants. */
    int none = SAFE_MSGGET(IPC_PRIVATE, IPC_CREAT | 0000);
    ipcv_expect_fail(EACCES, msgsnd(none, &m, 1, IPC_NOWAIT));
    ipcv_expect_fail(EACCES, msgrcv(none, &m, TEXT_MAX, 0, IPC_NOWAIT));
    errno = 0;
    if (msgrcv(none, &m, TEXT_MAX, 0, IPC_NOWAIT | MSG_COPY) != -1 || errno != ENOSYS)
        ipcv_expect_true(errno == EACCES, "MSG_COPY on mode 0000: expected EACCES, seen %s",
                         ipcv_errname(errno));
    int wronly = SAFE_MSGGET(IPC_PRIVATE, IPC_CREAT | 0200);
    ipcv_expect_fail(EACCES, msgctl(wronly, IPC_STAT, &ds));
    ipcv_expect_ok(msgsnd(wronly, &m, 1, IPC_NOWAIT));
    SAFE_MSGCTL(none, IPC_RMID, NULL);     /* the owner may still remove */
    SAFE_MSGCTL(wronly, IPC_RMID, NULL);
    return 0;
}

/* msgsnd(2), msgrcv(2), msgctl(2) EACCES: write permission to send, read
 * permission to receive, copy and stat; CAP_IPC_OWNER is the only way
 * round it. */
IPCV_CASE(sysv_msg, msg_operations_without_permission_fail_eacces,
          .tags = "api multi", .covers = "B004 B021 B037 B496 B515", .spec = "msgsnd(2), msgrcv(2), msgctl(2) EACCES",
          .desc = "uid 65534: send to 0644, receive from and stat 0622 root queues fail EACCES; on its own queues, mode 0000 refuses send, receive and MSG_COPY, and 0200 refuses IPC_STAT")
{
    struct perm_ids ids = {
        SAFE_MSGGET(IPC_PRIVATE, IPC_CREAT | 0644),
        SAFE_MSGGET(IPC_PRIVATE, IPC_CREAT | 0622),
    };
    struct ipcv_role *r = ipcv_spawn("nobody", use_without_permission, &ids);
    ipcv_join(r, IPCV_EXITED(0));
    ipcv_expect_eq(1, stat_of(ids.root_0622).msg_qnum);
    SAFE_MSGCTL(ids.root_0644, IPC_RMID, NULL);
    SAFE_MSGCTL(ids.root_0622, IPC_RMID, NULL);
}

/* msgrcv(2): "returns the number of bytes actually copied into mtext". */
IPCV_CASE(sysv_msg, msgrcv_returns_the_text_size_type_and_bytes,
          .tags = "api", .covers = "B482", .spec = "msgrcv(2) RETURN VALUE",
          .desc = "for texts of 1, 100, 4000 and MSGMAX bytes msgrcv returns exactly that size, the mtype sent and the same bytes")
{
    int id = SAFE_MSGGET(IPC_PRIVATE, IPC_CREAT | 0600);
    size_t sizes[] = { 1, 100, 4000, (size_t)IPCV_GET_LIMIT("msgmax") };
    static struct msgb out, in;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        if (sizes[i] > TEXT_MAX)
            continue;
        for (size_t k = 0; k < sizes[i]; k++)
            out.mtext[k] = (char)(k * 7 + i);
        out.mtype = (long)i + 10;
        SAFE(msgsnd(id, &out, sizes[i], 0));
        memset(&in, 0, sizeof in);
        ipcv_expect_eq(sizes[i], msgrcv(id, &in, TEXT_MAX, 0, IPC_NOWAIT));
        ipcv_expect_eq(out.mtype, in.mtype);
        ipcv_expect_mem(out.mtext, in.mtext, sizes[i]);
    }
    SAFE_MSGCTL(id, IPC_RMID, NULL);
}

/* msgsnd(2)/msgrcv(2): msgsz 0 is a valid message with an empty text. */
IPCV_CASE(sysv_msg, zero_length_message_is_queued_and_received_as_0_bytes,
          .tags = "api", .covers = "B483", .spec = "msgsnd(2), msgrcv(2)",
          .desc = "a message with msgsz 0 counts in qnum with 0 cbytes, and msgrcv returns 0 with its mtype")
{
    int id = SAFE_MSGGET(IPC_PRIVATE, IPC_CREAT | 0600);
    struct msgb m = { .mtype = 42 };
    SAFE(msgsnd(id, &m, 0, IPC_NOWAIT));
    struct msqid_ds ds = stat_of(id);
    ipcv_expect_eq(1, ds.msg_qnum);
    ipcv_expect_eq(0, ds.msg_cbytes);
    m.mtype = 0;
    ipcv_expect_eq(0, msgrcv(id, &m, TEXT_MAX, 0, IPC_NOWAIT));
    ipcv_expect_eq(42, m.mtype);
    ipcv_expect_eq(0, stat_of(id).msg_qnum);
    SAFE_MSGCTL(id, IPC_RMID, NULL);
}

/* msgrcv(2): msgsz is the buffer size; only msgsnd limits it to MSGMAX. */
IPCV_CASE(sysv_msg, msgrcv_accepts_a_buffer_larger_than_msgmax,
          .tags = "api", .covers = "B484", .spec = "msgrcv(2)",
          .desc = "msgrcv with msgsz MSGMAX+1 (and far larger) is accepted and returns the actual text size")
{
    int id = SAFE_MSGGET(IPC_PRIVATE, IPC_CREAT | 0600);
    size_t max = (size_t)IPCV_GET_LIMIT("msgmax");
    size_t big = max * 4 + 1;
    struct msgb *m = SAFE_PTR(calloc(1, sizeof(long) + big));
    put(id, 1, "small", 5);
    put(id, 1, "tiny", 4);
    ipcv_expect_eq(5, msgrcv(id, m, max + 1, 0, IPC_NOWAIT));
    ipcv_expect_eq(4, msgrcv(id, m, big, 0, IPC_NOWAIT));
    ipcv_expect_mem("tiny", m->mtext, 4);
    free(m);
    SAFE_MSGCTL(id, IPC_RMID, NULL);
}

/* msgrcv(2) E2BIG: "the message text length is greater than msgsz and
 * MSG_NOERROR isn't specified"; the message stays on the queue. */
IPCV_CASE(sysv_msg, msgrcv_into_a_short_buffer_fails_e2big_and_keeps_the_message,
          .tags = "api", .covers = "B020 B492", .spec = "msgrcv(2) E2BIG",
          .desc = "receiving a 64-byte message into a 10-byte text fails E2BIG; the message stays queued and a large enough receive gets it whole")
{
    int id = SAFE_MSGGET(IPC_PRIVATE, IPC_CREAT | 0600);
    char text[64];
    for (int i = 0; i < 64; i++)
        text[i] = (char)('A' + i % 26);
    put(id, 5, text, sizeof text);
    struct msgb m;
    ipcv_expect_fail(E2BIG, msgrcv(id, &m, 10, 0, IPC_NOWAIT));
    struct msqid_ds ds = stat_of(id);
    ipcv_expect_eq(1, ds.msg_qnum);
    ipcv_expect_eq(64, ds.msg_cbytes);
    ipcv_expect_eq(64, msgrcv(id, &m, TEXT_MAX, 0, IPC_NOWAIT));
    ipcv_expect_mem(text, m.mtext, sizeof text);
    SAFE_MSGCTL(id, IPC_RMID, NULL);
}

/* msgrcv(2) MSG_NOERROR: "truncate the message text if longer than msgsz
 * bytes"; the truncated part is lost. */
IPCV_CASE(sysv_msg, msgrcv_noerror_truncates_and_consumes_the_message,
          .tags = "api", .covers = "B032 B485", .spec = "msgrcv(2) MSG_NOERROR",
          .desc = "MSG_NOERROR into a 10-byte text returns 10, writes the first 10 bytes and nothing past them, and removes the message (qnum 0, cbytes 0)")
{
    int id = SAFE_MSGGET(IPC_PRIVATE, IPC_CREAT | 0600);
    char text[64];
    for (int i = 0; i < 64; i++)
        text[i] = (char)('a' + i % 26);
    put(id, 5, text, sizeof text);
    struct msgb m;
    memset(&m, 0x5a, sizeof m);
    ipcv_expect_eq(10, msgrcv(id, &m, 10, 0, IPC_NOWAIT | MSG_NOERROR));
    ipcv_expect_eq(5, m.mtype);
    ipcv_expect_mem(text, m.mtext, 10);
    int clean = 1;
    for (int i = 10; i < 64; i++)
        clean &= m.mtext[i] == 0x5a;
    ipcv_expect_true(clean, "msgrcv wrote past the 10 bytes it was given");
    struct msqid_ds ds = stat_of(id);
    ipcv_expect_eq(0, ds.msg_qnum);
    ipcv_expect_eq(0, ds.msg_cbytes);
    SAFE_MSGCTL(id, IPC_RMID, NULL);
}

/* Send types 3 1 2 3 2 with texts naming their place in the queue. */
static int typed_queue(void)
{
    int id = SAFE_MSGGET(IPC_PRIVATE, IPC_CREAT | 0600);
    put(id, 3, "first", 5);
    put(id, 1, "second", 6);
    put(id, 2, "third", 5);
    put(id, 3, "fourth", 6);
    put(id, 2, "fifth", 5);
    return id;
}

static void expect_next(int id, long msgtyp, int flags, long type, const char *text)
{
    struct msgb m;
    memset(&m, 0, sizeof m);
    ssize_t n = msgrcv(id, &m, TEXT_MAX, msgtyp, flags | IPC_NOWAIT);
    ipcv_expect_true(n == (ssize_t)strlen(text) && m.mtype == type && !memcmp(m.mtext, text, strlen(text)),
                     "msgrcv(msgtyp %ld%s): expected type %ld '%s', seen %s%zd type %ld '%.*s'",
                     msgtyp, flags & MSG_EXCEPT ? ", MSG_EXCEPT" : "", type, text,
                     n < 0 ? ipcv_errname(errno) : "", n, m.mtype, n > 0 ? (int)n : 0, m.mtext);
}

/* msgrcv(2): "If msgtyp is 0, then the first message in the queue is read." */
IPCV_CASE(sysv_msg, msgrcv_type_0_takes_the_oldest_message,
          .tags = "api", .covers = "B034", .spec = "msgrcv(2) msgtyp 0",
          .desc = "with types 3 1 2 3 2 queued, msgtyp 0 returns them in send order, whatever their type")
{
    int id = typed_queue();
    expect_next(id, 0, 0, 3, "first");
    expect_next(id, 0, 0, 1, "second");
    expect_next(id, 0, 0, 2, "third");
    expect_next(id, 0, 0, 3, "fourth");
    expect_next(id, 0, 0, 2, "fifth");
    SAFE_MSGCTL(id, IPC_RMID, NULL);
}

/* msgrcv(2): "If msgtyp is greater than 0, then the first message in the
 * queue of type msgtyp is read." */
IPCV_CASE(sysv_msg, msgrcv_positive_type_takes_the_first_of_that_type,
          .tags = "api", .covers = "B034 B493", .spec = "msgrcv(2) msgtyp > 0",
          .desc = "with types 3 1 2 3 2 queued, msgtyp 2 takes 'third' then 'fifth', out of send order, and then ENOMSG")
{
    int id = typed_queue();
    expect_next(id, 2, 0, 2, "third");
    expect_next(id, 2, 0, 2, "fifth");
    struct msgb m;
    ipcv_expect_fail(ENOMSG, msgrcv(id, &m, TEXT_MAX, 2, IPC_NOWAIT));
    expect_next(id, 0, 0, 3, "first");
    SAFE_MSGCTL(id, IPC_RMID, NULL);
}

/* msgrcv(2): "If msgtyp is less than 0, then the first message in the
 * queue with the lowest type less than or equal to the absolute value of
 * msgtyp will be read." */
IPCV_CASE(sysv_msg, msgrcv_negative_type_takes_the_lowest_type_up_to_its_value,
          .tags = "api", .covers = "B034 B495", .spec = "msgrcv(2) msgtyp < 0",
          .desc = "with types 3 2 3 2 queued, msgtyp -3 takes the first type 2, then the second type 2, then the first type 3; msgtyp -1 with IPC_NOWAIT gives ENOMSG")
{
    int id = SAFE_MSGGET(IPC_PRIVATE, IPC_CREAT | 0600);
    put(id, 3, "first", 5);
    put(id, 2, "second", 6);
    put(id, 3, "third", 5);
    put(id, 2, "fourth", 6);
    struct msgb m;
    ipcv_expect_fail(ENOMSG, msgrcv(id, &m, TEXT_MAX, -1, IPC_NOWAIT));
    expect_next(id, -3, 0, 2, "second");
    expect_next(id, -3, 0, 2, "fourth");
    expect_next(id, -3, 0, 3, "first");
    SAFE_MSGCTL(id, IPC_RMID, NULL);
}

/* msgrcv(2) MSG_EXCEPT: "Used with msgtyp greater than 0 to read the first
 * message in the queue with message type that differs from msgtyp." */
IPCV_CASE(sysv_msg, msgrcv_except_takes_the_first_of_another_type,
          .tags = "api", .covers = "B031 B494", .spec = "msgrcv(2) MSG_EXCEPT",
          .desc = "with types 3 1 2 3 2 queued, msgtyp 3 with MSG_EXCEPT takes 'second' (type 1), then 'third' (type 2)")
{
    int id = typed_queue();
    expect_next(id, 3, MSG_EXCEPT, 1, "second");
    expect_next(id, 3, MSG_EXCEPT, 2, "third");
    expect_next(id, 3, 0, 3, "first");
    SAFE_MSGCTL(id, IPC_RMID, NULL);
}

/* MSG_COPY exists only with CONFIG_CHECKPOINT_RESTORE: the kernel says
 * ENOSYS otherwise. With it, an empty queue gives ENOMSG. */
static void need_msg_copy(int id)
{
#ifndef MSG_COPY
    ipcv_skip("the C library does not define MSG_COPY");
#else
    struct msgb m;
    errno = 0;
    if (msgrcv(id, &m, TEXT_MAX, 0, MSG_COPY | IPC_NOWAIT) == -1 && errno == ENOSYS) {
        SAFE_MSGCTL(id, IPC_RMID, NULL);
        ipcv_skip("MSG_COPY: ENOSYS (kernel without CONFIG_CHECKPOINT_RESTORE)");
    }
#endif
}

/* msgrcv(2) MSG_COPY: "Nondestructively fetch a copy of the message at the
 * ordinal position in the queue specified by msgtyp (counted from 0)". */
IPCV_CASE(sysv_msg, msgrcv_copy_reads_by_index_without_removing,
          .tags = "api", .covers = "B033 B499 B500 B751", .spec = "msgrcv(2) MSG_COPY",
          .desc = "MSG_COPY|IPC_NOWAIT with msgtyp 0..4 returns the message at that position, leaves qnum at 5, and a later msgtyp-0 drain still sees all five in order")
{
    int id = typed_queue();
    need_msg_copy(id);
    static const struct { long type; const char *text; } want[] = {
        { 3, "first" }, { 1, "second" }, { 2, "third" }, { 3, "fourth" }, { 2, "fifth" },
    };
    for (long i = 4; i >= 0; i--)
        expect_next(id, i, MSG_COPY, want[i].type, want[i].text);
    ipcv_expect_eq(5, stat_of(id).msg_qnum);
    for (int i = 0; i < 5; i++)
        expect_next(id, 0, 0, want[i].type, want[i].text);
    SAFE_MSGCTL(id, IPC_RMID, NULL);
}

/* msgrcv(2) MSG_COPY errors: EINVAL without IPC_NOWAIT or with MSG_EXCEPT;
 * ENOMSG for an index past the end (or negative); E2BIG for a short buffer,
 * but EINVAL when MSG_NOERROR asks to truncate a copy. */
IPCV_CASE(sysv_msg, msgrcv_copy_rejects_bad_flags_indices_and_sizes,
          .tags = "api", .covers = "B026 B027 B028 B500 B501 B502 B503 B504", .spec = "msgrcv(2) MSG_COPY ERRORS",
          .desc = "MSG_COPY fails EINVAL without IPC_NOWAIT or with MSG_EXCEPT, ENOMSG at index 5 of 5 and at -1, E2BIG into a 2-byte text and EINVAL with MSG_NOERROR; the queue keeps all 5")
{
    int id = typed_queue();
    need_msg_copy(id);
    struct msgb m;
    ipcv_expect_fail(EINVAL, msgrcv(id, &m, TEXT_MAX, 0, MSG_COPY));
    ipcv_expect_fail(EINVAL, msgrcv(id, &m, TEXT_MAX, 0, MSG_COPY | IPC_NOWAIT | MSG_EXCEPT));
    ipcv_expect_fail(ENOMSG, msgrcv(id, &m, TEXT_MAX, 5, MSG_COPY | IPC_NOWAIT));
    ipcv_expect_fail(ENOMSG, msgrcv(id, &m, TEXT_MAX, -1, MSG_COPY | IPC_NOWAIT));
    ipcv_expect_fail(E2BIG, msgrcv(id, &m, 2, 0, MSG_COPY | IPC_NOWAIT));
    ipcv_expect_fail(EINVAL, msgrcv(id, &m, 2, 0, MSG_COPY | IPC_NOWAIT | MSG_NOERROR));
    ipcv_expect_eq(5, stat_of(id).msg_qnum);
    SAFE_MSGCTL(id, IPC_RMID, NULL);
}
