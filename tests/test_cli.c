/* The command line end to end: bad input is exit 2 and one line naming the
 * bad value; list, list --json, list --ids; exit statuses 0, 1 and 2. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_support.h"

TestSuite(e2e_cli, .timeout = 60);

/* A usage error: status 2, nothing on stdout, exactly one line on stderr
 * that starts with "ipcvet: " and names `what`. */
static void expect_usage_error(const char *const *argv, const char *what)
{
    struct sup_cmd c;
    sup_run(&c, 20, argv, NULL);
    char shown[256] = "";
    for (int i = 1; argv[i] && strlen(shown) < 200; i++)
        snprintf(shown + strlen(shown), sizeof shown - strlen(shown), " %s", argv[i]);
    cr_expect_eq(c.code, 2, "ipcvet%s: exit status %d (signal %d), expected 2; stderr: %s", shown,
                 c.code, c.sig, c.err);
    cr_expect_eq(sup_count_lines(c.err), 1, "ipcvet%s: %d lines on stderr, expected one:\n%s",
                 shown, sup_count_lines(c.err), c.err);
    cr_expect(!strncmp(c.err, "ipcvet: ", 8), "ipcvet%s: stderr does not start with 'ipcvet: ': %s",
              shown, c.err);
    cr_expect(strstr(c.err, what), "ipcvet%s: the message does not name '%s': %s", shown, what, c.err);
    cr_expect_eq(c.out[0], '\0', "ipcvet%s: wrote to stdout: %s", shown, c.out);
    sup_cmd_free(&c);
}

#define USAGE(what, ...) expect_usage_error(SUP_ARGV(sup_ipcvet(), __VA_ARGS__), what)

Test(e2e_cli, unknown_command_is_exit_2_naming_it)
{
    USAGE("'frobnicate'", "frobnicate");
}

Test(e2e_cli, run_filter_matching_nothing_is_exit_2_naming_the_filter)
{
    USAGE("no-such-case", "run", "--filter", "no-such-case");
}

Test(e2e_cli, run_jobs_zero_is_exit_2_naming_the_value)
{
    USAGE("'0'", "run", "-j", "0");
    USAGE("'0'", "run", "--jobs", "0");
    USAGE("'2x'", "run", "-j", "2x");
    USAGE("'257'", "run", "-j", "257");
    USAGE("'-3'", "run", "-j", "-3");
}

Test(e2e_cli, run_bad_values_are_exit_2_naming_the_value)
{
    USAGE("'0'", "run", "--repeat", "0");
    USAGE("'abc'", "run", "--repeat", "abc");
    USAGE("'bogus'", "run", "--isolate", "bogus");
    USAGE("'nope'", "run", "--mech", "nope");
    USAGE("'nope'", "run", "--mech", "sysv_shm,nope");
    USAGE("'nope'", "run", "--tag", "nope");
    USAGE("'--bogus'", "run", "--bogus");
    USAGE("'-x'", "run", "-x");
    USAGE("'--junit'", "run", "--junit");
    USAGE("'extra'", "run", "extra");
    USAGE("/nonexistent-dir/r.xml", "run", "--junit", "/nonexistent-dir/r.xml");
    USAGE("/nonexistent-dir/r.tap", "run", "--tap", "/nonexistent-dir/r.tap");
    USAGE("/nonexistent-dir/r.json", "run", "--json", "/nonexistent-dir/r.json");
}

Test(e2e_cli, other_commands_bad_input_is_exit_2_naming_it)
{
    USAGE("'--bogus'", "list", "--bogus");
    USAGE("'nope'", "list", "--mech", "nope");
    USAGE("'nope'", "list", "--tag", "nope");
    USAGE("'extra'", "list", "extra");
    USAGE("'x'", "limits", "x");
    USAGE("'--bogus'", "limits", "--bogus");
    USAGE("'--bogus'", "clean", "--bogus");
    USAGE("'x'", "clean", "x");
}

/* "-xv": getopt reports the unknown 'x' inside a cluster without moving
 * past the argument, so argv[optind - 1] is the word before it ("run");
 * the message must name -x. */
Test(e2e_cli, unknown_short_option_in_a_cluster_is_named)
{
    USAGE("'-x'", "run", "-xv");
    USAGE("'-x'", "run", "-j2", "-xv");
}

/* `list --mech` without a value is a missing value, not an unknown option. */
Test(e2e_cli, list_option_without_value_says_it_needs_one)
{
    USAGE("needs a value", "list", "--mech");
}

/* list says which selection matched nothing, as run does. */
Test(e2e_cli, list_selection_matching_nothing_names_it)
{
    USAGE("no-such-case", "list", "--filter", "no-such-case");
}

Test(e2e_cli, help_is_exit_0_on_stdout_and_no_command_is_exit_2)
{
    struct sup_cmd c;
    RUN_IPCVET(&c, 20, "--help");
    cr_expect_eq(c.code, 0, "--help: exit %d", c.code);
    cr_expect(strstr(c.out, "usage: ipcvet COMMAND"), "--help: no usage on stdout: %s", c.out);
    cr_expect(strstr(c.out, "Exit status: 0 all good, 1 problems found, 2 bad input"),
              "--help does not explain the exit statuses: %s", c.out);
    cr_expect_eq(c.err[0], '\0', "--help wrote to stderr: %s", c.err);
    sup_cmd_free(&c);

    sup_run(&c, 20, SUP_ARGV(sup_ipcvet()), NULL);
    cr_expect_eq(c.code, 2, "no command: exit %d", c.code);
    cr_expect(strstr(c.err, "usage: ipcvet COMMAND"), "no command: no usage on stderr: %s", c.err);
    cr_expect_eq(c.out[0], '\0', "no command: wrote to stdout: %s", c.out);
    sup_cmd_free(&c);
}

/* ---- list -------------------------------------------------------------------- */

Test(e2e_cli, demo_list_matches_expected_text)
{
    struct sup_cmd c;
    RUN_DEMO(&c, 20, "list");
    cr_assert_eq(c.code, 0, "list: exit %d: %s", c.code, c.err);
    char *why = sup_golden_diff("demo-list.txt", c.out);
    cr_expect(!why, "%s", why);
    free(why);
    sup_cmd_free(&c);
}

Test(e2e_cli, list_selects_by_tag_mech_and_filter)
{
    struct sup_cmd c;
    RUN_DEMO(&c, 20, "list", "--tag", "cleanup");
    cr_expect_eq(c.code, 0);
    cr_expect_eq(sup_count_lines(c.out), 7, "--tag cleanup: %d lines:\n%s", sup_count_lines(c.out), c.out);
    cr_expect_eq(sup_count(c.out, "leaks_"), 7, "--tag cleanup lists others:\n%s", c.out);
    sup_cmd_free(&c);

    RUN_DEMO(&c, 20, "list", "--filter", "demo/leaks_posix_*");
    cr_expect_eq(c.code, 0);
    cr_expect_eq(sup_count_lines(c.out), 3, "--filter demo/leaks_posix_*:\n%s", c.out);
    sup_cmd_free(&c);

    /* A filter without '/' matches the case name alone too. */
    RUN_DEMO(&c, 20, "list", "--filter", "role_*");
    cr_expect_eq(c.code, 0);
    cr_expect_eq(sup_count_lines(c.out), 6, "--filter role_*:\n%s", c.out);
    sup_cmd_free(&c);

    RUN_IPCVET(&c, 20, "list", "--mech", "sysv_shm");
    cr_expect_eq(c.code, 0, "list --mech sysv_shm: exit %d: %s", c.code, c.err);
    cr_expect_gt(sup_count_lines(c.out), 0, "no sysv_shm case listed");
    for (const char *p = c.out; *p; p += strcspn(p, "\n") + 1)
        cr_expect(!strncmp(p, "sysv_shm ", 9), "--mech sysv_shm lists: %.*s", (int)strcspn(p, "\n"), p);
    sup_cmd_free(&c);
}

/* An extglob negation excludes: '!(slow_for_sigkill)' must not select
 * demo/slow_for_sigkill (it does when the full name "demo/slow_for_sigkill",
 * which differs from "slow_for_sigkill", is also tried). */
Test(e2e_cli, negated_filter_excludes_the_case)
{
    struct sup_cmd c;
    RUN_DEMO(&c, 20, "list", "--filter", "!(slow_for_sigkill)");
    cr_expect_eq(c.code, 0);
    cr_expect(!strstr(c.out, "slow_for_sigkill"), "--filter '!(slow_for_sigkill)' still lists it:\n%s", c.out);
    sup_cmd_free(&c);

    RUN_DEMO(&c, 20, "list", "--filter", SUP_NOT_SLOW);
    cr_expect(!strstr(c.out, "slow_for_sigkill"), "--filter '%s' still lists it", SUP_NOT_SLOW);
    sup_cmd_free(&c);
}

static void check_list_json(const char *bin, const char *table)
{
    struct sup_cmd c;
    sup_run(&c, 20, SUP_ARGV(bin, "list", "--json"), NULL);
    cr_assert_eq(c.code, 0, "%s list --json: exit %d: %s", bin, c.code, c.err);
    char err[256];
    struct sup_json *v = sup_json_parse(c.out, err, sizeof err);
    cr_assert(v, "%s list --json is not valid JSON: %s\n%s", bin, err, c.out);
    cr_assert_eq(v->type, SUP_JARR, "list --json is not an array");
    cr_expect_eq((int)v->n, sup_count_lines(table), "list --json has %zu cases, list %d",
                 v->n, sup_count_lines(table));
    static const char *const strings[] = { "mechanism", "name", "description", "spec" };
    static const char *const arrays[] = { "tags", "behaviours" };
    for (size_t i = 0; i < v->n; i++) {
        const struct sup_json *o = &v->items[i];
        cr_assert_eq(o->type, SUP_JOBJ, "case %zu is not an object", i);
        for (int k = 0; k < 4; k++) {
            const struct sup_json *f = sup_json_get(o, strings[k]);
            cr_expect(f && f->type == SUP_JSTR, "case %zu: '%s' missing or not a string", i, strings[k]);
        }
        for (int k = 0; k < 2; k++) {
            const struct sup_json *f = sup_json_get(o, arrays[k]);
            cr_expect(f && f->type == SUP_JARR, "case %zu: '%s' missing or not an array", i, arrays[k]);
            for (size_t j = 0; f && j < f->n; j++)
                cr_expect(f->items[j].type == SUP_JSTR && f->items[j].str[0] &&
                          !strpbrk(f->items[j].str, " ,"),
                          "case %zu: %s[%zu] is not one word", i, arrays[k], j);
        }
        const struct sup_json *mech = sup_json_get(o, "mechanism"), *name = sup_json_get(o, "name");
        if (mech && name && mech->str && name->str) {
            char row[256];
            snprintf(row, sizeof row, "%-12s %s ", mech->str, name->str);
            cr_expect(strstr(table, row), "%s/%s is in list --json but not in list", mech->str, name->str);
        }
    }
    sup_json_free(v);
    sup_cmd_free(&c);
}

Test(e2e_cli, list_json_is_valid_with_every_field)
{
    struct sup_cmd c;
    RUN_DEMO(&c, 20, "list");
    check_list_json(sup_demo(), c.out);
    sup_cmd_free(&c);
    RUN_IPCVET(&c, 20, "list");
    check_list_json(sup_ipcvet(), c.out);
    sup_cmd_free(&c);

    /* The fields carry the case's metadata. */
    RUN_DEMO(&c, 20, "list", "--json", "--filter", "demo/hangs");
    struct sup_json *v = sup_json_parse(c.out, NULL, 0);
    cr_assert(v && v->n == 1, "list --json --filter demo/hangs: %s", c.out);
    const struct sup_json *tags = sup_json_get(&v->items[0], "tags");
    cr_expect(tags && tags->n == 1 && !strcmp(tags->items[0].str, "multi"), "tags of demo/hangs");
    const struct sup_json *d = sup_json_get(&v->items[0], "description");
    cr_expect(d && !strcmp(d->str, "a role and the coordinator block forever"), "description: %s",
              d ? d->str : "(none)");
    sup_json_free(v);
    sup_cmd_free(&c);
}

Test(e2e_cli, list_ids_is_behaviour_tab_case)
{
    struct sup_cmd c;
    RUN_IPCVET(&c, 20, "list", "--ids");
    cr_assert_eq(c.code, 0, "list --ids: exit %d: %s", c.code, c.err);
    for (const char *p = c.out; *p; p += strcspn(p, "\n") + 1) {
        size_t n = strcspn(p, "\n");
        char id[16], mech[64], name[128];
        int ok = sscanf(p, "%15[^\t]\t%63[^/]/%127[^\n]", id, mech, name) == 3 && id[0] == 'B' &&
                 strspn(id + 1, "0123456789") == strlen(id + 1) && strlen(id) >= 2;
        cr_expect(ok, "list --ids line is not 'Bnnn<TAB>mech/name': %.*s", (int)n, p);
    }
    sup_cmd_free(&c);
}

/* ---- exit statuses ----------------------------------------------------------- */

Test(e2e_cli, run_exit_status_is_0_when_all_pass_or_skip_1_on_problems)
{
    static const struct { const char *filter; int code; } rows[] = {
        { "demo/passes", 0 },
        { "demo/skips", 0 },
        { "demo/@(passes|skips)", 0 },
        { "demo/role_fails", 1 },
        { "demo/broken_setup", 1 },
        { "demo/@(passes|leaks_sysv_msg)", 1 },
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct sup_cmd c;
        RUN_DEMO(&c, 30, "run", "-j2", "--filter", rows[i].filter);
        cr_expect_eq(c.code, rows[i].code, "run --filter %s: exit %d, expected %d\n%s%s",
                     rows[i].filter, c.code, rows[i].code, c.out, c.err);
        cr_expect(!c.timed_out, "run --filter %s did not finish", rows[i].filter);
        sup_cmd_free(&c);
    }
}

Test(e2e_cli, run_repeat_reports_the_last_round)
{
    struct sup_cmd c;
    RUN_DEMO(&c, 30, "run", "--repeat", "3", "--filter", "demo/passes");
    cr_expect_eq(c.code, 0, "exit %d: %s%s", c.code, c.out, c.err);
    cr_expect(strstr(c.out, "\n1 passed, 0 failed, 0 skipped\n"), "repeat 3:\n%s", c.out);
    sup_cmd_free(&c);
}
