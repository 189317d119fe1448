/* Roles: the named helper processes of a case. Each has a readiness pipe
 * whose EOF means "ready or dead" (so start-up can never hang), a release
 * checkpoint, and its output kept aside and shown only if the case fails. */
#ifndef IPCV_ROLES_H
#define IPCV_ROLES_H

#include <sys/types.h>

struct ipcv_role;
typedef int (*ipcv_role_fn)(struct ipcv_role *self, void *arg);

/* Expected ends for ipcv_join. */
#define IPCV_EXITED(code) (code)
#define IPCV_KILLED(sig)  (0x1000 | (sig))
#define IPCV_ANY_END      (-1)

/* Exit codes a role uses to say how it ended. */
#define IPCV_ROLE_BROKEN 125
#define IPCV_ROLE_SKIP   124

/* Start role `name` running fn(self, arg) in a new process. `arg` is read in
 * the child's copy of memory, so a pointer to the caller's stack is fine. */
#define ipcv_spawn(name, fn, arg) ipcv_spawn_at(__FILE__, __LINE__, name, fn, arg)
struct ipcv_role *ipcv_spawn_at(const char *file, int line, const char *name,
                                ipcv_role_fn fn, void *arg);

/* In the role: tell the coordinator it is ready (closes the pipe). */
void ipcv_ready(struct ipcv_role *self);
/* In the coordinator: wait until the role is ready; broken if it died first. */
void ipcv_wait_ready_at(const char *file, int line, struct ipcv_role *r);
#define ipcv_wait_ready(r) ipcv_wait_ready_at(__FILE__, __LINE__, r)

/* Coordinator lets the role go on; the role waits for that (bounded). */
void ipcv_release(struct ipcv_role *r);
void ipcv_await_release_at(const char *file, int line, struct ipcv_role *self);
#define ipcv_await_release(self) ipcv_await_release_at(__FILE__, __LINE__, self)

/* Wait (bounded) until the role sleeps in a syscall, e.g. a blocking
 * semop: /proc/PID/stat says S or D and /proc/PID/syscall names a call.
 * With `syscall_name` non-NULL, that call must be the one it sleeps in. */
void ipcv_wait_blocked_at(const char *file, int line, struct ipcv_role *r,
                          const char *syscall_name);
#define ipcv_wait_blocked(r, sc) ipcv_wait_blocked_at(__FILE__, __LINE__, r, sc)

/* The same as a check: if the role does not block in time (a broken
 * implementation returned at once), record a failure and return 0. */
int ipcv_expect_blocked_at(const char *file, int line, struct ipcv_role *r,
                           const char *syscall_name);
#define ipcv_expect_blocked(r, sc) ipcv_expect_blocked_at(__FILE__, __LINE__, r, sc)

/* Is the role asleep (state S or D) in syscall `nr` right now? A probe:
 * it neither waits nor stops the case, so its answer can be a checked
 * result ("the survivor is still blocked after the holder died"). */
int ipcv_role_asleep_in(const struct ipcv_role *r, long nr);
int ipcv_pid_asleep_in(pid_t pid, long nr);   /* the same for any process */

/* Wait for the role to end (bounded) and check how it ended. Returns the
 * raw wait status. The role's records are already in the page. */
int ipcv_join_at(const char *file, int line, struct ipcv_role *r, int expected);
#define ipcv_join(r, expected) ipcv_join_at(__FILE__, __LINE__, r, expected)

pid_t ipcv_role_pid(const struct ipcv_role *r);   /* as the coordinator sees it */
const char *ipcv_role_name(const struct ipcv_role *r);

/* Kill and reap every role still running (case end, watchdog). */
void ipcv_roles_kill_all(void);
/* Forget all roles (next case). */
void ipcv_roles_reset(void);

#endif
