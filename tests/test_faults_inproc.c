/* libipcvet-faults.so armed inside one process (as a case's role arms it):
 * each convention fails the way its function does, `when`, `p=` and `proc=`
 * pick the calls, and the actions do what they say. Every plan is armed in
 * a forked child with its own IPC namespace, which writes what it saw into
 * a shared page; only the test process asserts. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#define FIU_ENABLE 1
#include <fiu-control.h>
#include <fiu.h>
#include <mqueue.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "faults.h"

TestSuite(faults_inproc, .timeout = 30);

struct box {
    int status;                  /* the child's wait status */
    char failed[512];            /* set by the child when it could not go on */
    long v[64];
    unsigned long long mask[4];
};

static struct box *box;

#define CHILD_FAIL(...) do { snprintf(box->failed, sizeof box->failed, __VA_ARGS__); _exit(1); } while (0)

static void arm(const char *plan)
{
    char err[256];
    if (ipcv_faults_arm(plan, err, sizeof err) < 0)
        CHILD_FAIL("arm '%s': %s", plan, err);
}

/* Run fn in a child in its own IPC namespace; the box it filled. */
static struct box *in_child(void (*fn)(void))
{
    box = mmap(NULL, sizeof *box, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(box, MAP_FAILED);
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        if (unshare(CLONE_NEWIPC) < 0 && unshare(CLONE_NEWUSER | CLONE_NEWIPC) < 0)
            CHILD_FAIL("no private IPC namespace: %s", strerror(errno));
        fn();
        _exit(0);
    }
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    box->status = st;
    cr_assert_str_empty(box->failed, "%s", box->failed);
    return box;
}

#define EXPECT_CLEAN_EXIT(b) \
    cr_expect(WIFEXITED((b)->status) && WEXITSTATUS((b)->status) == 0, "child ended with status %#x", (b)->status)

/* ---- return conventions ---------------------------------------------------- */

static void conventions(void)
{
    pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    arm("pthread_mutex_lock:error=EOWNERDEAD;mmap:error=ENOMEM;shmat:error=EACCES;"
        "sem_open:error=EACCES;mq_open:error=EMFILE;shmget:error=ENOSPC");
    errno = 0;
    box->v[0] = pthread_mutex_lock(&m);
    box->v[1] = errno;
    errno = 0;
    box->v[2] = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED;
    box->v[3] = errno;
    errno = 0;
    box->v[4] = shmat(0, NULL, 0) == (void *)-1;
    box->v[5] = errno;
    errno = 0;
    box->v[6] = sem_open("/ipcvet-inproc", O_CREAT, 0600, 1) == SEM_FAILED;
    box->v[7] = errno;
    errno = 0;
    box->v[8] = mq_open("/ipcvet-inproc", O_CREAT | O_RDWR, 0600, NULL) == (mqd_t)-1;
    box->v[9] = errno;
    errno = 0;
    box->v[10] = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    box->v[11] = errno;
    box->v[12] = (long)ipcv_faults_fired();
    ipcv_faults_disarm();
    box->v[13] = pthread_mutex_lock(&m);
}

Test(faults_inproc, each_function_fails_by_its_own_convention)
{
    struct box *b = in_child(conventions);
    EXPECT_CLEAN_EXIT(b);
    cr_expect_eq(b->v[0], EOWNERDEAD, "pthread_mutex_lock returns the error number");
    cr_expect_eq(b->v[1], 0, "pthread_mutex_lock leaves errno alone, saw %ld", b->v[1]);
    cr_expect(b->v[2] && b->v[3] == ENOMEM, "mmap: MAP_FAILED and ENOMEM");
    cr_expect(b->v[4] && b->v[5] == EACCES, "shmat: (void *)-1 and EACCES");
    cr_expect(b->v[6] && b->v[7] == EACCES, "sem_open: SEM_FAILED and EACCES");
    cr_expect(b->v[8] && b->v[9] == EMFILE, "mq_open: (mqd_t)-1 and EMFILE");
    cr_expect(b->v[10] == -1 && b->v[11] == ENOSPC, "shmget: -1 and ENOSPC");
    cr_expect_eq(b->v[12], 6, "fired %ld times, expected 6", b->v[12]);
    cr_expect_eq(b->v[13], 0, "disarmed: the real call again");
    cr_expect_eq(access("/dev/shm/sem.ipcvet-inproc", F_OK), -1, "an injected sem_open created the name");
}

/* ---- when= --------------------------------------------------------------------- */

static void when_ranges(void)
{
    static const char *const plans[] = {
        "sem_getvalue:error=EINVAL:when=2..3", "sem_getvalue:error=EINVAL:when=2+2",
        "sem_getvalue:error=EINVAL:when=3+", "sem_getvalue:error=EINVAL:when=2..6+2",
        "sem_getvalue:error=EINVAL:when=4", "sem_getvalue:error=EINVAL",
    };
    sem_t s;
    int v;
    sem_init(&s, 0, 0);
    for (int p = 0; p < 6; p++) {
        arm(plans[p]);
        for (int i = 0; i < 8; i++)
            if (sem_getvalue(&s, &v) < 0)
                box->mask[0] |= 1ULL << (p * 8 + i);
    }
}

Test(faults_inproc, when_picks_calls_by_their_occurrence)
{
    struct box *b = in_child(when_ranges);
    EXPECT_CLEAN_EXIT(b);
    /* bit i of each byte: call i+1 failed */
    static const unsigned char want[6] = { 0x06, 0xaa, 0xfc, 0x2a, 0x08, 0xff };
    for (int p = 0; p < 6; p++)
        cr_expect_eq((b->mask[0] >> (p * 8)) & 0xff, want[p], "plan %d: calls failed %#llx, expected %#x",
                     p, (b->mask[0] >> (p * 8)) & 0xff, want[p]);
}

/* ---- p= and proc=: draws keyed by lineage, not by fork order ---------------- */

static unsigned long long pattern(int calls)
{
    sem_t s;
    int v;
    unsigned long long m = 0;
    sem_init(&s, 0, 0);
    for (int i = 0; i < calls; i++)
        if (sem_getvalue(&s, &v) < 0)
            m |= 1ULL << i;
    return m;
}

static void two_children_n(int b_first, unsigned long long *out, int calls)
{
    int go[2];
    if (pipe(go) < 0)
        CHILD_FAIL("pipe: %s", strerror(errno));
    pid_t a = fork();            /* lineage 0.1 */
    if (a == 0) {
        char c;
        if (b_first && read(go[0], &c, 1) != 1)
            _exit(1);
        out[0] = pattern(calls);
        _exit(0);
    }
    pid_t b = fork();            /* lineage 0.2 */
    if (b == 0) {
        out[1] = pattern(calls);
        if (b_first && write(go[1], "x", 1) != 1)
            _exit(1);
        _exit(0);
    }
    waitpid(a, NULL, 0);
    waitpid(b, NULL, 0);
    close(go[0]);
    close(go[1]);
}

static void two_children(int b_first, unsigned long long *out)
{
    two_children_n(b_first, out, 64);
}

static void draws(void)
{
    ipcv_faults_seed(7);
    arm("sem_getvalue:error=EINVAL:when=p=0.5");
    two_children(0, (unsigned long long *)&box->v[0]);
    arm("sem_getvalue:error=EINVAL:when=p=0.5");
    two_children(1, (unsigned long long *)&box->v[2]);
    arm("sem_getvalue:error=EINVAL:when=p=0.5");
    box->mask[0] = pattern(64);
    ipcv_faults_seed(8);
    arm("sem_getvalue:error=EINVAL:when=p=0.5");
    box->mask[1] = pattern(64);
    ipcv_faults_seed(7);
    arm("sem_getvalue:error=EINVAL:when=p=0.5");
    box->mask[2] = pattern(64);
}

Test(faults_inproc, random_draws_follow_seed_and_lineage_not_fork_order)
{
    struct box *b = in_child(draws);
    EXPECT_CLEAN_EXIT(b);
    unsigned long long a1 = (unsigned long long)b->v[0], b1 = (unsigned long long)b->v[1];
    unsigned long long a2 = (unsigned long long)b->v[2], b2 = (unsigned long long)b->v[3];
    cr_expect_eq(a1, a2, "child 0.1 drew %#llx, then %#llx when 0.2 ran first", a1, a2);
    cr_expect_eq(b1, b2, "child 0.2 drew %#llx, then %#llx when it ran first", b1, b2);
    cr_expect_neq(a1, b1, "two children drew the same pattern %#llx", a1);
    cr_expect_eq(b->mask[0], b->mask[2], "same seed, same lineage: %#llx and %#llx", b->mask[0], b->mask[2]);
    cr_expect_neq(b->mask[0], b->mask[1], "seeds 7 and 8 drew the same pattern");
    int ones = __builtin_popcountll(b->mask[0]);
    cr_expect(ones > 12 && ones < 52, "p=0.5 failed %d of 64 calls", ones);
}

static void selectors(void)
{
    static const char *const plans[] = {
        "sem_getvalue:error=EINVAL:proc=root", "sem_getvalue:error=EINVAL:proc=child",
        "sem_getvalue:error=EINVAL:proc=0.2", "sem_getvalue:error=EINVAL:proc=comm=inproc-x",
    };
    prctl(PR_SET_NAME, "inproc-x");
    for (int p = 0; p < 4; p++) {
        arm(plans[p]);
        box->v[p * 3] = pattern(1);
        two_children_n(0, (unsigned long long *)&box->v[p * 3 + 1], 1);
    }
}

Test(faults_inproc, proc_selects_by_lineage_and_command_name)
{
    struct box *b = in_child(selectors);
    EXPECT_CLEAN_EXIT(b);
    /* root, 0.1, 0.2 for each plan: 1 = its call failed */
    static const int want[4][3] = { { 1, 0, 0 }, { 0, 1, 1 }, { 0, 0, 1 }, { 1, 1, 1 } };
    for (int p = 0; p < 4; p++)
        for (int k = 0; k < 3; k++)
            cr_expect_eq(b->v[p * 3 + k], want[p][k], "plan %d, process %s: failed=%ld", p,
                         k == 0 ? "0" : k == 1 ? "0.1" : "0.2", b->v[p * 3 + k]);
}

static void counts_per_process(void)
{
    arm("sem_getvalue:error=EINVAL:when=1");
    box->v[0] = pattern(2);
    two_children_n(0, (unsigned long long *)&box->v[1], 1);
}

Test(faults_inproc, a_forked_child_counts_its_own_calls)
{
    struct box *b = in_child(counts_per_process);
    EXPECT_CLEAN_EXIT(b);
    cr_expect_eq(b->v[0], 1);
    cr_expect_eq(b->v[1], 1, "child 0.1's first call is its occurrence 1");
    cr_expect_eq(b->v[2], 1, "child 0.2's first call is its occurrence 1");
}

/* ---- actions ----------------------------------------------------------------- */

static void short_transfers(void)
{
    int p[2], sv[2], mfd = memfd_create("inproc", 0);
    char buf[16];
    if (pipe(p) < 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0 || mfd < 0)
        CHILD_FAIL("set-up: %s", strerror(errno));
    arm("write:short=3;read:short=2;recvmsg:short=2");
    box->v[0] = write(p[1], "0123456789", 10);
    box->v[1] = read(p[0], buf, sizeof buf);
    box->v[2] = write(mfd, "0123456789", 10);        /* not a pipe: untouched */
    ipcv_faults_disarm();
    box->v[3] = send(sv[0], "hello", 5, 0);
    arm("recvmsg:short=2");
    struct iovec iov = { buf, sizeof buf };
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
    box->v[4] = recvmsg(sv[1], &mh, 0);
    box->v[5] = mh.msg_iovlen == 1 && mh.msg_iov == &iov;   /* the caller's header kept */
    box->v[6] = !memcmp(buf, "he", 2);
}

Test(faults_inproc, short_clamps_transfers_on_pipes_and_sockets_only)
{
    struct box *b = in_child(short_transfers);
    EXPECT_CLEAN_EXIT(b);
    cr_expect_eq(b->v[0], 3, "write on a pipe under short=3: %ld", b->v[0]);
    cr_expect_eq(b->v[1], 2, "read on a pipe under short=2: %ld", b->v[1]);
    cr_expect_eq(b->v[2], 10, "write on a memfd is not wrapped: %ld", b->v[2]);
    cr_expect_eq(b->v[3], 5);
    cr_expect_eq(b->v[4], 2, "recvmsg under short=2: %ld", b->v[4]);
    cr_expect(b->v[5] && b->v[6]);
}

static void fd_scope(void)
{
    int p[2], sv[2], mfd = memfd_create("inproc", 0);
    char c = 'x';
    if (pipe(p) < 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0 || mfd < 0)
        CHILD_FAIL("set-up: %s", strerror(errno));
    if (write(p[1], &c, 1) != 1 || write(sv[0], &c, 1) != 1 || write(mfd, &c, 1) != 1)
        CHILD_FAIL("write: %s", strerror(errno));
    lseek(mfd, 0, SEEK_SET);
    arm("%sock:error=EIO");
    box->v[0] = read(sv[1], &c, 1);   /* a socket: fails */
    box->v[1] = read(p[0], &c, 1);    /* a pipe: not %sock */
    box->v[2] = read(mfd, &c, 1);     /* a file: never wrapped */
}

Test(faults_inproc, classes_on_read_follow_the_kind_of_descriptor)
{
    struct box *b = in_child(fd_scope);
    EXPECT_CLEAN_EXIT(b);
    cr_expect_eq(b->v[0], -1);
    cr_expect_eq(b->v[1], 1);
    cr_expect_eq(b->v[2], 1);
}

static void epipe(void)
{
    int p[2], sv[2];
    sigset_t set, pend;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    sigprocmask(SIG_BLOCK, &set, NULL);
    if (pipe(p) < 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
        CHILD_FAIL("set-up: %s", strerror(errno));
    arm("send:error=EPIPE");
    box->v[0] = send(sv[0], "x", 1, MSG_NOSIGNAL);
    sigpending(&pend);
    box->v[1] = sigismember(&pend, SIGPIPE);
    arm("write:error=EPIPE");
    box->v[2] = write(p[1], "x", 1);
    box->v[3] = errno;
    sigpending(&pend);
    box->v[4] = sigismember(&pend, SIGPIPE);
}

Test(faults_inproc, injected_epipe_raises_sigpipe_unless_msg_nosignal)
{
    struct box *b = in_child(epipe);
    EXPECT_CLEAN_EXIT(b);
    cr_expect_eq(b->v[0], -1);
    cr_expect_eq(b->v[1], 0, "send(MSG_NOSIGNAL) raised SIGPIPE");
    cr_expect(b->v[2] == -1 && b->v[3] == EPIPE);
    cr_expect_eq(b->v[4], 1, "write's EPIPE did not raise SIGPIPE");
}

static volatile sig_atomic_t usr1;
static void on_usr1(int sig) { (void)sig; usr1++; }

static void signal_and_delay(void)
{
    sem_t s;
    int v;
    sem_init(&s, 0, 0);
    signal(SIGUSR1, on_usr1);
    arm("sem_getvalue:signal=USR1");
    box->v[0] = sem_getvalue(&s, &v);
    box->v[1] = usr1;
    arm("sem_getvalue:delay_enter=30000:delay_exit=20000");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    box->v[2] = sem_getvalue(&s, &v);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    box->v[3] = (t1.tv_sec - t0.tv_sec) * 1000000 + (t1.tv_nsec - t0.tv_nsec) / 1000;
}

Test(faults_inproc, signal_comes_before_the_call_and_delays_around_it)
{
    struct box *b = in_child(signal_and_delay);
    EXPECT_CLEAN_EXIT(b);
    cr_expect_eq(b->v[0], 0, "the call still ran after the handled signal");
    cr_expect_eq(b->v[1], 1, "SIGUSR1 delivered %ld times", b->v[1]);
    cr_expect_eq(b->v[2], 0);
    cr_expect_geq(b->v[3], 50000, "delays of 30 ms + 20 ms took %ld us", b->v[3]);
}

static void crashes(void)
{
    key_t key = 0x1f5;
    for (int k = 0; k < 2; k++) {
        pid_t pid = fork();
        if (pid == 0) {
            arm(k ? "semget:crash_after" : "semget:crash");
            semget(key + k, 1, IPC_CREAT | 0600);
            _exit(0);
        }
        int st;
        waitpid(pid, &st, 0);
        box->v[k * 2] = WIFSIGNALED(st) ? WTERMSIG(st) : -1;
        int id = semget(key + k, 0, 0);
        box->v[k * 2 + 1] = id >= 0;
        if (id >= 0)
            semctl(id, 0, IPC_RMID);
    }
}

Test(faults_inproc, crash_kills_before_the_call_and_crash_after_once_it_is_done)
{
    struct box *b = in_child(crashes);
    EXPECT_CLEAN_EXIT(b);
    cr_expect_eq(b->v[0], SIGKILL);
    cr_expect_eq(b->v[1], 0, "crash: the set was created although the call never ran");
    cr_expect_eq(b->v[2], SIGKILL);
    cr_expect_eq(b->v[3], 1, "crash_after: the set should exist, the call had returned");
}

static void any_errno(void)
{
    const struct ipcv_point *p = ipcv_faults_find("shmat");
    for (int seed = 0; seed < 16; seed++) {
        ipcv_faults_seed((unsigned long long)seed);
        arm("shmat:error=any");
        errno = 0;
        shmat(0, NULL, 0);
        int ok = 0;
        for (unsigned e = 0; e < p->nerrnos; e++)
            ok |= p->errnos[e] == errno;
        box->v[seed] = ok ? errno : -errno;
    }
}

Test(faults_inproc, error_any_is_one_of_the_documented_errnos)
{
    struct box *b = in_child(any_errno);
    EXPECT_CLEAN_EXIT(b);
    int distinct = 0;
    for (int i = 0; i < 16; i++) {
        cr_expect_gt(b->v[i], 0, "seed %d: errno %ld is not documented for shmat", i, -b->v[i]);
        int seen = 0;
        for (int j = 0; j < i; j++)
            seen |= b->v[j] == b->v[i];
        distinct += !seen;
    }
    cr_expect_gt(distinct, 1, "16 seeds all picked the same errno");
}

static void variadic(void)
{
    /* Armed, so the slow path runs, on something that never fires. */
    arm("semctl,mq_open,sem_open:error=EINVAL:when=1000000");
    int id = semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
    box->v[0] = semctl(id, 0, SETVAL, 5);
    box->v[1] = semctl(id, 0, GETVAL);
    semctl(id, 0, IPC_RMID);
    struct mq_attr attr = { .mq_maxmsg = 3, .mq_msgsize = 17 }, got;
    mqd_t q = mq_open("/ipcvet-inproc", O_CREAT | O_EXCL | O_RDWR, 0600, &attr);
    box->v[2] = q != (mqd_t)-1 && mq_getattr(q, &got) == 0 && got.mq_maxmsg == 3 && got.mq_msgsize == 17;
    if (q != (mqd_t)-1) {
        mq_close(q);
        mq_unlink("/ipcvet-inproc");
    }
}

Test(faults_inproc, variadic_arguments_reach_the_real_call)
{
    struct box *b = in_child(variadic);
    EXPECT_CLEAN_EXIT(b);
    cr_expect_eq(b->v[0], 0);
    cr_expect_eq(b->v[1], 5, "semctl(SETVAL, 5) then GETVAL gave %ld", b->v[1]);
    cr_expect_eq(b->v[2], 1, "mq_open's mode and attr were not passed on");
}

static void through_libfiu(void)
{
    ipcv_faults_use_fiu(1);
    fiu_enable("ipc/sysv_shm/shmget", 1, (void *)(intptr_t)ENOSPC, 0);
    errno = 0;
    box->v[0] = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    box->v[1] = errno;
    fiu_disable("ipc/sysv_shm/shmget");
    int id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    box->v[2] = id >= 0;
    if (id >= 0)
        shmctl(id, IPC_RMID, NULL);
    pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    fiu_enable("ipc/pshared/*", 1, (void *)(intptr_t)EDEADLK, 0);
    box->v[3] = pthread_mutex_lock(&m);
    fiu_disable("ipc/pshared/*");
    ipcv_faults_use_fiu(0);
}

Test(faults_inproc, every_wrapper_is_a_libfiu_point)
{
    struct box *b = in_child(through_libfiu);
    EXPECT_CLEAN_EXIT(b);
    cr_expect(b->v[0] == -1 && b->v[1] == ENOSPC, "fiu_enable(ipc/sysv_shm/shmget): %ld, errno %ld",
              b->v[0], b->v[1]);
    cr_expect_eq(b->v[2], 1, "after fiu_disable shmget works again");
    cr_expect_eq(b->v[3], EDEADLK, "ipc/pshared/* with failinfo EDEADLK: %ld", b->v[3]);
}
