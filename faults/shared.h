/* What `ipcvet exec` and the preloaded library share: the environment that
 * carries the plan, and one memfd page (IPCVET_SHARED_FD) where every
 * process of the run registers itself (lineage, command, the blocking call
 * it is in, how it ended) and records the IPC objects it creates. No
 * control thread, no FIFO: a SIGKILLed process leaves its slot readable. */
#ifndef IPCV_FAULTS_SHARED_H
#define IPCV_FAULTS_SHARED_H

#include <stdatomic.h>

#define IPCV_ENV_PLAN   "IPCVET_PLAN"       /* rules, one per line */
#define IPCV_ENV_SEED   "IPCVET_SEED"
#define IPCV_ENV_SHARED "IPCVET_SHARED_FD"
#define IPCV_ENV_TRACE  "IPCVET_TRACE_FD"
#define IPCV_ENV_FIU    "IPCVET_FIU"
/* Recording (ipcvet explore's baseline): every wrapped call of every process
 * appends one line to this descriptor (opened O_APPEND):
 *   LINEAGE \t FUNCTION \t OCCURRENCE \t SITE \t OK \t ERRNO \t USAGE \t CATCHES \t ARGS
 * SITE is where the call came from as MODULE+0xOFFSET (stable under ASLR);
 * USAGE is what the call used of the IPC limits ("msgmax=64 msgmnb=640",
 * or "-"); CATCHES is 1 when the process had a signal handler then (so
 * EINTR was possible). */
#define IPCV_ENV_RECORD "IPCVET_RECORD_FD"

#define IPCV_SH_MAGIC   0x69706376u
#define IPCV_SH_VERSION 1u
#define IPCV_SH_PROCS   512
#define IPCV_SH_OBJS    2048
#define IPCV_SH_RULES   32
#define IPCV_SH_LEAKS   128
#define IPCV_LINEAGE    64

enum { IPCV_SLOT_FREE, IPCV_SLOT_LIVE, IPCV_SLOT_ENDED };

struct ipcv_sh_proc {
    atomic_int state;               /* IPCV_SLOT_* */
    int pid;                        /* getpid() in the run's PID namespace */
    int procpid;                    /* the same process as /proc names it */
    int ppid;
    int has_lib;                    /* the library registered it */
    char lineage[IPCV_LINEAGE];     /* "0", "0.1", "0.1.2"; "?" unknown */
    char comm[32];
    atomic_uint nchildren;          /* forks so far: the next child's index */
    int status_known;
    int wstatus;                    /* wait status, when known */
    atomic_int injected_sig;        /* a signal the plan delivered, or 0 */
    char injected_what[16];         /* "signal", "crash_after" */
    atomic_int call_fn;             /* point id + 1 of its blocking call, or 0 */
    int call_tid;
    char call_args[200];
    atomic_ulong fired;             /* calls a rule acted on */
    int hung;                       /* alive at the deadline */
    char blocked[200];              /* what /proc says it sleeps in */
};

enum { IPCV_EV_CREATE = 1, IPCV_EV_DESTROY = 2 };

/* An object event recorded by a wrapper after a successful call. */
struct ipcv_sh_obj {
    int what;                       /* IPCV_EV_CREATE / DESTROY */
    char kind[12];                  /* census kind name: "sysv_shm", "posix_mq" */
    long id;                        /* SysV id, else -1 */
    int key;
    int pid;
    char lineage[IPCV_LINEAGE];
    char comm[32];
    char name[128];                 /* POSIX name with its leading '/' */
};

/* An object left behind, found by the supervisor's census. */
struct ipcv_sh_leak {
    char kind[12];
    long id;
    int key;
    char name[260];
    int pid;                        /* creator, 0 if unknown */
    char lineage[IPCV_LINEAGE];
    char comm[32];
};

struct ipcv_shared {
    unsigned magic, version;
    atomic_uint nprocs;
    atomic_uint nobjs;
    atomic_ulong rule_fired[IPCV_SH_RULES];
    /* Written by the supervisor. */
    int root_pid;
    int timed_out;
    int exec_errno;                 /* CMD could not be started */
    int nleaks;
    int leaks_dropped;
    int census_failed;
    int done;
    struct ipcv_sh_leak leaks[IPCV_SH_LEAKS];
    struct ipcv_sh_proc procs[IPCV_SH_PROCS];
    struct ipcv_sh_obj objs[IPCV_SH_OBJS];
};

#endif
