/* The kernel side of process-shared locks: shared and private futexes
 * across processes, and the robust-futex list (set_robust_list,
 * get_robust_list) that marks a dead owner's locks FUTEX_OWNER_DIED. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "ipcvet.h"
#include "watchdog.h"   /* ipcv_describe_blocked */

static void *shared_area(size_t size)
{
    return SAFE(mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
}

static long futex(atomic_uint *uaddr, int op, unsigned val, long timeout_ms)
{
    struct timespec ts = { timeout_ms / 1000, (timeout_ms % 1000) * 1000000L };
    return syscall(SYS_futex, uaddr, op, val, timeout_ms >= 0 ? &ts : NULL, NULL, 0);
}

static long set_robust_list(struct robust_list_head *head, size_t len)
{
    return syscall(SYS_set_robust_list, head, len);
}

static long get_robust_list(int tid, struct robust_list_head **head, size_t *len)
{
    return syscall(SYS_get_robust_list, tid, head, len);
}

/* What a waiting role reports. */
struct wait_report {
    atomic_int armed, done, rc, err;
    atomic_uint seen;
};

static void wait_on(atomic_uint *word, int op, unsigned val, long ms, struct wait_report *w)
{
    atomic_store(&w->armed, 1);
    long rc = futex(word, op, val, ms);
    atomic_store(&w->err, rc < 0 ? errno : 0);
    atomic_store(&w->rc, (int)rc);
    atomic_store(&w->seen, atomic_load(word));
    atomic_store(&w->done, 1);
}

static int in_futex_or_done(void *arg)
{
    struct { struct ipcv_role *r; struct wait_report *w; } *p = arg;
    if (atomic_load(&p->w->done))
        return 1;
    if (!atomic_load(&p->w->armed))
        return 0;
    char desc[200];
    ipcv_describe_blocked(ipcv_role_pid(p->r), 0, desc, sizeof desc);
    return !strncmp(desc, "futex", 5) && strstr(desc, "(state S)");
}

static void wait_in_futex_or_done(struct ipcv_role *r, struct wait_report *w)
{
    struct { struct ipcv_role *r; struct wait_report *w; } p = { r, w };
    if (!ipcv_poll_until(in_futex_or_done, &p, ipcv_wait_bound()))
        ipcv_brk(__FILE__, __LINE__, "role '%s' did not block in futex", ipcv_role_name(r));
}

/* ---- shared and private futexes ----------------------------------- */

struct futex_page {
    atomic_uint word;
    struct wait_report w;
};

struct waiter_arg { struct futex_page *anon; char path[256]; };

static int wait_shared(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct waiter_arg *a = arg;
    struct futex_page *p = a->anon;
    struct wait_report *w = &a->anon->w;
    if (a->path[0]) {
        /* Its own mapping of the file, at an address of its choosing. */
        int fd = SAFE(open(a->path, O_RDWR | O_CLOEXEC));
        p = SAFE(mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
        close(fd);
    }
    wait_on(&p->word, FUTEX_WAIT, 0, 2000, w);
    return 0;
}

/* futex(2): without FUTEX_PRIVATE_FLAG a futex is keyed by the memory
 * object and offset, so "a futex can be shared between processes" through
 * a MAP_SHARED anonymous mapping inherited across fork or through a shared
 * file mapping at any address (gVisor futex.cc WakeInterprocessSharedAnon,
 * WakeInterprocessFile). */
IPCV_CASE(pshared, shared_futex_wakes_a_waiter_in_another_process,
          .tags = "multi", .covers = "B688",
          .spec = "futex(2) FUTEX_WAIT, FUTEX_WAKE",
          .desc = "a child sleeping in FUTEX_WAIT on an inherited MAP_SHARED anonymous page, and a process that mapped a file itself, are each woken by one FUTEX_WAKE through the coordinator's mapping, which reports 1 woken")
{
    for (int kind = 0; kind < 2; kind++) {
        struct futex_page *anon = shared_area(4096);
        struct futex_page *p = anon;
        struct waiter_arg a = { anon, "" };
        int fd = -1;
        if (kind == 1) {
            snprintf(a.path, sizeof a.path, "%s", ipcv_path("futex-file", 1));
            fd = SAFE(open(a.path, O_RDWR | O_CLOEXEC));
            SAFE(ftruncate(fd, 4096));
            p = SAFE(mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
        }
        struct ipcv_role *r = ipcv_spawn(kind ? "file-waiter" : "anon-waiter", wait_shared, &a);
        wait_in_futex_or_done(r, &anon->w);
        ipcv_expect_eq(0, atomic_load(&anon->w.done));
        atomic_store(&p->word, 1);
        long n = futex(&p->word, FUTEX_WAKE, 1, -1);
        ipcv_join(r, IPCV_EXITED(0));
        const char *what = kind ? "file mapping" : "anonymous shared mapping";
        if (n != 1)
            ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "%s: FUTEX_WAKE woke %ld, expected 1", what, n);
        if (atomic_load(&anon->w.rc) != 0)
            ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "%s: FUTEX_WAIT ended with %s, expected a wake-up",
                        what, ipcv_errname(atomic_load(&anon->w.err)));
        if (kind == 1) {
            munmap(p, 4096);
            close(fd);
        }
        munmap(anon, 4096);
    }
}

struct private_arg { struct futex_page *priv; struct wait_report *w; };

static int wait_private(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct private_arg *a = arg;
    wait_on(&a->priv->word, FUTEX_WAIT_PRIVATE, 0, 200, a->w);
    return 0;
}

/* futex(2) FUTEX_PRIVATE_FLAG: the futex is keyed by the process's own
 * address space; and a MAP_PRIVATE page is per process anyway. A wake in
 * the parent reaches nobody in the child, whose wait ends by its timeout
 * (gVisor futex.cc NoWakeInterprocessPrivateAnon). */
IPCV_CASE(pshared, private_futex_wake_does_not_reach_another_process,
          .tags = "multi", .covers = "B689",
          .spec = "futex(2) FUTEX_PRIVATE_FLAG",
          .desc = "a child sleeping in FUTEX_WAIT_PRIVATE on an inherited MAP_PRIVATE page is not woken by the parent's FUTEX_WAKE_PRIVATE or FUTEX_WAKE (each reports 0 woken) and its 200 ms wait fails with ETIMEDOUT")
{
    struct futex_page *priv = SAFE(mmap(NULL, 4096, PROT_READ | PROT_WRITE,
                                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    struct wait_report *w = shared_area(sizeof *w);
    struct private_arg a = { priv, w };
    struct ipcv_role *r = ipcv_spawn("waiter", wait_private, &a);
    wait_in_futex_or_done(r, w);
    ipcv_expect_eq(0, futex(&priv->word, FUTEX_WAKE_PRIVATE, 1, -1));
    ipcv_expect_eq(0, futex(&priv->word, FUTEX_WAKE, 1, -1));
    ipcv_join(r, IPCV_EXITED(0));
    ipcv_expect_eq(-1, atomic_load(&w->rc));
    ipcv_expect_eq(ETIMEDOUT, atomic_load(&w->err));
    munmap(w, sizeof *w);
    munmap(priv, 4096);
}

/* ---- the robust list of a thread ---------------------------------- */

static int set_then_get(struct ipcv_role *self, void *arg)
{
    (void)self; (void)arg;
    struct robust_list_head *orig = NULL, *seen = NULL;
    size_t len = 0;
    ipcv_expect_eq(0, get_robust_list(0, &orig, &len));
    ipcv_expect_true(orig != NULL, "glibc registered no robust list for this thread");
    ipcv_expect_eq(sizeof(struct robust_list_head), len);
    static struct robust_list_head mine;
    mine.list.next = &mine.list;
    mine.futex_offset = 0;
    mine.list_op_pending = NULL;
    ipcv_expect_eq(0, set_robust_list(&mine, sizeof mine));
    ipcv_expect_eq(0, get_robust_list(0, &seen, &len));
    ipcv_expect_true(seen == &mine, "get_robust_list gave %p after set_robust_list(%p)", (void *)seen, (void *)&mine);
    ipcv_expect_eq(sizeof mine, len);
    /* And by thread id, which is what another thread would use. */
    seen = NULL;
    ipcv_expect_eq(0, get_robust_list((int)gettid(), &seen, &len));
    ipcv_expect_true(seen == &mine, "get_robust_list(gettid()) gave %p", (void *)seen);
    set_robust_list(orig, sizeof *orig);
    return 0;
}

/* set_robust_list(2): "requests the kernel to record the head of the list
 * of robust futexes owned by the calling thread"; get_robust_list(2)
 * "returns the head of the robust futex list of the thread whose thread ID
 * is specified in pid", 0 for the caller (kernel robust_list selftest,
 * gVisor futex.cc BasicSetGet). */
IPCV_CASE(pshared, robust_list_set_then_get_returns_the_same_head,
          .tags = "api", .covers = "B681",
          .spec = "set_robust_list(2), get_robust_list(2)",
          .desc = "a thread's registered head is non-NULL with length sizeof(struct robust_list_head); after set_robust_list of another head, get_robust_list for 0 and for its own tid returns that head and length")
{
    struct ipcv_role *r = ipcv_spawn("thread", set_then_get, NULL);
    ipcv_join(r, IPCV_EXITED(0));
}

struct thread_heads {
    struct robust_list_head *head;
    pid_t tid;
    pthread_barrier_t seen, done;
};

static void *report_own_head(void *arg)
{
    struct thread_heads *t = arg;
    size_t len;
    get_robust_list(0, &t->head, &len);
    t->tid = gettid();
    pthread_barrier_wait(&t->seen);
    pthread_barrier_wait(&t->done);     /* stay alive while main looks */
    return NULL;
}

static int compare_thread_heads(struct ipcv_role *self, void *arg)
{
    (void)self; (void)arg;
    struct robust_list_head *main_head = NULL, *by_tid = NULL;
    size_t len;
    SAFE(get_robust_list(0, &main_head, &len));
    struct thread_heads t = { 0 };
    SAFE_RC(pthread_barrier_init(&t.seen, NULL, 2));
    SAFE_RC(pthread_barrier_init(&t.done, NULL, 2));
    pthread_t th;
    SAFE_RC(pthread_create(&th, NULL, report_own_head, &t));
    pthread_barrier_wait(&t.seen);
    /* Registered at creation, before any robust mutex was locked. */
    ipcv_expect_true(t.head != NULL, "the new thread has no robust list head");
    ipcv_expect_true(t.head != main_head, "the new thread shares the main thread's head %p", (void *)main_head);
    ipcv_expect_eq(0, get_robust_list(t.tid, &by_tid, &len));
    ipcv_expect_true(by_tid == t.head, "get_robust_list(tid %d) gave %p, the thread sees %p",
                     (int)t.tid, (void *)by_tid, (void *)t.head);
    pthread_barrier_wait(&t.done);
    pthread_join(th, NULL);
    return 0;
}

/* get_robust_list(2) by thread id; glibc nptl/pthread_create.c registers
 * each new thread's own list head when the thread starts (musl only when
 * it first locks a robust mutex) (gVisor futex.cc GetFromOtherTid). */
IPCV_CASE(pshared, new_thread_has_its_own_registered_robust_list,
          .tags = "api", .covers = "B682 B749",
          .spec = "get_robust_list(2); glibc nptl/pthread_create.c",
          .desc = "a new thread that locked nothing already has a robust list head, different from the main thread's, and get_robust_list by its tid from the main thread returns the same head")
{
    struct ipcv_role *r = ipcv_spawn("threads", compare_thread_heads, NULL);
    ipcv_join(r, IPCV_EXITED(0));
}

static int set_wrong_lengths(struct ipcv_role *self, void *arg)
{
    (void)self; (void)arg;
    struct robust_list_head *before = NULL, *after = NULL;
    size_t len;
    SAFE(get_robust_list(0, &before, &len));
    static struct robust_list_head mine = { .list = { &mine.list } };
    const size_t bad[] = { sizeof mine + 1, sizeof mine * 2, sizeof mine - 1, 0 };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        errno = 0;
        long rc = set_robust_list(&mine, bad[i]);
        if (rc != -1 || errno != EINVAL)
            ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "set_robust_list(len %zu): expected EINVAL, seen %s",
                        bad[i], rc == 0 ? "success" : ipcv_errname(errno));
    }
    SAFE(get_robust_list(0, &after, &len));
    ipcv_expect_true(after == before, "a rejected set_robust_list changed the head to %p", (void *)after);
    if (after != before)
        set_robust_list(before, sizeof *before);
    return 0;
}

/* set_robust_list(2): [EINVAL] "The len value does not match the size of
 * structure struct robust_list_head expected by kernel" (kernel
 * robust_list selftest, gVisor futex.cc InvalidSize). */
IPCV_CASE(pshared, set_robust_list_with_a_wrong_length_fails_einval,
          .tags = "api", .covers = "B683",
          .spec = "set_robust_list(2) EINVAL",
          .desc = "set_robust_list with len one more, twice, one less than sizeof(struct robust_list_head) and 0 fails with EINVAL and the registered head stays")
{
    struct ipcv_role *r = ipcv_spawn("thread", set_wrong_lengths, NULL);
    ipcv_join(r, IPCV_EXITED(0));
}

/* ---- robust futexes at owner death -------------------------------- */

#define LOCKS 10

struct lock_entry {
    struct robust_list list;
    atomic_uint futex;
};

struct robust_page {
    struct lock_entry e[LOCKS];
    struct wait_report w[LOCKS];
    atomic_int waiting;
};

/* How the owner registers its locks. */
enum owner_kind { OWN_FIRST, OWN_PENDING, OWN_ALL, OWN_CIRCULAR };

struct owner_arg { struct robust_page *p; enum owner_kind kind; };

static int own_and_die(struct ipcv_role *self, void *arg)
{
    struct owner_arg *a = arg;
    struct robust_page *p = a->p;
    /* The head lives in this process; the entries in shared memory. */
    static struct robust_list_head head;
    head.futex_offset = offsetof(struct lock_entry, futex) - offsetof(struct lock_entry, list);
    head.list.next = &head.list;
    head.list_op_pending = NULL;
    unsigned tid = (unsigned)gettid();
    switch (a->kind) {
    case OWN_FIRST:
        atomic_store(&p->e[0].futex, tid);
        p->e[0].list.next = &head.list;
        head.list.next = &p->e[0].list;
        break;
    case OWN_PENDING:              /* locked, not yet linked: only pending */
        atomic_store(&p->e[1].futex, tid);
        head.list_op_pending = &p->e[1].list;
        break;
    case OWN_ALL:
        for (int i = LOCKS - 1; i >= 0; i--) {
            atomic_store(&p->e[i].futex, tid);
            p->e[i].list.next = head.list.next;
            head.list.next = &p->e[i].list;
        }
        break;
    case OWN_CIRCULAR:             /* an entry that points at itself */
        atomic_store(&p->e[2].futex, tid);
        p->e[2].list.next = &p->e[2].list;
        head.list.next = &p->e[2].list;
        break;
    }
    SAFE(set_robust_list(&head, sizeof head));
    if (a->kind == OWN_CIRCULAR)
        return 0;                  /* exit walks the list */
    ipcv_ready(self);
    ipcv_await_release(self);      /* killed here */
    return 0;
}

/* Announce the wait in the futex word (FUTEX_WAITERS) and sleep on it. */
static void wait_for_owner(struct robust_page *p, int i)
{
    unsigned v = atomic_load(&p->e[i].futex);
    while (!(v & FUTEX_WAITERS) &&
           !atomic_compare_exchange_weak(&p->e[i].futex, &v, v | FUTEX_WAITERS))
        ;
    atomic_fetch_add(&p->waiting, 1);
    wait_on(&p->e[i].futex, FUTEX_WAIT, v | FUTEX_WAITERS, 2000, &p->w[i]);
}

static int wait_on_first(struct ipcv_role *self, void *arg)
{
    (void)self;
    wait_for_owner(*(struct robust_page **)arg, 0);
    return 0;
}

static struct ipcv_role *spawn_owner(struct owner_arg *a)
{
    struct ipcv_role *o = ipcv_spawn("owner", own_and_die, a);
    ipcv_wait_ready(o);
    return o;
}

static void expect_owner_died(struct robust_page *p, int i, unsigned word)
{
    if (!(word & FUTEX_OWNER_DIED) || (word & FUTEX_TID_MASK))
        ipcv_record(IPCV_FAIL, __FILE__, __LINE__,
                    "lock %d: futex word %#x after the owner died, expected FUTEX_OWNER_DIED and no owner tid",
                    i, word);
    (void)p;
}

/* futex(2) robust futexes; kernel robust_list selftest test_robustness: at
 * a thread's death the kernel walks its robust list, sets
 * FUTEX_OWNER_DIED in each futex word still holding the thread's tid
 * (clearing the tid) and, if FUTEX_WAITERS is set, wakes one waiter. */
IPCV_CASE(pshared, robust_futex_owner_death_marks_the_word_and_wakes_the_waiter,
          .tags = "crash", .covers = "B684",
          .spec = "futex(2) robust futexes; set_robust_list(2)",
          .desc = "a process registers one lock on its robust list and is SIGKILLed; a process sleeping in FUTEX_WAIT on that word is woken and sees FUTEX_OWNER_DIED with the tid cleared")
{
    struct robust_page *p = shared_area(sizeof *p);
    struct owner_arg a = { p, OWN_FIRST };
    struct ipcv_role *o = spawn_owner(&a);
    struct ipcv_role *w = ipcv_spawn("waiter", wait_on_first, &p);
    wait_in_futex_or_done(w, &p->w[0]);
    SAFE(kill(ipcv_role_pid(o), SIGKILL));
    ipcv_join(o, IPCV_KILLED(SIGKILL));
    ipcv_join(w, IPCV_EXITED(0));
    if (atomic_load(&p->w[0].rc) != 0)
        ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "the waiter was not woken: FUTEX_WAIT gave %s",
                    ipcv_errname(atomic_load(&p->w[0].err)));
    expect_owner_died(p, 0, atomic_load(&p->w[0].seen));
    munmap(p, sizeof *p);
}

/* kernel robust_list selftest test_set_list_op_pending: a lock taken but
 * not yet linked is named in list_op_pending, and the kernel handles it at
 * death like a listed one. */
IPCV_CASE(pshared, robust_futex_list_op_pending_is_handled_at_death,
          .tags = "crash", .covers = "B685",
          .spec = "futex(2) robust futexes (list_op_pending)",
          .desc = "a process whose only lock is in list_op_pending of an empty robust list is SIGKILLed; the lock's futex word then has FUTEX_OWNER_DIED and no owner tid")
{
    struct robust_page *p = shared_area(sizeof *p);
    struct owner_arg a = { p, OWN_PENDING };
    struct ipcv_role *o = spawn_owner(&a);
    ipcv_expect_ne(0, atomic_load(&p->e[1].futex));
    SAFE(kill(ipcv_role_pid(o), SIGKILL));
    ipcv_join(o, IPCV_KILLED(SIGKILL));
    expect_owner_died(p, 1, atomic_load(&p->e[1].futex));
    munmap(p, sizeof *p);
}

struct many_arg { struct robust_page *p; int i; };

static void *wait_one(void *arg)
{
    struct many_arg *m = arg;
    wait_for_owner(m->p, m->i);
    return NULL;
}

static int wait_on_all(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct robust_page *p = *(struct robust_page **)arg;
    pthread_t t[LOCKS];
    struct many_arg m[LOCKS];
    for (int i = 0; i < LOCKS; i++) {
        m[i] = (struct many_arg){ p, i };
        SAFE_RC(pthread_create(&t[i], NULL, wait_one, &m[i]));
    }
    for (int i = 0; i < LOCKS; i++)
        pthread_join(t[i], NULL);
    return 0;
}

/* Every thread of the role sleeps in a futex (the main one in
 * pthread_join), LOCKS + 1 of them. */
static int all_threads_in_futex(void *arg)
{
    struct ipcv_role *r = arg;
    char dir[64];
    snprintf(dir, sizeof dir, "/proc/%d/task", (int)ipcv_role_pid(r));
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int n = 0, sleeping = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        n++;
        char desc[200];
        ipcv_describe_blocked(ipcv_role_pid(r), (pid_t)atoi(e->d_name), desc, sizeof desc);
        sleeping += !strncmp(desc, "futex", 5) && strstr(desc, "(state S)");
    }
    closedir(d);
    return n == LOCKS + 1 && sleeping == n;
}

/* kernel robust_list selftest test_robust_list_multiple_elements: all
 * locks on the dead owner's list are marked, and the waiter of each is
 * woken. */
IPCV_CASE(pshared, robust_futex_owner_death_marks_every_listed_lock,
          .tags = "crash", .covers = "B686",
          .spec = "futex(2) robust futexes",
          .desc = "a process with 10 locks on its robust list is SIGKILLed while 10 threads of another process sleep on them, one each: every thread is woken and sees FUTEX_OWNER_DIED on its lock")
{
    struct robust_page *p = shared_area(sizeof *p);
    struct owner_arg a = { p, OWN_ALL };
    struct ipcv_role *o = spawn_owner(&a);
    struct ipcv_role *w = ipcv_spawn("waiters", wait_on_all, &p);
    if (!ipcv_poll_until(all_threads_in_futex, w, ipcv_wait_bound()))
        ipcv_brk(__FILE__, __LINE__, "the %d waiting threads did not all sleep in futex", LOCKS);
    SAFE(kill(ipcv_role_pid(o), SIGKILL));
    ipcv_join(o, IPCV_KILLED(SIGKILL));
    ipcv_join(w, IPCV_EXITED(0));
    int not_woken = 0;
    for (int i = 0; i < LOCKS; i++) {
        not_woken += atomic_load(&p->w[i].rc) != 0;
        expect_owner_died(p, i, atomic_load(&p->w[i].seen));
    }
    ipcv_expect_eq(0, not_woken);
    munmap(p, sizeof *p);
}

/* kernel robust_list selftest test_circular_list: the kernel walks at
 * most ROBUST_LIST_LIMIT entries, so a list that loops forever does not
 * keep the thread from exiting; the entry is still handled. */
IPCV_CASE(pshared, robust_futex_circular_list_does_not_hang_exit,
          .tags = "crash cleanup", .covers = "B687",
          .spec = "futex(2) robust futexes (ROBUST_LIST_LIMIT)",
          .desc = "a process whose robust list entry points at itself exits normally and promptly, and that entry's futex word gets FUTEX_OWNER_DIED")
{
    struct robust_page *p = shared_area(sizeof *p);
    struct owner_arg a = { p, OWN_CIRCULAR };
    struct ipcv_role *o = ipcv_spawn("owner", own_and_die, &a);
    ipcv_join(o, IPCV_EXITED(0));
    expect_owner_died(p, 2, atomic_load(&p->e[2].futex));
    munmap(p, sizeof *p);
}
