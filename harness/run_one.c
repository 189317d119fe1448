/* One supervised run of a program tree in its own sandbox (run_one.h). */
#define _GNU_SOURCE
#include "run_one.h"

#include <ctype.h>
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "census.h"
#include "cli.h"
#include "faults.h"
#include "watchdog.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- finding things ------------------------------------------------------ */

char *ipcv_find_command(const char *cmd)
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

int ipcv_is_static_elf(const char *path)
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

const char *ipcv_find_faults_library(void)
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

int ipcv_high_fd(int fd)
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

void ipcv_check_visible(const char *who, const char *path, const char *lib, int isolation)
{
    /* The sandbox mounts its own /tmp and /dev/shm: what the run needs from
     * there (the program, the library) is bound back into it. */
    (void)who;
    if (isolation == IPCV_ISOLATE_NONE)
        return;
    ipcv_sandbox_keep_visible(path);
    ipcv_sandbox_keep_visible(lib);
}

char **ipcv_run_env(const char *lib, const char *plan, unsigned long long seed, int shared_fd,
                    int trace_fd, int record_fd)
{
    extern char **environ;
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = calloc(n + 8, sizeof *env);
    if (!env)
        return NULL;
    size_t k = 0;
    const char *old_preload = NULL;
    for (size_t i = 0; i < n; i++) {
        const char *e = environ[i];
        if (!strncmp(e, "LD_PRELOAD=", 11)) {
            old_preload = e + 11;
            continue;
        }
        if (!strncmp(e, "IPCVET_PLAN=", 12) || !strncmp(e, "IPCVET_SEED=", 12) ||
            !strncmp(e, "IPCVET_SHARED_FD=", 17) || !strncmp(e, "IPCVET_TRACE_FD=", 16) ||
            !strncmp(e, "IPCVET_RECORD_FD=", 17))
            continue;
        env[k++] = strdup(e);
    }
    if (asprintf(&env[k], "LD_PRELOAD=%s%s%s", lib, old_preload && *old_preload ? " " : "",
                 old_preload ? old_preload : "") >= 0)
        k++;
    if (plan && *plan && asprintf(&env[k], "IPCVET_PLAN=%s", plan) >= 0)
        k++;
    if (asprintf(&env[k], "IPCVET_SEED=%llu", seed) >= 0)
        k++;
    if (shared_fd >= 0 && asprintf(&env[k], "IPCVET_SHARED_FD=%d", shared_fd) >= 0)
        k++;
    if (trace_fd >= 0 && asprintf(&env[k], "IPCVET_TRACE_FD=%d", trace_fd) >= 0)
        k++;
    if (record_fd >= 0 && asprintf(&env[k], "IPCVET_RECORD_FD=%d", record_fd) >= 0)
        k++;
    env[k] = NULL;
    return env;
}

void ipcv_run_env_free(char **env)
{
    for (char **e = env; e && *e; e++)
        free(*e);
    free(env);
}

struct ipcv_shared *ipcv_shared_new(int *fd)
{
    int shfd = memfd_create("ipcvet-run", 0);
    if (shfd < 0)
        return NULL;
    if (ftruncate(shfd, sizeof(struct ipcv_shared)) < 0) {
        close(shfd);
        return NULL;
    }
    shfd = ipcv_high_fd(shfd);
    struct ipcv_shared *sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED, shfd, 0);
    if (sh == MAP_FAILED) {
        close(shfd);
        return NULL;
    }
    sh->magic = IPCV_SH_MAGIC;
    sh->version = IPCV_SH_VERSION;
    *fd = shfd;
    return sh;
}

void ipcv_shared_reset(struct ipcv_shared *sh)
{
    unsigned np = atomic_load(&sh->nprocs), no = atomic_load(&sh->nobjs);
    memset(sh->procs, 0, (np < IPCV_SH_PROCS ? np : IPCV_SH_PROCS) * sizeof sh->procs[0]);
    memset(sh->objs, 0, (no < IPCV_SH_OBJS ? no : IPCV_SH_OBJS) * sizeof sh->objs[0]);
    memset(sh->leaks, 0, (size_t)sh->nleaks * sizeof sh->leaks[0]);
    atomic_store(&sh->nprocs, 0);
    atomic_store(&sh->nobjs, 0);
    for (int i = 0; i < IPCV_SH_RULES; i++)
        atomic_store(&sh->rule_fired[i], 0);
    sh->root_pid = sh->timed_out = sh->exec_errno = sh->nleaks = 0;
    sh->leaks_dropped = sh->census_failed = sh->done = 0;
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

/* One line of /proc/PID/stat: state, parent, CPU ticks used. */
static int read_stat(pid_t pid, char *state, int *ppid, unsigned long long *cpu)
{
    char path[64], stat[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t r = read(fd, stat, sizeof stat - 1);
    close(fd);
    if (r <= 0)
        return -1;
    stat[r] = '\0';
    const char *paren = strrchr(stat, ')');
    unsigned long long ut = 0, st = 0;
    if (!paren || sscanf(paren + 1, " %c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
                         state, ppid, &ut, &st) < 2)
        return -1;
    if (cpu)
        *cpu = ut + st;
    return 0;
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
        char state;
        int ppid;
        if (pid <= 0 || read_stat(pid, &state, &ppid, NULL) < 0)
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

/* Deadlock: every live process of the tree sits in a blocking wrapped call
 * that has no timeout, using no CPU. A sample of that state, or -1 when
 * some process is elsewhere (running, sleeping unwrapped, not ours). */
struct still {
    pid_t pid;
    int fn;
    unsigned long long cpu;
};

static int sample_still(struct ipcv_shared *sh, struct still *out, int max)
{
    pid_t pids[256];
    int n = descendants(pids, 256), k = 0;
    for (int i = 0; i < n; i++) {
        char state;
        int ppid;
        unsigned long long cpu;
        if (read_stat(pids[i], &state, &ppid, &cpu) < 0 || state == 'Z')
            continue;
        struct ipcv_sh_proc *s = find_slot(sh, pids[i], 1);
        int fn = s ? atomic_load(&s->call_fn) : 0;
        const char *name = ipcv_point_name(fn);
        if (!name || strstr(name, "timed") || strstr(name, "clock") || state == 'R' || k == max)
            return -1;
        out[k++] = (struct still){ pids[i], fn, cpu };
    }
    return k;
}

static int same_still(const struct still *a, int na, const struct still *b, int nb)
{
    if (na != nb || na <= 0)
        return 0;
    for (int i = 0; i < na; i++)
        if (a[i].pid != b[i].pid || a[i].fn != b[i].fn || a[i].cpu != b[i].cpu)
            return 0;
    return 1;
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

struct start {
    const struct ipcv_run_spec *r;
    struct ipcv_shared *sh;
};

/* The child that becomes CMD. It runs in the supervisor's memory until its
 * execve (CLONE_VM | CLONE_VFORK, as posix_spawn does), so it only makes
 * system calls and writes the shared page. */
static int start_command(void *arg)
{
    const struct ipcv_run_spec *r = ((struct start *)arg)->r;
    struct ipcv_shared *sh = ((struct start *)arg)->sh;
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGINT, SIG_DFL);
    signal(SIGQUIT, SIG_DFL);
    signal(SIGPIPE, SIG_DFL);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    for (int i = 0; i < r->nlimits; i++) {
        if (r->limits[i]->kind != IPCV_LIMIT_RLIMIT)
            continue;
        if (ipcv_limit_set(r->limits[i], r->limit_values[i]) < 0) {
            sh->exec_errno = errno;
            fprintf(stderr, "ipcvet: --limit %s=%llu: cannot set it: %s\n", r->limits[i]->name,
                    r->limit_values[i], strerror(errno));
            _exit(127);
        }
    }
    if (r->null_stdin) {
        int null = open("/dev/null", O_RDONLY);
        if (null >= 0 && null != 0) {
            dup2(null, 0);
            close(null);
        }
    }
    if (r->out_fd >= 0) {
        dup2(r->out_fd, 1);
        dup2(r->out_fd, 2);
        if (r->out_fd > 2)
            close(r->out_fd);
    }
    /* Lineage "0" before the library starts, so it finds itself. */
    add_slot(sh, getpid(), "0", r->comm);
    execve(r->path, r->argv, r->env);
    sh->exec_errno = errno ? errno : ENOEXEC;
    fprintf(stderr, "ipcvet: %s: cannot run '%s': %s\n", r->who, r->path, strerror(errno));
    _exit(127);
}

static int supervise(const struct ipcv_run_spec *r, const struct ipcv_sandbox *sb,
                     struct ipcv_shared *sh, pid_t parent, int have_proc)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent && getppid() != 0)
        _exit(IPCV_EXIT_USAGE);
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    signal(SIGINT, SIG_IGN);
    signal(SIGQUIT, SIG_IGN);
    char err[256];
    /* A /proc of this PID namespace, so pids read the same everywhere. */
    if (!have_proc && sb->mode == IPCV_ISOLATE_NS && (r->reuse_mounts || unshare(CLONE_NEWNS) == 0))
        ipcv_sandbox_mount_proc(err, sizeof err);
    struct ipcv_census before = { 0 };
    /* A sandbox made as its init starts empty: nothing to count. */
    if (!have_proc && ipcv_census_take(&before, sb) < 0)
        sh->census_failed = errno ? errno : EIO;

    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, NULL);
    fflush(NULL);
    static char stack[64 * 1024] __attribute__((aligned(16)));
    struct start how = { r, sh };
    pid_t root = clone(start_command, stack + sizeof stack, CLONE_VM | CLONE_VFORK | SIGCHLD, &how);
    if (root < 0) {
        sh->exec_errno = errno;
        return IPCV_EXIT_USAGE;
    }
    if (sh->exec_errno) {   /* it could not start (and said why) */
        waitpid(root, NULL, 0);
        return IPCV_EXIT_USAGE;
    }
    sh->root_pid = root;

    double start = now(), deadline = start + r->timeout, still_since = 0, root_gone = 0;
    /* Explore: once process 0 has ended, the rest may linger this long. */
    double linger = r->deadlock > 0 ? (r->deadlock * 2 > 1 ? r->deadlock * 2 : 1) : 0;
    struct still prev[64], cur[64];
    int nprev = -1;
    while (reap(sh) == 0) {
        double t = now(), left = deadline - t;
        if (linger && !root_gone && !find_slot(sh, root, 0))
            root_gone = t;
        if (!sh->timed_out && (left <= 0 || (root_gone && t - root_gone >= linger))) {
            describe_hang(sh);
            continue;
        }
        if (sh->timed_out) {
            kill_tree();
            left = 0.05;
        } else if (r->deadlock > 0) {
            /* Sample a few times a second; give the program a moment first. */
            if (t - start > 0.05) {
                int n = sample_still(sh, cur, 64);
                if (!same_still(prev, nprev, cur, n))
                    still_since = t;
                memcpy(prev, cur, sizeof prev);
                nprev = n;
                if (n > 0 && t - still_since >= r->deadlock) {
                    describe_hang(sh);
                    continue;
                }
            }
            if (left > 0.02)
                left = 0.02;
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

int ipcv_run_one(const struct ipcv_run_spec *r, struct ipcv_shared *sh, struct ipcv_sandbox *sb)
{
    char err[256];
    if (ipcv_sandbox_enter(sb, (enum ipcv_isolation)r->isolation, NULL, err, sizeof err) < 0) {
        fprintf(stderr, "ipcvet: %s: --isolate %s: %s\n", r->who,
                ipcv_isolation_name((enum ipcv_isolation)r->isolation), err);
        return IPCV_EXIT_USAGE;
    }
    if (sb->mode == IPCV_ISOLATE_NONE && r->warn_none)
        fprintf(stderr, "ipcvet: warning: %s: %s; the program shares the host's IPC namespace "
                        "(objects it is seen to create are reported and removed)\n", r->who,
                r->isolation == IPCV_ISOLATE_NONE ? "--isolate none" : "no namespaces here");
    for (int i = 0; i < r->nlimits; i++) {
        const struct ipcv_limit *l = r->limits[i];
        if (l->kind != IPCV_LIMIT_SYSCTL)
            continue;
        const char *why = sb->mode != IPCV_ISOLATE_NS ? "it needs a private IPC namespace"
                        : ipcv_limit_set(l, r->limit_values[i]) < 0 ? strerror(errno) : NULL;
        if (why) {
            ipcv_sandbox_leave(sb);
            fprintf(stderr, "ipcvet: --limit %s=%llu: cannot set it here: %s\n", l->name,
                    r->limit_values[i], why);
            return IPCV_EXIT_USAGE;
        }
    }

    signal(SIGINT, SIG_IGN);   /* ^C reaches the program; we report */
    signal(SIGQUIT, SIG_IGN);
    fflush(NULL);
    pid_t parent = getpid();
    pid_t s = fork();
    if (s < 0) {
        ipcv_sandbox_leave(sb);
        fprintf(stderr, "ipcvet: %s: fork: %s\n", r->who, strerror(errno));
        return IPCV_EXIT_USAGE;
    }
    if (s == 0)
        _exit(supervise(r, sb, sh, parent, 0));
    int st = wait_supervisor(s, r->timeout + 60);
    ipcv_sandbox_leave(sb);

    if (sh->exec_errno)
        return IPCV_EXIT_USAGE;   /* the child said why */
    if (st < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0 || !sh->done) {
        fprintf(stderr, "ipcvet: %s: the supervisor failed (%s %d)\n", r->who,
                st >= 0 && WIFSIGNALED(st) ? "signal" : "status",
                st < 0 ? -1 : WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
        return IPCV_EXIT_USAGE;
    }
    return 0;
}

/* In the clone: pid 1 of the new namespaces, and the run's supervisor. */
static _Noreturn void run_as_init(const struct ipcv_run_spec *r, struct ipcv_shared *sh, uid_t uid, gid_t gid)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (r->out_fd >= 0) {
        dup2(r->out_fd, 1);
        dup2(r->out_fd, 2);
    }
    char err[256];
    struct ipcv_sandbox sb;
    if (ipcv_sandbox_enter_as_init(&sb, uid, gid, err, sizeof err) < 0) {
        fprintf(stderr, "ipcvet: %s: %s\n", r->who, err);
        _exit(IPCV_EXIT_USAGE);
    }
    for (int i = 0; i < r->nlimits; i++) {
        const struct ipcv_limit *l = r->limits[i];
        if (l->kind == IPCV_LIMIT_SYSCTL && ipcv_limit_set(l, r->limit_values[i]) < 0) {
            fprintf(stderr, "ipcvet: --limit %s=%llu: cannot set it here: %s\n", l->name,
                    r->limit_values[i], strerror(errno));
            _exit(IPCV_EXIT_USAGE);
        }
    }
    signal(SIGINT, SIG_IGN);
    signal(SIGQUIT, SIG_IGN);
    _exit(supervise(r, &sb, sh, 0, 1));
}

pid_t ipcv_run_spawn(const struct ipcv_run_spec *r, struct ipcv_shared *sh)
{
    uid_t uid = geteuid();
    gid_t gid = getegid();
    fflush(NULL);
    /* A raw clone: fork() cannot ask for new namespaces. The child never
     * needs its thread id from glibc (it neither raises nor makes threads). */
    pid_t pid = (pid_t)syscall(SYS_clone, (unsigned long)(ipcv_sandbox_clone_flags() | SIGCHLD), NULL, NULL,
                               NULL, 0UL);
    if (pid == 0)
        run_as_init(r, sh, uid, gid);
    return pid;
}

/* ---- reading a run's facts -------------------------------------------------- */

const char *ipcv_sig_name(int sig)
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

int ipcv_lineage_cmp(const char *a, const char *b)
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
    int c = ipcv_lineage_cmp(a->lineage, b->lineage);
    return c ? c : a->pid - b->pid;
}

int ipcv_run_procs(struct ipcv_shared *sh, struct ipcv_sh_proc **procs, int max)
{
    int n = 0;
    unsigned total = atomic_load(&sh->nprocs);
    for (unsigned i = 0; i < total && i < IPCV_SH_PROCS && n < max; i++)
        if (atomic_load(&sh->procs[i].state) != IPCV_SLOT_FREE)
            procs[n++] = &sh->procs[i];
    qsort(procs, (size_t)n, sizeof procs[0], slot_cmp);
    return n;
}

int ipcv_slot_is_problem(const struct ipcv_sh_proc *s)
{
    if (s->hung)
        return 1;
    if (!s->status_known)
        return 0;
    return !(WIFEXITED(s->wstatus) && WEXITSTATUS(s->wstatus) == 0);
}

#define VALGRIND_ERROR_EXIT 86

void ipcv_describe_end(const struct ipcv_sh_proc *s, char *buf, size_t len)
{
    if (!s->status_known)
        snprintf(buf, len, "ended, status not seen");
    else if (WIFEXITED(s->wstatus))
        snprintf(buf, len, "exited with status %d%s", WEXITSTATUS(s->wstatus),
                 WEXITSTATUS(s->wstatus) == VALGRIND_ERROR_EXIT ? " (valgrind found errors?)" : "");
    else if (WIFSIGNALED(s->wstatus))
        snprintf(buf, len, "killed by %s%s%s%s", ipcv_sig_name(WTERMSIG(s->wstatus)),
                 s->injected_sig == WTERMSIG(s->wstatus) ? " (injected: " : "",
                 s->injected_sig == WTERMSIG(s->wstatus) ? s->injected_what : "",
                 s->injected_sig == WTERMSIG(s->wstatus) ? ")" : "");
    else
        snprintf(buf, len, "status %#x", s->wstatus);
}

const char *ipcv_point_name(int call_fn)
{
    const struct ipcv_point *p = call_fn > 0 ? ipcv_faults_point((size_t)call_fn - 1) : NULL;
    return p ? p->function : NULL;
}

void ipcv_shell_quote(FILE *f, const char *s)
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
