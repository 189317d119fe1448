/* `ipcvet bench`: explore's throughput on a 48-call fixture
 * (fixtures/explore/bench_48_calls), side by side in one run with
 *   - the floor: the same fault-injected runs, each cloned into fresh
 *     IPC/mount/PID namespaces with private tmpfs and exec'd with the
 *     library preloaded, and nothing else (no supervisor, no census);
 *   - the same experiments driven one by one through
 *     `strace -f --seccomp-bpf -e inject=SYSCALL:error=E:when=N` (no
 *     sandbox at all).
 * Rounds are interleaved so that a busy machine moves every row alike. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "explore.h"

#define ROUNDS 3   /* middle() takes three */

static double clock_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* The middle one of three rounds. */
static double middle(const double v[3])
{
    double lo = v[0] < v[1] ? v[0] : v[1], hi = v[0] < v[1] ? v[1] : v[0];
    return v[2] < lo ? lo : v[2] > hi ? hi : v[2];
}

/* The fixture beside this ipcvet: $IPCVET_FIXTURES, or the build tree. */
static char *find_fixture(const char *self)
{
    const char *env = getenv("IPCVET_FIXTURES");
    char dir[PATH_MAX], *path = NULL;
    snprintf(dir, sizeof dir, "%s", self);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    const char *tries[3][2] = { { env, "" }, { dir, "/.." }, { dir, "/../build" } };
    for (int i = 0; i < 3; i++) {
        if (!tries[i][0] || !*tries[i][0])
            continue;
        if (asprintf(&path, "%s%s/fixtures/explore/bench_48_calls", tries[i][0], tries[i][1]) < 0)
            return NULL;
        if (access(path, X_OK) == 0)
            return path;
        free(path);
        path = NULL;
    }
    return NULL;
}

static int quiet_null(void)
{
    int null = open("/dev/null", O_RDWR);
    if (null >= 0) {
        dup2(null, 0);
        dup2(null, 1);
        dup2(null, 2);
    }
    return null;
}

/* The floor: one injected run, isolated as explore isolates, nothing more. */
static int floor_run(const char *lib, const char *path, const struct xp *x)
{
    char **env = ipcv_run_env(lib, x->rule, 0, -1, -1, -1);
    char *argv[] = { (char *)path, NULL };
    uid_t uid = geteuid();
    gid_t gid = getegid();
    fflush(NULL);
    pid_t pid = (pid_t)syscall(SYS_clone, (unsigned long)(ipcv_sandbox_clone_flags() | SIGCHLD), NULL, NULL,
                               NULL, 0UL);
    if (pid == 0) {
        char err[256];
        struct ipcv_sandbox sb;
        quiet_null();
        if (ipcv_sandbox_enter_as_init(&sb, uid, gid, err, sizeof err) < 0)
            _exit(127);
        execve(path, argv, env);
        _exit(127);
    }
    ipcv_run_env_free(env);
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) != pid)
        return -1;
    return WIFEXITED(st) && WEXITSTATUS(st) == 127 ? -1 : 0;
}

static int strace_run(const char *strace, const char *path, const struct xp *x)
{
    const char *fn = ipcv_faults_point((size_t)x->fn)->function;
    if (!strcmp(fn, "semop"))
        fn = "semtimedop";   /* what glibc calls it with */
    char trace[64], inject[128];
    snprintf(trace, sizeof trace, "trace=%s", fn);
    snprintf(inject, sizeof inject, "inject=%s:error=%s:when=%u", fn, ipcv_faults_errname(x->err), x->occ);
    char *argv[] = { (char *)strace, "-f", "-qq", "--seccomp-bpf", "-o", "/dev/null", "-e", trace,
                     "-e", inject, (char *)path, NULL };
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        quiet_null();
        execv(strace, argv);
        _exit(127);
    }
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) != pid)
        return -1;
    return WIFEXITED(st) && WEXITSTATUS(st) == 127 ? -1 : 0;
}

int ipcv_bench_explore(const char *self, struct ipcv_bench_row *rows, int max)
{
    static char names[5][96];
    char *path = find_fixture(self);
    const char *lib = ipcv_find_faults_library();
    if (!path || !lib || max < 4)
        return 0;
    ipcv_faults_detach();
    struct xp_runner run = { .lib = lib, .path = path, .argv = (char *[]){ path, NULL },
                             .comm = "bench_48_calls", .jobs = 1, .deadlock = 1.0 };
    struct xp_baseline b;
    if (xp_baseline_run(&run, 30, &b))
        return 0;
    /* One experiment per call: its first errno class. */
    struct xp_space_opts o = { .errnos_mode = XP_ERRNOS_ONE, .max_occ = 1000 };
    memset(o.calls, 1, sizeof o.calls);
    struct xp_space sp = { 0 };
    xp_space_plan(&sp, &b.rec, &o);
    size_t n = 0;
    for (size_t i = 0; i < sp.n; i++) {
        if (n && sp.xs[n - 1].fn == sp.xs[i].fn && sp.xs[n - 1].occ == sp.xs[i].occ)
            continue;
        sp.xs[n] = sp.xs[i];
        sp.xs[n++].timeout = 10;
    }
    char *strace = ipcv_find_command("strace");
    double fl[ROUNDS], j1[ROUNDS], j2[ROUNDS], st[ROUNDS];
    int ok = 1;
    for (int r = 0; r < ROUNDS && ok; r++) {
        double t = clock_us();
        for (size_t i = 0; i < n && ok; i++)
            ok = floor_run(lib, path, &sp.xs[i]) == 0;
        fl[r] = (clock_us() - t) / (double)n;
        for (int j = 1; j <= 2; j++) {
            run.jobs = j;
            t = clock_us();
            ok &= xp_run_all(&run, sp.xs, n, NULL, NULL) == 0;
            (j == 1 ? j1 : j2)[r] = (clock_us() - t) / (double)n;
        }
        st[r] = 0;
        if (strace) {
            t = clock_us();
            for (size_t i = 0; i < n && strace; i++)
                if (strace_run(strace, path, &sp.xs[i]) < 0)
                    strace = NULL;
            st[r] = (clock_us() - t) / (double)n;
        }
    }
    int k = 0;
    if (ok) {
        double f = middle(fl), a = middle(j1), c = middle(j2);
        snprintf(names[0], sizeof names[0], "isolated injected run, %zu-call fixture (floor): %.0f/s", b.rec.n,
                 1e6 / f);
        rows[k++] = (struct ipcv_bench_row){ names[0], f, NULL, 1.0 };
        snprintf(names[1], sizeof names[1], "explore -j1, per experiment: %.0f/s", 1e6 / a);
        rows[k++] = (struct ipcv_bench_row){ names[1], a, "floor", a / f };
        snprintf(names[2], sizeof names[2], "explore -j2, per experiment: %.0f/s", 1e6 / c);
        rows[k++] = (struct ipcv_bench_row){ names[2], c, "floor", c / f };
        if (strace) {
            double s = middle(st);
            snprintf(names[3], sizeof names[3], "strace -f -e inject=, one run each: %.0f/s", 1e6 / s);
            rows[k++] = (struct ipcv_bench_row){ names[3], s, "floor", s / f };
        }
    }
    xp_space_free(&sp);
    xp_record_free(&b.rec);
    xp_record_free(&b.rec2);
    free(path);
    return k;
}
