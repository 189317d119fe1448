/* SysV shared memory and IPC namespaces: what unshare(CLONE_NEWIPC) and
 * setns(2) do to keys, ids and the kernel/shm* sysctls. Roles make their
 * own namespaces inside the case's; they die with the role. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ipcvet.h"

static size_t page_size(void)
{
    return (size_t)sysconf(_SC_PAGESIZE);
}

/* In a role: a new IPC namespace, or skip where that is not allowed. */
static void new_ipc_namespace(void)
{
    if (unshare(CLONE_NEWIPC) < 0) {
        if (errno == EPERM || errno == EINVAL || errno == ENOSPC)
            ipcv_skip("unshare(CLONE_NEWIPC): %s", ipcv_errname(errno));
        ipcv_brk(__FILE__, __LINE__, "unshare(CLONE_NEWIPC): %s", ipcv_errname(errno));
    }
}

/* Lines of /proc/sysvipc/shm: the segments of the reader's namespace. */
static int proc_shm_count(void)
{
    FILE *f = SAFE_PTR(fopen("/proc/sysvipc/shm", "re"));
    char line[512];
    int n = -1;            /* the header */
    while (fgets(line, sizeof line, f))
        n++;
    fclose(f);
    return n;
}

struct outer { int id; key_t key; };

static int look_up_same_namespace(struct ipcv_role *self, void *arg)
{
    (void)self;
    const struct outer *o = arg;
    int id = shmget(o->key, 0, 0);
    ipcv_expect_eq(o->id, id);
    if (id >= 0) {
        char *p = SAFE_SHMAT(id, NULL, SHM_RDONLY);
        ipcv_expect_mem("outer", p, 6);
        SAFE_SHMDT(p);
    }
    return 0;
}

static int look_up_new_namespace(struct ipcv_role *self, void *arg)
{
    (void)self;
    const struct outer *o = arg;
    new_ipc_namespace();
    errno = 0;
    int id = shmget(o->key, 0, 0);
    ipcv_expect_true(id == -1 && errno == ENOENT, "shmget(outer key) in a new namespace: expected ENOENT, seen %s",
                     id == -1 ? ipcv_errname(errno) : "an id");
    ipcv_expect_eq(0, proc_shm_count());
    return 0;
}

/* namespaces(7)/ipc_namespaces(7): "Each IPC namespace has its own set of
 * System V IPC identifiers"; a process that did not unshare shares its
 * parent's (LTP shmnstest). */
IPCV_CASE(sysv_shm, key_shared_without_new_namespace_hidden_with_one,
          .tags = "multi", .covers = "B120",
          .spec = "ipc_namespaces(7); unshare(2) CLONE_NEWIPC",
          .desc = "a role in the coordinator's IPC namespace finds the segment by key and reads it; a role after unshare(CLONE_NEWIPC) gets ENOENT and sees an empty /proc/sysvipc/shm")
{
    struct outer o = { -1, ipcv_key(1) };
    o.id = SAFE_SHMGET(o.key, page_size(), IPC_CREAT | IPC_EXCL | 0600);
    char *p = SAFE_SHMAT(o.id, NULL, 0);
    strcpy(p, "outer");
    SAFE_SHMDT(p);
    struct ipcv_role *same = ipcv_spawn("same-ns", look_up_same_namespace, &o);
    ipcv_join(same, IPCV_EXITED(0));
    struct ipcv_role *other = ipcv_spawn("new-ns", look_up_new_namespace, &o);
    ipcv_join(other, IPCV_EXITED(0));
    SAFE_SHMCTL(o.id, IPC_RMID, NULL);
}

static int recreate_key_in_new_namespace(struct ipcv_role *self, void *arg)
{
    (void)self;
    const struct outer *o = arg;
    new_ipc_namespace();
    int id = shmget(o->key, page_size(), IPC_CREAT | IPC_EXCL | 0600);
    ipcv_expect_true(id >= 0, "shmget(outer key, IPC_CREAT|IPC_EXCL) in a new namespace: %s",
                     ipcv_errname(errno));
    if (id < 0)
        return 0;
    char *p = SAFE_SHMAT(id, NULL, 0);
    ipcv_expect_eq(0, p[0]);             /* a new segment, not the outer one */
    strcpy(p, "inner");
    SAFE_SHMDT(p);
    ipcv_expect_eq(1, proc_shm_count());
    return 0;                            /* the namespace and segment die here */
}

/* ipc_namespaces(7): objects "are visible to all other processes that are
 * members of that IPC namespace, but are not visible to processes in other
 * IPC namespaces" - so the same key can name a second segment there, and
 * writing it leaves the first alone (LTP shmem_2nstest). */
IPCV_CASE(sysv_shm, key_reusable_in_another_namespace,
          .tags = "multi", .covers = "B121",
          .spec = "ipc_namespaces(7); shmget(2)",
          .desc = "a role in a new IPC namespace creates the coordinator's key with IPC_EXCL, finds it zeroed and writes it; the coordinator's segment keeps its data and no segment was added to its namespace")
{
    struct outer o = { -1, ipcv_key(1) };
    o.id = SAFE_SHMGET(o.key, page_size(), IPC_CREAT | IPC_EXCL | 0600);
    char *p = SAFE_SHMAT(o.id, NULL, 0);
    strcpy(p, "outer");
    SAFE_SHMDT(p);
    int before = proc_shm_count();
    struct ipcv_role *r = ipcv_spawn("new-ns", recreate_key_in_new_namespace, &o);
    ipcv_join(r, IPCV_EXITED(0));

    p = SAFE_SHMAT(o.id, NULL, SHM_RDONLY);
    ipcv_expect_mem("outer", p, 6);
    SAFE_SHMDT(p);
    ipcv_expect_eq(before, proc_shm_count());
    ipcv_expect_eq(o.id, shmget(o.key, 0, 0));
    SAFE_SHMCTL(o.id, IPC_RMID, NULL);
}

static int own_segment_in_own_namespace(struct ipcv_role *self, void *arg)
{
    key_t key = *(key_t *)arg;
    const char *me = ipcv_role_name(self);
    new_ipc_namespace();
    int id = shmget(key, page_size(), IPC_CREAT | IPC_EXCL | 0600);
    ipcv_expect_true(id >= 0, "shmget(shared key, IPC_CREAT|IPC_EXCL) in %s's namespace: %s", me,
                     ipcv_errname(errno));
    char *p = id >= 0 ? shmat(id, NULL, 0) : (void *)-1;
    if (p != (void *)-1)
        strcpy(p, me);
    ipcv_ready(self);
    ipcv_await_release(self);          /* the other role has written too */
    if (p != (void *)-1) {
        ipcv_expect_mem(me, p, strlen(me) + 1);
        struct shmid_ds ds;
        SAFE_SHMCTL(id, IPC_STAT, &ds);
        ipcv_expect_eq(1, ds.shm_nattch);
        shmdt(p);
    }
    if (id >= 0)
        shmctl(id, IPC_RMID, NULL);
    return 0;
}

/* ipc_namespaces(7): two processes in two new namespaces using one key get
 * two segments (LTP shm_comm). */
IPCV_CASE(sysv_shm, same_key_in_two_new_namespaces_do_not_interfere,
          .tags = "multi", .covers = "B122",
          .spec = "ipc_namespaces(7); clone(2)/unshare(2) CLONE_NEWIPC",
          .desc = "two roles, each in its own new IPC namespace, create the same key with IPC_EXCL and write their names; after both wrote, each reads its own name and nattch 1")
{
    key_t key = ipcv_key(1);
    int before = proc_shm_count();
    struct ipcv_role *a = ipcv_spawn("alpha", own_segment_in_own_namespace, &key);
    struct ipcv_role *b = ipcv_spawn("beta", own_segment_in_own_namespace, &key);
    ipcv_wait_ready(a);
    ipcv_wait_ready(b);
    ipcv_release(a);
    ipcv_release(b);
    ipcv_join(a, IPCV_EXITED(0));
    ipcv_join(b, IPCV_EXITED(0));
    ipcv_expect_eq(before, proc_shm_count());   /* nothing of theirs leaked out */
}

/* The kernel's defaults (include/uapi/linux/shm.h, msg.h, sem.h). */
static const struct { const char *file; const char *text; } defaults[] = {
    { "/proc/sys/kernel/shmmax", "18446744073692774399" },   /* ULONG_MAX - (1 << 24) */
    { "/proc/sys/kernel/shmall", "18446744073692774399" },
    { "/proc/sys/kernel/shmmni", "4096" },
    { "/proc/sys/kernel/msgmni", "32000" },
    { "/proc/sys/kernel/msgmax", "8192" },
    { "/proc/sys/kernel/msgmnb", "16384" },
    { "/proc/sys/kernel/sem", "32000 1024000000 500 32000" },
};

/* Read a sysctl as one line of numbers, tabs and spaces folded to one space. */
static int read_numbers(const char *file, char *out, size_t len)
{
    FILE *f = fopen(file, "re");
    if (!f)
        return -1;
    char raw[128];
    int ok = fgets(raw, sizeof raw, f) != NULL;
    fclose(f);
    if (!ok)
        return -1;
    size_t n = 0;
    for (const char *s = raw; *s && *s != '\n' && n + 1 < len; s++) {
        if (*s == ' ' || *s == '\t') {
            if (n && out[n - 1] != ' ')
                out[n++] = ' ';
        } else if (*s >= '0' && *s <= '9') {
            out[n++] = *s;
        } else {
            return -1;
        }
    }
    out[n] = '\0';
    return n ? 0 : -1;
}

static int read_defaults_in_new_namespace(struct ipcv_role *self, void *arg)
{
    (void)self;
    (void)arg;
    new_ipc_namespace();
    for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++) {
        char seen[128];
        if (read_numbers(defaults[i].file, seen, sizeof seen) < 0)
            ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "%s: missing or not numbers", defaults[i].file);
        else if (strcmp(seen, defaults[i].text))
            ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "%s in a new namespace: expected %s, seen %s",
                        defaults[i].file, defaults[i].text, seen);
    }
    return 0;
}

/* proc(5) /proc/sys/kernel/{shmmax,shmall,shmmni,msgmni,msgmax,msgmnb,sem}
 * exist and hold numbers; they belong to the IPC namespace, and a new one
 * starts from the kernel's defaults whatever its parent set (gVisor
 * proc_isolated, ipc_namespaces(7)). */
IPCV_CASE(sysv_shm, new_namespace_starts_with_default_sysctls,
          .tags = "multi limit", .covers = "B477",
          .spec = "proc(5) /proc/sys/kernel; ipc_namespaces(7)",
          .desc = "all seven SysV sysctls are readable numbers; after the coordinator lowers shmmni and msgmnb, a role's new IPC namespace reads every one at the kernel default, and the coordinator still reads its own values")
{
    for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++) {
        char seen[128];
        if (read_numbers(defaults[i].file, seen, sizeof seen) < 0)
            ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "%s: missing or not numbers", defaults[i].file);
    }
    IPCV_SET_LIMIT("shmmni", 100);
    IPCV_SET_LIMIT("msgmnb", 1000);
    struct ipcv_role *r = ipcv_spawn("new-ns", read_defaults_in_new_namespace, NULL);
    ipcv_join(r, IPCV_EXITED(0));
    ipcv_expect_eq(100, IPCV_GET_LIMIT("shmmni"));
    ipcv_expect_eq(1000, IPCV_GET_LIMIT("msgmnb"));
}

static int unshare_then_setns_back(struct ipcv_role *self, void *arg)
{
    (void)self;
    const struct outer *o = arg;
    int fd = SAFE(open("/proc/self/ns/ipc", O_RDONLY | O_CLOEXEC));
    struct stat first, inside, back;
    SAFE(fstat(fd, &first));
    new_ipc_namespace();
    SAFE(stat("/proc/self/ns/ipc", &inside));
    ipcv_expect_ne(first.st_ino, inside.st_ino);
    errno = 0;
    int id = shmget(o->key, 0, 0);
    ipcv_expect_true(id == -1 && errno == ENOENT, "outer key after unshare: expected ENOENT, seen %s",
                     id == -1 ? ipcv_errname(errno) : "an id");

    ipcv_expect_ok(setns(fd, CLONE_NEWIPC));
    SAFE(stat("/proc/self/ns/ipc", &back));
    ipcv_expect_eq(first.st_ino, back.st_ino);
    ipcv_expect_eq(o->id, shmget(o->key, 0, 0));
    close(fd);
    return 0;
}

/* setns(2)/namespaces(7): unshare(CLONE_NEWIPC) moves the caller to a new
 * namespace (a new /proc/self/ns/ipc inode); setns with a descriptor of the
 * old one moves it back, with the old objects (gVisor ChangeIPCNamespace). */
IPCV_CASE(sysv_shm, unshare_changes_namespace_and_setns_returns,
          .tags = "multi", .covers = "B734",
          .spec = "setns(2); unshare(2) CLONE_NEWIPC; namespaces(7)",
          .desc = "a role's /proc/self/ns/ipc inode changes on unshare(CLONE_NEWIPC) and the coordinator's key is gone; after setns back the inode and the key's id are the old ones")
{
    struct outer o = { -1, ipcv_key(1) };
    o.id = SAFE_SHMGET(o.key, page_size(), IPC_CREAT | IPC_EXCL | 0600);
    struct ipcv_role *r = ipcv_spawn("mover", unshare_then_setns_back, &o);
    ipcv_join(r, IPCV_EXITED(0));
    SAFE_SHMCTL(o.id, IPC_RMID, NULL);
}
