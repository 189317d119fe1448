/* Every correct fixture stays clean under every single injection of its
 * calls: a recording run lists the calls each process makes (--trace); then
 * each call, one at a time, fails with each errno its man page documents
 * (for the first occurrence of a function in a process) or with a seeded
 * one of them (for later occurrences). Clean means: no process killed by a
 * signal, no hang, nothing left behind. A non-zero exit is fine: that is
 * the program reporting the failure. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "faults.h"
#include "test_exec_support.h"

TestSuite(exec_correct, .timeout = 600);

#define MAX_RUNS 400
#define PARALLEL 4

struct run {
    char rule[160];
    char json[512];
    struct sup_proc p;
};

static void check_clean(const struct run *r, const struct sup_cmd *c, const char *name)
{
    char *text = sup_read_file(r->json);
    unlink(r->json);
    cr_assert(text, "%s under %s: no report; exit %d; stderr:\n%s", name, r->rule, c->code, c->err);
    char err[256];
    struct sup_json *j = sup_json_parse(text, err, sizeof err);
    free(text);
    cr_assert(j, "%s under %s: bad JSON: %s", name, r->rule, err);
    cr_expect(c->code == 0 || c->code == 1, "%s under %s: exit %d\n%s", name, r->rule, c->code, c->err);
    cr_expect_eq(jnum(j, "timed_out", 1), 0, "%s under %s: hung\n%s", name, r->rule, c->err);
    cr_expect_eq(jlen(j, "leaks"), 0u, "%s under %s: leaked\n%s", name, r->rule, c->err);
    const struct sup_json *ps = sup_json_get(j, "processes");
    for (size_t i = 0; ps && i < ps->n; i++)
        cr_expect_str_neq(jstr(&ps->items[i], "status"), "killed", "%s under %s: process %s killed by %s\n%s",
                          name, r->rule, jstr(&ps->items[i], "lineage"), jstr(&ps->items[i], "signal"), c->err);
    const struct sup_json *plans = sup_json_get(j, "plans");
    cr_expect(plans && plans->n == 1 && jnum(&plans->items[0], "fired", 0) == 1,
              "%s under %s: the injection did not fire exactly once (the calls are not deterministic?)",
              name, r->rule);
    sup_json_free(j);
}

static void start(struct run *r, const char *path)
{
    static unsigned k;
    snprintf(r->json, sizeof r->json, "%s/sweep-%d-%u.json", sup_scratch(), (int)getpid(), ++k);
    unlink(r->json);
    sup_start(&r->p, SUP_ARGV(sup_ipcvet(), "exec", "--timeout", "20", "--json", r->json, "--inject",
                              r->rule, "--", path), NULL);
}

static void sweep(const char *name)
{
    const char *path = fixture(name);
    char trace_path[512], opt[600];
    snprintf(trace_path, sizeof trace_path, "%s/sweep-%d.trace", sup_scratch(), (int)getpid());
    snprintf(opt, sizeof opt, "--trace=%s", trace_path);
    struct sup_cmd c;
    RUN_IPCVET(&c, 60, "exec", opt, "--", path);
    char *trace = sup_read_file(trace_path);
    unlink(trace_path);
    cr_assert_eq(c.code, 0, "%s is not clean without faults: exit %d\n%s", name, c.code, c.err);
    cr_assert(trace && *trace, "%s: no call recorded", name);
    sup_cmd_free(&c);

    /* One run per (lineage, function, occurrence, errno). */
    static struct run runs[MAX_RUNS];
    int n = 0;
    struct { char lineage[64], fn[48]; int count; } seen[128];
    int nseen = 0;
    for (const char *l = trace; *l; l += strcspn(l, "\n") + (l[strcspn(l, "\n")] != 0)) {
        char lineage[64], fn[48];
        if (sscanf(l, "[%63s pid %*d] %47[a-z0-9_](", lineage, fn) != 2)
            continue;
        int s = 0;
        while (s < nseen && (strcmp(seen[s].lineage, lineage) || strcmp(seen[s].fn, fn)))
            s++;
        if (s == nseen) {
            cr_assert_lt(nseen, 128);
            snprintf(seen[s].lineage, sizeof seen[s].lineage, "%s", lineage);
            snprintf(seen[s].fn, sizeof seen[s].fn, "%s", fn);
            seen[s].count = 0;
            nseen++;
        }
        int occ = ++seen[s].count;
        const struct ipcv_point *pt = ipcv_faults_find(fn);
        cr_assert(pt, "%s: unknown function '%s' in the trace", name, fn);
        for (unsigned e = 0; e < (occ == 1 ? pt->nerrnos : 1); e++) {
            cr_assert_lt(n, MAX_RUNS, "%s: more than %d runs", name, MAX_RUNS);
            snprintf(runs[n].rule, sizeof runs[n].rule, "%s:error=%s:when=%d:proc=%s", fn,
                     occ == 1 ? ipcv_faults_errname(pt->errnos[e]) : "any", occ, lineage);
            n++;
        }
    }
    free(trace);

    /* A few at a time. */
    for (int i = 0; i < n; i += PARALLEL) {
        int m = n - i < PARALLEL ? n - i : PARALLEL;
        for (int k = 0; k < m; k++)
            start(&runs[i + k], path);
        for (int k = 0; k < m; k++) {
            sup_finish(&runs[i + k].p, 60, &c);
            check_clean(&runs[i + k], &c, name);
            sup_cmd_free(&c);
        }
    }
}

Test(exec_correct, sysv_shm_pair_is_clean_under_every_single_fault) { sweep("correct/sysv_shm_pair"); }
Test(exec_correct, sysv_sem_lock_is_clean_under_every_single_fault) { sweep("correct/sysv_sem_lock"); }
Test(exec_correct, sysv_msg_pingpong_is_clean_under_every_single_fault) { sweep("correct/sysv_msg_pingpong"); }
Test(exec_correct, posix_mq_pair_is_clean_under_every_single_fault) { sweep("correct/posix_mq_pair"); }
Test(exec_correct, posix_shm_sem_is_clean_under_every_single_fault) { sweep("correct/posix_shm_sem"); }
Test(exec_correct, pshared_mutex_is_clean_under_every_single_fault) { sweep("correct/pshared_mutex"); }
Test(exec_correct, pipe_pair_is_clean_under_every_single_fault) { sweep("correct/pipe_pair"); }
Test(exec_correct, unix_socketpair_is_clean_under_every_single_fault) { sweep("correct/unix_socketpair"); }
Test(exec_correct, wait_then_shmget_is_clean_under_every_single_fault) { sweep("correct/wait_then_shmget"); }
