/* The fault space of a program, planned from its baseline record: one
 * experiment per (process lineage, function, occurrence <= K, errno), the
 * crash points before and after each of those calls, seeded delay runs,
 * each limit the baseline used lowered below that use, and SIGTERM to the
 * root at a few points of its run.
 *
 * A call that two baseline runs do not make alike (same lineage, function,
 * occurrence and call site) is unstable: it is targeted by its call site
 * (site=MODULE+0xOFF, when= counting the calls from there) instead. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "explore.h"

/* ---- the record ----------------------------------------------------------- */

static int point_index(const char *name)
{
    const struct ipcv_point *p = ipcv_faults_find(name);
    return p ? (int)(p - ipcv_faults_point(0)) : -1;
}

static int limit_index(const char *name, size_t len)
{
    for (size_t i = 0; i < ipcv_nlimits && i < 32; i++)
        if (strlen(ipcv_limits[i].name) == len && !strncmp(ipcv_limits[i].name, name, len))
            return (int)i;
    return -1;
}

static void use(struct xp_record *rec, const char *limit, size_t len, unsigned long long v)
{
    int i = limit_index(limit, len);
    if (i >= 0 && v > rec->used[i])
        rec->used[i] = v;
}

/* "msgmax=64 msgmnb=640" */
static void parse_usage(struct xp_record *rec, const char *u, size_t len)
{
    const char *end = u + len;
    while (u < end) {
        const char *sp = memchr(u, ' ', (size_t)(end - u));
        const char *e = sp ? sp : end;
        const char *eq = memchr(u, '=', (size_t)(e - u));
        if (eq)
            use(rec, u, (size_t)(eq - u), strtoull(eq + 1, NULL, 10));
        u = e + 1;
    }
}

static struct xp_call *add_call(struct xp_record *rec)
{
    if (rec->n == rec->cap) {
        rec->cap = rec->cap ? rec->cap * 2 : 256;
        rec->calls = realloc(rec->calls, rec->cap * sizeof *rec->calls);
    }
    struct xp_call *c = &rec->calls[rec->n++];
    memset(c, 0, sizeof *c);
    return c;
}

/* Field i of a tab-separated line, into buf. */
static const char *field(const char *line, size_t len, int i, size_t *flen)
{
    const char *p = line, *end = line + len;
    for (; i > 0; i--) {
        const char *tab = memchr(p, '\t', (size_t)(end - p));
        if (!tab)
            return NULL;
        p = tab + 1;
    }
    const char *tab = memchr(p, '\t', (size_t)(end - p));
    *flen = (size_t)((tab ? tab : end) - p);
    return p;
}

int xp_record_parse(struct xp_record *rec, const char *text)
{
    for (const char *l = text; *l;) {
        size_t len = strcspn(l, "\n");
        size_t fl[8];
        const char *f[8];
        int ok = 1;
        for (int i = 0; i < 8 && ok; i++)
            ok = (f[i] = field(l, len, i, &fl[i])) != NULL;
        char fname[64];
        if (ok && fl[1] < sizeof fname && fl[0] < 64 && fl[3] < 96) {
            memcpy(fname, f[1], fl[1]);
            fname[fl[1]] = '\0';
            int fn = point_index(fname);
            if (fn >= 0) {
                struct xp_call *c = add_call(rec);
                memcpy(c->lineage, f[0], fl[0]);
                c->fn = fn;
                c->occ = (unsigned)strtoul(f[2], NULL, 10);
                memcpy(c->site, f[3], fl[3]);
                c->ok = f[4][0] == '1';
                c->catches = f[7][0] == '1';
                if (fl[6] && f[6][0] != '-')
                    parse_usage(rec, f[6], fl[6]);
                /* The k-th call from this site in this process. */
                c->site_occ = 1;
                for (size_t k = rec->n - 1; k-- > 0;) {
                    const struct xp_call *o = &rec->calls[k];
                    if (o->fn == fn && !strcmp(o->site, c->site) && !strcmp(o->lineage, c->lineage)) {
                        c->site_occ = o->site_occ + 1;
                        break;
                    }
                }
            }
        }
        l += len + (l[len] == '\n');
    }
    return 0;
}

void xp_record_objects(struct xp_record *rec, const struct ipcv_shared *sh)
{
    static const struct { const char *kind, *limit; } counted[] = {
        { "sysv_shm", "shmmni" }, { "sysv_msg", "msgmni" },
        { "sysv_sem", "semmni" }, { "posix_mq", "queues_max" },
    };
    unsigned n = sh->nobjs < IPCV_SH_OBJS ? sh->nobjs : IPCV_SH_OBJS;
    for (size_t k = 0; k < sizeof counted / sizeof counted[0]; k++) {
        const struct ipcv_sh_obj *live[256];
        size_t nlive = 0, peak = 0;
        for (unsigned i = 0; i < n; i++) {
            const struct ipcv_sh_obj *o = &sh->objs[i];
            if (strcmp(o->kind, counted[k].kind))
                continue;
            size_t j = 0;
            while (j < nlive && !(live[j]->id == o->id && !strcmp(live[j]->name, o->name)))
                j++;
            if (o->what == IPCV_EV_CREATE && j == nlive && nlive < 256)
                live[nlive++] = o;
            else if (o->what == IPCV_EV_DESTROY && j < nlive)
                live[j] = live[--nlive];
            if (nlive > peak)
                peak = nlive;
        }
        use(rec, counted[k].limit, strlen(counted[k].limit), peak);
    }
}

static int call_cmp(const struct xp_call *a, const struct xp_call *b)
{
    int c = strcmp(a->lineage, b->lineage);
    if (c)
        return c;
    if (a->fn != b->fn)
        return a->fn < b->fn ? -1 : 1;
    return a->occ < b->occ ? -1 : a->occ > b->occ;
}

static int ptr_cmp(const void *x, const void *y)
{
    return call_cmp(*(const struct xp_call *const *)x, *(const struct xp_call *const *)y);
}

size_t xp_record_compare(struct xp_record *a, const struct xp_record *b)
{
    const struct xp_call **sorted = malloc((b->n ? b->n : 1) * sizeof *sorted);
    for (size_t i = 0; i < b->n; i++)
        sorted[i] = &b->calls[i];
    qsort(sorted, b->n, sizeof *sorted, ptr_cmp);
    size_t unstable = 0;
    for (size_t i = 0; i < a->n; i++) {
        struct xp_call *c = &a->calls[i];
        size_t lo = 0, hi = b->n;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (call_cmp(sorted[mid], c) < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        c->unstable = !(lo < b->n && !call_cmp(sorted[lo], c) && !strcmp(sorted[lo]->site, c->site));
        unstable += c->unstable;
        /* The calls of this process from this site in the other run. */
        for (size_t k = 0; c->unstable && k < b->n && !c->lineage_kept; k++) {
            const struct xp_call *o = &b->calls[k];
            c->lineage_kept = o->fn == c->fn && !strcmp(o->site, c->site) && !strcmp(o->lineage, c->lineage);
        }
    }
    free(sorted);
    return unstable;
}

void xp_record_free(struct xp_record *rec)
{
    free(rec->calls);
    memset(rec, 0, sizeof *rec);
}

/* ---- the space ------------------------------------------------------------ */

const char *xp_kind_name(enum xp_kind k)
{
    static const char *const names[XP_NKINDS] = {
        [XP_BASELINE] = "baseline", [XP_ERROR] = "error", [XP_CRASH_BEFORE] = "crash",
        [XP_CRASH_AFTER] = "crash_after", [XP_DELAY] = "delays", [XP_LIMIT] = "limit",
        [XP_TERMINATE] = "terminate",
    };
    return names[k];
}

const char *xp_class_name(enum xp_class c, enum xp_kind k)
{
    static const char *const names[XC_NCLASSES] = {
        [XC_CRASH] = "crash", [XC_HANG] = "hang", [XC_LEAK] = "leak",
        [XC_WRONG] = "wrong-result", [XC_UNAVOIDABLE] = "unavoidable-leak",
        [XC_CLEAN] = "clean-error", [XC_TOLERATED] = "tolerated",
        [XC_MISSED] = "not-reached", [XC_NOTRUN] = "not-run",
    };
    if (c == XC_TOLERATED && (k == XP_CRASH_BEFORE || k == XP_CRASH_AFTER))
        return "recovered";
    return names[c];
}

/* The classes of the issue, in the order --errnos one tries them. */
static const struct { const char *name; int errs[4]; } classes[] = {
    { "retryable", { EINTR, EAGAIN } },
    { "gone", { EIDRM, EINVAL } },
    { "resource", { ENOMEM, ENOSPC, EMFILE } },
    { "permission", { EACCES, EPERM } },
};
#define NCLASSES (sizeof classes / sizeof classes[0])

const char *xp_errno_class(int err)
{
    for (size_t c = 0; c < NCLASSES; c++)
        for (int i = 0; i < 4 && classes[c].errs[i]; i++)
            if (classes[c].errs[i] == err)
                return classes[c].name;
    return NULL;
}

int xp_must_tolerate(const struct xp *x)
{
    return x->kind == XP_DELAY || (x->kind == XP_ERROR && x->err == EINTR) ||
           (x->kind == XP_LIMIT && !strcmp(x->limit->name, "msgmnb"));
}

static int documents(const struct ipcv_point *p, int err)
{
    for (unsigned i = 0; i < p->nerrnos; i++)
        if (p->errnos[i] == err)
            return 1;
    return 0;
}

/* EINTR needs a caught signal: without a handler no call ends with it. */
static int possible(const struct xp_call *c, int err)
{
    return err != EINTR || c->catches;
}

/* The errnos to try on call c. */
static int pick_errnos(const struct xp_call *c, const struct xp_space_opts *o, int *out)
{
    const struct ipcv_point *p = ipcv_faults_point((size_t)c->fn);
    int n = 0;
    if (o->errnos_mode == XP_ERRNOS_DOC) {
        for (unsigned i = 0; i < p->nerrnos && n < 32; i++)
            if (possible(c, p->errnos[i]))
                out[n++] = p->errnos[i];
    } else if (o->errnos_mode == XP_ERRNOS_LIST) {
        for (int i = 0; i < o->nerrnos; i++)
            if (documents(p, o->errnos[i]) && possible(c, o->errnos[i]))
                out[n++] = o->errnos[i];
    } else {
        for (size_t k = 0; k < NCLASSES; k++)
            for (int i = 0; i < 4 && classes[k].errs[i]; i++)
                if (documents(p, classes[k].errs[i]) && possible(c, classes[k].errs[i])) {
                    out[n++] = classes[k].errs[i];
                    break;
                }
        /* A function whose errnos fall in no class: its first one. */
        int any = 0;
        for (unsigned i = 0; i < p->nerrnos; i++)
            any |= xp_errno_class(p->errnos[i]) != NULL;
        if (!any && p->nerrnos)
            out[n++] = p->errnos[0];
    }
    return n;
}

static struct xp *add_xp(struct xp_space *sp)
{
    if (sp->n == sp->cap) {
        sp->cap = sp->cap ? sp->cap * 2 : 256;
        sp->xs = realloc(sp->xs, sp->cap * sizeof *sp->xs);
    }
    struct xp *x = &sp->xs[sp->n++];
    memset(x, 0, sizeof *x);
    x->fn = -1;
    return x;
}

/* "FUNC:ACTION:when=N[:proc=L][:site=S]" */
static void make_rule(struct xp *x, const char *action)
{
    const struct ipcv_point *p = ipcv_faults_point((size_t)x->fn);
    int n = snprintf(x->rule, sizeof x->rule, "%s:%s:when=%u", p->function, action, x->occ);
    if (x->lineage[0])
        n += snprintf(x->rule + n, sizeof x->rule - (size_t)n, ":proc=%s",
                      strcmp(x->lineage, "0") ? x->lineage : "root");
    if (x->by_site)
        snprintf(x->rule + n, sizeof x->rule - (size_t)n, ":site=%s", x->site);
}

/* A call to aim at: by lineage and occurrence, or by site when unstable. */
struct target {
    const struct xp_call *call;
    char lineage[64];
    unsigned occ;
    int by_site;
};

static void aim(const struct xp_call *c, struct target *t)
{
    t->call = c;
    t->by_site = c->unstable;
    t->occ = c->unstable ? c->site_occ : c->occ;
    /* An unstable call of a process that may not be there next time: any
     * process calling from that site. */
    snprintf(t->lineage, sizeof t->lineage, "%s", !c->unstable || c->lineage_kept ? c->lineage : "");
}

static int same_target(const struct target *a, const struct target *b)
{
    return a->call->fn == b->call->fn && a->occ == b->occ && a->by_site == b->by_site &&
           !strcmp(a->lineage, b->lineage) && (!a->by_site || !strcmp(a->call->site, b->call->site));
}

static void add_target_xps(struct xp_space *sp, const struct target *t, const struct xp_space_opts *o)
{
    int errs[32];
    int ne = pick_errnos(t->call, o, errs);
    for (int k = -2; k < ne; k++) {
        if (k < 0 && !o->crash)
            continue;
        if (k == -1 && !t->call->ok)
            continue;   /* crash_after needs the call to succeed */
        struct xp *x = add_xp(sp);
        x->kind = k == -2 ? XP_CRASH_BEFORE : k == -1 ? XP_CRASH_AFTER : XP_ERROR;
        x->fn = t->call->fn;
        snprintf(x->lineage, sizeof x->lineage, "%s", t->lineage);
        x->occ = t->occ;
        snprintf(x->site, sizeof x->site, "%s", t->call->site);
        x->by_site = t->by_site;
        if (k >= 0) {
            x->err = errs[k];
            char action[48];
            snprintf(action, sizeof action, "error=%s", ipcv_faults_errname(errs[k]));
            make_rule(x, action);
        } else {
            make_rule(x, k == -2 ? "crash" : "crash_after");
        }
    }
}

void xp_space_plan(struct xp_space *sp, const struct xp_record *rec, const struct xp_space_opts *o)
{
    /* Calls, in the order the baseline made them; each target once. */
    struct target *done = calloc(rec->n ? rec->n : 1, sizeof *done);
    size_t ndone = 0;
    for (size_t i = 0; i < rec->n; i++) {
        const struct xp_call *c = &rec->calls[i];
        if (!o->calls[c->fn])
            continue;
        struct target t;
        aim(c, &t);
        if (t.occ > o->max_occ)
            continue;
        size_t j = 0;
        while (j < ndone && !same_target(&done[j], &t))
            j++;
        if (j < ndone)
            continue;
        done[ndone++] = t;
        add_target_xps(sp, &t, o);
    }
    free(done);

    for (int i = 0; o->delays && i < o->repeat; i++) {
        struct xp *x = add_xp(sp);
        x->kind = XP_DELAY;
        x->seed = o->seed + (unsigned long long)i + 1;
        snprintf(x->rule, sizeof x->rule, "%%ipc,fork:delay_enter=0..%u:delay_exit=0..%u",
                 o->delay_us, o->delay_us);
    }

    int msgmax = limit_index("msgmax", 6);
    for (size_t l = 0; o->limits && l < ipcv_nlimits && l < 32; l++) {
        if (!rec->used[l] || ipcv_limits[l].kind != IPCV_LIMIT_SYSCTL)
            continue;
        /* A queue smaller than one message never takes it: every program
         * would wait for ever. */
        if (!strcmp(ipcv_limits[l].name, "msgmnb") && msgmax >= 0 && rec->used[l] - 1 < rec->used[msgmax])
            continue;
        struct xp *x = add_xp(sp);
        x->kind = XP_LIMIT;
        x->limit = &ipcv_limits[l];
        x->limit_used = rec->used[l];
        x->limit_value = rec->used[l] - 1;
    }

    if (o->terminate) {
        /* After the root's k-th call = just before its (k+1)-th. */
        size_t nroot = 0;
        for (size_t i = 0; i < rec->n; i++)
            nroot += !strcmp(rec->calls[i].lineage, "0");
        size_t points[4] = { 1, nroot / 3, 2 * nroot / 3, nroot - 1 };
        size_t last = 0;
        for (int p = 0; p < 4; p++) {
            size_t k = points[p];
            if (k < 1 || k >= nroot || k <= last)
                continue;
            last = k;
            size_t seen = 0;
            for (size_t i = 0; i < rec->n; i++) {
                const struct xp_call *c = &rec->calls[i];
                if (strcmp(c->lineage, "0") || seen++ != k)
                    continue;
                struct target t;
                aim(c, &t);
                struct xp *x = add_xp(sp);
                x->kind = XP_TERMINATE;
                x->fn = c->fn;
                snprintf(x->lineage, sizeof x->lineage, "%s", t.lineage);
                x->occ = t.occ;
                snprintf(x->site, sizeof x->site, "%s", c->site);
                x->by_site = t.by_site;
                make_rule(x, "signal=TERM");
                break;
            }
        }
    }
}

void xp_space_free(struct xp_space *sp)
{
    free(sp->xs);
    memset(sp, 0, sizeof *sp);
}
