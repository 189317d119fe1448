/* ipcvet explore: run a program twice to record every wrapped call of
 * every process, plan the fault space from that record, run each
 * experiment in its own sandbox (-j N at a time), classify what came of
 * it, and report the findings with an `ipcvet exec` line that reproduces
 * each. See explore.h for how the work is split. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "explore.h"
#include "watchdog.h"

struct explore_opts {
    struct xp_space_opts space;
    double timeout;
    int timeout_set;
    int jobs;
    int isolation;
    const char *json, *junit;
    char **cmd;
};

static void parse_calls(const char *list, unsigned char *calls)
{
    memset(calls, 0, 256);
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, ",");
        char name[64];
        if (!n || n >= sizeof name)
            ipcv_usage_error("--calls: bad function or class '%.*s' in '%s'", (int)n, p, list);
        memcpy(name, p, n);
        name[n] = '\0';
        int found = 0;
        if (name[0] == '%') {
            for (size_t c = 0; c < ipcv_faults_nclasses(); c++) {
                if (strcmp(ipcv_faults_class_name(c), name))
                    continue;
                found = 1;
                for (size_t f = 0; f < ipcv_faults_npoints(); f++)
                    calls[f] |= ipcv_faults_point(f)->classes[c] != 0;
            }
        } else {
            const struct ipcv_point *pt = ipcv_faults_find(name);
            if (pt) {
                found = 1;
                calls[pt - ipcv_faults_point(0)] = 1;
            }
        }
        if (!found)
            ipcv_usage_error("--calls: unknown function or class '%s' (see 'ipcvet points')", name);
        p += n + (p[n] == ',');
    }
}

static void parse_errnos(const char *s, struct xp_space_opts *o)
{
    if (!strcmp(s, "one")) {
        o->errnos_mode = XP_ERRNOS_ONE;
        return;
    }
    if (!strcmp(s, "doc")) {
        o->errnos_mode = XP_ERRNOS_DOC;
        return;
    }
    o->errnos_mode = XP_ERRNOS_LIST;
    for (const char *p = s; *p;) {
        size_t n = strcspn(p, ",");
        char name[32];
        if (!n || n >= sizeof name)
            ipcv_usage_error("--errnos: expected doc, one or E1,E2.., got '%s'", s);
        memcpy(name, p, n);
        name[n] = '\0';
        int e = ipcv_faults_errno(name);
        if (e < 0)
            ipcv_usage_error("--errnos: unknown errno '%s' in '%s'", name, s);
        if (o->nerrnos == (int)(sizeof o->errnos / sizeof o->errnos[0]))
            ipcv_usage_error("--errnos: more than %zu errnos in '%s'", sizeof o->errnos / sizeof o->errnos[0], s);
        o->errnos[o->nerrnos++] = e;
        p += n + (p[n] == ',');
    }
}

static void parse(int argc, char **argv, struct explore_opts *o)
{
    enum { O_CALLS = 256, O_ERRNOS, O_CRASH, O_DELAYS, O_LIMITS, O_TERMINATE, O_REPEAT, O_MAXOCC,
           O_TIMEOUT, O_JUNIT, O_JSON, O_SEED, O_ISOLATE };
    static const struct option opts[] = {
        { "calls", required_argument, NULL, O_CALLS },       { "errnos", required_argument, NULL, O_ERRNOS },
        { "crash", no_argument, NULL, O_CRASH },              { "delays", no_argument, NULL, O_DELAYS },
        { "limits", no_argument, NULL, O_LIMITS },            { "terminate", no_argument, NULL, O_TERMINATE },
        { "repeat", required_argument, NULL, O_REPEAT },      { "max-occurrence", required_argument, NULL, O_MAXOCC },
        { "timeout", required_argument, NULL, O_TIMEOUT },    { "junit", required_argument, NULL, O_JUNIT },
        { "json", required_argument, NULL, O_JSON },          { "seed", required_argument, NULL, O_SEED },
        { "isolate", required_argument, NULL, O_ISOLATE },    { "jobs", required_argument, NULL, 'j' },
        { 0 },
    };
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    *o = (struct explore_opts){ .jobs = ncpu > 0 ? (int)ncpu : 1, .isolation = IPCV_ISOLATE_AUTO };
    o->space.repeat = 8;
    o->space.max_occ = 3;
    o->space.delay_us = 1000;
    memset(o->space.calls, 1, sizeof o->space.calls);
    opterr = 0;
    optind = 0;
    int c;
    while ((c = getopt_long(argc, argv, "+:j:", opts, NULL)) != -1) {
        switch (c) {
        case O_CALLS: parse_calls(optarg, o->space.calls); break;
        case O_ERRNOS: parse_errnos(optarg, &o->space); break;
        case O_CRASH: o->space.crash = 1; break;
        case O_DELAYS: o->space.delays = 1; break;
        case O_LIMITS: o->space.limits = 1; break;
        case O_TERMINATE: o->space.terminate = 1; break;
        case O_REPEAT: o->space.repeat = (int)ipcv_parse_count("--repeat", optarg, 1, 10000); break;
        case O_MAXOCC:
            o->space.max_occ = (unsigned)ipcv_parse_count("--max-occurrence", optarg, 1, 1000000);
            break;
        case 'j': o->jobs = (int)ipcv_parse_count("-j", optarg, 1, 256); break;
        case O_TIMEOUT: {
            char *end;
            errno = 0;
            double t = strtod(optarg, &end);
            if (!*optarg || *end || errno || !(t > 0) || t > 86400)
                ipcv_usage_error("--timeout: expected seconds from 0.001 to 86400, got '%s'", optarg);
            o->timeout = t;
            o->timeout_set = 1;
            break;
        }
        case O_JUNIT: o->junit = optarg; break;
        case O_JSON: o->json = optarg; break;
        case O_SEED: {
            char *end;
            errno = 0;
            o->space.seed = strtoull(optarg, &end, 0);
            if (!*optarg || *end || errno || optarg[0] == '-')
                ipcv_usage_error("--seed: expected a whole number, got '%s'", optarg);
            break;
        }
        case O_ISOLATE:
            o->isolation = ipcv_isolation_parse(optarg);
            if (o->isolation < 0)
                ipcv_usage_error("--isolate: expected auto, ns or none, got '%s'", optarg);
            break;
        case ':': ipcv_usage_error("explore: option '%s' needs a value", argv[optind - 1]);
        default: ipcv_usage_error("explore: unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind >= argc)
        ipcv_usage_error("explore: missing command (ipcvet explore [OPTIONS] -- CMD [ARG..])");
    o->cmd = argv + optind;
}

static FILE *open_output(const char *opt, const char *path)
{
    if (!path)
        return NULL;
    FILE *f = !strcmp(path, "-") ? stdout : fopen(path, "we");
    if (!f)
        ipcv_usage_error("%s: cannot write '%s': %s", opt, path, strerror(errno));
    return f;
}

static void close_output(FILE *f)
{
    if (f && f != stdout)
        fclose(f);
    else if (f)
        fflush(f);
}

static void report(const struct xp_report *r, FILE *json, FILE *junit)
{
    if (json != stdout)
        xp_report_human(stdout, r);
    if (json) {
        xp_report_json(json, r);
        close_output(json);
    }
    if (junit) {
        xp_report_junit(junit, r);
        close_output(junit);
    }
    fflush(stdout);
}

/* Run the findings' representatives again: does each come back? Up to
 * three tries (a race that delays reveal comes back often, not always). */
static void confirm(struct xp_runner *run, const struct xp *xs, struct xp_findings *fs)
{
    struct xp *again = calloc(fs->n ? fs->n : 1, sizeof *again);
    size_t *which = calloc(fs->n ? fs->n : 1, sizeof *which);
    int progress = run->progress, nf = run->nfindings;
    run->progress = 0;
    for (int round = 0; round < 3; round++) {
        size_t n = 0;
        for (size_t i = 0; i < fs->n; i++) {
            if (fs->f[i].cls == XC_UNAVOIDABLE || fs->f[i].reproduced == 1)
                continue;
            again[n] = xs[fs->f[i].first];
            which[n++] = i;
        }
        if (!n)
            break;
        if (progress)
            fprintf(stderr, "ipcvet: explore: running %zu finding%s once more\n", n, n == 1 ? "" : "s");
        if (xp_run_all(run, again, n, NULL, NULL) != 0)
            break;
        for (size_t k = 0; k < n; k++)
            fs->f[which[k]].reproduced = again[k].res.cls == fs->f[which[k]].cls;
    }
    run->progress = progress;
    run->nfindings = nf;
    free(again);
    free(which);
}

int ipcv_cmd_explore(int argc, char **argv)
{
    struct explore_opts o;
    parse(argc, argv, &o);
    ipcv_faults_detach();   /* the explorer itself is never injected */

    char *path = ipcv_find_command(o.cmd[0]);
    if (!path)
        ipcv_usage_error("explore: command not found: '%s'", o.cmd[0]);
    const char *lib = ipcv_find_faults_library();
    if (!lib)
        ipcv_usage_error("explore: cannot find libipcvet-faults.so (set IPCVET_FAULTS_LIB)");
    ipcv_check_visible("explore", path, lib, o.isolation);
    if (ipcv_is_static_elf(path))
        ipcv_usage_error("explore: '%s' is statically linked: library-level injection cannot reach it",
                         o.cmd[0]);
    FILE *json = open_output("--json", o.json), *junit = open_output("--junit", o.junit);
    if (o.isolation == IPCV_ISOLATE_NONE && o.jobs > 1) {
        fprintf(stderr, "ipcvet: warning: explore: --isolate none shares the host's IPC namespace: "
                        "experiments run one at a time\n");
        o.jobs = 1;
    }
    double mul = ipcv_timeout_mul();
    const char *base = strrchr(o.cmd[0], '/');
    struct xp_runner run = {
        .lib = lib, .path = path, .argv = o.cmd, .comm = base ? base + 1 : o.cmd[0],
        .isolation = o.isolation, .jobs = o.jobs, .progress = 0,
    };

    /* 1. The baseline, twice, recorded. */
    struct xp_baseline b;
    int brc = xp_baseline_run(&run, (o.timeout_set ? o.timeout : 30) * mul, &b);
    if (brc == IPCV_EXIT_PROBLEMS) {
        struct xp_findings none = { 0 };
        struct xp_report r = { .cmd = o.cmd, .seed = o.space.seed, .isolation = o.isolation,
                               .isolation_had = o.isolation == IPCV_ISOLATE_NONE ? "none" : "ns",
                               .jobs = o.jobs, .fs = &none, .baseline_problem = b.problem,
                               .exit_code = IPCV_EXIT_PROBLEMS };
        report(&r, json, junit);
        return IPCV_EXIT_PROBLEMS;
    }
    if (brc)
        return brc;
    struct xp_record rec = b.rec;
    size_t unstable = b.unstable, procs = b.procs;
    double bsec = b.seconds;

    /* 2. The space. */
    struct xp_space sp = { 0 };
    xp_space_plan(&sp, &rec, &o.space);
    double timeout = o.timeout_set ? o.timeout * mul : (bsec * 10 > 1.0 ? bsec * 10 : 1.0) * mul;
    run.deadlock = bsec * 3 > 0.3 ? bsec * 3 : 0.3;
    for (size_t i = 0; i < sp.n; i++) {
        sp.xs[i].timeout = timeout;
        if (sp.xs[i].kind == XP_DELAY)   /* every call may now sleep twice */
            sp.xs[i].timeout += 2.0 * (double)rec.n * o.space.delay_us / 1e6 * mul;
    }

    /* 3. Run it. */
    run.progress = isatty(STDERR_FILENO) ? 1 : 2;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    double t1 = ts.tv_sec + ts.tv_nsec / 1e9;
    if (sp.n && xp_run_all(&run, sp.xs, sp.n, NULL, NULL) != 0)
        return IPCV_EXIT_USAGE;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    double elapsed = ts.tv_sec + ts.tv_nsec / 1e9 - t1;

    /* 4. Findings, each tried once more. */
    struct xp_findings fs = { 0 };
    xp_findings_build(&fs, sp.xs, sp.n);
    confirm(&run, sp.xs, &fs);
    int code = IPCV_EXIT_OK;
    for (size_t i = 0; i < fs.n; i++)
        if (xp_class_is_finding(fs.f[i].cls))
            code = IPCV_EXIT_PROBLEMS;

    /* 5. Reports. */
    struct xp_report r = {
        .cmd = o.cmd, .seed = o.space.seed, .isolation = o.isolation,
        .isolation_had = run.spawn > 0 ? "ns" : o.isolation == IPCV_ISOLATE_NONE ? "none" : "auto", .jobs = o.jobs,
        .timeout = timeout, .elapsed = elapsed, .baseline_calls = rec.n, .baseline_procs = procs,
        .unstable = unstable, .baseline_seconds = bsec, .xs = sp.xs, .n = sp.n, .fs = &fs, .exit_code = code,
    };
    report(&r, json, junit);
    xp_findings_free(&fs);
    xp_space_free(&sp);
    xp_record_free(&b.rec);
    xp_record_free(&b.rec2);
    free(path);
    return code;
}
