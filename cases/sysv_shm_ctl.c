/* SysV shared memory, shmctl: IPC_STAT fields and their updates, IPC_SET,
 * SHM_LOCK, the errors, and the table views IPC_INFO, SHM_INFO, SHM_STAT and
 * SHM_STAT_ANY checked against /proc. */
#define _GNU_SOURCE
#include <grp.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <time.h>
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

static void become_nobody(void)
{
    (void)setgroups(0, NULL);
    if (setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0)
        ipcv_skip("cannot switch to uid/gid 65534: %s", ipcv_errname(errno));
}

static struct shm_info shm_info(int *maxidx)
{
    struct shm_info info;
    int max = SAFE(shmctl(0, SHM_INFO, (struct shmid_ds *)&info));
    if (maxidx)
        *maxidx = max;
    return info;
}

static unsigned long long read_ull(const char *path)
{
    unsigned long long v = 0;
    FILE *f = SAFE_PTR(fopen(path, "re"));
    if (fscanf(f, "%llu", &v) != 1)
        ipcv_brk(__FILE__, __LINE__, "%s: no number", path);
    fclose(f);
    return v;
}

/* A segment whose id differs from its table index: the sequence number
 * moves on when the index allocator wraps, so create and remove segments
 * until the kernel hands out an id above the first block of indices. */
static int segment_with_sequence(size_t size, int mode)
{
    for (int i = 0; i < 512; i++) {
        int id = SAFE_SHMGET(IPC_PRIVATE, size, IPC_CREAT | mode);
        if (id >= 32768)
            return id;
        SAFE_SHMCTL(id, IPC_RMID, NULL);
    }
    ipcv_skip("no id with a sequence number after 512 segments");
}

/* ---- IPC_STAT -------------------------------------------------------------- */

/* shmget(2): on creation "shm_perm.cuid and shm_perm.uid are set to the
 * effective user ID ..., shm_perm.cgid and shm_perm.gid ... effective group
 * ID, the least significant 9 bits of shm_perm.mode are set to the least
 * significant 9 bit of shmflg, shm_segsz is set to the value of size,
 * shm_lpid, shm_nattch, shm_atime, and shm_dtime are set to 0, shm_ctime is
 * set to the current time". */
IPCV_CASE(sysv_shm, ipc_stat_fields_after_create,
          .tags = "api", .covers = "B449 B450",
          .spec = "shmget(2) DESCRIPTION; shmctl(2) IPC_STAT",
          .desc = "right after shmget(key, 2 pages + 100, 0640): key, uid, gid, cuid, cgid, mode 0640, segsz as asked, atime 0, dtime 0, ctime now, cpid the caller, lpid 0, nattch 0")
{
    key_t key = ipcv_key(1);
    size_t size = 2 * page_size() + 100;
    time_t t0 = time(NULL);
    int id = SAFE_SHMGET(key, size, IPC_CREAT | IPC_EXCL | 0640);
    time_t t1 = time(NULL);
    struct shmid_ds ds = stat_of(id);
    ipcv_expect_eq(key, ds.shm_perm.__key);
    ipcv_expect_eq(geteuid(), ds.shm_perm.uid);
    ipcv_expect_eq(geteuid(), ds.shm_perm.cuid);
    ipcv_expect_eq(getegid(), ds.shm_perm.gid);
    ipcv_expect_eq(getegid(), ds.shm_perm.cgid);
    ipcv_expect_eq(0640, ds.shm_perm.mode);
    ipcv_expect_eq(size, ds.shm_segsz);
    ipcv_expect_eq(0, ds.shm_atime);
    ipcv_expect_eq(0, ds.shm_dtime);
    ipcv_expect_true(ds.shm_ctime >= t0 && ds.shm_ctime <= t1,
                     "shm_ctime %jd not in [%jd, %jd]", (intmax_t)ds.shm_ctime,
                     (intmax_t)t0, (intmax_t)t1);
    ipcv_expect_eq(getpid(), ds.shm_cpid);
    ipcv_expect_eq(0, ds.shm_lpid);
    ipcv_expect_eq(0, ds.shm_nattch);
    SAFE_SHMCTL(id, IPC_RMID, NULL);
}

static int attach_wait_detach(struct ipcv_role *self, void *arg)
{
    void *p = SAFE_SHMAT(*(int *)arg, NULL, 0);
    ipcv_ready(self);
    ipcv_await_release(self);
    SAFE_SHMDT(p);
    return 0;
}

/* shmop(2): shmat "updates ... shm_atime is set to the current time,
 * shm_lpid is set to the process-ID of the calling process, shm_nattch is
 * incremented"; shmdt sets shm_dtime and shm_lpid, decrements shm_nattch.
 * Neither changes shm_ctime. */
IPCV_CASE(sysv_shm, attach_and_detach_update_times_and_lpid,
          .tags = "multi", .covers = "B451",
          .spec = "shmop(2) shmat/shmdt; shmctl(2) IPC_STAT",
          .desc = "a role's attach sets atime to now and lpid to its pid; its detach sets dtime and lpid; ctime stays the creation time")
{
    int id = SAFE_SHMGET(IPC_PRIVATE, page_size(), IPC_CREAT | 0600);
    struct shmid_ds before = stat_of(id);
    time_t t0 = time(NULL);
    struct ipcv_role *r = ipcv_spawn("attacher", attach_wait_detach, &id);
    ipcv_wait_ready(r);
    time_t t1 = time(NULL);
    struct shmid_ds ds = stat_of(id);
    ipcv_expect_true(ds.shm_atime >= t0 && ds.shm_atime <= t1, "shm_atime %jd not in [%jd, %jd]",
                     (intmax_t)ds.shm_atime, (intmax_t)t0, (intmax_t)t1);
    ipcv_expect_eq(ipcv_role_pid(r), ds.shm_lpid);
    ipcv_expect_eq(0, ds.shm_dtime);
    ipcv_expect_eq(before.shm_ctime, ds.shm_ctime);

    ipcv_release(r);
    ipcv_join(r, IPCV_EXITED(0));
    time_t t2 = time(NULL);
    ds = stat_of(id);
    ipcv_expect_true(ds.shm_dtime >= t1 && ds.shm_dtime <= t2, "shm_dtime %jd not in [%jd, %jd]",
                     (intmax_t)ds.shm_dtime, (intmax_t)t1, (intmax_t)t2);
    ipcv_expect_eq(ipcv_role_pid(r), ds.shm_lpid);
    ipcv_expect_eq(before.shm_ctime, ds.shm_ctime);
    SAFE_SHMCTL(id, IPC_RMID, NULL);
}

/* shmctl(2) IPC_STAT on LP64: the time fields are 64-bit and the words that
 * hold the *_high halves on 32-bit ABIs (glibc's __glibc_reserved*, the
 * kernel's __unused*) are written as zero (LTP shmctl06). */
IPCV_CASE(sysv_shm, ipc_stat_reserved_words_are_zero,
          .tags = "api", .covers = "B097",
          .spec = "shmctl(2) IPC_STAT; glibc struct shmid_ds",
          .desc = "IPC_STAT into a buffer filled with 0xa5 leaves both reserved words of shmid_ds and of ipc_perm zero and the 64-bit ctime sane")
{
    _Static_assert(sizeof(time_t) == 8, "this case is for 64-bit time_t ABIs");
    time_t t0 = time(NULL);
    int id = SAFE_SHMGET(IPC_PRIVATE, page_size(), IPC_CREAT | 0600);
    struct shmid_ds ds;
    memset(&ds, 0xa5, sizeof ds);
    SAFE_SHMCTL(id, IPC_STAT, &ds);
    ipcv_expect_eq(0, ds.__glibc_reserved5);
    ipcv_expect_eq(0, ds.__glibc_reserved6);
    ipcv_expect_eq(0, ds.shm_perm.__glibc_reserved1);
    ipcv_expect_eq(0, ds.shm_perm.__glibc_reserved2);
    ipcv_expect_true(ds.shm_ctime >= t0 && ds.shm_ctime <= time(NULL), "shm_ctime %jd",
                     (intmax_t)ds.shm_ctime);
    SAFE_SHMCTL(id, IPC_RMID, NULL);
}

/* ---- IPC_SET ---------------------------------------------------------------- */

static int clock_moved_past(void *arg)
{
    return time(NULL) > *(time_t *)arg;
}

/* shmctl(2) IPC_SET: "The following fields are updated: shm_perm.uid,
 * shm_perm.gid, and (the least significant 9 bits of) shm_perm.mode. The
 * shm_ctime member is also updated." Times are in seconds, so the case waits
 * for the clock to pass the creation second: the delay is the subject. */
IPCV_CASE(sysv_shm, ipc_set_changes_mode_and_ctime,
          .tags = "api", .covers = "B099 B455",
          .spec = "shmctl(2) IPC_SET",
          .desc = "IPC_SET mode 0777 -> 0766 -> 0600 shows in IPC_STAT each time, uid and gid unchanged; shm_ctime moves to the time of the IPC_SET")
{
    int id = SAFE_SHMGET(IPC_PRIVATE, page_size(), IPC_CREAT | 0777);
    struct shmid_ds ds = stat_of(id);
    time_t created = ds.shm_ctime;
    if (!ipcv_poll_until(clock_moved_past, &created, 2.5))
        ipcv_brk(__FILE__, __LINE__, "the clock did not pass second %jd", (intmax_t)created);

    ds.shm_perm.mode = 0766;
    ipcv_expect_ok(shmctl(id, IPC_SET, &ds));
    struct shmid_ds after = stat_of(id);
    ipcv_expect_eq(0766, after.shm_perm.mode & 0777);
    ipcv_expect_true(after.shm_ctime > created, "shm_ctime %jd not after creation %jd",
                     (intmax_t)after.shm_ctime, (intmax_t)created);
    ipcv_expect_eq(ds.shm_perm.uid, after.shm_perm.uid);
    ipcv_expect_eq(ds.shm_perm.gid, after.shm_perm.gid);

    after.shm_perm.mode = 0600;      /* group and other bits cleared */
    ipcv_expect_ok(shmctl(id, IPC_SET, &after));
    ipcv_expect_eq(0600, stat_of(id).shm_perm.mode & 0777);
    SAFE_SHMCTL(id, IPC_RMID, NULL);
}

struct other_uid { int id; key_t key; };

static int follow_mode_changes(struct ipcv_role *self, void *arg)
{
    const struct other_uid *o = arg;
    become_nobody();
    /* mode 0600: nothing for others */
    ipcv_expect_fail(EACCES, shmget(o->key, 0, SHM_R));
    ipcv_expect_fail(EACCES, shmat(o->id, NULL, SHM_RDONLY));
    ipcv_ready(self);

    ipcv_await_release(self);   /* now 0604: others read */
    ipcv_expect_eq(o->id, shmget(o->key, 0, SHM_R));
    char *p = shmat(o->id, NULL, SHM_RDONLY);
    ipcv_expect_true(p != (void *)-1, "SHM_RDONLY attach after mode 0604: %s", ipcv_errname(errno));
    if (p != (void *)-1) {
        ipcv_expect_mem("owner's data", p, 13);
        shmdt(p);
    }
    ipcv_expect_fail(EACCES, shmat(o->id, NULL, 0));
    ipcv_checkpoint_signal(0);

    ipcv_await_release(self);   /* now 0606: others read and write */
    p = shmat(o->id, NULL, 0);
    ipcv_expect_true(p != (void *)-1, "read-write attach after mode 0606: %s", ipcv_errname(errno));
    if (p != (void *)-1) {
        memcpy(p + 64, "nobody's reply", 15);
        shmdt(p);
    }
    return 0;
}

/* shmctl(2) IPC_SET + shmget(2)/shmop(2) EACCES: the permission bits set by
 * the owner are what another user's shmget and shmat are checked against,
 * from the next call on. */
IPCV_CASE(sysv_shm, ipc_set_mode_governs_other_uid_access,
          .tags = "multi", .covers = "B455",
          .spec = "shmctl(2) IPC_SET; shmget(2), shmop(2) EACCES",
          .desc = "a uid-65534 role is refused at mode 0600, may read but not write after IPC_SET 0604, and may write after IPC_SET 0606")
{
    struct other_uid o = { -1, ipcv_key(1) };
    o.id = SAFE_SHMGET(o.key, page_size(), IPC_CREAT | IPC_EXCL | 0600);
    char *p = SAFE_SHMAT(o.id, NULL, 0);
    memcpy(p, "owner's data", 13);
    SAFE_SHMDT(p);
    struct ipcv_role *r = ipcv_spawn("nobody", follow_mode_changes, &o);
    ipcv_wait_ready(r);

    struct shmid_ds ds = stat_of(o.id);
    ds.shm_perm.mode = 0604;
    ipcv_expect_ok(shmctl(o.id, IPC_SET, &ds));
    ipcv_release(r);
    ipcv_checkpoint_wait(0, 1);
    ds.shm_perm.mode = 0606;
    ipcv_expect_ok(shmctl(o.id, IPC_SET, &ds));
    ipcv_release(r);
    ipcv_join(r, IPCV_EXITED(0));

    p = SAFE_SHMAT(o.id, NULL, SHM_RDONLY);
    ipcv_expect_mem("nobody's reply", p + 64, 15);
    SAFE_SHMDT(p);
    SAFE_SHMCTL(o.id, IPC_RMID, NULL);
}

static int act_as_new_owner(struct ipcv_role *self, void *arg)
{
    (void)self;
    int id = *(int *)arg;
    become_nobody();
    struct shmid_ds ds;
    ipcv_expect_ok(shmctl(id, IPC_STAT, &ds));
    ds.shm_perm.mode = 0640;
    ipcv_expect_ok(shmctl(id, IPC_SET, &ds));
    ipcv_expect_ok(shmctl(id, IPC_RMID, NULL));
    return 0;
}

/* shmctl(2) IPC_SET/IPC_RMID: "The caller must be the owner or creator of
 * the shared memory segment, or be privileged" - and IPC_SET of shm_perm.uid
 * makes a new owner, while shm_perm.cuid keeps naming the creator. */
IPCV_CASE(sysv_shm, ipc_set_uid_hands_over_ownership,
          .tags = "multi",
          .spec = "shmctl(2) IPC_SET, IPC_RMID",
          .desc = "after root's IPC_SET uid/gid 65534, IPC_STAT shows uid 65534 and cuid 0; a uid-65534 role may then IPC_STAT, IPC_SET and IPC_RMID it")
{
    int id = SAFE_SHMGET(IPC_PRIVATE, page_size(), IPC_CREAT | 0600);
    struct shmid_ds ds = stat_of(id);
    ds.shm_perm.uid = 65534;
    ds.shm_perm.gid = 65534;
    ipcv_expect_ok(shmctl(id, IPC_SET, &ds));
    ds = stat_of(id);
    ipcv_expect_eq(65534, ds.shm_perm.uid);
    ipcv_expect_eq(65534, ds.shm_perm.gid);
    ipcv_expect_eq(geteuid(), ds.shm_perm.cuid);

    struct ipcv_role *r = ipcv_spawn("new-owner", act_as_new_owner, &id);
    ipcv_join(r, IPCV_EXITED(0));
    if (shmctl(id, IPC_STAT, &ds) == 0) {
        ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "the new owner's IPC_RMID did not remove segment %d", id);
        shmctl(id, IPC_RMID, NULL);
    }
}

/* ---- SHM_LOCK -------------------------------------------------------------- */

/* shmctl(2) SHM_LOCK/SHM_UNLOCK: "If a segment has been locked, then the
 * (nonstandard) SHM_LOCKED flag of the shm_perm.mode field ... will be set";
 * SHM_UNLOCK clears it. */
IPCV_CASE(sysv_shm, shm_lock_sets_and_unlock_clears_shm_locked,
          .tags = "api", .covers = "B098",
          .spec = "shmctl(2) SHM_LOCK, SHM_UNLOCK",
          .desc = "SHM_LOCK sets SHM_LOCKED in shm_perm.mode (twice is fine), SHM_UNLOCK clears it")
{
    int id = SAFE_SHMGET(IPC_PRIVATE, page_size(), IPC_CREAT | 0600);
    ipcv_expect_nobits(SHM_LOCKED, stat_of(id).shm_perm.mode);
    if (shmctl(id, SHM_LOCK, NULL) < 0 && errno == EPERM) {
        SAFE_SHMCTL(id, IPC_RMID, NULL);
        ipcv_skip("SHM_LOCK refused: no CAP_IPC_LOCK and no RLIMIT_MEMLOCK");
    }
    ipcv_expect_bits(SHM_LOCKED, stat_of(id).shm_perm.mode);
    ipcv_expect_ok(shmctl(id, SHM_LOCK, NULL));
    ipcv_expect_bits(SHM_LOCKED, stat_of(id).shm_perm.mode);
    ipcv_expect_ok(shmctl(id, SHM_UNLOCK, NULL));
    ipcv_expect_nobits(SHM_LOCKED, stat_of(id).shm_perm.mode);
    SAFE_SHMCTL(id, IPC_RMID, NULL);
}

/* ---- errors ----------------------------------------------------------------- */

static int stat_as_nobody(struct ipcv_role *self, void *arg)
{
    (void)self;
    const int *a = arg;   /* [0]: 0600 id, [1]: its index, [2]: 0604 id */
    become_nobody();
    struct shmid_ds ds;
    ipcv_expect_fail(EACCES, shmctl(a[0], IPC_STAT, &ds));
    ipcv_expect_fail(EACCES, shmctl(a[1], SHM_STAT, &ds));
    ipcv_expect_ok(shmctl(a[2], IPC_STAT, &ds));
    return 0;
}

static int index_of(int id)
{
    int max;
    shm_info(&max);
    struct shmid_ds ds;
    for (int i = 0; i <= max; i++)
        if (shmctl(i, SHM_STAT_ANY, &ds) == id)
            return i;
    ipcv_brk(__FILE__, __LINE__, "segment %d not found by SHM_STAT_ANY in 0..%d", id, max);
}

/* shmctl(2) ERRORS: "EACCES IPC_STAT or SHM_STAT is requested and
 * shm_perm.mode does not allow read access for shmid, and the calling
 * process does not have the CAP_IPC_OWNER capability". */
IPCV_CASE(sysv_shm, ipc_stat_without_read_permission_fails_eacces,
          .tags = "multi", .covers = "B089 B092",
          .spec = "shmctl(2) ERRORS EACCES",
          .desc = "a uid-65534 role gets EACCES from IPC_STAT and SHM_STAT on root's 0600 segment, and succeeds on a 0604 one")
{
    int a[3];
    a[0] = SAFE_SHMGET(IPC_PRIVATE, page_size(), IPC_CREAT | 0600);
    a[1] = index_of(a[0]);
    a[2] = SAFE_SHMGET(IPC_PRIVATE, page_size(), IPC_CREAT | 0604);
    struct ipcv_role *r = ipcv_spawn("nobody", stat_as_nobody, a);
    ipcv_join(r, IPCV_EXITED(0));
    SAFE_SHMCTL(a[0], IPC_RMID, NULL);
    SAFE_SHMCTL(a[2], IPC_RMID, NULL);
}

static int owner_commands_as_nobody(struct ipcv_role *self, void *arg)
{
    (void)self;
    int id = *(int *)arg;
    become_nobody();
    struct shmid_ds ds;
    ipcv_expect_ok(shmctl(id, IPC_STAT, &ds));   /* mode 0666: reading is fine */
    ds.shm_perm.mode = 0600;
    ipcv_expect_fail(EPERM, shmctl(id, IPC_SET, &ds));
    ipcv_expect_fail(EPERM, shmctl(id, IPC_RMID, NULL));
    ipcv_expect_fail(EPERM, shmctl(id, SHM_LOCK, NULL));
    ipcv_expect_fail(EPERM, shmctl(id, SHM_UNLOCK, NULL));
    return 0;
}

/* shmctl(2) ERRORS: "EPERM IPC_SET or IPC_RMID is attempted, and the
 * effective user ID of the calling process is not that of the creator ... or
 * the owner ..., and the process is not privileged"; SHM_LOCK/SHM_UNLOCK
 * need CAP_IPC_LOCK or ownership. Read access (mode 0666) is not enough. */
IPCV_CASE(sysv_shm, owner_commands_by_other_uid_fail_eperm,
          .tags = "multi", .covers = "B093",
          .spec = "shmctl(2) ERRORS EPERM",
          .desc = "on root's 0666 segment a uid-65534 role may IPC_STAT but gets EPERM from IPC_SET, IPC_RMID, SHM_LOCK and SHM_UNLOCK")
{
    int id = SAFE_SHMGET(IPC_PRIVATE, page_size(), IPC_CREAT | 0666);
    struct ipcv_role *r = ipcv_spawn("nobody", owner_commands_as_nobody, &id);
    ipcv_join(r, IPCV_EXITED(0));
    struct shmid_ds ds;
    if (shmctl(id, IPC_STAT, &ds) == 0)
        SAFE_SHMCTL(id, IPC_RMID, NULL);
}

/* shmctl(2) ERRORS: "EFAULT The argument cmd has value IPC_SET or IPC_STAT
 * but the address pointed to by buf isn't accessible." Checked through the
 * raw system call: a libc may copy through its own buffer first. */
IPCV_CASE(sysv_shm, bad_buffer_fails_efault,
          .tags = "api", .covers = "B090",
          .spec = "shmctl(2) ERRORS EFAULT",
          .desc = "the shmctl system call fails EFAULT for IPC_STAT, IPC_SET, IPC_INFO and SHM_INFO with an unmapped or PROT_NONE buffer")
{
    int id = SAFE_SHMGET(IPC_PRIVATE, page_size(), IPC_CREAT | 0600);
    void *none = SAFE(mmap(NULL, page_size(), PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    void *const bufs[] = { (void *)1, none };
    const int cmds[] = { IPC_STAT, IPC_SET, IPC_INFO, SHM_INFO };
    for (size_t b = 0; b < 2; b++)
        for (size_t c = 0; c < sizeof cmds / sizeof cmds[0]; c++) {
            errno = 0;
            long rc = syscall(SYS_shmctl, id, cmds[c], bufs[b]);
            if (rc != -1 || errno != EFAULT)
                ipcv_record(IPCV_FAIL, __FILE__, __LINE__,
                            "shmctl(id, cmd %d, %s buffer): expected EFAULT, seen %s", cmds[c],
                            b ? "PROT_NONE" : "unmapped", rc == -1 ? ipcv_errname(errno) : "success");
        }
    SAFE(munmap(none, page_size()));
    SAFE_SHMCTL(id, IPC_RMID, NULL);
}

/* shmctl(2) ERRORS: "EINVAL cmd is not a valid command. Or: for SHM_STAT or
 * SHM_STAT_ANY, the index value specified in shmid referred to an array slot
 * that is currently unused." and "EINVAL ... shmid is not a valid
 * identifier" (glibc test-sysvshm: the first unused command number). */
IPCV_CASE(sysv_shm, bad_command_or_id_fails_einval,
          .tags = "api", .covers = "B091 B474",
          .spec = "shmctl(2) ERRORS EINVAL",
          .desc = "shmctl fails EINVAL for cmd -1, the first unused cmd (SHM_STAT_ANY+1) and 9999, for id -1, a removed id, a stale sequence number, and SHM_STAT of an unused index")
{
    int id = SAFE_SHMGET(IPC_PRIVATE, page_size(), IPC_CREAT | 0600);
    int gone = SAFE_SHMGET(IPC_PRIVATE, page_size(), IPC_CREAT | 0600);
    int removed = gone;
    SAFE_SHMCTL(gone, IPC_RMID, NULL);
    int max;
    shm_info(&max);
    static const char *const what[] = {
        "cmd -1", "cmd SHM_STAT_ANY+1", "cmd 9999", "IPC_STAT id -1", "IPC_STAT removed id",
        "IPC_RMID removed id", "IPC_STAT stale sequence number", "SHM_STAT unused index",
    };
    const struct { int id; int cmd; } tcases[] = {
        { id, -1 }, { id, SHM_STAT_ANY + 1 }, { id, 9999 }, { -1, IPC_STAT },
        { removed, IPC_STAT }, { removed, IPC_RMID }, { id + 32768, IPC_STAT },
        { max + 1, SHM_STAT },
    };
    for (size_t i = 0; i < sizeof tcases / sizeof tcases[0]; i++) {
        struct shmid_ds ds;
        errno = 0;
        int rc = shmctl(tcases[i].id, tcases[i].cmd, &ds);
        if (rc != -1 || errno != EINVAL)
            ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "shmctl, %s: expected EINVAL, seen %s",
                        what[i], rc == -1 ? ipcv_errname(errno) : "success");
    }
    SAFE_SHMCTL(id, IPC_RMID, NULL);
}

/* ---- IPC_INFO, SHM_INFO, SHM_STAT, SHM_STAT_ANY ------------------------------ */

static void expect_ipc_info_matches_proc(int line)
{
    struct shminfo si;
    SAFE(shmctl(0, IPC_INFO, (struct shmid_ds *)&si));
    const struct { const char *file; unsigned long seen; } f[] = {
        { "/proc/sys/kernel/shmmax", si.shmmax },
        { "/proc/sys/kernel/shmall", si.shmall },
        { "/proc/sys/kernel/shmmni", si.shmmni },
    };
    for (size_t i = 0; i < 3; i++) {
        unsigned long long want = read_ull(f[i].file);
        if (want != f[i].seen)
            ipcv_record(IPCV_FAIL, __FILE__, line, "IPC_INFO vs %s: expected %llu, seen %lu",
                        f[i].file, want, f[i].seen);
    }
    if (si.shmmin != 1)
        ipcv_record(IPCV_FAIL, __FILE__, line, "IPC_INFO shmmin: expected 1, seen %lu", si.shmmin);
    if (!(si.shmmax > si.shmmin && si.shmseg > 0 && si.shmall > 0))
        ipcv_record(IPCV_FAIL, __FILE__, line, "IPC_INFO: shmmax %lu shmseg %lu shmall %lu",
                    si.shmmax, si.shmseg, si.shmall);
}

/* shmctl(2) IPC_INFO: "Return information about system-wide shared memory
 * limits and parameters in the structure pointed to by buf" - the values
 * of /proc/sys/kernel/shmmax, shmall, shmmni (proc(5)), SHMMIN 1, and they
 * follow the sysctls when those change. */
IPCV_CASE(sysv_shm, ipc_info_matches_proc_sysctls,
          .tags = "api limit", .covers = "B094 B453 B475",
          .spec = "shmctl(2) IPC_INFO; proc(5) /proc/sys/kernel/shm*",
          .desc = "IPC_INFO shmmax, shmall and shmmni equal /proc/sys/kernel/shm*, shmmin is 1, the others positive - at the defaults and after lowering all three in the sandbox")
{
    expect_ipc_info_matches_proc(__LINE__);
    IPCV_SET_LIMIT("shmmni", 77);
    IPCV_SET_LIMIT("shmall", 1000);
    IPCV_SET_LIMIT("shmmax", 65536);
    expect_ipc_info_matches_proc(__LINE__);
    struct shminfo si;
    SAFE(shmctl(0, IPC_INFO, (struct shmid_ds *)&si));
    ipcv_expect_eq(77, si.shmmni);
    ipcv_expect_eq(1000, si.shmall);
    ipcv_expect_eq(65536, si.shmmax);
}

/* shmctl(2) SHM_INFO: used_ids "# of currently existing segments", shm_tot
 * "Total number of shared memory pages", shm_rss "# of resident shared
 * memory pages"; a segment marked SHM_DEST counts until its last detach. */
IPCV_CASE(sysv_shm, shm_info_counts_segments_and_pages,
          .tags = "api cleanup", .covers = "B454 B457",
          .spec = "shmctl(2) SHM_INFO",
          .desc = "a 3-page segment adds 1 to used_ids and 3 to shm_tot; touching it adds 3 to shm_rss; after IPC_RMID it still counts until shmdt, then all return to the start")
{
    struct shm_info start = shm_info(NULL);
    size_t pg = page_size();
    int id = SAFE_SHMGET(IPC_PRIVATE, 3 * pg, IPC_CREAT | 0600);
    struct shm_info now = shm_info(NULL);
    ipcv_expect_eq(start.used_ids + 1, now.used_ids);
    ipcv_expect_eq(start.shm_tot + 3, now.shm_tot);
    ipcv_expect_eq(start.shm_rss, now.shm_rss);

    char *p = SAFE_SHMAT(id, NULL, 0);
    memset(p, 1, 3 * pg);
    now = shm_info(NULL);
    ipcv_expect_eq(start.shm_rss + 3, now.shm_rss);

    SAFE_SHMCTL(id, IPC_RMID, NULL);
    now = shm_info(NULL);
    ipcv_expect_eq(start.used_ids + 1, now.used_ids);
    ipcv_expect_eq(start.shm_tot + 3, now.shm_tot);
    SAFE_SHMDT(p);
    now = shm_info(NULL);
    ipcv_expect_eq(start.used_ids, now.used_ids);
    ipcv_expect_eq(start.shm_tot, now.shm_tot);
    ipcv_expect_eq(start.shm_rss, now.shm_rss);
}

/* shmctl(2) SHM_STAT: "Return a shmid_ds structure as for IPC_STAT. However,
 * the shmid argument is not a segment identifier, but instead an index into
 * the kernel's internal array ... The return value is the identifier of the
 * segment at that index"; IPC_INFO/SHM_INFO return the highest used index. */
IPCV_CASE(sysv_shm, shm_stat_by_index_returns_the_identifier,
          .tags = "api", .covers = "B452 B476",
          .spec = "shmctl(2) SHM_STAT, SHM_INFO",
          .desc = "scanning indices 0..SHM_INFO's highest with SHM_STAT finds both created segments; each returns its identifier (one of them differs from its index) with key, mode and segsz matching")
{
    size_t pg = page_size();
    key_t key = ipcv_key(1);
    int seq = segment_with_sequence(pg, 0640);
    int keyed = SAFE_SHMGET(key, 2 * pg, IPC_CREAT | IPC_EXCL | 0600);
    int maxidx;
    shm_info(&maxidx);
    struct shminfo si;
    ipcv_expect_eq(maxidx, shmctl(0, IPC_INFO, (struct shmid_ds *)&si));

    int found_seq = 0, found_keyed = 0;
    for (int i = 0; i <= maxidx; i++) {
        struct shmid_ds ds;
        int rc = shmctl(i, SHM_STAT, &ds);
        if (rc == -1)
            continue;
        if (ds.shm_segsz == pg && (ds.shm_perm.mode & 0777) == 0640 && ds.shm_perm.__key == IPC_PRIVATE) {
            found_seq = 1;
            ipcv_expect_eq(seq, rc);
        }
        if (ds.shm_perm.__key == key) {
            found_keyed = 1;
            ipcv_expect_eq(keyed, rc);
            ipcv_expect_eq(2 * pg, ds.shm_segsz);
            ipcv_expect_eq(0600, ds.shm_perm.mode & 0777);
        }
    }
    ipcv_expect_true(found_seq, "segment %d not found by SHM_STAT", seq);
    ipcv_expect_true(found_keyed, "segment %d not found by SHM_STAT", keyed);
    SAFE_SHMCTL(seq, IPC_RMID, NULL);
    SAFE_SHMCTL(keyed, IPC_RMID, NULL);
}

struct proc_shm {
    long key;
    int id;
    unsigned perms;
    unsigned long size;
    long cpid, lpid;
    unsigned long nattch;
    long uid, gid, cuid, cgid;
    long long atime, dtime, ctime;
};

/* /proc/sysvipc/shm (proc(5)): one line per segment of the reader's IPC
 * namespace, after a header. */
static int read_proc_shm(struct proc_shm *rows, int max)
{
    FILE *f = SAFE_PTR(fopen("/proc/sysvipc/shm", "re"));
    char line[512];
    int n = 0;
    if (!fgets(line, sizeof line, f))
        ipcv_brk(__FILE__, __LINE__, "/proc/sysvipc/shm: no header");
    while (n < max && fgets(line, sizeof line, f)) {
        struct proc_shm *r = &rows[n];
        if (sscanf(line, "%ld %d %o %lu %ld %ld %lu %ld %ld %ld %ld %lld %lld %lld", &r->key, &r->id,
                   &r->perms, &r->size, &r->cpid, &r->lpid, &r->nattch, &r->uid, &r->gid, &r->cuid,
                   &r->cgid, &r->atime, &r->dtime, &r->ctime) == 14)
            n++;
    }
    fclose(f);
    return n;
}

/* proc(5) /proc/sysvipc/shm and shmctl(2) SHM_INFO/SHM_STAT_ANY (LTP
 * shmctl04): two views of one table. In the case's own IPC namespace the
 * comparison is exact. */
IPCV_CASE(sysv_shm, shm_info_and_stat_any_match_proc_sysvipc,
          .tags = "multi", .covers = "B095",
          .spec = "shmctl(2) SHM_INFO, SHM_STAT_ANY; proc(5) /proc/sysvipc/shm",
          .desc = "with three segments (one attached by a role) SHM_INFO used_ids equals the /proc/sysvipc/shm line count, and every index SHM_STAT_ANY finds matches its line field by field")
{
    size_t pg = page_size();
    int ids[3];
    ids[0] = segment_with_sequence(pg, 0600);
    ids[1] = SAFE_SHMGET(ipcv_key(1), 3 * pg + 5, IPC_CREAT | IPC_EXCL | 0640);
    ids[2] = SAFE_SHMGET(ipcv_key(2), pg, IPC_CREAT | IPC_EXCL | 0444);
    struct ipcv_role *r = ipcv_spawn("attacher", attach_wait_detach, &ids[1]);
    ipcv_wait_ready(r);

    struct proc_shm rows[64];
    int nrows = read_proc_shm(rows, 64);
    int maxidx;
    struct shm_info info = shm_info(&maxidx);
    ipcv_expect_eq(nrows, info.used_ids);
    int matched = 0;
    for (int i = 0; i <= maxidx; i++) {
        struct shmid_ds ds;
        int id = shmctl(i, SHM_STAT_ANY, &ds);
        if (id == -1)
            continue;
        const struct proc_shm *row = NULL;
        for (int k = 0; k < nrows; k++)
            if (rows[k].id == id)
                row = &rows[k];
        if (!row) {
            ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "SHM_STAT_ANY(%d) = %d: no such line in /proc/sysvipc/shm", i, id);
            continue;
        }
        matched++;
        ipcv_expect_eq(row->key, ds.shm_perm.__key);
        ipcv_expect_eq(row->perms, ds.shm_perm.mode);
        ipcv_expect_eq(row->size, ds.shm_segsz);
        ipcv_expect_eq(row->cpid, ds.shm_cpid);
        ipcv_expect_eq(row->lpid, ds.shm_lpid);
        ipcv_expect_eq(row->nattch, ds.shm_nattch);
        ipcv_expect_eq(row->uid, ds.shm_perm.uid);
        ipcv_expect_eq(row->gid, ds.shm_perm.gid);
        ipcv_expect_eq(row->cuid, ds.shm_perm.cuid);
        ipcv_expect_eq(row->cgid, ds.shm_perm.cgid);
        ipcv_expect_eq(row->atime, ds.shm_atime);
        ipcv_expect_eq(row->dtime, ds.shm_dtime);
        ipcv_expect_eq(row->ctime, ds.shm_ctime);
    }
    ipcv_expect_eq(nrows, matched);
    for (int k = 0; k < 3; k++) {
        int found = 0;
        for (int j = 0; j < nrows; j++)
            found |= rows[j].id == ids[k];
        ipcv_expect_true(found, "segment %d missing from /proc/sysvipc/shm", ids[k]);
    }
    ipcv_release(r);
    ipcv_join(r, IPCV_EXITED(0));
    for (int k = 0; k < 3; k++)
        SAFE_SHMCTL(ids[k], IPC_RMID, NULL);
}

static int stat_any_as_nobody(struct ipcv_role *self, void *arg)
{
    (void)self;
    const int *a = arg;   /* [0]: id, [1]: index */
    become_nobody();
    struct shmid_ds ds;
    ipcv_expect_fail(EACCES, shmctl(a[1], SHM_STAT, &ds));
    memset(&ds, 0, sizeof ds);
    ipcv_expect_eq(a[0], shmctl(a[1], SHM_STAT_ANY, &ds));
    ipcv_expect_eq(page_size(), ds.shm_segsz);
    ipcv_expect_eq(0600, ds.shm_perm.mode & 0777);
    return 0;
}

/* shmctl(2) SHM_STAT_ANY (Linux 4.17): "Return a shmid_ds structure as for
 * SHM_STAT. However, shm_perm.mode is not checked for read access for
 * shmid, meaning that any user can employ this operation (just as any user
 * may read /proc/sysvipc/shm)". */
IPCV_CASE(sysv_shm, shm_stat_any_needs_no_read_permission,
          .tags = "multi", .covers = "B476",
          .spec = "shmctl(2) SHM_STAT_ANY",
          .desc = "a uid-65534 role gets EACCES from SHM_STAT on root's 0600 segment, while SHM_STAT_ANY at the same index returns its id and data")
{
    int a[2];
    a[0] = SAFE_SHMGET(IPC_PRIVATE, page_size(), IPC_CREAT | 0600);
    a[1] = index_of(a[0]);
    struct ipcv_role *r = ipcv_spawn("nobody", stat_any_as_nobody, a);
    ipcv_join(r, IPCV_EXITED(0));
    SAFE_SHMCTL(a[0], IPC_RMID, NULL);
}

/* ---- IPC_RMID racing remap_file_pages ------------------------------------ */

struct race { key_t key; atomic_int stop; atomic_int raced; };

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int remove_and_recreate(struct ipcv_role *self, void *arg)
{
    (void)arg;
    struct race *rc = (struct race *)ipcv_self.page->scratch;
    ipcv_ready(self);
    ipcv_await_release(self);
    int id = shmget(rc->key, page_size(), IPC_CREAT | 0600);
    while (!atomic_load(&rc->stop)) {
        shmctl(id, IPC_RMID, NULL);
        id = shmget(rc->key, page_size(), IPC_CREAT | 0600);
        if (id == -1) {
            ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "shmget(IPC_CREAT): %s", ipcv_errname(errno));
            break;
        }
    }
    return 0;
}

static int attach_and_remap(struct ipcv_role *self, void *arg)
{
    (void)arg;
    struct race *rc = (struct race *)ipcv_self.page->scratch;
    size_t pg = page_size();
    ipcv_ready(self);
    ipcv_await_release(self);
    double end = now_s() + 0.25;
    for (int round = 0; round < 300 && now_s() < end; round++) {
        int id = shmget(rc->key, pg, IPC_CREAT | 0600);
        void *p = id == -1 ? (void *)-1 : shmat(id, NULL, 0);
        if (p == (void *)-1)
            continue;      /* removed between shmget and shmat */
        int r = 0;
        for (int i = 0; i < 20000 && (r = remap_file_pages(p, pg, 0, 0, 0)) == 0; i++)
            ;
        if (r == -1) {
            atomic_fetch_add(&rc->raced, 1);
            if (errno != EINVAL && errno != EIDRM)
                ipcv_record(IPCV_FAIL, __FILE__, __LINE__,
                            "remap_file_pages after IPC_RMID: expected EINVAL or EIDRM, seen %s",
                            ipcv_errname(errno));
        }
        shmdt(p);   /* may fail: a failed remap already unmapped it */
    }
    atomic_store(&rc->stop, 1);
    return 0;
}

/* remap_file_pages(2) on a SysV attach racing IPC_RMID and re-creation of
 * the same key (kernel fix 3f05317d9889, LTP shmctl05): the remap fails
 * cleanly once the id is gone; no process dies. */
IPCV_CASE(sysv_shm, remap_file_pages_racing_rmid_fails_cleanly,
          .tags = "multi sync crash", .covers = "B096",
          .spec = "remap_file_pages(2); shmctl(2) IPC_RMID",
          .desc = "for 0.25 s one role removes and re-creates a key while another attaches it and remaps the attach until that fails: every failure is EINVAL or EIDRM and both roles exit normally")
{
    struct race *rc = (struct race *)ipcv_self.page->scratch;
    rc->key = ipcv_key(1);
    atomic_store(&rc->stop, 0);
    atomic_store(&rc->raced, 0);
    struct ipcv_role *remover = ipcv_spawn("remover", remove_and_recreate, NULL);
    struct ipcv_role *remapper = ipcv_spawn("remapper", attach_and_remap, NULL);
    ipcv_wait_ready(remover);
    ipcv_wait_ready(remapper);
    ipcv_release(remover);
    ipcv_release(remapper);
    ipcv_join(remapper, IPCV_EXITED(0));
    atomic_store(&rc->stop, 1);
    ipcv_join(remover, IPCV_EXITED(0));
    int left = shmget(rc->key, 0, 0);
    if (left >= 0)
        SAFE_SHMCTL(left, IPC_RMID, NULL);
    if (atomic_load(&rc->raced) == 0)
        ipcv_skip("no remap met a removed id: the roles never ran at the same time");
}
