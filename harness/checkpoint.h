/* Bounded checkpoints: futex counters in the case's shared page. Nothing
 * waits forever: a wait that runs out of time stops the case as broken and
 * names the checkpoint. */
#ifndef IPCV_CHECKPOINT_H
#define IPCV_CHECKPOINT_H

/* Slots 0..31 are free for cases; roles use the rest for release. */
#define IPCV_CHECKPOINTS_FOR_CASES 32

/* Add one to checkpoint `n` and wake its waiters. */
void ipcv_checkpoint_signal(unsigned n);
/* Wait until checkpoint `n` has been signalled `count` times in all. */
void ipcv_checkpoint_wait_at(const char *file, int line, unsigned n, unsigned count);
#define ipcv_checkpoint_wait(n, count) ipcv_checkpoint_wait_at(__FILE__, __LINE__, n, count)

/* Poll `cond(arg)` with growing pauses until it holds or the checkpoint
 * deadline passes; returns 1 if it held. For "peer is blocked" checks such
 * as GETNCNT > 0 or an mqueue's QSIZE. */
int ipcv_poll_until(int (*cond)(void *), void *arg, double seconds);

/* The default bound of every harness wait, in seconds (scaled). */
double ipcv_wait_bound(void);

#endif
