/* SysV message queues, the namespace-wide view: IPC_INFO, MSG_INFO,
 * MSG_STAT(_ANY) index scans, /proc/sysvipc/msg, and msg_next_id with the
 * MSG_COPY dump it was made for (checkpoint/restore). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/msg.h>
#include <unistd.h>

#include "ipcvet.h"

#define TEXT_MAX 8192
struct msgb { long mtype; char mtext[TEXT_MAX]; };

/* Compile-time defaults of include/uapi/linux/msg.h, which IPC_INFO
 * reports for the fields Linux does not use. */
#define K_MSGMNB  16384
#define K_MSGMNI  32000
#define K_MSGPOOL (K_MSGMNI * K_MSGMNB / 1024)
#define K_MSGTQL  K_MSGMNB
#define K_MSGMAP  K_MSGMNB
#define K_MSGSSZ  16

static void put(int id, long type, const void *text, size_t len)
{
    struct msgb m = { .mtype = type };
    memcpy(m.mtext, text, len);
    SAFE(msgsnd(id, &m, len, IPC_NOWAIT));
}

static int info(int cmd, struct msginfo *mi)
{
    memset(mi, 0, sizeof *mi);
    return msgctl(0, cmd, (struct msqid_ds *)mi);
}

/* msgctl(2) IPC_INFO: "Return information about system-wide message queue
 * limits and parameters"; msgmax, msgmnb and msgmni are the namespace's
 * /proc/sys/kernel values. */
IPCV_CASE(sysv_msg, msgctl_ipc_info_reports_the_namespace_limits,
          .tags = "api limit", .covers = "B011 B518 B522", .spec = "msgctl(2) IPC_INFO; proc(5) msgmax msgmnb msgmni",
          .desc = "after lowering msgmax, msgmnb and msgmni, IPC_INFO reports the new values, the fixed msgssz/msgpool/msgmap/msgtql defaults, and returns the highest used index")
{
    IPCV_SET_LIMIT("msgmax", 4000);
    IPCV_SET_LIMIT("msgmnb", 9000);
    IPCV_SET_LIMIT("msgmni", 77);
    int id = SAFE_MSGGET(IPC_PRIVATE, IPC_CREAT | 0600);
    struct msginfo mi;
    int rc = info(IPC_INFO, &mi);
    ipcv_expect_true(rc >= 0, "IPC_INFO: %s", ipcv_errname(errno));
    ipcv_expect_eq(4000, mi.msgmax);
    ipcv_expect_eq(9000, mi.msgmnb);
    ipcv_expect_eq(77, mi.msgmni);
    ipcv_expect_eq(K_MSGSSZ, mi.msgssz);
    ipcv_expect_eq(K_MSGPOOL, mi.msgpool);
    ipcv_expect_eq(K_MSGMAP, mi.msgmap);
    ipcv_expect_eq(K_MSGTQL, mi.msgtql);
    ipcv_expect_eq(id % 32768, rc);   /* the only queue: its index */
    rc = info(MSG_INFO, &mi);
    ipcv_expect_true(rc >= 0, "MSG_INFO: %s", ipcv_errname(errno));
    ipcv_expect_eq(4000, mi.msgmax);
    ipcv_expect_eq(9000, mi.msgmnb);
    ipcv_expect_eq(77, mi.msgmni);
    SAFE_MSGCTL(id, IPC_RMID, NULL);
}

static int proc_msg_lines(int ids[], int max)
{
    FILE *f = SAFE_PTR(fopen("/proc/sysvipc/msg", "re"));
    char line[512];
    int n = 0;
    if (fgets(line, sizeof line, f))   /* header */
        while (fgets(line, sizeof line, f)) {
            int key, id;
            if (sscanf(line, "%d %d", &key, &id) == 2 && n < max)
                ids[n++] = id;
        }
    fclose(f);
    return n;
}

/* msgctl(2) MSG_INFO: msgpool is the number of queues, msgmap the number
 * of messages, msgtql the bytes in all queues; /proc/sysvipc/msg lists the
 * same queues. */
IPCV_CASE(sysv_msg, msgctl_msg_info_counts_queues_messages_and_bytes,
          .tags = "api", .covers = "B010 B519", .spec = "msgctl(2) MSG_INFO",
          .desc = "creating a queue and sending a 100-byte message raise MSG_INFO msgpool, msgmap and msgtql by 1, 1 and 100; msgpool equals the lines of /proc/sysvipc/msg")
{
    struct msginfo before, after;
    SAFE(info(MSG_INFO, &before));
    int id = SAFE_MSGGET(IPC_PRIVATE, IPC_CREAT | 0600);
    char text[100] = { 0 };
    put(id, 1, text, sizeof text);
    SAFE(info(MSG_INFO, &after));
    ipcv_expect_eq(before.msgpool + 1, after.msgpool);
    ipcv_expect_eq(before.msgmap + 1, after.msgmap);
    ipcv_expect_eq(before.msgtql + 100, after.msgtql);
    int ids[64];
    ipcv_expect_eq(after.msgpool, proc_msg_lines(ids, 64));
    SAFE_MSGCTL(id, IPC_RMID, NULL);
    SAFE(info(MSG_INFO, &after));
    ipcv_expect_eq(before.msgpool, after.msgpool);
    ipcv_expect_eq(before.msgmap, after.msgmap);
    ipcv_expect_eq(before.msgtql, after.msgtql);
}

/* msgctl(2) MSG_STAT/MSG_STAT_ANY: "msqid argument is not a queue
 * identifier, but instead an index into the kernel's internal array ...
 * returns the identifier of the queue whose index was given". Unused
 * indices fail with EINVAL. */
IPCV_CASE(sysv_msg, msgctl_msg_stat_scan_finds_every_queue_by_index,
          .tags = "api", .covers = "B010 B523 B524", .spec = "msgctl(2) MSG_STAT, MSG_STAT_ANY",
          .desc = "scanning indices 0..255 with MSG_STAT and MSG_STAT_ANY finds exactly the live queues (not a removed one), with their key, mode and qnum, the same ids /proc/sysvipc/msg lists, and EINVAL elsewhere")
{
    int id[3];
    key_t key[3];
    for (int i = 0; i < 3; i++) {
        key[i] = ipcv_key(i + 1);
        id[i] = SAFE_MSGGET(key[i], IPC_CREAT | (0600 + i * 040));
    }
    put(id[2], 1, "a", 1);
    put(id[2], 1, "b", 1);
    SAFE_MSGCTL(id[1], IPC_RMID, NULL);

    struct msginfo mi;
    int maxidx = info(MSG_INFO, &mi);
    ipcv_expect_eq(id[2] % 32768, maxidx);
    int cmds[] = { MSG_STAT, MSG_STAT_ANY };
    for (int c = 0; c < 2; c++) {
        int found[3] = { 0 }, strays = 0;
        for (int idx = 0; idx < 256; idx++) {
            struct msqid_ds ds;
            errno = 0;
            int rc = msgctl(idx, cmds[c], &ds);
            if (rc == -1) {
                ipcv_expect_true(errno == EINVAL, "%s index %d: expected EINVAL, seen %s",
                                 c ? "MSG_STAT_ANY" : "MSG_STAT", idx, ipcv_errname(errno));
                continue;
            }
            int k = rc == id[0] ? 0 : rc == id[2] ? 2 : -1;
            if (k < 0) {
                strays++;
                continue;
            }
            found[k]++;
            ipcv_expect_eq(key[k], ds.msg_perm.__key);
            ipcv_expect_eq(0600 + k * 040, ds.msg_perm.mode & 0777);
            ipcv_expect_eq(k == 2 ? 2 : 0, ds.msg_qnum);
        }
        ipcv_expect_eq(1, found[0]);
        ipcv_expect_eq(1, found[2]);
        ipcv_expect_eq(0, strays);
    }
    int listed[64];
    int n = proc_msg_lines(listed, 64);
    ipcv_expect_eq(2, n);
    for (int i = 0; i < n; i++)
        ipcv_expect_true(listed[i] == id[0] || listed[i] == id[2],
                         "/proc/sysvipc/msg lists %d, not a live queue", listed[i]);
    SAFE_MSGCTL(id[0], IPC_RMID, NULL);
    SAFE_MSGCTL(id[2], IPC_RMID, NULL);
}

static const char next_id_path[] = "/proc/sys/kernel/msg_next_id";

static long read_next_id(void)
{
    FILE *f = fopen(next_id_path, "re");
    long v = -2;
    if (!f)
        ipcv_skip("%s: %s (kernel without CONFIG_CHECKPOINT_RESTORE)", next_id_path, ipcv_errname(errno));
    if (fscanf(f, "%ld", &v) != 1)
        v = -2;
    fclose(f);
    return v;
}

static void write_next_id(long v)
{
    int fd = open(next_id_path, O_WRONLY | O_CLOEXEC);
    if (fd < 0 && (errno == EACCES || errno == EPERM || errno == EROFS))
        ipcv_skip("cannot write %s: %s", next_id_path, ipcv_errname(errno));
    SAFE(fd);
    char text[32];
    int len = snprintf(text, sizeof text, "%ld\n", v);
    if (write(fd, text, (size_t)len) != len) {
        int e = errno;
        close(fd);
        if (e == EPERM || e == EACCES)
            ipcv_skip("cannot write %s: %s (needs CAP_CHECKPOINT_RESTORE)", next_id_path, ipcv_errname(e));
        ipcv_brk(__FILE__, __LINE__, "writing %ld to %s: %s", v, next_id_path, ipcv_errname(e));
    }
    close(fd);
}

/* Documentation/admin-guide/sysctl/kernel.rst msg_next_id: the next queue
 * gets the id written there, which "will be set back to -1 by kernel after
 * successful IPC object allocation". */
IPCV_CASE(sysv_msg, msg_next_id_gives_the_next_queue_that_id,
          .tags = "api", .covers = "B017 B526", .spec = "kernel.rst msg_next_id",
          .desc = "after writing 12345 to msg_next_id, msgget(IPC_PRIVATE) returns id 12345 and msg_next_id reads -1 again; the next queue gets an ordinary id")
{
    ipcv_expect_eq(-1, read_next_id());
    write_next_id(12345);
    ipcv_expect_eq(12345, read_next_id());
    int id = SAFE_MSGGET(IPC_PRIVATE, IPC_CREAT | 0600);
    ipcv_expect_eq(12345, id);
    ipcv_expect_eq(-1, read_next_id());
    int other = SAFE_MSGGET(IPC_PRIVATE, IPC_CREAT | 0600);
    ipcv_expect_ne(12345, other);
    SAFE_MSGCTL(id, IPC_RMID, NULL);
    SAFE_MSGCTL(other, IPC_RMID, NULL);
}

/* kernel.rst msg_next_id: "kernel doesn't guarantee, that new object will
 * have desired id": an id in use yields another free one, the existing
 * queue is untouched, and msg_next_id is reset. */
IPCV_CASE(sysv_msg, msg_next_id_already_in_use_gives_another_id,
          .tags = "api", .covers = "B018", .spec = "kernel.rst msg_next_id",
          .desc = "with msg_next_id naming a live queue, msgget creates a different queue, the live one keeps its message, and msg_next_id reads -1")
{
    read_next_id();
    int busy = SAFE_MSGGET(IPC_PRIVATE, IPC_CREAT | 0600);
    put(busy, 9, "mine", 4);
    write_next_id(busy);
    int id = SAFE_MSGGET(IPC_PRIVATE, IPC_CREAT | 0600);
    ipcv_expect_ne(busy, id);
    ipcv_expect_eq(-1, read_next_id());
    struct msgb m;
    ipcv_expect_eq(4, msgrcv(busy, &m, TEXT_MAX, 0, IPC_NOWAIT));
    ipcv_expect_eq(9, m.mtype);
    if (id != busy)
        SAFE_MSGCTL(id, IPC_RMID, NULL);
    SAFE_MSGCTL(busy, IPC_RMID, NULL);
}

static const struct { long type; size_t size; } saved[] = {
    { 1, 0 }, { 5, 10 }, { 2, 100 }, { 5, 1000 }, { 3, 37 }, { 1, 4096 },
};
#define NSAVED (sizeof saved / sizeof saved[0])

static void fill_text(char *p, size_t i, size_t len)
{
    for (size_t k = 0; k < len; k++)
        p[k] = (char)(i * 31 + k * 7);
}

/* The checkpoint/restore sequence of tools/testing/selftests/ipc/msgque.c:
 * dump a queue with MSG_COPY, remove it, recreate it at the same id via
 * msg_next_id, refill it, and drain it: same count, order, types, sizes
 * and bytes. */
IPCV_CASE(sysv_msg, queue_dumped_by_msg_copy_and_restored_at_its_id_drains_the_same,
          .tags = "api", .covers = "B525 B526 B527", .spec = "msgrcv(2) MSG_COPY; kernel.rst msg_next_id",
          .desc = "six messages dumped by MSG_COPY index match what was sent; the queue recreated at its old id through msg_next_id and refilled drains in the same order with the same types, sizes and bytes")
{
    read_next_id();
    key_t key = ipcv_key(1);
    int id = SAFE_MSGGET(key, IPC_CREAT | 0600);
    static struct msgb m, dump[NSAVED];
    static ssize_t dumped[NSAVED];
    for (size_t i = 0; i < NSAVED; i++) {
        m.mtype = saved[i].type;
        fill_text(m.mtext, i, saved[i].size);
        SAFE(msgsnd(id, &m, saved[i].size, IPC_NOWAIT));
    }
#ifdef MSG_COPY
    errno = 0;
    if (msgrcv(id, &m, TEXT_MAX, 0, MSG_COPY | IPC_NOWAIT) == -1 && errno == ENOSYS) {
        SAFE_MSGCTL(id, IPC_RMID, NULL);
        ipcv_skip("MSG_COPY: ENOSYS (kernel without CONFIG_CHECKPOINT_RESTORE)");
    }
    for (size_t i = 0; i < NSAVED; i++) {
        dumped[i] = msgrcv(id, &dump[i], TEXT_MAX, (long)i, MSG_COPY | IPC_NOWAIT);
        fill_text(m.mtext, i, saved[i].size);
        ipcv_expect_true(dumped[i] == (ssize_t)saved[i].size && dump[i].mtype == saved[i].type &&
                         !memcmp(dump[i].mtext, m.mtext, saved[i].size),
                         "dump of message %zu: expected type %ld size %zu, seen %zd type %ld",
                         i, saved[i].type, saved[i].size, dumped[i], dump[i].mtype);
    }
#else
    SAFE_MSGCTL(id, IPC_RMID, NULL);
    ipcv_skip("the C library does not define MSG_COPY");
#endif
    struct msqid_ds ds;
    SAFE_MSGCTL(id, IPC_STAT, &ds);
    ipcv_expect_eq(NSAVED, ds.msg_qnum);
    int old = id;
    SAFE_MSGCTL(id, IPC_RMID, NULL);

    write_next_id(old);
    id = SAFE_MSGGET(key, IPC_CREAT | IPC_EXCL | 0600);
    ipcv_expect_eq(old, id);
    for (size_t i = 0; i < NSAVED; i++)
        if (dumped[i] >= 0)
            SAFE(msgsnd(id, &dump[i], (size_t)dumped[i], IPC_NOWAIT));
    for (size_t i = 0; i < NSAVED; i++) {
        memset(&m, 0, sizeof m);
        ssize_t n = msgrcv(id, &m, TEXT_MAX, 0, IPC_NOWAIT);
        static char want[TEXT_MAX];
        fill_text(want, i, saved[i].size);
        ipcv_expect_true(n == (ssize_t)saved[i].size && m.mtype == saved[i].type &&
                         !memcmp(m.mtext, want, saved[i].size),
                         "restored message %zu: expected type %ld size %zu, seen %zd type %ld",
                         i, saved[i].type, saved[i].size, n, m.mtype);
    }
    SAFE_MSGCTL(id, IPC_RMID, NULL);
}
