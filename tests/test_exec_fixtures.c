/* ipcvet exec on the seeded fixtures: each defect shows up as what exec
 * reports (a signal, a hang naming the blocked call, a leak naming the
 * object, a failed exit), and --trace shows the calls a program makes. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_exec_support.h"

TestSuite(exec_fixtures, .timeout = 120);

Test(exec_fixtures, unchecked_shmat_crashes_under_enomem_and_exec_reports_the_signal)
{
    struct sup_cmd c;
    struct sup_json *j = EXEC_JSON(&c, 60, "--", fixture("seeded/unchecked_shmat"));
    cr_assert(j, "no report: %s", c.err);
    cr_expect_eq(c.code, 0, "without a plan it is clean: exit %d\n%s", c.code, c.err);
    sup_json_free(j);
    sup_cmd_free(&c);

    j = EXEC_JSON(&c, 60, "--inject", "shmat:error=ENOMEM", "--", fixture("seeded/unchecked_shmat"));
    cr_assert(j, "no report: %s", c.err);
    cr_expect_eq(c.code, 1, "exit %d\n%s", c.code, c.err);
    const struct sup_json *p = jproc(j, "0");
    cr_assert(p, "no process 0 in the report");
    cr_expect_str_eq(jstr(p, "status"), "killed");
    cr_expect_str_eq(jstr(p, "signal"), "SIGSEGV");
    cr_expect_null(jstr(p, "injected"), "the SIGSEGV is the program's, not injected");
    cr_expect(strstr(c.err, "process 0 (unchecked_shmat, pid ") && strstr(c.err, "killed by SIGSEGV"),
              "the human report does not name the signal:\n%s", c.err);
    cr_expect_eq(jlen(j, "leaks"), 0u);
    const struct sup_json *plans = sup_json_get(j, "plans");
    cr_expect(plans && plans->n == 1 && jnum(&plans->items[0], "fired", 0) == 1, "the plan fired once");
    sup_json_free(j);
    sup_cmd_free(&c);
}

Test(exec_fixtures, crash_after_holding_a_sysv_semaphore_hangs_the_peer_and_names_semop)
{
    struct sup_cmd c;
    struct sup_json *j = EXEC_JSON(&c, 60, "--timeout", "1", "--inject", "semop:crash_after:proc=0.1:when=1",
                                   "--", fixture("seeded/sem_no_undo"));
    cr_assert(j, "no report: %s", c.err);
    cr_expect_eq(c.code, 1, "exit %d\n%s", c.code, c.err);
    cr_expect_eq(jnum(j, "timed_out", 0), 1, "no hang reported:\n%s", c.err);
    const struct sup_json *holder = jproc(j, "0.1"), *peer = jproc(j, "0");
    cr_assert(holder && peer, "processes 0 and 0.1 are not both in the report");
    cr_expect_str_eq(jstr(holder, "status"), "killed");
    cr_expect_str_eq(jstr(holder, "signal"), "SIGKILL");
    cr_expect_str_eq(jstr(holder, "injected"), "crash_after");
    cr_expect_eq(jnum(peer, "hung", 0), 1, "process 0 is not reported hung");
    const char *call = jstr(peer, "call"), *blocked = jstr(peer, "blocked_in");
    cr_expect(call && !strncmp(call, "semop(", 6), "the hung call is '%s', not semop", call ? call : "(none)");
    cr_expect(blocked && strstr(blocked, "semtimedop"), "blocked in '%s'", blocked ? blocked : "(none)");
    cr_expect(strstr(c.err, "hang") && strstr(c.err, "in semop("), "the human report does not name semop:\n%s",
              c.err);
    /* The set is still there after the kill: a leak, created by 0. */
    cr_expect_eq(jlen(j, "leaks"), 1u);
    sup_json_free(j);
    sup_cmd_free(&c);
}

Test(exec_fixtures, leak_on_an_error_path_is_reported_naming_the_object_and_creator)
{
    struct sup_cmd c;
    struct sup_json *j = EXEC_JSON(&c, 60, "--inject", "msgsnd:error=EAGAIN", "--", fixture("seeded/leak_on_error"));
    cr_assert(j, "no report: %s", c.err);
    cr_expect_eq(c.code, 1);
    cr_assert_eq(jlen(j, "leaks"), 1u, "leaks: %zu\n%s", jlen(j, "leaks"), c.err);
    const struct sup_json *leak = &sup_json_get(j, "leaks")->items[0];
    cr_expect_str_eq(jstr(leak, "kind"), "sysv_msg");
    cr_expect_str_eq(jstr(leak, "key"), "0");
    cr_expect_str_eq(jstr(leak, "creator_lineage"), "0");
    cr_expect_str_eq(jstr(leak, "creator_comm"), "leak_on_error");
    cr_expect(jnum(leak, "creator_pid", 0) > 0);
    cr_expect(strstr(c.err, "leak: sysv_msg key 0 id ") && strstr(c.err, "created by process 0 (leak_on_error"),
              "the human report does not name the leak:\n%s", c.err);
    sup_json_free(j);
    sup_cmd_free(&c);

    j = EXEC_JSON(&c, 60, "--", fixture("seeded/leak_on_error"));
    cr_expect_eq(c.code, 0, "clean without the fault: %s", c.err);
    cr_expect_eq(jlen(j, "leaks"), 0u);
    sup_json_free(j);
    sup_cmd_free(&c);
}

Test(exec_fixtures, unretried_eintr_fails_the_program_where_the_correct_one_retries)
{
    struct sup_cmd c;
    struct sup_json *j = EXEC_JSON(&c, 60, "--inject", "msgrcv:error=EINTR:when=2", "--",
                                   fixture("seeded/unretried_eintr"));
    cr_assert(j, "no report: %s", c.err);
    cr_expect_eq(c.code, 1);
    const struct sup_json *p = jproc(j, "0");
    cr_expect_str_eq(jstr(p, "status"), "exited");
    cr_expect_eq(jnum(p, "code", -1), 1);
    cr_expect(strstr(c.err, "received 1 of 3"), "%s", c.err);
    sup_json_free(j);
    sup_cmd_free(&c);

    j = EXEC_JSON(&c, 60, "--inject", "msgrcv:error=EINTR:when=1", "--", fixture("correct/sysv_msg_pingpong"));
    cr_expect_eq(c.code, 0, "the correct program retries EINTR: exit %d\n%s", c.code, c.err);
    sup_json_free(j);
    sup_cmd_free(&c);
}

/* "[0.1 pid 4] shmat(0, (nil), 0) = 0x7f.. (notes)" -> "shmat(0, (nil), 0) = ADDR (notes)",
 * kept only for `lineage`, with addresses and pids made stable. */
static char *calls_of(const char *trace, const char *lineage)
{
    char *out = calloc(1, strlen(trace) + 1);
    char prefix[32];
    snprintf(prefix, sizeof prefix, "[%s pid ", lineage);
    for (const char *l = trace; *l;) {
        const char *e = l + strcspn(l, "\n");
        if (!strncmp(l, prefix, strlen(prefix))) {
            const char *call = strchr(l, ']');
            for (const char *p = call ? call + 2 : e; p < e; p++) {
                if (p[0] == '0' && p[1] == 'x' && p + 2 < e) {   /* an address */
                    strcat(out, "ADDR");
                    p += 2;
                    while (p + 1 < e && strchr("0123456789abcdef", p[1]))
                        p++;
                } else {
                    strncat(out, p, 1);
                }
            }
            strcat(out, "\n");
        }
        l = *e ? e + 1 : e;
    }
    return out;
}

Test(exec_fixtures, trace_shows_the_calls_each_process_makes)
{
    char path[512];
    snprintf(path, sizeof path, "%s/trace-%d.txt", sup_scratch(), (int)getpid());
    char opt[600];
    snprintf(opt, sizeof opt, "--trace=%s", path);
    struct sup_cmd c;
    RUN_IPCVET(&c, 60, "exec", opt, "--inject", "shmdt:error=EINVAL:proc=0.1", "--",
               fixture("correct/sysv_shm_pair"));
    char *trace = sup_read_file(path);
    unlink(path);
    cr_assert(trace, "no trace written; stderr:\n%s", c.err);
    char *root = calls_of(trace, "0"), *child = calls_of(trace, "0.1");
    cr_expect_str_eq(root,
                     "shmget(0, 4096, 01600) = 0\n"
                     "shmat(0, (nil), 0) = ADDR\n"
                     "shmctl(0, 0, (nil)) = 0\n"
                     "fork() = 4\n"
                     "shmdt(ADDR) = 0\n",
                     "process 0 made other calls than expected; whole trace:\n%s", trace);
    cr_expect_str_eq(child,
                     "shmat(0, (nil), 0) = ADDR\n"
                     "shmdt(ADDR) = -1 EINVAL (injected error)\n",
                     "process 0.1 made other calls than expected; whole trace:\n%s", trace);
    cr_expect_eq(c.code, 1, "the child's shmdt failed, so did the run: %d\n%s", c.code, c.err);
    free(root);
    free(child);
    free(trace);
    sup_cmd_free(&c);
}

/* Which calls a p= plan fails depends on the seed only. */
static char *injected_calls(const char *seed)
{
    char path[512], opt[600];
    snprintf(path, sizeof path, "%s/seed-%d-%s.txt", sup_scratch(), (int)getpid(), seed);
    snprintf(opt, sizeof opt, "--trace=%s", path);
    struct sup_cmd c;
    RUN_IPCVET(&c, 60, "exec", opt, "--seed", seed, "--inject", "semop:error=EINTR:when=p=0.5", "--",
               fixture("correct/sysv_sem_lock"));
    char *trace = sup_read_file(path);
    unlink(path);
    sup_cmd_free(&c);
    cr_assert(trace);
    char *out = calloc(1, strlen(trace) + 64);
    for (const char *lineage = "0"; lineage; lineage = !strcmp(lineage, "0") ? "0.1" : NULL) {
        char *calls = calls_of(trace, lineage);
        sprintf(out + strlen(out), "%s: ", lineage);
        int n = 0;
        for (const char *l = calls; *l; l += strcspn(l, "\n") + 1, n++)
            if (!strncmp(l, "semop(", 6))
                strcat(out, memmem(l, strcspn(l, "\n"), "injected", 8) ? "x" : ".");
        strcat(out, "\n");
        free(calls);
    }
    free(trace);
    return out;
}

Test(exec_fixtures, seed_makes_random_injections_reproducible)
{
    char *a = injected_calls("5"), *b = injected_calls("5"), *other = injected_calls("6");
    cr_expect_str_eq(a, b, "seed 5 twice gave\n%s\nand\n%s", a, b);
    cr_expect(strchr(a, 'x'), "p=0.5 never fired:\n%s", a);
    cr_expect_str_neq(a, other, "seeds 5 and 6 failed the same calls:\n%s", a);
    free(a);
    free(b);
    free(other);
}

Test(exec_fixtures, json_report_is_complete)
{
    struct sup_cmd c;
    struct sup_json *j = EXEC_JSON(&c, 60, "--seed", "3", "--inject", "semop:delay_enter=1", "--",
                                   fixture("correct/sysv_sem_lock"));
    cr_assert(j, "no report: %s", c.err);
    cr_expect_eq(c.code, 0, "%s", c.err);
    cr_expect_eq(jnum(j, "exit", -1), 0);
    cr_expect_eq(jnum(j, "seed", -1), 3);
    cr_expect_eq(jnum(j, "timed_out", -1), 0);
    cr_expect_eq(jlen(j, "command"), 1u);
    cr_expect_eq(jlen(j, "processes"), 2u, "processes 0 and 0.1");
    const struct sup_json *plans = sup_json_get(j, "plans");
    cr_assert(plans && plans->n == 1);
    cr_expect_str_eq(jstr(&plans->items[0], "rule"), "semop:delay_enter=1");
    cr_expect_eq(jnum(&plans->items[0], "fired", 0), 12, "semop is called 6 times in each process");
    for (const char *l = "0"; l; l = !strcmp(l, "0") ? "0.1" : NULL) {
        const struct sup_json *p = jproc(j, l);
        cr_assert(p, "no process %s", l);
        cr_expect_str_eq(jstr(p, "status"), "exited");
        cr_expect_eq(jnum(p, "code", -1), 0);
        cr_expect_eq(jnum(p, "preloaded", 0), 1);
        cr_expect_str_eq(jstr(p, "comm"), "sysv_sem_lock");
    }
    sup_json_free(j);
    sup_cmd_free(&c);
}
