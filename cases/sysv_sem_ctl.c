/* SysV semaphores: semctl, its commands and their errors. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <sys/sem.h>
#include <time.h>
#include <unistd.h>

#include "ipcvet.h"

union semun { int val; struct semid_ds *buf; unsigned short *array; struct seminfo *__buf; };

static int op1(int id, unsigned short num, short op, short flg)
{
    struct sembuf b = { num, op, flg };
    return semop(id, &b, 1);
}

static void setval(int id, int num, int val)
{
    SAFE_SEMCTL(id, num, SETVAL, (union semun){ .val = val });
}

static void stat_set(int id, struct semid_ds *ds)
{
    SAFE_SEMCTL(id, 0, IPC_STAT, (union semun){ .buf = ds });
}

static void become_nobody(void)
{
    if (setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0)
        ipcv_skip("cannot become uid/gid 65534: %s", ipcv_errname(errno));
}

/* semctl(2) GETVAL/SETVAL: SETVAL sets semval of semaphore semnum only. */
IPCV_CASE(sysv_sem, semctl_setval_and_getval_round_trip_per_semaphore,
          .tags = "api", .covers = "B046 B054",
          .spec = "semctl(2) GETVAL SETVAL",
          .desc = "SETVAL 7, 0 and 32767 on three semaphores of a set; GETVAL reads each back and the others are untouched")
{
    int id = SAFE_SEMGET(IPC_PRIVATE, 3, IPC_CREAT | 0600);
    static const int vals[3] = { 7, 0, 32767 };
    for (int i = 0; i < 3; i++)
        ipcv_expect_ok(semctl(id, i, SETVAL, (union semun){ .val = vals[i] }));
    for (int i = 0; i < 3; i++)
        ipcv_expect_eq(vals[i], semctl(id, i, GETVAL));
    setval(id, 1, 4);
    ipcv_expect_eq(7, semctl(id, 0, GETVAL));
    ipcv_expect_eq(4, semctl(id, 1, GETVAL));
    ipcv_expect_eq(32767, semctl(id, 2, GETVAL));
    SAFE_SEMCTL(id, 0, IPC_RMID);
}

/* semctl(2) GETALL/SETALL: every semval of the set at once. */
IPCV_CASE(sysv_sem, semctl_setall_and_getall_round_trip,
          .tags = "api", .covers = "B551 B046",
          .spec = "semctl(2) GETALL SETALL",
          .desc = "GETALL of a new set reads zeros; SETALL {1,2,3,32767} then GETALL and GETVAL read the same values")
{
    int id = SAFE_SEMGET(IPC_PRIVATE, 4, IPC_CREAT | 0600);
    unsigned short v[4] = { 9, 9, 9, 9 };
    ipcv_expect_ok(semctl(id, 0, GETALL, (union semun){ .array = v }));
    static const unsigned short zero[4] = { 0 };
    ipcv_expect_mem(zero, v, sizeof v);
    unsigned short set[4] = { 1, 2, 3, 32767 };
    ipcv_expect_ok(semctl(id, 0, SETALL, (union semun){ .array = set }));
    memset(v, 0, sizeof v);
    ipcv_expect_ok(semctl(id, 0, GETALL, (union semun){ .array = v }));
    ipcv_expect_mem(set, v, sizeof v);
    for (int i = 0; i < 4; i++)
        ipcv_expect_eq(set[i], semctl(id, i, GETVAL));
    SAFE_SEMCTL(id, 0, IPC_RMID);
}

/* semctl(2) EFAULT: the address pointed to by arg.buf or arg.array isn't
 * accessible. */
IPCV_CASE(sysv_sem, semctl_with_a_null_array_or_buffer_fails_efault,
          .tags = "api", .covers = "B552 B050",
          .spec = "semctl(2) EFAULT",
          .desc = "GETALL and SETALL with a NULL array, IPC_STAT and IPC_SET with a NULL buffer fail with EFAULT and change nothing")
{
    int id = SAFE_SEMGET(IPC_PRIVATE, 2, IPC_CREAT | 0600);
    setval(id, 1, 5);
    ipcv_expect_fail(EFAULT, semctl(id, 0, SETALL, (union semun){ .array = NULL }));
    ipcv_expect_fail(EFAULT, semctl(id, 0, GETALL, (union semun){ .array = NULL }));
    ipcv_expect_fail(EFAULT, semctl(id, 0, IPC_STAT, (union semun){ .buf = NULL }));
    ipcv_expect_fail(EFAULT, semctl(id, 0, IPC_SET, (union semun){ .buf = NULL }));
    ipcv_expect_eq(0, semctl(id, 0, GETVAL));
    ipcv_expect_eq(5, semctl(id, 1, GETVAL));
    SAFE_SEMCTL(id, 0, IPC_RMID);
}

static int op_and_read_pid(struct ipcv_role *self, void *arg)
{
    (void)self;
    int id = *(int *)arg;
    ipcv_expect_ok(op1(id, 1, 1, 0));
    /* Read in this process: the kernel gives the pid in our namespace. */
    ipcv_expect_eq(getpid(), semctl(id, 1, GETPID));
    return 0;
}

/* semctl(2) GETPID: the PID of the process that last performed an
 * operation on semaphore semnum (semop, SETVAL and SETALL on Linux). */
IPCV_CASE(sysv_sem, semctl_getpid_reports_the_last_process_to_operate,
          .tags = "multi", .covers = "B553 B054 B046",
          .spec = "semctl(2) GETPID",
          .desc = "GETPID of a new semaphore is 0; after a child's semop it is the child (as each reader names it); after the coordinator's SETVAL or SETALL it is the coordinator")
{
    int id = SAFE_SEMGET(IPC_PRIVATE, 2, IPC_CREAT | 0600);
    ipcv_expect_eq(0, semctl(id, 1, GETPID));
    struct ipcv_role *r = ipcv_spawn("operator", op_and_read_pid, &id);
    ipcv_join(r, IPCV_EXITED(0));
    ipcv_expect_eq(ipcv_role_pid(r), semctl(id, 1, GETPID));
    ipcv_expect_eq(0, semctl(id, 0, GETPID));

    setval(id, 0, 3);
    ipcv_expect_eq(getpid(), semctl(id, 0, GETPID));
    ipcv_expect_eq(ipcv_role_pid(r), semctl(id, 1, GETPID));
    unsigned short all[2] = { 1, 1 };
    SAFE_SEMCTL(id, 0, SETALL, (union semun){ .array = all });
    ipcv_expect_eq(getpid(), semctl(id, 1, GETPID));
    SAFE_SEMCTL(id, 0, IPC_RMID);
}

#define WAITERS 10

static int wait_down(struct ipcv_role *self, void *arg)
{
    ipcv_ready(self);
    ipcv_expect_ok(op1(*(int *)arg, 0, -1, 0));
    return 0;
}

static int wait_zero(struct ipcv_role *self, void *arg)
{
    ipcv_ready(self);
    ipcv_expect_ok(op1(*(int *)arg, 0, 0, 0));
    return 0;
}

static void start_blocked(struct ipcv_role **r, ipcv_role_fn fn, int *id)
{
    for (int i = 0; i < WAITERS; i++) {
        char name[16];
        snprintf(name, sizeof name, "waiter%d", i);
        r[i] = ipcv_spawn(name, fn, id);
    }
    for (int i = 0; i < WAITERS; i++) {
        ipcv_wait_ready(r[i]);
        ipcv_wait_blocked(r[i], "semtimedop");
    }
}

/* semctl(2) GETNCNT: the number of processes waiting for semval of
 * semaphore semnum to increase. */
IPCV_CASE(sysv_sem, semctl_getncnt_counts_processes_blocked_in_a_decrement,
          .tags = "multi", .covers = "B562 B046",
          .spec = "semctl(2) GETNCNT",
          .desc = "ten processes blocked decrementing semaphore 0 give GETNCNT 10 (and GETZCNT 0, GETNCNT 0 on semaphore 1); SETVAL 10 lets all through and GETNCNT is 0")
{
    int id = SAFE_SEMGET(IPC_PRIVATE, 2, IPC_CREAT | 0600);
    struct ipcv_role *r[WAITERS];
    start_blocked(r, wait_down, &id);
    ipcv_expect_eq(WAITERS, semctl(id, 0, GETNCNT));
    ipcv_expect_eq(0, semctl(id, 0, GETZCNT));
    ipcv_expect_eq(0, semctl(id, 1, GETNCNT));
    setval(id, 0, WAITERS);
    for (int i = 0; i < WAITERS; i++)
        ipcv_join(r[i], IPCV_EXITED(0));
    ipcv_expect_eq(0, semctl(id, 0, GETNCNT));
    ipcv_expect_eq(0, semctl(id, 0, GETVAL));
    SAFE_SEMCTL(id, 0, IPC_RMID);
}

/* semctl(2) GETZCNT: the number of processes waiting for semval of
 * semaphore semnum to become 0. */
IPCV_CASE(sysv_sem, semctl_getzcnt_counts_processes_waiting_for_zero,
          .tags = "multi", .covers = "B559 B046",
          .spec = "semctl(2) GETZCNT",
          .desc = "ten processes waiting for zero on a semaphore at 1 give GETZCNT 10 and GETNCNT 0; SETVAL 0 releases them all and GETZCNT is 0")
{
    int id = SAFE_SEMGET(IPC_PRIVATE, 1, IPC_CREAT | 0600);
    setval(id, 0, 1);
    struct ipcv_role *r[WAITERS];
    start_blocked(r, wait_zero, &id);
    ipcv_expect_eq(WAITERS, semctl(id, 0, GETZCNT));
    ipcv_expect_eq(0, semctl(id, 0, GETNCNT));
    setval(id, 0, 0);
    for (int i = 0; i < WAITERS; i++)
        ipcv_join(r[i], IPCV_EXITED(0));
    ipcv_expect_eq(0, semctl(id, 0, GETZCNT));
    SAFE_SEMCTL(id, 0, IPC_RMID);
}

/* semctl(2) IPC_STAT: sem_perm from semget (key, owner and creator ids,
 * mode), sem_nsems, sem_otime 0 until the first semop, sem_ctime the
 * creation time; the kernel zeroes the unused high/reserved words. */
IPCV_CASE(sysv_sem, semctl_ipc_stat_reports_the_creation_fields,
          .tags = "api", .covers = "B555 B570 B055 B046",
          .spec = "semctl(2) IPC_STAT; semget(2)",
          .desc = "IPC_STAT of a new 3-semaphore 0640 set reports its key, uid/gid/cuid/cgid of the creator, mode 0640, nsems 3, otime 0, ctime now, and zero padding words")
{
    time_t before = time(NULL);
    int id = SAFE_SEMGET(ipcv_key(1), 3, IPC_CREAT | IPC_EXCL | 0640);
    time_t after = time(NULL);
    struct semid_ds ds;
    memset(&ds, 0xa5, sizeof ds);
    ipcv_expect_ok(semctl(id, 0, IPC_STAT, (union semun){ .buf = &ds }));
    ipcv_expect_eq(ipcv_key(1), ds.sem_perm.__key);
    ipcv_expect_eq(geteuid(), ds.sem_perm.uid);
    ipcv_expect_eq(getegid(), ds.sem_perm.gid);
    ipcv_expect_eq(geteuid(), ds.sem_perm.cuid);
    ipcv_expect_eq(getegid(), ds.sem_perm.cgid);
    ipcv_expect_eq(0640, ds.sem_perm.mode & 0777);
    ipcv_expect_eq(3, ds.sem_nsems);
    ipcv_expect_eq(0, ds.sem_otime);
    ipcv_expect_true(ds.sem_ctime >= before && ds.sem_ctime <= after,
                     "sem_ctime %lld outside [%lld, %lld]", (long long)ds.sem_ctime,
                     (long long)before, (long long)after);
    ipcv_expect_eq(0, ds.__sem_otime_high);
    ipcv_expect_eq(0, ds.__sem_ctime_high);
    ipcv_expect_eq(0, ds.__glibc_reserved3);
    ipcv_expect_eq(0, ds.__glibc_reserved4);
    SAFE_SEMCTL(id, 0, IPC_RMID);
}

/* semctl(2) IPC_STAT: sem_otime is the time of the last semop; sem_ctime
 * the last change by semctl (IPC_SET, SETVAL). Checked against the second
 * each call ran in (no delay: an unchanged second cannot be told apart). */
IPCV_CASE(sysv_sem, semctl_ipc_stat_times_follow_semop_and_semctl_changes,
          .tags = "api", .covers = "B556 B054",
          .spec = "semctl(2) IPC_STAT sem_otime sem_ctime",
          .desc = "sem_otime is 0 until a semop and then the time of that semop; SETVAL and IPC_SET leave sem_otime and set sem_ctime to their own time")
{
    int id = SAFE_SEMGET(IPC_PRIVATE, 1, IPC_CREAT | 0600);
    struct semid_ds ds;
    stat_set(id, &ds);
    ipcv_expect_eq(0, ds.sem_otime);
    setval(id, 0, 2);
    stat_set(id, &ds);
    ipcv_expect_eq(0, ds.sem_otime);

    time_t before = time(NULL);
    ipcv_expect_ok(op1(id, 0, -1, 0));
    time_t after = time(NULL);
    stat_set(id, &ds);
    ipcv_expect_true(ds.sem_otime >= before && ds.sem_otime <= after,
                     "sem_otime %lld outside [%lld, %lld] after semop", (long long)ds.sem_otime,
                     (long long)before, (long long)after);
    time_t otime = ds.sem_otime;

    before = time(NULL);
    ds.sem_perm.mode = 0660;
    SAFE_SEMCTL(id, 0, IPC_SET, (union semun){ .buf = &ds });
    after = time(NULL);
    stat_set(id, &ds);
    ipcv_expect_true(ds.sem_ctime >= before && ds.sem_ctime <= after,
                     "sem_ctime %lld outside [%lld, %lld] after IPC_SET", (long long)ds.sem_ctime,
                     (long long)before, (long long)after);
    ipcv_expect_eq(otime, ds.sem_otime);
    SAFE_SEMCTL(id, 0, IPC_RMID);
}

static int stat_as_new_owner(struct ipcv_role *self, void *arg)
{
    (void)self;
    int id = *(int *)arg;
    become_nobody();
    struct semid_ds ds;
    ipcv_expect_ok(semctl(id, 0, IPC_STAT, (union semun){ .buf = &ds }));
    ds.sem_perm.mode = 0600;
    ipcv_expect_ok(semctl(id, 0, IPC_SET, (union semun){ .buf = &ds }));
    ipcv_expect_ok(op1(id, 0, 1, IPC_NOWAIT));
    return 0;
}

/* semctl(2) IPC_SET: copies sem_perm.uid, sem_perm.gid and the least
 * significant 9 bits of sem_perm.mode; the creator ids stay. */
IPCV_CASE(sysv_sem, semctl_ipc_set_changes_owner_and_mode_but_not_the_creator,
          .tags = "api multi", .covers = "B046",
          .spec = "semctl(2) IPC_SET",
          .desc = "IPC_SET to uid/gid 65534 and mode 0177640 stores mode 0640 and the new owner, keeps cuid/cgid; the new owner may then stat, set and operate")
{
    int id = SAFE_SEMGET(IPC_PRIVATE, 1, IPC_CREAT | 0600);
    struct semid_ds ds;
    stat_set(id, &ds);
    ds.sem_perm.uid = 65534;
    ds.sem_perm.gid = 65534;
    ds.sem_perm.mode = 0177640;
    ipcv_expect_ok(semctl(id, 0, IPC_SET, (union semun){ .buf = &ds }));
    memset(&ds, 0, sizeof ds);
    stat_set(id, &ds);
    ipcv_expect_eq(65534, ds.sem_perm.uid);
    ipcv_expect_eq(65534, ds.sem_perm.gid);
    ipcv_expect_eq(geteuid(), ds.sem_perm.cuid);
    ipcv_expect_eq(getegid(), ds.sem_perm.cgid);
    ipcv_expect_eq(0640, ds.sem_perm.mode);
    ipcv_join(ipcv_spawn("owner", stat_as_new_owner, &id), IPCV_EXITED(0));
    ipcv_expect_eq(1, semctl(id, 0, GETVAL));
    SAFE_SEMCTL(id, 0, IPC_RMID);
}

struct noperm { int id; int index; };

static int read_without_permission(struct ipcv_role *self, void *arg)
{
    (void)self;
    const struct noperm *np = arg;
    become_nobody();
    struct semid_ds ds;
    unsigned short all[2] = { 1, 1 };
    static const int readers[] = { GETVAL, GETPID, GETNCNT, GETZCNT };
    for (size_t i = 0; i < sizeof readers / sizeof readers[0]; i++)
        ipcv_expect_true(semctl(np->id, 0, readers[i]) == -1 && errno == EACCES,
                         "semctl cmd %d without read permission: expected EACCES, seen %s",
                         readers[i], ipcv_errname(errno));
    ipcv_expect_fail(EACCES, semctl(np->id, 0, IPC_STAT, (union semun){ .buf = &ds }));
    ipcv_expect_fail(EACCES, semctl(np->index, 0, SEM_STAT, (union semun){ .buf = &ds }));
    ipcv_expect_fail(EACCES, semctl(np->id, 0, GETALL, (union semun){ .array = all }));
    ipcv_expect_fail(EACCES, semctl(np->id, 0, SETVAL, (union semun){ .val = 1 }));
    ipcv_expect_fail(EACCES, semctl(np->id, 0, SETALL, (union semun){ .array = all }));
    return 0;
}

/* semctl(2) EACCES: IPC_STAT, SEM_STAT, GETALL, GETPID, GETVAL, GETNCNT and
 * GETZCNT need read permission, SETVAL and SETALL alter permission. */
IPCV_CASE(sysv_sem, semctl_commands_without_permission_fail_eacces,
          .tags = "api multi", .covers = "B047 B557 B558 B562 B566",
          .spec = "semctl(2) EACCES",
          .desc = "another uid without any permission on a 0600 set gets EACCES from every reading command and from SETVAL and SETALL; the values stay 0")
{
    struct noperm np = { .id = SAFE_SEMGET(IPC_PRIVATE, 2, IPC_CREAT | 0600) };
    struct seminfo si;
    np.index = SAFE(semctl(0, 0, SEM_INFO, (union semun){ .__buf = &si }));
    ipcv_join(ipcv_spawn("nobody", read_without_permission, &np), IPCV_EXITED(0));
    ipcv_expect_eq(0, semctl(np.id, 0, GETVAL));
    SAFE_SEMCTL(np.id, 0, IPC_RMID);
}

static int change_without_ownership(struct ipcv_role *self, void *arg)
{
    (void)self;
    int id = *(int *)arg;
    become_nobody();
    struct semid_ds ds;
    ipcv_expect_ok(semctl(id, 0, IPC_STAT, (union semun){ .buf = &ds }));
    ds.sem_perm.mode = 0666;
    ipcv_expect_fail(EPERM, semctl(id, 0, IPC_SET, (union semun){ .buf = &ds }));
    ipcv_expect_fail(EPERM, semctl(id, 0, IPC_RMID));
    return 0;
}

/* semctl(2) EPERM: IPC_SET or IPC_RMID by a process that is neither the
 * creator nor the owner and lacks CAP_SYS_ADMIN, even with full mode bits. */
IPCV_CASE(sysv_sem, semctl_ipc_set_and_ipc_rmid_by_a_non_owner_fail_eperm,
          .tags = "api multi", .covers = "B051",
          .spec = "semctl(2) EPERM",
          .desc = "another uid may read a 0666 set but IPC_SET and IPC_RMID fail with EPERM; the set and its mode are unchanged")
{
    int id = SAFE_SEMGET(IPC_PRIVATE, 1, IPC_CREAT | 0666);
    ipcv_join(ipcv_spawn("nobody", change_without_ownership, &id), IPCV_EXITED(0));
    struct semid_ds ds;
    ipcv_expect_ok(semctl(id, 0, IPC_STAT, (union semun){ .buf = &ds }));
    ipcv_expect_eq(0666, ds.sem_perm.mode & 0777);
    SAFE_SEMCTL(id, 0, IPC_RMID);
}

/* semctl(2) EINVAL: invalid semid; IPC_RMID of a removed set included. */
IPCV_CASE(sysv_sem, semctl_on_an_invalid_or_removed_id_fails_einval,
          .tags = "api cleanup", .covers = "B049 B557 B568",
          .spec = "semctl(2) EINVAL",
          .desc = "IPC_STAT, GETVAL and IPC_RMID on semid -1 and on a removed set fail with EINVAL")
{
    int id = SAFE_SEMGET(IPC_PRIVATE, 1, IPC_CREAT | 0600);
    int gone = id;
    SAFE_SEMCTL(id, 0, IPC_RMID);
    struct semid_ds ds;
    const int ids[2] = { -1, gone };
    for (int i = 0; i < 2; i++) {
        ipcv_expect_fail(EINVAL, semctl(ids[i], 0, IPC_STAT, (union semun){ .buf = &ds }));
        ipcv_expect_fail(EINVAL, semctl(ids[i], 0, GETVAL));
        ipcv_expect_fail(EINVAL, semctl(ids[i], 0, IPC_RMID));
    }
}

/* semctl(2) EINVAL: invalid value for cmd; the commands are 0-3 and 11-20
 * on Linux, 21 is the first unused one. */
IPCV_CASE(sysv_sem, semctl_with_an_unknown_command_fails_einval,
          .tags = "api", .covers = "B048 B569",
          .spec = "semctl(2) EINVAL",
          .desc = "semctl with cmd -1, 4, 10, 21 (first unused) and 1000 fails with EINVAL")
{
    int id = SAFE_SEMGET(IPC_PRIVATE, 1, IPC_CREAT | 0600);
    static const int cmds[] = { -1, 4, 10, 21, 1000 };
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        errno = 0;
        int rc = semctl(id, 0, cmds[i], (union semun){ .val = 0 });
        ipcv_expect_true(rc == -1 && errno == EINVAL, "semctl cmd %d: expected EINVAL, seen %d (%s)",
                         cmds[i], rc, ipcv_errname(errno));
    }
    SAFE_SEMCTL(id, 0, IPC_RMID);
}

/* semctl(2) ERANGE: SETVAL or SETALL with a value less than 0 or greater
 * than SEMVMX (32767); SETALL checks every value before setting any. */
IPCV_CASE(sysv_sem, semctl_setval_or_setall_out_of_range_fails_erange,
          .tags = "api limit", .covers = "B052",
          .spec = "semctl(2) ERANGE",
          .desc = "SETVAL -1 and 32768, and SETALL {5, 32768}, fail with ERANGE and leave every value as it was; SETVAL 32767 works")
{
    int id = SAFE_SEMGET(IPC_PRIVATE, 2, IPC_CREAT | 0600);
    setval(id, 0, 3);
    ipcv_expect_fail(ERANGE, semctl(id, 0, SETVAL, (union semun){ .val = -1 }));
    ipcv_expect_fail(ERANGE, semctl(id, 0, SETVAL, (union semun){ .val = 32768 }));
    unsigned short all[2] = { 5, 32768 };
    ipcv_expect_fail(ERANGE, semctl(id, 0, SETALL, (union semun){ .array = all }));
    ipcv_expect_eq(3, semctl(id, 0, GETVAL));
    ipcv_expect_eq(0, semctl(id, 1, GETVAL));
    ipcv_expect_ok(semctl(id, 1, SETVAL, (union semun){ .val = 32767 }));
    ipcv_expect_eq(32767, semctl(id, 1, GETVAL));
    SAFE_SEMCTL(id, 0, IPC_RMID);
}

static int adjust_then_wait(struct ipcv_role *self, void *arg)
{
    int id = *(int *)arg;
    struct sembuf up[2] = { { 0, 1, SEM_UNDO }, { 1, 1, SEM_UNDO } };
    SAFE(semop(id, up, 2));
    ipcv_ready(self);
    ipcv_await_release(self);
    return 0;
}

/* semctl(2) SETVAL: "Undo entries for the modified semaphore are cleared in
 * all processes", so the exit of a process that had adjusted it leaves the
 * value set. Other semaphores keep their adjustment. */
IPCV_CASE(sysv_sem, semctl_setval_clears_sem_undo_adjustments_in_every_process,
          .tags = "multi cleanup", .covers = "B046",
          .spec = "semctl(2) SETVAL",
          .desc = "a process adds 1 with SEM_UNDO to semaphores 0 and 1; after SETVAL 5 on semaphore 0 its exit leaves 5 there, while semaphore 1 is undone to 0")
{
    int id = SAFE_SEMGET(IPC_PRIVATE, 2, IPC_CREAT | 0600);
    struct ipcv_role *r = ipcv_spawn("adjuster", adjust_then_wait, &id);
    ipcv_wait_ready(r);
    setval(id, 0, 5);
    ipcv_release(r);
    ipcv_join(r, IPCV_EXITED(0));
    ipcv_expect_eq(5, semctl(id, 0, GETVAL));
    ipcv_expect_eq(0, semctl(id, 1, GETVAL));
    SAFE_SEMCTL(id, 0, IPC_RMID);
}

/* semctl(2) IPC_INFO: struct seminfo with the limits of the IPC namespace
 * (the four fields of /proc/sys/kernel/sem), SEMVMX and SEMAEM; the return
 * is the highest used index. */
IPCV_CASE(sysv_sem, semctl_ipc_info_reports_the_namespace_limits,
          .tags = "api limit", .covers = "B565 B571",
          .spec = "semctl(2) IPC_INFO; proc(5) /proc/sys/kernel/sem",
          .desc = "after lowering semmsl to 100 and semopm to 50, IPC_INFO reports 100, semmns, 50, semmni as in /proc/sys/kernel/sem, semvmx and semaem 32767, and returns the highest index in use")
{
    IPCV_SET_LIMIT("semmsl", 100);
    IPCV_SET_LIMIT("semopm", 50);
    int id0 = SAFE_SEMGET(IPC_PRIVATE, 1, IPC_CREAT | 0600);
    int id1 = SAFE_SEMGET(IPC_PRIVATE, 1, IPC_CREAT | 0600);
    struct seminfo si;
    memset(&si, 0, sizeof si);
    int top = ipcv_expect_ok(semctl(0, 0, IPC_INFO, (union semun){ .__buf = &si }));
    ipcv_expect_eq(100, si.semmsl);
    ipcv_expect_eq(IPCV_GET_LIMIT("semmns"), si.semmns);
    ipcv_expect_eq(50, si.semopm);
    ipcv_expect_eq(IPCV_GET_LIMIT("semmni"), si.semmni);
    ipcv_expect_eq(32767, si.semvmx);
    ipcv_expect_eq(32767, si.semaem);
    /* A fresh namespace hands out indices from 0 and ids equal to them. */
    ipcv_expect_eq(id1 % 32768, top);
    SAFE_SEMCTL(id0, 0, IPC_RMID);
    SAFE_SEMCTL(id1, 0, IPC_RMID);
}

/* semctl(2) SEM_INFO: as IPC_INFO, but semusz is the number of sets in use
 * and semaem the number of semaphores in all of them. */
IPCV_CASE(sysv_sem, semctl_sem_info_counts_sets_and_semaphores_in_use,
          .tags = "api", .covers = "B565",
          .spec = "semctl(2) SEM_INFO",
          .desc = "with sets of 3 and 5 semaphores SEM_INFO reports semusz 2 and semaem 8; after removing the first, 1 and 5")
{
    struct seminfo si;
    memset(&si, 0, sizeof si);
    ipcv_expect_ok(semctl(0, 0, SEM_INFO, (union semun){ .__buf = &si }));
    ipcv_expect_eq(0, si.semusz);
    ipcv_expect_eq(0, si.semaem);
    int a = SAFE_SEMGET(IPC_PRIVATE, 3, IPC_CREAT | 0600);
    int b = SAFE_SEMGET(IPC_PRIVATE, 5, IPC_CREAT | 0600);
    ipcv_expect_ok(semctl(0, 0, SEM_INFO, (union semun){ .__buf = &si }));
    ipcv_expect_eq(2, si.semusz);
    ipcv_expect_eq(8, si.semaem);
    SAFE_SEMCTL(a, 0, IPC_RMID);
    ipcv_expect_ok(semctl(0, 0, SEM_INFO, (union semun){ .__buf = &si }));
    ipcv_expect_eq(1, si.semusz);
    ipcv_expect_eq(5, si.semaem);
    SAFE_SEMCTL(b, 0, IPC_RMID);
}

/* semctl(2) SEM_STAT: semid is an index into the kernel's array; the call
 * returns the identifier of the set at that index and its semid_ds. */
IPCV_CASE(sysv_sem, semctl_sem_stat_by_index_returns_the_id_and_the_same_data,
          .tags = "api", .covers = "B566 B572",
          .spec = "semctl(2) SEM_STAT",
          .desc = "scanning indices 0..SEM_INFO's highest finds both sets created, each SEM_STAT returning the identifier and the key, mode and nsems IPC_STAT gives; a free index is EINVAL")
{
    int ids[2] = { SAFE_SEMGET(ipcv_key(1), 2, IPC_CREAT | 0600),
                   SAFE_SEMGET(ipcv_key(2), 3, IPC_CREAT | 0640) };
    struct seminfo si;
    int top = SAFE(semctl(0, 0, SEM_INFO, (union semun){ .__buf = &si }));
    int found = 0;
    for (int idx = 0; idx <= top; idx++) {
        struct semid_ds by_index, by_id;
        int id = semctl(idx, 0, SEM_STAT, (union semun){ .buf = &by_index });
        if (id < 0)
            continue;
        for (int k = 0; k < 2; k++) {
            if (id != ids[k])
                continue;
            found |= 1 << k;
            stat_set(id, &by_id);
            ipcv_expect_eq(by_id.sem_perm.__key, by_index.sem_perm.__key);
            ipcv_expect_eq(by_id.sem_perm.mode, by_index.sem_perm.mode);
            ipcv_expect_eq(by_id.sem_nsems, by_index.sem_nsems);
            ipcv_expect_eq(by_id.sem_ctime, by_index.sem_ctime);
        }
    }
    ipcv_expect_eq(3, found);
    struct semid_ds ds;
    ipcv_expect_fail(EINVAL, semctl(top + 1, 0, SEM_STAT, (union semun){ .buf = &ds }));
    SAFE_SEMCTL(ids[0], 0, IPC_RMID);
    SAFE_SEMCTL(ids[1], 0, IPC_RMID);
}

struct stat_any { int id; int index; key_t key; char proc_line[256]; };

static int stat_any_as_nobody(struct ipcv_role *self, void *arg)
{
    (void)self;
    const struct stat_any *sa = arg;
    become_nobody();
    struct semid_ds ds;
    ipcv_expect_fail(EACCES, semctl(sa->index, 0, SEM_STAT, (union semun){ .buf = &ds }));
    memset(&ds, 0, sizeof ds);
    int id = semctl(sa->index, 0, SEM_STAT_ANY, (union semun){ .buf = &ds });
    ipcv_expect_eq(sa->id, id);
    /* /proc/sysvipc/sem: key semid perms nsems uid gid cuid cgid otime ctime */
    long key, semid, nsems, uid;
    unsigned perms;
    int n = sscanf(sa->proc_line, "%ld %ld %o %ld %ld", &key, &semid, &perms, &nsems, &uid);
    ipcv_expect_eq(5, n);
    ipcv_expect_eq(key, ds.sem_perm.__key);
    ipcv_expect_eq(semid, id);
    ipcv_expect_eq(perms, ds.sem_perm.mode & 0777);
    ipcv_expect_eq(nsems, ds.sem_nsems);
    ipcv_expect_eq(uid, ds.sem_perm.uid);
    return 0;
}

/* semctl(2) SEM_STAT_ANY (Linux 4.17): like SEM_STAT without the read
 * permission check; its data match /proc/sysvipc/sem. */
IPCV_CASE(sysv_sem, semctl_sem_stat_any_ignores_read_permission,
          .tags = "api multi", .covers = "B567 B056 B572",
          .spec = "semctl(2) SEM_STAT_ANY; proc(5) /proc/sysvipc",
          .desc = "another uid gets EACCES from SEM_STAT on a 0600 set but the identifier from SEM_STAT_ANY, with key, mode, nsems and uid as /proc/sysvipc/sem lists them")
{
    struct stat_any sa = { .key = ipcv_key(1) };
    sa.id = SAFE_SEMGET(sa.key, 4, IPC_CREAT | 0600);
    struct seminfo si;
    sa.index = SAFE(semctl(0, 0, SEM_INFO, (union semun){ .__buf = &si }));
    FILE *f = SAFE_PTR(fopen("/proc/sysvipc/sem", "re"));
    char line[256];
    while (fgets(line, sizeof line, f)) {
        long key, semid;
        if (sscanf(line, "%ld %ld", &key, &semid) == 2 && semid == sa.id)
            snprintf(sa.proc_line, sizeof sa.proc_line, "%s", line);
    }
    fclose(f);
    ipcv_expect_true(sa.proc_line[0], "set %d is not listed in /proc/sysvipc/sem", sa.id);
    ipcv_join(ipcv_spawn("nobody", stat_any_as_nobody, &sa), IPCV_EXITED(0));
    SAFE_SEMCTL(sa.id, 0, IPC_RMID);
}
