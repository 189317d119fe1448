/* SysV message queues at their limits (MSGMAX, MSGMNB, MSGMNI, lowered in
 * the case's own IPC namespace) and across IPC namespaces. */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <sys/msg.h>
#include <unistd.h>

#include "ipcvet.h"

#define TEXT_MAX 8192
struct msgb { long mtype; char mtext[TEXT_MAX]; };

static struct msqid_ds stat_of(int id)
{
    struct msqid_ds ds;
    SAFE_MSGCTL(id, IPC_STAT, &ds);
    return ds;
}

/* msgsnd(2) EINVAL: "msgsz is greater than the system-wide limit MSGMAX". */
IPCV_CASE(sysv_msg, msgsnd_larger_than_msgmax_fails_einval,
          .tags = "api limit", .covers = "B497", .spec = "msgsnd(2) EINVAL; proc(5) msgmax",
          .desc = "with msgmax lowered to 1000, a 1001-byte message fails EINVAL and a 1000-byte one is queued")
{
    IPCV_SET_LIMIT("msgmax", 1000);
    int id = SAFE_MSGGET(IPC_PRIVATE, IPC_CREAT | 0600);
    static struct msgb m = { .mtype = 1 };
    ipcv_expect_fail(EINVAL, msgsnd(id, &m, 1001, IPC_NOWAIT));
    ipcv_expect_eq(0, stat_of(id).msg_qnum);
    ipcv_expect_ok(msgsnd(id, &m, 1000, IPC_NOWAIT));
    ipcv_expect_eq(1, stat_of(id).msg_qnum);
    SAFE_MSGCTL(id, IPC_RMID, NULL);
}

/* msgsnd(2) EAGAIN: "The message can't be sent due to the msg_qbytes limit
 * for the queue and IPC_NOWAIT was specified in msgflg"; a new queue's
 * msg_qbytes is MSGMNB. */
IPCV_CASE(sysv_msg, msgsnd_past_msgmnb_with_ipc_nowait_fails_eagain,
          .tags = "api limit", .covers = "B042 B498", .spec = "msgsnd(2) EAGAIN; proc(5) msgmnb",
          .desc = "with msgmnb lowered to 256, a new queue has msg_qbytes 256; 200 then 56 bytes fit exactly, 57 or even 1 more byte fail EAGAIN and change nothing")
{
    IPCV_SET_LIMIT("msgmnb", 256);
    int id = SAFE_MSGGET(IPC_PRIVATE, IPC_CREAT | 0600);
    ipcv_expect_eq(256, stat_of(id).msg_qbytes);
    static struct msgb m = { .mtype = 1 };
    SAFE(msgsnd(id, &m, 200, IPC_NOWAIT));
    ipcv_expect_fail(EAGAIN, msgsnd(id, &m, 57, IPC_NOWAIT));
    ipcv_expect_ok(msgsnd(id, &m, 56, IPC_NOWAIT));
    ipcv_expect_fail(EAGAIN, msgsnd(id, &m, 1, IPC_NOWAIT));
    struct msqid_ds ds = stat_of(id);
    ipcv_expect_eq(2, ds.msg_qnum);
    ipcv_expect_eq(256, ds.msg_cbytes);
    SAFE_MSGCTL(id, IPC_RMID, NULL);
}

static int send_100(struct ipcv_role *self, void *arg)
{
    ipcv_ready(self);
    static struct msgb m = { .mtype = 3 };
    ipcv_expect_ok(msgsnd(*(int *)arg, &m, 100, 0));
    return 0;
}

/* msgsnd(2): "If insufficient space is available in the queue, then the
 * default behavior of msgsnd() is to block until space becomes available." */
IPCV_CASE(sysv_msg, msgsnd_past_msgmnb_blocks_until_a_receive_makes_room,
          .tags = "multi limit", .covers = "B507", .spec = "msgsnd(2) blocking; proc(5) msgmnb",
          .desc = "with msgmnb 256 and the queue full, a 100-byte msgsnd sleeps (nothing is queued meanwhile) until another process receives 200 bytes, then completes")
{
    IPCV_SET_LIMIT("msgmnb", 256);
    int id = SAFE_MSGGET(IPC_PRIVATE, IPC_CREAT | 0600);
    static struct msgb m = { .mtype = 1 };
    SAFE(msgsnd(id, &m, 200, IPC_NOWAIT));
    m.mtype = 2;
    SAFE(msgsnd(id, &m, 56, IPC_NOWAIT));
    struct ipcv_role *r = ipcv_spawn("sender", send_100, &id);
    ipcv_wait_ready(r);
    ipcv_wait_blocked(r, "msgsnd");
    ipcv_expect_eq(2, stat_of(id).msg_qnum);
    ipcv_expect_eq(200, msgrcv(id, &m, TEXT_MAX, 1, IPC_NOWAIT));
    ipcv_join(r, IPCV_EXITED(0));
    struct msqid_ds ds = stat_of(id);
    ipcv_expect_eq(2, ds.msg_qnum);
    ipcv_expect_eq(156, ds.msg_cbytes);
    SAFE_MSGCTL(id, IPC_RMID, NULL);
}

/* msgget(2) ENOSPC: "the maximum number of message queues on the system
 * (MSGMNI) would be exceeded". */
IPCV_CASE(sysv_msg, msgget_past_msgmni_fails_enospc,
          .tags = "api limit", .covers = "B016", .spec = "msgget(2) ENOSPC; proc(5) msgmni",
          .desc = "with msgmni lowered to 3, three queues are created, the fourth fails ENOSPC, and after one is removed a new one can be created")
{
    IPCV_SET_LIMIT("msgmni", 3);
    int id[3];
    for (int i = 0; i < 3; i++)
        id[i] = SAFE_MSGGET(IPC_PRIVATE, IPC_CREAT | 0600);
    ipcv_expect_fail(ENOSPC, msgget(IPC_PRIVATE, IPC_CREAT | 0600));
    ipcv_expect_fail(ENOSPC, msgget(ipcv_key(1), IPC_CREAT | 0600));
    SAFE_MSGCTL(id[1], IPC_RMID, NULL);
    id[1] = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
    ipcv_expect_true(id[1] >= 0, "msgget after freeing a slot: %s", ipcv_errname(errno));
    for (int i = 0; i < 3; i++)
        if (id[i] >= 0)
            SAFE_MSGCTL(id[i], IPC_RMID, NULL);
}

static void new_ipc_namespace(void)
{
    if (unshare(CLONE_NEWIPC) < 0)
        ipcv_skip("unshare(CLONE_NEWIPC): %s", ipcv_errname(errno));
}

static int look_from_a_new_namespace(struct ipcv_role *self, void *arg)
{
    (void)self;
    key_t key = *(key_t *)arg;
    new_ipc_namespace();
    ipcv_expect_fail(ENOENT, msgget(key, 0));
    int own = msgget(key, IPC_CREAT | IPC_EXCL | 0600);
    ipcv_expect_true(own >= 0, "msgget(key, IPC_CREAT|IPC_EXCL) in the new namespace: %s",
                     ipcv_errname(errno));
    if (own >= 0) {
        struct msgb m;
        ipcv_expect_fail(ENOMSG, msgrcv(own, &m, TEXT_MAX, 0, IPC_NOWAIT));
        m.mtype = 2;
        ipcv_expect_ok(msgsnd(own, &m, 6, IPC_NOWAIT));
        SAFE_MSGCTL(own, IPC_RMID, NULL);
    }
    return 0;
}

/* ipc_namespaces(7): "System V IPC objects ... are visible to all other
 * processes that are members of that IPC namespace, but are not visible to
 * processes in other IPC namespaces." A role moves to a new one. */
IPCV_CASE(sysv_msg, queue_key_is_invisible_from_a_new_ipc_namespace,
          .tags = "multi", .covers = "B123", .spec = "ipc_namespaces(7); unshare(2) CLONE_NEWIPC",
          .desc = "after unshare(CLONE_NEWIPC) a process gets ENOENT for a key that has a queue outside, creates its own queue with that key, and the outside queue keeps its one message")
{
    key_t key = ipcv_key(1);
    int id = SAFE_MSGGET(key, IPC_CREAT | 0600);
    struct msgb m = { .mtype = 1, .mtext = "outside" };
    SAFE(msgsnd(id, &m, 7, IPC_NOWAIT));
    struct ipcv_role *r = ipcv_spawn("inside", look_from_a_new_namespace, &key);
    ipcv_join(r, IPCV_EXITED(0));
    ipcv_expect_eq(id, msgget(key, 0));
    ipcv_expect_eq(1, stat_of(id).msg_qnum);
    ipcv_expect_eq(7, msgrcv(id, &m, TEXT_MAX, 0, IPC_NOWAIT));
    ipcv_expect_mem("outside", m.mtext, 7);
    SAFE_MSGCTL(id, IPC_RMID, NULL);
}

#define CP_CREATED 0
#define CP_SENT 1

struct twin_job { key_t key; long tag; };

static int twin(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct twin_job *j = arg;
    new_ipc_namespace();
    int id = msgget(j->key, IPC_CREAT | IPC_EXCL | 0600);
    ipcv_expect_true(id >= 0, "msgget(key, IPC_CREAT|IPC_EXCL) in namespace %ld: %s", j->tag,
                     ipcv_errname(errno));
    ipcv_checkpoint_signal(CP_CREATED);
    ipcv_checkpoint_wait(CP_CREATED, 2);
    struct msgb m = { .mtype = j->tag };
    if (id >= 0)
        ipcv_expect_ok(msgsnd(id, &m, 0, IPC_NOWAIT));
    ipcv_checkpoint_signal(CP_SENT);
    ipcv_checkpoint_wait(CP_SENT, 2);
    if (id >= 0) {
        ipcv_expect_eq(0, msgrcv(id, &m, TEXT_MAX, 0, IPC_NOWAIT));
        ipcv_expect_eq(j->tag, m.mtype);
        ipcv_expect_fail(ENOMSG, msgrcv(id, &m, TEXT_MAX, 0, IPC_NOWAIT));
        SAFE_MSGCTL(id, IPC_RMID, NULL);
    }
    return 0;
}

/* ipc_namespaces(7): two processes each in its own new IPC namespace use
 * the same key at the same time without seeing each other (LTP msg_comm). */
IPCV_CASE(sysv_msg, same_key_in_two_new_ipc_namespaces_gives_two_queues,
          .tags = "multi", .covers = "B124", .spec = "ipc_namespaces(7)",
          .desc = "two processes that each unshare(CLONE_NEWIPC) both create a queue with one key under IPC_EXCL, each send a message, and each receives only its own")
{
    key_t key = ipcv_key(1);
    struct twin_job a = { key, 1 }, b = { key, 2 };
    struct ipcv_role *ra = ipcv_spawn("twin1", twin, &a);
    struct ipcv_role *rb = ipcv_spawn("twin2", twin, &b);
    ipcv_join(ra, IPCV_EXITED(0));
    ipcv_join(rb, IPCV_EXITED(0));
    ipcv_expect_fail(ENOENT, msgget(key, 0));
}
