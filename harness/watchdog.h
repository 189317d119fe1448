/* Watchdog: every case has a deadline. The sandbox's first process keeps
 * time (a thread cannot: a process that has unshared its PID namespace may
 * not create threads). On expiry it describes what each process is blocked
 * in, records that, and interrupts the coordinator with a signal delivered
 * through an O_ASYNC pipe (pids do not cross the PID namespace). */
#ifndef IPCV_WATCHDOG_H
#define IPCV_WATCHDOG_H

#include <signal.h>
#include <stddef.h>
#include <sys/types.h>

/* Describe where `pid` is blocked: "semtimedop [kernel: do_semtimedop]
 * (state S)", "running (not blocked)", "exited (zombie)" or "gone". */
void ipcv_describe_blocked(pid_t pid, pid_t tid, char *buf, size_t len);

/* Name of a syscall number on this architecture ("syscall 999" if unknown). */
const char *ipcv_syscall_name(long nr);

/* Coordinator: make `ipcv_watchdog_fire()` (from any process that inherits
 * the pipe) deliver IPCV_WATCHDOG_SIGNAL to the caller. */
int ipcv_watchdog_arm(void (*handler)(int));
void ipcv_watchdog_fire(void);
void ipcv_watchdog_disarm(void);

/* Deadline multiplier from IPCVET_TIMEOUT_MUL (valgrind runs are slow). */
double ipcv_timeout_mul(void);

#define IPCV_WATCHDOG_SIGNAL (SIGRTMAX - 1)

#endif
