#define _GNU_SOURCE
#include "ipc_limits.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "expect.h"
#include "sandbox.h"

const struct ipcv_sandbox *ipcv_case_sandbox(void);   /* case.c */

#define K "/proc/sys/kernel/"
#define Q "/proc/sys/fs/mqueue/"

const struct ipcv_limit ipcv_limits[] = {
    { "shmmax", IPCV_LIMIT_SYSCTL, K "shmmax", 0, "largest SysV shm segment (bytes)" },
    { "shmall", IPCV_LIMIT_SYSCTL, K "shmall", 0, "SysV shm pages in all" },
    { "shmmni", IPCV_LIMIT_SYSCTL, K "shmmni", 0, "SysV shm segments" },
    { "msgmax", IPCV_LIMIT_SYSCTL, K "msgmax", 0, "largest SysV message (bytes)" },
    { "msgmnb", IPCV_LIMIT_SYSCTL, K "msgmnb", 0, "default SysV queue size (bytes)" },
    { "msgmni", IPCV_LIMIT_SYSCTL, K "msgmni", 0, "SysV message queues" },
    { "semmsl", IPCV_LIMIT_SYSCTL, K "sem", 0, "semaphores per SysV set" },
    { "semmns", IPCV_LIMIT_SYSCTL, K "sem", 1, "SysV semaphores in all" },
    { "semopm", IPCV_LIMIT_SYSCTL, K "sem", 2, "operations per semop call" },
    { "semmni", IPCV_LIMIT_SYSCTL, K "sem", 3, "SysV semaphore sets" },
    { "queues_max", IPCV_LIMIT_SYSCTL, Q "queues_max", 0, "POSIX message queues" },
    { "msg_max", IPCV_LIMIT_SYSCTL, Q "msg_max", 0, "largest mq_maxmsg without CAP_SYS_RESOURCE" },
    { "msgsize_max", IPCV_LIMIT_SYSCTL, Q "msgsize_max", 0, "largest mq_msgsize without CAP_SYS_RESOURCE" },
    { "msg_default", IPCV_LIMIT_SYSCTL, Q "msg_default", 0, "mq_maxmsg when attr is NULL" },
    { "msgsize_default", IPCV_LIMIT_SYSCTL, Q "msgsize_default", 0, "mq_msgsize when attr is NULL" },
    { "rlimit_msgqueue", IPCV_LIMIT_RLIMIT, NULL, RLIMIT_MSGQUEUE, "bytes in POSIX queues per user" },
    { "rlimit_nofile", IPCV_LIMIT_RLIMIT, NULL, RLIMIT_NOFILE, "open descriptors (queues, pipes, sockets)" },
};
const size_t ipcv_nlimits = sizeof ipcv_limits / sizeof ipcv_limits[0];

const struct ipcv_limit *ipcv_limit_find(const char *name)
{
    for (size_t i = 0; i < ipcv_nlimits; i++)
        if (!strcmp(ipcv_limits[i].name, name))
            return &ipcv_limits[i];
    return NULL;
}

/* kernel/sem holds four numbers: SEMMSL SEMMNS SEMOPM SEMMNI; the field
 * index rides in `resource` for those. */
static int read_fields(const char *path, unsigned long long v[4], int *n)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return -1;
    *n = fscanf(f, "%llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3]);
    fclose(f);
    if (*n < 1) {
        errno = EIO;
        return -1;
    }
    return 0;
}

int ipcv_limit_get(const struct ipcv_limit *l, unsigned long long *value)
{
    if (l->kind == IPCV_LIMIT_RLIMIT) {
        struct rlimit rl;
        if (getrlimit(l->resource, &rl) < 0)
            return -1;
        *value = rl.rlim_cur;
        return 0;
    }
    unsigned long long v[4];
    int n;
    if (read_fields(l->path, v, &n) < 0)
        return -1;
    if (l->resource >= n) {
        errno = EIO;
        return -1;
    }
    *value = v[l->resource];
    return 0;
}

int ipcv_limit_set(const struct ipcv_limit *l, unsigned long long value)
{
    if (l->kind == IPCV_LIMIT_RLIMIT) {
        struct rlimit rl = { value, value };
        return setrlimit(l->resource, &rl);
    }
    unsigned long long v[4];
    int n;
    if (read_fields(l->path, v, &n) < 0)
        return -1;
    v[l->resource] = value;
    char text[128];
    if (n == 4)
        snprintf(text, sizeof text, "%llu %llu %llu %llu\n", v[0], v[1], v[2], v[3]);
    else
        snprintf(text, sizeof text, "%llu\n", v[0]);
    int fd = open(l->path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t w = write(fd, text, strlen(text));
    int saved = errno;
    close(fd);
    errno = saved;
    return w == (ssize_t)strlen(text) ? 0 : -1;
}

/* In a child with a private IPC namespace, try value-1 and value+1. */
void ipcv_limit_probe(const struct ipcv_limit *l, struct ipcv_limit_probe *p)
{
    memset(p, 0, sizeof *p);
    unsigned long long cur;
    if (ipcv_limit_get(l, &cur) < 0) {
        snprintf(p->why, sizeof p->why, "cannot read: %s", strerror(errno));
        return;
    }
    int *shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shared == MAP_FAILED)
        return;
    shared[0] = shared[1] = shared[2] = shared[3] = 0;
    pid_t pid = fork();
    if (pid == 0) {
        if (l->kind == IPCV_LIMIT_SYSCTL && unshare(CLONE_NEWIPC) < 0) {
            shared[2] = errno;
            _exit(0);
        }
        if (l->kind == IPCV_LIMIT_RLIMIT) {
            struct rlimit rl;
            getrlimit(l->resource, &rl);
            /* Raising the hard limit needs CAP_SYS_RESOURCE. */
            rl.rlim_max = rl.rlim_max == RLIM_INFINITY ? rl.rlim_max : rl.rlim_max + 1;
            shared[1] = setrlimit(l->resource, &rl) == 0;
            shared[3] = shared[1] ? 0 : errno;
            shared[0] = cur > 0 && ipcv_limit_set(l, cur - 1) == 0;
            if (!shared[0]) shared[2] = errno;
            _exit(0);
        }
        shared[0] = cur > 0 && ipcv_limit_set(l, cur - 1) == 0;
        if (!shared[0]) shared[2] = errno;
        shared[1] = ipcv_limit_set(l, cur + 1) == 0;
        if (!shared[1]) shared[3] = errno;
        _exit(0);
    }
    if (pid > 0)
        waitpid(pid, NULL, 0);
    p->can_lower = shared[0];
    p->can_raise = shared[1];
    if (!p->can_lower && shared[2])
        snprintf(p->why, sizeof p->why, "lower: %s", strerrorname_np(shared[2]));
    else if (!p->can_raise && shared[3])
        snprintf(p->why, sizeof p->why, "raise: %s%s", strerrorname_np(shared[3]),
                 shared[3] == EPERM && l->kind == IPCV_LIMIT_RLIMIT ? " (no CAP_SYS_RESOURCE)" : "");
    munmap(shared, 4096);
}

int ipcv_limit_parse(const char *arg, const struct ipcv_limit **l,
                     unsigned long long *value, char *err, size_t errlen)
{
    const char *eq = strchr(arg, '=');
    char name[64];
    if (!eq || eq == arg || (size_t)(eq - arg) >= sizeof name) {
        snprintf(err, errlen, "--limit: expected NAME=VALUE, got '%s'", arg);
        return -1;
    }
    memcpy(name, arg, (size_t)(eq - arg));
    name[eq - arg] = '\0';
    *l = ipcv_limit_find(name);
    if (!*l) {
        snprintf(err, errlen, "--limit: unknown limit '%s' in '%s' (see 'ipcvet limits')", name, arg);
        return -1;
    }
    char *end;
    errno = 0;
    /* strtoull would skip blanks and take a sign: " -1" is 2^64 - 1. */
    if (!isdigit((unsigned char)eq[1]) || (*value = strtoull(eq + 1, &end, 0), errno) || *end) {
        snprintf(err, errlen, "--limit: bad value '%s' in '%s'", eq + 1, arg);
        return -1;
    }
    return 0;
}

void ipcv_set_limit_at(const char *file, int line, const char *name, unsigned long long value)
{
    const struct ipcv_limit *l = ipcv_limit_find(name);
    if (!l)
        ipcv_brk(file, line, "unknown limit '%s'", name);
    if (l->kind == IPCV_LIMIT_SYSCTL && ipcv_case_sandbox()->mode != IPCV_ISOLATE_NS)
        ipcv_skip_at(file, line, "%s can be lowered inside a sandbox only (isolation is none)", name);
    if (ipcv_limit_set(l, value) < 0) {
        if (errno == EPERM || errno == EACCES || errno == EROFS)
            ipcv_skip_at(file, line, "cannot set %s=%llu here: %s", name, value, ipcv_errname(errno));
        ipcv_brk(file, line, "setting %s=%llu failed: %s", name, value, ipcv_errname(errno));
    }
}

unsigned long long ipcv_get_limit_at(const char *file, int line, const char *name)
{
    const struct ipcv_limit *l = ipcv_limit_find(name);
    unsigned long long v = 0;
    if (!l || ipcv_limit_get(l, &v) < 0)
        ipcv_brk(file, line, "cannot read limit '%s'", name);
    return v;
}

int ipcv_has_cap(int cap)
{
    FILE *f = fopen("/proc/self/status", "re");
    char line[256];
    unsigned long long eff = 0;
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "CapEff: %llx", &eff) == 1)
            break;
    fclose(f);
    return (int)((eff >> cap) & 1);
}
