/* ipcvet exec: run a program tree in its own sandbox with fault plans, and
 * report how every process ended, what each was blocked in on a hang, and
 * every IPC object left behind (with its creator).
 *
 *   ipcvet (P) ── sandbox: new IPC, mount, PID namespaces
 *     ├─ anchor (pid 1)
 *     └─ supervisor (S): child subreaper, its own /proc; reaps every
 *          process of the tree, keeps the deadline, takes the census
 *          └─ CMD, with libipcvet-faults.so preloaded
 *
 * S and the preloaded library share one memfd page (faults/shared.h); P
 * reads it when S is done and writes the report. */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "census.h"
#include "cli.h"
#include "faults.h"
#include "ipc_limits.h"
#include "sandbox.h"
#include "shared.h"
#include "watchdog.h"

#define MAX_LIMITS 32
#define VALGRIND_ERROR_EXIT 86

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

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

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
        default: ipcv_usage_error("exec: unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind >= argc)
        ipcv_usage_error("exec: missing command (ipcvet exec [OPTIONS] -- CMD [ARG..])");
    o->cmd = argv + optind;
    if (o->valgrind && !o->timeout_set)
        o->timeout *= 10;
    o->timeout *= ipcv_timeout_mul();
}

/* CMD as execvp would find it; NULL if it cannot be run. */
static char *find_command(const char *cmd)
{
    if (strchr(cmd, '/'))
        return access(cmd, X_OK) == 0 ? strdup(cmd) : NULL;
    const char *path = getenv("PATH");
    if (!path)
        path = "/usr/local/bin:/usr/bin:/bin";
    for (const char *p = path; *p;) {
        size_t n = strcspn(p, ":");
        char *full;
        if (asprintf(&full, "%.*s%s%s", (int)n, p, n ? "/" : "", cmd) >= 0) {
            struct stat sb;
            if (stat(full, &sb) == 0 && S_ISREG(sb.st_mode) && access(full, X_OK) == 0)
                return full;
            free(full);
        }
        p += n + (p[n] == ':');
    }
    return NULL;
}

/* An ELF executable without PT_INTERP has no dynamic loader: LD_PRELOAD
 * never reaches it. */
static int is_static_elf(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    Elf64_Ehdr eh;
    int is_static = 0;
    if (pread(fd, &eh, sizeof eh, 0) == (ssize_t)sizeof eh && !memcmp(eh.e_ident, ELFMAG, SELFMAG) &&
        eh.e_ident[EI_CLASS] == ELFCLASS64 && eh.e_phentsize == sizeof(Elf64_Phdr)) {
        is_static = 1;
        for (int i = 0; i < eh.e_phnum; i++) {
            Elf64_Phdr ph;
            if (pread(fd, &ph, sizeof ph, (off_t)(eh.e_phoff + (Elf64_Off)i * sizeof ph)) != (ssize_t)sizeof ph)
                break;
            if (ph.p_type == PT_INTERP)
                is_static = 0;
        }
    }
    close(fd);
    return is_static;
}

static const char *find_library(void)
{
    static char buf[PATH_MAX + 64];
    const char *env = getenv("IPCVET_FAULTS_LIB");
    if (env && *env)
        return access(env, R_OK) == 0 ? env : NULL;
    const char *loaded = ipcv_faults_library();
    if (loaded && access(loaded, R_OK) == 0)
        return loaded;
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return NULL;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash)
        *slash = '\0';
    static const char *const rel[] = { "../lib/libipcvet-faults.so", "../lib/ipcvet/libipcvet-faults.so" };
    for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
        snprintf(buf, sizeof buf, "%s/%s", exe, rel[i]);
        if (access(buf, R_OK) == 0)
            return buf;
    }
    return NULL;
}

/* Move fd high, out of the way of programs that dup2 onto small numbers. */
static int high_fd(int fd)
{
    struct rlimit rl;
    int floor = 900;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 1024)
        floor = (int)rl.rlim_cur / 2;
    int h = fcntl(fd, F_DUPFD, floor);
    if (h < 0)
        return fd;
    close(fd);
    return h;
}

static char **build_env(const struct exec_opts *o, const char *lib, int shared_fd, int trace_fd)
{
    extern char **environ;
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = calloc(n + 8, sizeof *env);
    size_t k = 0;
    const char *old_preload = NULL;
    for (size_t i = 0; i < n; i++) {
        const char *e = environ[i];
        if (!strncmp(e, "LD_PRELOAD=", 11)) {
            old_preload = e + 11;
            continue;
        }
        if (!strncmp(e, "IPCVET_PLAN=", 12) || !strncmp(e, "IPCVET_SEED=", 12) ||
            !strncmp(e, "IPCVET_SHARED_FD=", 17) || !strncmp(e, "IPCVET_TRACE_FD=", 16))
            continue;
        env[k++] = (char *)e;
    }
    if (asprintf(&env[k], "LD_PRELOAD=%s%s%s", lib, old_preload && *old_preload ? " " : "",
                 old_preload ? old_preload : "") >= 0)
        k++;
    size_t len = 1;
    for (int i = 0; i < o->nplans; i++)
        len += strlen(o->plans[i]) + 1;
    char *plan = calloc(1, len);
    for (int i = 0; i < o->nplans; i++)
        strcat(strcat(plan, o->plans[i]), i + 1 < o->nplans ? "\n" : "");
    if (o->nplans && asprintf(&env[k], "IPCVET_PLAN=%s", plan) >= 0)
        k++;
    free(plan);
    if (asprintf(&env[k], "IPCVET_SEED=%llu", o->seed) >= 0)
        k++;
    if (asprintf(&env[k], "IPCVET_SHARED_FD=%d", shared_fd) >= 0)
        k++;
    if (trace_fd >= 0 && asprintf(&env[k], "IPCVET_TRACE_FD=%d", trace_fd) >= 0)
        k++;
    env[k] = NULL;
    return env;
}

/* ---- the supervisor (S) ------------------------------------------------------ */

static struct ipcv_sh_proc *find_slot(struct ipcv_shared *sh, pid_t pid, int by_procpid)
{
    unsigned n = atomic_load(&sh->nprocs);
    if (n > IPCV_SH_PROCS)
        n = IPCV_SH_PROCS;
    while (n-- > 0) {
        struct ipcv_sh_proc *s = &sh->procs[n];
        if ((by_procpid ? s->procpid : s->pid) == pid && atomic_load(&s->state) == IPCV_SLOT_LIVE)
            return s;
    }
    return NULL;
}

static struct ipcv_sh_proc *add_slot(struct ipcv_shared *sh, pid_t pid, const char *lineage,
                                     const char *comm)
{
    unsigned k = atomic_fetch_add(&sh->nprocs, 1);
    if (k >= IPCV_SH_PROCS)
        return NULL;
    struct ipcv_sh_proc *s = &sh->procs[k];
    s->pid = s->procpid = pid;
    snprintf(s->lineage, sizeof s->lineage, "%s", lineage);
    snprintf(s->comm, sizeof s->comm, "%s", comm);
    atomic_store(&s->state, IPCV_SLOT_LIVE);
    return s;
}

static void read_comm(pid_t pid, char *buf, size_t len)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
    snprintf(buf, len, "?");
    FILE *f = fopen(path, "re");
    if (!f)
        return;
    if (fgets(buf, (int)len, f))
        buf[strcspn(buf, "\n")] = '\0';
    fclose(f);
}

static void record_end(struct ipcv_shared *sh, pid_t pid, int status, const char *comm)
{
    struct ipcv_sh_proc *s = find_slot(sh, pid, 0);
    if (!s)
        s = add_slot(sh, pid, pid == sh->root_pid ? "0" : "?", comm);
    if (!s)
        return;
    s->wstatus = status;
    s->status_known = 1;
    atomic_store(&s->state, IPCV_SLOT_ENDED);
}

/* Reap whatever has ended; -1 when no child is left. */
static int reap(struct ipcv_shared *sh)
{
    for (;;) {
        siginfo_t si = { 0 };
        if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
            return errno == ECHILD ? -1 : 0;
        if (!si.si_pid)
            return 0;
        char comm[32];
        read_comm(si.si_pid, comm, sizeof comm);   /* a zombie still has it */
        int st;
        if (waitpid(si.si_pid, &st, 0) == si.si_pid)
            record_end(sh, si.si_pid, st, comm);
    }
}

/* Every descendant of this process, as /proc names them. */
static int descendants(pid_t *out, int max)
{
    char self[32];
    ssize_t n = readlink("/proc/self", self, sizeof self - 1);
    if (n <= 0)
        return 0;
    self[n] = '\0';
    pid_t me = atoi(self);
    struct { pid_t pid, ppid; } procs[4096];
    int np = 0;
    DIR *d = opendir("/proc");
    if (!d)
        return 0;
    struct dirent *e;
    while ((e = readdir(d)) && np < 4096) {
        pid_t pid = atoi(e->d_name);
        if (pid <= 0)
            continue;
        char path[64], stat[512];
        snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        ssize_t r = read(fd, stat, sizeof stat - 1);
        close(fd);
        if (r <= 0)
            continue;
        stat[r] = '\0';
        const char *paren = strrchr(stat, ')');
        int ppid;
        char state;
        if (!paren || sscanf(paren + 1, " %c %d", &state, &ppid) != 2)
            continue;
        procs[np].pid = pid;
        procs[np].ppid = ppid;
        np++;
    }
    closedir(d);
    int nout = 0;
    if (max > 0)
        out[nout++] = me;
    for (int i = 0; i < nout; i++)       /* breadth first from me */
        for (int j = 0; j < np && nout < max; j++)
            if (procs[j].ppid == out[i])
                out[nout++] = procs[j].pid;
    memmove(out, out + 1, (size_t)(nout - 1) * sizeof *out);
    return nout - 1;
}

static void kill_tree(void)
{
    pid_t pids[1024];
    for (int round = 0; round < 100; round++) {
        int n = descendants(pids, 1024);
        if (!n)
            return;
        for (int i = 0; i < n; i++)
            kill(pids[i], SIGKILL);
        usleep(1000);
    }
}

/* The deadline passed: say what every live process is doing, then end
 * them all. */
static void describe_hang(struct ipcv_shared *sh)
{
    pid_t pids[1024];
    int n = descendants(pids, 1024);
    for (int i = 0; i < n; i++) {
        char desc[200];
        struct ipcv_sh_proc *s = find_slot(sh, pids[i], 1);
        ipcv_describe_blocked(pids[i], s && s->call_tid > 0 && atomic_load(&s->call_fn) ? s->call_tid : 0,
                              desc, sizeof desc);
        if (!strcmp(desc, "gone") || !strncmp(desc, "exited", 6))
            continue;
        if (!s) {
            char comm[32];
            read_comm(pids[i], comm, sizeof comm);
            s = add_slot(sh, pids[i], pids[i] == sh->root_pid ? "0" : "?", comm);
        }
        if (!s)
            continue;
        s->hung = 1;
        snprintf(s->blocked, sizeof s->blocked, "%s", desc);
    }
    sh->timed_out = 1;
    kill_tree();
}

static int same_object(const struct ipcv_sh_obj *ev, const struct ipcv_object *o)
{
    if (strcmp(ev->kind, ipcv_object_kind_name(o->kind)))
        return 0;
    return o->id >= 0 ? ev->id == o->id : !strcmp(ev->name, o->name);
}

/* The process that created o: the first create event since the last
 * destroy of the same object. */
static const struct ipcv_sh_obj *creator_of(struct ipcv_shared *sh, const struct ipcv_object *o)
{
    const struct ipcv_sh_obj *found = NULL;
    unsigned n = atomic_load(&sh->nobjs);
    if (n > IPCV_SH_OBJS)
        n = IPCV_SH_OBJS;
    for (unsigned i = 0; i < n; i++) {
        const struct ipcv_sh_obj *ev = &sh->objs[i];
        if (!same_object(ev, o))
            continue;
        if (ev->what == IPCV_EV_DESTROY)
            found = NULL;
        else if (ev->what == IPCV_EV_CREATE && !found)
            found = ev;
    }
    return found;
}

static void take_leaks(struct ipcv_shared *sh, const struct ipcv_sandbox *sb,
                       const struct ipcv_census *before)
{
    struct ipcv_census after = { 0 }, diff = { 0 }, ours = { 0 };
    if (ipcv_census_take(&after, sb) < 0) {
        sh->census_failed = errno ? errno : EIO;
        return;
    }
    ipcv_census_diff(before, &after, &diff);
    ours.objs = calloc(diff.n ? diff.n : 1, sizeof *ours.objs);
    for (size_t i = 0; i < diff.n; i++) {
        const struct ipcv_object *o = &diff.objs[i];
        const struct ipcv_sh_obj *ev = creator_of(sh, o);
        struct ipcv_sh_proc *cp = !ev && o->cpid > 0 ? find_slot(sh, o->cpid, 0) : NULL;
        if (!cp && !ev && o->cpid > 0) {   /* ended: any slot with that pid */
            for (unsigned k = 0; k < atomic_load(&sh->nprocs) && k < IPCV_SH_PROCS; k++)
                if (sh->procs[k].pid == o->cpid)
                    cp = &sh->procs[k];
        }
        /* Without namespaces the host's objects are in the census too:
         * only what this run demonstrably created is its leak. */
        if (sb->mode == IPCV_ISOLATE_NONE && !ev && !cp)
            continue;
        ours.objs[ours.n++] = *o;
        if (sh->nleaks == IPCV_SH_LEAKS) {
            sh->leaks_dropped++;
            continue;
        }
        struct ipcv_sh_leak *l = &sh->leaks[sh->nleaks++];
        snprintf(l->kind, sizeof l->kind, "%s", ipcv_object_kind_name(o->kind));
        l->id = o->id;
        l->key = o->key;
        snprintf(l->name, sizeof l->name, "%s", o->name);
        if (ev) {
            l->pid = ev->pid;
            snprintf(l->lineage, sizeof l->lineage, "%s", ev->lineage);
            snprintf(l->comm, sizeof l->comm, "%s", ev->comm);
        } else if (cp) {
            l->pid = cp->pid;
            snprintf(l->lineage, sizeof l->lineage, "%s", cp->lineage);
            snprintf(l->comm, sizeof l->comm, "%s", cp->comm);
        } else {
            l->pid = o->cpid;
        }
    }
    ipcv_census_remove(&ours, sb);
    ipcv_census_free(&ours);
    ipcv_census_free(&diff);
    ipcv_census_free(&after);
}

static _Noreturn void start_command(const struct exec_opts *o, struct ipcv_shared *sh,
                                    const char *path, char **argv, char **env)
{
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGINT, SIG_DFL);
    signal(SIGQUIT, SIG_DFL);
    signal(SIGPIPE, SIG_DFL);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    for (int i = 0; i < o->nlimits; i++) {
        if (o->limits[i]->kind != IPCV_LIMIT_RLIMIT)
            continue;
        if (ipcv_limit_set(o->limits[i], o->limit_values[i]) < 0) {
            sh->exec_errno = errno;
            fprintf(stderr, "ipcvet: --limit %s=%llu: cannot set it: %s\n", o->limits[i]->name,
                    o->limit_values[i], strerror(errno));
            _exit(127);
        }
    }
    /* Lineage "0" before the library starts, so it finds itself. */
    const char *base = strrchr(o->cmd[0], '/');
    add_slot(sh, getpid(), "0", base ? base + 1 : o->cmd[0]);
    execve(path, argv, env);
    sh->exec_errno = errno ? errno : ENOEXEC;
    fprintf(stderr, "ipcvet: exec: cannot run '%s': %s\n", path, strerror(errno));
    _exit(127);
}

static int supervise(const struct exec_opts *o, const struct ipcv_sandbox *sb,
                     struct ipcv_shared *sh, const char *path, char **argv, char **env,
                     pid_t parent)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent && getppid() != 0)
        _exit(IPCV_EXIT_USAGE);
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    signal(SIGINT, SIG_IGN);
    signal(SIGQUIT, SIG_IGN);
    char err[256];
    /* A /proc of this PID namespace, so pids read the same everywhere. */
    if (sb->mode == IPCV_ISOLATE_NS && unshare(CLONE_NEWNS) == 0)
        ipcv_sandbox_mount_proc(err, sizeof err);
    struct ipcv_census before = { 0 };
    if (ipcv_census_take(&before, sb) < 0)
        sh->census_failed = errno ? errno : EIO;

    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, NULL);
    fflush(NULL);
    pid_t root = fork();
    if (root < 0) {
        sh->exec_errno = errno;
        return IPCV_EXIT_USAGE;
    }
    if (root == 0)
        start_command(o, sh, path, argv, env);
    sh->root_pid = root;

    double deadline = now() + o->timeout;
    while (reap(sh) == 0) {
        double left = deadline - now();
        if (left <= 0 && !sh->timed_out) {
            describe_hang(sh);
            continue;
        }
        if (sh->timed_out) {
            kill_tree();
            left = 0.05;
        }
        struct timespec ts = { (time_t)left, (long)((left - (time_t)left) * 1e9) };
        sigtimedwait(&chld, NULL, &ts);
    }
    if (!sh->census_failed)
        take_leaks(sh, sb, &before);
    ipcv_census_free(&before);
    sh->done = 1;
    return 0;
}

/* ---- the report ---------------------------------------------------------------- */

static const char *sig_name(int sig)
{
    static char buf[8][24];
    static int k;
    char *b = buf[k++ % 8];
    const char *a = sigabbrev_np(sig);
    if (a)
        snprintf(b, sizeof buf[0], "SIG%s", a);
    else
        snprintf(b, sizeof buf[0], "signal %d", sig);
    return b;
}

/* "0.10" after "0.9": compare lineages number by number. */
static int lineage_cmp(const char *a, const char *b)
{
    while (*a && *b) {
        if (isdigit((unsigned char)*a) && isdigit((unsigned char)*b)) {
            long x = strtol(a, (char **)&a, 10), y = strtol(b, (char **)&b, 10);
            if (x != y)
                return x < y ? -1 : 1;
        } else {
            if (*a != *b)
                return (unsigned char)*a - (unsigned char)*b;
            a++;
            b++;
        }
    }
    return (unsigned char)*a - (unsigned char)*b;
}

static int slot_cmp(const void *x, const void *y)
{
    const struct ipcv_sh_proc *a = *(const struct ipcv_sh_proc *const *)x;
    const struct ipcv_sh_proc *b = *(const struct ipcv_sh_proc *const *)y;
    int c = lineage_cmp(a->lineage, b->lineage);
    return c ? c : a->pid - b->pid;
}

struct report {
    struct ipcv_sh_proc *procs[IPCV_SH_PROCS];
    int nprocs;
    int problems;
};

static int slot_is_problem(const struct ipcv_sh_proc *s)
{
    if (s->hung)
        return 1;
    if (!s->status_known)
        return 0;
    return !(WIFEXITED(s->wstatus) && WEXITSTATUS(s->wstatus) == 0);
}

static void describe_end(const struct ipcv_sh_proc *s, char *buf, size_t len)
{
    if (!s->status_known)
        snprintf(buf, len, "ended, status not seen");
    else if (WIFEXITED(s->wstatus))
        snprintf(buf, len, "exited with status %d%s", WEXITSTATUS(s->wstatus),
                 WEXITSTATUS(s->wstatus) == VALGRIND_ERROR_EXIT ? " (valgrind found errors?)" : "");
    else if (WIFSIGNALED(s->wstatus))
        snprintf(buf, len, "killed by %s%s%s%s", sig_name(WTERMSIG(s->wstatus)),
                 s->injected_sig == WTERMSIG(s->wstatus) ? " (injected: " : "",
                 s->injected_sig == WTERMSIG(s->wstatus) ? s->injected_what : "",
                 s->injected_sig == WTERMSIG(s->wstatus) ? ")" : "");
    else
        snprintf(buf, len, "status %#x", s->wstatus);
}

static const char *point_name(int call_fn)
{
    const struct ipcv_point *p = call_fn > 0 ? ipcv_faults_point((size_t)call_fn - 1) : NULL;
    return p ? p->function : NULL;
}

static void shell_quote(FILE *f, const char *s)
{
    if (*s && !s[strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-+=/.,:%@")]) {
        fputs(s, f);
        return;
    }
    fputc('\'', f);
    for (; *s; s++)
        if (*s == '\'')
            fputs("'\\''", f);
        else
            fputc(*s, f);
    fputc('\'', f);
}

static void human_report(FILE *f, const struct exec_opts *o, struct ipcv_shared *sh,
                         struct report *r)
{
    char end[96];
    for (int i = 0; i < r->nprocs; i++) {
        struct ipcv_sh_proc *s = r->procs[i];
        if (!r->problems || s->hung)   /* quiet on success; hangs below */
            continue;
        describe_end(s, end, sizeof end);
        fprintf(f, "ipcvet: exec: process %s (%s, pid %d) %s\n", s->lineage, s->comm, s->pid, end);
    }
    if (sh->timed_out) {
        fprintf(f, "ipcvet: exec: hang: the program did not end within %.1f s; killed:\n", o->timeout);
        for (int i = 0; i < r->nprocs; i++) {
            struct ipcv_sh_proc *s = r->procs[i];
            if (!s->hung)
                continue;
            const char *call = point_name(atomic_load(&s->call_fn));
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
            shell_quote(f, o->plans[i]);
        }
        for (int i = 0; i < o->nlimits; i++)
            fprintf(f, " --limit %s=%llu", o->limits[i]->name, o->limit_values[i]);
        if (o->seed)
            fprintf(f, " --seed %llu", o->seed);
        fputs(" --", f);
        for (char **a = o->cmd; *a; a++) {
            fputc(' ', f);
            shell_quote(f, *a);
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
            fprintf(f, "\"%s\"", sig_name(WTERMSIG(s->wstatus)));
        else
            fputs("null", f);
        fputs(", \"injected\": ", f);
        if (s->status_known && WIFSIGNALED(s->wstatus) && s->injected_sig == WTERMSIG(s->wstatus))
            ipcv_json_str(f, s->injected_what);
        else
            fputs("null", f);
        fprintf(f, ", \"preloaded\": %s, \"fired\": %lu, \"hung\": %s", s->has_lib ? "true" : "false",
                atomic_load(&s->fired), s->hung ? "true" : "false");
        const char *call = s->hung ? point_name(atomic_load(&s->call_fn)) : NULL;
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

static int wait_supervisor(pid_t s, double seconds)
{
    sigset_t chld, old;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, &old);
    double deadline = now() + seconds;
    int st = -1;
    for (;;) {
        pid_t r = waitpid(s, &st, WNOHANG);
        if (r == s || (r < 0 && errno != EINTR))
            break;
        double left = deadline - now();
        if (left <= 0) {
            kill(s, SIGKILL);
            waitpid(s, &st, 0);
            st = -1;
            break;
        }
        struct timespec ts = { (time_t)left, (long)((left - (time_t)left) * 1e9) };
        sigtimedwait(&chld, NULL, &ts);
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    return st;
}

int ipcv_cmd_exec(int argc, char **argv)
{
    struct exec_opts o;
    parse(argc, argv, &o);
    ipcv_faults_detach();   /* the supervisor itself is never injected */

    char *path = find_command(o.cmd[0]);
    if (!path)
        ipcv_usage_error("exec: command not found: '%s'", o.cmd[0]);
    char *vg = NULL;
    if (o.valgrind && !(vg = find_command("valgrind")))
        ipcv_usage_error("exec: --valgrind: valgrind is not installed");
    const char *lib = find_library();
    if (!lib)
        ipcv_usage_error("exec: cannot find libipcvet-faults.so (set IPCVET_FAULTS_LIB)");
    /* The sandbox mounts its own /tmp and /dev/shm: what lives there on the
     * host is out of its sight (a relative path from a working directory
     * there still works). */
    if (o.isolation != IPCV_ISOLATE_NONE) {
        const char *hidden[] = { path, lib };
        for (int i = 0; i < 2; i++)
            if (!strncmp(hidden[i], "/tmp/", 5) || !strncmp(hidden[i], "/dev/shm/", 9))
                ipcv_usage_error("exec: '%s' is under %s, which the sandbox replaces with a private "
                                 "tmpfs (run it from there by a relative path, or use --isolate none)",
                                 hidden[i], hidden[i][1] == 't' ? "/tmp" : "/dev/shm");
    }
    int is_static = is_static_elf(path);
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
        trace_fd = high_fd(trace_fd);
    }
    int shfd = memfd_create("ipcvet-exec", 0);
    if (shfd < 0 || ftruncate(shfd, sizeof(struct ipcv_shared)) < 0) {
        fprintf(stderr, "ipcvet: exec: cannot create the shared page: %s\n", strerror(errno));
        return IPCV_EXIT_USAGE;
    }
    shfd = high_fd(shfd);
    struct ipcv_shared *sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED, shfd, 0);
    if (sh == MAP_FAILED) {
        fprintf(stderr, "ipcvet: exec: cannot map the shared page: %s\n", strerror(errno));
        return IPCV_EXIT_USAGE;
    }
    sh->magic = IPCV_SH_MAGIC;
    sh->version = IPCV_SH_VERSION;

    char **env = build_env(&o, lib, shfd, trace_fd);
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

    char err[256];
    struct ipcv_sandbox sb;
    if (ipcv_sandbox_enter(&sb, (enum ipcv_isolation)o.isolation, NULL, err, sizeof err) < 0) {
        fprintf(stderr, "ipcvet: exec: --isolate %s: %s\n", ipcv_isolation_name(o.isolation), err);
        return IPCV_EXIT_USAGE;
    }
    if (sb.mode == IPCV_ISOLATE_NONE)
        fprintf(stderr, "ipcvet: warning: exec: %s; the program shares the host's IPC namespace "
                        "(objects it is seen to create are reported and removed)\n",
                o.isolation == IPCV_ISOLATE_NONE ? "--isolate none" : "no namespaces here");
    for (int i = 0; i < o.nlimits; i++) {
        const struct ipcv_limit *l = o.limits[i];
        if (l->kind != IPCV_LIMIT_SYSCTL)
            continue;
        const char *why = sb.mode != IPCV_ISOLATE_NS ? "it needs a private IPC namespace"
                        : ipcv_limit_set(l, o.limit_values[i]) < 0 ? strerror(errno) : NULL;
        if (why) {
            ipcv_sandbox_leave(&sb);
            fprintf(stderr, "ipcvet: --limit %s=%llu: cannot set it here: %s\n", l->name,
                    o.limit_values[i], why);
            return IPCV_EXIT_USAGE;
        }
    }

    signal(SIGINT, SIG_IGN);   /* ^C reaches the program; we report */
    signal(SIGQUIT, SIG_IGN);
    fflush(NULL);
    pid_t parent = getpid();
    pid_t s = fork();
    if (s < 0) {
        ipcv_sandbox_leave(&sb);
        fprintf(stderr, "ipcvet: exec: fork: %s\n", strerror(errno));
        return IPCV_EXIT_USAGE;
    }
    if (s == 0)
        _exit(supervise(&o, &sb, sh, vg ? vg : path, cargv, env, parent));
    int st = wait_supervisor(s, o.timeout + 60);
    ipcv_sandbox_leave(&sb);
    if (trace_fd >= 0)
        close(trace_fd);

    if (sh->exec_errno)
        return IPCV_EXIT_USAGE;   /* the child said why */
    if (st < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0 || !sh->done) {
        fprintf(stderr, "ipcvet: exec: the supervisor failed (%s %d)\n",
                st >= 0 && WIFSIGNALED(st) ? "signal" : "status",
                st < 0 ? -1 : WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
        return IPCV_EXIT_USAGE;
    }

    struct report r = { 0 };
    unsigned n = atomic_load(&sh->nprocs);
    for (unsigned i = 0; i < n && i < IPCV_SH_PROCS; i++)
        if (atomic_load(&sh->procs[i].state) != IPCV_SLOT_FREE)
            r.procs[r.nprocs++] = &sh->procs[i];
    qsort(r.procs, (size_t)r.nprocs, sizeof r.procs[0], slot_cmp);
    for (int i = 0; i < r.nprocs; i++)
        r.problems += slot_is_problem(r.procs[i]) && !r.procs[i]->hung;
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
