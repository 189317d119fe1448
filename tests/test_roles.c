/* Roles end to end: a failing role is a failure with its message (not a
 * pass, not a hang); a crashed role is reported with its signal; a role
 * that dies or never gets ready makes the case broken; a correct
 * multi-role case passes. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_support.h"

TestSuite(e2e_roles, .timeout = 60);

static char demo_src[4096];

static const char *demo_cases_c(void)
{
    snprintf(demo_src, sizeof demo_src, "%s/tests/demo/demo_cases.c", sup_top());
    return demo_src;
}

Test(e2e_roles, failing_role_is_a_failure_with_its_message_at_its_line)
{
    struct sup_cmd c;
    struct sup_json *r = RUN_DEMO_JSON(&c, 30, NULL, "--filter", "demo/role_fails");
    cr_assert(!c.timed_out, "run of demo/role_fails did not end in 30 s:\n%s%s", c.out, c.err);
    cr_assert(r, "no report:\n%s%s", c.out, c.err);
    cr_expect_eq(c.code, 1, "exit %d, expected 1", c.code);
    cr_expect_str_eq(sup_result_str(r, "role_fails", "outcome"), "failed");
    const char *msg = sup_result_str(r, "role_fails", "message");
    cr_expect(strstr(msg, "role 'checker': 42 == 41: expected 42, seen 41"), "message: %s", msg);
    /* Reported at the check's own file:line, which is in the role. */
    char where[64];
    snprintf(where, sizeof where, "demo_cases.c:%d: ", sup_line_of(demo_cases_c(), "ipcv_expect_eq(42, 41)"));
    cr_expect(strstr(msg, where), "message '%s' is not at %s", msg, where);
    cr_expect_lt(c.seconds, 10, "a failing role took %.1f s", c.seconds);
    sup_json_free(r);
    sup_cmd_free(&c);
}

Test(e2e_roles, crashed_role_is_reported_with_its_signal)
{
    struct sup_cmd c;
    struct sup_json *r = RUN_DEMO_JSON(&c, 30, NULL, "--filter", "demo/role_crashes");
    cr_assert(r, "no report:\n%s%s", c.out, c.err);
    cr_expect_eq(c.code, 1);
    cr_expect_str_eq(sup_result_str(r, "role_crashes", "outcome"), "failed");
    const char *msg = sup_result_str(r, "role_crashes", "message");
    cr_expect(strstr(msg, "role 'crasher': expected exit status 0, seen killed by SEGV"), "message: %s", msg);
    sup_json_free(r);
    sup_cmd_free(&c);
}

/* A role's output is kept and shown when its case fails: a crash is when it
 * matters most. The role printed "about to crash\n" to its (file-backed,
 * hence fully buffered) stdout just before raise(SIGSEGV). */
Test(e2e_roles, crashed_role_output_is_shown)
{
    struct sup_cmd c;
    struct sup_json *r = RUN_DEMO_JSON(&c, 30, NULL, "--filter", "demo/role_crashes");
    cr_assert(r, "no report:\n%s%s", c.out, c.err);
    const char *msg = sup_result_str(r, "role_crashes", "message");
    cr_expect(strstr(msg, "its output: about to crash"), "the crashed role's output is lost: %s", msg);
    sup_json_free(r);
    sup_cmd_free(&c);
}

Test(e2e_roles, role_exit_status_and_output_are_reported)
{
    struct sup_cmd c;
    struct sup_json *r = RUN_DEMO_JSON(&c, 30, NULL, "--filter", "demo/role_exits_with_output");
    cr_assert(r, "no report:\n%s%s", c.out, c.err);
    const char *msg = sup_result_str(r, "role_exits_with_output", "message");
    cr_expect(strstr(msg, "role 'talker': expected exit status 0, seen exit status 3; its output: role says hello"),
              "message: %s", msg);
    sup_json_free(r);
    sup_cmd_free(&c);
}

Test(e2e_roles, role_dead_before_ready_is_broken_not_a_hang)
{
    struct sup_cmd c;
    struct sup_json *r = RUN_DEMO_JSON(&c, 30, NULL, "--filter", "demo/role_dies_before_ready");
    cr_assert(r, "no report:\n%s%s", c.out, c.err);
    cr_expect_str_eq(sup_result_str(r, "role_dies_before_ready", "outcome"), "broken");
    const char *msg = sup_result_str(r, "role_dies_before_ready", "message");
    cr_expect(strstr(msg, "role 'early' died before it was ready (exit status 3)"), "message: %s", msg);
    cr_expect_lt(c.seconds, 5, "took %.1f s: EOF on the readiness pipe should be seen at once", c.seconds);
    sup_json_free(r);
    sup_cmd_free(&c);
}

/* The wait is bounded by 5 s x IPCVET_TIMEOUT_MUL: 0.2 makes it 1 s. */
Test(e2e_roles, role_never_ready_is_broken_after_the_scaled_bound)
{
    struct sup_cmd c;
    struct sup_json *r = RUN_DEMO_JSON(&c, 30, SUP_ARGV("IPCVET_TIMEOUT_MUL=0.2"), "--filter",
                                       "demo/role_never_ready");
    cr_assert(r, "no report:\n%s%s", c.out, c.err);
    cr_expect_str_eq(sup_result_str(r, "role_never_ready", "outcome"), "broken");
    const char *msg = sup_result_str(r, "role_never_ready", "message");
    /* pause(2) is its own syscall on x86_64 only: the name is not checked. */
    cr_expect(strstr(msg, "role 'stuck' not ready within 1.0 s; it is in ") && strstr(msg, "(state S)"),
              "message: %s", msg);
    cr_expect_lt(c.seconds, 4.5, "took %.1f s", c.seconds);
    sup_json_free(r);
    sup_cmd_free(&c);
}

Test(e2e_roles, broken_setup_and_skip_are_told_apart_from_failures)
{
    struct sup_cmd c;
    struct sup_json *r = RUN_DEMO_JSON(&c, 30, NULL, "-j2", "--filter", "demo/@(broken_setup|skips)");
    cr_assert(r, "no report:\n%s%s", c.out, c.err);
    cr_expect_str_eq(sup_result_str(r, "broken_setup", "outcome"), "broken");
    const char *msg = sup_result_str(r, "broken_setup", "message");
    cr_expect(strstr(msg, "BROKEN (set-up failed, no verdict): shmget(") && strstr(msg, "failed: EINVAL"),
              "message: %s", msg);
    cr_expect_str_eq(sup_result_str(r, "skips", "outcome"), "skipped");
    cr_expect_str_eq(sup_result_str(r, "skips", "message"), "needs a feature this machine lacks");
    sup_json_free(r);
    sup_cmd_free(&c);
}

/* A coordinator killed by a signal is "crashed", and the run goes on to
 * the next cases (-j1: Criterion runs them in name order, so passes and
 * skips start after the crash). */
Test(e2e_roles, crashed_coordinator_is_crashed_and_the_run_goes_on)
{
    struct sup_cmd c;
    struct sup_json *r = RUN_DEMO_JSON(&c, 8, NULL, "-j1", "--filter",
                                       "demo/@(coordinator_crashes|passes|skips)");
    cr_assert(!c.timed_out, "ipcvet run hung after a coordinator crashed (killed after 8 s):\n%s%s", c.out, c.err);
    cr_assert(r, "no report:\n%s%s", c.out, c.err);
    cr_expect_eq(c.code, 1);
    cr_expect_str_eq(sup_result_str(r, "coordinator_crashes", "outcome"), "crashed");
    const char *msg = sup_result_str(r, "coordinator_crashes", "message");
    cr_expect(strstr(msg, "the case's coordinator was killed by SEGV"), "message: %s", msg);
    cr_expect_str_eq(sup_result_str(r, "passes", "outcome"), "passed");
    cr_expect_str_eq(sup_result_str(r, "skips", "outcome"), "skipped");
    sup_json_free(r);
    sup_cmd_free(&c);
}

/* Ready, release, checkpoints, the scratch page, wait_blocked and joins on
 * an exit status and on a signal, used correctly: no false failure. */
Test(e2e_roles, correct_multi_role_case_passes)
{
    struct sup_cmd c;
    struct sup_json *r = RUN_DEMO_JSON(&c, 30, NULL, "--filter", "demo/roles_synchronise");
    cr_assert(r, "no report:\n%s%s", c.out, c.err);
    cr_expect_str_eq(sup_result_str(r, "roles_synchronise", "outcome"), "passed", "message: %s",
                     sup_result_str(r, "roles_synchronise", "message"));
    cr_expect_eq(c.code, 0);
    sup_json_free(r);
    sup_cmd_free(&c);
}

/* A role may fork a helper of its own before it says ready; the helper
 * inherits the readiness pipe, so EOF never comes. ipcv_ready must still
 * reach the coordinator (the case is correct and must pass). */
Test(e2e_roles, role_that_forks_before_ready_is_seen_ready)
{
    struct sup_cmd c;
    struct sup_json *r = RUN_DEMO_JSON(&c, 30, SUP_ARGV("IPCVET_TIMEOUT_MUL=0.2"), "--filter",
                                       "demo/role_forks_then_ready");
    cr_assert(r, "no report:\n%s%s", c.out, c.err);
    cr_expect_str_eq(sup_result_str(r, "role_forks_then_ready", "outcome"), "passed", "message: %s",
                     sup_result_str(r, "role_forks_then_ready", "message"));
    sup_json_free(r);
    sup_cmd_free(&c);
}
