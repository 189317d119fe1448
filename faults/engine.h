/* Inside libipcvet-faults: what the generated wrappers call. A wrapper's
 * fast path is one relaxed load of ipcv_state; everything else happens only
 * when something is armed (a plan, a trace, a supervisor or libfiu). */
#ifndef IPCV_ENGINE_H
#define IPCV_ENGINE_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/sem.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "faults.h"
#include "faults/ipc_gen.h"
#include "shared.h"

#define IPCV_EXPORT __attribute__((visibility("default")))
#define IPCV_STR(s) ((s) ? (s) : "(null)")

/* Bits of ipcv_state. */
#define IPCV_ST_PLAN  0x1
#define IPCV_ST_TRACE 0x2
#define IPCV_ST_SUP   0x4
#define IPCV_ST_FIU   0x8
#define IPCV_ST_REC   0x10

extern atomic_int ipcv_state;

static inline int ipcv_armed(void)
{
    return atomic_load_explicit(&ipcv_state, memory_order_relaxed);
}

/* Actions of a rule. */
#define IPCV_A_ERROR       0x01
#define IPCV_A_SIGNAL      0x02
#define IPCV_A_CRASH_AFTER 0x04
#define IPCV_A_DELAY_ENTER 0x08
#define IPCV_A_DELAY_EXIT  0x10
#define IPCV_A_SHORT       0x20

#define IPCV_SHORT_IOV 16

/* One wrapped call on the slow path. */
struct ipcv_call {
    int fn;                      /* IPCV_FN_* */
    unsigned occ;                /* its occurrence in this process, from 1 */
    int rule;                    /* the rule that acts on it, or -1 */
    unsigned acts;               /* IPCV_A_* of that rule (or libfiu's error) */
    int err;                     /* errno to fail with */
    int sig;
    unsigned long delay_enter, delay_exit;   /* microseconds */
    size_t short_n, short_from;
    int want_args, want_result;
    int recording;               /* IPCV_ST_REC: ipcv_after writes a record line */
    const void *caller;          /* return address: the call site */
    char usage[80];              /* " msgmax=64 msgmnb=640" (recording only) */
    int in_child;                /* fork: this is the child */
    int published;
    char args[200];
    char res[40];
    struct msghdr msg;           /* short=N on sendmsg/recvmsg */
    struct iovec iov[IPCV_SHORT_IOV];
};

int ipcv_enter(struct ipcv_call *c, int fn, int fd, const void *caller);
int ipcv_before(struct ipcv_call *c);
void ipcv_after(struct ipcv_call *c, int ok, int err);

void *ipcv_real(const char *name, const char *version);
void ipcv_resolve_all(void);
void ipcv_raise_sigpipe(void);
const struct iovec *ipcv_short_iov(struct ipcv_call *c, const struct iovec *iov, int *cnt);
struct msghdr *ipcv_short_msg(struct ipcv_call *c, const struct msghdr *m);
void ipcv_short_msg_done(struct ipcv_call *c, struct msghdr *orig);
pid_t ipcv_fork(pid_t (*real)(void), struct ipcv_call *c);
void ipcv_rec_object(int what, const char *kind, long id, int key, const char *name, int cond);
/* Recording: what a successful call used of a limit (faults/ipc.tbl `usage:`). */
void ipcv_usage(struct ipcv_call *c, const char *limit, unsigned long long value);
void ipcv_usage_msgq(struct ipcv_call *c, int msqid);        /* msgmnb: bytes queued now */
void ipcv_usage_mq(struct ipcv_call *c, int mqd, int oflag); /* msg_max, msgsize_max */
/* "MODULE+0xOFFSET" of a code address; "?" when no module holds it. */
void ipcv_site_of(const void *addr, char *buf, size_t len);
/* "[{0, -1, 0x1000}, ...]" for the trace and for hangs (a thread-local buffer). */
const char *ipcv_fmt_sembuf(const struct sembuf *sops, size_t nsops);

/* semctl's fourth argument, read only for the commands that take one (as
 * glibc does). */
union ipcv_semun {
    int val;
    void *buf;
    unsigned short *array;
};
#define IPCV_SEMCTL_ARG(cmd, ap) ({                                           \
    union ipcv_semun a_ = { .buf = NULL };                                    \
    switch (cmd) {                                                            \
    case SETVAL: case GETALL: case SETALL: case IPC_STAT: case IPC_SET:       \
    case IPC_INFO: case SEM_INFO: case SEM_STAT: case SEM_STAT_ANY:           \
        a_ = va_arg(ap, union ipcv_semun);                                    \
        break;                                                                \
    default:                                                                  \
        break;                                                                \
    }                                                                         \
    a_;                                                                       \
})

extern const struct ipcv_point ipcv_points[IPCV_NFN];
extern const char *const ipcv_class_names[IPCV_NCLASS];

/* Plans (plan.c). */
#define IPCV_MAX_RULES 32
#define IPCV_RULE_TEXT 256

enum { IPCV_WHEN_ALWAYS, IPCV_WHEN_RANGE, IPCV_WHEN_PROB };
enum { IPCV_PROC_ANY, IPCV_PROC_ROOT, IPCV_PROC_CHILD, IPCV_PROC_PATH, IPCV_PROC_COMM };

struct ipcv_rule {
    unsigned char fdmask[IPCV_NFN];   /* 0: not selected; fd kinds otherwise */
    unsigned acts;
    int err;                          /* errno; -1 = any documented one */
    int sig;
    unsigned long de_lo, de_hi, dx_lo, dx_hi;
    size_t short_n;
    int when;
    unsigned long first, last, step;
    double p;
    int proc;
    char proc_arg[64];
    char site[96];                    /* site=MODULE+0xOFF: only calls from there;
                                         when= then counts those calls */
    char text[IPCV_RULE_TEXT];
};

int ipcv_rule_parse(const char *text, struct ipcv_rule *r, char *err, size_t errlen);
int ipcv_signal_number(const char *name);   /* "KILL", "SIGKILL", "9" */

#endif
