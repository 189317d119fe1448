/* Census: every IPC object that exists in a sandbox, so a case or a run that
 * leaves anything behind is caught and its objects are named. */
#ifndef IPCV_CENSUS_H
#define IPCV_CENSUS_H

#include <stddef.h>
#include <sys/types.h>

#include "sandbox.h"

enum ipcv_object_kind {
    IPCV_OBJ_SYSV_SHM,
    IPCV_OBJ_SYSV_MSG,
    IPCV_OBJ_SYSV_SEM,
    IPCV_OBJ_POSIX_SHM,      /* a name in /dev/shm */
    IPCV_OBJ_POSIX_SEM,      /* a named semaphore: /dev/shm/sem.NAME */
    IPCV_OBJ_POSIX_MQ,
};

struct ipcv_object {
    enum ipcv_object_kind kind;
    int id;                  /* SysV id, else -1 */
    int key;                 /* SysV key, else 0 */
    pid_t cpid;              /* SysV creator pid (as the reader sees it), else 0 */
    uid_t uid;
    uid_t cuid;              /* SysV creator uid */
    long ctime;              /* SysV change time (creation, IPC_SET, SETVAL..), else 0 */
    char name[260];          /* POSIX name with its leading '/' */
};

struct ipcv_census {
    size_t n;
    size_t cap;
    struct ipcv_object *objs;
};

const char *ipcv_object_kind_name(enum ipcv_object_kind k);

/* Snapshot the sandbox (or the host, when sb is NULL). 0 or -1 (errno). */
int ipcv_census_take(struct ipcv_census *c, const struct ipcv_sandbox *sb);
/* Objects in `after` that were not in `before`, into `out`. */
void ipcv_census_diff(const struct ipcv_census *before,
                      const struct ipcv_census *after,
                      struct ipcv_census *out);
/* Remove every object listed; returns how many could not be removed. */
int ipcv_census_remove(const struct ipcv_census *c, const struct ipcv_sandbox *sb);
/* "sysv_shm key 0x1234 id 5 (creator pid 7)" */
void ipcv_object_format(const struct ipcv_object *o, char *buf, size_t len);
/* Every object on one line, separated by "; ", truncated to len. */
void ipcv_census_format(const struct ipcv_census *c, char *buf, size_t len);
void ipcv_census_free(struct ipcv_census *c);

#endif
