/* How much a case costs beyond the isolation every case needs: a bare fork,
 * a sandbox (IPC+mount+PID namespaces, private tmpfs, anchor) made and torn
 * down, and a whole case inside `ipcvet run`, measured in one run. */
#define _GNU_SOURCE
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "case.h"
#include "sandbox.h"

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp);
    return v[n / 2];
}

static void child_bare(void) { _exit(0); }

static void child_sandbox(void)
{
    struct ipcv_sandbox sb;
    char err[256];
    if (ipcv_sandbox_enter(&sb, IPCV_ISOLATE_NS, NULL, err, sizeof err) < 0)
        _exit(1);
    ipcv_sandbox_leave(&sb);
    _exit(0);
}

/* Median of `rounds` rounds of `iters` fork/child/wait cycles, µs per cycle. */
static double cycles(void (*child)(void), int rounds, int iters, int *failed)
{
    double per[32];
    for (int r = 0; r < rounds; r++) {
        double t0 = now_us();
        for (int i = 0; i < iters; i++) {
            pid_t pid = fork();
            if (pid == 0)
                child();
            int st;
            waitpid(pid, &st, 0);
            if (!WIFEXITED(st) || WEXITSTATUS(st))
                *failed = 1;
        }
        per[r] = (now_us() - t0) / iters;
    }
    return median(per, rounds);
}

/* One `ipcvet run --mech MECH -j1`; µs per case. */
static double run_cases(const char *self, const char *mech)
{
    int ncases = 0;
    const struct ipcv_case_meta *m;
    IPCV_FOREACH_CASE(m)
        ncases += !strcmp(m->mech, mech);
    if (!ncases)
        return 0;
    double t0 = now_us();
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        dup2(null, 2);
        execl(self, self, "run", "-j1", "--mech", mech, (char *)NULL);
        _exit(127);
    }
    int st;
    waitpid(pid, &st, 0);
    return (now_us() - t0) / ncases;
}

int ipcv_bench_isolation(const char *self, struct ipcv_bench_row *rows, int max)
{
    if (max < 3)
        return 0;
    int failed = 0, n = 0;
    /* Interleave so that machine noise hits every row alike. */
    double bare[5], sand[5];
    for (int k = 0; k < 5; k++) {
        bare[k] = cycles(child_bare, 3, 100, &failed);
        sand[k] = cycles(child_sandbox, 3, 40, &failed);
    }
    double b = median(bare, 5), s = median(sand, 5);
    rows[n++] = (struct ipcv_bench_row){ "fork + exit + wait (floor)", b, NULL, 1.0 };
    rows[n++] = (struct ipcv_bench_row){ "sandbox made and torn down", s, "fork", s / b };
    if (failed)
        rows[n - 1].name = "sandbox made and torn down (namespaces refused: not measured)";
    /* Real cases, each with its roles and checks, runner start included. */
    double c[3];
    for (int k = 0; k < 3; k++)
        c[k] = run_cases(self, "sysv_shm");
    double cm = median(c, 3);
    if (cm > 0)
        rows[n++] = (struct ipcv_bench_row){ "a sysv_shm case in `ipcvet run -j1` (mean)", cm,
                                             "sandbox", cm / s };
    return n;
}

void ipcv_bench_print(FILE *f, const char *title, const struct ipcv_bench_row *rows, int n,
                      int json, int *first)
{
    if (json) {
        for (int i = 0; i < n; i++) {
            fprintf(f, "%s  {\"group\": \"%s\", \"name\": \"%s\", \"us\": %.3f, \"vs\": %s%s%s, "
                       "\"ratio\": %.3f}", *first ? "" : ",\n", title, rows[i].name, rows[i].us,
                    rows[i].floor ? "\"" : "", rows[i].floor ? rows[i].floor : "null",
                    rows[i].floor ? "\"" : "", rows[i].ratio);
            *first = 0;
        }
        return;
    }
    fprintf(f, "\n%s\n", title);
    for (int i = 0; i < n; i++) {
        fprintf(f, "  %-58s %12.2f us", rows[i].name, rows[i].us);
        if (rows[i].floor)
            fprintf(f, "   %6.2fx %s", rows[i].ratio, rows[i].floor);
        fputc('\n', f);
    }
}
