/* ipcvet exec's command line: bad input is exit 2 with one line naming the
 * bad value; a static program gets a warning; --limit reaches the sandbox;
 * --json - and the default trace; --valgrind; and fiu-ctrl driving a
 * running process through the libfiu points. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "faults.h"
#include "test_exec_support.h"

TestSuite(exec_cli, .timeout = 120);

static void usage_error(const char *const *argv, const char *what)
{
    struct sup_cmd c;
    sup_run(&c, 30, argv, NULL);
    cr_expect_eq(c.code, 2, "exit %d, expected 2; stderr: %s", c.code, c.err);
    cr_expect_eq(sup_count_lines(c.err), 1, "%d lines on stderr, expected one:\n%s", sup_count_lines(c.err), c.err);
    cr_expect(strstr(c.err, what), "the message does not name '%s': %s", what, c.err);
    cr_expect(!strncmp(c.err, "ipcvet: ", 8), "%s", c.err);
    sup_cmd_free(&c);
}
#define USAGE(what, ...) usage_error(SUP_ARGV(sup_ipcvet(), "exec", __VA_ARGS__), what)

Test(exec_cli, bad_input_is_exit_2_with_one_line_naming_it)
{
    USAGE("ipcvet: --inject: unknown errno 'EBOGUS' in 'shmat:error=EBOGUS'", "--inject", "shmat:error=EBOGUS",
          "--", "true");
    USAGE("unknown function 'shmatt'", "--inject", "shmatt:error=ENOMEM", "--", "true");
    USAGE("bad when 'x'", "--inject", "shmat:error=ENOMEM:when=x", "--", "true");
    USAGE("one rule per --inject", "--inject", "shmat:error=ENOMEM;shmdt:error=EINVAL", "--", "true");
    USAGE("missing command", "--inject", "shmat:error=ENOMEM");
    USAGE("command not found: 'no-such-program-here'", "--", "no-such-program-here");
    USAGE("'abc'", "--timeout", "abc", "--", "true");
    USAGE("'-1'", "--seed", "-1", "--", "true");
    USAGE("'bogus'", "--isolate", "bogus", "--", "true");
    USAGE("unknown limit 'nolimit'", "--limit", "nolimit=3", "--", "true");
    USAGE("'--frob'", "--frob", "--", "true");
}

Test(exec_cli, static_program_gets_a_warning_that_injection_cannot_reach_it)
{
    struct sup_cmd c;
    RUN_IPCVET(&c, 60, "exec", "--inject", "shmget:error=ENOSPC", "--", fixture("correct/static_true"));
    cr_expect_eq(c.code, 0, "%s", c.err);
    cr_expect(strstr(c.err, "statically linked: library-level injection cannot reach it"), "%s", c.err);
    cr_expect(strstr(c.err, "never fired"), "%s", c.err);
    sup_cmd_free(&c);
}

Test(exec_cli, limit_is_set_inside_the_sandbox_only)
{
    char before[64] = "", after[64] = "";
    FILE *f = fopen("/proc/sys/kernel/msgmni", "re");
    if (f) {
        cr_assert(fgets(before, sizeof before, f));
        fclose(f);
    }
    struct sup_cmd c;
    RUN_IPCVET(&c, 60, "exec", "--limit", "msgmni=0", "--", "ipcmk", "-Q");
    if (c.code == 2 && strstr(c.err, "cannot set it here"))
        cr_skip_test("this machine refuses per-namespace limits: %s", c.err);
    cr_expect_eq(c.code, 1, "exit %d\n%s", c.code, c.err);
    cr_expect(strstr(c.err, "create message queue failed: No space left on device"), "%s", c.err);
    f = fopen("/proc/sys/kernel/msgmni", "re");
    if (f) {
        cr_assert(fgets(after, sizeof after, f));
        fclose(f);
    }
    cr_expect_str_eq(before, after, "the host's msgmni changed");
    sup_cmd_free(&c);
}

Test(exec_cli, json_to_stdout_and_trace_to_stderr)
{
    struct sup_cmd c;
    RUN_IPCVET(&c, 60, "exec", "--json", "-", "--trace", "--", fixture("correct/sysv_msg_pingpong"));
    cr_expect_eq(c.code, 0, "%s", c.err);
    char err[256];
    struct sup_json *j = sup_json_parse(c.out, err, sizeof err);
    cr_expect(j, "stdout is not the JSON report: %s\n%s", err, c.out);
    cr_expect(strstr(c.err, "[0 pid ") && strstr(c.err, "] msgget(0, 01600) = "), "no trace on stderr:\n%s", c.err);
    cr_expect(strstr(c.err, "[0.1 pid ") && strstr(c.err, "] msgrcv("), "no trace of the child:\n%s", c.err);
    sup_json_free(j);
    sup_cmd_free(&c);
}

Test(exec_cli, valgrind_runs_the_program_under_memcheck_with_the_plan, .timeout = 300)
{
    if (access("/usr/bin/valgrind", X_OK))
        cr_skip_test("valgrind is not installed");
    struct sup_cmd c;
    struct sup_json *j = EXEC_JSON(&c, 240, "--valgrind", "--inject", "shmat:error=ENOMEM", "--",
                                   fixture("seeded/unchecked_shmat"));
    cr_assert(j, "no report: %s", c.err);
    cr_expect_eq(c.code, 1, "%s", c.err);
    const struct sup_json *plans = sup_json_get(j, "plans");
    cr_expect(plans && plans->n == 1 && jnum(&plans->items[0], "fired", 0) >= 1,
              "the plan did not reach the program under valgrind:\n%s", c.err);
    cr_expect(strstr(c.err, "Invalid write") || strstr(c.err, "SIGSEGV"), "memcheck said nothing:\n%s", c.err);
    sup_json_free(j);
    sup_cmd_free(&c);
}

/* fiu-ctrl enables ipc/sysv_shm/shmget in a process that runs with the
 * library preloaded and libfiu's remote control on; its next shmget fails
 * with the errno given as failinfo. */
Test(exec_cli, fiu_ctrl_drives_a_running_process)
{
    if (access("/usr/bin/fiu-ctrl", X_OK))
        cr_skip_test("fiu-ctrl is not installed");
    const char *lib = getenv("IPCVET_FAULTS_LIB");
    if (!lib || !*lib)
        lib = ipcv_faults_library();
    cr_assert(lib);
    char dir[512];
    snprintf(dir, sizeof dir, "%s/fiu-%d", sup_scratch(), (int)getpid());
    mkdir(dir, 0700);
    char prefix[600], preload[700], fifo_env[700];
    snprintf(prefix, sizeof prefix, "%s/ctrl", dir);
    snprintf(preload, sizeof preload, "LD_PRELOAD=%s", lib);
    snprintf(fifo_env, sizeof fifo_env, "FIU_CTRL_FIFO=%s", prefix);

    int in[2], out[2];
    cr_assert_eq(pipe(in), 0);
    cr_assert_eq(pipe(out), 0);
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(in[0], 0);
        dup2(out[1], 1);
        dup2(out[1], 2);
        close(in[1]);
        close(out[0]);
        putenv(preload);
        putenv(fifo_env);
        putenv("IPCVET_FIU=1");
        unsetenv("FIU_ENABLE");
        /* A private IPC namespace when we can have one; the fixture removes
         * its segment in any case. */
        if (unshare(CLONE_NEWIPC) < 0) { /* the host's, then */ }
        execl(fixture("correct/wait_then_shmget"), "wait_then_shmget", (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    char buf[256] = "";
    size_t got = 0;
    while (!strchr(buf, '\n') && got < sizeof buf - 1) {
        ssize_t n = read(out[0], buf + got, sizeof buf - 1 - got);
        if (n <= 0)
            break;
        got += (size_t)n;
        buf[got] = '\0';
    }
    cr_assert(!strncmp(buf, "ready ", 6), "the target did not start: %s", buf);
    char fifo[700];
    snprintf(fifo, sizeof fifo, "%s-%d.in", prefix, (int)pid);
    for (int i = 0; i < 200 && access(fifo, F_OK); i++)
        usleep(10000);
    char pidstr[16];
    snprintf(pidstr, sizeof pidstr, "%d", (int)pid);
    struct sup_cmd c;
    sup_run(&c, 30, SUP_ARGV("/usr/bin/fiu-ctrl", "-f", prefix, "-c",
                             "enable name=ipc/sysv_shm/shmget,failinfo=28", pidstr), NULL);
    cr_expect_eq(c.code, 0, "fiu-ctrl: exit %d: %s %s", c.code, c.out, c.err);
    sup_cmd_free(&c);
    cr_assert_eq(write(in[1], "go\n", 3), 3);
    close(in[1]);
    while (got < sizeof buf - 1) {
        ssize_t n = read(out[0], buf + got, sizeof buf - 1 - got);
        if (n <= 0)
            break;
        got += (size_t)n;
        buf[got] = '\0';
    }
    close(out[0]);
    int st;
    waitpid(pid, &st, 0);
    cr_expect(strstr(buf, "shmget: ENOSPC"), "the enabled point did not fail shmget: %s", buf);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_expect_eq(system(cmd), 0);
}
