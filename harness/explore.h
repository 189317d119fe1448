/* ipcvet explore: systematic fault-space exploration of a program tree.
 *
 *   cli_explore.c       options, the baseline, the flow, exit status
 *   explore_plan.c      the record of a baseline run, stable and unstable
 *                       calls, limits used, and the experiments
 *   explore_run.c       running experiments in parallel sandboxes
 *   explore_classify.c  what an experiment's run means; findings
 *   explore_report.c    the human report, --json, --junit
 *   explore_bench.c     `ipcvet bench`: explore against strace and the floor
 */
#ifndef IPCV_EXPLORE_H
#define IPCV_EXPLORE_H

#include <stdio.h>

#include "faults.h"
#include "ipc_limits.h"
#include "run_one.h"
#include "shared.h"

/* What an experiment does to the program. */
enum xp_kind {
    XP_BASELINE,        /* nothing: a recording run */
    XP_ERROR,           /* fail one call with an errno */
    XP_CRASH_BEFORE,    /* SIGKILL the caller just before one call */
    XP_CRASH_AFTER,     /* SIGKILL it right after the call returned */
    XP_DELAY,           /* seeded random delays at every call */
    XP_LIMIT,           /* one IPC limit lowered below what the baseline used */
    XP_TERMINATE,       /* SIGTERM to the root after its k-th call */
    XP_NKINDS
};

/* What came of it. The order is precedence: a run that hung and leaked is
 * a hang. Findings are crash, hang, leak and wrong-result. */
enum xp_class {
    XC_CRASH,            /* killed by a signal nobody injected */
    XC_HANG,             /* still running at the deadline, or deadlocked */
    XC_LEAK,             /* objects left that the program could remove */
    XC_WRONG,            /* failed where it had to carry on (EINTR, a delay,
                            a smaller queue) or swallowed the error and
                            failed elsewhere */
    XC_UNAVOIDABLE,      /* only objects no program could remove: their
                            creator was SIGKILLed, or their removal failed */
    XC_CLEAN,            /* failed, said so, left nothing */
    XC_TOLERATED,        /* exit 0 (after a crash: the survivors recovered) */
    XC_MISSED,           /* the fault never fired: the call was not reached */
    XC_NOTRUN,           /* could not be run here (a limit refused) */
    XC_NCLASSES
};

#define XP_RULE 256

struct xp_result {
    enum xp_class cls;
    int fired;                   /* calls the rule acted on */
    int root_code;               /* root's exit status, -1 if killed */
    int root_sig;
    double seconds;
    char detail[400];            /* what happened, in one line */
    char output[160];            /* the program's last line of output */
};

struct xp {
    enum xp_kind kind;
    int fn;                      /* point index; -1 for delays and limits */
    char lineage[64];            /* "" = any process (an unstable call) */
    unsigned occ;                /* per process, or per site when by_site */
    char site[96];               /* where the call came from */
    int by_site;                 /* the rule names the site: unstable call */
    int err;                     /* XP_ERROR */
    const struct ipcv_limit *limit;
    unsigned long long limit_value, limit_used;
    unsigned long long seed;     /* XP_DELAY */
    char rule[XP_RULE];          /* the --inject rule, "" for limits */
    double timeout;
    struct xp_result res;
};

/* ---- the baseline record (explore_plan.c) ------------------------------ */

struct xp_call {
    char lineage[64];
    int fn;
    unsigned occ;
    char site[96];
    unsigned site_occ;           /* k-th call from this site in this process */
    int ok;
    int catches;                 /* a signal handler was installed: EINTR possible */
    int unstable;
    int lineage_kept;            /* unstable, but this process calls from this
                                    site in both runs: aim at it there */
};

struct xp_record {
    struct xp_call *calls;
    size_t n, cap;
    unsigned long long used[32];  /* per ipcv_limits[] index: highest use seen */
};

/* Parse the lines the library appended (faults/shared.h IPCV_ENV_RECORD). */
int xp_record_parse(struct xp_record *rec, const char *text);
/* Peak live objects per kind from the create/destroy events of a run. */
void xp_record_objects(struct xp_record *rec, const struct ipcv_shared *sh);
/* Mark the calls of `a` that `b` does not repeat (lineage, function,
 * occurrence and site); returns how many. */
size_t xp_record_compare(struct xp_record *a, const struct xp_record *b);
void xp_record_free(struct xp_record *rec);

struct xp_space_opts {
    unsigned char calls[256];    /* per point: 1 when --calls selects it */
    int errnos_mode;             /* XP_ERRNOS_* */
    int errnos[32];
    int nerrnos;
    int crash, delays, limits, terminate;
    int repeat;                  /* delay runs */
    unsigned max_occ;
    unsigned long long seed;
    unsigned delay_us;           /* upper bound of each random delay */
};
enum { XP_ERRNOS_ONE, XP_ERRNOS_DOC, XP_ERRNOS_LIST };

struct xp_space {
    struct xp *xs;
    size_t n, cap;
};

/* One experiment per (call, fault) the options ask for. */
void xp_space_plan(struct xp_space *sp, const struct xp_record *rec, const struct xp_space_opts *o);
void xp_space_free(struct xp_space *sp);
/* Errno class of the issue: "retryable", "gone", "resource", "permission",
 * or NULL. */
const char *xp_errno_class(int err);
const char *xp_kind_name(enum xp_kind k);
const char *xp_class_name(enum xp_class c, enum xp_kind k);
/* A retryable fault, a delay or a smaller queue: the program had to end as
 * its baseline did. */
int xp_must_tolerate(const struct xp *x);

/* ---- running (explore_run.c) ------------------------------------------- */

struct xp_runner {
    const char *lib;
    const char *path;
    char **argv;
    const char *comm;
    int isolation;
    int jobs;
    int progress;                /* 1 bar on a terminal, 2 plain lines, 0 none */
    double deadlock;
    int nfindings;               /* shown beside the progress */
    int spawn;                   /* 0 untried, 1 cloning into namespaces
                                    works, -1 refused (workers instead) */
};

/* Run xs[0..n) (each in its own sandbox, `jobs` at a time) and classify
 * each. record_texts, when not NULL, gets each run's record (baselines).
 * sh_copy, when not NULL, gets each run's shared page (baselines too).
 * Returns 0, or IPCV_EXIT_USAGE when runs could not be made at all. */
int xp_run_all(struct xp_runner *r, struct xp *xs, size_t n, char **record_texts,
               struct ipcv_shared **sh_copy);

/* The baseline: the program run twice, recorded. 0 when both runs were
 * clean; IPCV_EXIT_PROBLEMS (b->problem says why) when one was not;
 * IPCV_EXIT_USAGE (said on stderr) when it cannot be run. */
struct xp_baseline {
    struct xp_record rec, rec2;   /* rec: both runs' limit use; unstable calls marked */
    size_t unstable, procs;
    double seconds;               /* the slower run */
    char problem[600];            /* why it is not clean */
};
int xp_baseline_run(struct xp_runner *run, double timeout, struct xp_baseline *b);

/* ---- classification and findings (explore_classify.c) -------------------- */

void xp_classify(const struct xp *x, struct ipcv_shared *sh, struct xp_result *res);
int xp_class_is_finding(enum xp_class c);

struct xp_finding {
    enum xp_class cls;
    size_t first;                /* representative experiment (its index) */
    size_t count;                /* experiments deduplicated into it */
    char errnos[128];            /* "EIDRM EINVAL" */
    int reproduced;              /* -1 not tried, 0 no, 1 yes */
};

struct xp_findings {
    struct xp_finding *f;
    size_t n, cap;
};

/* Deduplicate by (class, function, call site, survivors' outcome). Only
 * findings and unavoidable leaks are kept. */
void xp_findings_build(struct xp_findings *fs, const struct xp *xs, size_t n);
void xp_findings_free(struct xp_findings *fs);
/* `ipcvet exec ... -- CMD` that reproduces experiment x. */
void xp_reproducer(FILE *f, const struct xp *x, char **cmd, int isolation);

/* ---- reports (explore_report.c) ------------------------------------------- */

struct xp_report {
    char **cmd;
    unsigned long long seed;
    int isolation;               /* asked for (the reproducers repeat none) */
    const char *isolation_had;   /* what the sandbox achieved */
    int jobs;
    double timeout, elapsed;
    size_t baseline_calls, baseline_procs, unstable;
    double baseline_seconds;
    const struct xp *xs;
    size_t n;
    const struct xp_findings *fs;
    const char *baseline_problem; /* not NULL: nothing was explored, why */
    int exit_code;
};

void xp_report_human(FILE *f, const struct xp_report *r);
void xp_report_json(FILE *f, const struct xp_report *r);
void xp_report_junit(FILE *f, const struct xp_report *r);

#endif
