#define _GNU_SOURCE
#include "watchdog.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int read_small(const char *path, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, len - 1);
    close(fd);
    if (n < 0)
        return -1;
    buf[n] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
    return 0;
}

void ipcv_describe_blocked(pid_t pid, pid_t tid, char *buf, size_t len)
{
    char base[64], path[96], sys[256], wchan[128], stat[512];
    if (tid > 0)
        snprintf(base, sizeof base, "/proc/%d/task/%d", (int)pid, (int)tid);
    else
        snprintf(base, sizeof base, "/proc/%d", (int)pid);

    snprintf(path, sizeof path, "%s/stat", base);
    if (read_small(path, stat, sizeof stat) < 0) {
        snprintf(buf, len, "gone");
        return;
    }
    const char *paren = strrchr(stat, ')');
    char state = paren && paren[1] ? paren[2] : '?';
    if (state == 'Z') {
        snprintf(buf, len, "exited (zombie)");
        return;
    }
    snprintf(path, sizeof path, "%s/wchan", base);
    if (read_small(path, wchan, sizeof wchan) < 0 || !strcmp(wchan, "0"))
        wchan[0] = '\0';
    snprintf(path, sizeof path, "%s/syscall", base);
    if (read_small(path, sys, sizeof sys) < 0)
        sys[0] = '\0';

    if (!strcmp(sys, "running") || state == 'R') {
        snprintf(buf, len, "running (not blocked)");
    } else if (sys[0] && sys[0] != '-') {
        long nr = strtol(sys, NULL, 10);
        snprintf(buf, len, "%s%s%s%s (state %c)", ipcv_syscall_name(nr),
                 wchan[0] ? " [kernel: " : "", wchan, wchan[0] ? "]" : "", state);
    } else {
        snprintf(buf, len, "state %c%s%s%s", state, wchan[0] ? " [kernel: " : "",
                 wchan, wchan[0] ? "]" : "");
    }
}

double ipcv_timeout_mul(void)
{
    const char *s = getenv("IPCVET_TIMEOUT_MUL");
    double m = s ? strtod(s, NULL) : 1.0;
    return m > 0 ? m : 1.0;
}

static int fire_fd[2] = { -1, -1 };

int ipcv_watchdog_arm(void (*handler)(int))
{
    struct sigaction sa = { .sa_handler = handler };
    sigemptyset(&sa.sa_mask);
    if (sigaction(IPCV_WATCHDOG_SIGNAL, &sa, NULL) < 0)
        return -1;
    if (pipe2(fire_fd, O_CLOEXEC | O_NONBLOCK) < 0)
        return -1;
    if (fcntl(fire_fd[0], F_SETOWN, getpid()) < 0 ||
        fcntl(fire_fd[0], F_SETSIG, IPCV_WATCHDOG_SIGNAL) < 0 ||
        fcntl(fire_fd[0], F_SETFL, O_ASYNC | O_NONBLOCK) < 0) {
        ipcv_watchdog_disarm();
        return -1;
    }
    return 0;
}

void ipcv_watchdog_fire(void)
{
    char c = 'T';
    if (fire_fd[1] >= 0)
        (void)!write(fire_fd[1], &c, 1);
}

void ipcv_watchdog_disarm(void)
{
    for (int i = 0; i < 2; i++) {
        if (fire_fd[i] >= 0)
            close(fire_fd[i]);
        fire_fd[i] = -1;
    }
    signal(IPCV_WATCHDOG_SIGNAL, SIG_IGN);
}
