/* explore's reports: the human one (findings, unavoidable leaks, outcomes
 * per function), --json, and --junit (one test case per finding, through
 * the same JUnit writer as `ipcvet run`). */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "explore.h"
#include "report.h"

/* Row of the summary: the function, or what stands for it. */
static void row_name(const struct xp *x, char *buf, size_t len)
{
    switch (x->kind) {
    case XP_DELAY: snprintf(buf, len, "(delays)"); break;
    case XP_LIMIT: snprintf(buf, len, "limit %s", x->limit->name); break;
    case XP_TERMINATE: snprintf(buf, len, "(SIGTERM)"); break;
    default: snprintf(buf, len, "%s", ipcv_faults_point((size_t)x->fn)->function);
    }
}

/* The summary: per function (or what stands for it), experiments per class. */
struct row {
    char name[64];
    size_t count[XC_NCLASSES];
};

static size_t summary_rows(const struct xp_report *r, struct row **out)
{
    struct row *rows = calloc(r->n ? r->n : 1, sizeof *rows);
    size_t n = 0;
    for (size_t i = 0; i < r->n; i++) {
        char name[64];
        row_name(&r->xs[i], name, sizeof name);
        size_t k = 0;
        while (k < n && strcmp(rows[k].name, name))
            k++;
        if (k == n)
            snprintf(rows[n++].name, sizeof rows[0].name, "%s", name);
        rows[k].count[r->xs[i].res.cls]++;
    }
    *out = rows;
    return n;
}

/* "crash_after semop at prog+0x11a4 (process 0.1, call 2)" */
static void describe_xp(char *buf, size_t len, const struct xp *x, const struct xp_finding *f)
{
    const char *fn = x->fn >= 0 ? ipcv_faults_point((size_t)x->fn)->function : "";
    char where[200];
    snprintf(where, sizeof where, "%s at %s (%s%s, %s %u)", fn, x->site,
             x->lineage[0] ? "process " : "any process", x->lineage, x->by_site ? "call from there" : "call",
             x->occ);
    switch (x->kind) {
    case XP_ERROR:
        snprintf(buf, len, "%s from %s", f && f->errnos[0] ? f->errnos : ipcv_faults_errname(x->err), where);
        break;
    case XP_CRASH_BEFORE: snprintf(buf, len, "crash before %s", where); break;
    case XP_CRASH_AFTER: snprintf(buf, len, "crash after %s", where); break;
    case XP_DELAY: snprintf(buf, len, "random delays at every call (seed %llu)", x->seed); break;
    case XP_LIMIT:
        snprintf(buf, len, "%s lowered to %llu (the baseline used %llu)", x->limit->name, x->limit_value,
                 x->limit_used);
        break;
    case XP_TERMINATE: snprintf(buf, len, "SIGTERM to process 0 before %s", where); break;
    default: snprintf(buf, len, "baseline");
    }
}

static void print_finding(FILE *f, const struct xp_report *r, const struct xp_finding *fd, const char *tag,
                          size_t k)
{
    const struct xp *x = &r->xs[fd->first];
    char what[400];
    describe_xp(what, sizeof what, x, fd);
    fprintf(f, "  %s%zu %s: %s", tag, k + 1, xp_class_name(fd->cls, x->kind), what);
    if (x->kind == XP_CRASH_BEFORE || x->kind == XP_CRASH_AFTER)
        fprintf(f, "; survivors: %s", xp_class_name(fd->cls, x->kind));
    if (fd->count > 1)
        fprintf(f, " [%zu experiments]", fd->count);
    fprintf(f, "\n      %s\n", x->res.detail);
    if (x->res.output[0])
        fprintf(f, "      output: %s\n", x->res.output);
    fputs("      reproduce: ", f);
    xp_reproducer(f, x, r->cmd, r->isolation);
    if (fd->reproduced >= 0)
        fprintf(f, "%s", fd->reproduced ? "  (reproduced)" : "  (did not reproduce on a second run)");
    fputc('\n', f);
}

void xp_report_human(FILE *f, const struct xp_report *r)
{
    if (r->baseline_problem) {
        fprintf(f, "ipcvet explore: the baseline is not clean (%s)\n", r->baseline_problem);
        fprintf(f, "ipcvet explore: nothing explored: a fault's effect could not be told from the program's "
                   "own failure\n");
        return;
    }
    const struct xp_findings *fs = r->fs;
    size_t nf = 0, nu = 0;
    for (size_t i = 0; i < fs->n; i++) {
        if (fs->f[i].cls == XC_UNAVOIDABLE)
            nu++;
        else
            nf++;
    }
    fprintf(f, "ipcvet explore: baseline: %zu process%s, %zu wrapped calls, %.2f s (2 runs, %zu unstable "
               "calls targeted by site)\n",
            r->baseline_procs, r->baseline_procs == 1 ? "" : "es", r->baseline_calls, r->baseline_seconds,
            r->unstable);
    fprintf(f, "ipcvet explore: %zu experiments in %.1f s (%.0f/s, -j%d, timeout %.1f s, isolation %s)\n", r->n,
            r->elapsed, r->elapsed > 0 ? r->n / r->elapsed : 0, r->jobs, r->timeout, r->isolation_had);

    fprintf(f, "\nfindings: %zu\n", nf);
    for (size_t i = 0, k = 0; i < fs->n; i++)
        if (fs->f[i].cls != XC_UNAVOIDABLE)
            print_finding(f, r, &fs->f[i], "F", k++);
    if (nu) {
        fprintf(f, "\nunavoidable leaks (a creator SIGKILLed before it could remove, or the removal made "
                   "to fail; not findings): %zu\n", nu);
        for (size_t i = 0, k = 0; i < fs->n; i++)
            if (fs->f[i].cls == XC_UNAVOIDABLE)
                print_finding(f, r, &fs->f[i], "U", k++);
    }

    /* Outcomes per function. */
    static const enum xp_class cols[] = { XC_TOLERATED, XC_CLEAN, XC_CRASH, XC_HANG, XC_LEAK, XC_WRONG,
                                          XC_UNAVOIDABLE, XC_MISSED, XC_NOTRUN };
    enum { NCOLS = sizeof cols / sizeof cols[0] };
    fprintf(f, "\noutcomes per function (experiments)\n  %-22s", "function");
    for (int c = 0; c < NCOLS; c++)
        fprintf(f, " %s", xp_class_name(cols[c], XP_ERROR));
    fputc('\n', f);
    struct row *rows;
    size_t nrows = summary_rows(r, &rows);
    for (size_t i = 0; i < nrows; i++) {
        fprintf(f, "  %-22s", rows[i].name);
        for (int c = 0; c < NCOLS; c++)
            fprintf(f, " %*zu", (int)strlen(xp_class_name(cols[c], XP_ERROR)), rows[i].count[cols[c]]);
        fputc('\n', f);
    }
    free(rows);
    if (r->exit_code)
        fprintf(f, "\nipcvet explore: %zu finding%s (crash, hang, leak or wrong result)\n", nf, nf == 1 ? "" : "s");
}

static void json_or_null(FILE *f, const char *s)
{
    if (s && *s)
        ipcv_json_str(f, s);
    else
        fputs("null", f);
}

/* Where an experiment aimed: "site", "lineage", "occurrence", "inject", "limit". */
static void json_where(FILE *f, const struct xp *x)
{
    fputs(", \"site\": ", f);
    json_or_null(f, x->fn >= 0 ? x->site : NULL);
    fputs(", \"lineage\": ", f);
    json_or_null(f, x->fn >= 0 ? x->lineage : NULL);
    fputs(", \"occurrence\": ", f);
    if (x->fn >= 0)
        fprintf(f, "%u", x->occ);
    else
        fputs("null", f);
    fputs(", \"inject\": ", f);
    json_or_null(f, x->rule);
    fputs(", \"limit\": ", f);
    if (x->limit)
        fprintf(f, "\"%s=%llu\"", x->limit->name, x->limit_value);
    else
        fputs("null", f);
    fprintf(f, ", \"seed\": %llu", x->seed);
}

static void json_finding(FILE *f, const struct xp_report *r, const struct xp_finding *fd, size_t k, const char *tag)
{
    const struct xp *x = &r->xs[fd->first];
    char id[16], what[400], *repro = NULL;
    size_t rl = 0;
    snprintf(id, sizeof id, "%s%zu", tag, k + 1);
    describe_xp(what, sizeof what, x, fd);
    FILE *m = open_memstream(&repro, &rl);
    xp_reproducer(m, x, r->cmd, r->isolation);
    fclose(m);
    fprintf(f, "    {\"id\": \"%s\", \"class\": \"%s\", \"kind\": \"%s\", \"function\": ", id,
            xp_class_name(fd->cls, XP_ERROR), xp_kind_name(x->kind));
    json_or_null(f, x->fn >= 0 ? ipcv_faults_point((size_t)x->fn)->function : NULL);
    json_where(f, x);
    fprintf(f, ", \"by_site\": %s, \"errnos\": ", x->by_site ? "true" : "false");
    json_or_null(f, fd->errnos);
    fputs(", \"survivors\": ", f);
    json_or_null(f, x->kind == XP_CRASH_BEFORE || x->kind == XP_CRASH_AFTER ? xp_class_name(fd->cls, x->kind)
                                                                             : NULL);
    fprintf(f, ", \"experiments\": %zu, \"what\": ", fd->count);
    ipcv_json_str(f, what);
    fputs(", \"detail\": ", f);
    ipcv_json_str(f, x->res.detail);
    fputs(", \"output\": ", f);
    ipcv_json_str(f, x->res.output);
    fputs(", \"reproducer\": ", f);
    ipcv_json_str(f, repro);
    fprintf(f, ", \"reproduced\": %s}", fd->reproduced < 0 ? "null" : fd->reproduced ? "true" : "false");
    free(repro);
}

void xp_report_json(FILE *f, const struct xp_report *r)
{
    fputs("{\n  \"command\": [", f);
    for (char **a = r->cmd; *a; a++) {
        if (a != r->cmd)
            fputs(", ", f);
        ipcv_json_str(f, *a);
    }
    size_t kinds[XP_NKINDS] = { 0 };
    for (size_t i = 0; i < r->n; i++)
        kinds[r->xs[i].kind]++;
    fprintf(f, "],\n  \"seed\": %llu,\n  \"isolation\": \"%s\",\n  \"jobs\": %d,\n  \"timeout\": %.3f,\n"
               "  \"exit\": %d,\n  \"baseline\": {\"runs\": 2, \"clean\": %s, \"problem\": ",
            r->seed, r->isolation_had, r->jobs, r->timeout, r->exit_code, r->baseline_problem ? "false" : "true");
    json_or_null(f, r->baseline_problem);
    fprintf(f, ", \"processes\": %zu, \"calls\": %zu, \"unstable\": %zu, \"seconds\": %.3f},\n"
               "  \"experiments\": %zu,\n  \"space\": {",
            r->baseline_procs, r->baseline_calls, r->unstable, r->baseline_seconds, r->n);
    for (int k = XP_ERROR; k < XP_NKINDS; k++)
        fprintf(f, "%s\"%s\": %zu", k > XP_ERROR ? ", " : "", xp_kind_name((enum xp_kind)k), kinds[k]);
    fprintf(f, "},\n  \"seconds\": %.3f,\n  \"per_second\": %.1f,\n  \"findings\": [", r->elapsed,
            r->elapsed > 0 ? r->n / r->elapsed : 0);
    int first = 1;
    for (size_t i = 0, k = 0; i < r->fs->n; i++) {
        if (r->fs->f[i].cls == XC_UNAVOIDABLE)
            continue;
        fputs(first ? "\n" : ",\n", f);
        json_finding(f, r, &r->fs->f[i], k++, "F");
        first = 0;
    }
    fprintf(f, "%s],\n  \"unavoidable_leaks\": [", first ? "" : "\n  ");
    first = 1;
    for (size_t i = 0, k = 0; i < r->fs->n; i++) {
        if (r->fs->f[i].cls != XC_UNAVOIDABLE)
            continue;
        fputs(first ? "\n" : ",\n", f);
        json_finding(f, r, &r->fs->f[i], k++, "U");
        first = 0;
    }
    fprintf(f, "%s],\n  \"runs\": [", first ? "" : "\n  ");
    for (size_t i = 0; i < r->n; i++) {
        const struct xp *x = &r->xs[i];
        char name[64];
        row_name(x, name, sizeof name);
        fprintf(f, "%s\n    {\"kind\": \"%s\", \"function\": ", i ? "," : "", xp_kind_name(x->kind));
        ipcv_json_str(f, name);
        json_where(f, x);
        fprintf(f, ", \"class\": \"%s\", \"fired\": %d, \"seconds\": %.4f, \"detail\": ",
                xp_class_name(x->res.cls, XP_ERROR), x->res.fired, x->res.seconds);
        ipcv_json_str(f, x->res.detail);
        fputc('}', f);
    }
    fprintf(f, "%s],\n  \"summary\": {", r->n ? "\n  " : "");
    struct row *rows;
    size_t nrows = summary_rows(r, &rows);
    for (size_t i = 0; i < nrows; i++) {
        fprintf(f, "%s\n    ", i ? "," : "");
        ipcv_json_str(f, rows[i].name);
        fputs(": {", f);
        for (int c = 0; c < XC_NCLASSES; c++)
            fprintf(f, "%s\"%s\": %zu", c ? ", " : "", xp_class_name((enum xp_class)c, XP_ERROR), rows[i].count[c]);
        fputc('}', f);
    }
    fprintf(f, "%s}\n}\n", nrows ? "\n  " : "");
    free(rows);
}

void xp_report_junit(FILE *f, const struct xp_report *r)
{
    struct ipcv_results rs = { 0 };
    rs.r = calloc(r->fs->n + 1, sizeof *rs.r);
    if (r->baseline_problem) {
        struct ipcv_result *res = &rs.r[rs.n++];
        snprintf(res->mech, sizeof res->mech, "explore");
        snprintf(res->name, sizeof res->name, "baseline");
        res->outcome = IPCV_FAILED;
        snprintf(res->message, sizeof res->message, "%s", r->baseline_problem);
    }
    for (size_t i = 0, k = 0; i < r->fs->n; i++) {
        const struct xp_finding *fd = &r->fs->f[i];
        if (fd->cls == XC_UNAVOIDABLE)
            continue;
        const struct xp *x = &r->xs[fd->first];
        struct ipcv_result *res = &rs.r[rs.n++];
        char what[400], name[64];
        describe_xp(what, sizeof what, x, fd);
        row_name(x, name, sizeof name);
        snprintf(res->mech, sizeof res->mech, "explore");
        snprintf(res->name, sizeof res->name, "F%zu %s: %s", ++k, xp_class_name(fd->cls, x->kind), name);
        res->outcome = IPCV_FAILED;
        res->seconds = x->res.seconds;
        FILE *m = fmemopen(res->message, sizeof res->message, "w");
        fprintf(m, "%s: %s\n%s\nreproduce: ", xp_class_name(fd->cls, x->kind), what, x->res.detail);
        xp_reproducer(m, x, r->cmd, r->isolation);
        fclose(m);
        res->message[sizeof res->message - 1] = '\0';
    }
    ipcv_report_junit(f, &rs);
    free(rs.r);
}
