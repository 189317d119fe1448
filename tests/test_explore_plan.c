/* How explore plans the space and judges a run, on records and shared
 * pages made here (the functions of explore_plan.c and
 * explore_classify.c), and a site= rule reaching only the calls from its
 * site through `ipcvet exec`. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "explore.h"
#include "test_explore_support.h"

TestSuite(explore_plan, .timeout = 60);

/* LINEAGE FUNCTION OCC SITE OK ERRNO USAGE CATCHES ARGS */
static const char rec_a[] =
    "0\tmsgget\t1\tprog+0x10\t1\t-\t-\t1\t0, 01600\n"
    "0\tfork\t1\tprog+0x20\t1\t-\t-\t1\t\n"
    "0\tmsgsnd\t1\tprog+0x30\t1\t-\tmsgmax=64 msgmnb=64\t1\t0, 0x1, 64, 0\n"
    "0\tmsgsnd\t2\tprog+0x30\t1\t-\tmsgmax=64 msgmnb=128\t1\t0, 0x1, 64, 0\n"
    "0.1\tmsgrcv\t1\tprog+0x40\t1\t-\t-\t0\t0, 0x1, 64, 0, 0\n"
    "0.1\tmsgrcv\t2\tprog+0x40\t1\t-\t-\t0\t0, 0x1, 64, 0, 0\n"
    "0\tmsgctl\t1\tprog+0x50\t1\t-\t-\t1\t0, 0, (nil)\n";
/* The second run read twice more from another place first. */
static const char rec_b[] =
    "0\tmsgget\t1\tprog+0x10\t1\t-\t-\t1\t0, 01600\n"
    "0\tfork\t1\tprog+0x20\t1\t-\t-\t1\t\n"
    "0\tmsgsnd\t1\tprog+0x30\t1\t-\tmsgmax=64 msgmnb=64\t1\t0, 0x1, 64, 0\n"
    "0\tmsgsnd\t2\tprog+0x30\t1\t-\tmsgmax=64 msgmnb=64\t1\t0, 0x1, 64, 0\n"
    "0.1\tmsgrcv\t1\tprog+0x44\t1\t-\t-\t0\t0, 0x1, 64, 0, 0\n"
    "0.1\tmsgrcv\t2\tprog+0x44\t1\t-\t-\t0\t0, 0x1, 64, 0, 0\n"
    "0.1\tmsgrcv\t3\tprog+0x40\t1\t-\t-\t0\t0, 0x1, 64, 0, 0\n"
    "0.1\tmsgrcv\t4\tprog+0x40\t1\t-\t-\t0\t0, 0x1, 64, 0, 0\n"
    "0\tmsgctl\t1\tprog+0x50\t1\t-\t-\t1\t0, 0, (nil)\n";

static int fn_of(const char *name)
{
    return (int)(ipcv_faults_find(name) - ipcv_faults_point(0));
}

static struct xp_space_opts all_calls(void)
{
    struct xp_space_opts o = { .errnos_mode = XP_ERRNOS_ONE, .max_occ = 3, .repeat = 2, .delay_us = 100 };
    memset(o.calls, 1, sizeof o.calls);
    return o;
}

static size_t count_rules(const struct xp_space *sp, const char *needle)
{
    size_t n = 0;
    for (size_t i = 0; i < sp->n; i++)
        n += strstr(sp->xs[i].rule, needle) != NULL;
    return n;
}

Test(explore_plan, calls_two_runs_make_differently_are_aimed_at_by_site)
{
    struct xp_record a = { 0 }, b = { 0 };
    xp_record_parse(&a, rec_a);
    xp_record_parse(&b, rec_b);
    cr_assert_eq(a.n, 7u);
    cr_expect_eq(a.calls[5].site_occ, 2u, "the second msgrcv from prog+0x40");
    cr_expect_eq(xp_record_compare(&a, &b), 2u, "msgrcv 1 and 2 of 0.1 differ between the runs");
    cr_expect(a.calls[4].unstable && a.calls[5].unstable && !a.calls[2].unstable);
    struct xp_space_opts o = all_calls();
    struct xp_space sp = { 0 };
    xp_space_plan(&sp, &a, &o);
    /* Stable calls by lineage and occurrence, unstable ones by site. */
    cr_expect_gt(count_rules(&sp, "msgsnd:error=EINTR:when=2:proc=root"), 0u);
    cr_expect_gt(count_rules(&sp, "msgrcv:error=EIDRM:when=1:proc=0.1:site=prog+0x40"), 0u);
    cr_expect_gt(count_rules(&sp, "msgrcv:error=EIDRM:when=2:proc=0.1:site=prog+0x40"), 0u);
    /* 0.1 catches no signal: EINTR cannot happen to it. */
    cr_expect_eq(count_rules(&sp, "msgrcv:error=EINTR"), 0u);
    for (size_t i = 0; i < sp.n; i++) {
        char err[256];
        if (sp.xs[i].rule[0])
            cr_expect_eq(ipcv_faults_check(sp.xs[i].rule, err, sizeof err), 0, "%s: %s", sp.xs[i].rule, err);
    }
    xp_space_free(&sp);
    xp_record_free(&a);
    xp_record_free(&b);
}

Test(explore_plan, errnos_one_tries_one_per_class_and_doc_all_documented)
{
    struct xp_record a = { 0 };
    xp_record_parse(&a, rec_a);
    struct xp_space_opts o = all_calls();
    o.calls[fn_of("fork")] = o.calls[fn_of("msgget")] = o.calls[fn_of("msgrcv")] = o.calls[fn_of("msgctl")] = 0;
    struct xp_space sp = { 0 };
    xp_space_plan(&sp, &a, &o);
    /* msgsnd documents EAGAIN EINTR | EIDRM EINVAL | ENOMEM | EACCES: one of each, per call. */
    cr_expect_eq(sp.n, 8u, "%zu experiments", sp.n);
    cr_expect_eq(count_rules(&sp, "error=EINTR"), 2u);
    cr_expect_eq(count_rules(&sp, "error=EIDRM"), 2u);
    cr_expect_eq(count_rules(&sp, "error=ENOMEM"), 2u);
    cr_expect_eq(count_rules(&sp, "error=EACCES"), 2u);
    xp_space_free(&sp);
    o.errnos_mode = XP_ERRNOS_DOC;
    xp_space_plan(&sp, &a, &o);
    cr_expect_eq(sp.n, 2u * ipcv_faults_find("msgsnd")->nerrnos);
    xp_space_free(&sp);
    o.errnos_mode = XP_ERRNOS_LIST;
    o.errnos[0] = EIDRM;
    o.errnos[1] = ENOSPC;   /* msgsnd does not document it: not tried */
    o.nerrnos = 2;
    xp_space_plan(&sp, &a, &o);
    cr_expect_eq(sp.n, 2u);
    xp_space_free(&sp);
    xp_record_free(&a);
}

Test(explore_plan, crash_delays_limits_and_sigterm_are_planned)
{
    struct xp_record a = { 0 };
    xp_record_parse(&a, rec_a);
    struct ipcv_shared *sh = calloc(1, sizeof *sh);
    sh->objs[0] = (struct ipcv_sh_obj){ .what = IPCV_EV_CREATE, .kind = "sysv_msg", .id = 3 };
    sh->objs[1] = (struct ipcv_sh_obj){ .what = IPCV_EV_CREATE, .kind = "sysv_msg", .id = 4 };
    sh->objs[2] = (struct ipcv_sh_obj){ .what = IPCV_EV_DESTROY, .kind = "sysv_msg", .id = 3 };
    sh->nobjs = 3;
    xp_record_objects(&a, sh);
    free(sh);
    struct xp_space_opts o = all_calls();
    memset(o.calls, 0, sizeof o.calls);
    o.calls[fn_of("msgget")] = 1;
    o.crash = o.delays = o.limits = o.terminate = 1;
    struct xp_space sp = { 0 };
    xp_space_plan(&sp, &a, &o);
    cr_expect_eq(count_rules(&sp, "msgget:crash:when=1:proc=root"), 1u);
    cr_expect_eq(count_rules(&sp, "msgget:crash_after:when=1:proc=root"), 1u);
    cr_expect_eq(count_rules(&sp, "%ipc,fork:delay_enter=0..100:delay_exit=0..100"), 2u);
    size_t limits = 0, term = 0;
    for (size_t i = 0; i < sp.n; i++) {
        const struct xp *x = &sp.xs[i];
        if (x->kind == XP_LIMIT) {
            limits++;
            if (!strcmp(x->limit->name, "msgmnb"))
                cr_expect_eq(x->limit_value, 127u, "msgmnb just below the 128 bytes queued");
            if (!strcmp(x->limit->name, "msgmax"))
                cr_expect_eq(x->limit_value, 63u);
            if (!strcmp(x->limit->name, "msgmni"))
                cr_expect_eq(x->limit_value, 1u, "two queues lived at once");
        }
        if (x->kind == XP_TERMINATE) {
            term++;
            cr_expect(strstr(x->rule, ":signal=TERM:") && strstr(x->rule, "proc=root"), "%s", x->rule);
        }
    }
    cr_expect_eq(limits, 3u);
    cr_expect_geq(term, 2u);
    xp_space_free(&sp);
    xp_record_free(&a);
}

/* A shared page as the supervisor would leave it. */
static struct ipcv_sh_proc *proc(struct ipcv_shared *sh, const char *lineage, int pid, int wstatus)
{
    struct ipcv_sh_proc *s = &sh->procs[sh->nprocs++];
    s->state = IPCV_SLOT_ENDED;
    s->pid = pid;
    snprintf(s->lineage, sizeof s->lineage, "%s", lineage);
    snprintf(s->comm, sizeof s->comm, "prog");
    s->status_known = 1;
    s->wstatus = wstatus;
    return s;
}

static void leak(struct ipcv_shared *sh, const char *lineage, int pid)
{
    struct ipcv_sh_leak *l = &sh->leaks[sh->nleaks++];
    snprintf(l->kind, sizeof l->kind, "sysv_msg");
    l->id = 7;
    l->pid = pid;
    snprintf(l->lineage, sizeof l->lineage, "%s", lineage);
}

#define EXITED(c) ((c) << 8)
#define KILLED(s) (s)

static enum xp_class judge(struct xp *x, struct ipcv_shared *sh)
{
    struct xp_result res;
    sh->rule_fired[0] = 1;
    xp_classify(x, sh, &res);
    return res.cls;
}

Test(explore_plan, runs_are_judged_by_what_happened)
{
    struct ipcv_shared *sh = calloc(1, sizeof *sh);
    struct xp err = { .kind = XP_ERROR, .fn = fn_of("msgsnd"), .err = EIDRM, .rule = "msgsnd:error=EIDRM" };
    struct xp eintr = err;
    eintr.err = EINTR;
    struct xp crash = { .kind = XP_CRASH_AFTER, .fn = fn_of("msgget"), .rule = "msgget:crash_after" };

    proc(sh, "0", 2, EXITED(0));
    cr_expect_eq(judge(&err, sh), XC_TOLERATED);
    sh->procs[0].wstatus = EXITED(1);
    cr_expect_eq(judge(&err, sh), XC_CLEAN, "failed and said so");
    cr_expect_eq(judge(&eintr, sh), XC_WRONG, "EINTR had to be retried");
    sh->procs[0].wstatus = KILLED(SIGSEGV);
    cr_expect_eq(judge(&err, sh), XC_CRASH);
    sh->procs[0].wstatus = EXITED(1);
    leak(sh, "0", 2);
    cr_expect_eq(judge(&err, sh), XC_LEAK, "an error path that leaks");
    sh->timed_out = 1;
    sh->procs[0].hung = 1;
    cr_expect_eq(judge(&err, sh), XC_HANG, "a hang before its leak");
    memset(sh, 0, sizeof *sh);

    /* The error went to a child that swallowed it; the root failed. */
    proc(sh, "0", 2, EXITED(1));
    proc(sh, "0.1", 3, EXITED(0))->fired = 1;
    cr_expect_eq(judge(&err, sh), XC_WRONG);
    sh->procs[1].wstatus = EXITED(1);
    cr_expect_eq(judge(&err, sh), XC_CLEAN);
    /* SIGPIPE in a child whose reader went: how pipelines end. */
    sh->procs[1].fired = 0;
    sh->procs[1].wstatus = KILLED(SIGPIPE);
    cr_expect_eq(judge(&err, sh), XC_CLEAN);
    sh->procs[0].wstatus = KILLED(SIGPIPE);
    cr_expect_eq(judge(&err, sh), XC_CRASH, "the root killed by SIGPIPE");
    memset(sh, 0, sizeof *sh);

    /* Crash after msgget in the root: its queue is nobody's fault... */
    struct ipcv_sh_proc *root = proc(sh, "0", 2, KILLED(SIGKILL));
    root->injected_sig = SIGKILL;
    leak(sh, "0", 2);
    cr_expect_eq(judge(&crash, sh), XC_UNAVOIDABLE);
    /* ...nor is a queue its child made; */
    proc(sh, "0.1", 3, KILLED(SIGKILL));
    sh->leaks[0].pid = 3;
    snprintf(sh->leaks[0].lineage, sizeof sh->leaks[0].lineage, "0.1");
    cr_expect_eq(judge(&crash, sh), XC_UNAVOIDABLE);
    /* but the survivor that does not clean up after a dead child leaks. */
    memset(sh, 0, sizeof *sh);
    proc(sh, "0", 2, EXITED(1));
    proc(sh, "0.1", 3, KILLED(SIGKILL))->injected_sig = SIGKILL;
    leak(sh, "0", 2);
    cr_expect_eq(judge(&crash, sh), XC_LEAK);
    sh->nleaks = 0;
    cr_expect_eq(judge(&crash, sh), XC_CLEAN);
    sh->procs[0].wstatus = EXITED(0);
    cr_expect_eq(judge(&crash, sh), XC_TOLERATED);
    cr_expect_str_eq(xp_class_name(XC_TOLERATED, XP_CRASH_AFTER), "recovered");
    /* A fault that never fired says nothing. */
    sh->rule_fired[0] = 0;
    struct xp_result res;
    xp_classify(&crash, sh, &res);
    cr_expect_eq(res.cls, XC_MISSED);
    free(sh);
}

/* site= reaches only the calls from that site: bench_48_calls makes its
 * semop(+1) and semop(-1) from two places. */
Test(explore_plan, a_site_rule_fires_only_at_its_site, .timeout = 120)
{
    struct sup_cmd c;
    struct sup_json *j = EXPLORE_JSON(&c, 100, "-j2", "--calls", "semop", "--errnos", "EINVAL", "--max-occurrence", "2",
                                      "--", fixture("explore/bench_48_calls"));
    cr_assert(j, "no report: %s", c.err);
    const struct sup_json *runs = sup_json_get(j, "runs");
    const char *up = NULL, *down = NULL;
    for (size_t i = 0; runs && i < runs->n; i++) {
        double occ = jnum(&runs->items[i], "occurrence", 0);
        if (occ == 1)
            up = jstr(&runs->items[i], "site");
        if (occ == 2)
            down = jstr(&runs->items[i], "site");
    }
    cr_assert(up && down && strcmp(up, down), "two sites expected: %s, %s", up ? up : "-", down ? down : "-");
    char rule[256];
    snprintf(rule, sizeof rule, "semop:error=EINVAL:site=%s:when=2", down);
    char trace[512];
    snprintf(trace, sizeof trace, "--trace=%s/site-%d.trace", sup_scratch(), (int)getpid());
    struct sup_cmd e;
    RUN_IPCVET(&e, 60, "exec", trace, "--inject", rule, "--", fixture("explore/bench_48_calls"));
    cr_expect_eq(e.code, 1, "%s", e.err);
    char *text = sup_read_file(trace + 8);
    cr_assert(text);
    /* The second semop(-1) is the program's fourth semop. */
    const char *hit = strstr(text, "(injected error)");
    cr_expect(hit, "nothing injected:\n%s", text);
    int before = 0;
    for (const char *p = text; hit && (p = strstr(p, "] semop(")) && p < hit; p++)
        before++;
    cr_expect_eq(before, 4, "injected at semop call %d:\n%s", before, text);
    const char *line = hit;
    while (line && line > text && line[-1] != '\n')
        line--;
    cr_expect(line && strstr(line, "{0, -1, 0}") && strstr(line, "{0, -1, 0}") < hit, "not a semop(-1):\n%s", text);
    unlink(trace + 8);
    free(text);
    sup_cmd_free(&e);
    sup_json_free(j);
    sup_cmd_free(&c);
}
