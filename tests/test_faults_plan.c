/* Fault plans as DESIGN.md writes them: what parses, and for what does not,
 * one message naming the bad token and the rule. The point table they are
 * checked against is the one the wrappers were generated from. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "faults.h"

TestSuite(faults_plan, .timeout = 30);

Test(faults_plan, rules_of_the_design_parse)
{
    static const char *const good[] = {
        "shmat:error=ENOMEM",
        "shmat:error=12",
        "shmat:error=any",
        "shmget,shmat:error=EINVAL:when=2",
        "msgsnd:error=EAGAIN:when=3",
        "msgsnd:error=EINTR:when=2+2",
        "msgsnd:error=EINTR:when=2+",
        "msgsnd:error=EINTR:when=2..5",
        "msgsnd:error=EINTR:when=2..10+3",
        "sem_wait:error=any:when=p=0.05",
        "sem_wait:error=any:p=0.5",
        "semop:crash_after:proc=0.1",
        "semop:crash:proc=root",
        "semop:signal=KILL:proc=child",
        "semop:signal=SIGUSR1",
        "semop:signal=10",
        "pthread_mutex_lock:crash_after:proc=0.1.2",
        "mq_send:delay_enter=100",
        "mq_send:delay_exit=100..2000",
        "write,read:short=1",
        "sendmsg,recvmsg,readv,writev:short=7",
        "%shm:error=any:when=1",
        "%msg,%sem,%mq,%pshared,%pipe,%sock,%ipc:delay_enter=1",
        "shmget:error=ENOSPC:proc=comm=ipcmk",
        "mq_open:error=ENOTSUP",
        "fork:error=EAGAIN",
        "semop:signal=USR1:error=EINTR",
    };
    char err[512];
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        cr_expect_eq(ipcv_faults_check(good[i], err, sizeof err), 0, "'%s' rejected: %s", good[i], err);
}

struct bad { const char *rule, *message; };

Test(faults_plan, each_bad_rule_names_its_bad_token)
{
    static const struct bad bad[] = {
        { "shmat:error=EBOGUS", "unknown errno 'EBOGUS' in 'shmat:error=EBOGUS'" },
        { "shmatt:error=ENOMEM", "unknown function 'shmatt' in 'shmatt:error=ENOMEM'" },
        { "%nope:error=ENOMEM", "unknown class '%nope' in '%nope:error=ENOMEM'" },
        { "shmat", "no action in 'shmat'" },
        { "shmat:when=2", "no action in 'shmat:when=2'" },
        { "shmat:explode", "unknown action 'explode' in 'shmat:explode'" },
        { "shmat:signal=FOO", "unknown signal 'FOO' in 'shmat:signal=FOO'" },
        { "shmat:error=ENOMEM:when=0", "bad when '0' in" },
        { "shmat:error=ENOMEM:when=5..2", "bad when '5..2' in" },
        { "shmat:error=ENOMEM:when=2+0", "bad when '2+0' in" },
        { "shmat:error=ENOMEM:when=x", "bad when 'x' in" },
        { "shmat:error=ENOMEM:when=p=1.5", "bad when 'p=1.5' in" },
        { "shmat:error=ENOMEM:p=0", "bad probability '0' in" },
        { "shmat:error=ENOMEM:proc=1.2", "bad proc '1.2' in" },
        { "shmat:error=ENOMEM:proc=0.0", "bad proc '0.0' in" },
        { "shmat:error=ENOMEM:proc=comm=", "bad proc 'comm=' in" },
        { "shmat:delay_enter=5..1", "bad delay '5..1' in" },
        { "shmat:delay_exit=abc", "bad delay 'abc' in" },
        { "shmget:short=4", "short=4 does not apply to shmget" },
        { "write:short=0", "bad byte count '0' in" },
        { "shmat:error=ENOMEM:crash_after", "cannot go with error=" },
        { "write:error=EIO:short=1", "cannot go with error=" },
        { "shmat:crash=1", "crash takes no value" },
        { "shmat:error=ENOMEM:when=1:when=2", "when given twice" },
        { ",shmat:error=ENOMEM", "empty function name" },
        { "shmat::error=ENOMEM", "empty action" },
        { "", "empty rule" },
    };
    char err[512];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        cr_expect_eq(ipcv_faults_check(bad[i].rule, err, sizeof err), -1, "'%s' accepted", bad[i].rule);
        cr_expect(strstr(err, bad[i].message), "'%s': message '%s' does not say '%s'", bad[i].rule,
                  err, bad[i].message);
        cr_expect(!strchr(err, '\n'), "'%s': message is more than one line: %s", bad[i].rule, err);
    }
}

Test(faults_plan, every_documented_errno_of_every_point_is_accepted)
{
    char rule[128], err[512];
    for (size_t i = 0; i < ipcv_faults_npoints(); i++) {
        const struct ipcv_point *p = ipcv_faults_point(i);
        cr_expect_gt(p->nerrnos, 0u, "%s documents no errno", p->function);
        for (unsigned e = 0; e < p->nerrnos; e++) {
            const char *name = ipcv_faults_errname(p->errnos[e]);
            cr_assert(name, "%s: errno %d has no name", p->function, p->errnos[e]);
            snprintf(rule, sizeof rule, "%s:error=%s", p->function, name);
            cr_expect_eq(ipcv_faults_check(rule, err, sizeof err), 0, "'%s': %s", rule, err);
        }
    }
}

Test(faults_plan, errno_names_and_numbers_round_trip)
{
    cr_expect_eq(ipcv_faults_errno("ENOMEM"), ENOMEM);
    cr_expect_eq(ipcv_faults_errno("EWOULDBLOCK"), EAGAIN);
    cr_expect_eq(ipcv_faults_errno("ENOTSUP"), ENOTSUP);
    cr_expect_eq(ipcv_faults_errno("EBOGUS"), -1);
    cr_expect_str_eq(ipcv_faults_errname(EOWNERDEAD), "EOWNERDEAD");
}

Test(faults_plan, classes_select_their_families)
{
    const struct ipcv_point *shmat = ipcv_faults_find("shmat"), *read = ipcv_faults_find("read"),
                            *fork = ipcv_faults_find("fork"), *lock = ipcv_faults_find("pthread_mutex_lock");
    cr_assert(shmat && read && fork && lock);
    size_t shm = 0, pipe = 0, sock = 0, ipc = 0, pshared = 0;
    for (size_t c = 0; c < ipcv_faults_nclasses(); c++) {
        const char *n = ipcv_faults_class_name(c);
        if (!strcmp(n, "%shm")) shm = c;
        if (!strcmp(n, "%pipe")) pipe = c;
        if (!strcmp(n, "%sock")) sock = c;
        if (!strcmp(n, "%ipc")) ipc = c;
        if (!strcmp(n, "%pshared")) pshared = c;
    }
    cr_expect(shmat->classes[shm] && shmat->classes[ipc]);
    cr_expect(!shmat->classes[pipe]);
    cr_expect(lock->classes[pshared]);
    /* read is wrapped on pipes, FIFOs and sockets: %pipe selects the first
     * two, %sock the last. */
    cr_expect_eq(read->classes[pipe], 3);
    cr_expect_eq(read->classes[sock], 4);
    cr_expect_eq(read->classes[ipc], 7);
    for (size_t c = 0; c < ipcv_faults_nclasses(); c++)
        cr_expect_eq(fork->classes[c], 0, "fork is in %s", ipcv_faults_class_name(c));
}
