/* libipcvet-faults: the interposer's public face. ipcvet links it (so a
 * case's role can arm a plan in its own process) and `ipcvet exec` preloads
 * it into other programs. Every name here is exported by the library. */
#ifndef IPCV_FAULTS_H
#define IPCV_FAULTS_H

#include <stddef.h>

/* Return conventions of the wrapped functions (faults/ipc.tbl `ret:`). */
enum ipcv_ret {
    IPCV_RET_MINUS1,      /* -1 and errno */
    IPCV_RET_ERRNO,       /* returns the error number (pthread_*) */
    IPCV_RET_VOIDP,       /* (void *)-1 and errno (shmat) */
    IPCV_RET_SEMFAILED,   /* SEM_FAILED and errno (sem_open; NULL in glibc) */
    IPCV_RET_MAPFAILED,   /* MAP_FAILED and errno (mmap) */
    IPCV_RET_MQD,         /* (mqd_t)-1 and errno (mq_open) */
};

#define IPCV_F_BLOCKS   0x01   /* may sleep: delays, EINTR and hangs make sense */
#define IPCV_F_CREATES  0x02   /* creates an object that outlives the process */
#define IPCV_F_DESTROYS 0x04   /* removes one */
#define IPCV_F_LENGTH   0x08   /* has a transfer length: short=N applies */
#define IPCV_F_FDSCOPE  0x10   /* wrapped only on pipes, FIFOs and sockets */

#define IPCV_MAX_CLASSES 16

/* One injection point: a row of faults/ipc.tbl. */
struct ipcv_point {
    const char *function;        /* "shmat" */
    const char *family;          /* "sysv_shm" */
    const char *point;           /* libfiu name: "ipc/sysv_shm/shmat" */
    enum ipcv_ret ret;
    const int *errnos;           /* documented by the Linux man page */
    unsigned nerrnos;
    unsigned flags;              /* IPCV_F_* */
    /* Per %CLASS: 0 when the class does not select this point, else the fd
     * kinds it selects (1 pipe, 2 FIFO, 4 socket; 7 for all). */
    unsigned char classes[IPCV_MAX_CLASSES];
};

size_t ipcv_faults_npoints(void);
const struct ipcv_point *ipcv_faults_point(size_t i);
const struct ipcv_point *ipcv_faults_find(const char *function);
size_t ipcv_faults_nclasses(void);
const char *ipcv_faults_class_name(size_t i);          /* "%shm" */
const char *ipcv_faults_ret_name(enum ipcv_ret r);     /* "(void *)-1 and errno" */
const char *ipcv_faults_errname(int err);              /* "ENOMEM", or NULL */
int ipcv_faults_errno(const char *name);               /* ENOMEM, or -1 */

/* Check one rule (the value of one --inject): 0, or -1 with one line in
 * err naming the bad token: "unknown errno 'EBOGUS' in 'shmat:error=EBOGUS'". */
int ipcv_faults_check(const char *rule, char *err, size_t errlen);

/* Arm rules (separated by ';' or newlines) in this process and the children
 * it forks from now on; counts start again at zero and this process is
 * lineage "0". Replaces what was armed. 0, or -1 with err set (nothing
 * armed then). Arm and disarm while the process has one thread. */
int ipcv_faults_arm(const char *plan, char *err, size_t errlen);
void ipcv_faults_disarm(void);
/* Seed of p= draws, error=any and random delays (default 0). */
void ipcv_faults_seed(unsigned long long seed);
/* How many wrapped calls of this process a rule acted on. */
unsigned long ipcv_faults_fired(void);
/* Also ask libfiu (fiu_fail on ipc/<family>/<function>) at every call. */
void ipcv_faults_use_fiu(int on);
/* Forget everything the environment armed (a supervisor calls this). */
void ipcv_faults_detach(void);
/* Path of the loaded library (for LD_PRELOAD), or NULL. */
const char *ipcv_faults_library(void);

#endif
