/* POSIX message queues: helpers shared by the cases/posix_mq*.c files.
 *
 * Every check that depends on the behaviour under test records a failure
 * and goes on (never "broken"): under a mutant a queue may block where it
 * should not, or not block where it should, and the case must then end
 * "failed". SAFE_* is kept for set-up that does not depend on it. */
#ifndef IPCV_CASES_POSIX_MQ_H
#define IPCV_CASES_POSIX_MQ_H

#include <dirent.h>
#include <grp.h>
#include <limits.h>
#include <mqueue.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "ipcvet.h"
#include "watchdog.h"   /* ipcv_describe_blocked */

#define MQ_NAME_LEN 64

/* ipcv_name() carries the caller's pid, which differs inside a role (it
 * is namespace-local there): the coordinator makes every name and hands
 * it to its roles in their argument. */
static inline const char *mq_name(char name[MQ_NAME_LEN], const char *suffix)
{
    snprintf(name, MQ_NAME_LEN, "%s", ipcv_name(suffix));
    return name;
}

/* A new queue private to the case: O_CREAT | O_EXCL | O_RDWR | extra,
 * mode 0600, mq_maxmsg x mq_msgsize (maxmsg 0: the defaults). */
static inline mqd_t mq_fresh(char name[MQ_NAME_LEN], const char *suffix,
                             long maxmsg, long msgsize, int extra)
{
    struct mq_attr a = { .mq_maxmsg = maxmsg, .mq_msgsize = msgsize };
    mq_name(name, suffix);
    return SAFE(mq_open(name, O_CREAT | O_EXCL | O_RDWR | extra, 0600, maxmsg ? &a : NULL));
}

/* Close the descriptor and remove the name. */
static inline void mq_gone(mqd_t q, const char *name)
{
    SAFE(mq_close(q));
    SAFE(mq_unlink(name));
}

/* An absolute CLOCK_REALTIME deadline `ms` from now (negative: past). */
static inline struct timespec mq_in_ms(long ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    long long ns = (long long)ts.tv_nsec + (long long)ms * 1000000LL;
    ts.tv_sec += (time_t)(ns / 1000000000LL);
    ns %= 1000000000LL;
    if (ns < 0) {
        ns += 1000000000LL;
        ts.tv_sec--;
    }
    ts.tv_nsec = (long)ns;
    return ts;
}

static inline double mq_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* mq_curmsgs, or -1 if mq_getattr fails. */
static inline long mq_count(mqd_t q)
{
    struct mq_attr a;
    return mq_getattr(q, &a) < 0 ? -1 : a.mq_curmsgs;
}

/* --- bounded waits that record a failure instead of breaking ---------- */

struct mq_count_probe { mqd_t q; long want; };

static inline int mq_count_reached(void *arg)
{
    struct mq_count_probe *p = arg;
    return mq_count(p->q) == p->want;
}

/* Wait until the queue holds `want` messages. */
#define mq_expect_count_soon(q, want) mq_expect_count_soon_at(__FILE__, __LINE__, q, want)
static inline int mq_expect_count_soon_at(const char *file, int line, mqd_t q, long want)
{
    struct mq_count_probe p = { q, want };
    if (ipcv_poll_until(mq_count_reached, &p, ipcv_wait_bound()))
        return 1;
    ipcv_record(IPCV_FAIL, file, line, "queue never held %ld messages (mq_curmsgs %ld)",
                want, mq_count(q));
    return 0;
}

struct mq_block_probe { pid_t pid, tid; const char *call; int or_gone; };

static inline int mq_is_blocked(void *arg)
{
    struct mq_block_probe *b = arg;
    char desc[200];
    ipcv_describe_blocked(b->pid, b->tid, desc, sizeof desc);
    if (!strcmp(desc, "gone") || !strncmp(desc, "exited", 6))
        return b->or_gone;
    if (!strstr(desc, "(state S)") && !strstr(desc, "(state D)"))
        return 0;
    return !strncmp(desc, b->call, strlen(b->call)) && desc[strlen(b->call)] == ' ';
}

/* Wait until the role (tid 0) or a thread of this process sleeps in the
 * syscall `call` ("mq_timedreceive": glibc's mq_receive is that syscall,
 * mq_send is mq_timedsend). A failure, not broken, if it never does:
 * not blocking where the queue says it must is the behaviour under test. */
#define mq_expect_blocked(r, call) \
    mq_expect_blocked_at(__FILE__, __LINE__, ipcv_role_pid(r), 0, call, ipcv_role_name(r))
static inline int mq_expect_blocked_at(const char *file, int line, pid_t pid, pid_t tid,
                                       const char *call, const char *who)
{
    struct mq_block_probe b = { pid, tid, call, 0 };
    if (ipcv_poll_until(mq_is_blocked, &b, ipcv_wait_bound()))
        return 1;
    char desc[200];
    ipcv_describe_blocked(pid, tid, desc, sizeof desc);
    ipcv_record(IPCV_FAIL, file, line, "%s did not block in %s within %.1f s; it is in %s",
                who, call, ipcv_wait_bound(), desc);
    return 0;
}

/* The coordinator cannot start threads (it made the case's PID namespace
 * with unshare, and clone(CLONE_THREAD) then fails with EINVAL): threads
 * live in roles, whose pids are namespace-local while /proc is the
 * host's. /proc/self still names this process; this waits until one of
 * its threads other than the main one sleeps in `call`. */
struct mq_sibling_probe { pid_t pid; const char *call; };

static inline int mq_sibling_blocked(void *arg)
{
    struct mq_sibling_probe *p = arg;
    char dir[64];
    snprintf(dir, sizeof dir, "/proc/%d/task", (int)p->pid);
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int found = 0;
    struct dirent *e;
    while (!found && (e = readdir(d))) {
        pid_t tid = (pid_t)atoi(e->d_name);
        if (tid <= 0 || tid == p->pid)
            continue;
        struct mq_block_probe b = { p->pid, tid, p->call, 0 };
        found = mq_is_blocked(&b);
    }
    closedir(d);
    return found;
}

#define mq_expect_sibling_blocked(call) mq_expect_sibling_blocked_at(__FILE__, __LINE__, call)
static inline int mq_expect_sibling_blocked_at(const char *file, int line, const char *call)
{
    char self[32] = { 0 };
    if (readlink("/proc/self", self, sizeof self - 1) <= 0)
        ipcv_brk(file, line, "readlink /proc/self: %s", ipcv_errname(errno));
    struct mq_sibling_probe p = { (pid_t)atoi(self), call };
    if (ipcv_poll_until(mq_sibling_blocked, &p, ipcv_wait_bound()))
        return 1;
    ipcv_record(IPCV_FAIL, file, line, "no thread blocked in %s within %.1f s", call, ipcv_wait_bound());
    return 0;
}

/* Wait until the role has ended or sleeps in `call` again; 1 if it ended. */
static inline int mq_ended_or_blocked(struct ipcv_role *r, const char *call)
{
    struct mq_block_probe b = { ipcv_role_pid(r), 0, call, 1 };
    ipcv_poll_until(mq_is_blocked, &b, ipcv_wait_bound());
    char desc[200];
    ipcv_describe_blocked(ipcv_role_pid(r), 0, desc, sizeof desc);
    return !strcmp(desc, "gone") || !strncmp(desc, "exited", 6);
}

struct mq_cp_probe { unsigned n, count; };

static inline int mq_cp_reached(void *arg)
{
    struct mq_cp_probe *p = arg;
    return atomic_load(&ipcv_self.page->checkpoints[p->n]) >= p->count;
}

/* Like ipcv_checkpoint_wait, but a failure (with `what`) when it is the
 * behaviour under test that never happened. */
#define mq_expect_checkpoint(n, count, what) \
    mq_expect_checkpoint_at(__FILE__, __LINE__, n, count, what)
static inline int mq_expect_checkpoint_at(const char *file, int line, unsigned n,
                                          unsigned count, const char *what)
{
    struct mq_cp_probe p = { n, count };
    if (ipcv_poll_until(mq_cp_reached, &p, ipcv_wait_bound()))
        return 1;
    ipcv_record(IPCV_FAIL, file, line, "%s did not happen within %.1f s", what, ipcv_wait_bound());
    return 0;
}

/* Wait for a blocked signal; 1 with *si filled if it came in time. */
static inline int mq_take_signal(int sig, siginfo_t *si, double seconds)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    struct timespec ts = { (time_t)seconds, (long)((seconds - (time_t)seconds) * 1e9) };
    for (;;) {
        int rc = sigtimedwait(&set, si, &ts);
        if (rc == sig)
            return 1;
        if (rc < 0 && errno == EINTR)
            continue;
        return 0;
    }
}

/* Block `sig` in this process (and the roles it starts from now on). */
static inline void mq_block_signal(int sig)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    SAFE(sigprocmask(SIG_BLOCK, &set, NULL));
}

/* In a role: become `uid` (group `uid` too, no supplementary groups), or
 * skip. A uid of its own gives the role its own RLIMIT_MSGQUEUE count:
 * queue bytes are counted per user, and root's count is shared with
 * every other case running at the same time. */
static inline void mq_become(uid_t uid)
{
    if (setgroups(0, NULL) < 0 || setresgid(uid, uid, uid) < 0 || setresuid(uid, uid, uid) < 0)
        ipcv_skip("cannot become uid %u: %s", (unsigned)uid, ipcv_errname(errno));
}

#define MQ_NOBODY 65534

#endif
