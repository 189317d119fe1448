#define _GNU_SOURCE
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef FSCONFIG_CMD_CREATE
#define FSCONFIG_CMD_CREATE 6
#endif

int ipcv_isolation_parse(const char *s)
{
    if (!strcmp(s, "auto")) return IPCV_ISOLATE_AUTO;
    if (!strcmp(s, "ns"))   return IPCV_ISOLATE_NS;
    if (!strcmp(s, "none")) return IPCV_ISOLATE_NONE;
    return -1;
}

const char *ipcv_isolation_name(enum ipcv_isolation m)
{
    return m == IPCV_ISOLATE_NS ? "ns" : m == IPCV_ISOLATE_NONE ? "none" : "auto";
}

static int write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = write(fd, text, strlen(text));
    int saved = errno;
    close(fd);
    errno = saved;
    return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* Map root of the user namespace we are in to these ids outside. */
static int map_ids(uid_t uid, gid_t gid)
{
    char map[64];
    if (write_file("/proc/self/setgroups", "deny") < 0 && errno != ENOENT)
        return -1;
    snprintf(map, sizeof map, "0 %u 1", (unsigned)uid);
    if (write_file("/proc/self/uid_map", map) < 0)
        return -1;
    snprintf(map, sizeof map, "0 %u 1", (unsigned)gid);
    return write_file("/proc/self/gid_map", map);
}

/* Become root of a new user namespace mapped to our own ids. */
static int enter_userns(void)
{
    uid_t uid = geteuid();
    gid_t gid = getegid();
    if (unshare(CLONE_NEWUSER) < 0)
        return -1;
    return map_ids(uid, gid);
}

/* The mqueue fs of the current IPC namespace, mounted nowhere: the new
 * mount API gives a detached mount we can read without a mount point. */
static int open_mqueue_fs(void)
{
    int fs = (int)syscall(SYS_fsopen, "mqueue", 1 /* FSOPEN_CLOEXEC */);
    if (fs < 0)
        return -1;
    int mnt = -1, dir = -1;
    if (syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) == 0)
        mnt = (int)syscall(SYS_fsmount, fs, 1 /* FSMOUNT_CLOEXEC */, 0);
    close(fs);
    /* A mount fd is a path fd: open its root to read and unlink in it. */
    if (mnt >= 0)
        dir = openat(mnt, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (mnt >= 0)
        close(mnt);
    return dir;
}

int ipcv_mqueue_dir(void)
{
    int fd = open("/dev/mqueue", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    return fd >= 0 ? fd : open_mqueue_fs();
}

/* Paths under /tmp or /dev/shm that must stay visible in the sandbox (the
 * program a run executes, its libraries, a tree checked out under /tmp). */
#define MAX_KEEP 8
static char keep[MAX_KEEP][PATH_MAX];
static int nkeep;

void ipcv_sandbox_keep_visible(const char *path)
{
    char real[PATH_MAX];
    if (!path || !realpath(path, real))
        return;
    /* Keep the whole top entry (/tmp/checkout): binaries, libraries and
     * fixtures of a tree there are found relative to each other. */
    const char *tops[] = { "/tmp/", "/dev/shm/" };
    for (int t = 0; t < 2; t++) {
        size_t n = strlen(tops[t]);
        if (strncmp(real, tops[t], n))
            continue;
        char *slash = strchr(real + n, '/');
        if (slash)
            *slash = '\0';
        for (int i = 0; i < nkeep; i++)
            if (!strcmp(keep[i], real))
                return;
        if (nkeep < MAX_KEEP)
            snprintf(keep[nkeep++], PATH_MAX, "%s", real);
    }
}

static void keep_own_tree(void)
{
    char path[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
    if (n > 0) {
        path[n] = '\0';
        ipcv_sandbox_keep_visible(path);
    }
    if (getcwd(path, sizeof path))
        ipcv_sandbox_keep_visible(path);
}

static int private_mounts(char *err, size_t errlen)
{
    if (mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0) {
        snprintf(err, errlen, "cannot make / private in the new mount namespace: %s", strerror(errno));
        return -1;
    }
    /* Opened in the new mount namespace: a bind source must belong to it. */
    keep_own_tree();
    int fds[MAX_KEEP];
    for (int i = 0; i < nkeep; i++)
        fds[i] = open(keep[i], O_PATH | O_CLOEXEC);
    int rc = 0;
    if (mount("ipcvet-shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=512m") < 0) {
        snprintf(err, errlen, "cannot mount a private tmpfs on /dev/shm: %s", strerror(errno));
        rc = -1;
    } else if (mount("ipcvet-tmp", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=512m") < 0) {
        snprintf(err, errlen, "cannot mount a private tmpfs on /tmp: %s", strerror(errno));
        rc = -1;
    }
    for (int i = 0; i < nkeep && rc == 0; i++) {
        char src[64];
        struct stat st;
        if (fds[i] < 0 || fstat(fds[i], &st) < 0)
            continue;
        if (S_ISDIR(st.st_mode) ? mkdir(keep[i], 0755) < 0 && errno != EEXIST
                                : close(open(keep[i], O_CREAT | O_WRONLY | O_CLOEXEC, 0600)) < 0)
            continue;
        snprintf(src, sizeof src, "/proc/self/fd/%d", fds[i]);
        if (mount(src, keep[i], NULL, MS_BIND | MS_REC, NULL) < 0) {
            snprintf(err, errlen, "cannot keep %s visible in the sandbox: %s", keep[i], strerror(errno));
            rc = -1;
        }
    }
    for (int i = 0; i < nkeep; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    return rc;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static _Noreturn void anchor_main(pid_t parent, const struct ipcv_deadline *dl)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent && parent != 0)
        _exit(0);
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, NULL);
    double end = dl && dl->seconds > 0 ? now() + dl->seconds : 0;
    /* As pid 1 of the namespace, reap whatever gets re-parented here. */
    for (;;) {
        while (waitpid(-1, NULL, WNOHANG) > 0)
            ;
        if (!end) {
            sigwaitinfo(&chld, NULL);
            continue;
        }
        double left = end - now();
        if (left <= 0) {
            end = 0;
            dl->on_expiry(dl->seconds);
            continue;
        }
        struct timespec ts = { (time_t)left, (long)((left - (time_t)left) * 1e9) };
        sigtimedwait(&chld, NULL, &ts);
    }
}

static int start_anchor(struct ipcv_sandbox *sb, const struct ipcv_deadline *dl,
                        char *err, size_t errlen)
{
    pid_t parent = getpid();
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "cannot start the sandbox's first process: %s", strerror(errno));
        return -1;
    }
    if (pid == 0)
        anchor_main(sb->mode == IPCV_ISOLATE_NS ? 0 : parent, dl);
    setpgid(pid, pid);
    sb->anchor = pid;
    return 0;
}

static int enter_ns(struct ipcv_sandbox *sb, int userns, const struct ipcv_deadline *dl,
                    char *err, size_t errlen)
{
    if (userns && enter_userns() < 0) {
        snprintf(err, errlen, "cannot create a user namespace: %s", strerror(errno));
        return -1;
    }
    if (unshare(CLONE_NEWIPC | CLONE_NEWNS | CLONE_NEWPID) < 0) {
        snprintf(err, errlen, "cannot create IPC/mount/PID namespaces: %s", strerror(errno));
        return -1;
    }
    if (private_mounts(err, errlen) < 0)
        return -1;
    sb->mode = IPCV_ISOLATE_NS;
    sb->userns = userns;
    sb->mq_fd = open_mqueue_fs();
    snprintf(sb->tmpdir, sizeof sb->tmpdir, "/tmp");
    return start_anchor(sb, dl, err, errlen);
}

int ipcv_sandbox_enter(struct ipcv_sandbox *sb, enum ipcv_isolation want,
                       const struct ipcv_deadline *dl, char *err, size_t errlen)
{
    memset(sb, 0, sizeof *sb);
    sb->mq_fd = -1;
    sb->anchor = -1;
    if (want != IPCV_ISOLATE_NONE) {
        /* Try as we are first; a non-root user needs a user namespace. */
        if (geteuid() == 0 && enter_ns(sb, 0, dl, err, errlen) == 0)
            return 0;
        if (geteuid() != 0 && enter_ns(sb, 1, dl, err, errlen) == 0)
            return 0;
        if (want == IPCV_ISOLATE_NS)
            return -1;
    }
    sb->mode = IPCV_ISOLATE_NONE;
    /* The census must see this (the host's) namespace's queues even where
     * nothing is mounted on /dev/mqueue. */
    sb->mq_fd = open_mqueue_fs();
    snprintf(sb->tmpdir, sizeof sb->tmpdir, "/tmp/ipcvet.%d.XXXXXX", (int)getpid());
    if (!mkdtemp(sb->tmpdir)) {
        snprintf(err, errlen, "cannot create %s: %s", sb->tmpdir, strerror(errno));
        return -1;
    }
    return start_anchor(sb, dl, err, errlen);
}

int ipcv_sandbox_clone_flags(void)
{
    return CLONE_NEWIPC | CLONE_NEWNS | CLONE_NEWPID | (geteuid() != 0 ? CLONE_NEWUSER : 0);
}

int ipcv_sandbox_enter_as_init(struct ipcv_sandbox *sb, uid_t uid, gid_t gid, char *err, size_t errlen)
{
    memset(sb, 0, sizeof *sb);
    sb->mq_fd = -1;
    sb->anchor = -1;
    sb->userns = uid != 0;
    if (sb->userns && map_ids(uid, gid) < 0) {
        snprintf(err, errlen, "cannot map ids in the new user namespace: %s", strerror(errno));
        return -1;
    }
    if (private_mounts(err, errlen) < 0 || ipcv_sandbox_mount_proc(err, errlen) < 0)
        return -1;
    sb->mode = IPCV_ISOLATE_NS;
    sb->mq_fd = open_mqueue_fs();
    snprintf(sb->tmpdir, sizeof sb->tmpdir, "/tmp");
    return 0;
}

void ipcv_sandbox_kill_all(struct ipcv_sandbox *sb)
{
    if (sb->anchor <= 0)
        return;
    kill(-sb->anchor, SIGKILL);   /* roles share the anchor's group */
    kill(sb->anchor, SIGKILL);    /* in a PID ns this ends every process */
    while (waitpid(sb->anchor, NULL, 0) < 0 && errno == EINTR)
        ;
    sb->anchor = -1;
}

static void remove_tree(const char *dir)
{
    pid_t pid = fork();
    if (pid == 0) {
        execlp("rm", "rm", "-rf", "--one-file-system", dir, (char *)NULL);
        _exit(127);
    }
    if (pid > 0)
        waitpid(pid, NULL, 0);
}

void ipcv_sandbox_leave(struct ipcv_sandbox *sb)
{
    ipcv_sandbox_kill_all(sb);
    if (sb->mode == IPCV_ISOLATE_NONE && sb->tmpdir[0])
        remove_tree(sb->tmpdir);
    if (sb->mq_fd >= 0)
        close(sb->mq_fd);
    sb->mq_fd = -1;
}

int ipcv_sandbox_run_shell(char *err, size_t errlen)
{
    if (geteuid() != 0 && enter_userns() < 0) {
        snprintf(err, errlen, "cannot create a user namespace: %s", strerror(errno));
        return -1;
    }
    if (unshare(CLONE_NEWNS | CLONE_NEWPID) < 0) {
        snprintf(err, errlen, "cannot create mount/PID namespaces: %s", strerror(errno));
        return -1;
    }
    /* Criterion finds its tests, and BoxFort re-executes its workers, through
     * /proc/self/exe: private_mounts keeps a tree under /tmp visible. */
    return private_mounts(err, errlen);
}

int ipcv_sandbox_mount_proc(char *err, size_t errlen)
{
    if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) {
        snprintf(err, errlen, "cannot mount a private /proc: %s", strerror(errno));
        return -1;
    }
    return 0;
}
