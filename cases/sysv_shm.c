/* SysV shared memory: shmget, shmat, shmdt and ftok; data sharing across
 * attaches, fork and unrelated processes; segment lifetime across IPC_RMID
 * and process death. shmctl is in sysv_shm_ctl.c, limits in
 * sysv_shm_limits.c, IPC namespaces in sysv_shm_ns.c. */
#define _GNU_SOURCE
#include <grp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ipcvet.h"

static size_t page_size(void)
{
    return (size_t)sysconf(_SC_PAGESIZE);
}

static struct shmid_ds stat_of(int id)
{
    struct shmid_ds ds;
    SAFE_SHMCTL(id, IPC_STAT, &ds);
    return ds;
}

static unsigned long nattch_of(int id)
{
    return stat_of(id).shm_nattch;
}

/* A free SHMLBA-aligned range of len bytes: mapped and unmapped again, so
 * nothing of this process lives there. */
static char *free_range(size_t len)
{
    char *q = SAFE(mmap(NULL, len + SHMLBA, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    SAFE(munmap(q, len + SHMLBA));
    return (char *)(((uintptr_t)q + SHMLBA - 1) & ~(uintptr_t)(SHMLBA - 1));
}

/* Is the page at addr mapped in this process? mincore(2) says ENOMEM if not. */
static int is_mapped(const void *addr)
{
    unsigned char v;
    return mincore((void *)((uintptr_t)addr & ~(uintptr_t)(page_size() - 1)), 1, &v) == 0;
}

/* The /proc/self/maps line of the mapping that starts at addr ("" if none). */
static void maps_line(const void *addr, char *line, size_t len)
{
    FILE *f = SAFE_PTR(fopen("/proc/self/maps", "re"));
    char buf[512];
    line[0] = '\0';
    while (fgets(buf, sizeof buf, f)) {
        unsigned long lo, hi;
        if (sscanf(buf, "%lx-%lx", &lo, &hi) == 2 && lo == (unsigned long)addr) {
            snprintf(line, len, "%s", buf);
            break;
        }
    }
    fclose(f);
}

/* Roles that check permissions run as nobody; no capability is left. */
static void become_nobody(void)
{
    (void)setgroups(0, NULL);
    if (setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0)
        ipcv_skip("cannot switch to uid/gid 65534: %s", ipcv_errname(errno));
}

/* Is the segment gone? (for a bounded poll after a process died) */
static int segment_gone(void *arg)
{
    struct shmid_ds ds;
    return shmctl(*(int *)arg, IPC_STAT, &ds) == -1;
}

static int attach_then_wait(struct ipcv_role *self, void *arg)
{
    void *p = SAFE_SHMAT(*(int *)arg, NULL, 0);
    ipcv_ready(self);
    ipcv_await_release(self);
    SAFE_SHMDT(p);
    return 0;
}

/* Attach, fill the segment with 'H', say ready; killed or released later. */
static int attach_fill_then_wait(struct ipcv_role *self, void *arg)
{
    int id = *(int *)arg;
    char *p = SAFE_SHMAT(id, NULL, 0);
    memset(p, 'H', page_size());
    ipcv_ready(self);
    ipcv_await_release(self);
    SAFE_SHMDT(p);
    return 0;
}

/* ---- lifetime: IPC_RMID and process death --------------------------------- */

/* The holder keeps using its attach after IPC_RMID. */
static int attach_use_after_release(struct ipcv_role *self, void *arg)
{
    size_t pg = page_size();
    unsigned char *p = SAFE_SHMAT(*(int *)arg, NULL, 0);
    memset(p, 0x5a, pg);
    ipcv_ready(self);
    ipcv_await_release(self);
    size_t bad = 0;
    for (size_t i = 0; i < pg; i++)
        bad += p[i] != 0x5a;
    ipcv_expect_eq(0, bad);
    memset(p, 0xa5, pg);
    ipcv_expect_eq(0xa5, p[pg - 1]);
    SAFE_SHMDT(p);
    return 0;
}

/* shmctl(2) IPC_RMID: "the segment will actually be destroyed only after the
 * last process detaches it"; until then it is marked SHM_DEST and stays
 * usable by its attachers. */
IPCV_CASE(sysv_shm, rmid_while_attached_lives_until_last_detach,
          .tags = "multi cleanup", .covers = "B456 B112",
          .spec = "shmctl(2) IPC_RMID",
          .desc = "IPC_RMID on an attached segment marks it SHM_DEST; its attacher still reads and writes it; the id is gone after the last detach")
{
    int id = SAFE_SHMGET(IPC_PRIVATE, page_size(), IPC_CREAT | 0600);
    struct ipcv_role *holder = ipcv_spawn("holder", attach_use_after_release, &id);
    ipcv_wait_ready(holder);

    struct shmid_ds ds = stat_of(id);
    ipcv_expect_eq(1, ds.shm_nattch);
    int keep = id;
    SAFE_SHMCTL(id, IPC_RMID, NULL);
    ds = stat_of(keep);
    ipcv_expect_bits(SHM_DEST, ds.shm_perm.mode);
    ipcv_expect_eq(1, ds.shm_nattch);

    ipcv_release(holder);
    ipcv_join(holder, IPCV_EXITED(0));
    ipcv_expect_fail(EINVAL, shmctl(keep, IPC_STAT, &ds));
}

/* shmctl(2) IPC_RMID: a segment marked for destruction keeps its id but
 * loses its key (it becomes IPC_PRIVATE): shmget(2) no longer finds it, and
 * IPC_CREAT on the key makes a distinct segment. */
IPCV_CASE(sysv_shm, rmid_while_attached_hides_the_key,
          .tags = "multi cleanup", .covers = "B459",
          .spec = "shmctl(2) IPC_RMID; shmget(2) ENOENT",
          .desc = "after IPC_RMID with an attacher left, shmget on the key fails ENOENT, IPC_STAT shows key IPC_PRIVATE, and IPC_CREAT on the key creates a new id")
{
    key_t key = ipcv_key(1);
    int id = SAFE_SHMGET(key, page_size(), IPC_CREAT | IPC_EXCL | 0600);
    struct ipcv_role *holder = ipcv_spawn("holder", attach_then_wait, &id);
    ipcv_wait_ready(holder);

    int keep = id;
    SAFE_SHMCTL(id, IPC_RMID, NULL);
    int found = shmget(key, page_size(), 0600);
    ipcv_expect_true(found == -1 && errno == ENOENT,
                     "shmget(key) after IPC_RMID: expected ENOENT, seen %s",
                     found == -1 ? ipcv_errname(errno) : "an id");
    ipcv_expect_eq(IPC_PRIVATE, stat_of(keep).shm_perm.__key);

    int fresh = shmget(key, page_size(), IPC_CREAT | IPC_EXCL | 0600);
    ipcv_expect_true(fresh >= 0, "shmget(key, IPC_CREAT|IPC_EXCL) after IPC_RMID: %s",
                     ipcv_errname(errno));
    ipcv_expect_ne(keep, fresh);
    if (found >= 0 && found != keep)
        shmctl(found, IPC_RMID, NULL);
    if (fresh >= 0)
        shmctl(fresh, IPC_RMID, NULL);

    ipcv_release(holder);
    ipcv_join(holder, IPCV_EXITED(0));
}

/* Linux shmctl(2) NOTES: "Linux permits a process to attach (shmat(2)) a
 * shared memory segment that has already been marked for deletion". */
IPCV_CASE(sysv_shm, attach_by_id_after_rmid_while_attached,
          .tags = "multi cleanup", .covers = "B458",
          .spec = "shmctl(2) NOTES (Linux-specific)",
          .desc = "while an attacher is left after IPC_RMID, shmat by id still succeeds and shows the holder's data; nattch counts it")
{
    int id = SAFE_SHMGET(IPC_PRIVATE, page_size(), IPC_CREAT | 0600);
    struct ipcv_role *holder = ipcv_spawn("holder", attach_fill_then_wait, &id);
    ipcv_wait_ready(holder);

    int keep = id;
    SAFE_SHMCTL(id, IPC_RMID, NULL);
    char *p = shmat(keep, NULL, 0);
    ipcv_expect_true(p != (void *)-1, "shmat(removed id, nattch 1): %s", ipcv_errname(errno));
    if (p != (void *)-1) {
        ipcv_expect_eq('H', p[0]);
        ipcv_expect_eq(2, nattch_of(keep));
        SAFE_SHMDT(p);
    }
    ipcv_release(holder);
    ipcv_join(holder, IPCV_EXITED(0));
    struct shmid_ds ds;
    ipcv_expect_fail(EINVAL, shmctl(keep, IPC_STAT, &ds));
}

static int write_on_release(struct ipcv_role *self, void *arg)
{
    char *p = SAFE_SHMAT(*(int *)arg, NULL, 0);
    ipcv_ready(self);
    ipcv_await_release(self);
    memcpy(p, "after six IPC_RMID", 19);
    ipcv_checkpoint_signal(0);
    ipcv_await_release(self);
    SAFE_SHMDT(p);
    return 0;
}

static int read_on_checkpoint(struct ipcv_role *self, void *arg)
{
    char *p = SAFE_SHMAT(*(int *)arg, NULL, 0);
    ipcv_ready(self);
    ipcv_checkpoint_wait(0, 1);
    ipcv_expect_mem("after six IPC_RMID", p, 19);
    SAFE_SHMDT(p);
    return 0;
}

/* shmctl(2) IPC_RMID: destruction waits for the last detach however often
 * IPC_RMID is repeated (each call succeeds on the marked segment). */
IPCV_CASE(sysv_shm, repeated_rmid_keeps_attached_segment,
          .tags = "multi cleanup", .covers = "B460",
          .spec = "shmctl(2) IPC_RMID",
          .desc = "IPC_RMID repeated six times with two attachers succeeds each time, frees nothing early, and the two still share writes")
{
    int id = SAFE_SHMGET(IPC_PRIVATE, page_size(), IPC_CREAT | 0600);
    struct ipcv_role *writer = ipcv_spawn("writer", write_on_release, &id);
    struct ipcv_role *reader = ipcv_spawn("reader", read_on_checkpoint, &id);
    ipcv_wait_ready(writer);
    ipcv_wait_ready(reader);

    for (int i = 0; i < 6; i++)
        ipcv_expect_ok(shmctl(id, IPC_RMID, NULL));
    struct shmid_ds ds = stat_of(id);
    ipcv_expect_eq(2, ds.shm_nattch);
    ipcv_expect_bits(SHM_DEST, ds.shm_perm.mode);

    ipcv_release(writer);
    ipcv_join(reader, IPCV_EXITED(0));
    ipcv_expect_eq(1, nattch_of(id));
    ipcv_release(writer);
    ipcv_join(writer, IPCV_EXITED(0));
    ipcv_expect_fail(EINVAL, shmctl(id, IPC_STAT, &ds));
}

/* shmctl(2) IPC_RMID + _exit(2)/shmop(2): "upon _exit(2) all attached shared
 * memory segments are detached", so a marked segment whose last attacher is
 * killed is destroyed with it. */
IPCV_CASE(sysv_shm, last_attacher_killed_after_rmid_destroys_segment,
          .tags = "multi crash cleanup", .covers = "B457",
          .spec = "shmctl(2) IPC_RMID; shmop(2) exit",
          .desc = "IPC_RMID while one role is attached, then SIGKILL of that role: the segment (SHM_DEST before) is destroyed and /proc/sysvipc/shm no longer lists it")
{
    int id = SAFE_SHMGET(IPC_PRIVATE, 4 * page_size(), IPC_CREAT | 0600);
    struct ipcv_role *holder = ipcv_spawn("holder", attach_fill_then_wait, &id);
    ipcv_wait_ready(holder);

    int keep = id;
    SAFE_SHMCTL(id, IPC_RMID, NULL);
    ipcv_expect_bits(SHM_DEST, stat_of(keep).shm_perm.mode);

    SAFE(kill(ipcv_role_pid(holder), SIGKILL));
    ipcv_join(holder, IPCV_KILLED(SIGKILL));
    ipcv_expect_true(ipcv_poll_until(segment_gone, &keep, ipcv_wait_bound()),
                     "segment %d still there after its last attacher was killed", keep);
    struct shmid_ds ds;
    ipcv_expect_fail(EINVAL, shmctl(keep, IPC_STAT, &ds));

    FILE *f = SAFE_PTR(fopen("/proc/sysvipc/shm", "re"));
    char line[512];
    int listed = 0;
    while (fgets(line, sizeof line, f)) {
        int k, sid;
        if (sscanf(line, "%d %d", &k, &sid) == 2 && sid == keep)
            listed = 1;
    }
    fclose(f);
    ipcv_expect_eq(0, listed);
}

/* shmop(2): a process that dies detaches its segments, nothing more: a
 * segment never marked with IPC_RMID outlives its last attacher, data and
 * all (kernel.shm_rmid_forced is 0 by default). */
IPCV_CASE(sysv_shm, killed_attacher_without_rmid_leaves_segment,
          .tags = "multi crash cleanup",
          .spec = "shmop(2) exit; proc(5) shm_rmid_forced",
          .desc = "SIGKILL of the only attacher of an unremoved segment leaves it with nattch 0, no SHM_DEST, and the data it wrote")
{
    int id = SAFE_SHMGET(IPC_PRIVATE, page_size(), IPC_CREAT | 0600);
    struct ipcv_role *holder = ipcv_spawn("holder", attach_fill_then_wait, &id);
    ipcv_wait_ready(holder);
    SAFE(kill(ipcv_role_pid(holder), SIGKILL));
    ipcv_join(holder, IPCV_KILLED(SIGKILL));

    struct shmid_ds ds = stat_of(id);
    ipcv_expect_eq(0, ds.shm_nattch);
    ipcv_expect_nobits(SHM_DEST, ds.shm_perm.mode);
    char *p = SAFE_SHMAT(id, NULL, SHM_RDONLY);
    ipcv_expect_eq('H', p[0]);
    ipcv_expect_eq('H', p[page_size() - 1]);
    SAFE_SHMDT(p);
    SAFE_SHMCTL(id, IPC_RMID, NULL);
}

/* ---- shmat ---------------------------------------------------------------- */

/* shmop(2): "If shmaddr is NULL, the system chooses a suitable (unused)
 * page-aligned address to attach the segment." */
IPCV_CASE(sysv_shm, shmat_null_address_is_chosen_by_kernel,
          .tags = "api", .covers = "B079",
          .spec = "shmop(2) shmat",
          .desc = "shmat(id, NULL, 0) returns an SHMLBA-aligned address where /proc/self/maps shows the segment (SYSV<key>, shared)")
{
    key_t key = ipcv_key(1);
    int id = SAFE_SHMGET(key, 2 * page_size(), IPC_CREAT | IPC_EXCL | 0600);
    char *p = SAFE_SHMAT(id, NULL, 0);
    ipcv_expect_true(p != NULL, "shmat returned NULL");
    ipcv_expect_eq(0, (uintptr_t)p % SHMLBA);

    char line[512], name[32];
    maps_line(p, line, sizeof line);
    snprintf(name, sizeof name, "/SYSV%08x", (unsigned)key);
    ipcv_expect_true(strstr(line, name) != NULL, "maps line at %p: expected %s, seen '%s'",
                     (void *)p, name, line);
    ipcv_expect_true(strstr(line, "rw-s") != NULL, "maps line at %p: expected rw-s, seen '%s'",
                     (void *)p, line);
    SAFE_SHMDT(p);
    SAFE_SHMCTL(id, IPC_RMID, NULL);
}

/* shmop(2): "If shmaddr isn't NULL and SHM_RND is not specified in shmflg,
 * the attach occurs at the address equal to shmaddr" (page aligned). */
IPCV_CASE(sysv_shm, shmat_aligned_address_is_honoured,
          .tags = "api", .covers = "B080",
          .spec = "shmop(2) shmat",
          .desc = "shmat at a free SHMLBA-aligned address attaches exactly there")
{
    int id = SAFE_SHMGET(IPC_PRIVATE, 2 * page_size(), IPC_CREAT | 0600);
    char *want = free_range(2 * page_size());
    char *p = shmat(id, want, 0);
    ipcv_expect_true(p == want, "shmat(id, %p, 0) returned %p", (void *)want, (void *)p);
    if (p != (void *)-1)
        SAFE_SHMDT(p);
    SAFE_SHMCTL(id, IPC_RMID, NULL);
}

/* shmop(2): "If shmaddr isn't NULL and SHM_RND is specified in shmflg, the
 * attach occurs at the address equal to shmaddr rounded down to the
 * nearest multiple of SHMLBA." */
IPCV_CASE(sysv_shm, shmat_shm_rnd_rounds_down_to_shmlba,
          .tags = "api", .covers = "B081",
          .spec = "shmop(2) shmat SHM_RND",
          .desc = "shmat(id, aligned+123, SHM_RND) attaches at the aligned address")
{
    int id = SAFE_SHMGET(IPC_PRIVATE, page_size(), IPC_CREAT | 0600);
    char *want = free_range(2 * page_size());
    char *p = shmat(id, want + 123, SHM_RND);
    ipcv_expect_true(p == want, "shmat(id, %p, SHM_RND) returned %p, expected %p",
                     (void *)(want + 123), (void *)p, (void *)want);
    if (p != (void *)-1)
        SAFE_SHMDT(p);
    SAFE_SHMCTL(id, IPC_RMID, NULL);
}

/* shmop(2) ERRORS EINVAL: "Invalid shmid value, unaligned (i.e., not
 * page-aligned and SHM_RND was not specified) or invalid shmaddr value ...
 * or SHM_REMAP was specified and shmaddr was NULL"; since Linux 4.15 (commit
 * 8f89c007b6de) SHM_RND|SHM_REMAP rounding down to NULL is refused too. */
IPCV_CASE(sysv_shm, shmat_rejects_bad_id_and_address,
          .tags = "api", .covers = "B083 B084 B086",
          .spec = "shmop(2) ERRORS EINVAL",
          .desc = "shmat fails EINVAL for id -1, a removed id, an id with a stale sequence number, an unaligned address without SHM_RND, SHM_RND|SHM_REMAP rounding to NULL, and SHM_REMAP with NULL")
{
    size_t pg = page_size();
    int id = SAFE_SHMGET(IPC_PRIVATE, pg, IPC_CREAT | 0600);
    int gone = SAFE_SHMGET(IPC_PRIVATE, pg, IPC_CREAT | 0600);
    int removed = gone;
    SAFE_SHMCTL(gone, IPC_RMID, NULL);
    char *free_addr = free_range(pg);
    static const char *const what[] = {
        "id -1", "removed id", "stale sequence number", "unaligned address without SHM_RND",
        "SHM_RND|SHM_REMAP rounding to NULL", "SHM_REMAP with NULL",
    };
    const struct { int id; const void *addr; int flg; } tcases[] = {
        { -1, NULL, 0 },
        { removed, NULL, 0 },
        { id + 32768, NULL, 0 },
        { id, free_addr + 1, 0 },
        { id, (void *)(uintptr_t)(SHMLBA - 1), SHM_RND | SHM_REMAP },
        { id, NULL, SHM_REMAP },
    };
    for (size_t i = 0; i < sizeof tcases / sizeof tcases[0]; i++) {
        errno = 0;
        void *p = shmat(tcases[i].id, tcases[i].addr, tcases[i].flg);
        if (p != (void *)-1) {
            ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "shmat, %s: expected EINVAL, attached at %p",
                        what[i], p);
            shmdt(p);
        } else if (errno != EINVAL) {
            ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "shmat, %s: expected EINVAL, seen %s",
                        what[i], ipcv_errname(errno));
        }
    }
    SAFE_SHMCTL(id, IPC_RMID, NULL);
}

static int attach_as_nobody(struct ipcv_role *self, void *arg)
{
    (void)self;
    const int *ids = arg;   /* [0]: mode 0600, [1]: mode 0604 */
    become_nobody();
    static const char *const what[] = {
        "0600 read-write", "0600 SHM_RDONLY", "0604 read-write", "0604 SHM_RDONLY",
    };
    const struct { int id; int flg; int err; } tcases[] = {
        { ids[0], 0, EACCES },
        { ids[0], SHM_RDONLY, EACCES },
        { ids[1], 0, EACCES },
        { ids[1], SHM_RDONLY, 0 },
    };
    for (size_t i = 0; i < sizeof tcases / sizeof tcases[0]; i++) {
        errno = 0;
        void *p = shmat(tcases[i].id, NULL, tcases[i].flg);
        int err = p == (void *)-1 ? errno : 0;
        if (err != tcases[i].err)
            ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "shmat as nobody, %s: expected %s, seen %s",
                        what[i], ipcv_errname(tcases[i].err), ipcv_errname(err));
        if (p != (void *)-1)
            shmdt(p);
    }
    return 0;
}

/* shmop(2) ERRORS EACCES: "The calling process does not have the required
 * permissions for the requested attach type, and does not have the
 * CAP_IPC_OWNER capability": read for SHM_RDONLY, read and write otherwise. */
IPCV_CASE(sysv_shm, shmat_without_permission_fails_eacces,
          .tags = "multi", .covers = "B085",
          .spec = "shmop(2) ERRORS EACCES",
          .desc = "a uid-65534 role gets EACCES attaching a root 0600 segment either way, and a 0604 one read-write; SHM_RDONLY on 0604 works")
{
    int ids[2];
    ids[0] = SAFE_SHMGET(IPC_PRIVATE, page_size(), IPC_CREAT | 0600);
    ids[1] = SAFE_SHMGET(IPC_PRIVATE, page_size(), IPC_CREAT | 0604);
    struct ipcv_role *r = ipcv_spawn("nobody", attach_as_nobody, ids);
    ipcv_join(r, IPCV_EXITED(0));
    SAFE_SHMCTL(ids[0], IPC_RMID, NULL);
    SAFE_SHMCTL(ids[1], IPC_RMID, NULL);
}

/* shmop(2) ERRORS EINVAL: "invalid shmaddr value" covers an address range
 * that overlaps an existing mapping unless SHM_REMAP is given. */
IPCV_CASE(sysv_shm, overlapping_attach_fails_einval,
          .tags = "api", .covers = "B115",
          .spec = "shmop(2) ERRORS EINVAL; SHM_REMAP",
          .desc = "attaching a second segment at, or one page into, the address of an existing attach fails EINVAL without SHM_REMAP")
{
    size_t pg = page_size();
    int a = SAFE_SHMGET(IPC_PRIVATE, 2 * pg, IPC_CREAT | 0600);
    int b = SAFE_SHMGET(IPC_PRIVATE, pg, IPC_CREAT | 0600);
    char *pa = SAFE_SHMAT(a, NULL, 0);
    char *const at[] = { pa, pa + pg };
    for (size_t i = 0; i < 2; i++) {
        errno = 0;
        void *p = shmat(b, at[i], 0);
        if (p != (void *)-1) {
            ipcv_record(IPCV_FAIL, __FILE__, __LINE__,
                        "shmat over an attach at +%zu pages: expected EINVAL, attached at %p", i, p);
            shmdt(p);
        } else {
            ipcv_expect_eq(EINVAL, errno);
        }
    }
    ipcv_expect_eq(0, nattch_of(b));
    SAFE_SHMDT(pa);
    SAFE_SHMCTL(a, IPC_RMID, NULL);
    SAFE_SHMCTL(b, IPC_RMID, NULL);
}

/* shmop(2) SHM_REMAP: "take-over region on attach": the segment replaces
 * any existing mapping in the range (the old attach goes away). */
IPCV_CASE(sysv_shm, shm_remap_replaces_existing_attach,
          .tags = "api",
          .spec = "shmop(2) shmat SHM_REMAP (Linux-specific)",
          .desc = "shmat(b, address of a's attach, SHM_REMAP) returns that address, shows b's data, and a's nattch drops to 0")
{
    size_t pg = page_size();
    int a = SAFE_SHMGET(IPC_PRIVATE, pg, IPC_CREAT | 0600);
    int b = SAFE_SHMGET(IPC_PRIVATE, pg, IPC_CREAT | 0600);
    char *pb = SAFE_SHMAT(b, NULL, 0);
    pb[0] = 'B';
    SAFE_SHMDT(pb);
    char *pa = SAFE_SHMAT(a, NULL, 0);
    pa[0] = 'A';

    char *p = shmat(b, pa, SHM_REMAP);
    ipcv_expect_true(p == pa, "shmat(b, %p, SHM_REMAP) returned %p", (void *)pa, (void *)p);
    ipcv_expect_eq('B', pa[0]);
    ipcv_expect_eq(0, nattch_of(a));
    ipcv_expect_eq(1, nattch_of(b));
    if (p != (void *)-1)
        shmdt(p);
    if (p != pa)
        shmdt(pa);
    SAFE_SHMCTL(a, IPC_RMID, NULL);
    SAFE_SHMCTL(b, IPC_RMID, NULL);
}

static int write_readonly_attach(struct ipcv_role *self, void *arg)
{
    (void)self;
    volatile char *p = SAFE_SHMAT(*(int *)arg, NULL, SHM_RDONLY);
    ipcv_expect_eq('r', p[0]);      /* reading is allowed */
    p[0] = 'w';                     /* SIGSEGV here */
    return 0;
}

/* shmop(2) SHM_RDONLY: "Attach the segment for read-only access"; a write
 * through that attach is a memory access violation (SIGSEGV). */
IPCV_CASE(sysv_shm, shm_rdonly_write_kills_with_sigsegv,
          .tags = "multi crash", .covers = "B082 B461",
          .spec = "shmop(2) shmat SHM_RDONLY",
          .desc = "a role that writes through its SHM_RDONLY attach is killed by SIGSEGV and the segment keeps its data")
{
    int id = SAFE_SHMGET(IPC_PRIVATE, page_size(), IPC_CREAT | 0600);
    char *p = SAFE_SHMAT(id, NULL, 0);
    p[0] = 'r';
    SAFE_SHMDT(p);
    struct ipcv_role *r = ipcv_spawn("writer", write_readonly_attach, &id);
    ipcv_join(r, IPCV_KILLED(SIGSEGV));
    p = SAFE_SHMAT(id, NULL, SHM_RDONLY);
    ipcv_expect_eq('r', p[0]);
    SAFE_SHMDT(p);
    SAFE_SHMCTL(id, IPC_RMID, NULL);
}

/* mprotect(2) EACCES: "The memory cannot be given the specified access ...
 * if you mmap(2) a file to which you have read-only access, then ask
 * mprotect() to mark it PROT_WRITE"; a SHM_RDONLY attach is such a mapping. */
IPCV_CASE(sysv_shm, mprotect_write_on_rdonly_attach_fails_eacces,
          .tags = "api", .covers = "B472",
          .spec = "mprotect(2) EACCES; shmop(2) SHM_RDONLY",
          .desc = "mprotect(PROT_READ|PROT_WRITE) on a SHM_RDONLY attach fails EACCES; PROT_READ alone succeeds")
{
    int id = SAFE_SHMGET(IPC_PRIVATE, page_size(), IPC_CREAT | 0600);
    char *p = SAFE_SHMAT(id, NULL, SHM_RDONLY);
    ipcv_expect_fail(EACCES, mprotect(p, page_size(), PROT_READ | PROT_WRITE));
    ipcv_expect_ok(mprotect(p, page_size(), PROT_READ));
    SAFE_SHMDT(p);
    SAFE_SHMCTL(id, IPC_RMID, NULL);
}

static int write_inherited(struct ipcv_role *self, void *arg)
{
    (void)self;
    volatile char *p = *(char **)arg;
    p[0] = 'w';
    return 0;
}

/* mprotect(2) on a read-write attach: access can be lowered and raised back
 * again (the attach was made with write permission). */
IPCV_CASE(sysv_shm, mprotect_read_only_then_read_write_on_rw_attach,
          .tags = "multi", .covers = "B473",
          .spec = "mprotect(2); shmop(2)",
          .desc = "after mprotect(PROT_READ) a forked writer dies by SIGSEGV; after mprotect(PROT_READ|PROT_WRITE) a forked writer's write lands in the segment")
{
    int id = SAFE_SHMGET(IPC_PRIVATE, page_size(), IPC_CREAT | 0600);
    char *p = SAFE_SHMAT(id, NULL, 0);
    ipcv_expect_ok(mprotect(p, page_size(), PROT_READ));
    struct ipcv_role *early = ipcv_spawn("writer-read-only", write_inherited, &p);
    ipcv_join(early, IPCV_KILLED(SIGSEGV));
    ipcv_expect_ok(mprotect(p, page_size(), PROT_READ | PROT_WRITE));
    struct ipcv_role *late = ipcv_spawn("writer-read-write", write_inherited, &p);
    ipcv_join(late, IPCV_EXITED(0));
    ipcv_expect_eq('w', p[0]);
    SAFE_SHMDT(p);
    SAFE_SHMCTL(id, IPC_RMID, NULL);
}

/* shmop(2)/shmctl(2) shm_nattch: splitting and merging an attach with
 * mprotect must not change the attach count (kernel fix fc0c8f9089c2). */
IPCV_CASE(sysv_shm, mprotect_split_and_merge_keeps_nattch,
          .tags = "api cleanup", .covers = "B087",
          .spec = "shmctl(2) shm_nattch; shmop(2) shmdt",
          .desc = "mprotect(PROT_NONE) on the middle page, then PROT_WRITE on the first two, then shmdt: nattch back to 0")
{
    size_t pg = page_size();
    int id = SAFE_SHMGET(IPC_PRIVATE, 3 * pg, IPC_CREAT | 0600);
    char *p = SAFE_SHMAT(id, NULL, 0);
    SAFE(mprotect(p + pg, pg, PROT_NONE));
    SAFE(mprotect(p, 2 * pg, PROT_WRITE));
    ipcv_expect_ok(shmdt(p));
    ipcv_expect_eq(0, nattch_of(id));
    SAFE_SHMCTL(id, IPC_RMID, NULL);
}

/* gVisor shm.cc PartialUnmap / shmop(2): munmap of part of an attach is
 * allowed; shmdt at the attach address then detaches what is left. */
IPCV_CASE(sysv_shm, partial_munmap_then_shmdt_detaches_rest,
          .tags = "api cleanup", .covers = "B470",
          .spec = "munmap(2); shmop(2) shmdt",
          .desc = "munmap of the middle page of a 3-page attach succeeds; shmdt(start) succeeds, the last page is unmapped and nattch is 0")
{
    size_t pg = page_size();
    int id = SAFE_SHMGET(IPC_PRIVATE, 3 * pg, IPC_CREAT | 0600);
    char *p = SAFE_SHMAT(id, NULL, 0);
    ipcv_expect_ok(munmap(p + pg, pg));
    ipcv_expect_ok(shmdt(p));
    ipcv_expect_eq(0, is_mapped(p));
    ipcv_expect_eq(0, is_mapped(p + 2 * pg));
    ipcv_expect_eq(0, nattch_of(id));
    SAFE_SHMCTL(id, IPC_RMID, NULL);
}

struct near_break { int id; size_t len; };

static int attach_near_break(struct ipcv_role *self, void *arg)
{
    (void)self;
    const struct near_break *nb = arg;
    size_t pg = page_size();
    SAFE(sbrk((intptr_t)(4 * pg)));      /* a heap of at least four pages */
    char *brk_now = SAFE(sbrk(0));
    char *below = (char *)(((uintptr_t)brk_now - 2 * pg) & ~(uintptr_t)(SHMLBA - 1));
    char *above = (char *)(((uintptr_t)brk_now + pg + SHMLBA - 1) & ~(uintptr_t)(SHMLBA - 1));
    void *probe = mmap(above, nb->len, PROT_NONE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (probe != above)
        ipcv_skip("the range above the break is not free here");
    SAFE(munmap(probe, nb->len));

    void *p = shmat(nb->id, below, 0);
    ipcv_expect_true(p == (void *)-1 && errno == EINVAL,
                     "shmat below the break (%p): expected EINVAL, seen %s", (void *)below,
                     p == (void *)-1 ? ipcv_errname(errno) : "success");
    if (p != (void *)-1)
        shmdt(p);
    p = shmat(nb->id, above, 0);
    ipcv_expect_true(p == above, "shmat above the break: expected %p, seen %p",
                     (void *)above, p);
    if (p == above) {
        /* brk(2): the break cannot grow into the attach. */
        ipcv_expect_fail(ENOMEM, sbrk((intptr_t)(above + nb->len - brk_now)));
        ipcv_expect_true(sbrk(0) == brk_now, "the break moved");
    }
    if (p != (void *)-1)
        shmdt(p);
    return 0;
}

/* shmop(2) EINVAL / brk(2) ENOMEM (LTP shmt09): an attach may not overlap
 * the heap, one above the break works, and the break cannot then grow into
 * it. Runs in a role so the coordinator's heap is left alone. */
IPCV_CASE(sysv_shm, attach_and_heap_break_do_not_overlap,
          .tags = "multi", .covers = "B118",
          .spec = "shmop(2) EINVAL; brk(2) ENOMEM",
          .desc = "shmat inside the heap fails EINVAL; shmat above the break attaches there; sbrk past it then fails ENOMEM")
{
    struct near_break nb = { SAFE_SHMGET(IPC_PRIVATE, 3 * page_size(), IPC_CREAT | 0600),
                             3 * page_size() };
    struct ipcv_role *r = ipcv_spawn("heap", attach_near_break, &nb);
    ipcv_join(r, IPCV_EXITED(0));
    SAFE_SHMCTL(nb.id, IPC_RMID, NULL);
}

/* ---- shmdt ---------------------------------------------------------------- */

static int touch_after_detach(struct ipcv_role *self, void *arg)
{
    (void)self;
    const int *a = arg;   /* [0]: id, [1]: 1 to write, 0 to read */
    volatile char *p = SAFE_SHMAT(a[0], NULL, 0);
    p[0] = 'x';
    SAFE_SHMDT((void *)p);
    if (a[1])
        p[0] = 'y';                      /* SIGSEGV here */
    else
        ipcv_expect_eq('x', p[0]);       /* or here */
    return 0;
}

/* shmop(2) shmdt: "detaches the shared memory segment located at the address
 * specified by shmaddr from the address space of the calling process": a
 * later read or write there is an access to unmapped memory (SIGSEGV). */
IPCV_CASE(sysv_shm, access_after_shmdt_kills_with_sigsegv,
          .tags = "multi crash", .covers = "B100 B462",
          .spec = "shmop(2) shmdt",
          .desc = "a role that reads, and a role that writes, its former attach after shmdt are killed by SIGSEGV")
{
    int id = SAFE_SHMGET(IPC_PRIVATE, page_size(), IPC_CREAT | 0600);
    int reader_arg[2] = { id, 0 }, writer_arg[2] = { id, 1 };
    struct ipcv_role *reader = ipcv_spawn("reader", touch_after_detach, reader_arg);
    struct ipcv_role *writer = ipcv_spawn("writer", touch_after_detach, writer_arg);
    ipcv_join(reader, IPCV_KILLED(SIGSEGV));
    ipcv_join(writer, IPCV_KILLED(SIGSEGV));
    SAFE_SHMCTL(id, IPC_RMID, NULL);
}

/* shmop(2) ERRORS: shmdt "EINVAL There is no shared memory segment attached
 * at shmaddr; or, shmaddr is not aligned on a page boundary." */
IPCV_CASE(sysv_shm, shmdt_without_attach_fails_einval,
          .tags = "api", .covers = "B101 B448",
          .spec = "shmop(2) ERRORS EINVAL",
          .desc = "shmdt fails EINVAL on an anonymous page, on NULL, on attach+1, and on an address already detached")
{
    size_t pg = page_size();
    int id = SAFE_SHMGET(IPC_PRIVATE, pg, IPC_CREAT | 0600);
    char *anon = SAFE(mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    char *p = SAFE_SHMAT(id, NULL, 0);
    ipcv_expect_fail(EINVAL, shmdt(anon));
    ipcv_expect_fail(EINVAL, shmdt(NULL));
    ipcv_expect_fail(EINVAL, shmdt(p + 1));
    ipcv_expect_ok(shmdt(p));
    ipcv_expect_fail(EINVAL, shmdt(p));
    SAFE(munmap(anon, pg));
    SAFE_SHMCTL(id, IPC_RMID, NULL);
}

/* ---- attach counts and shared data ---------------------------------------- */

/* shmctl(2) shm_nattch: "number of current attaches" (gVisor AttachDetach). */
IPCV_CASE(sysv_shm, nattch_counts_attaches_and_detaches,
          .tags = "api", .covers = "B444",
          .spec = "shmctl(2) IPC_STAT shm_nattch",
          .desc = "two attaches and two detaches in one process: shm_nattch goes 0, 1, 2, 1, 0")
{
    int id = SAFE_SHMGET(IPC_PRIVATE, page_size(), IPC_CREAT | 0600);
    ipcv_expect_eq(0, nattch_of(id));
    char *a = SAFE_SHMAT(id, NULL, 0);
    ipcv_expect_eq(1, nattch_of(id));
    char *b = SAFE_SHMAT(id, NULL, 0);
    ipcv_expect_eq(2, nattch_of(id));
    SAFE_SHMDT(a);
    ipcv_expect_eq(1, nattch_of(id));
    SAFE_SHMDT(b);
    ipcv_expect_eq(0, nattch_of(id));
    SAFE_SHMCTL(id, IPC_RMID, NULL);
}

struct counted { int id; key_t key; char *inherited; };

/* Forked after the coordinator attached: owns an inherited attach. */
static int detach_inherited(struct ipcv_role *self, void *arg)
{
    struct counted *c = arg;
    ipcv_expect_eq('P', c->inherited[0]);
    ipcv_ready(self);
    ipcv_await_release(self);
    ipcv_expect_ok(shmdt(c->inherited));
    ipcv_checkpoint_signal(0);
    ipcv_await_release(self);
    return 0;
}

/* Forked before any attach: finds the segment by key like an unrelated
 * process would. */
static int attach_by_key_on_release(struct ipcv_role *self, void *arg)
{
    struct counted *c = arg;
    ipcv_ready(self);
    ipcv_await_release(self);
    int id = shmget(c->key, 0, 0);
    ipcv_expect_eq(c->id, id);
    char *p = SAFE_SHMAT(c->id, NULL, 0);
    ipcv_expect_eq('P', p[0]);
    ipcv_checkpoint_signal(1);
    ipcv_await_release(self);
    ipcv_expect_ok(shmdt(p));
    ipcv_checkpoint_signal(2);
    ipcv_await_release(self);
    return 0;
}

/* IPC_STAT and SHM_STAT (by table index) must agree on the count. */
static void expect_nattch(unsigned long want, int id, int index, int line)
{
    struct shmid_ds ds;
    SAFE_SHMCTL(id, IPC_STAT, &ds);
    if (ds.shm_nattch != want)
        ipcv_record(IPCV_FAIL, __FILE__, line, "IPC_STAT shm_nattch: expected %lu, seen %lu",
                    want, (unsigned long)ds.shm_nattch);
    int rc = shmctl(index, SHM_STAT, &ds);
    if (rc != id || ds.shm_nattch != want)
        ipcv_record(IPCV_FAIL, __FILE__, line,
                    "SHM_STAT(%d): expected id %d nattch %lu, seen %d nattch %lu", index, id,
                    want, rc, (unsigned long)ds.shm_nattch);
}

/* The table index of id: SHM_STAT_ANY over 0..highest index. */
static int index_of(int id)
{
    struct shm_info info;
    int max = SAFE(shmctl(0, SHM_INFO, (struct shmid_ds *)&info));
    struct shmid_ds ds;
    for (int i = 0; i <= max; i++)
        if (shmctl(i, SHM_STAT_ANY, &ds) == id)
            return i;
    ipcv_brk(__FILE__, __LINE__, "segment %d not found by SHM_STAT_ANY in 0..%d", id, max);
}

/* shmctl(2) shm_nattch counts every attach: shmop(2) "After a fork(2), the
 * child inherits the attached shared memory segments", and a process that
 * finds the segment by key (shmget(2)) adds its own. */
IPCV_CASE(sysv_shm, nattch_counts_fork_inherited_and_unrelated_attaches,
          .tags = "multi", .covers = "B088",
          .spec = "shmctl(2) IPC_STAT/SHM_STAT; fork(2); shmget(2)",
          .desc = "nattch seen by IPC_STAT and SHM_STAT: 1 after attach, 2 after fork, 3 after a role attaches by key, then 2, 1, 0 as the forked role, the keyed role and the coordinator detach")
{
    key_t key = ipcv_key(1);
    struct counted c = { SAFE_SHMGET(key, page_size(), IPC_CREAT | IPC_EXCL | 0600), key, NULL };
    int idx = index_of(c.id);
    struct ipcv_role *stranger = ipcv_spawn("by-key", attach_by_key_on_release, &c);
    ipcv_wait_ready(stranger);
    expect_nattch(0, c.id, idx, __LINE__);

    c.inherited = SAFE_SHMAT(c.id, NULL, 0);
    c.inherited[0] = 'P';
    expect_nattch(1, c.id, idx, __LINE__);
    struct ipcv_role *child = ipcv_spawn("forked", detach_inherited, &c);
    ipcv_wait_ready(child);
    expect_nattch(2, c.id, idx, __LINE__);

    ipcv_release(stranger);
    ipcv_checkpoint_wait(1, 1);
    expect_nattch(3, c.id, idx, __LINE__);
    ipcv_release(child);
    ipcv_checkpoint_wait(0, 1);
    expect_nattch(2, c.id, idx, __LINE__);
    ipcv_release(stranger);
    ipcv_checkpoint_wait(2, 1);
    expect_nattch(1, c.id, idx, __LINE__);
    SAFE_SHMDT(c.inherited);
    expect_nattch(0, c.id, idx, __LINE__);

    ipcv_release(child);
    ipcv_release(stranger);
    ipcv_join(child, IPCV_EXITED(0));
    ipcv_join(stranger, IPCV_EXITED(0));
    SAFE_SHMCTL(c.id, IPC_RMID, NULL);
}

/* shmop(2): two attaches of one segment in one process are two views of the
 * same memory, and each can be detached on its own. */
IPCV_CASE(sysv_shm, two_attaches_in_one_process_share_data,
          .tags = "api", .covers = "B113 B117",
          .spec = "shmop(2)",
          .desc = "two attaches at different addresses see each other's writes; detaching one leaves the other readable; both detaches succeed")
{
    int id = SAFE_SHMGET(IPC_PRIVATE, page_size(), IPC_CREAT | 0600);
    char *a = SAFE_SHMAT(id, NULL, 0);
    char *b = SAFE_SHMAT(id, NULL, 0);
    ipcv_expect_true(a != b, "two attaches at the same address %p", (void *)a);
    strcpy(a, "written through a");
    ipcv_expect_mem("written through a", b, 18);
    strcpy(b + 100, "written through b");
    ipcv_expect_mem("written through b", a + 100, 18);
    ipcv_expect_ok(shmdt(a));
    ipcv_expect_mem("written through a", b, 18);
    ipcv_expect_ok(shmdt(b));
    SAFE_SHMCTL(id, IPC_RMID, NULL);
}

static int check_and_answer_inherited(struct ipcv_role *self, void *arg)
{
    (void)self;
    char *p = *(char **)arg;
    ipcv_expect_mem("from the parent", p, 16);
    strcpy(p + 64, "from the child");
    return 0;
}

/* shmop(2): "After a fork(2), the child inherits the attached shared memory
 * segments" - the same memory, not a copy of it. */
IPCV_CASE(sysv_shm, attach_inherited_across_fork_shares_data,
          .tags = "multi", .covers = "B116",
          .spec = "shmop(2) NOTES fork",
          .desc = "a forked role reads the parent's data through the inherited attach, and its write is seen by the parent")
{
    int id = SAFE_SHMGET(IPC_PRIVATE, page_size(), IPC_CREAT | 0600);
    char *p = SAFE_SHMAT(id, NULL, 0);
    strcpy(p, "from the parent");
    struct ipcv_role *r = ipcv_spawn("child", check_and_answer_inherited, &p);
    ipcv_join(r, IPCV_EXITED(0));
    ipcv_expect_mem("from the child", p + 64, 15);
    SAFE_SHMDT(p);
    SAFE_SHMCTL(id, IPC_RMID, NULL);
}

static int attach_on_checkpoint(struct ipcv_role *self, void *arg)
{
    ipcv_ready(self);
    ipcv_checkpoint_wait(0, 1);
    char *p = SAFE_SHMAT(*(int *)arg, NULL, 0);
    ipcv_expect_mem("parent wrote this", p, 18);
    strcpy(p + 128, "child wrote this");
    ipcv_checkpoint_signal(1);
    SAFE_SHMDT(p);
    return 0;
}

/* shmop(2) (LTP shmt04): a process that attaches by id later sees what an
 * earlier attacher wrote, and the reverse. */
IPCV_CASE(sysv_shm, later_attach_by_id_sees_earlier_writes,
          .tags = "multi", .covers = "B114",
          .spec = "shmop(2); shmget(2)",
          .desc = "a role forked before any attach attaches by id after the parent wrote, reads the parent's data and answers through the segment")
{
    int id = SAFE_SHMGET(IPC_PRIVATE, page_size(), IPC_CREAT | 0600);
    struct ipcv_role *r = ipcv_spawn("child", attach_on_checkpoint, &id);
    ipcv_wait_ready(r);
    char *p = SAFE_SHMAT(id, NULL, 0);
    strcpy(p, "parent wrote this");
    ipcv_checkpoint_signal(0);
    ipcv_checkpoint_wait(1, 1);
    ipcv_expect_mem("child wrote this", p + 128, 17);
    ipcv_join(r, IPCV_EXITED(0));
    SAFE_SHMDT(p);
    SAFE_SHMCTL(id, IPC_RMID, NULL);
}

static int write_detach_exit(struct ipcv_role *self, void *arg)
{
    (void)self;
    unsigned char *p = SAFE_SHMAT(*(int *)arg, NULL, 0);
    for (size_t i = 0; i < 2 * page_size(); i++)
        p[i] = (unsigned char)(i * 7);
    SAFE_SHMDT(p);
    return 0;
}

/* shmget(2)/shmop(2): a segment lives independently of its attachers; data
 * written before the last detach is there at the next attach. */
IPCV_CASE(sysv_shm, data_persists_with_no_process_attached,
          .tags = "multi", .covers = "B446",
          .spec = "shmop(2); shmget(2)",
          .desc = "a role writes two pages, detaches and exits; with nattch 0 the coordinator attaches and reads every byte back")
{
    int id = SAFE_SHMGET(IPC_PRIVATE, 2 * page_size(), IPC_CREAT | 0600);
    struct ipcv_role *r = ipcv_spawn("writer", write_detach_exit, &id);
    ipcv_join(r, IPCV_EXITED(0));
    ipcv_expect_eq(0, nattch_of(id));
    unsigned char *p = SAFE_SHMAT(id, NULL, 0);
    size_t bad = 0;
    for (size_t i = 0; i < 2 * page_size(); i++)
        bad += p[i] != (unsigned char)(i * 7);
    ipcv_expect_eq(0, bad);
    SAFE_SHMDT(p);
    SAFE_SHMCTL(id, IPC_RMID, NULL);
}

/* shmop(2) SHM_RDONLY (glibc test-sysvshm): a read-only re-attach reads
 * what an earlier read-write attach wrote. */
IPCV_CASE(sysv_shm, rdonly_reattach_reads_back_data,
          .tags = "api", .covers = "B447",
          .spec = "shmop(2) SHM_RDONLY",
          .desc = "write through a read-write attach, shmdt, attach SHM_RDONLY: the bytes read back equal")
{
    int id = SAFE_SHMGET(IPC_PRIVATE, page_size(), IPC_CREAT | 0600);
    char *p = SAFE_SHMAT(id, NULL, 0);
    for (size_t i = 0; i < page_size(); i++)
        p[i] = (char)(i % 251);
    SAFE_SHMDT(p);
    const char *q = SAFE_SHMAT(id, NULL, SHM_RDONLY);
    size_t bad = 0;
    for (size_t i = 0; i < page_size(); i++)
        bad += q[i] != (char)(i % 251);
    ipcv_expect_eq(0, bad);
    SAFE_SHMDT(q);
    SAFE_SHMCTL(id, IPC_RMID, NULL);
}

#define LOOPS 400

static int attach_detach_loop(struct ipcv_role *self, void *arg)
{
    int id = *(int *)arg;
    char mark = ipcv_role_name(self)[0];
    ipcv_ready(self);
    ipcv_await_release(self);
    for (int i = 0; i < LOOPS; i++) {
        volatile char *p = shmat(id, NULL, 0);
        if (p == (void *)-1) {
            ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "round %d: shmat: %s", i, ipcv_errname(errno));
            return 0;
        }
        p[(unsigned char)mark] = mark;
        if (p[(unsigned char)mark] != mark)
            ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "round %d: own write lost", i);
        /* Own attach, the other role's, and the count Linux holds for the
         * length of the other role's shmat call: never more than 3. */
        struct shmid_ds ds;
        if (shmctl(id, IPC_STAT, &ds) == 0 && ds.shm_nattch > 3) {
            ipcv_record(IPCV_FAIL, __FILE__, __LINE__,
                        "round %d: nattch %lu with two processes attached once each at most",
                        i, (unsigned long)ds.shm_nattch);
            shmdt((void *)p);
            return 0;
        }
        if (shmdt((void *)p) < 0) {
            ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "round %d: shmdt: %s", i, ipcv_errname(errno));
            return 0;
        }
    }
    return 0;
}

/* shmop(2) (LTP shmt10): concurrent attach/detach loops in two processes
 * keep the attach count exact, and IPC_RMID afterwards works. */
IPCV_CASE(sysv_shm, concurrent_attach_detach_loops_keep_count,
          .tags = "multi sync", .covers = "B119",
          .spec = "shmop(2); shmctl(2) shm_nattch",
          .desc = "two roles each attach, write, check nattch (at most 3 while one is inside shmat) and detach 400 times at once; nattch is then 0 and IPC_RMID succeeds")
{
    int id = SAFE_SHMGET(IPC_PRIVATE, page_size(), IPC_CREAT | 0600);
    struct ipcv_role *a = ipcv_spawn("a-loop", attach_detach_loop, &id);
    struct ipcv_role *b = ipcv_spawn("b-loop", attach_detach_loop, &id);
    ipcv_wait_ready(a);
    ipcv_wait_ready(b);
    ipcv_release(a);
    ipcv_release(b);
    ipcv_join(a, IPCV_EXITED(0));
    ipcv_join(b, IPCV_EXITED(0));
    ipcv_expect_eq(0, nattch_of(id));
    ipcv_expect_ok(shmctl(id, IPC_RMID, NULL));
}

/* ---- shmget ---------------------------------------------------------------- */

/* shmget(2) ERRORS: "ENOENT No segment exists for the given key, and
 * IPC_CREAT was not specified." */
IPCV_CASE(sysv_shm, shmget_missing_key_without_ipc_creat_fails_enoent,
          .tags = "api", .covers = "B102 B467",
          .spec = "shmget(2) ERRORS ENOENT",
          .desc = "shmget on an unused key fails ENOENT with flags 0, 0600 and IPC_EXCL|0600")
{
    key_t key = ipcv_key(1);
    const int flags[] = { 0, 0600, IPC_EXCL | 0600 };
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        errno = 0;
        int id = shmget(key, page_size(), flags[i]);
        if (id >= 0) {
            ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "shmget(unused key, flags %#o): expected ENOENT, seen id %d",
                        (unsigned)flags[i], id);
            shmctl(id, IPC_RMID, NULL);
        } else if (errno != ENOENT) {
            ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "shmget(unused key, flags %#o): expected ENOENT, seen %s",
                        (unsigned)flags[i], ipcv_errname(errno));
        }
    }
}

/* shmget(2): "If shmflg specifies both IPC_CREAT and IPC_EXCL and a shared
 * memory segment already exists for key, then shmget() fails with errno set
 * to EEXIST"; IPC_CREAT alone returns the existing id. */
IPCV_CASE(sysv_shm, shmget_excl_on_existing_key_fails_eexist,
          .tags = "api", .covers = "B103 B466",
          .spec = "shmget(2) ERRORS EEXIST",
          .desc = "a second shmget(key, IPC_CREAT|IPC_EXCL) fails EEXIST; shmget(key, IPC_CREAT) returns the first id")
{
    key_t key = ipcv_key(1);
    int id = SAFE_SHMGET(key, page_size(), IPC_CREAT | IPC_EXCL | 0600);
    errno = 0;
    int again = shmget(key, page_size(), IPC_CREAT | IPC_EXCL | 0600);
    ipcv_expect_true(again == -1 && errno == EEXIST,
                     "second IPC_CREAT|IPC_EXCL: expected EEXIST, seen %s",
                     again == -1 ? ipcv_errname(errno) : "an id");
    if (again >= 0 && again != id)
        shmctl(again, IPC_RMID, NULL);
    ipcv_expect_eq(id, shmget(key, page_size(), IPC_CREAT | 0600));
    SAFE_SHMCTL(id, IPC_RMID, NULL);
}

/* shmget(2) ERRORS EINVAL: "A segment for the given key exists, but size is
 * greater than the size of that segment", or "size is greater than SHMMAX". */
IPCV_CASE(sysv_shm, shmget_size_above_segment_or_shmmax_fails_einval,
          .tags = "api", .covers = "B104 B469 B464",
          .spec = "shmget(2) ERRORS EINVAL",
          .desc = "shmget on an existing 2-page key asking for 2 pages + 1 byte fails EINVAL; creating SHMMAX+1 bytes fails EINVAL")
{
    size_t pg = page_size();
    key_t key = ipcv_key(1);
    int id = SAFE_SHMGET(key, 2 * pg, IPC_CREAT | IPC_EXCL | 0600);
    errno = 0;
    int bigger = shmget(key, 2 * pg + 1, 0600);
    ipcv_expect_true(bigger == -1 && errno == EINVAL,
                     "shmget(existing 2-page key, 2 pages + 1): expected EINVAL, seen %s",
                     bigger == -1 ? ipcv_errname(errno) : "an id");
    if (bigger >= 0 && bigger != id)
        shmctl(bigger, IPC_RMID, NULL);
    unsigned long long shmmax = IPCV_GET_LIMIT("shmmax");
    if (shmmax < SIZE_MAX) {
        errno = 0;
        int huge = shmget(IPC_PRIVATE, (size_t)shmmax + 1, IPC_CREAT | 0600);
        ipcv_expect_true(huge == -1 && errno == EINVAL,
                         "shmget(SHMMAX+1 = %llu): expected EINVAL, seen %s", shmmax + 1,
                         huge == -1 ? ipcv_errname(errno) : "an id");
        if (huge >= 0)
            shmctl(huge, IPC_RMID, NULL);
    }
    SAFE_SHMCTL(id, IPC_RMID, NULL);
}

struct lookup { int id; key_t key; size_t len; };

static int write_last_byte(struct ipcv_role *self, void *arg)
{
    (void)self;
    const struct lookup *l = arg;
    char *p = SAFE_SHMAT(l->id, NULL, 0);
    p[l->len - 1] = 'z';                 /* SIGSEGV if only one page were mapped */
    SAFE_SHMDT(p);
    return 0;
}

/* shmget(2): the size is fixed at creation; a lookup may ask for less
 * (size <= segment size) and still gets the whole segment. */
IPCV_CASE(sysv_shm, lookup_with_smaller_size_gets_whole_segment,
          .tags = "multi", .covers = "B468",
          .spec = "shmget(2)",
          .desc = "shmget(key, 1, 0) on a 3-page segment returns its id; segsz stays 3 pages and a role attaching that id writes the last byte")
{
    size_t len = 3 * page_size();
    struct lookup l = { -1, ipcv_key(1), len };
    int id = SAFE_SHMGET(l.key, len, IPC_CREAT | IPC_EXCL | 0600);
    l.id = shmget(l.key, 1, 0600);
    ipcv_expect_eq(id, l.id);
    if (l.id < 0)
        l.id = id;
    ipcv_expect_eq(len, stat_of(id).shm_segsz);
    struct ipcv_role *r = ipcv_spawn("writer", write_last_byte, &l);
    ipcv_join(r, IPCV_EXITED(0));
    char *p = SAFE_SHMAT(id, NULL, SHM_RDONLY);
    ipcv_expect_eq('z', p[len - 1]);
    SAFE_SHMDT(p);
    SAFE_SHMCTL(id, IPC_RMID, NULL);
}

/* shmget(2): a new segment has "size equal to the value of size rounded up
 * to a multiple of PAGE_SIZE", while shm_segsz keeps the size asked for. */
IPCV_CASE(sysv_shm, unaligned_size_is_accepted_and_reported,
          .tags = "api", .covers = "B465",
          .spec = "shmget(2); shmctl(2) shm_segsz",
          .desc = "shmget of page+1 bytes succeeds; shm_segsz and /proc/sysvipc/shm say page+1; the whole second page is usable")
{
    size_t pg = page_size();
    int id = SAFE_SHMGET(IPC_PRIVATE, pg + 1, IPC_CREAT | 0600);
    ipcv_expect_eq(pg + 1, stat_of(id).shm_segsz);

    FILE *f = SAFE_PTR(fopen("/proc/sysvipc/shm", "re"));
    char line[512];
    unsigned long size = 0;
    while (fgets(line, sizeof line, f)) {
        int k, sid;
        unsigned perms;
        unsigned long sz;
        if (sscanf(line, "%d %d %o %lu", &k, &sid, &perms, &sz) == 4 && sid == id)
            size = sz;
    }
    fclose(f);
    ipcv_expect_eq(pg + 1, size);

    char *p = SAFE_SHMAT(id, NULL, 0);
    p[pg] = 'a';
    p[2 * pg - 1] = 'b';
    ipcv_expect_eq('b', p[2 * pg - 1]);
    SAFE_SHMDT(p);
    SAFE_SHMCTL(id, IPC_RMID, NULL);
}

struct perm_keys { key_t none; key_t owner_only; };

static int get_as_nobody(struct ipcv_role *self, void *arg)
{
    (void)self;
    const struct perm_keys *k = arg;
    become_nobody();
    static const char *const what[] = {
        "mode 000, SHM_R", "mode 000, SHM_W", "mode 000, SHM_R|SHM_W", "mode 000, no access asked",
        "mode 0600, SHM_R", "mode 0600, IPC_CREAT|0600",
    };
    const struct { key_t key; int flg; int err; } tcases[] = {
        { k->none, SHM_R, EACCES },
        { k->none, SHM_W, EACCES },
        { k->none, SHM_R | SHM_W, EACCES },
        { k->none, 0, 0 },
        { k->owner_only, SHM_R, EACCES },
        { k->owner_only, IPC_CREAT | 0600, EACCES },
    };
    for (size_t i = 0; i < sizeof tcases / sizeof tcases[0]; i++) {
        errno = 0;
        int id = shmget(tcases[i].key, 0, tcases[i].flg);
        int err = id == -1 ? errno : 0;
        if (err != tcases[i].err)
            ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "shmget as nobody, %s: expected %s, seen %s",
                        what[i], ipcv_errname(tcases[i].err), ipcv_errname(err));
    }
    return 0;
}

/* shmget(2) ERRORS: "EACCES The user does not have permission to access the
 * shared memory segment, and does not have the CAP_IPC_OWNER capability";
 * the access asked for is the permission bits of shmflg. */
IPCV_CASE(sysv_shm, shmget_existing_without_permission_fails_eacces,
          .tags = "multi", .covers = "B105 B109",
          .spec = "shmget(2) ERRORS EACCES",
          .desc = "a uid-65534 role gets EACCES from shmget on root's mode-000 key asking SHM_R, SHM_W or both, and on a 0600 key asking read or IPC_CREAT; asking no access succeeds")
{
    struct perm_keys k = { ipcv_key(1), ipcv_key(2) };
    int none = SAFE_SHMGET(k.none, page_size(), IPC_CREAT | IPC_EXCL | 0000);
    int owner_only = SAFE_SHMGET(k.owner_only, page_size(), IPC_CREAT | IPC_EXCL | 0600);
    struct ipcv_role *r = ipcv_spawn("nobody", get_as_nobody, &k);
    ipcv_join(r, IPCV_EXITED(0));
    SAFE_SHMCTL(none, IPC_RMID, NULL);
    SAFE_SHMCTL(owner_only, IPC_RMID, NULL);
}

/* ---- ftok ------------------------------------------------------------------ */

/* ftok(3): "uses the identity of the file named by the given pathname (which
 * must refer to an existing, accessible file) and the least significant 8
 * bits of proj_id"; glibc and musl both build the key as
 * (proj_id & 0xff) << 24 | (st_dev & 0xff) << 16 | (st_ino & 0xffff). */
IPCV_CASE(sysv_shm, ftok_key_is_built_from_proj_dev_and_inode,
          .tags = "api", .covers = "B754",
          .spec = "ftok(3); glibc sysvipc/ftok.c, musl src/ipc/ftok.c",
          .desc = "for two files and a directory and proj_id 1, 'S', 0xff, 0x1ff and 0x7fffff01, ftok equals the documented formula (only the low 8 bits of proj_id count)")
{
    const char *paths[] = { ipcv_path("ftok-a", 1), ipcv_path("ftok-b", 1), ipcv_tmpdir() };
    const int projs[] = { 1, 'S', 0xff, 0x1ff, 0x7fffff01 };
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        struct stat st;
        SAFE(stat(paths[i], &st));
        for (size_t j = 0; j < sizeof projs / sizeof projs[0]; j++) {
            uint32_t want = ((uint32_t)(projs[j] & 0xff) << 24) |
                            ((uint32_t)(st.st_dev & 0xff) << 16) | (uint32_t)(st.st_ino & 0xffff);
            key_t seen = ftok(paths[i], projs[j]);
            if ((uint32_t)seen != want)
                ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "ftok(%s, %#x): expected %#x, seen %#x",
                            paths[i], (unsigned)projs[j], want, (unsigned)seen);
        }
    }
}

/* ftok(3): "The resulting value is the same for all pathnames that name the
 * same file, when the same value of proj_id is used"; different proj_id
 * values give different keys for one file. */
IPCV_CASE(sysv_shm, ftok_same_file_by_any_name_gives_same_key,
          .tags = "api", .covers = "B754",
          .spec = "ftok(3); POSIX.1-2017 ftok()",
          .desc = "a file, a hard link to it, a symlink to it and a relative name give one key; proj_id 1 and 2 give two")
{
    const char *file = ipcv_path("ftok-target", 1);
    const char *hard = ipcv_path("ftok-hard", 0);
    const char *soft = ipcv_path("ftok-soft", 0);
    SAFE(link(file, hard));
    SAFE(symlink(file, soft));
    char cwd[512];
    SAFE_PTR(getcwd(cwd, sizeof cwd));
    SAFE(chdir(ipcv_tmpdir()));
    key_t relative = ftok("./ftok-target", 1);
    SAFE(chdir(cwd));

    key_t k = ftok(file, 1);
    ipcv_expect_ne(-1, k);
    ipcv_expect_eq(k, ftok(hard, 1));
    ipcv_expect_eq(k, ftok(soft, 1));
    ipcv_expect_eq(k, relative);
    ipcv_expect_ne(k, ftok(file, 2));
}

/* ftok(3) RETURN VALUE: "On failure -1 is returned, with errno indicating
 * the error as for the stat(2) system call." */
IPCV_CASE(sysv_shm, ftok_missing_file_fails_like_stat,
          .tags = "api",
          .spec = "ftok(3) RETURN VALUE; stat(2) ERRORS",
          .desc = "ftok of a missing file fails ENOENT; through a regular file used as a directory, ENOTDIR")
{
    const char *file = ipcv_path("ftok-plain", 1);
    char through[300];
    snprintf(through, sizeof through, "%s/x", file);
    ipcv_expect_fail(ENOENT, ftok(ipcv_path("ftok-missing", 0), 1));
    ipcv_expect_fail(ENOTDIR, ftok(through, 1));
}

struct keyed { char abs[256]; char rel[64]; char dir[256]; };

static int create_by_ftok(struct ipcv_role *self, void *arg)
{
    (void)self;
    const struct keyed *k = arg;
    int *ids = (int *)ipcv_self.page->scratch;
    key_t key = ftok(k->abs, 'S');
    ids[0] = SAFE_SHMGET(key, page_size(), IPC_CREAT | IPC_EXCL | 0600);
    return 0;
}

static int find_by_ftok(struct ipcv_role *self, void *arg)
{
    (void)self;
    const struct keyed *k = arg;
    int *ids = (int *)ipcv_self.page->scratch;
    SAFE(chdir(k->dir));
    key_t key = ftok(k->rel, 'S');
    errno = 0;
    ids[1] = shmget(key, 0, 0);
    ipcv_expect_true(ids[1] != -1, "shmget(ftok(%s, 'S')): %s", k->rel, ipcv_errname(errno));
    return 0;
}

/* ftok(3) + shmget(2) (gVisor LookupByKey): unrelated processes that agree
 * on a file and proj_id meet at the same segment. */
IPCV_CASE(sysv_shm, ftok_key_finds_segment_from_unrelated_process,
          .tags = "multi", .covers = "B445",
          .spec = "ftok(3); shmget(2)",
          .desc = "a role creates a segment with ftok(absolute path, 'S'); another role, by ftok of a relative name of the same file, gets the same id")
{
    struct keyed k;
    snprintf(k.abs, sizeof k.abs, "%s", ipcv_path("ftok-meet", 1));
    snprintf(k.rel, sizeof k.rel, "ftok-meet");
    snprintf(k.dir, sizeof k.dir, "%s", ipcv_tmpdir());
    int *ids = (int *)ipcv_self.page->scratch;
    ids[0] = ids[1] = -1;
    struct ipcv_role *creator = ipcv_spawn("creator", create_by_ftok, &k);
    ipcv_join(creator, IPCV_EXITED(0));
    struct ipcv_role *finder = ipcv_spawn("finder", find_by_ftok, &k);
    ipcv_join(finder, IPCV_EXITED(0));
    ipcv_expect_eq(ids[0], ids[1]);
    if (ids[0] >= 0)
        shmctl(ids[0], IPC_RMID, NULL);
    if (ids[1] >= 0 && ids[1] != ids[0])
        shmctl(ids[1], IPC_RMID, NULL);
}
