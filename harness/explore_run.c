/* Experiments in parallel: each in a worker process of its own, which
 * moves into a fresh sandbox and runs the program there (run_one.c). The
 * explorer keeps one shared page and one output file per worker slot and
 * reuses them; it never execs itself. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "explore.h"

struct slot {
    pid_t pid;
    size_t xi;
    struct ipcv_shared *sh;
    int shfd, outfd, recfd;
    double t0;
};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int new_file(const char *name, int append)
{
    int fd = memfd_create(name, 0);
    if (fd < 0)
        return -1;
    if (append)
        fcntl(fd, F_SETFL, O_APPEND);
    return ipcv_high_fd(fd);
}

/* Everything written to fd, NUL-terminated (malloc'd). */
static char *slurp(int fd)
{
    struct stat sb;
    if (fstat(fd, &sb) < 0)
        return strdup("");
    char *buf = malloc((size_t)sb.st_size + 1);
    ssize_t n = pread(fd, buf, (size_t)sb.st_size, 0);
    buf[n > 0 ? n : 0] = '\0';
    return buf;
}

/* The last line the program wrote (its error message, usually). */
static void last_line(int fd, char *out, size_t len)
{
    struct stat sb;
    char buf[2048];
    out[0] = '\0';
    if (fstat(fd, &sb) < 0 || sb.st_size == 0)
        return;
    off_t from = sb.st_size > (off_t)sizeof buf - 1 ? sb.st_size - (off_t)sizeof buf + 1 : 0;
    ssize_t n = pread(fd, buf, sizeof buf - 1, from);
    if (n <= 0)
        return;
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
        n--;
    buf[n] = '\0';
    char *nl = strrchr(buf, '\n');
    snprintf(out, len, "%.*s", (int)len - 1, nl ? nl + 1 : buf);
}

/* Start experiment x in slot s: the supervisor cloned into fresh
 * namespaces, or where that is refused, a worker that makes its sandbox
 * the ordinary way (or none). The program's output and our own complaints
 * go to the slot's file. */
static pid_t start(struct xp_runner *r, const struct xp *x, const struct slot *s)
{
    char **env = ipcv_run_env(r->lib, x->rule, x->seed, s->shfd, -1, s->recfd);
    const struct ipcv_limit *limits[1] = { x->limit };
    unsigned long long values[1] = { x->limit_value };
    struct ipcv_run_spec spec = {
        .who = "explore", .path = r->path, .argv = r->argv, .env = env, .comm = r->comm,
        .limits = limits, .limit_values = values, .nlimits = x->limit ? 1 : 0,
        .timeout = x->timeout, .deadlock = r->deadlock, .isolation = r->isolation,
        .out_fd = s->outfd, .null_stdin = 1, .reuse_mounts = 1,
    };
    pid_t pid = -1;
    if (r->isolation != IPCV_ISOLATE_NONE && r->spawn >= 0) {
        pid = ipcv_run_spawn(&spec, s->sh);
        r->spawn = pid > 0;
        if (pid < 0) {   /* refused: workers from now on */
            r->spawn = -1;
            if (r->isolation == IPCV_ISOLATE_AUTO)
                fprintf(stderr, "ipcvet: warning: explore: no namespaces here (%s): experiments share the "
                                "host's IPC namespace (objects they are seen to create are reported and "
                                "removed)\n", strerror(errno));
        }
    }
    if (pid < 0) {
        pid_t parent = getpid();
        fflush(NULL);
        pid = fork();
        if (pid == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (getppid() != parent)
                _exit(IPCV_EXIT_USAGE);
            dup2(s->outfd, 1);
            dup2(s->outfd, 2);
            spec.out_fd = -1;
            struct ipcv_sandbox sb;
            _exit(ipcv_run_one(&spec, s->sh, &sb));
        }
    }
    ipcv_run_env_free(env);
    return pid;
}

static void progress(const struct xp_runner *r, size_t done, size_t n, double t0, int final)
{
    static double last;
    double t = now();
    if (!r->progress || (!final && t - last < 0.1 && r->progress == 1))
        return;
    double rate = t > t0 ? done / (t - t0) : 0;
    if (r->progress == 1) {
        int width = 30, full = n ? (int)(width * done / n) : width;
        fprintf(stderr, "\r[%.*s%*s] %zu/%zu experiments  %.0f/s  problems: %d%s", full,
                "##############################", width - full, "", done, n, rate, r->nfindings,
                final ? "\r\033[K" : "");
    } else {
        /* Plain lines: every tenth and the end. */
        size_t step = n / 10 ? n / 10 : 1;
        if (!final && done % step)
            return;
        if (final && done % step == 0)
            return;
        fprintf(stderr, "ipcvet: explore: %zu/%zu experiments, %d with a problem\n", done, n, r->nfindings);
    }
    last = t;
}

int xp_run_all(struct xp_runner *r, struct xp *xs, size_t n, char **record_texts,
               struct ipcv_shared **sh_copy)
{
    int jobs = r->jobs > 0 ? r->jobs : 1;
    if ((size_t)jobs > n)
        jobs = n ? (int)n : 1;
    struct slot *slots = calloc((size_t)jobs, sizeof *slots);
    for (int i = 0; i < jobs; i++) {
        slots[i].sh = ipcv_shared_new(&slots[i].shfd);
        slots[i].outfd = new_file("ipcvet-out", 1);
        slots[i].recfd = record_texts ? new_file("ipcvet-record", 1) : -1;
        if (!slots[i].sh || slots[i].outfd < 0 || (record_texts && slots[i].recfd < 0)) {
            fprintf(stderr, "ipcvet: explore: cannot make a worker's shared files: %s\n", strerror(errno));
            return IPCV_EXIT_USAGE;
        }
    }
    size_t next = 0, done = 0;
    int running = 0;
    double t0 = now();
    while (done < n) {
        for (int i = 0; i < jobs && next < n; i++) {
            struct slot *s = &slots[i];
            if (s->pid)
                continue;
            s->xi = next++;
            s->t0 = now();
            s->pid = start(r, &xs[s->xi], s);
            if (s->pid < 0) {
                fprintf(stderr, "ipcvet: explore: fork: %s\n", strerror(errno));
                return IPCV_EXIT_USAGE;
            }
            running++;
        }
        int st;
        pid_t pid = waitpid(-1, &st, 0);
        if (pid < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        struct slot *s = NULL;
        for (int i = 0; i < jobs && !s; i++)
            if (slots[i].pid == pid)
                s = &slots[i];
        if (!s)
            continue;
        struct xp *x = &xs[s->xi];
        memset(&x->res, 0, sizeof x->res);
        if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
            xp_classify(x, s->sh, &x->res);
            last_line(s->outfd, x->res.output, sizeof x->res.output);
        } else {
            x->res.cls = XC_NOTRUN;
            last_line(s->outfd, x->res.detail, sizeof x->res.detail);
            if (!x->res.detail[0])
                snprintf(x->res.detail, sizeof x->res.detail, "the worker ended with status %#x", st);
        }
        x->res.seconds = now() - s->t0;
        r->nfindings += xp_class_is_finding(x->res.cls);
        if (record_texts) {
            record_texts[s->xi] = slurp(s->recfd);
            if (ftruncate(s->recfd, 0) < 0)
                return IPCV_EXIT_USAGE;
        }
        if (sh_copy) {
            sh_copy[s->xi] = malloc(sizeof *s->sh);
            memcpy(sh_copy[s->xi], s->sh, sizeof *s->sh);
        }
        ipcv_shared_reset(s->sh);
        if (ftruncate(s->outfd, 0) < 0)
            return IPCV_EXIT_USAGE;
        s->pid = 0;
        running--;
        done++;
        progress(r, done, n, t0, done == n);
    }
    for (int i = 0; i < jobs; i++) {
        munmap(slots[i].sh, sizeof *slots[i].sh);
        close(slots[i].shfd);
        close(slots[i].outfd);
        if (slots[i].recfd >= 0)
            close(slots[i].recfd);
    }
    free(slots);
    return 0;
}

int xp_baseline_run(struct xp_runner *run, double timeout, struct xp_baseline *b)
{
    memset(b, 0, sizeof *b);
    struct xp xs[2] = { { .kind = XP_BASELINE, .fn = -1, .timeout = timeout },
                        { .kind = XP_BASELINE, .fn = -1, .timeout = timeout } };
    char *texts[2] = { NULL, NULL };
    struct ipcv_shared *pages[2] = { NULL, NULL };
    double deadlock = run->deadlock;
    run->deadlock = 0;   /* a slow baseline is not a hang */
    int rc = xp_run_all(run, xs, 2, texts, pages);
    run->deadlock = deadlock;
    if (rc)
        return IPCV_EXIT_USAGE;
    for (int i = 0; i < 2 && !rc; i++) {
        const struct xp_result *res = &xs[i].res;
        if (res->cls == XC_NOTRUN) {
            fprintf(stderr, "ipcvet: explore: cannot run the program: %s\n", res->detail);
            rc = IPCV_EXIT_USAGE;
        } else if (res->cls != XC_TOLERATED || res->root_code != 0) {
            snprintf(b->problem, sizeof b->problem, "run %d: %s%s%.160s", i + 1,
                     res->detail[0] ? res->detail : "process 0 did not exit 0", res->output[0] ? "; output: " : "",
                     res->output);
            rc = IPCV_EXIT_PROBLEMS;
        }
    }
    if (!rc) {
        xp_record_parse(&b->rec, texts[0]);
        xp_record_parse(&b->rec2, texts[1]);
        xp_record_objects(&b->rec, pages[0]);
        xp_record_objects(&b->rec2, pages[1]);
        for (size_t l = 0; l < 32; l++)
            if (b->rec2.used[l] > b->rec.used[l])
                b->rec.used[l] = b->rec2.used[l];
        b->unstable = xp_record_compare(&b->rec, &b->rec2);
        for (size_t i = 0; i < b->rec.n; i++) {
            size_t j = 0;
            while (j < i && strcmp(b->rec.calls[j].lineage, b->rec.calls[i].lineage))
                j++;
            b->procs += j == i;
        }
        b->seconds = xs[0].res.seconds > xs[1].res.seconds ? xs[0].res.seconds : xs[1].res.seconds;
    }
    for (int i = 0; i < 2; i++) {
        free(texts[i]);
        free(pages[i]);
    }
    return rc;
}
