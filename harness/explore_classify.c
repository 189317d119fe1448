/* What an experiment's run means, and the findings: experiments that found
 * the same thing at the same place are one finding.
 *
 *   crash         a process was killed by a signal nobody injected (SIGPIPE
 *                 counts in the root and in the process that got the
 *                 fault; elsewhere it is how a pipeline's writer ends when
 *                 its reader has gone, and counts as a failed exit)
 *   hang          the deadline passed, or every process sat in a blocking
 *                 call with no timeout using no CPU (a deadlock)
 *   leak          objects left behind that the program could have removed
 *   wrong-result  the program failed where it had to carry on (EINTR, a
 *                 delay, a smaller queue), or the process that got the
 *                 error swallowed it (exited 0) and the run failed anyway
 *   unavoidable   only objects no program could remove: the process
 *                 SIGKILLed was their creator or an ancestor of it, or was
 *                 about to remove them; or the removal itself was made to
 *                 fail
 *   clean-error   failed, said so, left nothing
 *   tolerated     exit 0; after an injected crash: the survivors recovered
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "explore.h"

int xp_class_is_finding(enum xp_class c)
{
    return c == XC_CRASH || c == XC_HANG || c == XC_LEAK || c == XC_WRONG;
}

/* Signals a program dies of by itself, not ones somebody sends. */
static int crash_signal(int sig)
{
    return sig == SIGSEGV || sig == SIGBUS || sig == SIGFPE || sig == SIGILL || sig == SIGABRT ||
           sig == SIGSYS || sig == SIGTRAP || sig == SIGPIPE || sig == SIGXCPU || sig == SIGXFSZ;
}

static void add(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void add(char *buf, size_t len, const char *fmt, ...)
{
    size_t used = strlen(buf);
    if (used + 3 >= len)
        return;
    if (used) {
        strcat(buf, "; ");
        used += 2;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + used, len - used, fmt, ap);
    va_end(ap);
}

static int killed_by_injection(const struct ipcv_sh_proc *s)
{
    return s->status_known && WIFSIGNALED(s->wstatus) && s->injected_sig == WTERMSIG(s->wstatus);
}

static int exited_0(const struct ipcv_sh_proc *s)
{
    return s->status_known && WIFEXITED(s->wstatus) && WEXITSTATUS(s->wstatus) == 0;
}

static const struct ipcv_sh_proc *slot_of_pid(struct ipcv_sh_proc **procs, int np, int pid)
{
    for (int i = 0; i < np; i++)
        if (procs[i]->pid == pid)
            return procs[i];
    return NULL;
}

static int sigkilled(const struct ipcv_sh_proc *s)
{
    return s && s->status_known && WIFSIGNALED(s->wstatus) && WTERMSIG(s->wstatus) == SIGKILL;
}

/* Is lineage a the same process as b or one of its ancestors? */
static int ancestor_or_self(const char *a, const char *b)
{
    size_t n = strlen(a);
    return !strncmp(a, b, n) && (b[n] == '\0' || b[n] == '.');
}

/* A leak nobody could have avoided. */
static int unavoidable(const struct xp *x, const struct ipcv_sh_leak *l, struct ipcv_sh_proc **procs, int np)
{
    int destroys = x->fn >= 0 && (ipcv_faults_point((size_t)x->fn)->flags & IPCV_F_DESTROYS);
    if (x->kind == XP_ERROR)
        return destroys;
    if (x->kind != XP_CRASH_BEFORE && x->kind != XP_CRASH_AFTER)
        return 0;
    if (x->kind == XP_CRASH_BEFORE && destroys)
        return 1;   /* killed on its way to remove it */
    if (sigkilled(slot_of_pid(procs, np, l->pid)))
        return 1;
    for (int i = 0; i < np; i++)   /* the victim owned the creator */
        if (killed_by_injection(procs[i]) && sigkilled(procs[i]) && l->lineage[0] &&
            ancestor_or_self(procs[i]->lineage, l->lineage))
            return 1;
    return 0;
}

static void describe_leak(char *buf, size_t len, const struct ipcv_sh_leak *l)
{
    char creator[128] = "";
    if (l->pid > 0 && l->lineage[0])
        snprintf(creator, sizeof creator, ", created by process %s (%s)", l->lineage, l->comm);
    if (l->id >= 0)
        add(buf, len, "leak: %s key %#x id %ld%s", l->kind, (unsigned)l->key, l->id, creator);
    else
        add(buf, len, "leak: %s %s%s", l->kind, l->name, creator);
}

void xp_classify(const struct xp *x, struct ipcv_shared *sh, struct xp_result *res)
{
    static struct ipcv_sh_proc *procs[IPCV_SH_PROCS];
    int np = ipcv_run_procs(sh, procs, IPCV_SH_PROCS);
    const struct ipcv_sh_proc *root = NULL;
    for (int i = 0; i < np && !root; i++)
        if (!strcmp(procs[i]->lineage, "0"))
            root = procs[i];
    res->fired = x->rule[0] ? (int)atomic_load(&sh->rule_fired[0]) : 1;
    res->root_code = root && root->status_known && WIFEXITED(root->wstatus) ? WEXITSTATUS(root->wstatus) : -1;
    res->root_sig = root && root->status_known && WIFSIGNALED(root->wstatus) ? WTERMSIG(root->wstatus) : 0;
    res->detail[0] = '\0';
    char *d = res->detail;
    size_t dl = sizeof res->detail;

    /* A fault that never fired tells nothing about it. */
    if (!res->fired && x->kind != XP_DELAY) {
        res->cls = XC_MISSED;
        add(d, dl, "the call was not reached");
        return;
    }
    for (int i = 0; i < np; i++) {
        const struct ipcv_sh_proc *s = procs[i];
        int sig = s->status_known && WIFSIGNALED(s->wstatus) ? WTERMSIG(s->wstatus) : 0;
        if (sig && crash_signal(sig) && !killed_by_injection(s) &&
            (sig != SIGPIPE || s == root || atomic_load(&s->fired))) {
            res->cls = XC_CRASH;
            add(d, dl, "process %s (%s) killed by %s", s->lineage, s->comm, ipcv_sig_name(sig));
            return;
        }
    }
    if (sh->timed_out) {
        res->cls = XC_HANG;
        if (root && !root->hung && root->status_known) {
            char end[96];
            ipcv_describe_end(root, end, sizeof end);
            add(d, dl, "process 0 %s, but these did not end", end);
        }
        for (int i = 0; i < np; i++) {
            const struct ipcv_sh_proc *s = procs[i];
            if (!s->hung)
                continue;
            const char *call = ipcv_point_name(atomic_load(&s->call_fn));
            if (call)
                add(d, dl, "process %s (%s) in %s(%s), blocked in %s", s->lineage, s->comm, call,
                    s->call_args, s->blocked);
            else
                add(d, dl, "process %s (%s) blocked in %s", s->lineage, s->comm, s->blocked);
        }
        if (!d[0])
            add(d, dl, "did not end in %.1f s", x->timeout);
        return;
    }
    int real = 0, unavoid = 0;
    for (int i = 0; i < sh->nleaks; i++)
        real += !unavoidable(x, &sh->leaks[i], procs, np);
    for (int i = 0; i < sh->nleaks; i++) {
        int u = unavoidable(x, &sh->leaks[i], procs, np);
        unavoid += u;
        if (u == !real)   /* describe the kind the class will be */
            describe_leak(d, dl, &sh->leaks[i]);
    }
    real += sh->leaks_dropped;
    if (real) {
        res->cls = XC_LEAK;
        return;
    }
    int root_ok = root && exited_0(root);
    int root_victim = root && killed_by_injection(root);
    if (!root_ok && !root_victim) {
        char end[96] = "ended, status not seen";
        if (root)
            ipcv_describe_end(root, end, sizeof end);
        if (xp_must_tolerate(x)) {
            res->cls = XC_WRONG;
            d[0] = '\0';
            add(d, dl, "process 0 %s where it had to carry on as without the %s", end,
                x->kind == XP_DELAY ? "delays" : x->kind == XP_LIMIT ? "smaller queue" : "EINTR");
            return;
        }
        if (x->kind == XP_ERROR) {
            /* Did the process that got the error swallow it? */
            for (int i = 0; i < np; i++) {
                const struct ipcv_sh_proc *s = procs[i];
                if (atomic_load(&s->fired) && s != root && exited_0(s)) {
                    res->cls = XC_WRONG;
                    d[0] = '\0';
                    add(d, dl, "process %s (%s) got %s from %s and exited 0; process 0 then %s",
                        s->lineage, s->comm, ipcv_faults_errname(x->err),
                        ipcv_faults_point((size_t)x->fn)->function, end);
                    return;
                }
            }
        }
        if (!unavoid) {
            res->cls = XC_CLEAN;
            add(d, dl, "process 0 %s", end);
            return;
        }
    }
    if (unavoid) {
        res->cls = XC_UNAVOIDABLE;
        return;
    }
    res->cls = XC_TOLERATED;
    if (root_victim)
        add(d, dl, "process 0 ended by the injected %s", ipcv_sig_name(res->root_sig));
}

/* ---- findings ---------------------------------------------------------------- */

static int crash_kind(enum xp_kind k)
{
    return k == XP_CRASH_BEFORE || k == XP_CRASH_AFTER;
}

/* What a finding is about: the function (or what stands for it), and the
 * call site. */
static void subject(const struct xp *x, char *what, size_t wl, const char **site)
{
    *site = "-";
    switch (x->kind) {
    case XP_DELAY: snprintf(what, wl, "(delays)"); break;
    case XP_LIMIT: snprintf(what, wl, "limit %s", x->limit->name); break;
    case XP_TERMINATE: snprintf(what, wl, "(SIGTERM)"); break;
    default:
        snprintf(what, wl, "%s", x->fn >= 0 ? ipcv_faults_point((size_t)x->fn)->function : "?");
        *site = x->site;
    }
}

static int same_finding(const struct xp *a, const struct xp *b)
{
    char wa[64], wb[64];
    const char *sa, *sb;
    if (a->res.cls != b->res.cls || crash_kind(a->kind) != crash_kind(b->kind))
        return 0;
    subject(a, wa, sizeof wa, &sa);
    subject(b, wb, sizeof wb, &sb);
    return !strcmp(wa, wb) && !strcmp(sa, sb);
}

void xp_findings_build(struct xp_findings *fs, const struct xp *xs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct xp *x = &xs[i];
        if (!xp_class_is_finding(x->res.cls) && x->res.cls != XC_UNAVOIDABLE)
            continue;
        size_t k = 0;
        while (k < fs->n && !same_finding(&xs[fs->f[k].first], x))
            k++;
        if (k == fs->n) {
            if (fs->n == fs->cap) {
                fs->cap = fs->cap ? fs->cap * 2 : 16;
                fs->f = realloc(fs->f, fs->cap * sizeof *fs->f);
            }
            fs->f[k] = (struct xp_finding){ .cls = x->res.cls, .first = i, .reproduced = -1 };
            fs->n++;
        }
        struct xp_finding *f = &fs->f[k];
        f->count++;
        const char *e = x->kind == XP_ERROR ? ipcv_faults_errname(x->err) : NULL;
        if (e) {
            size_t el = strlen(e), fl = strlen(f->errnos);
            int have = 0;
            for (const char *p = f->errnos; (p = strstr(p, e)); p += el)
                have |= (p == f->errnos || p[-1] == ' ') && (p[el] == ' ' || !p[el]);
            if (!have && fl + el + 2 < sizeof f->errnos)
                snprintf(f->errnos + fl, sizeof f->errnos - fl, "%s%s", fl ? " " : "", e);
        }
    }
}

void xp_findings_free(struct xp_findings *fs)
{
    free(fs->f);
    memset(fs, 0, sizeof *fs);
}

void xp_reproducer(FILE *f, const struct xp *x, char **cmd, int isolation)
{
    fputs("ipcvet exec", f);
    if (isolation == IPCV_ISOLATE_NONE)
        fputs(" --isolate none", f);
    if (x->rule[0]) {
        fputs(" --inject ", f);
        ipcv_shell_quote(f, x->rule);
    }
    if (x->limit)
        fprintf(f, " --limit %s=%llu", x->limit->name, x->limit_value);
    if (x->seed)
        fprintf(f, " --seed %llu", x->seed);
    if (x->res.cls == XC_HANG)
        fprintf(f, " --timeout %g", x->timeout);
    fputs(" --", f);
    for (char **a = cmd; *a; a++) {
        fputc(' ', f);
        ipcv_shell_quote(f, *a);
    }
}
