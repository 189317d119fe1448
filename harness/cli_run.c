/* ipcvet run: the built-in cases through Criterion, each in its own
 * sandbox, the whole run inside an outer one so that nothing (Criterion's
 * socket included) reaches the host even if ipcvet is SIGKILLed. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <criterion/internal/ordered-set.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "case.h"
#include "cli.h"
#include "report.h"
#include "sandbox.h"

struct run_opts {
    struct ipcv_selection sel;
    long jobs;
    long repeat;
    int isolation;
    int verbose;
    FILE *junit, *tap, *json;
};

static FILE *open_report(const char *opt, const char *path)
{
    FILE *f = !strcmp(path, "-") ? stdout : fopen(path, "we");
    if (!f)
        ipcv_usage_error("%s: cannot write '%s': %s", opt, path, strerror(errno));
    return f;
}

static int selected(const struct run_opts *o, const char *suite, const char *name)
{
    const struct ipcv_case_meta *m;
    IPCV_FOREACH_CASE(m)
        if (!strcmp(m->mech, suite) && !strcmp(m->name, name))
            return ipcv_case_selected(m, &o->sel);
    return 0;   /* a Criterion test that is not an ipcvet case */
}

/* Drop unselected tests from Criterion's set, so reports do not list them
 * as skipped (what --filter does in 2.4.1). */
static size_t prune(struct criterion_test_set *set, const struct run_opts *o)
{
    size_t kept = 0;
    struct criterion_suite_set *ss;
    FOREACH_SET(ss, set->suites) {
        struct criterion_ordered_set_node **link = &ss->tests->first;
        while (*link) {
            struct criterion_test *t = (void *)(*link + 1);
            if (selected(o, t->category, t->name)) {
                kept++;
                link = &(*link)->next;
            } else {
                *link = (*link)->next;
                ss->tests->size--;
            }
        }
    }
    set->tests = kept;
    return kept;
}

static int runner(const struct run_opts *o)
{
    char jobs[32];
    char *args[8];
    int n = 0;
    args[n++] = "ipcvet";
    snprintf(jobs, sizeof jobs, "-j%ld", o->jobs);
    args[n++] = jobs;
    /* Our table spells out failures; Criterion's own lines only on request
     * (-q also keeps case output off the terminal: it is shown on failure). */
    args[n++] = o->verbose ? "--verbose" : "-q";
    args[n] = NULL;

    struct criterion_test_set *set = criterion_initialize();
    ipcv_run_total = prune(set, o);
    ipcv_run_progress = !o->verbose && isatty(STDERR_FILENO) && !getenv("NO_COLOR");
    if (!ipcv_run_total) {
        criterion_finalize(set);
        fprintf(stderr, "ipcvet: run: no case matches the selection\n");
        return IPCV_EXIT_USAGE;
    }
    int ok = 1;
    optind = 0;   /* our own getopt pass left its state behind */
    if (criterion_handle_args(n, args, false) != 1) {
        criterion_finalize(set);
        return IPCV_EXIT_USAGE;
    }
    for (long i = 0; i < o->repeat && ok; i++) {
        ipcv_run_results.n = 0;
        ok = criterion_run_all_tests(set);
    }
    criterion_finalize(set);

    int color = isatty(STDOUT_FILENO) && !getenv("NO_COLOR");
    ipcv_report_table(stdout, &ipcv_run_results, color);
    if (o->junit) ipcv_report_junit(o->junit, &ipcv_run_results);
    if (o->tap) ipcv_report_tap(o->tap, &ipcv_run_results);
    if (o->json) ipcv_report_json(o->json, &ipcv_run_results);
    fflush(NULL);
    for (size_t i = 0; i < ipcv_run_results.n; i++) {
        enum ipcv_outcome out = ipcv_run_results.r[i].outcome;
        if (out != IPCV_PASSED && out != IPCV_SKIPPED)
            ok = 0;
    }
    return ok ? IPCV_EXIT_OK : IPCV_EXIT_PROBLEMS;
}

/* pid 1 of the run: start the runner, reap everything, end with the
 * runner's status. SIGINT/SIGTERM are passed on to the runner. */
static pid_t runner_pid;
static void forward(int sig) { if (runner_pid > 0) kill(runner_pid, sig); }

static int init_then_runner(const struct run_opts *o)
{
    fflush(NULL);
    runner_pid = fork();
    if (runner_pid < 0)
        return IPCV_EXIT_USAGE;
    if (runner_pid == 0) {
        setpgid(0, 0);
        exit(runner(o));
    }
    signal(SIGINT, forward);
    signal(SIGTERM, forward);
    int st, status = IPCV_EXIT_PROBLEMS;
    for (;;) {
        pid_t p = wait(&st);
        if (p < 0 && errno == EINTR)
            continue;
        if (p < 0)
            break;
        if (p == runner_pid) {
            /* Leaving ends the namespace: whatever else is left dies. */
            status = WIFEXITED(st) ? WEXITSTATUS(st) : IPCV_EXIT_PROBLEMS;
            break;
        }
    }
    return status;
}

static void parse(int argc, char **argv, struct run_opts *o)
{
    static const struct option opts[] = {
        { "mech", required_argument, NULL, 'm' },   { "tag", required_argument, NULL, 't' },
        { "filter", required_argument, NULL, 'f' }, { "jobs", required_argument, NULL, 'j' },
        { "repeat", required_argument, NULL, 'r' }, { "isolate", required_argument, NULL, 'i' },
        { "junit", required_argument, NULL, 'X' },  { "tap", required_argument, NULL, 'T' },
        { "json", required_argument, NULL, 'J' },   { "verbose", no_argument, NULL, 'v' },
        { 0 },
    };
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    *o = (struct run_opts){ .jobs = ncpu > 0 ? ncpu : 1, .repeat = 1, .isolation = IPCV_ISOLATE_AUTO };
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":j:v", opts, NULL)) != -1) {
        switch (c) {
        case 'm': ipcv_check_mechs(optarg); o->sel.mechs = optarg; break;
        case 't': ipcv_check_tag(optarg); o->sel.tag = optarg; break;
        case 'f': o->sel.filter = optarg; break;
        case 'j': o->jobs = ipcv_parse_count("-j", optarg, 1, 256); break;
        case 'r': o->repeat = ipcv_parse_count("--repeat", optarg, 1, 1000000); break;
        case 'i':
            o->isolation = ipcv_isolation_parse(optarg);
            if (o->isolation < 0)
                ipcv_usage_error("--isolate: expected auto, ns or none, got '%s'", optarg);
            break;
        case 'X': o->junit = open_report("--junit", optarg); break;
        case 'T': o->tap = open_report("--tap", optarg); break;
        case 'J': o->json = open_report("--json", optarg); break;
        case 'v': o->verbose = 1; break;
        case ':': ipcv_usage_error("run: option '%s' needs a value", argv[optind - 1]);
        default: ipcv_usage_error("run: unknown option '%s'", ipcv_bad_option(argv));
        }
    }
    if (optind < argc)
        ipcv_usage_error("run: unexpected argument '%s'", argv[optind]);
}

int ipcv_cmd_run(int argc, char **argv)
{
    struct run_opts o;
    parse(argc, argv, &o);

    /* Refuse an empty selection before anything is set up. */
    const struct ipcv_case_meta *m;
    int any = 0;
    IPCV_FOREACH_CASE(m)
        any |= ipcv_case_selected(m, &o.sel);
    if (!any)
        ipcv_usage_error("run: no case matches%s%s%s%s%s%s", o.sel.mechs ? " --mech " : "",
                         o.sel.mechs ? o.sel.mechs : "", o.sel.tag ? " --tag " : "",
                         o.sel.tag ? o.sel.tag : "", o.sel.filter ? " --filter " : "",
                         o.sel.filter ? o.sel.filter : "");

    char err[256];
    if (o.isolation == IPCV_ISOLATE_NONE) {
        fprintf(stderr, "ipcvet: warning: --isolate none: cases share the host's IPC namespace; "
                        "names carry the pid, objects are removed after each case, jobs forced to 1\n");
        o.jobs = 1;
    } else if (ipcv_sandbox_run_shell(err, sizeof err) < 0) {
        if (o.isolation == IPCV_ISOLATE_NS) {
            fprintf(stderr, "ipcvet: --isolate ns: %s\n", err);
            return IPCV_EXIT_USAGE;
        }
        fprintf(stderr, "ipcvet: warning: no namespaces here (%s); running with --isolate none\n", err);
        o.isolation = IPCV_ISOLATE_NONE;
        o.jobs = 1;
    }
    setenv("IPCVET_ISOLATE", ipcv_isolation_name(o.isolation), 1);

    /* The first process of the new PID namespace is a small init: orphans
     * (a crashed case's anchor) are re-parented to it, not to Criterion's
     * runner, whose child pump spins on children it does not know. When
     * ipcvet is killed, init gets PDEATHSIG and the namespace ends. */
    fflush(NULL);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "ipcvet: run: fork: %s\n", strerror(errno));
        return IPCV_EXIT_USAGE;
    }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent && getppid() != 0)
            _exit(IPCV_EXIT_USAGE);
        /* pids in reports must be this namespace's: a /proc of our own. */
        if (o.isolation != IPCV_ISOLATE_NONE && ipcv_sandbox_mount_proc(err, sizeof err) < 0)
            fprintf(stderr, "ipcvet: warning: %s\n", err);
        exit(init_then_runner(&o));
    }
    signal(SIGINT, SIG_IGN);   /* the runner handles ^C and reports */
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (WIFSIGNALED(st)) {
        fprintf(stderr, "ipcvet: run: the runner was killed by signal %d\n", WTERMSIG(st));
        return IPCV_EXIT_PROBLEMS;
    }
    return WEXITSTATUS(st);
}
