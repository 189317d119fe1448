/* SysV semaphores: semget, and semop/semtimedop calls that do not block.
 * semctl is in sysv_sem_ctl.c, blocking and wake-ups in sysv_sem_block.c. */
#define _GNU_SOURCE
#include <sys/mman.h>
#include <sys/sem.h>
#include <time.h>
#include <unistd.h>

#include "ipcvet.h"

/* glibc leaves union semun to the caller (semctl(2)). */
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

static void become_nobody(void)
{
    if (setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0)
        ipcv_skip("cannot become uid/gid 65534: %s", ipcv_errname(errno));
}

/* semget(2) NOTES: Linux initialises the values of a new set to 0 (POSIX
 * leaves them indeterminate); IPC_STAT reports the number asked for. */
IPCV_CASE(sysv_sem, semget_creates_a_set_whose_values_start_at_zero,
          .tags = "api", .covers = "B057",
          .spec = "semget(2)",
          .desc = "semget with IPC_CREAT makes a set of nsems semaphores, each with value 0 on Linux")
{
    int id = SAFE_SEMGET(ipcv_key(1), 4, IPC_CREAT | IPC_EXCL | 0600);
    struct semid_ds ds;
    SAFE_SEMCTL(id, 0, IPC_STAT, (union semun){ .buf = &ds });
    ipcv_expect_eq(4, ds.sem_nsems);
    unsigned short vals[4] = { 9, 9, 9, 9 };
    SAFE_SEMCTL(id, 0, GETALL, (union semun){ .array = vals });
    for (int i = 0; i < 4; i++) {
        ipcv_expect_eq(0, vals[i]);
        ipcv_expect_eq(0, semctl(id, i, GETVAL));
    }
    SAFE_SEMCTL(id, 0, IPC_RMID);
}

/* semget(2): an existing key is looked up when nsems is no larger than the
 * set's size (0 is "don't care"); the same identifier comes back. */
IPCV_CASE(sysv_sem, semget_lookup_with_equal_or_fewer_nsems_returns_the_same_id,
          .tags = "api", .covers = "B528",
          .spec = "semget(2)",
          .desc = "semget on an existing key with nsems equal to, smaller than or 0 returns the set's identifier")
{
    int id = SAFE_SEMGET(ipcv_key(1), 4, IPC_CREAT | IPC_EXCL | 0600);
    ipcv_expect_eq(id, semget(ipcv_key(1), 4, 0600));
    ipcv_expect_eq(id, semget(ipcv_key(1), 1, 0600));
    ipcv_expect_eq(id, semget(ipcv_key(1), 0, 0));
    ipcv_expect_eq(id, semget(ipcv_key(1), 2, IPC_CREAT | 0600));
    SAFE_SEMCTL(id, 0, IPC_RMID);
}

/* semget(2) EINVAL: a set exists for key, but nsems is larger than the
 * number of semaphores in that set. */
IPCV_CASE(sysv_sem, semget_lookup_with_more_nsems_than_the_set_fails_einval,
          .tags = "api", .covers = "B062 B529",
          .spec = "semget(2) EINVAL",
          .desc = "semget on an existing key asking for more semaphores than the set has fails with EINVAL, with or without IPC_CREAT")
{
    int id = SAFE_SEMGET(ipcv_key(1), 2, IPC_CREAT | IPC_EXCL | 0600);
    ipcv_expect_fail(EINVAL, semget(ipcv_key(1), 3, 0600));
    ipcv_expect_fail(EINVAL, semget(ipcv_key(1), 3, IPC_CREAT | 0600));
    SAFE_SEMCTL(id, 0, IPC_RMID);
}

/* semget(2) EEXIST: IPC_CREAT and IPC_EXCL were given and a set exists
 * for key. */
IPCV_CASE(sysv_sem, semget_creat_excl_on_an_existing_key_fails_eexist,
          .tags = "api", .covers = "B059 B531",
          .spec = "semget(2) EEXIST",
          .desc = "semget(key, n, IPC_CREAT|IPC_EXCL) on a key that already names a set fails with EEXIST")
{
    int id = SAFE_SEMGET(ipcv_key(1), 1, IPC_CREAT | IPC_EXCL | 0600);
    ipcv_expect_fail(EEXIST, semget(ipcv_key(1), 1, IPC_CREAT | IPC_EXCL | 0600));
    SAFE_SEMCTL(id, 0, IPC_RMID);
}

/* semget(2) ENOENT: no set exists for key and IPC_CREAT was not given. */
IPCV_CASE(sysv_sem, semget_missing_key_without_ipc_creat_fails_enoent,
          .tags = "api", .covers = "B060 B531",
          .spec = "semget(2) ENOENT",
          .desc = "semget on a key with no set and without IPC_CREAT fails with ENOENT and creates nothing")
{
    ipcv_expect_fail(ENOENT, semget(ipcv_key(1), 1, 0600));
    ipcv_expect_fail(ENOENT, semget(ipcv_key(1), 0, 0));
    ipcv_expect_fail(ENOENT, semget(ipcv_key(1), 1, IPC_EXCL | 0600));
}

/* semget(2) EINVAL: nsems is less than 0 or greater than SEMMSL, or 0 when
 * a set is to be created. */
IPCV_CASE(sysv_sem, semget_nsems_out_of_range_fails_einval,
          .tags = "api limit", .covers = "B061 B530 B532",
          .spec = "semget(2) EINVAL",
          .desc = "creating a set with nsems -1, 0 or SEMMSL+1 fails with EINVAL; SEMMSL itself works")
{
    int semmsl = (int)IPCV_GET_LIMIT("semmsl");
    static const struct { int nsems; int private_key; } tcases[] = {
        { -1, 0 }, { 0, 0 }, { -1, 1 }, { 0, 1 }, { 1 << 30, 0 },
    };
    for (size_t i = 0; i < sizeof tcases / sizeof tcases[0]; i++) {
        key_t key = tcases[i].private_key ? IPC_PRIVATE : ipcv_key(1);
        ipcv_expect_fail(EINVAL, semget(key, tcases[i].nsems, IPC_CREAT | 0600));
    }
    ipcv_expect_fail(EINVAL, semget(ipcv_key(1), semmsl + 1, IPC_CREAT | 0600));
    int id = ipcv_expect_ok(semget(ipcv_key(1), semmsl, IPC_CREAT | 0600));
    if (id >= 0)
        SAFE_SEMCTL(id, 0, IPC_RMID);
}

struct perm_case { int id; key_t key; };

static int semget_as_nobody(struct ipcv_role *self, void *arg)
{
    (void)self;
    const struct perm_case *pc = arg;
    become_nobody();
    /* The set is 0604: others may read, not alter. Only the requested
     * bits are checked, so asking for none looks the set up. */
    ipcv_expect_eq(pc->id, semget(pc->key, 1, 0));
    ipcv_expect_eq(pc->id, semget(pc->key, 1, 0400));
    ipcv_expect_fail(EACCES, semget(pc->key, 1, 0200));
    ipcv_expect_fail(EACCES, semget(pc->key, 1, 0600));
    ipcv_expect_fail(EACCES, semget(pc->key, 1, IPC_CREAT | 0666));
    return 0;
}

/* semget(2) EACCES: a set exists for key but the caller lacks the
 * permissions asked for in semflg (ipcperms() checks the requested bits). */
IPCV_CASE(sysv_sem, semget_of_an_existing_set_checks_the_requested_permissions,
          .tags = "api multi", .covers = "B058",
          .spec = "semget(2) EACCES",
          .desc = "another uid looking up a 0604 set gets EACCES when it asks for write, and the identifier when it asks for read or nothing")
{
    struct perm_case pc = { .key = ipcv_key(1) };
    pc.id = SAFE_SEMGET(pc.key, 1, IPC_CREAT | IPC_EXCL | 0604);
    ipcv_join(ipcv_spawn("nobody", semget_as_nobody, &pc), IPCV_EXITED(0));
    SAFE_SEMCTL(pc.id, 0, IPC_RMID);
}

/* semop(2): a positive sem_op adds, a negative one subtracts when the value
 * is large enough, and 0 succeeds at once when the value is 0. */
IPCV_CASE(sysv_sem, semop_increments_decrements_and_waits_for_zero_without_blocking,
          .tags = "api", .covers = "B534",
          .spec = "semop(2)",
          .desc = "wait-for-zero at 0, +1, -1, +3 and -2 each return at once and leave the expected value")
{
    int id = SAFE_SEMGET(IPC_PRIVATE, 1, IPC_CREAT | 0600);
    ipcv_expect_ok(op1(id, 0, 0, 0));
    ipcv_expect_ok(op1(id, 0, 1, 0));
    ipcv_expect_eq(1, semctl(id, 0, GETVAL));
    ipcv_expect_ok(op1(id, 0, -1, 0));
    ipcv_expect_eq(0, semctl(id, 0, GETVAL));
    ipcv_expect_ok(op1(id, 0, 3, 0));
    ipcv_expect_ok(op1(id, 0, -2, IPC_NOWAIT));
    ipcv_expect_eq(1, semctl(id, 0, GETVAL));
    SAFE_SEMCTL(id, 0, IPC_RMID);
}

static int undo_increments(struct ipcv_role *self, void *arg)
{
    (void)self;
    int id = *(int *)arg;
    struct sembuf all[3] = { { 0, 1, SEM_UNDO }, { 1, 1, SEM_UNDO }, { 2, 1, SEM_UNDO } };
    ipcv_expect_ok(semop(id, all, 3));
    struct timespec ts = { 1, 0 };
    ipcv_expect_ok(semtimedop(id, all, 3, &ts));
    unsigned short v[3] = { 0 };
    SAFE_SEMCTL(id, 0, GETALL, (union semun){ .array = v });
    for (int i = 0; i < 3; i++)
        ipcv_expect_eq(2, v[i]);
    return 0;
}

/* semop(2) SEM_UNDO: each operation is recorded and undone when the process
 * terminates; semop and semtimedop record the same way. */
IPCV_CASE(sysv_sem, semop_and_semtimedop_sem_undo_increments_are_undone_at_exit,
          .tags = "multi cleanup", .covers = "B064",
          .spec = "semop(2) SEM_UNDO",
          .desc = "a process raises every semaphore of a set twice with SEM_UNDO (semop, then semtimedop); when it exits all are back to 0")
{
    int id = SAFE_SEMGET(IPC_PRIVATE, 3, IPC_CREAT | 0600);
    ipcv_join(ipcv_spawn("undoer", undo_increments, &id), IPCV_EXITED(0));
    unsigned short v[3] = { 9, 9, 9 };
    SAFE_SEMCTL(id, 0, GETALL, (union semun){ .array = v });
    for (int i = 0; i < 3; i++)
        ipcv_expect_eq(0, v[i]);
    SAFE_SEMCTL(id, 0, IPC_RMID);
}

/* semop(2): the operations in sops are performed atomically, in array order,
 * and only if all of them can be performed simultaneously. */
IPCV_CASE(sysv_sem, semop_applies_an_operation_array_atomically,
          .tags = "api", .covers = "B539",
          .spec = "semop(2)",
          .desc = "a 5-operation array over 4 semaphores leaves 5,2,5,0; an array whose last operation would block changes nothing; the inverse array restores 0")
{
    int id = SAFE_SEMGET(IPC_PRIVATE, 4, IPC_CREAT | 0600);
    struct sembuf up[5] = { { 0, 3, 0 }, { 1, 2, 0 }, { 2, 5, 0 }, { 3, 0, 0 }, { 0, 2, 0 } };
    ipcv_expect_ok(semop(id, up, 5));
    unsigned short v[4];
    SAFE_SEMCTL(id, 0, GETALL, (union semun){ .array = v });
    static const unsigned short after_up[4] = { 5, 2, 5, 0 };
    ipcv_expect_mem(after_up, v, sizeof v);

    /* The last operation cannot proceed: none of the others happens. */
    struct sembuf partial[3] = { { 0, -1, 0 }, { 1, -2, 0 }, { 3, -1, IPC_NOWAIT } };
    ipcv_expect_fail(EAGAIN, semop(id, partial, 3));
    SAFE_SEMCTL(id, 0, GETALL, (union semun){ .array = v });
    ipcv_expect_mem(after_up, v, sizeof v);

    struct sembuf down[4] = { { 0, -5, 0 }, { 1, -2, 0 }, { 2, -5, 0 }, { 3, 0, 0 } };
    ipcv_expect_ok(semop(id, down, 4));
    SAFE_SEMCTL(id, 0, GETALL, (union semun){ .array = v });
    static const unsigned short zero[4] = { 0 };
    ipcv_expect_mem(zero, v, sizeof v);
    SAFE_SEMCTL(id, 0, IPC_RMID);
}

/* semop(2) ERRORS: EINVAL for nsops 0, a negative or unknown semid; EFBIG
 * for sem_num >= nsems; EFAULT for an unreadable sops. */
IPCV_CASE(sysv_sem, semop_rejects_invalid_arguments,
          .tags = "api", .covers = "B067 B068 B069 B071 B535 B536 B537",
          .spec = "semop(2) EINVAL EFBIG EFAULT",
          .desc = "nsops 0, semid -1 and a removed semid give EINVAL; sem_num equal to nsems or 65535 gives EFBIG; a NULL sops gives EFAULT; the set is untouched")
{
    int id = SAFE_SEMGET(IPC_PRIVATE, 2, IPC_CREAT | 0600);
    int gone = SAFE_SEMGET(IPC_PRIVATE, 1, IPC_CREAT | 0600);
    int gone_id = gone;
    SAFE_SEMCTL(gone, 0, IPC_RMID);

    struct sembuf up = { 0, 1, 0 }, far = { 2, 1, 0 }, farthest = { 65535, 1, 0 };
    static const struct { int which; int nsops; int sops; int err; } tcases[] = {
        /* which: 0 the set, 1 -1, 2 the removed set; sops: 0 up, 1 far, 2 farthest, 3 NULL */
        { 0, 0, 0, EINVAL }, { 1, 1, 0, EINVAL }, { 2, 1, 0, EINVAL },
        { 0, 1, 1, EFBIG },  { 0, 1, 2, EFBIG },  { 0, 1, 3, EFAULT },
    };
    struct sembuf *sops[] = { &up, &far, &farthest, NULL };
    for (size_t i = 0; i < sizeof tcases / sizeof tcases[0]; i++) {
        int semid = tcases[i].which == 0 ? id : tcases[i].which == 1 ? -1 : gone_id;
        errno = 0;
        int rc = semop(semid, sops[tcases[i].sops], (size_t)tcases[i].nsops);
        int err = errno;
        ipcv_expect_true(rc == -1 && err == tcases[i].err,
                         "case %zu (semid %d, nsops %d): expected -1 with %s, seen %d with %s",
                         i, semid, tcases[i].nsops, ipcv_errname(tcases[i].err), rc,
                         ipcv_errname(err));
    }
    ipcv_expect_eq(0, semctl(id, 0, GETVAL));
    ipcv_expect_eq(0, semctl(id, 1, GETVAL));
    SAFE_SEMCTL(id, 0, IPC_RMID);
}

/* semop(2) EAGAIN: an operation could not proceed immediately and
 * IPC_NOWAIT was given in its sem_flg. */
IPCV_CASE(sysv_sem, semop_with_ipc_nowait_that_would_block_fails_eagain,
          .tags = "api", .covers = "B072 B544",
          .spec = "semop(2) IPC_NOWAIT",
          .desc = "a decrement at 0 and a wait-for-zero at 1 with IPC_NOWAIT fail with EAGAIN and leave the values alone")
{
    int id = SAFE_SEMGET(IPC_PRIVATE, 2, IPC_CREAT | 0600);
    setval(id, 1, 1);
    ipcv_expect_fail(EAGAIN, op1(id, 0, -1, IPC_NOWAIT));
    ipcv_expect_fail(EAGAIN, op1(id, 1, 0, IPC_NOWAIT));
    ipcv_expect_fail(EAGAIN, op1(id, 1, -2, IPC_NOWAIT | SEM_UNDO));
    ipcv_expect_eq(0, semctl(id, 0, GETVAL));
    ipcv_expect_eq(1, semctl(id, 1, GETVAL));
    ipcv_expect_eq(0, semctl(id, 0, GETNCNT));
    ipcv_expect_eq(0, semctl(id, 1, GETZCNT));
    SAFE_SEMCTL(id, 0, IPC_RMID);
}

/* semop(2) ERANGE: sem_op + semval is greater than SEMVMX (32767 on Linux). */
IPCV_CASE(sysv_sem, semop_beyond_semvmx_fails_erange,
          .tags = "api limit", .covers = "B070",
          .spec = "semop(2) ERANGE",
          .desc = "an increment that would take a semaphore above SEMVMX 32767 fails with ERANGE and leaves the value; reaching 32767 exactly works")
{
    int id = SAFE_SEMGET(IPC_PRIVATE, 1, IPC_CREAT | 0600);
    setval(id, 0, 32000);
    ipcv_expect_fail(ERANGE, op1(id, 0, 1000, 0));
    ipcv_expect_eq(32000, semctl(id, 0, GETVAL));
    ipcv_expect_ok(op1(id, 0, 767, 0));
    ipcv_expect_eq(32767, semctl(id, 0, GETVAL));
    ipcv_expect_fail(ERANGE, op1(id, 0, 1, 0));
    ipcv_expect_fail(ERANGE, op1(id, 0, 1, SEM_UNDO));
    ipcv_expect_eq(32767, semctl(id, 0, GETVAL));
    SAFE_SEMCTL(id, 0, IPC_RMID);
}

struct mode_case { int id; int phase; };

static int semop_as_nobody(struct ipcv_role *self, void *arg)
{
    (void)self;
    const struct mode_case *mc = arg;
    become_nobody();
    if (mc->phase == 0) {
        /* 0404: read only. Altering needs write; waiting for zero reads. */
        ipcv_expect_fail(EACCES, op1(mc->id, 0, 1, IPC_NOWAIT));
        ipcv_expect_fail(EACCES, op1(mc->id, 0, -1, IPC_NOWAIT));
        ipcv_expect_ok(op1(mc->id, 0, 0, IPC_NOWAIT));
    } else {
        /* 0202: alter only. */
        ipcv_expect_fail(EACCES, op1(mc->id, 0, 0, IPC_NOWAIT));
        ipcv_expect_ok(op1(mc->id, 0, 1, IPC_NOWAIT));
        ipcv_expect_ok(op1(mc->id, 0, -1, IPC_NOWAIT));
    }
    return 0;
}

/* semop(2) EACCES: a nonzero sem_op needs alter permission, a zero sem_op
 * needs read permission (svipc(7)); IPC_SET changes what is granted. */
IPCV_CASE(sysv_sem, semop_without_permission_fails_eacces,
          .tags = "api multi", .covers = "B066 B554",
          .spec = "semop(2) EACCES; svipc(7)",
          .desc = "another uid gets EACCES altering a set made 0404 by IPC_SET and waiting for zero on a set made 0202, while the permitted operation works")
{
    struct mode_case mc = { .id = SAFE_SEMGET(IPC_PRIVATE, 1, IPC_CREAT | 0600) };
    struct semid_ds ds;
    for (mc.phase = 0; mc.phase < 2; mc.phase++) {
        SAFE_SEMCTL(mc.id, 0, IPC_STAT, (union semun){ .buf = &ds });
        ds.sem_perm.mode = mc.phase == 0 ? 0404 : 0202;
        SAFE_SEMCTL(mc.id, 0, IPC_SET, (union semun){ .buf = &ds });
        ipcv_join(ipcv_spawn("nobody", semop_as_nobody, &mc), IPCV_EXITED(0));
    }
    ipcv_expect_eq(0, semctl(mc.id, 0, GETVAL));
    SAFE_SEMCTL(mc.id, 0, IPC_RMID);
}

static double since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* semop(2) EAGAIN: the time limit given in semtimedop's timeout expired.
 * The delay is the subject here. */
IPCV_CASE(sysv_sem, semtimedop_that_times_out_fails_eagain,
          .tags = "api", .covers = "B073 B541 B542",
          .spec = "semtimedop(2) EAGAIN",
          .desc = "a decrement at 0 and a wait-for-zero at 1 with a 50 ms timeout fail with EAGAIN after at least 50 ms; nothing changes and no waiter is left")
{
    int id = SAFE_SEMGET(IPC_PRIVATE, 2, IPC_CREAT | 0600);
    setval(id, 1, 1);
    struct timespec ts = { 0, 50 * 1000 * 1000 }, t0;
    struct sembuf down = { 0, -1, 0 }, zero = { 1, 0, 0 };

    clock_gettime(CLOCK_MONOTONIC, &t0);
    ipcv_expect_fail(EAGAIN, semtimedop(id, &down, 1, &ts));
    double waited = since(&t0);
    ipcv_expect_true(waited >= 0.049, "decrement returned after %.3f s, before its 0.050 s timeout", waited);

    clock_gettime(CLOCK_MONOTONIC, &t0);
    ipcv_expect_fail(EAGAIN, semtimedop(id, &zero, 1, &ts));
    waited = since(&t0);
    ipcv_expect_true(waited >= 0.049, "wait-for-zero returned after %.3f s, before its 0.050 s timeout", waited);

    ipcv_expect_eq(0, semctl(id, 0, GETVAL));
    ipcv_expect_eq(1, semctl(id, 1, GETVAL));
    ipcv_expect_eq(0, semctl(id, 0, GETNCNT));
    ipcv_expect_eq(0, semctl(id, 1, GETZCNT));
    SAFE_SEMCTL(id, 0, IPC_RMID);
}

/* semtimedop(2): an invalid timeout (tv_sec < 0, tv_nsec outside
 * 0..999999999) is EINVAL; Linux checks it before looking at the
 * operations, so even an operation that need not wait fails
 * (ipc/sem.c do_semtimedop). */
IPCV_CASE(sysv_sem, semtimedop_with_an_invalid_timeout_fails_einval,
          .tags = "api", .covers = "B538",
          .spec = "semtimedop(2) EINVAL; Linux ipc/sem.c",
          .desc = "tv_nsec 1000000000 or -1 and tv_sec -1 give EINVAL for a decrement that would block and for an increment that would not; the value stays")
{
    int id = SAFE_SEMGET(IPC_PRIVATE, 1, IPC_CREAT | 0600);
    static const struct timespec bad[] = { { 0, 1000000000 }, { 0, -1 }, { -1, 0 }, { 1, 1000000001 } };
    struct sembuf down = { 0, -1, 0 }, up = { 0, 1, 0 };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ipcv_expect_fail(EINVAL, semtimedop(id, &down, 1, &bad[i]));
        ipcv_expect_fail(EINVAL, semtimedop(id, &up, 1, &bad[i]));
    }
    ipcv_expect_eq(0, semctl(id, 0, GETVAL));
    SAFE_SEMCTL(id, 0, IPC_RMID);
}

/* semop(2) EFAULT: the timeout argument isn't accessible. */
IPCV_CASE(sysv_sem, semtimedop_with_an_unreadable_timeout_fails_efault,
          .tags = "api", .covers = "B074",
          .spec = "semtimedop(2) EFAULT",
          .desc = "semtimedop with a timeout pointer into an inaccessible page fails with EFAULT and the operation is not applied")
{
    int id = SAFE_SEMGET(IPC_PRIVATE, 1, IPC_CREAT | 0600);
    void *page = SAFE(mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    struct sembuf down = { 0, -1, 0 }, up = { 0, 1, 0 };
    ipcv_expect_fail(EFAULT, semtimedop(id, &down, 1, page));
    ipcv_expect_fail(EFAULT, semtimedop(id, &up, 1, page));
    ipcv_expect_eq(0, semctl(id, 0, GETVAL));
    SAFE(munmap(page, 4096));
    SAFE_SEMCTL(id, 0, IPC_RMID);
}
