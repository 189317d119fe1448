#define _GNU_SOURCE
#include "roles.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "case.h"
#include "checkpoint.h"
#include "watchdog.h"

#define MAX_ROLES 16

struct ipcv_role {
    char name[24];
    pid_t pid;
    int idx;
    int ready_rd;       /* coordinator: read end; EOF = ready or dead */
    int ready_wr;       /* role: write end, closed by ipcv_ready */
    int pidfd;
    int out_fd;         /* the role's stdout+stderr, shown only on failure */
    unsigned released;  /* role: releases consumed so far */
    int ended;
    int status;
    struct ipcv_proc_slot *slot;   /* in the shared page */
};

static struct ipcv_role roles[MAX_ROLES];
static int nroles;

pid_t ipcv_role_pid(const struct ipcv_role *r) { return r->pid; }
const char *ipcv_role_name(const struct ipcv_role *r) { return r->name; }

extern void ipcv_case_enter_role(const char *name, struct ipcv_proc_slot *slot);  /* case.c */
extern pid_t ipcv_case_anchor(void);                  /* case.c */

#ifdef IPCV_COVERAGE
void __gcov_dump(void);
#define coverage_dump() __gcov_dump()
#else
#define coverage_dump() ((void)0)
#endif

static _Noreturn void role_main(struct ipcv_role *r, ipcv_role_fn fn, void *arg,
                                pid_t parent)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    /* In a PID namespace the parent is outside it: getppid() is 0 then. */
    pid_t pp = getppid();
    if (pp != parent && pp != 0)
        _exit(IPCV_ROLE_BROKEN);
    setpgid(0, ipcv_case_anchor());
    close(r->ready_rd);
    dup2(r->out_fd, STDOUT_FILENO);
    dup2(r->out_fd, STDERR_FILENO);
    close(r->out_fd);
    /* A file is fully buffered: what a role prints before it crashes (the
     * output that matters most) would die in the buffer. */
    setvbuf(stdout, NULL, _IONBF, 0);
    ipcv_case_enter_role(r->name, r->slot);
    int rc = fn(r, arg);
    fflush(NULL);
    coverage_dump();    /* _exit skips gcov's atexit writer */
    _exit(rc);
}

struct ipcv_role *ipcv_spawn_at(const char *file, int line, const char *name,
                                ipcv_role_fn fn, void *arg)
{
    if (nroles == MAX_ROLES)
        ipcv_brk(file, line, "role '%s': more than %d roles in one case", name, MAX_ROLES);
    struct ipcv_role *r = &roles[nroles];
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "%s", name);
    r->idx = nroles;
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        ipcv_brk(file, line, "role '%s': pipe: %s", name, ipcv_errname(errno));
    r->ready_rd = p[0];
    r->ready_wr = p[1];
    r->out_fd = memfd_create("ipcvet-role-output", MFD_CLOEXEC);
    if (r->out_fd < 0)
        ipcv_brk(file, line, "role '%s': memfd_create: %s", name, ipcv_errname(errno));
    struct ipcv_page *pg = ipcv_self.page;
    unsigned k = atomic_fetch_add(&pg->nprocs, 1);
    if (k >= IPCV_MAX_PROCS)
        ipcv_brk(file, line, "role '%s': more than %d processes in one case", name, IPCV_MAX_PROCS);
    r->slot = &pg->procs[k];
    snprintf(r->slot->who, sizeof r->slot->who, "%s", name);
    pid_t parent = getpid();
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        ipcv_brk(file, line, "role '%s': fork: %s", name, ipcv_errname(errno));
    if (pid == 0)
        role_main(r, fn, arg, parent);
    setpgid(pid, ipcv_case_anchor());   /* closes the race with the child */
    close(r->ready_wr);
    r->ready_wr = -1;
    r->pid = pid;
    r->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    nroles++;
    r->slot->pid = pid;
    return r;
}

void ipcv_ready(struct ipcv_role *self)
{
    atomic_store(&self->slot->ready, 1);
    /* A byte, not only EOF: a child the role forked before this call holds
     * a copy of the write end, so EOF may never come. */
    if (self->ready_wr >= 0) {
        (void)!write(self->ready_wr, "R", 1);
        close(self->ready_wr);
    }
    self->ready_wr = -1;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

void ipcv_wait_ready_at(const char *file, int line, struct ipcv_role *r)
{
    struct pollfd p = { .fd = r->ready_rd, .events = POLLIN };
    double deadline = now() + ipcv_wait_bound();
    char buf[64];
    for (;;) {
        int ms = (int)((deadline - now()) * 1000);
        if (ms <= 0) {
            char where[200];
            ipcv_describe_blocked(r->pid, 0, where, sizeof where);
            ipcv_brk(file, line, "role '%s' not ready within %.1f s; it is in %s",
                     r->name, ipcv_wait_bound(), where);
        }
        int rc = poll(&p, 1, ms);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc > 0 && read(r->ready_rd, buf, sizeof buf) >= 0)
            break;   /* the ready byte, or EOF */
    }
    /* A byte means ready; EOF alone means ready or dead before it got there. */
    if (!atomic_load(&r->slot->ready)) {
        int st = ipcv_join_at(file, line, r, IPCV_ANY_END);
        if (WIFEXITED(st) && WEXITSTATUS(st) == IPCV_ROLE_SKIP)
            ipcv_skip_at(file, line, "role '%s' skipped", r->name);
        ipcv_brk(file, line, "role '%s' died before it was ready (%s %d)", r->name,
                 WIFSIGNALED(st) ? "signal" : "exit status",
                 WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
    }
}

void ipcv_release(struct ipcv_role *r)
{
    ipcv_checkpoint_signal(IPCV_CHECKPOINTS_FOR_CASES + (unsigned)r->idx);
}

void ipcv_await_release_at(const char *file, int line, struct ipcv_role *self)
{
    self->released++;
    ipcv_checkpoint_wait_at(file, line, IPCV_CHECKPOINTS_FOR_CASES + (unsigned)self->idx,
                            self->released);
}

int ipcv_role_asleep_in(const struct ipcv_role *r, long nr)
{
    return ipcv_pid_asleep_in(r->pid, nr);
}

int ipcv_pid_asleep_in(pid_t pid, long nr)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
    const char *paren = strrchr(buf, ')');
    if (!paren || paren[1] != ' ' || (paren[2] != 'S' && paren[2] != 'D'))
        return 0;
    snprintf(path, sizeof path, "/proc/%d/syscall", (int)pid);
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return 0;
    n = read(fd, buf, sizeof buf - 1);
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
    char *end;
    long seen = strtol(buf, &end, 10);
    return end != buf && seen == nr;
}

struct blocked_probe { struct ipcv_role *r; const char *want; };

static int is_blocked(void *arg)
{
    struct blocked_probe *b = arg;
    char desc[200];
    ipcv_describe_blocked(b->r->pid, 0, desc, sizeof desc);
    if (strstr(desc, "running") || !strcmp(desc, "gone") || strstr(desc, "exited"))
        return 0;
    if (!strstr(desc, "(state S)") && !strstr(desc, "(state D)"))
        return 0;
    return !b->want || !strncmp(desc, b->want, strlen(b->want));
}

static int wait_blocked(const char *file, int line, struct ipcv_role *r,
                        const char *syscall_name, enum ipcv_verdict verdict)
{
    struct blocked_probe b = { r, syscall_name };
    if (ipcv_poll_until(is_blocked, &b, ipcv_wait_bound()))
        return 1;
    char desc[200];
    ipcv_describe_blocked(r->pid, 0, desc, sizeof desc);
    const char *fmt = "role '%s' did not block%s%s within %.1f s; it is in %s";
    const char *in = syscall_name ? " in " : "", *sc = syscall_name ? syscall_name : "";
    if (verdict == IPCV_BROKEN)
        ipcv_brk(file, line, fmt, r->name, in, sc, ipcv_wait_bound(), desc);
    ipcv_record(verdict, file, line, fmt, r->name, in, sc, ipcv_wait_bound(), desc);
    return 0;
}

void ipcv_wait_blocked_at(const char *file, int line, struct ipcv_role *r,
                          const char *syscall_name)
{
    wait_blocked(file, line, r, syscall_name, IPCV_BROKEN);
}

int ipcv_expect_blocked_at(const char *file, int line, struct ipcv_role *r,
                           const char *syscall_name)
{
    return wait_blocked(file, line, r, syscall_name, IPCV_FAIL);
}

struct exited_probe { pid_t pid; };

static int has_exited(void *arg)
{
    siginfo_t si = { 0 };
    struct exited_probe *e = arg;
    return waitid(P_PID, e->pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == e->pid;
}

static void describe_end(int st, char *buf, size_t len)
{
    if (WIFSIGNALED(st))
        snprintf(buf, len, "killed by %s", sigabbrev_np(WTERMSIG(st)) ? sigabbrev_np(WTERMSIG(st)) : "signal");
    else
        snprintf(buf, len, "exit status %d", WEXITSTATUS(st));
}

static void output_tail(struct ipcv_role *r, char *buf, size_t len)
{
    off_t size = lseek(r->out_fd, 0, SEEK_END);
    buf[0] = '\0';
    if (size <= 0)
        return;
    off_t from = size > (off_t)len - 1 ? size - (off_t)len + 1 : 0;
    ssize_t n = pread(r->out_fd, buf, len - 1, from);
    buf[n > 0 ? n : 0] = '\0';
}

int ipcv_join_at(const char *file, int line, struct ipcv_role *r, int expected)
{
    if (!r->ended) {
        double deadline = now() + ipcv_wait_bound();
        ipcv_mark_call("join", file, line);
        if (r->pidfd >= 0) {
            struct pollfd p = { .fd = r->pidfd, .events = POLLIN };
            for (;;) {
                int ms = (int)((deadline - now()) * 1000);
                if (ms <= 0 || poll(&p, 1, ms) > 0)
                    break;
            }
        } else {
            /* No pidfd (valgrind 3.19 does not know pidfd_open): poll. */
            struct exited_probe e = { r->pid };
            ipcv_poll_until(has_exited, &e, deadline - now());
        }
        ipcv_clear_call();
        int st;
        if (waitpid(r->pid, &st, WNOHANG) != r->pid) {
            char desc[200];
            ipcv_describe_blocked(r->pid, 0, desc, sizeof desc);
            kill(r->pid, SIGKILL);
            waitpid(r->pid, &st, 0);
            r->ended = 1;
            r->status = st;
            ipcv_record(IPCV_FAIL, file, line, "role '%s' did not end within %.1f s: blocked in %s (killed)",
                        r->name, ipcv_wait_bound(), desc);
            return st;
        }
        r->ended = 1;
        r->status = st;
        if (r->pidfd >= 0)
            close(r->pidfd);
    }
    int st = r->status;
    if (WIFEXITED(st) && (WEXITSTATUS(st) == IPCV_ROLE_BROKEN || WEXITSTATUS(st) == IPCV_ROLE_SKIP))
        return st;    /* the role recorded why */
    int ok = expected == IPCV_ANY_END ||
             (expected & 0x1000 ? WIFSIGNALED(st) && WTERMSIG(st) == (expected & 0xfff)
                                : WIFEXITED(st) && WEXITSTATUS(st) == expected);
    if (!ok) {
        char seen[64], want[64], out[700];
        describe_end(st, seen, sizeof seen);
        describe_end(expected & 0x1000 ? (expected & 0x7f) : (expected << 8), want, sizeof want);
        output_tail(r, out, sizeof out);
        ipcv_record(IPCV_FAIL, file, line, "role '%s': expected %s, seen %s%s%s", r->name,
                    want, seen, out[0] ? "; its output: " : "", out);
    }
    return st;
}

void ipcv_roles_kill_all(void)
{
    for (int i = 0; i < nroles; i++) {
        struct ipcv_role *r = &roles[i];
        if (r->ended)
            continue;
        kill(r->pid, SIGKILL);
        int st;
        if (waitpid(r->pid, &st, 0) == r->pid) {
            r->ended = 1;
            r->status = st;
        }
    }
}

void ipcv_roles_reset(void)
{
    for (int i = 0; i < nroles; i++) {
        if (roles[i].out_fd >= 0)
            close(roles[i].out_fd);
        if (roles[i].ready_rd >= 0)
            close(roles[i].ready_rd);
        if (!roles[i].ended && roles[i].pidfd >= 0)
            close(roles[i].pidfd);
    }
    nroles = 0;
}
