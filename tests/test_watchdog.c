/* Watchdog: a hung case fails at its deadline naming what each process is
 * blocked in, and no process of it is left, with or without namespaces.
 * Unit tests of ipcv_describe_blocked and the syscall names. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/limits.h>

#include "checkpoint.h"
#include "test_support.h"
#include "watchdog.h"

TestSuite(watchdog, .timeout = 60);      /* unit */
TestSuite(e2e_watchdog, .timeout = 60);  /* hung demo cases */

static void expect_no_process_left(const struct sup_cmd *c, const char *what)
{
    char desc[512];
    int n = sup_procs_with_tag(c->tag, NULL, 0, desc, sizeof desc);
    cr_expect_eq(n, 0, "%s: %d process(es) of the run are left after ipcvet ended: %s", what, n, desc);
}

Test(e2e_watchdog, hung_case_fails_at_its_deadline_naming_each_blocked_call)
{
    struct sup_cmd c;
    struct sup_json *r = RUN_DEMO_JSON(&c, 30, NULL, "--filter", "demo/hangs");
    cr_assert(!c.timed_out, "ipcvet did not end in 30 s");
    expect_no_process_left(&c, "demo/hangs");
    cr_assert(r, "no report:\n%s%s", c.out, c.err);
    cr_expect_eq(c.code, 1);
    cr_expect_str_eq(sup_result_str(r, "hangs", "outcome"), "failed");
    const char *msg = sup_result_str(r, "hangs", "message");
    cr_expect(strstr(msg, "timed out after 1.0 s: coordinator in read "), "message: %s", msg);
    cr_expect(strstr(msg, "; role 'sleeper' in sem"), "the role's semop is not named: %s", msg);
    /* The role's semaphore is caught by the census after the kill. */
    cr_expect(strstr(msg, "left 1 IPC object behind: sysv_sem"), "message: %s", msg);
    /* Deadline 1 s: well before Criterion's own 300 s backstop. */
    cr_expect_lt(c.seconds, 6, "the hung case took %.1f s", c.seconds);
    sup_json_free(r);
    sup_cmd_free(&c);
}

/* A role that forks a plain child of its own: the whole tree goes, in a
 * PID namespace and without one (process group + PDEATHSIG). */
Test(e2e_watchdog, hung_role_tree_leaves_no_process_with_namespaces)
{
    struct sup_cmd c;
    struct sup_json *r = RUN_DEMO_JSON(&c, 30, NULL, "--filter", "demo/hangs_with_grandchild");
    cr_assert(!c.timed_out, "ipcvet did not end in 30 s");
    expect_no_process_left(&c, "demo/hangs_with_grandchild");
    cr_assert(r, "no report:\n%s%s", c.out, c.err);
    const char *msg = sup_result_str(r, "hangs_with_grandchild", "message");
    /* Both sleep in pause(2) (its own syscall on x86_64 only). */
    cr_expect(strstr(msg, "timed out after 1.0 s: coordinator in "), "message: %s", msg);
    cr_expect(strstr(msg, "; role 'parent' in ") && sup_count(msg, "(state S)") == 2, "message: %s", msg);
    sup_json_free(r);
    sup_cmd_free(&c);
}

Test(e2e_watchdog, hung_role_tree_leaves_no_process_without_namespaces)
{
    int lock = sup_host_lock();     /* --isolate none works on the host */
    struct sup_cmd c;
    char shm_env[PATH_MAX * 2 + 32];
    const char *shm = sup_fresh_dir("shm");
    snprintf(shm_env, sizeof shm_env, SUP_SHM_DIR "=%s", shm);
    struct sup_json *r = RUN_DEMO_JSON(&c, 30, SUP_ARGV(shm_env), "--isolate", "none", "--filter",
                                       "demo/@(hangs|hangs_with_grandchild)");
    sup_remove_dir(shm);
    sup_host_unlock(lock);
    cr_assert(!c.timed_out, "ipcvet did not end in 30 s");
    expect_no_process_left(&c, "--isolate none");
    cr_assert(r, "no report:\n%s%s", c.out, c.err);
    cr_expect(strstr(sup_result_str(r, "hangs", "message"), "timed out after 1.0 s"));
    cr_expect(strstr(sup_result_str(r, "hangs_with_grandchild", "message"), "timed out after 1.0 s"));
    sup_json_free(r);
    sup_cmd_free(&c);
}

/* ---- unit: what a process is blocked in --------------------------------------- */

static int is_sleeping(void *arg)
{
    char buf[200];
    ipcv_describe_blocked(*(pid_t *)arg, 0, buf, sizeof buf);
    return strstr(buf, "(state S)") != NULL;
}

static int is_zombie(void *arg)
{
    char buf[200];
    ipcv_describe_blocked(*(pid_t *)arg, 0, buf, sizeof buf);
    return !strcmp(buf, "exited (zombie)");
}

Test(watchdog, describe_blocked_names_the_call_or_the_state)
{
    int fds[2];
    cr_assert(pipe(fds) == 0);
    pid_t reader = fork();
    cr_assert(reader >= 0);
    if (reader == 0) {
        char ch;
        close(fds[1]);
        (void)!read(fds[0], &ch, 1);
        _exit(0);
    }
    close(fds[0]);
    char buf[200];
    cr_assert(ipcv_poll_until(is_sleeping, &reader, 5), "child never slept in read");
    ipcv_describe_blocked(reader, 0, buf, sizeof buf);
    cr_expect(!strncmp(buf, "read", 4) && strstr(buf, "(state S)"), "blocked reader described as '%s'", buf);
    ipcv_describe_blocked(reader, reader, buf, sizeof buf);
    cr_expect(!strncmp(buf, "read", 4), "by task id: '%s'", buf);

    close(fds[1]);      /* EOF: the child exits and stays a zombie until reaped */
    cr_expect(ipcv_poll_until(is_zombie, &reader, 5), "child never became a zombie");
    waitpid(reader, NULL, 0);
    ipcv_describe_blocked(reader, 0, buf, sizeof buf);
    cr_expect_str_eq(buf, "gone");

    pid_t spinner = fork();
    cr_assert(spinner >= 0);
    if (spinner == 0)
        for (;;)
            ;
    struct timespec ts = { 0, 20 * 1000 * 1000 };
    int running = 0;
    for (int i = 0; i < 100 && !running; i++) {
        ipcv_describe_blocked(spinner, 0, buf, sizeof buf);
        running = !strcmp(buf, "running (not blocked)");
        nanosleep(&ts, NULL);
    }
    kill(spinner, SIGKILL);
    waitpid(spinner, NULL, 0);
    cr_expect(running, "a busy child is described as '%s'", buf);
}

Test(watchdog, syscall_names_come_from_this_architecture)
{
    cr_expect_str_eq(ipcv_syscall_name(SYS_read), "read");
    cr_expect_str_eq(ipcv_syscall_name(SYS_semtimedop), "semtimedop");
    cr_expect_str_eq(ipcv_syscall_name(SYS_mq_timedreceive), "mq_timedreceive");
    cr_expect_str_eq(ipcv_syscall_name(99999), "syscall 99999");
    cr_expect_str_eq(ipcv_syscall_name(-1), "syscall -1");
}

Test(watchdog, timeout_multiplier_scales_every_bound)
{
    unsetenv("IPCVET_TIMEOUT_MUL");
    cr_expect_float_eq(ipcv_timeout_mul(), 1.0, 1e-9);
    cr_expect_float_eq(ipcv_wait_bound(), 5.0, 1e-9);
    setenv("IPCVET_TIMEOUT_MUL", "2.5", 1);
    cr_expect_float_eq(ipcv_timeout_mul(), 2.5, 1e-9);
    cr_expect_float_eq(ipcv_wait_bound(), 12.5, 1e-9);
    static const char *const ignored[] = { "0", "-1", "abc", "" };
    for (size_t i = 0; i < sizeof ignored / sizeof ignored[0]; i++) {
        setenv("IPCVET_TIMEOUT_MUL", ignored[i], 1);
        cr_expect_float_eq(ipcv_timeout_mul(), 1.0, 1e-9, "IPCVET_TIMEOUT_MUL='%s'", ignored[i]);
    }
    unsetenv("IPCVET_TIMEOUT_MUL");
}
