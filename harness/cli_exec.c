/* ipcvet exec: run a program tree in its own sandbox with fault plans, and
 * report how every process ended, what each was blocked in on a hang, and
 * every IPC object left behind (with its creator). The run itself is
 * run_one.c's, shared with explore; this file is options and reports. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "faults.h"
#include "ipc_limits.h"
#include "run_one.h"
#include "sandbox.h"
#include "shared.h"
#include "watchdog.h"

#define MAX_LIMITS 32

struct exec_opts {
    const char *plans[IPCV_SH_RULES];
    int nplans;
    const struct ipcv_limit *limits[MAX_LIMITS];
    unsigned long long limit_values[MAX_LIMITS];
    int nlimits;
    double timeout;
    int timeout_set;
    int isolation;
    int trace;
    const char *trace_file;
    int valgrind;
    const char *json;
    unsigned long long seed;
    char **cmd;
};

/* ---- options ----------------------------------------------------------------- */

static void parse(int argc, char **argv, struct exec_opts *o)
{
    static const struct option opts[] = {
        { "inject", required_argument, NULL, 'I' },  { "limit", required_argument, NULL, 'L' },
        { "timeout", required_argument, NULL, 'T' }, { "isolate", required_argument, NULL, 'i' },
        { "trace", optional_argument, NULL, 't' },   { "valgrind", no_argument, NULL, 'V' },
        { "json", required_argument, NULL, 'J' },    { "seed", required_argument, NULL, 's' },
        { 0 },
    };
    char err[512];
    int c;
    *o = (struct exec_opts){ .timeout = 30, .isolation = IPCV_ISOLATE_AUTO };
    opterr = 0;
    optind = 0;
    while ((c = getopt_long(argc, argv, "+:", opts, NULL)) != -1) {
        switch (c) {
        case 'I':
            if (o->nplans == IPCV_SH_RULES)
                ipcv_usage_error("--inject: more than %d plans", IPCV_SH_RULES);
            if (strpbrk(optarg, ";\n"))
                ipcv_usage_error("--inject: one rule per --inject, got '%s'", optarg);
            if (ipcv_faults_check(optarg, err, sizeof err) < 0)
                ipcv_usage_error("--inject: %s", err);
            o->plans[o->nplans++] = optarg;
            break;
        case 'L':
            if (o->nlimits == MAX_LIMITS)
                ipcv_usage_error("--limit: more than %d limits", MAX_LIMITS);
            if (ipcv_limit_parse(optarg, &o->limits[o->nlimits], &o->limit_values[o->nlimits],
                                 err, sizeof err) < 0)
                ipcv_usage_error("%s", err);
            o->nlimits++;
            break;
        case 'T': {
            char *end;
            errno = 0;
            double t = strtod(optarg, &end);
            if (!*optarg || *end || errno || !(t > 0) || t > 86400)
                ipcv_usage_error("--timeout: expected seconds from 0.001 to 86400, got '%s'", optarg);
            o->timeout = t;
            o->timeout_set = 1;
            break;
        }
        case 'i':
            o->isolation = ipcv_isolation_parse(optarg);
            if (o->isolation < 0)
                ipcv_usage_error("--isolate: expected auto, ns or none, got '%s'", optarg);
            break;
        case 't':
            o->trace = 1;
            o->trace_file = optarg;
            if (optarg && !*optarg)
                ipcv_usage_error("--trace=: empty file name");
            break;
        case 'V': o->valgrind = 1; break;
        case 'J': o->json = optarg; break;
        case 's': {
            char *end;
            errno = 0;
            o->seed = strtoull(optarg, &end, 0);
            if (!*optarg || *end || errno || optarg[0] == '-')
                ipcv_usage_error("--seed: expected a whole number, got '%s'", optarg);
            break;
        }
        case ':': ipcv_usage_error("exec: option '%s' needs a value", argv[optind - 1]);
        default: ipcv_usage_error("exec: unknown option '%s'", ipcv_bad_option(argv));
        }
    }
    if (optind >= argc)
        ipcv_usage_error("exec: missing command (ipcvet exec [OPTIONS] -- CMD [ARG..])");
    o->cmd = argv + optind;
    if (o->valgrind && !o->timeout_set)
        o->timeout *= 10;
    o->timeout *= ipcv_timeout_mul();
}

struct report {
    struct ipcv_sh_proc *procs[IPCV_SH_PROCS];
    int nprocs;
    int problems;
};

static void human_report(FILE *f, const struct exec_opts *o, struct ipcv_shared *sh,
                         struct report *r)
{
    char end[96];
    for (int i = 0; i < r->nprocs; i++) {
        struct ipcv_sh_proc *s = r->procs[i];
        if (!r->problems || s->hung)   /* quiet on success; hangs below */
            continue;
        ipcv_describe_end(s, end, sizeof end);
        fprintf(f, "ipcvet: exec: process %s (%s, pid %d) %s\n", s->lineage, s->comm, s->pid, end);
    }
    if (sh->timed_out) {
        fprintf(f, "ipcvet: exec: hang: the program did not end within %.1f s; killed:\n", o->timeout);
        for (int i = 0; i < r->nprocs; i++) {
            struct ipcv_sh_proc *s = r->procs[i];
            if (!s->hung)
                continue;
            const char *call = ipcv_point_name(atomic_load(&s->call_fn));
            fprintf(f, "ipcvet: exec:   process %s (%s, pid %d) ", s->lineage, s->comm, s->pid);
            if (call)
                fprintf(f, "in %s(%s), ", call, s->call_args);
            fprintf(f, "blocked in %s\n", s->blocked);
        }
    }
    for (int i = 0; i < sh->nleaks; i++) {
        struct ipcv_sh_leak *l = &sh->leaks[i];
        fprintf(f, "ipcvet: exec: leak: %s ", l->kind);
        if (l->id >= 0)
            fprintf(f, "key %#x id %ld", (unsigned)l->key, l->id);
        else
            fprintf(f, "%s", l->name);
        if (l->pid > 0 && l->lineage[0])
            fprintf(f, ", created by process %s (%s, pid %d)", l->lineage, l->comm, l->pid);
        else if (l->pid > 0)
            fprintf(f, ", created by pid %d", l->pid);
        fputc('\n', f);
    }
    if (sh->leaks_dropped)
        fprintf(f, "ipcvet: exec: %d more leaked objects not listed\n", sh->leaks_dropped);
    if (r->problems) {
        fprintf(f, "ipcvet: exec: %d problem%s; reproduce: ipcvet exec", r->problems,
                r->problems == 1 ? "" : "s");
        for (int i = 0; i < o->nplans; i++) {
            fputs(" --inject ", f);
            ipcv_shell_quote(f, o->plans[i]);
        }
        for (int i = 0; i < o->nlimits; i++)
            fprintf(f, " --limit %s=%llu", o->limits[i]->name, o->limit_values[i]);
        if (o->seed)
            fprintf(f, " --seed %llu", o->seed);
        fputs(" --", f);
        for (char **a = o->cmd; *a; a++) {
            fputc(' ', f);
            ipcv_shell_quote(f, *a);
        }
        fputc('\n', f);
    }
}

static void json_report(FILE *f, const struct exec_opts *o, const struct ipcv_sandbox *sb,
                        struct ipcv_shared *sh, struct report *r, int code, int is_static)
{
    fputs("{\n  \"command\": [", f);
    for (char **a = o->cmd; *a; a++) {
        if (a != o->cmd)
            fputs(", ", f);
        ipcv_json_str(f, *a);
    }
    fprintf(f, "],\n  \"seed\": %llu,\n  \"isolation\": \"%s\",\n  \"timeout\": %.3f,\n"
               "  \"exit\": %d,\n  \"static\": %s,\n  \"plans\": [",
            o->seed, ipcv_isolation_name(sb->mode), o->timeout, code, is_static ? "true" : "false");
    for (int i = 0; i < o->nplans; i++) {
        fprintf(f, "%s\n    {\"rule\": ", i ? "," : "");
        ipcv_json_str(f, o->plans[i]);
        fprintf(f, ", \"fired\": %lu}", atomic_load(&sh->rule_fired[i]));
    }
    fprintf(f, "%s],\n  \"timed_out\": %s,\n  \"processes\": [", o->nplans ? "\n  " : "",
            sh->timed_out ? "true" : "false");
    for (int i = 0; i < r->nprocs; i++) {
        struct ipcv_sh_proc *s = r->procs[i];
        fprintf(f, "%s\n    {\"lineage\": ", i ? "," : "");
        ipcv_json_str(f, s->lineage);
        fprintf(f, ", \"pid\": %d, \"comm\": ", s->pid);
        ipcv_json_str(f, s->comm);
        const char *status = !s->status_known ? "unknown" : WIFEXITED(s->wstatus) ? "exited"
                           : WIFSIGNALED(s->wstatus) ? "killed" : "unknown";
        fprintf(f, ", \"status\": \"%s\", \"code\": ", status);
        if (s->status_known && WIFEXITED(s->wstatus))
            fprintf(f, "%d", WEXITSTATUS(s->wstatus));
        else
            fputs("null", f);
        fputs(", \"signal\": ", f);
        if (s->status_known && WIFSIGNALED(s->wstatus))
            fprintf(f, "\"%s\"", ipcv_sig_name(WTERMSIG(s->wstatus)));
        else
            fputs("null", f);
        fputs(", \"injected\": ", f);
        if (s->status_known && WIFSIGNALED(s->wstatus) && s->injected_sig == WTERMSIG(s->wstatus))
            ipcv_json_str(f, s->injected_what);
        else
            fputs("null", f);
        fprintf(f, ", \"preloaded\": %s, \"fired\": %lu, \"hung\": %s", s->has_lib ? "true" : "false",
                atomic_load(&s->fired), s->hung ? "true" : "false");
        const char *call = s->hung ? ipcv_point_name(atomic_load(&s->call_fn)) : NULL;
        fputs(", \"call\": ", f);
        if (call) {
            char buf[300];
            snprintf(buf, sizeof buf, "%s(%s)", call, s->call_args);
            ipcv_json_str(f, buf);
        } else {
            fputs("null", f);
        }
        fputs(", \"blocked_in\": ", f);
        if (s->hung)
            ipcv_json_str(f, s->blocked);
        else
            fputs("null", f);
        fputc('}', f);
    }
    fprintf(f, "%s],\n  \"leaks\": [", r->nprocs ? "\n  " : "");
    for (int i = 0; i < sh->nleaks; i++) {
        struct ipcv_sh_leak *l = &sh->leaks[i];
        fprintf(f, "%s\n    {\"kind\": \"%s\", ", i ? "," : "", l->kind);
        if (l->id >= 0)
            fprintf(f, "\"key\": \"%#x\", \"id\": %ld, \"name\": null", (unsigned)l->key, l->id);
        else {
            fputs("\"key\": null, \"id\": null, \"name\": ", f);
            ipcv_json_str(f, l->name);
        }
        fputs(", \"creator_pid\": ", f);
        if (l->pid > 0)
            fprintf(f, "%d", l->pid);
        else
            fputs("null", f);
        fputs(", \"creator_lineage\": ", f);
        if (l->lineage[0])
            ipcv_json_str(f, l->lineage);
        else
            fputs("null", f);
        fputs(", \"creator_comm\": ", f);
        if (l->comm[0])
            ipcv_json_str(f, l->comm);
        else
            fputs("null", f);
        fputc('}', f);
    }
    fprintf(f, "%s]\n}\n", sh->nleaks ? "\n  " : "");
}
/* ---- ipcvet exec --------------------------------------------------------------- */

static char *join_plans(const struct exec_opts *o)
{
    size_t len = 1;
    for (int i = 0; i < o->nplans; i++)
        len += strlen(o->plans[i]) + 1;
    char *plan = calloc(1, len);
    for (int i = 0; i < o->nplans; i++)
        strcat(strcat(plan, o->plans[i]), i + 1 < o->nplans ? "\n" : "");
    return plan;
}

int ipcv_cmd_exec(int argc, char **argv)
{
    struct exec_opts o;
    parse(argc, argv, &o);
    ipcv_faults_detach();   /* the supervisor itself is never injected */

    char *path = ipcv_find_command(o.cmd[0]);
    if (!path)
        ipcv_usage_error("exec: command not found: '%s'", o.cmd[0]);
    char *vg = NULL;
    if (o.valgrind && !(vg = ipcv_find_command("valgrind")))
        ipcv_usage_error("exec: --valgrind: valgrind is not installed");
    const char *lib = ipcv_find_faults_library();
    if (!lib)
        ipcv_usage_error("exec: cannot find libipcvet-faults.so (set IPCVET_FAULTS_LIB)");
    ipcv_check_visible("exec", path, lib, o.isolation);
    int is_static = ipcv_is_static_elf(path);
    if (is_static)
        fprintf(stderr, "ipcvet: warning: exec: '%s' is statically linked: library-level injection "
                        "cannot reach it (--inject, --trace and the calls named on a hang need a "
                        "dynamically linked program)\n", o.cmd[0]);

    /* Files named on the command line are the host's: open them before the
     * sandbox gives this process a private /tmp. */
    FILE *json = NULL;
    if (o.json && !(json = !strcmp(o.json, "-") ? stdout : fopen(o.json, "we")))
        ipcv_usage_error("--json: cannot write '%s': %s", o.json, strerror(errno));
    int trace_fd = -1;
    if (o.trace) {
        trace_fd = o.trace_file
            ? open(o.trace_file, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644)
            : dup(STDERR_FILENO);
        if (trace_fd < 0)
            ipcv_usage_error("--trace: cannot write '%s': %s", o.trace_file ? o.trace_file : "stderr",
                             strerror(errno));
        trace_fd = ipcv_high_fd(trace_fd);
    }
    int shfd;
    struct ipcv_shared *sh = ipcv_shared_new(&shfd);
    if (!sh) {
        fprintf(stderr, "ipcvet: exec: cannot create the shared page: %s\n", strerror(errno));
        return IPCV_EXIT_USAGE;
    }

    char *plan = join_plans(&o);
    char **env = ipcv_run_env(lib, plan, o.seed, shfd, trace_fd, -1);
    free(plan);
    char **cargv = o.cmd;
    if (vg) {
        int n = 0;
        while (o.cmd[n])
            n++;
        cargv = calloc((size_t)n + 8, sizeof *cargv);
        int k = 0;
        cargv[k++] = "valgrind";
        cargv[k++] = "-q";
        cargv[k++] = "--trace-children=yes";
        cargv[k++] = "--error-exitcode=86";
        cargv[k++] = path;
        for (int i = 1; i < n; i++)
            cargv[k++] = o.cmd[i];
        cargv[k] = NULL;
    }
    const char *base = strrchr(o.cmd[0], '/');
    struct ipcv_run_spec spec = {
        .who = "exec", .path = vg ? vg : path, .argv = cargv, .env = env,
        .comm = base ? base + 1 : o.cmd[0],
        .limits = o.limits, .limit_values = o.limit_values, .nlimits = o.nlimits,
        .timeout = o.timeout, .isolation = o.isolation, .warn_none = 1, .out_fd = -1,
    };
    struct ipcv_sandbox sb;
    int rc = ipcv_run_one(&spec, sh, &sb);
    if (trace_fd >= 0)
        close(trace_fd);
    if (rc)
        return rc;

    struct report r = { 0 };
    r.nprocs = ipcv_run_procs(sh, r.procs, IPCV_SH_PROCS);
    for (int i = 0; i < r.nprocs; i++)
        r.problems += ipcv_slot_is_problem(r.procs[i]) && !r.procs[i]->hung;
    r.problems += sh->timed_out + sh->nleaks + sh->leaks_dropped;
    if (sh->census_failed)
        fprintf(stderr, "ipcvet: warning: exec: no census of IPC objects: %s\n",
                strerror(sh->census_failed));
    for (int i = 0; i < o.nplans; i++)
        if (!atomic_load(&sh->rule_fired[i]))
            fprintf(stderr, "ipcvet: warning: exec: --inject '%s' never fired\n", o.plans[i]);
    human_report(stderr, &o, sh, &r);
    int code = r.problems ? IPCV_EXIT_PROBLEMS : IPCV_EXIT_OK;
    if (json) {
        json_report(json, &o, &sb, sh, &r, code, is_static);
        if (json != stdout)
            fclose(json);
    }
    return code;
}
