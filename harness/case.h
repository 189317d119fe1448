/* A conformance case: metadata, the shared result page, and the lifecycle
 * that puts every case in its own sandbox under a watchdog and a census. */
#ifndef IPCV_CASE_H
#define IPCV_CASE_H

#include <setjmp.h>
#include <stdatomic.h>
#include <sys/types.h>
#include <criterion/criterion.h>

#include "expect.h"

/* What `ipcvet list` shows; lives in the `ipcv_cases` ELF section. */
struct ipcv_case_meta {
    const char *mech;
    const char *name;
    const char *tags;     /* space separated: api multi sync crash fault limit cleanup */
    const char *covers;   /* space separated behaviour ids: "B123 B124" */
    const char *spec;     /* "shmctl(2) IPC_RMID" or "POSIX.1-2017 shmget()" */
    const char *desc;     /* the behaviour, as a sentence */
    const char *file;
    int line;
    double timeout;       /* harness deadline in seconds (0: the default) */
};

#define IPCV_MAX_RECORDS 48
#define IPCV_MAX_PROCS   32
#define IPCV_MSG_LEN     320

struct ipcv_record_slot {
    int verdict;                 /* enum ipcv_verdict */
    pid_t pid;
    char who[24];                /* "coordinator" or the role's name */
    char where[80];              /* file:line */
    char msg[IPCV_MSG_LEN];
};

/* What each process of the case is doing right now, for the watchdog. */
struct ipcv_proc_slot {
    pid_t pid;                   /* pid as the coordinator sees it */
    char who[24];
    char call[48];               /* the harness call it is in, if any */
    char where[80];
    atomic_int ready;            /* role said ready (EOF alone may mean death) */
};

/* One page shared by the coordinator and all roles (MAP_SHARED). */
struct ipcv_page {
    atomic_uint nrecords;
    atomic_uint dropped;
    struct ipcv_record_slot records[IPCV_MAX_RECORDS];
    atomic_uint nprocs;
    struct ipcv_proc_slot procs[IPCV_MAX_PROCS];
    atomic_uint case_over;        /* set when the coordinator ends the case */
    atomic_uint checkpoints[64];  /* futex words, see checkpoint.h */
    char scratch[4096];           /* free for the case's own use */
};

/* Per-process state; valid inside a case only. */
struct ipcv_self {
    struct ipcv_page *page;
    int is_role;                 /* 0 in the coordinator */
    char who[24];
    struct ipcv_proc_slot *slot;
};
extern struct ipcv_self ipcv_self;

/* The running case (coordinator only). */
extern const struct ipcv_case_meta *ipcv_current;

void ipcv_case_begin(const struct ipcv_case_meta *meta);
void ipcv_case_end(void);
extern sigjmp_buf ipcv_case_jmp;       /* brk/skip/watchdog jump here */

/* Does the case have an IPC namespace of its own (not --isolate none)?
 * Cases that write namespace sysctls ask before they do. */
int ipcv_case_isolated(void);

/* Say which blocking call this process is about to make (shown on a hang). */
void ipcv_mark_call(const char *call, const char *file, int line);
void ipcv_clear_call(void);

/* The harness watchdog fires first and names what each process is blocked
 * in; Criterion's own timeout (which kills only the worker) is a backstop. */
#define IPCV_DEFAULT_TIMEOUT   10.0
#define IPCV_CRITERION_TIMEOUT 300.0

#define IPCV_CASE(mech_, name_, ...)                                          \
    static void ipcv_body_##mech_##_##name_(void);                            \
    static const struct ipcv_case_meta ipcv_meta_##mech_##_##name_ = {       \
        .mech = #mech_, .name = #name_, .file = __FILE__, .line = __LINE__,  \
        __VA_ARGS__ };                                                        \
    __attribute__((used, section("ipcv_cases")))                              \
    static const struct ipcv_case_meta *ipcv_metap_##mech_##_##name_ =       \
        &ipcv_meta_##mech_##_##name_;                                         \
    Test(mech_, name_, .timeout = IPCV_CRITERION_TIMEOUT)                     \
    {                                                                         \
        ipcv_case_begin(&ipcv_meta_##mech_##_##name_);                        \
        if (sigsetjmp(ipcv_case_jmp, 1) == 0)                                 \
            ipcv_body_##mech_##_##name_();                                    \
        ipcv_case_end();                                                      \
    }                                                                         \
    static void ipcv_body_##mech_##_##name_(void)

/* Walk every registered case (any process, no Criterion needed). */
extern const struct ipcv_case_meta *const __start_ipcv_cases[] __attribute__((weak));
extern const struct ipcv_case_meta *const __stop_ipcv_cases[] __attribute__((weak));
#define IPCV_FOREACH_CASE(m)                                                  \
    for (const struct ipcv_case_meta *const *m##_p = __start_ipcv_cases;     \
         m##_p < __stop_ipcv_cases && ((m) = *m##_p, 1); m##_p++)

#endif
