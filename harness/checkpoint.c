#define _GNU_SOURCE
#include "checkpoint.h"

#include <errno.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "case.h"
#include "watchdog.h"

double ipcv_wait_bound(void)
{
    return 5.0 * ipcv_timeout_mul();
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

void ipcv_checkpoint_signal(unsigned n)
{
    atomic_uint *w = &ipcv_self.page->checkpoints[n];
    atomic_fetch_add(w, 1);
    syscall(SYS_futex, w, FUTEX_WAKE, 0x7fffffff, NULL, NULL, 0);
}

void ipcv_checkpoint_wait_at(const char *file, int line, unsigned n, unsigned count)
{
    atomic_uint *w = &ipcv_self.page->checkpoints[n];
    double deadline = now() + ipcv_wait_bound();
    ipcv_mark_call("checkpoint wait", file, line);
    for (;;) {
        unsigned v = atomic_load(w);
        if (v >= count)
            break;
        double left = deadline - now();
        if (left <= 0)
            ipcv_brk(file, line, "checkpoint %u: waited %.1f s for count %u, seen %u",
                     n, ipcv_wait_bound(), count, v);
        struct timespec ts = { (time_t)left, (long)((left - (time_t)left) * 1e9) };
        syscall(SYS_futex, w, FUTEX_WAIT, v, &ts, NULL, 0);
    }
    ipcv_clear_call();
}

int ipcv_poll_until(int (*cond)(void *), void *arg, double seconds)
{
    double deadline = now() + seconds;
    long pause_ns = 50 * 1000;
    while (!cond(arg)) {
        if (now() >= deadline)
            return 0;
        struct timespec ts = { 0, pause_ns };
        nanosleep(&ts, NULL);
        if (pause_ns < 10 * 1000 * 1000)
            pause_ns *= 2;
    }
    return 1;
}
