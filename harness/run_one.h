/* One supervised run of a program tree in its own sandbox, with
 * libipcvet-faults.so preloaded: what `ipcvet exec` does once and `ipcvet
 * explore` once per experiment.
 *
 *   caller ── sandbox: new IPC, mount, PID namespaces
 *     ├─ anchor (pid 1)
 *     └─ supervisor (S): child subreaper, its own /proc; reaps every
 *          process of the tree, keeps the deadline, takes the census
 *          └─ CMD, with libipcvet-faults.so preloaded
 *
 * S and the preloaded library share one memfd page (faults/shared.h): every
 * process registers there (lineage, command, the blocking call it is in),
 * S records how each ended, what was left behind and who created it. */
#ifndef IPCV_RUN_ONE_H
#define IPCV_RUN_ONE_H

#include <stdio.h>
#include <sys/types.h>

#include "ipc_limits.h"
#include "sandbox.h"
#include "shared.h"

struct ipcv_run_spec {
    const char *who;             /* "exec", "explore": prefix of messages */
    const char *path;            /* the executable (ipcv_find_command) */
    char **argv;
    char **env;                  /* ipcv_run_env() */
    const char *comm;            /* process 0's name until the library says */
    const struct ipcv_limit *const *limits;
    const unsigned long long *limit_values;
    int nlimits;
    double timeout;              /* seconds */
    /* > 0: end the run as a hang once every process has sat this long in a
     * blocking wrapped call (not a timed one) without using CPU, or when
     * processes outlive process 0 by twice that (at least a second). */
    double deadlock;
    int isolation;               /* enum ipcv_isolation */
    int warn_none;               /* say so when there are no namespaces */
    int out_fd;                  /* the program's stdout and stderr, or -1 */
    int null_stdin;
    int reuse_mounts;            /* the caller is disposable: S mounts its
                                    /proc without a mount namespace of its own */
};

/* Run it in the calling process's own sandbox (the caller is moved into
 * new namespaces: explore calls this in a child per experiment). 0 when the
 * run happened and `sh` holds the facts (sb->mode says what isolation was
 * had); IPCV_EXIT_USAGE after one line on stderr when it could not. */
int ipcv_run_one(const struct ipcv_run_spec *spec, struct ipcv_shared *sh, struct ipcv_sandbox *sb);

/* The same run with less on the way (explore, per experiment): the
 * supervisor is cloned straight into new namespaces as their pid 1; no
 * anchor, no process in between, the caller stays where it is. Returns the
 * supervisor's pid, which the caller reaps: exit 0 when `sh` holds the
 * facts, IPCV_EXIT_USAGE after a line on its stderr (out_fd, if given) when
 * the run could not be made. -1 (errno) when namespaces are refused here:
 * use ipcv_run_one in a child instead. */
pid_t ipcv_run_spawn(const struct ipcv_run_spec *spec, struct ipcv_shared *sh);

/* A fresh shared page on a high descriptor that children inherit. */
struct ipcv_shared *ipcv_shared_new(int *fd);
/* Make a used page fresh again (only what the last run touched). */
void ipcv_shared_reset(struct ipcv_shared *sh);

/* The environment of CMD: ours plus LD_PRELOAD=lib and the IPCVET_*
 * variables (plan rules separated by newlines; fds < 0 are left out). */
char **ipcv_run_env(const char *lib, const char *plan, unsigned long long seed, int shared_fd,
                    int trace_fd, int record_fd);
void ipcv_run_env_free(char **env);

/* CMD as execvp would find it (malloc'd), NULL if it cannot be run. */
char *ipcv_find_command(const char *cmd);
/* No PT_INTERP: LD_PRELOAD never reaches it. */
int ipcv_is_static_elf(const char *path);
/* libipcvet-faults.so: $IPCVET_FAULTS_LIB, the loaded one, or beside us. */
const char *ipcv_find_faults_library(void);
/* Move fd high, out of the way of programs that dup2 onto small numbers. */
int ipcv_high_fd(int fd);
/* Refuse (exit 2) a program or library under /tmp or /dev/shm, which the
 * sandbox replaces. */
void ipcv_check_visible(const char *who, const char *path, const char *lib, int isolation);

/* ---- reading a run's facts ------------------------------------------- */

/* The used slots, sorted by lineage; returns how many. */
int ipcv_run_procs(struct ipcv_shared *sh, struct ipcv_sh_proc **procs, int max);
/* Ended badly: hung, killed, or exited non-zero. */
int ipcv_slot_is_problem(const struct ipcv_sh_proc *s);
/* "exited with status 1", "killed by SIGKILL (injected: crash_after)". */
void ipcv_describe_end(const struct ipcv_sh_proc *s, char *buf, size_t len);
/* The function of a slot's call_fn (point id + 1), or NULL. */
const char *ipcv_point_name(int call_fn);
/* "SIGKILL" (a small rotating buffer: a few at once in one printf). */
const char *ipcv_sig_name(int sig);
/* "0.10" after "0.9". */
int ipcv_lineage_cmp(const char *a, const char *b);
/* s quoted for a POSIX shell, only when it needs it. */
void ipcv_shell_quote(FILE *f, const char *s);

#endif
