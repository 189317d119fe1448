/* SysV semaphores and IPC namespaces: keys and identifiers belong to one
 * namespace. Every case already runs in a private IPC namespace; its roles
 * unshare(CLONE_NEWIPC) once more to get one of their own. */
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/sem.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ipcvet.h"

union semun { int val; struct semid_ds *buf; unsigned short *array; struct seminfo *__buf; };

static void own_ipc_namespace(void)
{
    if (unshare(CLONE_NEWIPC) < 0)
        ipcv_skip("unshare(CLONE_NEWIPC): %s", ipcv_errname(errno));
}


struct ns_scene { key_t key; int outer_id; int inner_id; };

static int look_from_new_namespace(struct ipcv_role *self, void *arg)
{
    struct ns_scene *s = arg;
    own_ipc_namespace();
    struct semid_ds ds;
    ipcv_expect_fail(ENOENT, semget(s->key, 0, 0));
    ipcv_expect_fail(EINVAL, semctl(s->outer_id, 0, IPC_STAT, (union semun){ .buf = &ds }));
    int id = semget(s->key, 1, IPC_CREAT | IPC_EXCL | 0600);
    ipcv_expect_true(id >= 0, "creating key %#x in the new namespace: %s", (unsigned)s->key,
                     ipcv_errname(errno));
    ipcv_ready(self);
    ipcv_await_release(self);
    if (id >= 0)
        ipcv_expect_ok(semctl(id, 0, IPC_RMID));
    return 0;
}

/* ipc_namespaces(7): each IPC namespace has its own set of System V IPC
 * identifiers; objects of one are invisible in another. */
IPCV_CASE(sysv_sem, semaphore_key_is_not_visible_in_a_new_ipc_namespace,
          .tags = "multi", .covers = "B125",
          .spec = "ipc_namespaces(7)",
          .desc = "after unshare(CLONE_NEWIPC) a process finds no set for the parent's key (ENOENT) nor its id (EINVAL) and creates its own; the parent still sees only its set")
{
    struct ns_scene s = { .key = ipcv_key(1) };
    s.outer_id = SAFE_SEMGET(s.key, 2, IPC_CREAT | IPC_EXCL | 0600);
    struct ipcv_role *r = ipcv_spawn("unsharer", look_from_new_namespace, &s);
    ipcv_wait_ready(r);
    struct seminfo si;
    ipcv_expect_eq(s.outer_id, semget(s.key, 0, 0));
    ipcv_expect_ok(semctl(0, 0, SEM_INFO, (union semun){ .__buf = &si }));
    ipcv_expect_eq(1, si.semusz);
    ipcv_expect_eq(2, si.semaem);
    ipcv_release(r);
    ipcv_join(r, IPCV_EXITED(0));
    SAFE_SEMCTL(s.outer_id, 0, IPC_RMID);
}

static void on_usr1(int sig) { (void)sig; }

/* In its own namespace: create the key locked (value 0) and wait on it
 * until a signal says stop, then remove it. */
static int lock_in_own_namespace(struct ipcv_role *self, void *arg)
{
    struct ns_scene *s = arg;
    struct sigaction sa = { .sa_handler = on_usr1 };
    sigemptyset(&sa.sa_mask);
    SAFE(sigaction(SIGUSR1, &sa, NULL));
    own_ipc_namespace();
    int id = semget(s->key, 1, IPC_CREAT | IPC_EXCL | 0600);
    ipcv_expect_true(id >= 0, "creating key %#x: %s", (unsigned)s->key, ipcv_errname(errno));
    s = (struct ns_scene *)ipcv_self.page->scratch;
    s->inner_id = id;
    ipcv_ready(self);
    struct sembuf down = { 0, -1, 0 };
    errno = 0;
    int rc = semop(id, &down, 1);
    ipcv_expect_true(rc == -1 && errno == EINTR,
                     "the locked semaphore was taken from outside its namespace (rc %d, %s)", rc,
                     ipcv_errname(errno));
    if (id >= 0)
        semctl(id, 0, IPC_RMID);
    return 0;
}

static int unlock_from_other_namespace(struct ipcv_role *self, void *arg)
{
    (void)self;
    const struct ns_scene *s = arg;
    int inner = ((struct ns_scene *)ipcv_self.page->scratch)->inner_id;
    own_ipc_namespace();
    ipcv_expect_fail(ENOENT, semget(s->key, 1, 0600));
    struct sembuf up = { 0, 1, IPC_NOWAIT };
    ipcv_expect_fail(EINVAL, semop(inner, &up, 1));
    ipcv_expect_fail(EINVAL, semctl(inner, 0, SETVAL, (union semun){ .val = 1 }));
    return 0;
}

/* ipc_namespaces(7): a semaphore held in one namespace cannot be found,
 * posted or set from another, by key or by identifier. */
IPCV_CASE(sysv_sem, semaphore_locked_in_one_namespace_cannot_be_reached_from_another,
          .tags = "multi", .covers = "B126",
          .spec = "ipc_namespaces(7)",
          .desc = "a process in namespace 1 blocks on its key's semaphore at 0; a process in namespace 2 gets ENOENT for the key and EINVAL posting or setting the id; the first stays blocked until a signal")
{
    struct ns_scene s = { .key = ipcv_key(1) };
    struct ipcv_role *locker = ipcv_spawn("ns1-locker", lock_in_own_namespace, &s);
    ipcv_wait_ready(locker);
    ipcv_wait_blocked(locker, "semtimedop");
    ipcv_join(ipcv_spawn("ns2-unlocker", unlock_from_other_namespace, &s), IPCV_EXITED(0));
    /* The coordinator's namespace has no set either. */
    int inner = ((struct ns_scene *)ipcv_self.page->scratch)->inner_id;
    ipcv_expect_fail(EINVAL, semctl(inner, 0, GETVAL));
    ipcv_expect_true(ipcv_role_asleep_in(locker, SYS_semtimedop),
                     "the locker is no longer blocked after the other namespace's attempts");
    kill(ipcv_role_pid(locker), SIGUSR1);
    ipcv_join(locker, IPCV_EXITED(0));
}

static int lock_same_key(struct ipcv_role *self, void *arg)
{
    const struct ns_scene *s = arg;
    own_ipc_namespace();
    int id = semget(s->key, 1, IPC_CREAT | IPC_EXCL | 0600);
    ipcv_expect_true(id >= 0, "IPC_EXCL creation of key %#x in a fresh namespace: %s",
                     (unsigned)s->key, ipcv_errname(errno));
    if (id >= 0) {
        ipcv_expect_ok(semctl(id, 0, SETVAL, (union semun){ .val = 1 }));
        struct sembuf down = { 0, -1, IPC_NOWAIT };
        ipcv_expect_ok(semop(id, &down, 1));
    }
    ipcv_ready(self);           /* holding "the" lock */
    ipcv_await_release(self);
    if (id >= 0)
        ipcv_expect_ok(semctl(id, 0, IPC_RMID));
    return 0;
}

/* ipc_namespaces(7): the same key in two namespaces names two sets, which
 * lock independently. */
IPCV_CASE(sysv_sem, same_key_in_two_namespaces_names_two_independent_sets,
          .tags = "multi", .covers = "B127",
          .spec = "ipc_namespaces(7)",
          .desc = "two processes in their own namespaces each create the same key with IPC_EXCL and each takes its semaphore at once, both holding \"the\" lock together")
{
    struct ns_scene s = { .key = ipcv_key(1) };
    struct ipcv_role *a = ipcv_spawn("ns1", lock_same_key, &s);
    ipcv_wait_ready(a);
    struct ipcv_role *b = ipcv_spawn("ns2", lock_same_key, &s);
    ipcv_wait_ready(b);
    ipcv_release(a);
    ipcv_release(b);
    ipcv_join(a, IPCV_EXITED(0));
    ipcv_join(b, IPCV_EXITED(0));
    ipcv_expect_fail(ENOENT, semget(s.key, 0, 0));
}

static int create_after_unshare(struct ipcv_role *self, void *arg)
{
    (void)self;
    const struct ns_scene *s = arg;
    own_ipc_namespace();
    int id = semget(s->key, 3, IPC_CREAT | IPC_EXCL | 0600);
    ipcv_expect_true(id >= 0, "IPC_EXCL creation of the parent's key after unshare: %s",
                     ipcv_errname(errno));
    if (id >= 0)
        ipcv_expect_ok(semctl(id, 0, IPC_RMID));
    return 0;
}

/* ipc_namespaces(7); gVisor SemOpNamespace: a key already used in the
 * parent's namespace is free in a new one, IPC_EXCL included. */
IPCV_CASE(sysv_sem, same_key_can_be_created_with_ipc_excl_after_unshare,
          .tags = "multi", .covers = "B549",
          .spec = "ipc_namespaces(7); unshare(2) CLONE_NEWIPC",
          .desc = "with a 1-semaphore set on the key in the parent's namespace, a child that unshares creates a 3-semaphore set on the same key with IPC_CREAT|IPC_EXCL; the parent's set is untouched")
{
    struct ns_scene s = { .key = ipcv_key(1) };
    int id = SAFE_SEMGET(s.key, 1, IPC_CREAT | IPC_EXCL | 0600);
    ipcv_join(ipcv_spawn("unsharer", create_after_unshare, &s), IPCV_EXITED(0));
    struct semid_ds ds;
    ipcv_expect_ok(semctl(id, 0, IPC_STAT, (union semun){ .buf = &ds }));
    ipcv_expect_eq(1, ds.sem_nsems);
    SAFE_SEMCTL(id, 0, IPC_RMID);
}
