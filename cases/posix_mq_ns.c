/* POSIX message queues, the mqueue file system and IPC namespaces. The
 * case runs in a private IPC and mount namespace: mqueue mounts go on
 * directories under ipcv_tmpdir(), and a role may unshare(CLONE_NEWIPC)
 * again. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/capability.h>
#include <poll.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "posix_mq.h"

/* A directory under the case's tmpdir with the mqueue fs of the calling
 * process's IPC namespace mounted on it. */
static const char *mount_mqueue(char path[128], const char *dir)
{
    snprintf(path, 128, "%s/%s", ipcv_tmpdir(), dir);
    if (mkdir(path, 0700) < 0 && errno != EEXIST)
        ipcv_brk(__FILE__, __LINE__, "mkdir %s: %s", path, ipcv_errname(errno));
    if (mount("mqueue", path, "mqueue", 0, NULL) < 0) {
        if (errno == EPERM)
            ipcv_skip("cannot mount an mqueue fs here: %s", ipcv_errname(errno));
        ipcv_brk(__FILE__, __LINE__, "mount mqueue on %s: %s", path, ipcv_errname(errno));
    }
    return path;
}

static void unmount(const char *path)
{
    SAFE(umount2(path, MNT_DETACH));
}

static void new_ipc_namespace(void)
{
    if (unshare(CLONE_NEWIPC) < 0)
        ipcv_skip("unshare(CLONE_NEWIPC): %s", ipcv_errname(errno));
}

/* The mqueue fs file of a queue: its name without the slash. */
static const char *queue_file(char out[256], const char *mnt, const char *name)
{
    snprintf(out, 256, "%s/%s", mnt, name + 1);
    return out;
}

/* The status line the kernel writes for a queue file. */
static void status_line(char *out, size_t len, unsigned long qsize, int notify, int signo, int pid)
{
    snprintf(out, len, "QSIZE:%-10lu NOTIFY:%-5d SIGNO:%-5d NOTIFY_PID:%-6d\n", qsize, notify, signo, pid);
}

static ssize_t read_status(const char *path, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, len - 1);
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
    return n;
}

struct ns_arg { mqd_t q; char name[MQ_NAME_LEN]; char other[MQ_NAME_LEN]; };

static int look_from_new_ns(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct ns_arg *a = arg;
    new_ipc_namespace();
    ipcv_expect_fail(ENOENT, mq_open(a->name, O_RDWR));
    ipcv_expect_fail(ENOENT, mq_unlink(a->name));
    return 0;
}

/* ipc_namespaces(7): "POSIX message queues" are among the resources an
 * IPC namespace isolates (LTP mqns_01): a queue of the parent namespace
 * does not exist in a new one. */
IPCV_CASE(posix_mq, queue_of_the_parent_namespace_does_not_exist_in_a_new_ipc_namespace,
          .tags = "multi", .covers = "B128",
          .spec = "ipc_namespaces(7)",
          .desc = "after unshare(CLONE_NEWIPC), mq_open and mq_unlink of a queue made in the parent namespace fail with ENOENT; the queue stays in the parent's")
{
    struct ns_arg a;
    a.q = mq_fresh(a.name, "q", 2, 8, 0);
    SAFE(mq_send(a.q, "p", 1, 0));
    struct ipcv_role *r = ipcv_spawn("child", look_from_new_ns, &a);
    ipcv_join(r, IPCV_EXITED(0));
    ipcv_expect_eq(1, mq_count(a.q));
    mqd_t again = ipcv_expect_ok(mq_open(a.name, O_RDONLY));
    if (again != (mqd_t)-1)
        mq_close(again);
    mq_gone(a.q, a.name);
}

static int same_name_elsewhere(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct ns_arg *a = arg;
    ipcv_expect_fail(EEXIST, mq_open(a->name, O_CREAT | O_EXCL | O_RDWR, 0600, NULL));
    new_ipc_namespace();
    struct mq_attr at = { .mq_maxmsg = 3, .mq_msgsize = 32 };
    mqd_t q = ipcv_expect_ok(mq_open(a->name, O_CREAT | O_EXCL | O_RDWR, 0600, &at));
    if (q == (mqd_t)-1)
        return 0;
    ipcv_expect_eq(0, mq_count(q));
    ipcv_expect_eq(0, mq_send(q, "child", 5, 0));
    ipcv_expect_eq(1, mq_count(q));
    struct mq_attr got;
    SAFE(mq_getattr(q, &got));
    ipcv_expect_eq(3, got.mq_maxmsg);
    mq_close(q);
    ipcv_expect_eq(0, mq_unlink(a->name));
    return 0;
}

/* ipc_namespaces(7), LTP mqns_02: one name in two IPC namespaces names two
 * queues; in a shared namespace O_CREAT|O_EXCL gives EEXIST. */
IPCV_CASE(posix_mq, same_name_in_two_ipc_namespaces_is_two_queues,
          .tags = "multi", .covers = "B129",
          .spec = "ipc_namespaces(7)",
          .desc = "a process sharing the namespace gets EEXIST for the parent's queue name; after unshare(CLONE_NEWIPC) it creates its own queue of that name, with its own attributes and messages, and the parent's is untouched")
{
    struct ns_arg a;
    a.q = mq_fresh(a.name, "q", 2, 8, 0);
    SAFE(mq_send(a.q, "p", 1, 0));
    struct ipcv_role *r = ipcv_spawn("child", same_name_elsewhere, &a);
    ipcv_join(r, IPCV_EXITED(0));
    struct mq_attr got;
    SAFE(mq_getattr(a.q, &got));
    ipcv_expect_eq(2, got.mq_maxmsg);
    ipcv_expect_eq(1, got.mq_curmsgs);
    char buf[8];
    unsigned prio;
    ipcv_expect_eq(1, mq_receive(a.q, buf, sizeof buf, &prio));
    ipcv_expect_eq('p', buf[0]);
    mq_gone(a.q, a.name);
}

static int mount_in_new_ns(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct ns_arg *a = arg;
    new_ipc_namespace();
    mqd_t q = SAFE(mq_open(a->name, O_CREAT | O_EXCL | O_RDWR, 0600, NULL));
    SAFE(mq_send(q, "abc", 3, 0));
    char mnt[128], file[256], line[128], want[128];
    mount_mqueue(mnt, "child-mq");
    /* Only this namespace's queue: not the parent's "/...parent" */
    struct stat st;
    ipcv_expect_ok(stat(queue_file(file, mnt, a->name), &st));
    char parent_file[256];
    queue_file(parent_file, mnt, a->other);
    ipcv_expect_fail(ENOENT, stat(parent_file, &st));
    char made[256];
    snprintf(made, sizeof made, "%s/made-by-creat", mnt);
    int fd = ipcv_expect_ok(creat(made, 0600));
    if (fd >= 0)
        close(fd);
    unmount(mnt);
    /* A second mount shows the same namespace's queues: they persist. */
    mount_mqueue(mnt, "child-mq");
    ipcv_expect_ok(stat(made, &st));
    if (read_status(queue_file(file, mnt, a->name), line, sizeof line) > 0) {
        status_line(want, sizeof want, 3, 0, 0, 0);
        ipcv_expect_true(!strcmp(want, line), "status line \"%s\", expected \"%s\"", line, want);
    } else {
        ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "cannot read %s: %s", file, ipcv_errname(errno));
    }
    mqd_t viafs = ipcv_expect_ok(mq_open("/made-by-creat", O_RDWR));
    if (viafs != (mqd_t)-1)
        mq_close(viafs);
    unmount(mnt);
    mq_close(q);
    return 0;
}

/* LTP mqns_03: an mqueue fs mounted inside a new IPC namespace shows that
 * namespace's queues only, files created in it are queues, and they are
 * all there again after an unmount and a new mount. */
IPCV_CASE(posix_mq, mqueue_mount_in_a_new_namespace_shows_its_queues_and_keeps_them_across_remount,
          .tags = "multi", .covers = "B130",
          .spec = "ipc_namespaces(7); mq_overview(7) Mounting the message queue file system",
          .desc = "in a new IPC namespace the mqueue mount lists the queue made there (QSIZE 3) and not the parent's; a file made there with creat(2) is a queue; after unmount and mount again both are still there")
{
    struct ns_arg a;
    char parent[MQ_NAME_LEN];
    mqd_t pq = mq_fresh(parent, "parent", 2, 8, 0);
    mq_name(a.name, "child");
    snprintf(a.other, sizeof a.other, "%s", parent);
    struct ipcv_role *r = ipcv_spawn("child", mount_in_new_ns, &a);
    ipcv_join(r, IPCV_EXITED(0));
    mq_gone(pq, parent);
}

static int mount_and_wait(struct ipcv_role *self, void *arg)
{
    struct ns_arg *a = arg;
    new_ipc_namespace();
    mqd_t q = SAFE(mq_open(a->name, O_CREAT | O_EXCL | O_RDWR, 0600, NULL));
    SAFE(mq_send(q, "abcd", 4, 0));
    char mnt[128];
    mount_mqueue(mnt, "child-mq");
    ipcv_ready(self);
    ipcv_await_release(self);
    return 0;   /* exit: the namespace goes, the mount stays */
}

/* LTP mqns_04: the parent sees the queues of a child's namespace through
 * the child's mqueue mount; once the child (the last process of that
 * namespace) is gone, the mount is still there but nothing can be created
 * in it (EACCES: its namespace is gone). */
IPCV_CASE(posix_mq, parent_reads_a_child_namespace_mount_but_cannot_create_in_it_once_the_child_ends,
          .tags = "multi cleanup", .covers = "B131",
          .spec = "ipc_namespaces(7); mq_overview(7)",
          .desc = "through a mount made by a child in its own IPC namespace, the parent reads the child's queue (QSIZE 4); after the child exits the entry is still listed and creat(2) there fails with EACCES")
{
    struct ns_arg a;
    mq_name(a.name, "child");
    struct ipcv_role *r = ipcv_spawn("child", mount_and_wait, &a);
    ipcv_wait_ready(r);
    char mnt[128], file[256], line[128], want[128];
    snprintf(mnt, sizeof mnt, "%s/child-mq", ipcv_tmpdir());
    queue_file(file, mnt, a.name);
    status_line(want, sizeof want, 4, 0, 0, 0);
    if (read_status(file, line, sizeof line) > 0)
        ipcv_expect_true(!strcmp(want, line), "status line \"%s\", expected \"%s\"", line, want);
    else
        ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "cannot read %s: %s", file, ipcv_errname(errno));
    /* The parent's own namespace has no such queue. */
    ipcv_expect_fail(ENOENT, mq_open(a.name, O_RDONLY));
    ipcv_release(r);
    ipcv_join(r, IPCV_EXITED(0));
    struct stat st;
    ipcv_expect_ok(stat(file, &st));
    char made[256];
    snprintf(made, sizeof made, "%s/after-exit", mnt);
    ipcv_expect_fail(EACCES, creat(made, 0600));
    unmount(mnt);
}

static int use_after_unshare(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct ns_arg *a = arg;
    new_ipc_namespace();
    char buf[16];
    unsigned prio;
    struct timespec soon = mq_in_ms(2000);
    ipcv_expect_eq(6, mq_timedreceive(a->q, buf, sizeof buf, &prio, &soon));
    ipcv_expect_mem("parent", buf, 6);
    ipcv_expect_eq(0, mq_send(a->q, "child", 5, 0));
    ipcv_expect_fail(ENOENT, mq_unlink(a->name));
    ipcv_expect_fail(ENOENT, mq_open(a->name, O_RDONLY));
    return 0;
}

/* gVisor MqTest.ChangeIpcNamespace: a descriptor is bound to its queue,
 * not to a name: after unshare(CLONE_NEWIPC) it still sends and receives,
 * while the name means nothing in the new namespace (ENOENT). */
IPCV_CASE(posix_mq, descriptor_opened_before_unshare_keeps_working,
          .tags = "multi", .covers = "B589",
          .spec = "ipc_namespaces(7); mq_overview(7)",
          .desc = "a process that unshares its IPC namespace still receives from and sends to a queue through its old descriptor, while mq_unlink and mq_open of the queue's name fail with ENOENT")
{
    struct ns_arg a;
    a.q = mq_fresh(a.name, "q", 2, 16, 0);
    SAFE(mq_send(a.q, "parent", 6, 0));
    struct ipcv_role *r = ipcv_spawn("child", use_after_unshare, &a);
    ipcv_join(r, IPCV_EXITED(0));
    char buf[16];
    unsigned prio;
    struct timespec past = { 0, 0 };
    ipcv_expect_eq(5, mq_timedreceive(a.q, buf, sizeof buf, &prio, &past));
    ipcv_expect_mem("child", buf, 5);
    mq_gone(a.q, a.name);
}

/* mq_overview(7): "message queues are created in a virtual file system"
 * that "can be mounted"; gVisor MqTest.MountSeveral: every mount of a
 * namespace's mqueue fs shows the same queues, made by mq_open or by
 * creat(2) in a mount, and an unlink(2) in one removes the queue for all
 * (gVisor MqTest.UnlinkAsFile). */
IPCV_CASE(posix_mq, every_mqueue_mount_of_a_namespace_shows_the_same_queues,
          .tags = "api", .covers = "B590 B592",
          .spec = "mq_overview(7) Mounting the message queue file system",
          .desc = "a queue made by mq_open is in two mounts with mode 0600; one made by creat(2) in the first mount opens with mq_open and is in the second; unlink(2) in the second removes it: mq_open and mq_unlink give ENOENT")
{
    char m1[128], m2[128], file[256];
    mount_mqueue(m1, "mq1");
    mount_mqueue(m2, "mq2");
    char name[MQ_NAME_LEN];
    mqd_t q = mq_fresh(name, "q", 2, 8, 0);
    struct stat st;
    for (int i = 0; i < 2; i++) {
        if (ipcv_expect_ok(stat(queue_file(file, i ? m2 : m1, name), &st)) == 0) {
            ipcv_expect_true(S_ISREG(st.st_mode), "%s is not a regular file", file);
            ipcv_expect_eq(0600, st.st_mode & 07777);
        }
    }
    char made[MQ_NAME_LEN];
    mq_name(made, "made");
    int fd = ipcv_expect_ok(creat(queue_file(file, m1, made), 0600));
    if (fd >= 0)
        close(fd);
    ipcv_expect_ok(stat(queue_file(file, m2, made), &st));
    mqd_t viafs = ipcv_expect_ok(mq_open(made, O_RDWR));
    if (viafs != (mqd_t)-1) {
        ipcv_expect_eq(0, mq_send(viafs, "x", 1, 0));
        mq_close(viafs);
    }
    ipcv_expect_ok(unlink(queue_file(file, m2, made)));
    ipcv_expect_fail(ENOENT, stat(queue_file(file, m1, made), &st));
    ipcv_expect_fail(ENOENT, mq_open(made, O_RDWR));
    ipcv_expect_fail(ENOENT, mq_unlink(made));
    mq_gone(q, name);
    ipcv_expect_fail(ENOENT, stat(queue_file(file, m1, name), &st));
    unmount(m1);
    unmount(m2);
}

/* mq_overview(7) "Obtaining information about a message queue": reading
 * a queue's file gives "QSIZE" (bytes of all queued messages), "NOTIFY"
 * (sigev_notify of the registration), "SIGNO" and "NOTIFY_PID" (gVisor
 * MqTest.OpenAsFile, ReadEmpty: read(2) on the descriptor gives it too). */
IPCV_CASE(posix_mq, queue_file_reads_as_its_status_line,
          .tags = "api", .covers = "B591 B593",
          .spec = "mq_overview(7) Obtaining information about a message queue",
          .desc = "an empty queue reads \"QSIZE:0 NOTIFY:0 SIGNO:0 NOTIFY_PID:0\" (in the kernel's columns); after 5 and 3 bytes are sent and a SIGEV_SIGNAL registration, QSIZE:8, SIGNO and this pid; with SIGEV_NONE, NOTIFY:1; read(2) on the descriptor gives the same")
{
    char mnt[128], file[256], line[128], want[128];
    mount_mqueue(mnt, "mq");
    char name[MQ_NAME_LEN];
    mqd_t q = mq_fresh(name, "q", 4, 16, 0);
    queue_file(file, mnt, name);
    status_line(want, sizeof want, 0, 0, 0, 0);
    read_status(file, line, sizeof line);
    ipcv_expect_true(!strcmp(want, line), "empty: \"%s\", expected \"%s\"", line, want);

    SAFE(mq_send(q, "12345", 5, 0));
    SAFE(mq_send(q, "678", 3, 7));
    mq_block_signal(SIGUSR2);
    struct sigevent ev = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGUSR2 };
    ipcv_expect_eq(0, mq_notify(q, &ev));
    status_line(want, sizeof want, 8, SIGEV_SIGNAL, SIGUSR2, (int)getpid());
    char viaq[128] = { 0 };
    ssize_t n = read(q, viaq, sizeof viaq - 1);
    ipcv_expect_eq((ssize_t)strlen(want), n);
    ipcv_expect_true(!strcmp(want, viaq), "read(2) on the descriptor: \"%s\", expected \"%s\"", viaq, want);
    /* (Closing the file opened here drops the registration: the
     * registered process closed a descriptor of the queue.) */
    read_status(file, line, sizeof line);
    ipcv_expect_true(!strcmp(want, line), "two messages, SIGEV_SIGNAL: \"%s\", expected \"%s\"", line, want);

    SAFE(mq_notify(q, NULL));
    struct sigevent none = { .sigev_notify = SIGEV_NONE };
    ipcv_expect_eq(0, mq_notify(q, &none));
    status_line(want, sizeof want, 8, SIGEV_NONE, 0, (int)getpid());
    read_status(file, line, sizeof line);
    ipcv_expect_true(!strcmp(want, line), "SIGEV_NONE: \"%s\", expected \"%s\"", line, want);
    mq_gone(q, name);
    unmount(mnt);
}

/* mq_overview(7) "Polling message queue descriptors": a queue descriptor
 * works with poll(2); gVisor MqTest.PollEmpty: an empty queue is writable
 * only (POLLOUT|POLLWRNORM); with a message also readable; full, readable
 * only. */
IPCV_CASE(posix_mq, poll_reports_readable_and_writable_as_the_queue_fills,
          .tags = "api", .covers = "B593",
          .spec = "mq_overview(7) Polling message queue descriptors",
          .desc = "poll on an empty 2-message queue gives POLLOUT|POLLWRNORM, with one message POLLIN|POLLRDNORM too, full only POLLIN|POLLRDNORM")
{
    char name[MQ_NAME_LEN];
    mqd_t q = mq_fresh(name, "q", 2, 8, 0);
    const short want[] = { POLLOUT | POLLWRNORM, POLLIN | POLLRDNORM | POLLOUT | POLLWRNORM,
                           POLLIN | POLLRDNORM };
    for (int i = 0; i < 3; i++) {
        struct pollfd p = { .fd = q, .events = POLLIN | POLLRDNORM | POLLOUT | POLLWRNORM };
        ipcv_expect_eq(1, poll(&p, 1, 0));
        if (p.revents != want[i])
            ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "%d messages: revents %#x, expected %#x",
                        i, (unsigned)p.revents, (unsigned)want[i]);
        if (i < 2)
            SAFE(mq_send(q, "m", 1, 0));
    }
    mq_gone(q, name);
}

static int poll_then_receive(struct ipcv_role *self, void *arg)
{
    struct ns_arg *a = arg;
    ipcv_ready(self);
    struct pollfd p = { .fd = a->q, .events = POLLIN };
    ipcv_expect_eq(1, poll(&p, 1, 20000));
    ipcv_expect_bits(POLLIN, p.revents);
    char buf[16];
    unsigned prio;
    struct timespec past = { 0, 0 };
    ipcv_expect_eq(4, mq_timedreceive(a->q, buf, sizeof buf, &prio, &past));
    return 0;
}

/* mq_overview(7): a descriptor can be monitored with select, poll and
 * epoll; a process sleeping in poll(2) on an empty queue wakes readable
 * when another sends. */
IPCV_CASE(posix_mq, poll_wakes_when_a_message_arrives,
          .tags = "multi", .covers = "B593",
          .spec = "mq_overview(7) Polling message queue descriptors",
          .desc = "a process blocked in poll(POLLIN) on an empty queue wakes with POLLIN when another process sends, and receives the message without waiting")
{
    struct ns_arg a;
    a.q = mq_fresh(a.name, "q", 2, 16, 0);
    struct ipcv_role *r = ipcv_spawn("poller", poll_then_receive, &a);
    ipcv_wait_ready(r);
    mq_expect_blocked(r, "poll");
    SAFE(mq_send(a.q, "wake", 4, 0));
    ipcv_join(r, IPCV_EXITED(0));
    ipcv_expect_eq(0, mq_count(a.q));
    mq_gone(a.q, a.name);
}

static int limits_in_new_ns(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct ns_arg *a = arg;
    new_ipc_namespace();
    ipcv_expect_eq(256, IPCV_GET_LIMIT("queues_max"));
    ipcv_expect_eq(10, IPCV_GET_LIMIT("msg_max"));
    struct mq_attr at = { .mq_maxmsg = 10, .mq_msgsize = 64 };
    char names[2][MQ_NAME_LEN + 4];
    for (int i = 0; i < 2; i++) {
        snprintf(names[i], sizeof names[i], "%s%d", a->name, i);
        mqd_t q = ipcv_expect_ok(mq_open(names[i], O_CREAT | O_EXCL | O_RDWR, 0600, &at));
        if (q != (mqd_t)-1)
            mq_close(q);
    }
    for (int i = 0; i < 2; i++)
        mq_unlink(names[i]);
    /* lowering it here leaves the parent's alone */
    IPCV_SET_LIMIT("queues_max", 7);
    return 0;
}

/* ipc_namespaces(7): "each IPC namespace has its own ... /proc interfaces
 * ... /proc/sys/fs/mqueue" -- a new namespace starts at the defaults and
 * changes on either side stay there. */
IPCV_CASE(posix_mq, mqueue_limits_belong_to_the_ipc_namespace,
          .tags = "multi limit", .covers = "B145",
          .spec = "ipc_namespaces(7) /proc/sys/fs/mqueue",
          .desc = "with queues_max 1 and msg_max 5 here, a new IPC namespace starts at 256 and 10 and creates two 10-message queues; here a second queue still fails with ENOSPC and queues_max is still 1")
{
    IPCV_SET_LIMIT("queues_max", 1);
    IPCV_SET_LIMIT("msg_max", 5);
    struct ns_arg a;
    a.q = mq_fresh(a.name, "q", 2, 8, 0);
    struct ipcv_role *r = ipcv_spawn("child", limits_in_new_ns, &a);
    ipcv_join(r, IPCV_EXITED(0));
    ipcv_expect_eq(1, IPCV_GET_LIMIT("queues_max"));
    ipcv_expect_eq(5, IPCV_GET_LIMIT("msg_max"));
    char other[MQ_NAME_LEN];
    mq_name(other, "other");
    if (!ipcv_has_cap(CAP_SYS_RESOURCE))
        ipcv_expect_fail(ENOSPC, mq_open(other, O_CREAT | O_EXCL | O_RDWR, 0600, NULL));
    mq_gone(a.q, a.name);
}
