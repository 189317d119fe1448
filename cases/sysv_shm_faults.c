/* SysV shared memory when a process fails or dies at a chosen call. A role
 * arms a plan of the faults layer (faults/faults.h) in its own process, so
 * its own shmat fails, or it is SIGKILLed right after shmget or shmat
 * returned; the coordinator checks what the kernel kept. */
#define _GNU_SOURCE
#include <signal.h>
#include <sys/shm.h>
#include <time.h>
#include <unistd.h>

#include "faults.h"
#include "ipcvet.h"

#define ARM(plan) arm_at(__FILE__, __LINE__, plan)
static void arm_at(const char *file, int line, const char *plan)
{
    char err[256];
    if (ipcv_faults_arm(plan, err, sizeof err) < 0)
        ipcv_brk(file, line, "cannot arm '%s': %s", plan, err);
}

/* Attaches once, says ready, then attaches again: killed right after that
 * second shmat returns. */
static int attach_then_die_on_second_attach(struct ipcv_role *self, void *arg)
{
    int id = *(int *)arg;
    ARM("shmat:crash_after:when=2");
    SAFE_SHMAT(id, NULL, 0);
    ipcv_ready(self);
    ipcv_await_release(self);
    shmat(id, NULL, 0);
    ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "still alive after the second shmat");
    return 0;
}

/* shmctl(2) IPC_RMID: the segment is destroyed "after the last process has
 * detached it"; exit(2) detaches. Linux also lets a process attach a marked
 * segment while others still have it attached. */
IPCV_CASE(sysv_shm, shmat_crash_after_with_rmid_pending_frees_segment,
          .tags = "multi crash fault cleanup", .covers = "B457 B458",
          .spec = "shmctl(2) IPC_RMID; shmat(2); exit(2)",
          .desc = "the last attacher of a segment marked with IPC_RMID, killed right after it "
                  "attached once more, takes the segment with it")
{
    int id = SAFE_SHMGET(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    int keep = id;
    struct ipcv_role *r = ipcv_spawn("attacher", attach_then_die_on_second_attach, &keep);
    ipcv_wait_ready(r);
    void *mine = SAFE_SHMAT(id, NULL, 0);   /* after the fork: not inherited */

    SAFE_SHMCTL(id, IPC_RMID, NULL);
    SAFE_SHMDT(mine);                          /* the role is the last attacher */
    struct shmid_ds ds;
    SAFE_SHMCTL(keep, IPC_STAT, &ds);
    ipcv_expect_eq(1, ds.shm_nattch);
    ipcv_expect_bits(SHM_DEST, ds.shm_perm.mode);

    ipcv_release(r);
    ipcv_join(r, IPCV_KILLED(SIGKILL));
    ipcv_expect_fail(EINVAL, shmctl(keep, IPC_STAT, &ds));
}

static int attach_and_die(struct ipcv_role *self, void *arg)
{
    (void)self;
    ARM("shmat:crash_after");
    shmat(*(int *)arg, NULL, 0);
    ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "still alive after shmat");
    return 0;
}

/* shmat(2): "Upon _exit(2) all attached shared memory segments are
 * detached"; the detach is the last operation, so shm_lpid names the dead
 * process and shm_dtime is set. */
IPCV_CASE(sysv_shm, shmat_crash_after_is_detached_by_exit,
          .tags = "multi crash fault", .covers = "B088 B451",
          .spec = "shmat(2) NOTES; shmctl(2) IPC_STAT",
          .desc = "a process killed right after shmat is detached by its exit: nattch is 0 "
                  "again and shm_lpid names the dead process")
{
    time_t start = time(NULL);
    int id = SAFE_SHMGET(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    struct ipcv_role *r = ipcv_spawn("attacher", attach_and_die, &id);
    ipcv_join(r, IPCV_KILLED(SIGKILL));

    struct shmid_ds ds;
    SAFE_SHMCTL(id, IPC_STAT, &ds);
    ipcv_expect_eq(0, ds.shm_nattch);
    ipcv_expect_eq(ipcv_role_pid(r), ds.shm_lpid);
    ipcv_expect_true(ds.shm_atime >= start && ds.shm_dtime >= ds.shm_atime,
                     "attach and detach times: atime %ld, dtime %ld, start %ld",
                     (long)ds.shm_atime, (long)ds.shm_dtime, (long)start);
    SAFE_SHMCTL(id, IPC_RMID, NULL);
}

/* Its first shmat fails with ENOMEM (injected), the second works. */
static int attach_after_enomem(struct ipcv_role *self, void *arg)
{
    int id = *(int *)arg;
    ARM("shmat:error=ENOMEM:when=1");
    ipcv_expect_fail(ENOMEM, shmat(id, NULL, 0));
    void *p = SAFE_SHMAT(id, NULL, 0);
    ipcv_ready(self);
    ipcv_await_release(self);
    SAFE_SHMDT(p);
    return 0;
}

/* shmat(2): on error it returns (void *) -1 and attaches nothing, so
 * shm_nattch counts only the attaches that succeeded. */
IPCV_CASE(sysv_shm, role_shmat_enomem_attaches_nothing,
          .tags = "multi fault", .covers = "B444",
          .spec = "shmat(2) RETURN VALUE; shmctl(2) shm_nattch",
          .desc = "a role whose shmat fails with ENOMEM attaches nothing: nattch counts the "
                  "coordinator and the role's later successful attach only")
{
    int id = SAFE_SHMGET(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    struct ipcv_role *r = ipcv_spawn("attacher", attach_after_enomem, &id);
    ipcv_wait_ready(r);
    void *mine = SAFE_SHMAT(id, NULL, 0);   /* after the fork: not inherited */

    struct shmid_ds ds;
    SAFE_SHMCTL(id, IPC_STAT, &ds);
    ipcv_expect_eq(2, ds.shm_nattch);
    ipcv_release(r);
    ipcv_join(r, IPCV_EXITED(0));
    SAFE_SHMCTL(id, IPC_STAT, &ds);
    ipcv_expect_eq(1, ds.shm_nattch);
    SAFE_SHMDT(mine);
    SAFE_SHMCTL(id, IPC_RMID, NULL);
}

static int create_and_die(struct ipcv_role *self, void *arg)
{
    (void)self;
    ARM("shmget:crash_after");
    shmget(*(key_t *)arg, 4096, IPC_CREAT | IPC_EXCL | 0600);
    ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "still alive after shmget");
    return 0;
}

/* shmget(2)/shmctl(2): a segment outlives the process that created it
 * (kernel.shm_rmid_forced is 0 by default); its key finds it again and
 * IPC_STAT names the dead creator, with nothing attached yet. */
IPCV_CASE(sysv_shm, shmget_crash_after_leaves_segment_to_its_key,
          .tags = "multi crash fault cleanup", .covers = "B445 B450",
          .spec = "shmget(2); shmctl(2) IPC_STAT shm_cpid, shm_lpid",
          .desc = "a creator killed right after shmget leaves the segment: its key finds it, "
                  "shm_cpid names the dead creator, shm_lpid and nattch are 0")
{
    key_t key = ipcv_key(1);
    struct ipcv_role *r = ipcv_spawn("creator", create_and_die, &key);
    ipcv_join(r, IPCV_KILLED(SIGKILL));

    int id = (int)ipcv_expect_ok(shmget(key, 0, 0));
    if (id < 0)
        return;
    struct shmid_ds ds;
    SAFE_SHMCTL(id, IPC_STAT, &ds);
    ipcv_expect_eq(ipcv_role_pid(r), ds.shm_cpid);
    ipcv_expect_eq(0, ds.shm_lpid);
    ipcv_expect_eq(0, ds.shm_nattch);
    SAFE_SHMCTL(id, IPC_RMID, NULL);
}
