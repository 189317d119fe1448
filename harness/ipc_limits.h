/* IPC limits: the namespace tunables ipcs -l shows, the mqueue limits and
 * the resource limits, readable everywhere and lowerable inside a sandbox.
 * Host-wide tunables are never written. */
#ifndef IPCV_IPC_LIMITS_H
#define IPCV_IPC_LIMITS_H

#include <stddef.h>

enum ipcv_limit_kind { IPCV_LIMIT_SYSCTL, IPCV_LIMIT_RLIMIT };

struct ipcv_limit {
    const char *name;        /* shmmax, msgmnb, queues_max, rlimit_msgqueue, ... */
    enum ipcv_limit_kind kind;
    const char *path;        /* /proc/sys/...; NULL for rlimits */
    int resource;            /* RLIMIT_* for rlimits */
    const char *what;        /* one line for `ipcvet limits` */
};

extern const struct ipcv_limit ipcv_limits[];
extern const size_t ipcv_nlimits;

const struct ipcv_limit *ipcv_limit_find(const char *name);

/* Current value (soft limit for rlimits). 0, or -1 with errno. */
int ipcv_limit_get(const struct ipcv_limit *l, unsigned long long *value);
/* Set a value: a sysctl only inside a private IPC namespace (the caller's
 * job to be in one), an rlimit's soft and hard limit. 0 or -1 (errno). */
int ipcv_limit_set(const struct ipcv_limit *l, unsigned long long value);

/* Can this machine lower / raise it inside a sandbox? Probed in a
 * throw-away child with its own IPC namespace. */
struct ipcv_limit_probe { int can_lower, can_raise; char why[96]; };
void ipcv_limit_probe(const struct ipcv_limit *l, struct ipcv_limit_probe *p);

/* Parse "NAME=V" for --limit; -1 with a message in err on bad input. */
int ipcv_limit_parse(const char *arg, const struct ipcv_limit **l,
                     unsigned long long *value, char *err, size_t errlen);

/* In a case: set a limit or skip the case with the reason. */
#define IPCV_SET_LIMIT(name, value) ipcv_set_limit_at(__FILE__, __LINE__, name, value)
void ipcv_set_limit_at(const char *file, int line, const char *name, unsigned long long value);
unsigned long long ipcv_get_limit_at(const char *file, int line, const char *name);
#define IPCV_GET_LIMIT(name) ipcv_get_limit_at(__FILE__, __LINE__, name)

/* Has the process the capability? (root here lacks CAP_SYS_RESOURCE.) */
int ipcv_has_cap(int cap);

#endif
