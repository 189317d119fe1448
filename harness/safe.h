/* SAFE_* calls: set-up that must work. A failure stops the case as broken
 * (not failed), names the call, the file:line and the errno. The removal
 * wrappers forget the id, so later clean-up never removes it twice. */
#ifndef IPCV_SAFE_H
#define IPCV_SAFE_H

#include <stdint.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>

#include "expect.h"

/* Any call whose failure is -1 (or (void *)-1, MAP_FAILED, (mqd_t)-1). */
#define SAFE(call) SAFE_AS(#call, call)

/* The same, naming the call by `text`: the wrappers below stringify their
 * own arguments, so messages show IPC_PRIVATE, not its expansion. */
#define SAFE_AS(text, call) ({                                                \
    errno = 0;                                                                \
    __auto_type r_ = (call);                                                  \
    if ((intptr_t)r_ == -1)                                                   \
        ipcv_brk(__FILE__, __LINE__, "%s failed: %s", text,                   \
                 ipcv_errname(errno));                                        \
    r_;                                                                       \
})

/* A call returning NULL on failure (SEM_FAILED, fopen, ...). */
#define SAFE_PTR(call) ({                                                     \
    errno = 0;                                                                \
    __auto_type r_ = (call);                                                  \
    if (!r_)                                                                  \
        ipcv_brk(__FILE__, __LINE__, "%s failed: %s", #call,                  \
                 ipcv_errname(errno));                                        \
    r_;                                                                       \
})

/* pthread_* style: returns 0 or the error number. */
#define SAFE_RC(call) ({                                                      \
    int r_ = (call);                                                          \
    if (r_ != 0)                                                              \
        ipcv_brk(__FILE__, __LINE__, "%s failed: %s", #call,                  \
                 ipcv_errname(r_));                                           \
    r_;                                                                       \
})

#define SAFE_FTOK(path, id)                                                   \
    SAFE_AS("ftok(" #path ", " #id ")", ftok((path), (id)))
#define SAFE_SHMGET(key, size, flg)                                           \
    SAFE_AS("shmget(" #key ", " #size ", " #flg ")", shmget((key), (size), (flg)))
#define SAFE_SHMAT(id, addr, flg)                                             \
    SAFE_AS("shmat(" #id ", " #addr ", " #flg ")", shmat((id), (addr), (flg)))
#define SAFE_SHMDT(addr)             SAFE_AS("shmdt(" #addr ")", shmdt(addr))
#define SAFE_MSGGET(key, flg)                                                 \
    SAFE_AS("msgget(" #key ", " #flg ")", msgget((key), (flg)))
#define SAFE_SEMGET(key, n, flg)                                              \
    SAFE_AS("semget(" #key ", " #n ", " #flg ")", semget((key), (n), (flg)))

/* The *ctl wrappers set the id to -1 after IPC_RMID. */
#define SAFE_SHMCTL(id, cmd, buf) ({                                          \
    int rc_ = SAFE_AS("shmctl(" #id ", " #cmd ", " #buf ")",                  \
                      shmctl((id), (cmd), (buf)));                            \
    if ((cmd) == IPC_RMID) (id) = -1;                                         \
    rc_;                                                                      \
})
#define SAFE_MSGCTL(id, cmd, buf) ({                                          \
    int rc_ = SAFE_AS("msgctl(" #id ", " #cmd ", " #buf ")",                  \
                      msgctl((id), (cmd), (buf)));                            \
    if ((cmd) == IPC_RMID) (id) = -1;                                         \
    rc_;                                                                      \
})
#define SAFE_SEMCTL(id, num, cmd, ...) ({                                     \
    int rc_ = SAFE_AS("semctl(" #id ", " #num ", " #cmd ", ...)",            \
                      semctl((id), (num), (cmd), ##__VA_ARGS__));             \
    if ((cmd) == IPC_RMID) (id) = -1;                                         \
    rc_;                                                                      \
})

#endif
