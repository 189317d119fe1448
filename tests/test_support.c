/* Helpers of ipcvet's own tests: run the binaries with a bound, find what
 * is left of a run, snapshot the host's IPC state, compare text. No tests
 * here; see test_support.h. */
#define _GNU_SOURCE
#include "test_support.h"

#include <criterion/criterion.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <regex.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static const char *need_env(const char *name)
{
    const char *v = getenv(name);
    cr_assert(v && *v, "%s is not set: run the selftest through 'make selftest' "
              "(IPCVET, IPCVET_DEMO and IPCVET_TOP name the binaries and the repo)", name);
    return v;
}

const char *sup_ipcvet(void) { return need_env("IPCVET"); }
const char *sup_demo(void) { return need_env("IPCVET_DEMO"); }
const char *sup_top(void) { return need_env("IPCVET_TOP"); }

const char *sup_scratch(void)
{
    static char dir[PATH_MAX];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "%s", sup_demo());
        char *slash = strrchr(dir, '/');
        snprintf(slash ? slash + 1 : dir, sizeof dir - (size_t)(slash ? slash + 1 - dir : 0),
                 "selftest-files");
        mkdir(dir, 0755);
    }
    return dir;
}

/* ---- running ------------------------------------------------------------ */

static int env_dropped(const char *entry, const char *const *extra)
{
    static const char *const drop[] = { "BXFI_", "CRITERION_", "IPCVET_TIMEOUT_MUL=",
                                        "IPCVET_ISOLATE=", SUP_TAG_VAR "=", NULL };
    for (int i = 0; drop[i]; i++)
        if (!strncmp(entry, drop[i], strlen(drop[i])))
            return 1;
    for (int i = 0; extra && extra[i]; i++) {
        size_t n = strcspn(extra[i], "=");
        if (!strncmp(entry, extra[i], n) && entry[n] == '=')
            return 1;
    }
    return 0;
}

void sup_start(struct sup_proc *p, const char *const *argv, const char *const *env_extra)
{
    static unsigned counter;
    memset(p, 0, sizeof *p);
    snprintf(p->tag, sizeof p->tag, "st%d-%u", (int)getpid(), ++counter);

    size_t n = 0, m = 0;
    while (environ[n])
        n++;
    while (env_extra && env_extra[m])
        m++;
    char **envp = calloc(n + m + 2, sizeof *envp);
    char tagvar[80];
    snprintf(tagvar, sizeof tagvar, SUP_TAG_VAR "=%s", p->tag);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!env_dropped(environ[i], env_extra))
            envp[k++] = environ[i];
    const char *shm_dir = NULL;
    for (size_t i = 0; i < m; i++)
        if (!strncmp(env_extra[i], SUP_SHM_DIR "=", strlen(SUP_SHM_DIR) + 1))
            shm_dir = env_extra[i] + strlen(SUP_SHM_DIR) + 1;
        else if (strchr(env_extra[i], '='))
            envp[k++] = (char *)env_extra[i];
    envp[k++] = tagvar;
    envp[k] = NULL;

    int out[2], err[2];
    cr_assert(pipe2(out, O_CLOEXEC) == 0 && pipe2(err, O_CLOEXEC) == 0, "pipe: %s", strerror(errno));
    pid_t parent = getpid();
    fflush(NULL);
    pid_t pid = fork();
    cr_assert(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        /* No cr_* from here on: this is a forked child of the worker. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        setpgid(0, 0);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        for (int s = 1; s < NSIG; s++)
            if (s != SIGKILL && s != SIGSTOP)
                signal(s, SIG_DFL);
        int devnull = open("/dev/null", O_RDONLY);
        dup2(devnull, STDIN_FILENO);
        dup2(out[1], STDOUT_FILENO);
        dup2(err[1], STDERR_FILENO);
        if (shm_dir && (unshare(CLONE_NEWNS) < 0 ||
                        mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
                        mount(shm_dir, "/dev/shm", NULL, MS_BIND, NULL) < 0)) {
            dprintf(STDERR_FILENO, "selftest: cannot put %s on /dev/shm: %s\n", shm_dir, strerror(errno));
            _exit(126);
        }
        execve(argv[0], (char *const *)argv, envp);
        dprintf(STDERR_FILENO, "selftest: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    free(envp);
    close(out[1]);
    close(err[1]);
    p->pid = pid;
    p->out_fd = out[0];
    p->err_fd = err[0];
    p->out = calloc(1, 1);
    p->err = calloc(1, 1);
    p->started = now();
}

static void slurp(int *fd, char **buf, size_t *len)
{
    char chunk[8192];
    ssize_t r = read(*fd, chunk, sizeof chunk);
    if (r < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (r <= 0) {
        close(*fd);
        *fd = -1;
        return;
    }
    *buf = realloc(*buf, *len + (size_t)r + 1);
    memcpy(*buf + *len, chunk, (size_t)r);
    *len += (size_t)r;
    (*buf)[*len] = '\0';
}

int sup_pump(struct sup_proc *p, double seconds)
{
    double end = now() + seconds;
    for (;;) {
        struct pollfd fds[2] = { { p->out_fd, POLLIN, 0 }, { p->err_fd, POLLIN, 0 } };
        if (p->out_fd < 0 && p->err_fd < 0)
            return 1;
        int ms = (int)((end - now()) * 1000);
        if (ms < 0)
            ms = 0;
        int rc = poll(fds, 2, ms);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc <= 0)
            return 0;
        if (fds[0].revents)
            slurp(&p->out_fd, &p->out, &p->out_len);
        if (fds[1].revents)
            slurp(&p->err_fd, &p->err, &p->err_len);
        if (now() >= end)
            return p->out_fd < 0 && p->err_fd < 0;
    }
}

int sup_wait_output(struct sup_proc *p, const char *text, double seconds)
{
    double end = now() + seconds;
    while (!strstr(p->out, text)) {
        double left = end - now();
        if (left <= 0 || (p->out_fd < 0 && p->err_fd < 0))
            return 0;
        sup_pump(p, left < 0.05 ? left : 0.05);
    }
    return 1;
}

void sup_finish(struct sup_proc *p, double seconds, struct sup_cmd *c)
{
    memset(c, 0, sizeof *c);
    double end = p->started + seconds;
    int st = 0;
    pid_t w = 0;
    for (;;) {
        double left = end - now();
        sup_pump(p, left > 0.05 ? 0.05 : (left > 0 ? left : 0));
        if (!w)
            w = waitpid(p->pid, &st, WNOHANG);
        if (w == p->pid && p->out_fd < 0 && p->err_fd < 0)
            break;
        if (now() >= end) {
            c->timed_out = 1;
            kill(-p->pid, SIGKILL);
            kill(p->pid, SIGKILL);
            if (!w)
                waitpid(p->pid, &st, 0);
            w = p->pid;
            sup_pump(p, 0.5);
            break;
        }
    }
    if (p->out_fd >= 0)
        close(p->out_fd);
    if (p->err_fd >= 0)
        close(p->err_fd);
    c->status = st;
    c->code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    c->sig = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
    c->seconds = now() - p->started;
    c->out = p->out;
    c->err = p->err;
    snprintf(c->tag, sizeof c->tag, "%s", p->tag);
    memset(p, 0, sizeof *p);
}

void sup_run(struct sup_cmd *c, double seconds, const char *const *argv,
             const char *const *env_extra)
{
    struct sup_proc p;
    sup_start(&p, argv, env_extra);
    sup_finish(&p, seconds, c);
}

void sup_cmd_free(struct sup_cmd *c)
{
    free(c->out);
    free(c->err);
    c->out = c->err = NULL;
}

/* ---- processes ---------------------------------------------------------- */

static int environ_has(pid_t pid, const char *entry)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/environ", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap + 1);
    ssize_t r;
    while ((r = read(fd, buf + len, cap - len)) > 0) {
        len += (size_t)r;
        if (len == cap) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
        }
    }
    close(fd);
    buf[len] = '\0';
    int found = 0;
    size_t n = strlen(entry);
    for (size_t i = 0; i < len && !found; i += strlen(buf + i) + 1)
        found = !strncmp(buf + i, entry, n) && buf[i + n] == '\0';
    free(buf);
    return found;
}

int sup_procs_with_tag(const char *tag, pid_t *pids, int max, char *desc, size_t desclen)
{
    char entry[96];
    snprintf(entry, sizeof entry, SUP_TAG_VAR "=%s", tag);
    DIR *d = opendir("/proc");
    int n = 0;
    size_t used = 0;
    if (desc && desclen)
        desc[0] = '\0';
    if (!d)
        return 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        pid_t pid = (pid_t)atoi(e->d_name);
        if (!environ_has(pid, entry))
            continue;
        if (n < max && pids)
            pids[n] = pid;
        if (desc && used + 1 < desclen && n < 6) {
            char path[64], comm[64] = "?", stat[256] = "";
            snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
            FILE *f = fopen(path, "re");
            if (f) {
                if (fgets(comm, sizeof comm, f))
                    comm[strcspn(comm, "\n")] = '\0';
                fclose(f);
            }
            snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
            f = fopen(path, "re");
            char state = '?';
            if (f) {
                if (fgets(stat, sizeof stat, f)) {
                    char *paren = strrchr(stat, ')');
                    if (paren && paren[1])
                        state = paren[2];
                }
                fclose(f);
            }
            int w = snprintf(desc + used, desclen - used, "%spid %d (%s, state %c)",
                             n ? ", " : "", (int)pid, comm, state);
            if (w > 0)
                used += (size_t)w;
        }
        n++;
    }
    closedir(d);
    return n;
}

int sup_wait_no_procs(const char *tag, double seconds)
{
    double end = now() + seconds;
    long pause_ns = 1000 * 1000;
    while (sup_procs_with_tag(tag, NULL, 0, NULL, 0) > 0) {
        if (now() >= end)
            return 0;
        struct timespec ts = { 0, pause_ns };
        nanosleep(&ts, NULL);
        if (pause_ns < 50 * 1000 * 1000)
            pause_ns *= 2;
    }
    return 1;
}

/* ---- host state ----------------------------------------------------------- */

struct lines { char **v; size_t n, cap; };

static void add_line(struct lines *l, const char *fmt, ...)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
    }
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&l->v[l->n], fmt, ap) >= 0)
        l->n++;
    va_end(ap);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *join_lines(struct lines *l)
{
    qsort(l->v, l->n, sizeof *l->v, cmp_str);
    size_t len = 1;
    for (size_t i = 0; i < l->n; i++)
        len += strlen(l->v[i]) + 1;
    char *s = malloc(len), *p = s;
    *p = '\0';
    for (size_t i = 0; i < l->n; i++) {
        p = stpcpy(p, l->v[i]);
        *p++ = '\n';
        *p = '\0';
        free(l->v[i]);
    }
    free(l->v);
    return s;
}

/* The host's mqueue fs, mounted nowhere (as the harness reads a sandbox's). */
static int host_mqueue_dir(void)
{
    int dir = open("/dev/mqueue", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir >= 0)
        return dir;
    int fs = (int)syscall(SYS_fsopen, "mqueue", 1);
    if (fs < 0)
        return -1;
    int mnt = -1;
    if (syscall(SYS_fsconfig, fs, 6 /* FSCONFIG_CMD_CREATE */, NULL, NULL, 0) == 0)
        mnt = (int)syscall(SYS_fsmount, fs, 1, 0);
    close(fs);
    if (mnt < 0)
        return -1;
    dir = openat(mnt, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    close(mnt);
    return dir;
}

static void list_dir(struct lines *l, int dirfd_, const char *path, const char *label,
                     const char *const *prefixes)
{
    DIR *d = dirfd_ >= 0 ? fdopendir(dup(dirfd_)) : opendir(path);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        int keep = !prefixes;
        for (int i = 0; prefixes && prefixes[i]; i++)
            keep |= !strncmp(e->d_name, prefixes[i], strlen(prefixes[i]));
        if (keep)
            add_line(l, "%s %s", label, e->d_name);
    }
    closedir(d);
}

char *sup_host_snapshot(void)
{
    struct lines l = { 0 };
    static const char *const kinds[] = { "shm", "msg", "sem" };
    for (int k = 0; k < 3; k++) {
        char path[64], line[512];
        snprintf(path, sizeof path, "/proc/sysvipc/%s", kinds[k]);
        FILE *f = fopen(path, "re");
        if (!f)
            continue;
        if (fgets(line, sizeof line, f))
            while (fgets(line, sizeof line, f)) {
                long key, id;
                if (sscanf(line, "%ld %ld", &key, &id) == 2)
                    add_line(&l, "sysv_%s %ld %ld", kinds[k], key, id);
            }
        fclose(f);
    }
    list_dir(&l, -1, "/dev/shm", "dev-shm", NULL);
    int mq = host_mqueue_dir();
    if (mq >= 0) {
        list_dir(&l, mq, NULL, "mqueue", NULL);
        close(mq);
    }
    static const char *const tmp[] = { "criterion_", "ipcvet.", NULL };
    list_dir(&l, -1, "/tmp", "tmp", tmp);
    return join_lines(&l);
}

/* The pid in a name that carries one (ipcvet's POSIX names and private
 * directories, Criterion's socket and BoxFort's maps), else -1. */
static long owner_pid(const char *line)
{
    static const char *const prefixes[] = { "sem.ipcv", "ipcvet.", "ipcv", "criterion_",
                                            "bxf_arena_", "bxfi_", NULL };
    const char *name = strchr(line, ' ');
    name = name ? name + 1 : line;
    for (int i = 0; prefixes[i]; i++) {
        size_t n = strlen(prefixes[i]);
        if (strncmp(name, prefixes[i], n) || !isdigit((unsigned char)name[n]))
            continue;
        return strtol(name + n, NULL, 10);
    }
    return -1;
}

char *sup_new_lines(const char *before, const char *after)
{
    struct lines l = { 0 };
    for (const char *p = after; *p;) {
        size_t n = strcspn(p, "\n");
        int seen = 0;
        for (const char *q = before; *q && !seen;) {
            size_t m = strcspn(q, "\n");
            seen = m == n && !strncmp(p, q, n);
            q += m + (q[m] == '\n');
        }
        char *line = strndup(p, n);
        long pid = owner_pid(line);
        /* A live owner means a run still going (another test's, another
         * user's, or this selftest starting a worker): not a leftover. */
        int live = pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
        if (!seen && !live)
            add_line(&l, "%s", line);
        free(line);
        p += n + (p[n] == '\n');
    }
    return join_lines(&l);
}

int sup_host_lock(void)
{
    int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    cr_assert(fd >= 0, "cannot open the selftest binary to lock it: %s", strerror(errno));
    while (flock(fd, LOCK_EX) < 0 && errno == EINTR)
        ;
    return fd;
}

void sup_host_unlock(int fd)
{
    flock(fd, LOCK_UN);
    close(fd);
}

/* ---- text ------------------------------------------------------------------ */

char *sup_read_file(const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return NULL;
    size_t cap = 4096, len = 0;
    char *s = malloc(cap);
    size_t r;
    while ((r = fread(s + len, 1, cap - len - 1, f)) > 0) {
        len += r;
        if (len + 1 == cap)
            s = realloc(s, cap *= 2);
    }
    s[len] = '\0';
    fclose(f);
    return s;
}

int sup_count_lines(const char *s)
{
    int n = 0;
    for (; s && *s; s++)
        n += *s == '\n';
    return n;
}

int sup_count(const char *s, const char *needle)
{
    int n = 0;
    for (const char *p = s; p && (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

int sup_line_of(const char *path, const char *needle)
{
    char *s = sup_read_file(path);
    if (!s)
        return 0;
    char *hit = strstr(s, needle);
    int line = 0;
    if (hit) {
        line = 1;
        for (char *p = s; p < hit; p++)
            line += *p == '\n';
    }
    free(s);
    return line;
}

static char *replace_all(char *s, const char *pattern, const char *with)
{
    regex_t re;
    if (regcomp(&re, pattern, REG_EXTENDED) != 0)
        return s;
    size_t cap = strlen(s) * 2 + 64, len = 0;
    char *out = malloc(cap);
    const char *p = s;
    regmatch_t m;
    int flags = 0;
    while (*p && regexec(&re, p, 1, &m, flags) == 0 && m.rm_eo > 0) {
        size_t need = len + (size_t)m.rm_so + strlen(with) + 1;
        if (need >= cap)
            out = realloc(out, cap = need * 2);
        memcpy(out + len, p, (size_t)m.rm_so);
        len += (size_t)m.rm_so;
        memcpy(out + len, with, strlen(with));
        len += strlen(with);
        p += m.rm_eo;
        flags = REG_NOTBOL;
    }
    size_t rest = strlen(p);
    if (len + rest + 1 >= cap)
        out = realloc(out, len + rest + 1);
    memcpy(out + len, p, rest + 1);
    regfree(&re);
    free(s);
    return out;
}

char *sup_normalize(const char *s)
{
    char *t = strdup(s);
    t = replace_all(t, "/ipcv[0-9]+\\.", "/ipcvPID.");
    t = replace_all(t, "key 0x[0-9a-f]+", "key KEY");
    t = replace_all(t, "creator pid [0-9]+", "creator pid PID");
    t = replace_all(t, "demo_cases\\.c:[0-9]+", "demo_cases.c:LINE");
    return t;
}

char *sup_golden_diff(const char *name, const char *actual)
{
    char path[PATH_MAX * 2], out[PATH_MAX * 2];
    snprintf(path, sizeof path, "%s/tests/expected/%s", sup_top(), name);
    const char *upd = getenv("IPCVET_UPDATE_EXPECTED");
    if (upd && !strcmp(upd, "1")) {
        FILE *f = fopen(path, "we");
        if (f) {
            fputs(actual, f);
            fclose(f);
        }
        return NULL;
    }
    char *expected = sup_read_file(path);
    char *why = NULL;
    if (!expected) {
        if (asprintf(&why, "cannot read %s: %s", path, strerror(errno)) < 0)
            why = NULL;
    } else if (strcmp(expected, actual)) {
        const char *a = expected, *b = actual;
        int line = 1;
        while (*a && *a == *b) {
            line += *a == '\n';
            a++;
            b++;
        }
        while (a > expected && a[-1] != '\n') { a--; b--; }
        if (asprintf(&why, "%s differs at line %d:\n  expected: %.*s\n  actual:   %.*s",
                     path, line, (int)strcspn(a, "\n"), a, (int)strcspn(b, "\n"), b) < 0)
            why = NULL;
    }
    if (why) {
        snprintf(out, sizeof out, "%s/%s.actual", sup_scratch(), name);
        FILE *f = fopen(out, "we");
        if (f) {
            fputs(actual, f);
            fclose(f);
        }
        char *more;
        if (asprintf(&more, "%s\n  (actual output in %s; IPCVET_UPDATE_EXPECTED=1 rewrites it)",
                     why, out) >= 0) {
            free(why);
            why = more;
        }
    }
    free(expected);
    return why;
}

/* ---- running demo cases ------------------------------------------------------- */

struct sup_json *sup_run_demo_json(struct sup_cmd *c, double seconds, const char *const *env,
                                   const char *const *args)
{
    static unsigned k;
    char path[PATH_MAX * 2];
    snprintf(path, sizeof path, "%s/run-%d-%u.json", sup_scratch(), (int)getpid(), ++k);
    unlink(path);
    size_t n = 0;
    while (args[n])
        n++;
    const char **argv = calloc(n + 5, sizeof *argv);
    size_t a = 0;
    argv[a++] = sup_demo();
    argv[a++] = "run";
    for (size_t i = 0; i < n; i++)
        argv[a++] = args[i];
    argv[a++] = "--json";
    argv[a++] = path;
    argv[a] = NULL;
    sup_run(c, seconds, argv, env);
    free(argv);
    char *text = sup_read_file(path);
    unlink(path);
    if (!text)
        return NULL;
    char err[256];
    struct sup_json *v = sup_json_parse(text, err, sizeof err);
    cr_assert(v, "run --json wrote invalid JSON: %s\n%s", err, text);
    free(text);
    return v;
}

const struct sup_json *sup_result(const struct sup_json *report, const char *name)
{
    const struct sup_json *res = sup_json_get(report, "results");
    for (size_t i = 0; res && i < res->n; i++) {
        const struct sup_json *nm = sup_json_get(&res->items[i], "name");
        if (nm && nm->str && !strcmp(nm->str, name))
            return &res->items[i];
    }
    return NULL;
}

const char *sup_result_str(const struct sup_json *report, const char *name, const char *field)
{
    const struct sup_json *v = sup_json_get(sup_result(report, name), field);
    return v && v->type == SUP_JSTR && v->str ? v->str : "";
}

const char *sup_fresh_dir(const char *what)
{
    static char dir[PATH_MAX * 2];
    static unsigned k;
    snprintf(dir, sizeof dir, "%s/%s-%d-%u", sup_scratch(), what, (int)getpid(), ++k);
    char cmd[PATH_MAX * 2 + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0 || mkdir(dir, 01777) < 0)
        cr_assert_fail("cannot make %s: %s", dir, strerror(errno));
    chmod(dir, 01777);
    return dir;
}

void sup_remove_dir(const char *dir)
{
    char cmd[PATH_MAX * 2 + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "selftest: cannot remove %s\n", dir);
}
