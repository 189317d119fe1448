/* ipcvet bench: overheads measured side by side in one run, as ratios.
 *
 * interposer: the same functions called directly (libc's own symbols) and
 *   through libipcvet-faults.so, disarmed and armed, interleaved round by
 *   round so that a busy machine moves every variant alike;
 * case overhead: ipcv_bench_isolation() (bench_isolation.c);
 * explore throughput: the weak hook ipcv_bench_explore() below, for
 *   whoever builds explore to define. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/sem.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "cli.h"
#include "faults.h"

/* Explore throughput (runs per second against a bare exec of the program):
 * define this in the explore code; it fills up to `max` rows and returns
 * how many. Until then `ipcvet bench` says it was not measured. */
int ipcv_bench_explore(const char *self, struct ipcv_bench_row *rows, int max) __attribute__((weak));

#define MAX_ROWS  128
#define MAX_NOTES 16
#define ROUNDS    11

struct bench_row {
    char section[32], operation[48], variant[48];
    double ns;
    int calls;
};

struct nbench {
    struct bench_row rows[MAX_ROWS];
    int n;
    struct { char section[32], text[200]; } notes[MAX_NOTES];
    int nnotes;
};

static void bench_add(struct nbench *b, const char *section, const char *operation,
                    const char *variant, double ns, int calls)
{
    if (b->n == MAX_ROWS)
        return;
    struct bench_row *r = &b->rows[b->n++];
    snprintf(r->section, sizeof r->section, "%s", section);
    snprintf(r->operation, sizeof r->operation, "%s", operation);
    snprintf(r->variant, sizeof r->variant, "%s", variant);
    r->ns = ns;
    r->calls = calls;
}

static void bench_note(struct nbench *b, const char *section, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void bench_note(struct nbench *b, const char *section, const char *fmt, ...)
{
    if (b->nnotes == MAX_NOTES)
        return;
    snprintf(b->notes[b->nnotes].section, sizeof b->notes[0].section, "%s", section);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->notes[b->nnotes].text, sizeof b->notes[0].text, fmt, ap);
    va_end(ap);
    b->nnotes++;
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void bench_interleaved(struct nbench *b, const char *section, const char *operation,
                            int calls, const char *const *variants, int nvariants,
                            void (*set)(int variant, void *arg), void (*fn)(void *arg),
                            void *arg, long iters, int rounds)
{
    double *samples = calloc((size_t)nvariants * (size_t)rounds, sizeof *samples);
    if (!samples)
        return;
    for (int v = 0; v < nvariants; v++) {   /* warm every path once */
        set(v, arg);
        for (long i = 0; i < iters / 10 + 1; i++)
            fn(arg);
    }
    for (int r = 0; r < rounds; r++) {
        for (int v = 0; v < nvariants; v++) {
            set(v, arg);
            double t0 = now_ns();
            for (long i = 0; i < iters; i++)
                fn(arg);
            samples[v * rounds + r] = (now_ns() - t0) / (double)iters;
        }
    }
    for (int v = 0; v < nvariants; v++) {
        qsort(samples + v * rounds, (size_t)rounds, sizeof *samples, cmp_double);
        bench_add(b, section, operation, variants[v], samples[v * rounds + rounds / 2], calls);
    }
    free(samples);
}

/* ---- the interposer ---------------------------------------------------------- */

enum { V_DIRECT, V_DISARMED, V_ARMED_OTHER, V_ARMED_OWN, NV };
static const char *const variants[NV] = {
    "direct (libc)", "interposed, disarmed", "interposed, armed (other rule)",
    "interposed, armed (rule never fires)",
};

typedef int (*int_ptr_fn)(void *);
typedef ssize_t (*rw_fn)(int, void *, size_t);
typedef int (*semop_fn)(int, struct sembuf *, size_t);

struct op {
    const char *names[2];     /* the two functions of one operation */
    void *direct[2], *wrapped[2];
    void *use[2];
    char own_plan[160];
    pthread_mutex_t mutex;
    sem_t sem;
    int fds[2];
    int semid;
};

static void *libc_handle, *faults_handle;

static int resolve(struct op *o)
{
    for (int i = 0; i < 2; i++) {
        o->direct[i] = dlsym(libc_handle, o->names[i]);
        o->wrapped[i] = dlsym(faults_handle, o->names[i]);
        if (!o->direct[i] || !o->wrapped[i] || o->direct[i] == o->wrapped[i])
            return -1;
    }
    snprintf(o->own_plan, sizeof o->own_plan, "%s,%s:error=EINVAL:when=4000000000", o->names[0],
             o->names[1]);
    return 0;
}

static void set_variant(int v, void *arg)
{
    struct op *o = arg;
    char err[256];
    for (int i = 0; i < 2; i++)
        o->use[i] = v == V_DIRECT ? o->direct[i] : o->wrapped[i];
    if (v == V_ARMED_OTHER)
        ipcv_faults_arm("shmdt:error=EINVAL:when=4000000000", err, sizeof err);
    else if (v == V_ARMED_OWN)
        ipcv_faults_arm(o->own_plan, err, sizeof err);
    else
        ipcv_faults_disarm();
}

static void mutex_op(void *arg)
{
    struct op *o = arg;
    ((int_ptr_fn)o->use[0])(&o->mutex);
    ((int_ptr_fn)o->use[1])(&o->mutex);
}

static void sem_op(void *arg)
{
    struct op *o = arg;
    ((int_ptr_fn)o->use[0])(&o->sem);
    ((int_ptr_fn)o->use[1])(&o->sem);
}

static void pipe_op(void *arg)
{
    struct op *o = arg;
    char c = 'x';
    ((rw_fn)o->use[0])(o->fds[1], &c, 1);
    ((rw_fn)o->use[1])(o->fds[0], &c, 1);
}

static void semop_op(void *arg)
{
    struct op *o = arg;
    struct sembuf up = { 0, 1, IPC_NOWAIT }, down = { 0, -1, IPC_NOWAIT };
    ((semop_fn)o->use[0])(o->semid, &up, 1);
    ((semop_fn)o->use[1])(o->semid, &down, 1);
}

/* SysV objects only in a private IPC namespace: the host's stays untouched
 * even if we are killed mid-way. */
static int private_ipc(void)
{
    return unshare(CLONE_NEWIPC) == 0 || unshare(CLONE_NEWUSER | CLONE_NEWIPC) == 0;
}

static void bench_interposer(struct nbench *b)
{
    const char *sec = "interposer";
    const char *lib = ipcv_faults_library();
    libc_handle = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
    faults_handle = lib ? dlopen(lib, RTLD_NOW | RTLD_NOLOAD) : NULL;
    if (!libc_handle || !faults_handle) {
        bench_note(b, sec, "not measured: cannot find libc or libipcvet-faults.so in this process");
        return;
    }
    struct op o;

    memset(&o, 0, sizeof o);
    o.names[0] = "pthread_mutex_lock";
    o.names[1] = "pthread_mutex_unlock";
    pthread_mutex_init(&o.mutex, NULL);
    if (resolve(&o) == 0)
        bench_interleaved(b, sec, "pthread_mutex_lock + unlock", 2, variants, NV, set_variant,
                               mutex_op, &o, 200000, ROUNDS);

    memset(&o, 0, sizeof o);
    o.names[0] = "sem_post";
    o.names[1] = "sem_trywait";
    sem_init(&o.sem, 0, 0);
    if (resolve(&o) == 0)
        bench_interleaved(b, sec, "sem_post + sem_trywait", 2, variants, NV, set_variant,
                               sem_op, &o, 200000, ROUNDS);
    sem_destroy(&o.sem);

    memset(&o, 0, sizeof o);
    o.names[0] = "write";
    o.names[1] = "read";
    if (pipe(o.fds) == 0 && resolve(&o) == 0)
        bench_interleaved(b, sec, "write + read 1 byte, pipe", 2, variants, NV, set_variant,
                               pipe_op, &o, 20000, ROUNDS);
    close(o.fds[0]);
    close(o.fds[1]);

    /* In a child: the private IPC namespace must not outlive the figure. */
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        memset(&o, 0, sizeof o);
        o.names[0] = "semop";
        o.names[1] = "semop";
        if (!private_ipc()) {
            bench_note(b, sec, "semop not measured: no private IPC namespace here (%s)", strerror(errno));
        } else if ((o.semid = semget(IPC_PRIVATE, 1, IPC_CREAT | 0600)) >= 0) {
            if (resolve(&o) == 0)
                bench_interleaved(b, sec, "semop +1 then -1, IPC_NOWAIT", 2, variants, NV,
                                  set_variant, semop_op, &o, 20000, ROUNDS);
            semctl(o.semid, 0, IPC_RMID);
        }
        _exit(0);
    }
    if (pid > 0)
        waitpid(pid, NULL, 0);
    ipcv_faults_disarm();
    bench_note(b, sec, "armed (other rule): a plan for shmdt only; armed (rule never fires): "
                            "FUNC:error=EINVAL:when=4000000000 on the measured calls");
}

/* ---- output ------------------------------------------------------------------- */

static void print_table(const struct nbench *b)
{
    const char *section = "";
    const struct bench_row *base = NULL;
    for (int i = 0; i < b->n; i++) {
        const struct bench_row *r = &b->rows[i];
        if (strcmp(r->section, section)) {
            section = r->section;
            printf("\n%s (medians of %d interleaved rounds; ratio and ns/call against the first row "
                   "of each operation)\n  %-30s %-38s %10s %7s %11s\n", section, ROUNDS, "operation",
                   "variant", "ns/op", "ratio", "ns/call");
        }
        int first = !base || strcmp(base->operation, r->operation) || strcmp(base->section, r->section);
        if (first)
            base = r;
        printf("  %-30s %-38s %10.1f %6.2fx", first ? r->operation : "", r->variant, r->ns,
               base->ns > 0 ? r->ns / base->ns : 0);
        if (!first && r->calls > 0)
            printf(" %+10.1f", (r->ns - base->ns) / r->calls);
        putchar('\n');
    }
    for (int i = 0; i < b->nnotes; i++)
        printf("  note (%s): %s\n", b->notes[i].section, b->notes[i].text);
}

/* Members of the JSON array bench_isolation.c's rows also go into: the
 * same keys (group, name, us, vs, ratio) and the finer figures. */
static void print_json(const struct nbench *b, int *first)
{
    const struct bench_row *base = NULL;
    for (int i = 0; i < b->n; i++) {
        const struct bench_row *r = &b->rows[i];
        if (!base || strcmp(base->operation, r->operation) || strcmp(base->section, r->section))
            base = r;
        char name[128];
        snprintf(name, sizeof name, "%s: %s", r->operation, r->variant);
        printf("%s  {\"group\": ", *first ? "" : ",\n");
        ipcv_json_str(stdout, r->section);
        fputs(", \"name\": ", stdout);
        ipcv_json_str(stdout, name);
        printf(", \"us\": %.6f, \"vs\": ", r->ns / 1000);
        if (base != r)
            ipcv_json_str(stdout, base->variant);
        else
            fputs("null", stdout);
        printf(", \"ratio\": %.3f, \"ns\": %.2f, \"calls\": %d, \"ns_per_call_over_vs\": %.2f}",
               base->ns > 0 ? r->ns / base->ns : 0, r->ns, r->calls,
               r->calls > 0 ? (r->ns - base->ns) / r->calls : 0);
        *first = 0;
    }
    for (int i = 0; i < b->nnotes; i++) {
        printf("%s  {\"group\": ", *first ? "" : ",\n");
        ipcv_json_str(stdout, b->notes[i].section);
        fputs(", \"note\": ", stdout);
        ipcv_json_str(stdout, b->notes[i].text);
        fputc('}', stdout);
        *first = 0;
    }
}

int ipcv_cmd_bench(int argc, char **argv)
{
    static const struct option opts[] = { { "json", no_argument, NULL, 'J' }, { 0 } };
    int json = 0, c;
    opterr = 0;
    optind = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'J')
            json = 1;
        else
            ipcv_usage_error("bench: unknown option '%s'", ipcv_bad_option(argv));
    }
    if (optind < argc)
        ipcv_usage_error("bench: unexpected argument '%s'", argv[optind]);

    char self[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0) {
        fprintf(stderr, "ipcvet: bench: cannot find my own executable: %s\n", strerror(errno));
        return IPCV_EXIT_USAGE;
    }
    self[len] = '\0';

    /* Shared, so that a measuring child can add its rows. */
    struct nbench *b = mmap(NULL, sizeof *b, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (b == MAP_FAILED)
        return IPCV_EXIT_USAGE;
    if (!json)
        fputs("ipcvet bench: figures measured side by side in this run; each ratio is against "
              "the row named beside it\n", stdout);
    fflush(stdout);
    /* Interposer first: the other groups fork and exec, the figures here
     * are nanoseconds and want a quiet process. */
    bench_interposer(b);
    struct ipcv_bench_row iso[16], exp[16];
    int niso = ipcv_bench_isolation(self, iso, 16);
    int nexp = ipcv_bench_explore ? ipcv_bench_explore(self, exp, 16) : 0;
    int first = 1;
    if (json) {
        puts("[");
        print_json(b, &first);
        ipcv_bench_print(stdout, "case overhead", iso, niso, 1, &first);
        ipcv_bench_print(stdout, "explore throughput", exp, nexp, 1, &first);
        puts("\n]");
    } else {
        print_table(b);
        ipcv_bench_print(stdout, "case overhead against the isolation floor", iso, niso, 0, &first);
        if (nexp)
            ipcv_bench_print(stdout, "explore throughput", exp, nexp, 0, &first);
        else
            puts("\nexplore throughput\n  not measured: explore is not built yet");
    }
    munmap(b, sizeof *b);
    return IPCV_EXIT_OK;
}
