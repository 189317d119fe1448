/* The sandbox a case or an injected run lives in: new IPC, mount and PID
 * namespaces with a private tmpfs on /dev/shm and /tmp and a detached mqueue
 * mount (no mount point, so nothing is created in the host's /dev). */
#ifndef IPCV_SANDBOX_H
#define IPCV_SANDBOX_H

#include <stddef.h>
#include <sys/types.h>

enum ipcv_isolation {
    IPCV_ISOLATE_AUTO,   /* ns, else userns, else none */
    IPCV_ISOLATE_NS,     /* namespaces, as root or inside a user namespace */
    IPCV_ISOLATE_NONE,   /* name prefixes and tracked cleanup only */
};

struct ipcv_sandbox {
    enum ipcv_isolation mode;   /* what was achieved: NS or NONE */
    int userns;                 /* NS achieved inside a new user namespace */
    pid_t anchor;               /* first process: pid 1 of the PID ns, pgid of
                                   every role; killing it ends them all */
    int mq_fd;                  /* directory fd of this IPC ns's mqueue fs, or -1 */
    char tmpdir[64];            /* private directory for FIFOs, files, ftok */
};

/* Parse "auto", "ns", "none"; -1 on anything else. */
int ipcv_isolation_parse(const char *s);
const char *ipcv_isolation_name(enum ipcv_isolation m);

/* The anchor keeps the deadline: on expiry it calls on_expiry() once (in
 * its own process) and then goes on reaping until it is killed. */
struct ipcv_deadline {
    double seconds;            /* <= 0: none */
    void (*on_expiry)(double seconds);
};

/* Move the calling process into a fresh sandbox. Its children are born in
 * the new PID namespace; the first one (the anchor) is started here.
 * Returns 0, or -1 with a reason in err when `want` cannot be had. */
int ipcv_sandbox_enter(struct ipcv_sandbox *sb, enum ipcv_isolation want,
                       const struct ipcv_deadline *deadline,
                       char *err, size_t errlen);

/* The lighter way in, for one supervised run (ipcvet explore): clone a
 * child with ipcv_sandbox_clone_flags() (plus SIGCHLD); in it, pid 1 of the
 * new namespaces, call ipcv_sandbox_enter_as_init() with the parent's
 * effective ids. It gets the same private /dev/shm, /tmp and mqueue fs,
 * and a /proc of its own; there is no anchor: the caller is init, and when
 * it ends every process of the sandbox ends. 0, or -1 with err set. */
int ipcv_sandbox_clone_flags(void);
int ipcv_sandbox_enter_as_init(struct ipcv_sandbox *sb, uid_t uid, gid_t gid, char *err, size_t errlen);

/* Keep this path (the top entry under /tmp or /dev/shm that holds it)
 * visible inside every sandbox entered from now on: the private tmpfs would
 * hide it. ipcvet's own tree and the working directory are kept already. */
void ipcv_sandbox_keep_visible(const char *path);

/* Kill every process of the sandbox (not the caller) and reap the anchor. */
void ipcv_sandbox_kill_all(struct ipcv_sandbox *sb);

/* A directory fd on the current IPC namespace's mqueue fs: /dev/mqueue, or
 * a detached mount where nothing is mounted there; -1 if neither. */
int ipcv_mqueue_dir(void);

/* Remove what `none` mode created outside (the tmpdir); no-op for ns. */
void ipcv_sandbox_leave(struct ipcv_sandbox *sb);

/* Outer shell for a whole run: private mount namespace with its own /tmp
 * and /dev/shm, so Criterion's socket and arena never reach the host, and
 * a PID namespace whose first process is the caller's child. */
int ipcv_sandbox_run_shell(char *err, size_t errlen);
/* In the first process of that PID namespace: mount its own /proc. */
int ipcv_sandbox_mount_proc(char *err, size_t errlen);

#endif
