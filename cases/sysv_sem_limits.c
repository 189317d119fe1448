/* SysV semaphore limits at their boundary. The four fields of
 * /proc/sys/kernel/sem (SEMMSL SEMMNS SEMOPM SEMMNI) belong to the IPC
 * namespace, so each case lowers them in its own sandbox; SEMVMX and
 * SEMAEM are fixed at 32767. */
#define _GNU_SOURCE
#include <sys/sem.h>

#include "ipcvet.h"

union semun { int val; struct semid_ds *buf; unsigned short *array; struct seminfo *__buf; };

/* semget(2) EINVAL: nsems greater than SEMMSL, the per-set limit. */
IPCV_CASE(sysv_sem, semget_beyond_a_lowered_semmsl_fails_einval,
          .tags = "limit", .covers = "B061 B532",
          .spec = "semget(2) EINVAL; proc(5) /proc/sys/kernel/sem",
          .desc = "with SEMMSL lowered to 8 a set of 8 semaphores can be created and a set of 9 fails with EINVAL")
{
    IPCV_SET_LIMIT("semmsl", 8);
    ipcv_expect_fail(EINVAL, semget(IPC_PRIVATE, 9, IPC_CREAT | 0600));
    ipcv_expect_fail(EINVAL, semget(ipcv_key(1), 9, IPC_CREAT | 0600));
    int id = ipcv_expect_ok(semget(ipcv_key(1), 8, IPC_CREAT | 0600));
    if (id >= 0)
        SAFE_SEMCTL(id, 0, IPC_RMID);
}

/* semget(2) ENOSPC: creating the set would exceed SEMMNS, the limit on the
 * number of semaphores in all sets; removing a set gives its share back. */
IPCV_CASE(sysv_sem, semget_beyond_a_lowered_semmns_fails_enospc,
          .tags = "limit cleanup", .covers = "",
          .spec = "semget(2) ENOSPC; proc(5) /proc/sys/kernel/sem",
          .desc = "with SEMMNS lowered to 10, sets of 8 and 2 fit, one more semaphore fails with ENOSPC, and after removing the 8 a set of 3 fits")
{
    IPCV_SET_LIMIT("semmns", 10);
    int a = SAFE_SEMGET(IPC_PRIVATE, 8, IPC_CREAT | 0600);
    ipcv_expect_fail(ENOSPC, semget(IPC_PRIVATE, 3, IPC_CREAT | 0600));
    int b = SAFE_SEMGET(IPC_PRIVATE, 2, IPC_CREAT | 0600);
    ipcv_expect_fail(ENOSPC, semget(IPC_PRIVATE, 1, IPC_CREAT | 0600));
    SAFE_SEMCTL(a, 0, IPC_RMID);
    int c = ipcv_expect_ok(semget(IPC_PRIVATE, 3, IPC_CREAT | 0600));
    if (c >= 0)
        SAFE_SEMCTL(c, 0, IPC_RMID);
    SAFE_SEMCTL(b, 0, IPC_RMID);
}

/* semget(2) ENOSPC: creating the set would exceed SEMMNI, the limit on the
 * number of sets. */
IPCV_CASE(sysv_sem, semget_beyond_a_lowered_semmni_fails_enospc,
          .tags = "limit cleanup", .covers = "B063 B533",
          .spec = "semget(2) ENOSPC; proc(5) /proc/sys/kernel/sem",
          .desc = "with SEMMNI lowered to 3, three sets can be created, a fourth (private or keyed) fails with ENOSPC, and one fits again after a removal")
{
    IPCV_SET_LIMIT("semmni", 3);
    int ids[3];
    for (int i = 0; i < 3; i++)
        ids[i] = SAFE_SEMGET(IPC_PRIVATE, 1, IPC_CREAT | 0600);
    ipcv_expect_fail(ENOSPC, semget(IPC_PRIVATE, 1, IPC_CREAT | 0600));
    ipcv_expect_fail(ENOSPC, semget(ipcv_key(1), 1, IPC_CREAT | 0600));
    SAFE_SEMCTL(ids[0], 0, IPC_RMID);
    ids[0] = ipcv_expect_ok(semget(ipcv_key(1), 1, IPC_CREAT | 0600));
    for (int i = 0; i < 3; i++)
        if (ids[i] >= 0)
            SAFE_SEMCTL(ids[i], 0, IPC_RMID);
}

/* semop(2) E2BIG: nsops is greater than SEMOPM, the number of operations
 * allowed per call; none of them is applied. */
IPCV_CASE(sysv_sem, semop_with_more_operations_than_a_lowered_semopm_fails_e2big,
          .tags = "limit", .covers = "B065",
          .spec = "semop(2) E2BIG; proc(5) /proc/sys/kernel/sem",
          .desc = "with SEMOPM lowered to 4, an array of 4 operations works and one of 5 fails with E2BIG, changing nothing")
{
    IPCV_SET_LIMIT("semopm", 4);
    int id = SAFE_SEMGET(IPC_PRIVATE, 5, IPC_CREAT | 0600);
    struct sembuf ops[5] = { { 0, 1, 0 }, { 1, 1, 0 }, { 2, 1, 0 }, { 3, 1, 0 }, { 4, 1, 0 } };
    ipcv_expect_ok(semop(id, ops, 4));
    ipcv_expect_fail(E2BIG, semop(id, ops, 5));
    struct timespec ts = { 1, 0 };
    ipcv_expect_fail(E2BIG, semtimedop(id, ops, 5, &ts));
    unsigned short v[5];
    SAFE_SEMCTL(id, 0, GETALL, (union semun){ .array = v });
    static const unsigned short want[5] = { 1, 1, 1, 1, 0 };
    ipcv_expect_mem(want, v, sizeof v);
    SAFE_SEMCTL(id, 0, IPC_RMID);
}

/* semop(2) ERANGE; Linux ipc/sem.c: with SEM_UNDO the process's semadj
 * must stay within -(SEMAEM+1)..SEMAEM (SEMAEM = SEMVMX = 32767), or the
 * operation fails with ERANGE like a value overflow. */
IPCV_CASE(sysv_sem, semop_sem_undo_adjustment_beyond_semaem_fails_erange,
          .tags = "limit", .covers = "",
          .spec = "semop(2) ERANGE; semctl(2) IPC_INFO semaem",
          .desc = "adjustments of -32768 and +32767 are accepted; one more unit either way with SEM_UNDO fails with ERANGE though the value itself would fit")
{
    int id = SAFE_SEMGET(IPC_PRIVATE, 2, IPC_CREAT | 0600);
    /* Semaphore 0: semadj down to -32768 (value 32766), then one more. */
    struct sembuf a[] = { { 0, 1, SEM_UNDO }, { 0, -1, 0 }, { 0, 32767, SEM_UNDO }, { 0, -1, 0 } };
    for (size_t i = 0; i < sizeof a / sizeof a[0]; i++)
        SAFE(semop(id, &a[i], 1));
    struct sembuf over = { 0, 1, SEM_UNDO };
    ipcv_expect_fail(ERANGE, semop(id, &over, 1));
    ipcv_expect_eq(32766, semctl(id, 0, GETVAL));
    /* Semaphore 1: semadj up to +32767 (value 1), then one more. */
    SAFE_SEMCTL(id, 1, SETVAL, (union semun){ .val = 32767 });
    struct sembuf b[] = { { 1, -32767, SEM_UNDO }, { 1, 1, 0 } };
    for (size_t i = 0; i < sizeof b / sizeof b[0]; i++)
        SAFE(semop(id, &b[i], 1));
    struct sembuf under = { 1, -1, SEM_UNDO };
    ipcv_expect_fail(ERANGE, semop(id, &under, 1));
    ipcv_expect_eq(1, semctl(id, 1, GETVAL));
    SAFE_SEMCTL(id, 0, IPC_RMID);
}
