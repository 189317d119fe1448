/* SysV shared memory: shmget, shmat, shmdt, shmctl and ftok. */
#define _GNU_SOURCE
#include <sys/shm.h>
#include <unistd.h>

#include "ipcvet.h"

static int attach_then_wait(struct ipcv_role *self, void *arg)
{
    void *p = SAFE_SHMAT(*(int *)arg, NULL, 0);
    ipcv_ready(self);
    ipcv_await_release(self);
    SAFE_SHMDT(p);
    return 0;
}

IPCV_CASE(sysv_shm, rmid_while_attached_lives_until_last_detach,
          .tags = "multi cleanup", .covers = "B456 B112",
          .spec = "shmctl(2) IPC_RMID",
          .desc = "IPC_RMID on an attached segment marks it SHM_DEST; it lives on until the last process detaches, then the id is gone")
{
    int id = SAFE_SHMGET(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    struct ipcv_role *holder = ipcv_spawn("holder", attach_then_wait, &id);
    ipcv_wait_ready(holder);

    struct shmid_ds ds;
    SAFE_SHMCTL(id, IPC_STAT, &ds);
    ipcv_expect_eq(1, ds.shm_nattch);
    int keep = id;
    SAFE_SHMCTL(id, IPC_RMID, NULL);
    SAFE_SHMCTL(keep, IPC_STAT, &ds);
    ipcv_expect_bits(SHM_DEST, ds.shm_perm.mode);

    ipcv_release(holder);
    ipcv_join(holder, IPCV_EXITED(0));
    ipcv_expect_fail(EINVAL, shmctl(keep, IPC_STAT, &ds));
}

