/* Names, keys and paths private to the running case. Inside a sandbox they
 * could be anything; they also carry the pid so that a run without
 * namespaces (--isolate none) never collides with the host or a peer. */
#ifndef IPCV_NAMES_H
#define IPCV_NAMES_H

#include <stddef.h>
#include <sys/types.h>

/* The case's private directory (tmpfs /tmp in a sandbox). */
const char *ipcv_tmpdir(void);
/* "/ipcv<pid>.<suffix>": a POSIX shm, mq or semaphore name. */
const char *ipcv_name(const char *suffix);
/* Path of a file in the private directory, created if `create`. */
const char *ipcv_path(const char *file, int create);
/* A SysV key unique to this case: ftok() on a private file. */
key_t ipcv_key(int n);

#endif
