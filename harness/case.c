#define _GNU_SOURCE
#include "case.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "census.h"
#include "roles.h"
#include "sandbox.h"
#include "watchdog.h"

struct ipcv_self ipcv_self;
const struct ipcv_case_meta *ipcv_current;
sigjmp_buf ipcv_case_jmp;

static struct ipcv_sandbox sandbox;
static volatile sig_atomic_t in_body;

pid_t ipcv_case_anchor(void) { return sandbox.anchor; }
int ipcv_case_isolated(void) { return sandbox.mode == IPCV_ISOLATE_NS; }
const struct ipcv_sandbox *ipcv_case_sandbox(void) { return &sandbox; }

const char *ipcv_errname(int err)
{
    static __thread char buf[32];
    const char *name = err ? strerrorname_np(err) : "success";
    if (name)
        return name;
    snprintf(buf, sizeof buf, "errno %d", err);
    return buf;
}

static void vrecord(enum ipcv_verdict v, const char *file, int line,
                    const char *fmt, va_list ap)
{
    struct ipcv_page *pg = ipcv_self.page;
    if (!pg) {   /* outside a case: say it, there is nowhere to keep it */
        fprintf(stderr, "%s:%d: ", file, line);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        return;
    }
    unsigned k = atomic_fetch_add(&pg->nrecords, 1);
    if (k >= IPCV_MAX_RECORDS) {
        atomic_fetch_add(&pg->dropped, 1);
        return;
    }
    struct ipcv_record_slot *r = &pg->records[k];
    r->pid = getpid();
    snprintf(r->who, sizeof r->who, "%s", ipcv_self.who);
    snprintf(r->where, sizeof r->where, "%s:%d", file, line);
    vsnprintf(r->msg, sizeof r->msg, fmt, ap);
    atomic_thread_fence(memory_order_release);
    r->verdict = v;
}

void ipcv_record(enum ipcv_verdict v, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vrecord(v, file, line, fmt, ap);
    va_end(ap);
}

static _Noreturn void stop_here(int role_exit)
{
    if (ipcv_self.is_role) {
        fflush(NULL);
        _exit(role_exit);
    }
    if (in_body)
        siglongjmp(ipcv_case_jmp, 1);
    /* Outside a case body (tests of the harness itself). */
    exit(role_exit);
}

void ipcv_brk(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vrecord(IPCV_BROKEN, file, line, fmt, ap);
    va_end(ap);
    stop_here(IPCV_ROLE_BROKEN);
}

void ipcv_skip_at(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vrecord(IPCV_SKIP, file, line, fmt, ap);
    va_end(ap);
    stop_here(IPCV_ROLE_SKIP);
}

void ipcv_mark_call(const char *call, const char *file, int line)
{
    struct ipcv_proc_slot *s = ipcv_self.slot;
    if (!s)
        return;
    snprintf(s->call, sizeof s->call, "%s", call);
    snprintf(s->where, sizeof s->where, "%s:%d", file, line);
}

void ipcv_clear_call(void)
{
    if (ipcv_self.slot)
        ipcv_self.slot->call[0] = '\0';
}

/* Called in the child by roles.c: the role's own identity and slot. */
void ipcv_case_enter_role(const char *name, struct ipcv_proc_slot *slot)
{
    ipcv_self.is_role = 1;
    snprintf(ipcv_self.who, sizeof ipcv_self.who, "%s", name);
    ipcv_self.slot = slot;
}

static void on_watchdog_signal(int sig)
{
    (void)sig;
    if (in_body)
        siglongjmp(ipcv_case_jmp, 2);
}

/* Runs in the sandbox's anchor when the deadline passes: say what every
 * process of the case is blocked in, then interrupt the coordinator. */
static void on_expiry(double seconds)
{
    struct ipcv_page *pg = ipcv_self.page;
    char msg[IPCV_MSG_LEN], one[200];
    int used = snprintf(msg, sizeof msg, "timed out after %.1f s:", seconds);
    unsigned n = atomic_load(&pg->nprocs);
    for (unsigned i = 0; i < n && i < IPCV_MAX_PROCS && used < (int)sizeof msg; i++) {
        struct ipcv_proc_slot *s = &pg->procs[i];
        ipcv_describe_blocked(s->pid, 0, one, sizeof one);
        if (!strcmp(one, "gone") || !strncmp(one, "exited", 6))
            continue;
        used += snprintf(msg + used, sizeof msg - used, "%s %s%s%s in %s%s%s%s%s%s",
                         i > 0 ? ";" : "",
                         i ? "role '" : "", s->who, i ? "'" : "", one,
                         s->call[0] ? " (" : "", s->call, s->call[0] ? " at " : "",
                         s->where, s->call[0] ? ")" : "");
    }
    if (atomic_load(&pg->case_over))
        return;
    ipcv_record(IPCV_FAIL, ipcv_current->file, ipcv_current->line, "%s", msg);
    ipcv_watchdog_fire();
}

static enum ipcv_isolation wanted_isolation(void)
{
    const char *s = getenv("IPCVET_ISOLATE");
    int m = s ? ipcv_isolation_parse(s) : IPCV_ISOLATE_AUTO;
    return m < 0 ? IPCV_ISOLATE_AUTO : (enum ipcv_isolation)m;
}

static struct ipcv_census baseline;
static time_t case_started;

/* Without namespaces the census sees the whole host: judge (and remove)
 * only what this case made. POSIX names carry a case process's pid
 * (ipcv_name), a segment its creator's pid; queues and semaphore sets show
 * no creator pid, so: our uid, made or changed since the case began. */
static int made_by_case(const struct ipcv_object *o)
{
    if (sandbox.mode == IPCV_ISOLATE_NS)
        return 1;
    struct ipcv_page *pg = ipcv_self.page;
    unsigned n = atomic_load(&pg->nprocs);
    for (unsigned i = 0; i < n && i < IPCV_MAX_PROCS; i++) {
        char prefix[32];
        snprintf(prefix, sizeof prefix, "/ipcv%d.", (int)pg->procs[i].pid);
        if (o->id < 0 && !strncmp(o->name, prefix, strlen(prefix)))
            return 1;
        if (o->kind == IPCV_OBJ_SYSV_SHM && o->cpid == pg->procs[i].pid)
            return 1;
    }
    return (o->kind == IPCV_OBJ_SYSV_MSG || o->kind == IPCV_OBJ_SYSV_SEM) &&
           o->cuid == geteuid() && o->ctime >= case_started;
}

void ipcv_case_begin(const struct ipcv_case_meta *meta)
{
    char err[256];
    ipcv_current = meta;
    struct ipcv_page *pg = mmap(NULL, sizeof *pg, PROT_READ | PROT_WRITE,
                                MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (pg == MAP_FAILED)
        cr_assert_fail("ipcvet: cannot map the case's result page: %s", strerror(errno));
    ipcv_self = (struct ipcv_self){ .page = pg, .is_role = 0, .who = "coordinator" };
    atomic_store(&pg->nprocs, 1);
    pg->procs[0].pid = getpid();
    snprintf(pg->procs[0].who, sizeof pg->procs[0].who, "coordinator");
    ipcv_self.slot = &pg->procs[0];

    if (ipcv_watchdog_arm(on_watchdog_signal) < 0)
        cr_assert_fail("ipcvet: watchdog: %s", strerror(errno));
    struct ipcv_deadline dl = {
        .seconds = (meta->timeout > 0 ? meta->timeout : IPCV_DEFAULT_TIMEOUT) * ipcv_timeout_mul(),
        .on_expiry = on_expiry,
    };
    if (ipcv_sandbox_enter(&sandbox, wanted_isolation(), &dl, err, sizeof err) < 0)
        cr_assert_fail("ipcvet: sandbox: %s", err);
    case_started = time(NULL);
    if (ipcv_census_take(&baseline, &sandbox) < 0)
        cr_assert_fail("ipcvet: census: %s", strerror(errno));
    in_body = 1;
}

static void report_records(void)
{
    struct ipcv_page *pg = ipcv_self.page;
    unsigned n = atomic_load(&pg->nrecords);
    const char *skip = NULL;
    int failures = 0;
    for (unsigned i = 0; i < n && i < IPCV_MAX_RECORDS; i++) {
        struct ipcv_record_slot *r = &pg->records[i];
        if (r->verdict == IPCV_SKIP) {
            skip = skip ? skip : r->msg;
            continue;
        }
        if (!r->verdict)
            continue;
        char *msg = NULL;
        const char *who = strcmp(r->who, "coordinator") ? r->who : NULL;
        if (asprintf(&msg, "%s%s%s%s%s", r->verdict == IPCV_BROKEN ? "BROKEN (set-up failed, no verdict): " : "",
                     who ? "role '" : "", who ? who : "", who ? "': " : "", r->msg) < 0)
            continue;
        /* Report at the check's own file:line, not here. */
        char *colon = strrchr(r->where, ':');
        if (colon)
            *colon = '\0';
        struct criterion_assert_stats st = {
            .message = msg, .passed = false,
            .file = r->where, .line = colon ? (unsigned)atoi(colon + 1) : 0,
        };
        criterion_send_assert(&st);
        free(msg);
        failures++;
    }
    if (atomic_load(&pg->dropped))
        cr_expect_fail("%u more failures were not kept", atomic_load(&pg->dropped));
    if (skip && !failures)
        cr_skip_test("%s", skip);
}

void ipcv_case_end(void)
{
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, IPCV_WATCHDOG_SIGNAL);
    sigprocmask(SIG_BLOCK, &block, &old);
    in_body = 0;
    atomic_store(&ipcv_self.page->case_over, 1);
    ipcv_watchdog_disarm();
    sigprocmask(SIG_SETMASK, &old, NULL);

    ipcv_roles_kill_all();
    ipcv_sandbox_kill_all(&sandbox);

    /* The census: whatever the case created and did not remove. */
    struct ipcv_census now = { 0 }, left = { 0 };
    if (ipcv_census_take(&now, &sandbox) == 0) {
        ipcv_census_diff(&baseline, &now, &left);
        size_t k = 0;
        for (size_t i = 0; i < left.n; i++)
            if (made_by_case(&left.objs[i]))
                left.objs[k++] = left.objs[i];
        left.n = k;
        if (left.n) {
            char list[IPCV_MSG_LEN - 40];
            ipcv_census_format(&left, list, sizeof list);
            ipcv_record(IPCV_FAIL, ipcv_current->file, ipcv_current->line,
                        "left %zu IPC object%s behind: %s", left.n, left.n == 1 ? "" : "s", list);
            ipcv_census_remove(&left, &sandbox);
        }
    }
    ipcv_census_free(&now);
    ipcv_census_free(&left);
    ipcv_census_free(&baseline);
    ipcv_roles_reset();
    ipcv_sandbox_leave(&sandbox);
    report_records();
}
