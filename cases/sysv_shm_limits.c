/* SysV shared memory limits and tunables: SHMMNI, SHMMAX, SHMMIN, SHMALL
 * lowered inside the case's IPC namespace, shm_next_id, shm_rmid_forced,
 * and SHM_HUGETLB. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ipcvet.h"

static size_t page_size(void)
{
    return (size_t)sysconf(_SC_PAGESIZE);
}

static void become_nobody(void)
{
    (void)setgroups(0, NULL);
    if (setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0)
        ipcv_skip("cannot switch to uid/gid 65534: %s", ipcv_errname(errno));
}

/* The per-namespace tunables that IPCV_SET_LIMIT does not know are written
 * here, and only when the case has an IPC namespace of its own: with
 * --isolate none they would be the host's. */
static void need_own_ipc_namespace(void)
{
    char parent[64];
    struct stat self_ns, parent_ns;
    snprintf(parent, sizeof parent, "/proc/%d/ns/ipc", (int)getppid());
    if (stat("/proc/self/ns/ipc", &self_ns) < 0 || stat(parent, &parent_ns) < 0)
        ipcv_skip("cannot compare IPC namespaces: %s", ipcv_errname(errno));
    if (self_ns.st_ino == parent_ns.st_ino)
        ipcv_skip("the case shares the runner's IPC namespace (isolation none)");
}

/* open(2)+write(2), not stdio: a sysctl write is one write call. */
static void write_sysctl(const char *path, long long value)
{
    int fd = SAFE(open(path, O_WRONLY | O_CLOEXEC));
    char text[32];
    int n = snprintf(text, sizeof text, "%lld\n", value);
    if (write(fd, text, (size_t)n) != n)
        ipcv_brk(__FILE__, __LINE__, "writing %lld to %s: %s", value, path, ipcv_errname(errno));
    close(fd);
}

static long long read_sysctl(const char *path)
{
    long long v = 0;
    FILE *f = SAFE_PTR(fopen(path, "re"));
    if (fscanf(f, "%lld", &v) != 1)
        ipcv_brk(__FILE__, __LINE__, "%s: no number", path);
    fclose(f);
    return v;
}

/* ---- SHMMNI, SHMMAX, SHMMIN, SHMALL ----------------------------------------- */

/* shmget(2) ERRORS: "ENOSPC All possible shared memory IDs have been taken
 * (SHMMNI)"; proc(5) shmmni "the system-wide limit on the number of shared
 * memory segments". */
IPCV_CASE(sysv_shm, shmmni_limit_gives_enospc,
          .tags = "limit", .covers = "B108",
          .spec = "shmget(2) ERRORS ENOSPC; proc(5) shmmni",
          .desc = "with shmmni lowered to 3 in the sandbox, three segments are created, the fourth fails ENOSPC, and one removal makes room again")
{
    IPCV_SET_LIMIT("shmmni", 3);
    int ids[3];
    for (int i = 0; i < 3; i++)
        ids[i] = SAFE_SHMGET(IPC_PRIVATE, page_size(), IPC_CREAT | 0600);
    errno = 0;
    int extra = shmget(IPC_PRIVATE, page_size(), IPC_CREAT | 0600);
    ipcv_expect_true(extra == -1 && errno == ENOSPC, "fourth segment with shmmni 3: expected ENOSPC, seen %s",
                     extra == -1 ? ipcv_errname(errno) : "an id");
    if (extra >= 0)
        shmctl(extra, IPC_RMID, NULL);
    SAFE_SHMCTL(ids[0], IPC_RMID, NULL);
    ids[0] = shmget(IPC_PRIVATE, page_size(), IPC_CREAT | 0600);
    ipcv_expect_true(ids[0] >= 0, "after a removal: %s", ipcv_errname(errno));
    for (int i = 0; i < 3; i++)
        if (ids[i] >= 0)
            SAFE_SHMCTL(ids[i], IPC_RMID, NULL);
}

/* shmget(2) ERRORS: "EINVAL A new segment was to be created and size is
 * less than SHMMIN or greater than SHMMAX"; proc(5) shmmax. */
IPCV_CASE(sysv_shm, shmmax_limit_gives_einval,
          .tags = "limit", .covers = "B104 B464",
          .spec = "shmget(2) ERRORS EINVAL; proc(5) shmmax",
          .desc = "with shmmax lowered to 8192 in the sandbox, an 8192-byte segment is created and an 8193-byte one fails EINVAL")
{
    IPCV_SET_LIMIT("shmmax", 8192);
    int id = shmget(IPC_PRIVATE, 8192, IPC_CREAT | 0600);
    ipcv_expect_true(id >= 0, "8192 bytes with shmmax 8192: %s", ipcv_errname(errno));
    errno = 0;
    int over = shmget(IPC_PRIVATE, 8193, IPC_CREAT | 0600);
    ipcv_expect_true(over == -1 && errno == EINVAL, "8193 bytes with shmmax 8192: expected EINVAL, seen %s",
                     over == -1 ? ipcv_errname(errno) : "an id");
    if (over >= 0)
        shmctl(over, IPC_RMID, NULL);
    if (id >= 0)
        SAFE_SHMCTL(id, IPC_RMID, NULL);
}

/* shmget(2) ERRORS EINVAL "size is less than SHMMIN"; SHMMIN is 1 on Linux
 * (not tunable), so size 0 is refused for every new segment. */
IPCV_CASE(sysv_shm, shmmin_is_one_byte,
          .tags = "limit", .covers = "B463 B471",
          .spec = "shmget(2) ERRORS EINVAL; shmctl(2) IPC_INFO shmmin",
          .desc = "a 1-byte segment is created with shm_segsz 1; size 0 fails EINVAL for IPC_PRIVATE and for a new key")
{
    struct shminfo si;
    SAFE(shmctl(0, IPC_INFO, (struct shmid_ds *)&si));
    ipcv_expect_eq(1, si.shmmin);
    int one = SAFE_SHMGET(IPC_PRIVATE, 1, IPC_CREAT | 0600);
    struct shmid_ds ds;
    SAFE_SHMCTL(one, IPC_STAT, &ds);
    ipcv_expect_eq(1, ds.shm_segsz);
    SAFE_SHMCTL(one, IPC_RMID, NULL);

    const key_t keys[] = { IPC_PRIVATE, ipcv_key(1) };
    for (int i = 0; i < 2; i++) {
        errno = 0;
        int id = shmget(keys[i], 0, IPC_CREAT | IPC_EXCL | 0600);
        if (id >= 0) {
            ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "size 0 (%s): expected EINVAL, seen id %d",
                        i ? "new key" : "IPC_PRIVATE", id);
            shmctl(id, IPC_RMID, NULL);
        } else {
            ipcv_expect_eq(EINVAL, errno);
        }
    }
}

/* shmget(2) ERRORS: "ENOSPC ... allocating a segment of the requested size
 * would cause the system to exceed the system-wide limit on shared memory
 * (SHMALL)"; proc(5) shmall counts pages, each segment rounded up. */
IPCV_CASE(sysv_shm, shmall_limit_gives_enospc,
          .tags = "limit",
          .spec = "shmget(2) ERRORS ENOSPC; proc(5) shmall",
          .desc = "with shmall lowered to 4 pages: 3 pages fit, 2 more fail ENOSPC, 1 more fits, then even 1 byte fails ENOSPC; removing the 3 pages makes room again")
{
    size_t pg = page_size();
    IPCV_SET_LIMIT("shmall", 4);
    int three = SAFE_SHMGET(IPC_PRIVATE, 3 * pg, IPC_CREAT | 0600);
    errno = 0;
    int two = shmget(IPC_PRIVATE, 2 * pg, IPC_CREAT | 0600);
    ipcv_expect_true(two == -1 && errno == ENOSPC, "3 + 2 pages with shmall 4: expected ENOSPC, seen %s",
                     two == -1 ? ipcv_errname(errno) : "an id");
    if (two >= 0)
        shmctl(two, IPC_RMID, NULL);
    int one = shmget(IPC_PRIVATE, pg, IPC_CREAT | 0600);
    ipcv_expect_true(one >= 0, "3 + 1 pages with shmall 4: %s", ipcv_errname(errno));
    errno = 0;
    int byte = shmget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
    ipcv_expect_true(byte == -1 && errno == ENOSPC, "4 pages + 1 byte with shmall 4: expected ENOSPC, seen %s",
                     byte == -1 ? ipcv_errname(errno) : "an id");
    if (byte >= 0)
        shmctl(byte, IPC_RMID, NULL);
    SAFE_SHMCTL(three, IPC_RMID, NULL);
    int again = shmget(IPC_PRIVATE, 3 * pg, IPC_CREAT | 0600);
    ipcv_expect_true(again >= 0, "3 pages after freeing 3: %s", ipcv_errname(errno));
    if (again >= 0)
        SAFE_SHMCTL(again, IPC_RMID, NULL);
    if (one >= 0)
        SAFE_SHMCTL(one, IPC_RMID, NULL);
}

/* ---- shm_next_id ------------------------------------------------------------ */

#define NEXT_ID "/proc/sys/kernel/shm_next_id"

/* Documentation/admin-guide/sysctl/kernel.rst shm_next_id: "allows to
 * specify desired id for next allocated IPC object ... Toggle with
 * non-default value will be set back to -1 by kernel after successful IPC
 * object allocation" (LTP shmget05). */
IPCV_CASE(sysv_shm, shm_next_id_gives_the_requested_id,
          .tags = "api", .covers = "B110",
          .spec = "kernel.rst shm_next_id; proc(5)",
          .desc = "after writing 4321 to shm_next_id in the sandbox, shmget returns id 4321 and shm_next_id reads -1 again")
{
    need_own_ipc_namespace();
    ipcv_expect_eq(-1, read_sysctl(NEXT_ID));
    write_sysctl(NEXT_ID, 4321);
    int id = SAFE_SHMGET(IPC_PRIVATE, page_size(), IPC_CREAT | 0600);
    ipcv_expect_eq(4321, id);
    ipcv_expect_eq(-1, read_sysctl(NEXT_ID));
    SAFE_SHMCTL(id, IPC_RMID, NULL);
}

/* kernel.rst shm_next_id: "kernel doesn't guarantee, that new object will
 * have desired id" - when it is taken, another free id is used and the
 * toggle is still reset (LTP shmget06). */
IPCV_CASE(sysv_shm, shm_next_id_taken_gives_another_id,
          .tags = "api", .covers = "B111",
          .spec = "kernel.rst shm_next_id",
          .desc = "with shm_next_id set to an existing segment's id, shmget still succeeds with a different id and shm_next_id reads -1 again")
{
    need_own_ipc_namespace();
    int taken = SAFE_SHMGET(IPC_PRIVATE, page_size(), IPC_CREAT | 0600);
    write_sysctl(NEXT_ID, taken);
    int id = shmget(IPC_PRIVATE, page_size(), IPC_CREAT | 0600);
    ipcv_expect_true(id >= 0, "shmget with shm_next_id taken: %s", ipcv_errname(errno));
    ipcv_expect_ne(taken, id);
    ipcv_expect_eq(-1, read_sysctl(NEXT_ID));
    if (id >= 0)
        SAFE_SHMCTL(id, IPC_RMID, NULL);
    SAFE_SHMCTL(taken, IPC_RMID, NULL);
}

/* ---- shm_rmid_forced --------------------------------------------------------- */

#define RMID_FORCED "/proc/sys/kernel/shm_rmid_forced"

static int attach_and_exit(struct ipcv_role *self, void *arg)
{
    (void)self;
    SAFE_SHMAT(*(int *)arg, NULL, 0);
    return 0;        /* _exit detaches */
}

static int create_and_exit(struct ipcv_role *self, void *arg)
{
    (void)self;
    SAFE_SHMGET(*(key_t *)arg, page_size(), IPC_CREAT | IPC_EXCL | 0600);
    return 0;
}

/* proc(5) shm_rmid_forced: "If this file is set to 1, all System V shared
 * memory segments will be marked for destruction as soon as the number of
 * attached processes falls to zero"; segments a process created and never
 * attached go when it exits. Unattached segments of a live creator stay. */
IPCV_CASE(sysv_shm, shm_rmid_forced_destroys_segments_left_unattached,
          .tags = "multi cleanup",
          .spec = "proc(5) /proc/sys/kernel/shm_rmid_forced",
          .desc = "with shm_rmid_forced 1 in the sandbox: a segment whose only attacher exits is destroyed, one a role created and left unattached goes when that role exits, and the coordinator's own unattached one stays")
{
    need_own_ipc_namespace();
    write_sysctl(RMID_FORCED, 1);
    int kept = SAFE_SHMGET(IPC_PRIVATE, page_size(), IPC_CREAT | 0600);
    int attached = SAFE_SHMGET(IPC_PRIVATE, page_size(), IPC_CREAT | 0600);
    key_t key = ipcv_key(1);

    struct ipcv_role *a = ipcv_spawn("attacher", attach_and_exit, &attached);
    ipcv_join(a, IPCV_EXITED(0));
    struct ipcv_role *c = ipcv_spawn("creator", create_and_exit, &key);
    ipcv_join(c, IPCV_EXITED(0));

    struct shmid_ds ds;
    ipcv_expect_ok(shmctl(kept, IPC_STAT, &ds));
    errno = 0;
    int rc = shmctl(attached, IPC_STAT, &ds);
    ipcv_expect_true(rc == -1 && errno == EINVAL, "segment left by its only attacher: expected EINVAL, seen %s",
                     rc == -1 ? ipcv_errname(errno) : "still there");
    if (rc == 0)
        shmctl(attached, IPC_RMID, NULL);
    errno = 0;
    int orphan = shmget(key, 0, 0);
    ipcv_expect_true(orphan == -1 && errno == ENOENT,
                     "segment created by an exited role: expected ENOENT, seen %s",
                     orphan == -1 ? ipcv_errname(errno) : "still there");
    if (orphan >= 0)
        shmctl(orphan, IPC_RMID, NULL);
    write_sysctl(RMID_FORCED, 0);
    SAFE_SHMCTL(kept, IPC_RMID, NULL);
}

/* ---- SHM_HUGETLB ----------------------------------------------------------- */

static size_t huge_page_size(void)
{
    FILE *f = fopen("/proc/meminfo", "re");
    char line[128];
    unsigned long kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "Hugepagesize: %lu kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb * 1024;
}

static int hugetlb_as_nobody(struct ipcv_role *self, void *arg)
{
    (void)self;
    size_t len = *(size_t *)arg;
    become_nobody();
    struct rlimit none = { 0, 0 };
    SAFE(setrlimit(RLIMIT_MEMLOCK, &none));
    errno = 0;
    int id = shmget(IPC_PRIVATE, len, IPC_CREAT | SHM_HUGETLB | 0600);
    ipcv_expect_true(id == -1 && errno == EPERM, "SHM_HUGETLB as nobody: expected EPERM, seen %s",
                     id == -1 ? ipcv_errname(errno) : "success");
    if (id >= 0)
        shmctl(id, IPC_RMID, NULL);
    return 0;
}

/* shmget(2) ERRORS: "EPERM The SHM_HUGETLB flag was specified, but the
 * caller was not privileged (did not have the CAP_IPC_LOCK capability) and
 * is not a member of the sysctl_hugetlb_shm_group group" (with no
 * RLIMIT_MEMLOCK to fall back on). */
IPCV_CASE(sysv_shm, shm_hugetlb_without_cap_ipc_lock_fails_eperm,
          .tags = "multi", .covers = "B106",
          .spec = "shmget(2) ERRORS EPERM; SHM_HUGETLB",
          .desc = "a uid-65534 role without CAP_IPC_LOCK, outside vm.hugetlb_shm_group and with RLIMIT_MEMLOCK 0 gets EPERM from shmget(SHM_HUGETLB)")
{
    size_t len = huge_page_size();
    if (!len)
        ipcv_skip("no huge page size in /proc/meminfo (no hugetlbfs)");
    FILE *f = fopen("/proc/sys/vm/hugetlb_shm_group", "re");
    long group = -1;
    if (f) {
        if (fscanf(f, "%ld", &group) != 1)
            group = -1;
        fclose(f);
    }
    if (group == 65534)
        ipcv_skip("vm.hugetlb_shm_group is 65534: nobody may use huge pages here");
    struct ipcv_role *r = ipcv_spawn("nobody", hugetlb_as_nobody, &len);
    ipcv_join(r, IPCV_EXITED(0));
}

/* shmget(2) ERRORS: "ENOMEM No memory could be allocated for segment
 * overhead" - with no huge pages in the pool, a SHM_HUGETLB segment cannot
 * be reserved even for a privileged caller (LTP shmget02). */
IPCV_CASE(sysv_shm, shm_hugetlb_without_huge_pages_fails_enomem,
          .tags = "api", .covers = "B107",
          .spec = "shmget(2) ERRORS ENOMEM; SHM_HUGETLB",
          .desc = "with vm.nr_hugepages and nr_overcommit_hugepages 0, shmget(SHM_HUGETLB) of one huge page fails ENOMEM for root")
{
    size_t len = huge_page_size();
    if (!len)
        ipcv_skip("no huge page size in /proc/meminfo (no hugetlbfs)");
    if (read_sysctl("/proc/sys/vm/nr_hugepages") > 0 ||
        read_sysctl("/proc/sys/vm/nr_overcommit_hugepages") > 0)
        ipcv_skip("huge pages are configured on this machine");
    if (!ipcv_has_cap(CAP_IPC_LOCK))
        ipcv_skip("no CAP_IPC_LOCK");
    errno = 0;
    int id = shmget(IPC_PRIVATE, len, IPC_CREAT | SHM_HUGETLB | 0600);
    ipcv_expect_true(id == -1 && errno == ENOMEM, "SHM_HUGETLB with no huge pages: expected ENOMEM, seen %s",
                     id == -1 ? ipcv_errname(errno) : "success");
    if (id >= 0)
        shmctl(id, IPC_RMID, NULL);
}
