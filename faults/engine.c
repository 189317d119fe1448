/* The plan engine behind every generated wrapper: which rule acts on this
 * call, the actions, lineage across fork, the trace, the supervisor's
 * shared page, and libfiu as a second control plane.
 *
 * Randomness is a hash of (seed, rule, lineage, function, occurrence): it
 * does not depend on timing or on the order processes run in, and it never
 * touches the program's own random() stream. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#define FIU_ENABLE 1            /* the real libfiu calls, not fiu.h's no-op macros */
#include <fiu-control.h>
#include <fiu.h>
#include <link.h>
#include <mqueue.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"
#include "shared.h"

atomic_int ipcv_state;

/* Set while the engine itself runs: wrapped calls made meanwhile (libfiu's
 * rwlock, a signal handler) go straight to libc. */
static __thread int guard __attribute__((tls_model("initial-exec")));

static struct {
    struct ipcv_rule rules[IPCV_MAX_RULES];
    int nrules;
    unsigned long long seed;
    char lineage[IPCV_LINEAGE];
    unsigned nchildren;          /* when there is no shared slot */
    int trace_fd;
    int shared_fd;
    int record_fd;
    struct ipcv_shared *sh;
    struct ipcv_sh_proc *slot;
    pid_t pid;
    char comm[16];
    atomic_ulong fired;
} st = { .lineage = "0", .trace_fd = -1, .shared_fd = -1, .record_fd = -1 };

static atomic_uint occurrences[IPCV_NFN];
/* Per rule with site=: calls from that site so far in this process. */
static atomic_uint site_hits[IPCV_MAX_RULES];

void *ipcv_real(const char *name, const char *version)
{
    return version ? dlvsym(RTLD_NEXT, name, version) : dlsym(RTLD_NEXT, name);
}

/* ---- randomness ---------------------------------------------------------- */

static uint64_t mix(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t draw(int rule, int fn, unsigned occ, unsigned salt)
{
    uint64_t h = 0xcbf29ce484222325ULL;          /* FNV-1a of the lineage */
    for (const char *p = st.lineage; *p; p++)
        h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
    h = mix(h ^ mix(st.seed));
    h = mix(h ^ ((uint64_t)(unsigned)rule << 32 | (unsigned)fn));
    return mix(h ^ ((uint64_t)occ << 8 | salt));
}

static double draw01(int rule, int fn, unsigned occ, unsigned salt)
{
    return (double)(draw(rule, fn, occ, salt) >> 11) * (1.0 / 9007199254740992.0);
}

static unsigned long between(unsigned long lo, unsigned long hi, int rule, int fn,
                             unsigned occ, unsigned salt)
{
    return hi > lo ? lo + draw(rule, fn, occ, salt) % (hi - lo + 1) : lo;
}

/* ---- the calling process ------------------------------------------------- */

static int proc_self_pid(void)
{
    char buf[32];
    ssize_t n = readlink("/proc/self", buf, sizeof buf - 1);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    return atoi(buf);
}

static struct ipcv_sh_proc *find_live(pid_t pid)
{
    unsigned n = atomic_load(&st.sh->nprocs);
    if (n > IPCV_SH_PROCS)
        n = IPCV_SH_PROCS;
    while (n-- > 0) {
        struct ipcv_sh_proc *s = &st.sh->procs[n];
        if (s->pid == pid && atomic_load(&s->state) == IPCV_SLOT_LIVE)
            return s;
    }
    return NULL;
}

static struct ipcv_sh_proc *new_slot(pid_t pid, pid_t ppid, const char *lineage, const char *comm)
{
    unsigned k = atomic_fetch_add(&st.sh->nprocs, 1);
    if (k >= IPCV_SH_PROCS)
        return NULL;
    struct ipcv_sh_proc *s = &st.sh->procs[k];
    s->pid = pid;
    s->ppid = ppid;
    snprintf(s->lineage, sizeof s->lineage, "%s", lineage);
    snprintf(s->comm, sizeof s->comm, "%s", comm);
    atomic_store(&s->state, IPCV_SLOT_LIVE);
    return s;
}

static void adopt_slot(struct ipcv_sh_proc *s)
{
    st.slot = s;
    if (!s)
        return;
    s->procpid = proc_self_pid();
    snprintf(s->comm, sizeof s->comm, "%s", st.comm);
    s->has_lib = 1;
}

/* A process that starts with the library (after exec): its slot is there
 * when a wrapped fork made it; else it is a child its parent spawned some
 * other way (posix_spawn, system) and takes the parent's next index. */
static void register_exec(void)
{
    pid_t pid = getpid(), ppid = getppid();
    struct ipcv_sh_proc *s = find_live(pid);
    if (s) {
        snprintf(st.lineage, sizeof st.lineage, "%s", s->lineage);
    } else {
        struct ipcv_sh_proc *parent = find_live(ppid);
        if (!parent || snprintf(st.lineage, sizeof st.lineage, "%s.%u", parent->lineage,
                                atomic_fetch_add(&parent->nchildren, 1) + 1) >= (int)sizeof st.lineage)
            snprintf(st.lineage, sizeof st.lineage, "?");
        s = new_slot(pid, ppid, st.lineage, st.comm);
    }
    adopt_slot(s);
}

/* ---- trace --------------------------------------------------------------- */

static void trace_write(const char *line, size_t n)
{
    while (n > 0) {
        ssize_t w = syscall(SYS_write, st.trace_fd, line, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        line += w;
        n -= (size_t)w;
    }
}

static void trace_line(const struct ipcv_call *c, const char *result, const char *notes)
{
    char line[640];
    int n = snprintf(line, sizeof line, "[%s pid %d] %s(%s) = %s%s%s%s\n", st.lineage,
                     (int)st.pid, ipcv_points[c->fn].function, c->args, result,
                     notes[0] ? " (" : "", notes, notes[0] ? ")" : "");
    if (n < 0)
        return;
    if ((size_t)n >= sizeof line) {
        n = sizeof line - 1;
        line[n - 1] = '\n';
    }
    trace_write(line, (size_t)n);
}

static const char *errname(int e)
{
    const char *n = e > 0 ? strerrorname_np(e) : NULL;
    return n ? n : "E?";
}

static const char *signame(int s)
{
    static __thread char buf[16];
    const char *a = sigabbrev_np(s);
    snprintf(buf, sizeof buf, "SIG%s", a ? a : "?");
    return buf;
}

static void note(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void note(char *buf, size_t len, const char *fmt, ...)
{
    size_t used = strlen(buf);
    if (used && used + 2 < len) {
        strcat(buf, ", ");
        used += 2;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + used, len - used, fmt, ap);
    va_end(ap);
}

/* ---- the slow path ------------------------------------------------------- */

static unsigned fd_kind(int fd)
{
    struct stat sb;
    if (fd < 0 || fd == st.trace_fd || fd == st.shared_fd || fd == st.record_fd || fstat(fd, &sb) < 0)
        return 0;
    if (S_ISFIFO(sb.st_mode))
        return 1 | 2;   /* a pipe and a FIFO look alike to fstat */
    if (S_ISSOCK(sb.st_mode))
        return 4;
    return 0;
}

static int proc_matches(const struct ipcv_rule *r)
{
    switch (r->proc) {
    case IPCV_PROC_ROOT: return !strcmp(st.lineage, "0");
    case IPCV_PROC_CHILD: return strcmp(st.lineage, "0") != 0;
    case IPCV_PROC_PATH: return !strcmp(st.lineage, r->proc_arg);
    case IPCV_PROC_COMM:
        return !strcmp(program_invocation_short_name, r->proc_arg) ||
               !strncmp(st.comm, r->proc_arg, sizeof st.comm - 1);
    default: return 1;
    }
}

/* The main program's file name, taken at start: dladdr names it after
 * argv[0], which programs rewrite ("postgres: checkpointer"). */
static char exe_name[64];

static void note_exe_name(void)
{
    char path[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
    if (n <= 0)
        return;
    path[n] = '\0';
    const char *base = strrchr(path, '/');
    snprintf(exe_name, sizeof exe_name, "%.*s", (int)sizeof exe_name - 1, base ? base + 1 : path);
}

/* Only when recording or when a rule names a site: dladdr is not free.
 * The module's base name, with anything a plan could trip on replaced. */
IPCV_EXPORT void ipcv_site_of(const void *addr, char *buf, size_t len)
{
    Dl_info info;
    struct link_map *map = NULL;
    if (!addr || !dladdr1(addr, &info, (void **)&map, RTLD_DL_LINKMAP) || !info.dli_fname ||
        !info.dli_fbase) {
        snprintf(buf, len, "?");
        return;
    }
    const char *base = strrchr(info.dli_fname, '/');
    base = base ? base + 1 : info.dli_fname;
    if (map && !map->l_name[0] && exe_name[0])
        base = exe_name;
    int n = snprintf(buf, len, "%s+%#lx", *base ? base : "?",
                     (unsigned long)((uintptr_t)addr - (uintptr_t)info.dli_fbase));
    char *plus = n > 0 ? strrchr(buf, '+') : NULL;
    for (char *p = buf; plus && p < plus; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '_' || *p == '-'))
            *p = '_';
}

static int when_fires(const struct ipcv_rule *r, int i, int fn, unsigned occ)
{
    switch (r->when) {
    case IPCV_WHEN_RANGE:
        return occ >= r->first && occ <= r->last && (occ - r->first) % r->step == 0;
    case IPCV_WHEN_PROB:
        return draw01(i, fn, occ, 0) < r->p;
    default:
        return 1;
    }
}

static int any_errno(const struct ipcv_point *pt, int rule, int fn, unsigned occ)
{
    return pt->errnos[draw(rule, fn, occ, 1) % pt->nerrnos];
}

/* libfiu's own text: its locks are not the program's IPC. */
static uintptr_t fiu_lo, fiu_hi;

int ipcv_enter(struct ipcv_call *c, int fn, int fd, const void *caller)
{
    if (guard || ((uintptr_t)caller >= fiu_lo && (uintptr_t)caller < fiu_hi))
        return 0;
    const struct ipcv_point *pt = &ipcv_points[fn];
    unsigned kind = 7;
    if (pt->flags & IPCV_F_FDSCOPE) {
        kind = fd_kind(fd);
        if (!kind)
            return 0;
    }
    guard = 1;
    c->fn = fn;
    c->rule = -1;
    c->acts = 0;
    c->err = c->sig = 0;
    c->delay_enter = c->delay_exit = 0;
    c->short_n = c->short_from = 0;
    c->in_child = c->published = 0;
    c->args[0] = c->res[0] = c->usage[0] = '\0';
    c->caller = caller;
    c->occ = atomic_fetch_add_explicit(&occurrences[fn], 1, memory_order_relaxed) + 1;
    int state = ipcv_armed();
    c->recording = (state & IPCV_ST_REC) != 0;
    if (state & IPCV_ST_PLAN) {
        char site[sizeof st.rules[0].site] = "";
        for (int i = 0; i < st.nrules; i++) {
            const struct ipcv_rule *r = &st.rules[i];
            if (!(r->fdmask[fn] & kind) || !proc_matches(r))
                continue;
            unsigned occ = c->occ;
            if (r->site[0]) {   /* when= counts the calls from that site */
                if (!site[0])
                    ipcv_site_of(caller, site, sizeof site);
                if (strcmp(site, r->site))
                    continue;
                occ = atomic_fetch_add(&site_hits[i], 1) + 1;
            }
            if (!when_fires(r, i, fn, occ))
                continue;
            c->rule = i;
            c->acts = r->acts;
            c->sig = r->sig;
            if (r->acts & IPCV_A_ERROR)
                c->err = r->err > 0 ? r->err : any_errno(pt, i, fn, c->occ);
            if (r->acts & IPCV_A_DELAY_ENTER)
                c->delay_enter = between(r->de_lo, r->de_hi, i, fn, c->occ, 2);
            if (r->acts & IPCV_A_DELAY_EXIT)
                c->delay_exit = between(r->dx_lo, r->dx_hi, i, fn, c->occ, 3);
            break;
        }
    }
    if (!c->acts && (state & IPCV_ST_FIU) && fiu_fail(pt->point)) {
        void *info = fiu_failinfo();
        c->acts = IPCV_A_ERROR;
        c->err = info ? (int)(intptr_t)info : any_errno(pt, -1, fn, c->occ);
    }
    c->want_result = (state & (IPCV_ST_TRACE | IPCV_ST_REC)) != 0;
    c->want_args = c->want_result || ((state & IPCV_ST_SUP) && (pt->flags & IPCV_F_BLOCKS));
    return 1;
}

static void sleep_us(unsigned long us)
{
    struct timespec ts = { (time_t)(us / 1000000), (long)(us % 1000000) * 1000 };
    while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) == EINTR)
        ;
}

/* Would this signal end the process as things stand? */
static int fatal_now(int sig)
{
    if (sig == SIGKILL)
        return 1;
    struct sigaction sa;
    if (sigaction(sig, NULL, &sa) < 0 || sa.sa_handler != SIG_DFL)
        return 0;
    return sig != SIGCHLD && sig != SIGCONT && sig != SIGURG && sig != SIGWINCH &&
           sig != SIGSTOP && sig != SIGTSTP && sig != SIGTTIN && sig != SIGTTOU;
}

int ipcv_before(struct ipcv_call *c)
{
    if (c->acts) {
        atomic_fetch_add(&st.fired, 1);
        if (st.slot)
            atomic_fetch_add(&st.slot->fired, 1);
        if (st.sh && c->rule >= 0 && c->rule < IPCV_SH_RULES)
            atomic_fetch_add(&st.sh->rule_fired[c->rule], 1);
    }
    if (c->acts & IPCV_A_SIGNAL) {
        if (st.slot) {
            snprintf(st.slot->injected_what, sizeof st.slot->injected_what, "signal");
            atomic_store(&st.slot->injected_sig, c->sig);
        }
        if ((ipcv_armed() & IPCV_ST_TRACE) && fatal_now(c->sig)) {
            char notes[64];
            snprintf(notes, sizeof notes, "injected %s", signame(c->sig));
            trace_line(c, "?", notes);
        }
        raise(c->sig);
        if (st.slot)   /* it lived on: not an injected death */
            atomic_store(&st.slot->injected_sig, 0);
    }
    if (c->delay_enter)
        sleep_us(c->delay_enter);
    if (c->acts & IPCV_A_ERROR) {
        guard = 0;
        return 1;
    }
    if (c->acts & IPCV_A_SHORT)
        c->short_n = st.rules[c->rule].short_n;
    if (st.slot && (ipcv_points[c->fn].flags & IPCV_F_BLOCKS)) {
        memcpy(st.slot->call_args, c->args, sizeof st.slot->call_args);
        st.slot->call_tid = (int)syscall(SYS_gettid);
        atomic_store(&st.slot->call_fn, c->fn + 1);
        c->published = 1;
    }
    guard = 0;
    return 0;
}

/* Does the process catch any signal? Without a handler no call can end
 * with EINTR, so explore does not pretend one did. */
static int catches_signals(void)
{
    for (int sig = 1; sig < SIGRTMAX; sig++) {
        struct sigaction sa;
        if (sig == SIGKILL || sig == SIGSTOP || sigaction(sig, NULL, &sa) < 0)
            continue;
        if ((sa.sa_flags & SA_SIGINFO) || (sa.sa_handler != SIG_DFL && sa.sa_handler != SIG_IGN))
            return 1;
    }
    return 0;
}

static void record_line(const struct ipcv_call *c, int ok, int err)
{
    char site[128], line[768];
    ipcv_site_of(c->caller, site, sizeof site);
    int n = snprintf(line, sizeof line, "%s\t%s\t%u\t%s\t%d\t%s\t%s\t%d\t%s\n", st.lineage,
                     ipcv_points[c->fn].function, c->occ, site, ok, ok ? "-" : errname(err),
                     c->usage[0] ? c->usage + 1 : "-", catches_signals(), c->args);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof line) {
        n = sizeof line - 1;
        line[n - 1] = '\n';
    }
    /* One write per line on an O_APPEND descriptor: lines never interleave. */
    while (syscall(SYS_write, st.record_fd, line, (size_t)n) < 0 && errno == EINTR)
        ;
}

void ipcv_after(struct ipcv_call *c, int ok, int err)
{
    guard = 1;
    if (c->published)
        atomic_store(&st.slot->call_fn, 0);
    if (c->in_child) {   /* fork: the child starts afresh */
        guard = 0;
        return;
    }
    if (c->delay_exit)
        sleep_us(c->delay_exit);
    int crash = (c->acts & IPCV_A_CRASH_AFTER) && ok;
    if (c->recording && st.record_fd >= 0)
        record_line(c, ok, err);
    if (c->want_result) {
        char result[96], notes[192] = "";
        const struct ipcv_point *pt = &ipcv_points[c->fn];
        if (ok)
            snprintf(result, sizeof result, "%s", c->res);
        else if (pt->ret == IPCV_RET_ERRNO)
            snprintf(result, sizeof result, "%s", errname(err));
        else
            snprintf(result, sizeof result, "%s %s", c->res, errname(err));
        if (c->acts & IPCV_A_ERROR)
            note(notes, sizeof notes, c->rule >= 0 ? "injected error" : "injected by libfiu");
        if (c->acts & IPCV_A_SIGNAL)
            note(notes, sizeof notes, "after injected %s", signame(c->sig));
        if (c->delay_enter)
            note(notes, sizeof notes, "injected delay_enter %lu us", c->delay_enter);
        if (c->delay_exit)
            note(notes, sizeof notes, "injected delay_exit %lu us", c->delay_exit);
        if (c->short_from)
            note(notes, sizeof notes, "injected short %zu of %zu", c->short_n, c->short_from);
        if (crash)
            note(notes, sizeof notes, "injected crash_after: SIGKILL");
        trace_line(c, result, notes);
    }
    if (crash) {
        if (st.slot) {
            snprintf(st.slot->injected_what, sizeof st.slot->injected_what, "crash_after");
            atomic_store(&st.slot->injected_sig, SIGKILL);
        }
        raise(SIGKILL);
    }
    guard = 0;
}

void ipcv_raise_sigpipe(void)
{
    raise(SIGPIPE);
}

/* ---- short transfers ----------------------------------------------------- */

const struct iovec *ipcv_short_iov(struct ipcv_call *c, const struct iovec *iov, int *cnt)
{
    size_t total = 0, left = c->short_n;
    int n = 0;
    for (int i = 0; i < *cnt; i++)
        total += iov[i].iov_len;
    if (total <= c->short_n)
        return iov;
    for (int i = 0; i < *cnt && left && n < IPCV_SHORT_IOV; i++) {
        size_t take = iov[i].iov_len < left ? iov[i].iov_len : left;
        c->iov[n].iov_base = iov[i].iov_base;
        c->iov[n].iov_len = take;
        left -= take;
        n++;
    }
    c->short_from = total;
    *cnt = n;
    return c->iov;
}

struct msghdr *ipcv_short_msg(struct ipcv_call *c, const struct msghdr *m)
{
    int cnt = (int)m->msg_iovlen;
    const struct iovec *v = ipcv_short_iov(c, m->msg_iov, &cnt);
    if (v == m->msg_iov)
        return (struct msghdr *)m;
    c->msg = *m;
    c->msg.msg_iov = (struct iovec *)v;
    c->msg.msg_iovlen = (size_t)cnt;
    return &c->msg;
}

/* recvmsg wrote the lengths and flags into our copy. */
void ipcv_short_msg_done(struct ipcv_call *c, struct msghdr *orig)
{
    if (orig->msg_namelen != c->msg.msg_namelen)
        orig->msg_namelen = c->msg.msg_namelen;
    if (orig->msg_controllen != c->msg.msg_controllen)
        orig->msg_controllen = c->msg.msg_controllen;
    if (orig->msg_flags != c->msg.msg_flags)
        orig->msg_flags = c->msg.msg_flags;
}

/* ---- fork and wait: lineage and exit statuses ---------------------------- */

pid_t ipcv_fork(pid_t (*real)(void), struct ipcv_call *c)
{
    unsigned n = st.slot ? atomic_fetch_add(&st.slot->nchildren, 1) + 1 : ++st.nchildren;
    char parent[IPCV_LINEAGE];
    memcpy(parent, st.lineage, sizeof parent);
    pid_t pid = real();
    if (pid != 0)
        return pid;
    c->in_child = 1;
    st.pid = getpid();
    if (snprintf(st.lineage, sizeof st.lineage, "%s.%u", parent, n) >= (int)sizeof st.lineage)
        snprintf(st.lineage, sizeof st.lineage, "?");
    st.nchildren = 0;
    for (int f = 0; f < IPCV_NFN; f++)
        atomic_store_explicit(&occurrences[f], 0, memory_order_relaxed);
    for (int i = 0; i < IPCV_MAX_RULES; i++)
        atomic_store_explicit(&site_hits[i], 0, memory_order_relaxed);
    atomic_store(&st.fired, 0);
    if (st.sh)
        adopt_slot(new_slot(st.pid, getppid(), st.lineage, st.comm));
    return 0;
}

static void note_reaped(pid_t pid, int status)
{
    if (pid <= 0 || !st.sh || !(WIFEXITED(status) || WIFSIGNALED(status)))
        return;
    int saved = errno;
    struct ipcv_sh_proc *s = find_live(pid);
    if (!s)
        s = new_slot(pid, st.pid, "?", "?");
    if (s) {
        s->wstatus = status;
        s->status_known = 1;
        atomic_store(&s->state, IPCV_SLOT_ENDED);
    }
    errno = saved;
}

#define SUPERVISED() (ipcv_armed() & IPCV_ST_SUP)
#define REAL_HOOK(name) \
    static __typeof__(name) *real_##name; \
    if (!real_##name) real_##name = (__typeof__(name) *)ipcv_real(#name, NULL)

IPCV_EXPORT pid_t waitpid(pid_t pid, int *wstatus, int options)
{
    REAL_HOOK(waitpid);
    int local;
    int *sp = wstatus ? wstatus : &local;
    pid_t r = real_waitpid(pid, sp, options);
    if (r > 0 && SUPERVISED())
        note_reaped(r, *sp);
    return r;
}

IPCV_EXPORT pid_t wait(int *wstatus)
{
    REAL_HOOK(wait);
    int local;
    int *sp = wstatus ? wstatus : &local;
    pid_t r = real_wait(sp);
    if (r > 0 && SUPERVISED())
        note_reaped(r, *sp);
    return r;
}

IPCV_EXPORT pid_t wait3(int *wstatus, int options, struct rusage *ru)
{
    REAL_HOOK(wait3);
    int local;
    int *sp = wstatus ? wstatus : &local;
    pid_t r = real_wait3(sp, options, ru);
    if (r > 0 && SUPERVISED())
        note_reaped(r, *sp);
    return r;
}

IPCV_EXPORT pid_t wait4(pid_t pid, int *wstatus, int options, struct rusage *ru)
{
    REAL_HOOK(wait4);
    int local;
    int *sp = wstatus ? wstatus : &local;
    pid_t r = real_wait4(pid, sp, options, ru);
    if (r > 0 && SUPERVISED())
        note_reaped(r, *sp);
    return r;
}

IPCV_EXPORT int waitid(idtype_t idtype, id_t id, siginfo_t *info, int options)
{
    REAL_HOOK(waitid);
    int r = real_waitid(idtype, id, info, options);
    if (r == 0 && info && info->si_pid > 0 && !(options & WNOWAIT) && SUPERVISED()) {
        int s = info->si_code == CLD_EXITED ? (info->si_status & 0xff) << 8
              : info->si_code == CLD_KILLED ? info->si_status
              : info->si_code == CLD_DUMPED ? info->si_status | 0x80 : 0x7f;
        note_reaped(info->si_pid, s);
    }
    return r;
}

/* ---- objects ------------------------------------------------------------- */

void ipcv_rec_object(int what, const char *kind, long id, int key, const char *name, int cond)
{
    if (!cond || !st.sh)
        return;
    unsigned k = atomic_fetch_add(&st.sh->nobjs, 1);
    if (k >= IPCV_SH_OBJS)
        return;
    struct ipcv_sh_obj *o = &st.sh->objs[k];
    snprintf(o->kind, sizeof o->kind, "%s", kind);
    o->id = id;
    o->key = key;
    o->pid = st.pid;
    snprintf(o->lineage, sizeof o->lineage, "%s", st.lineage);
    snprintf(o->comm, sizeof o->comm, "%s", st.comm);
    if (name)
        snprintf(o->name, sizeof o->name, "%s%s", name[0] == '/' ? "" : "/", name);
    atomic_thread_fence(memory_order_release);
    o->what = what;
}

/* ---- recording: what the calls used of the limits ------------------------ */

void ipcv_usage(struct ipcv_call *c, const char *limit, unsigned long long value)
{
    size_t used = strlen(c->usage);
    snprintf(c->usage + used, sizeof c->usage - used, " %s=%llu", limit, value);
}

void ipcv_usage_msgq(struct ipcv_call *c, int msqid)
{
    static int (*real_msgctl)(int, int, struct msqid_ds *);
    if (!real_msgctl)
        real_msgctl = (int (*)(int, int, struct msqid_ds *))ipcv_real("msgctl", NULL);
    struct msqid_ds ds;
    if (real_msgctl && real_msgctl(msqid, IPC_STAT, &ds) == 0)
        ipcv_usage(c, "msgmnb", ds.msg_cbytes);
}

void ipcv_usage_mq(struct ipcv_call *c, int mqd, int oflag)
{
    static int (*real_getattr)(mqd_t, struct mq_attr *);
    if (!(oflag & O_CREAT))
        return;
    if (!real_getattr)
        real_getattr = (int (*)(mqd_t, struct mq_attr *))ipcv_real("mq_getattr", NULL);
    struct mq_attr a;
    if (real_getattr && real_getattr((mqd_t)mqd, &a) == 0) {
        ipcv_usage(c, "msg_max", (unsigned long long)a.mq_maxmsg);
        ipcv_usage(c, "msgsize_max", (unsigned long long)a.mq_msgsize);
    }
}

/* ---- arming ---------------------------------------------------------------- */

static int parse_plan(const char *plan, struct ipcv_rule *rules, int *nrules,
                      char *err, size_t errlen)
{
    char text[IPCV_RULE_TEXT];
    *nrules = 0;
    for (const char *p = plan; *p;) {
        size_t n = strcspn(p, ";\n");
        if (n) {
            if (*nrules == IPCV_MAX_RULES) {
                snprintf(err, errlen, "more than %d rules", IPCV_MAX_RULES);
                return -1;
            }
            if (n >= sizeof text) {
                snprintf(err, errlen, "rule longer than %zu characters: '%.40s...'",
                         sizeof text - 1, p);
                return -1;
            }
            memcpy(text, p, n);
            text[n] = '\0';
            if (ipcv_rule_parse(text, &rules[*nrules], err, errlen) < 0)
                return -1;
            (*nrules)++;
        }
        p += n + (p[n] != '\0');
    }
    return 0;
}

static void reset_counts(void)
{
    for (int f = 0; f < IPCV_NFN; f++)
        atomic_store(&occurrences[f], 0);
    for (int i = 0; i < IPCV_MAX_RULES; i++)
        atomic_store(&site_hits[i], 0);
    atomic_store(&st.fired, 0);
}

IPCV_EXPORT int ipcv_faults_arm(const char *plan, char *err, size_t errlen)
{
    static struct ipcv_rule rules[IPCV_MAX_RULES];
    int n;
    guard = 1;
    int rc = parse_plan(plan ? plan : "", rules, &n, err, errlen);
    if (rc == 0) {
        atomic_fetch_and(&ipcv_state, ~IPCV_ST_PLAN);
        memcpy(st.rules, rules, sizeof rules);
        st.nrules = n;
        reset_counts();
        st.pid = getpid();
        prctl(PR_GET_NAME, st.comm);
        if (!st.sh) {
            snprintf(st.lineage, sizeof st.lineage, "0");
            st.nchildren = 0;
        }
        if (n)
            atomic_fetch_or(&ipcv_state, IPCV_ST_PLAN);
    }
    guard = 0;
    return rc;
}

IPCV_EXPORT void ipcv_faults_disarm(void)
{
    atomic_fetch_and(&ipcv_state, ~IPCV_ST_PLAN);
}

IPCV_EXPORT void ipcv_faults_seed(unsigned long long seed)
{
    st.seed = seed;
}

IPCV_EXPORT unsigned long ipcv_faults_fired(void)
{
    return atomic_load(&st.fired);
}

IPCV_EXPORT void ipcv_faults_use_fiu(int on)
{
    if (on) {
        fiu_init(0);
        atomic_fetch_or(&ipcv_state, IPCV_ST_FIU);
    } else {
        atomic_fetch_and(&ipcv_state, ~IPCV_ST_FIU);
    }
}

IPCV_EXPORT void ipcv_faults_detach(void)
{
    atomic_store(&ipcv_state, 0);
    st.nrules = 0;
    st.sh = NULL;
    st.slot = NULL;
    st.trace_fd = st.shared_fd = st.record_fd = -1;
}

IPCV_EXPORT const char *ipcv_faults_library(void)
{
    static char path[PATH_MAX];
    Dl_info info;
    if (!dladdr((void *)ipcv_faults_library, &info) || !info.dli_fname)
        return NULL;
    if (!realpath(info.dli_fname, path))
        return NULL;
    return path;
}

/* ---- start-up ---------------------------------------------------------------- */

static int find_fiu(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    if (!info->dlpi_name)
        return 0;
    if (strstr(info->dlpi_name, "fiu_run_preload"))
        *(int *)data = 1;
    if (strstr(info->dlpi_name, "/libfiu.so")) {
        for (int i = 0; i < info->dlpi_phnum; i++) {
            const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
            if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
                continue;
            uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
            if (!fiu_lo || lo < fiu_lo)
                fiu_lo = lo;
            if (hi > fiu_hi)
                fiu_hi = hi;
        }
    }
    return 0;
}

/* libfiu as a control plane: under fiu-run (its preload is loaded), or when
 * IPCVET_FIU is set; then fiu-ctrl can enable ipc/<family>/<function>. */
static int start_fiu(void)
{
    int fiu_run = 0;
    dl_iterate_phdr(find_fiu, &fiu_run);
    const char *want = getenv(IPCV_ENV_FIU);
    if (!fiu_run && !(want && *want && strcmp(want, "0")))
        return 0;
    fiu_init(0);
    const char *fifo = getenv("FIU_CTRL_FIFO");
    if (!fiu_run && fifo && *fifo) {
        /* What fiu_run_preload.so does, for a process started without it. */
        fiu_rc_fifo(fifo);
        const char *enable = getenv("FIU_ENABLE");
        char cmd[512];
        for (const char *p = enable ? enable : ""; *p;) {
            size_t n = strcspn(p, "\n");
            while (n && (*p == ' ' || *p == '\t')) {
                p++;
                n--;
            }
            if (n && n < sizeof cmd) {
                char *e = NULL;
                memcpy(cmd, p, n);
                cmd[n] = '\0';
                if (fiu_rc_string(cmd, &e) != 0)
                    fprintf(stderr, "libipcvet-faults: FIU_ENABLE: cannot apply '%s': %s\n",
                            cmd, e ? e : "error");
            }
            p += n + (p[n] != '\0');
        }
    }
    return IPCV_ST_FIU;
}

static void map_shared(const char *s)
{
    int fd = atoi(s);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) < 0 || (size_t)sb.st_size < sizeof(struct ipcv_shared))
        return;
    void *p = mmap(NULL, sizeof(struct ipcv_shared), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED)
        return;
    struct ipcv_shared *sh = p;
    if (sh->magic != IPCV_SH_MAGIC || sh->version != IPCV_SH_VERSION) {
        munmap(p, sizeof(struct ipcv_shared));
        return;
    }
    st.sh = sh;
    st.shared_fd = fd;
}

__attribute__((constructor)) static void ipcv_init(void)
{
    guard = 1;
    ipcv_resolve_all();
    note_exe_name();
    st.pid = getpid();
    prctl(PR_GET_NAME, st.comm);
    int state = 0;
    const char *s;
    if ((s = getenv(IPCV_ENV_SEED)))
        st.seed = strtoull(s, NULL, 0);
    if ((s = getenv(IPCV_ENV_SHARED)) && *s) {
        map_shared(s);
        if (st.sh) {
            register_exec();
            state |= IPCV_ST_SUP;
        }
    }
    if ((s = getenv(IPCV_ENV_TRACE)) && *s) {
        int fd = atoi(s);
        if (fd >= 0 && fcntl(fd, F_GETFD) >= 0) {
            st.trace_fd = fd;
            state |= IPCV_ST_TRACE;
        }
    }
    if ((s = getenv(IPCV_ENV_RECORD)) && *s) {
        int fd = atoi(s);
        if (fd >= 0 && fcntl(fd, F_GETFD) >= 0) {
            st.record_fd = fd;
            state |= IPCV_ST_REC;
        }
    }
    if ((s = getenv(IPCV_ENV_PLAN)) && *s) {
        char err[400];
        if (parse_plan(s, st.rules, &st.nrules, err, sizeof err) < 0) {
            fprintf(stderr, "libipcvet-faults: %s: %s (nothing armed)\n", IPCV_ENV_PLAN, err);
            st.nrules = 0;
        } else if (st.nrules) {
            state |= IPCV_ST_PLAN;
        }
    }
    state |= start_fiu();
    atomic_store(&ipcv_state, state);
    guard = 0;
}

const char *ipcv_fmt_sembuf(const struct sembuf *sops, size_t nsops)
{
    static __thread char buf[96];
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < nsops && i < 3 && used < sizeof buf; i++)
        used += (size_t)snprintf(buf + used, sizeof buf - used, "%s{%u, %d, %#o}", i ? ", " : "[",
                                 sops[i].sem_num, sops[i].sem_op, (unsigned)sops[i].sem_flg);
    if (used < sizeof buf)
        snprintf(buf + used, sizeof buf - used, "%s]", nsops > 3 ? ", ..." : nsops ? "" : "[");
    return buf;
}
