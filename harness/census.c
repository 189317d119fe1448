#define _GNU_SOURCE
#include "census.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

const char *ipcv_object_kind_name(enum ipcv_object_kind k)
{
    static const char *names[] = {
        [IPCV_OBJ_SYSV_SHM] = "sysv_shm", [IPCV_OBJ_SYSV_MSG] = "sysv_msg",
        [IPCV_OBJ_SYSV_SEM] = "sysv_sem", [IPCV_OBJ_POSIX_SHM] = "posix_shm",
        [IPCV_OBJ_POSIX_SEM] = "posix_sem", [IPCV_OBJ_POSIX_MQ] = "posix_mq",
    };
    return names[k];
}

static struct ipcv_object *push(struct ipcv_census *c)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        struct ipcv_object *o = realloc(c->objs, cap * sizeof *o);
        if (!o)
            return NULL;
        c->objs = o;
        c->cap = cap;
    }
    struct ipcv_object *o = &c->objs[c->n++];
    memset(o, 0, sizeof *o);
    o->id = -1;
    return o;
}

/* /proc/sysvipc/{shm,msg,sem} describe the reader's IPC namespace. Columns:
 * shm: key shmid perms size cpid lpid nattch uid gid cuid cgid atime dtime ctime ...
 * msg: key msqid perms cbytes qnum lspid lrpid uid gid cuid cgid stime rtime ctime
 * sem: key semid perms nsems uid gid cuid cgid otime ctime  */
static int read_sysv(struct ipcv_census *c, const char *path, enum ipcv_object_kind kind)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return errno == ENOENT ? 0 : -1;
    char line[512];
    if (!fgets(line, sizeof line, f)) {   /* header */
        fclose(f);
        return 0;
    }
    while (fgets(line, sizeof line, f)) {
        long v[14] = {0};
        int n = sscanf(line, "%ld %ld %ld %ld %ld %ld %ld %ld %ld %ld %ld %ld %ld %ld",
                       &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9],
                       &v[10], &v[11], &v[12], &v[13]);
        if (n < 5)
            continue;
        struct ipcv_object *o = push(c);
        if (!o) {
            fclose(f);
            return -1;
        }
        o->kind = kind;
        o->key = (int)v[0];
        o->id = (int)v[1];
        if (kind == IPCV_OBJ_SYSV_SHM) {
            o->cpid = (pid_t)v[4]; o->uid = (uid_t)v[7]; o->cuid = (uid_t)v[9]; o->ctime = v[13];
        }
        if (kind == IPCV_OBJ_SYSV_MSG) { o->uid = (uid_t)v[7]; o->cuid = (uid_t)v[9]; o->ctime = v[13]; }
        if (kind == IPCV_OBJ_SYSV_SEM) { o->uid = (uid_t)v[4]; o->cuid = (uid_t)v[6]; o->ctime = v[9]; }
    }
    fclose(f);
    return 0;
}

static int read_dir(struct ipcv_census *c, int at_fd, const char *path,
                    enum ipcv_object_kind kind)
{
    DIR *d = at_fd >= 0 ? fdopendir(dup(at_fd)) : opendir(path);
    if (!d)
        return errno == ENOENT ? 0 : -1;
    rewinddir(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        struct ipcv_object *o = push(c);
        if (!o)
            break;
        o->kind = kind;
        if (kind == IPCV_OBJ_POSIX_SHM && !strncmp(e->d_name, "sem.", 4)) {
            o->kind = IPCV_OBJ_POSIX_SEM;
            snprintf(o->name, sizeof o->name, "/%s", e->d_name + 4);
        } else {
            snprintf(o->name, sizeof o->name, "/%s", e->d_name);
        }
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
            o->uid = st.st_uid;
    }
    closedir(d);
    return 0;
}

int ipcv_census_take(struct ipcv_census *c, const struct ipcv_sandbox *sb)
{
    c->n = 0;
    if (read_sysv(c, "/proc/sysvipc/shm", IPCV_OBJ_SYSV_SHM) < 0 ||
        read_sysv(c, "/proc/sysvipc/msg", IPCV_OBJ_SYSV_MSG) < 0 ||
        read_sysv(c, "/proc/sysvipc/sem", IPCV_OBJ_SYSV_SEM) < 0 ||
        read_dir(c, -1, "/dev/shm", IPCV_OBJ_POSIX_SHM) < 0)
        return -1;
    int mq_fd = sb ? sb->mq_fd : -1;
    return read_dir(c, mq_fd, "/dev/mqueue", IPCV_OBJ_POSIX_MQ);
}

static int same(const struct ipcv_object *a, const struct ipcv_object *b)
{
    return a->kind == b->kind && a->id == b->id && a->key == b->key &&
           !strcmp(a->name, b->name);
}

void ipcv_census_diff(const struct ipcv_census *before,
                      const struct ipcv_census *after, struct ipcv_census *out)
{
    out->n = 0;
    for (size_t i = 0; i < after->n; i++) {
        size_t j = 0;
        while (j < before->n && !same(&after->objs[i], &before->objs[j]))
            j++;
        if (j == before->n) {
            struct ipcv_object *o = push(out);
            if (o)
                *o = after->objs[i];
        }
    }
}

int ipcv_census_remove(const struct ipcv_census *c, const struct ipcv_sandbox *sb)
{
    int failed = 0;
    for (size_t i = 0; i < c->n; i++) {
        const struct ipcv_object *o = &c->objs[i];
        int rc = 0;
        switch (o->kind) {
        case IPCV_OBJ_SYSV_SHM: rc = shmctl(o->id, IPC_RMID, NULL); break;
        case IPCV_OBJ_SYSV_MSG: rc = msgctl(o->id, IPC_RMID, NULL); break;
        case IPCV_OBJ_SYSV_SEM: rc = semctl(o->id, 0, IPC_RMID); break;
        case IPCV_OBJ_POSIX_SHM: rc = shm_unlink(o->name); break;
        case IPCV_OBJ_POSIX_SEM: {
            char path[300];
            snprintf(path, sizeof path, "/dev/shm/sem.%s", o->name + 1);
            rc = unlink(path);
            break;
        }
        case IPCV_OBJ_POSIX_MQ:
            rc = sb && sb->mq_fd >= 0 ? unlinkat(sb->mq_fd, o->name + 1, 0)
                                      : mq_unlink(o->name);
            break;
        }
        if (rc < 0 && errno != EINVAL && errno != ENOENT && errno != EIDRM)
            failed++;
    }
    return failed;
}

void ipcv_object_format(const struct ipcv_object *o, char *buf, size_t len)
{
    const char *kind = ipcv_object_kind_name(o->kind);
    if (o->id >= 0) {
        int n = snprintf(buf, len, "%s key %#x id %d", kind, (unsigned)o->key, o->id);
        if (o->cpid > 0 && n > 0 && (size_t)n < len)
            snprintf(buf + n, len - n, " (creator pid %d)", (int)o->cpid);
    } else {
        snprintf(buf, len, "%s %s", kind, o->name);
    }
}

void ipcv_census_format(const struct ipcv_census *c, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < c->n && used + 1 < len; i++) {
        char one[320];
        ipcv_object_format(&c->objs[i], one, sizeof one);
        int n = snprintf(buf + used, len - used, "%s%s", i ? "; " : "", one);
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

void ipcv_census_free(struct ipcv_census *c)
{
    free(c->objs);
    c->objs = NULL;
    c->n = c->cap = 0;
}
