/* ipcvet explore's command line and reports: bad input is exit 2 with one
 * line naming the bad value; a baseline that is not clean stops it with
 * exit 1; --json and --junit (one test case per finding) parse; progress
 * goes to stderr; the host keeps nothing; a real program we did not write
 * (ipcmk) is explored to the end. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_explore_support.h"

TestSuite(explore_cli, .timeout = 180);

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
#define USAGE(what, ...) usage_error(SUP_ARGV(sup_ipcvet(), "explore", __VA_ARGS__), what)

Test(explore_cli, bad_input_is_exit_2_with_one_line_naming_it)
{
    USAGE("unknown errno 'EBOGUS'", "--errnos", "EBOGUS", "--", "true");
    USAGE("unknown function or class 'shmatt'", "--calls", "shmatt", "--", "true");
    USAGE("unknown function or class '%bogus'", "--calls", "%shm,%bogus", "--", "true");
    USAGE("'0'", "--max-occurrence", "0", "--", "true");
    USAGE("'x'", "-j", "x", "--", "true");
    USAGE("'-3'", "--repeat", "-3", "--", "true");
    USAGE("'abc'", "--timeout", "abc", "--", "true");
    USAGE("'-1'", "--seed", "-1", "--", "true");
    USAGE("'bogus'", "--isolate", "bogus", "--", "true");
    USAGE("'--frob'", "--frob", "--", "true");
    USAGE("missing command", "--crash");
    USAGE("command not found: 'no-such-program-here'", "--", "no-such-program-here");
    USAGE("statically linked", "--", fixture("correct/static_true"));
}

Test(explore_cli, a_baseline_that_fails_or_leaks_stops_it_with_exit_1)
{
    struct sup_cmd c;
    RUN_IPCVET(&c, 60, "explore", "--", "false");
    cr_expect_eq(c.code, 1, "exit %d\n%s%s", c.code, c.out, c.err);
    cr_expect(strstr(c.out, "baseline is not clean (run 1: process 0 exited with status 1")
              && strstr(c.out, "nothing explored"), "%s", c.out);
    sup_cmd_free(&c);
    /* ipcmk leaves its object by design: the baseline leaks, and the JSON
     * report says so. */
    struct sup_json *j = EXPLORE_JSON(&c, 60, "--", "ipcmk", "-Q");
    cr_expect_eq(c.code, 1, "exit %d\n%s%s", c.code, c.out, c.err);
    const struct sup_json *base = j ? sup_json_get(j, "baseline") : NULL;
    cr_assert(base, "no baseline in the report: %s", c.out);
    cr_expect_eq(jnum(base, "clean", 1), 0);
    cr_expect(jstr(base, "problem") && strstr(jstr(base, "problem"), "leak: sysv_msg"), "%s", c.out);
    cr_expect_eq(jnum(j, "experiments", -1), 0);
    sup_json_free(j);
    sup_cmd_free(&c);
}

Test(explore_cli, json_and_junit_name_every_finding_and_the_host_keeps_nothing)
{
    char junit[512], json[512];
    snprintf(junit, sizeof junit, "%s/explore-junit-%d.xml", sup_scratch(), (int)getpid());
    snprintf(json, sizeof json, "%s/explore-json-%d.json", sup_scratch(), (int)getpid());
    int lock = sup_host_lock();
    char *before = sup_host_snapshot();
    struct sup_cmd c;
    RUN_IPCVET(&c, 120, "explore", "-j2", "--json", json, "--junit", junit, "--crash", "--",
               fixture("explore/sysv_sem_no_undo"));
    char *after = sup_host_snapshot();
    sup_host_unlock(lock);
    char *jtext = sup_read_file(json), err[256];
    struct sup_json *j = jtext ? sup_json_parse(jtext, err, sizeof err) : NULL;
    free(jtext);
    unlink(json);
    char *added = host_added(before, after);
    cr_expect_str_empty(added, "left on the host:\n%s", added);
    cr_assert(j, "no JSON report: %s", c.err);
    cr_expect_eq(c.code, 1);
    cr_expect_eq(jnum(j, "exit", 0), 1);
    size_t nf = jlen(j, "findings");
    cr_expect_gt(nf, 0u);
    cr_expect_gt(jlen(j, "unavoidable_leaks"), 0u, "a crash after semget leaves the set: unavoidable");
    cr_expect_gt(jnum(j, "experiments", 0), 0);
    cr_expect_eq(jlen(j, "runs"), (size_t)jnum(j, "experiments", 0));
    const struct sup_json *base = sup_json_get(j, "baseline");
    cr_expect(base && jnum(base, "processes", 0) == 2 && jnum(base, "calls", 0) >= 6, "baseline: %g processes, %g calls",
              jnum(base, "processes", 0), jnum(base, "calls", 0));
    cr_expect(sup_json_get(sup_json_get(j, "summary"), "semop"), "no semop row in the summary");
    /* The human report went to stdout, progress to stderr. */
    cr_expect(strstr(c.out, "findings: ") && strstr(c.out, "outcomes per function"), "%s", c.out);
    cr_expect(strstr(c.out, "reproduce: ipcvet exec --inject "), "%s", c.out);
    cr_expect(strstr(c.err, "ipcvet: explore: ") && strstr(c.err, " experiments, "), "no progress: %s", c.err);

    char *text = sup_read_file(junit);
    cr_assert(text, "no JUnit file");
    struct sup_xml *x = sup_xml_parse(text, err, sizeof err);
    cr_assert(x, "JUnit does not parse: %s\n%s", err, text);
    cr_expect_eq(sup_count(text, "<testcase "), (int)nf, "%d test cases for %zu findings:\n%s",
                 sup_count(text, "<testcase "), nf, text);
    cr_expect_eq(sup_count(text, "<failure "), (int)nf);
    cr_expect(strstr(text, "reproduce: ipcvet exec"), "%s", text);
    sup_xml_free(x);
    free(text);
    unlink(junit);
    free(before);
    free(after);
    free(added);
    sup_json_free(j);
    sup_cmd_free(&c);
}

/* ipcmk leaves its queue by design; a script that removes it is explored
 * to the end, and what ipcmk itself does is a clean error every time. */
Test(explore_cli, ipcmk_in_a_script_is_explored_to_the_end)
{
    struct sup_cmd c;
    struct sup_json *j = EXPLORE_JSON(&c, 150, "-j2", "--crash", "--", "sh", "-c",
                                      "id=$(ipcmk -Q | sed 's/.*: //') && ipcrm -q \"$id\"");
    cr_assert(j, "no report (exit %d): %s", c.code, c.err);
    cr_expect(c.code == 0 || c.code == 1, "exit %d", c.code);
    const struct sup_json *msgget = sup_json_get(sup_json_get(j, "summary"), "msgget");
    cr_assert(msgget, "msgget was not explored:\n%s", c.out);
    cr_expect_gt(jnum(msgget, "clean-error", 0), 0, "ipcmk reports a failed msgget:\n%s", c.out);
    cr_expect_eq(jnum(msgget, "crash", 0) + jnum(msgget, "hang", 0), 0, "%s", c.out);
    /* Killing ipcrm before it removes the queue is nobody's fault. */
    const struct sup_json *u = sup_json_get(j, "unavoidable_leaks");
    int removal = 0;
    for (size_t i = 0; u && i < u->n; i++)
        removal |= jstr(&u->items[i], "function") && !strcmp(jstr(&u->items[i], "function"), "msgctl");
    cr_expect(removal, "a killed or failed removal is not an unavoidable leak:\n%s", c.out);
    sup_json_free(j);
    sup_cmd_free(&c);
}
