#define _GNU_SOURCE
#include "names.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/ipc.h>
#include <unistd.h>

#include "expect.h"
#include "sandbox.h"

const struct ipcv_sandbox *ipcv_case_sandbox(void);   /* case.c */

const char *ipcv_tmpdir(void)
{
    return ipcv_case_sandbox()->tmpdir;
}

const char *ipcv_name(const char *suffix)
{
    static __thread char buf[8][256];
    static __thread unsigned k;
    char *b = buf[k++ % 8];
    snprintf(b, sizeof buf[0], "/ipcv%d.%s", (int)getpid(), suffix);
    return b;
}

const char *ipcv_path(const char *file, int create)
{
    static __thread char buf[8][256];
    static __thread unsigned k;
    char *b = buf[k++ % 8];
    snprintf(b, sizeof buf[0], "%s/%s", ipcv_tmpdir(), file);
    if (create) {
        int fd = open(b, O_CREAT | O_RDWR | O_CLOEXEC, 0600);
        if (fd < 0)
            ipcv_brk(__FILE__, __LINE__, "cannot create %s: %s", b, ipcv_errname(errno));
        close(fd);
    }
    return b;
}

key_t ipcv_key(int n)
{
    const char *p = ipcv_path("ftok-key", 1);
    key_t k = ftok(p, n);
    if (k == -1)
        ipcv_brk(__FILE__, __LINE__, "ftok(%s, %d) failed: %s", p, n, ipcv_errname(errno));
    return k;
}
