/* Reports: the providers on hand-built results (escaping, counts, golden
 * text), and `run --junit/--tap/--json` end to end, checked with strict
 * parsers (CI has neither python3 nor xmllint). */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "report.h"
#include "test_support.h"

TestSuite(report, .timeout = 60);      /* unit: the providers */
TestSuite(e2e_report, .timeout = 60);  /* through ipcvet-demo run */

static const char nasty[] = "seen <b>&amp;\"quoted\" 'single' back\\slash\ttab\x01" "ctl\rcr\nsecond line";

static struct ipcv_results *sample(void)
{
    static struct ipcv_result r[] = {
        { "sysv_shm", "passes", IPCV_PASSED, 0.010, "" },
        { "sysv_shm", "fails", IPCV_FAILED, 0.020, "" },
        { "posix_mq", "broke", IPCV_BROKE, 0.030, "BROKEN (set-up failed, no verdict): x.c:3: EINVAL" },
        { "posix_mq", "crashed", IPCV_CRASHED, 0.040, "the case's coordinator was killed by SEGV" },
        { "sysv_shm", "skipped", IPCV_SKIPPED, 0.0, "no such feature\nsecond line" },
    };
    static struct ipcv_results rs = { 5, 5, r };
    snprintf(r[1].message, sizeof r[1].message, "%s", nasty);
    return &rs;
}

static char *render(void (*fn)(FILE *, const struct ipcv_results *), const struct ipcv_results *rs)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    fn(f, rs);
    fclose(f);
    return buf;
}

static void table_nocolor(FILE *f, const struct ipcv_results *rs) { ipcv_report_table(f, rs, 0); }
static void table_color(FILE *f, const struct ipcv_results *rs) { ipcv_report_table(f, rs, 1); }

Test(report, json_is_valid_and_round_trips_messages)
{
    char *s = render(ipcv_report_json, sample());
    char err[256];
    struct sup_json *v = sup_json_parse(s, err, sizeof err);
    cr_assert(v, "report JSON invalid: %s\n%s", err, s);
    const struct sup_json *tool = sup_json_get(v, "tool"), *res = sup_json_get(v, "results");
    cr_expect(tool && tool->type == SUP_JSTR && !strcmp(tool->str, "ipcvet"));
    cr_assert(res && res->type == SUP_JARR && res->n == 5, "results: %s", s);
    static const char *const outcomes[] = { "passed", "failed", "broken", "crashed", "skipped" };
    for (size_t i = 0; i < 5; i++) {
        const struct sup_json *o = sup_json_get(&res->items[i], "outcome");
        cr_expect(o && !strcmp(o->str, outcomes[i]), "result %zu outcome", i);
        const struct sup_json *secs = sup_json_get(&res->items[i], "seconds");
        cr_expect(secs && secs->type == SUP_JNUM);
    }
    const struct sup_json *m = sup_json_get(&res->items[1], "message");
    cr_expect(m && !strcmp(m->str, nasty), "message did not survive JSON: '%s'", m ? m->str : "");
    sup_json_free(v);
    free(s);

    struct ipcv_results none = { 0 };
    s = render(ipcv_report_json, &none);
    v = sup_json_parse(s, err, sizeof err);
    cr_expect(v, "empty report JSON invalid: %s\n%s", err, s);
    sup_json_free(v);
    free(s);
}

static const struct sup_xml *kid(const struct sup_xml *e, const char *name, size_t nth)
{
    for (size_t i = 0; e && i < e->nkids; i++)
        if (!strcmp(e->kids[i]->name, name) && nth-- == 0)
            return e->kids[i];
    return NULL;
}

static size_t count_kids(const struct sup_xml *e, const char *name)
{
    size_t n = 0;
    for (size_t i = 0; e && i < e->nkids; i++)
        n += !strcmp(e->kids[i]->name, name);
    return n;
}

Test(report, junit_is_well_formed_with_counts_and_escaped_messages)
{
    char *s = render(ipcv_report_junit, sample());
    char err[256];
    struct sup_xml *x = sup_xml_parse(s, err, sizeof err);
    cr_assert(x, "JUnit XML not well-formed: %s\n%s", err, s);
    cr_expect_str_eq(x->name, "testsuites");
    cr_expect_str_eq(sup_xml_attr(x, "tests"), "5");
    cr_expect_str_eq(sup_xml_attr(x, "failures"), "3");
    cr_expect_str_eq(sup_xml_attr(x, "skipped"), "1");
    cr_assert_eq(count_kids(x, "testsuite"), 2, "one testsuite per mechanism:\n%s", s);
    const struct sup_xml *shm = kid(x, "testsuite", 0), *mq = kid(x, "testsuite", 1);
    cr_expect_str_eq(sup_xml_attr(shm, "name"), "sysv_shm");
    cr_expect_str_eq(sup_xml_attr(shm, "tests"), "3");
    cr_expect_str_eq(sup_xml_attr(shm, "failures"), "1");
    cr_expect_str_eq(sup_xml_attr(shm, "skipped"), "1");
    cr_expect_str_eq(sup_xml_attr(mq, "tests"), "2");
    cr_expect_str_eq(sup_xml_attr(mq, "failures"), "2");
    cr_assert_eq(count_kids(shm, "testcase"), 3);
    cr_expect_eq(kid(shm, "testcase", 0)->nkids, 0, "a passed case has no child");
    const struct sup_xml *fail = kid(kid(shm, "testcase", 1), "failure", 0);
    cr_assert(fail, "failed case without <failure>:\n%s", s);
    /* XML cannot carry \x01 or \r: they are dropped, the rest survives. */
    char want[sizeof nasty];
    const char *p = nasty;
    char *o = want;
    for (; *p; p++)
        if (*p != '\x01' && *p != '\r')
            *o++ = *p;
    *o = '\0';
    cr_expect_str_eq(fail->text, want);
    char first[sizeof want];
    snprintf(first, sizeof first, "%.*s", (int)strcspn(want, "\n"), want);
    cr_expect_str_eq(sup_xml_attr(fail, "message"), first, "message= is the first line");
    cr_expect_str_eq(sup_xml_attr(fail, "type"), "failed");
    cr_expect(kid(kid(shm, "testcase", 2), "skipped", 0), "skipped case without <skipped>");
    cr_expect(kid(kid(mq, "testcase", 0), "error", 0), "broken case is not an <error>");
    cr_expect(kid(kid(mq, "testcase", 1), "error", 0), "crashed case is not an <error>");
    cr_expect_str_eq(sup_xml_attr(kid(kid(mq, "testcase", 1), "error", 0), "type"), "crashed");
    sup_xml_free(x);
    free(s);

    struct ipcv_results none = { 0 };
    s = render(ipcv_report_junit, &none);
    x = sup_xml_parse(s, err, sizeof err);
    cr_expect(x && !strcmp(sup_xml_attr(x, "tests"), "0"), "empty JUnit: %s\n%s", err, s);
    sup_xml_free(x);
    free(s);
}

Test(report, tap_has_a_plan_one_line_per_case_and_skip_reasons)
{
    char *s = render(ipcv_report_tap, sample());
    cr_expect(!strncmp(s, "TAP version 13\n1..5\n", 20), "TAP header:\n%s", s);
    cr_expect(strstr(s, "\nok 1 - sysv_shm/passes\n"));
    cr_expect(strstr(s, "\nnot ok 2 - sysv_shm/fails\n  # seen <b>"), "%s", s);
    cr_expect(strstr(s, "\n  # second line\n"), "every message line is a diagnostic:\n%s", s);
    cr_expect(strstr(s, "\nnot ok 3 - posix_mq/broke\n"));
    cr_expect(strstr(s, "\nnot ok 4 - posix_mq/crashed\n"));
    cr_expect(strstr(s, "\nok 5 - sysv_shm/skipped # SKIP no such feature\n"), "%s", s);
    /* Every line is a TAP line: version, plan, test point or diagnostic. */
    for (const char *p = s; *p; p += strcspn(p, "\n") + 1)
        cr_expect(!strncmp(p, "TAP version", 11) || !strncmp(p, "1..", 3) || !strncmp(p, "ok ", 3) ||
                  !strncmp(p, "not ok ", 7) || !strncmp(p, "  # ", 4),
                  "not a TAP line: %.*s", (int)strcspn(p, "\n"), p);
    free(s);
}

Test(report, table_matches_expected_text)
{
    struct ipcv_results *rs = sample();
    snprintf(rs->r[1].message, sizeof rs->r[1].message, "x.c:7: expected 1, seen 2\nx.c:9: left 1 IPC object behind");
    char *s = render(table_nocolor, rs);
    char *why = sup_golden_diff("report-table.txt", s);
    cr_expect(!why, "%s", why);
    free(why);
    cr_expect(!strchr(s, '\033'), "colour without a terminal");
    free(s);
    s = render(table_color, rs);
    cr_expect(strstr(s, "\033[31m"), "no colour when asked");
    free(s);
}

/* ---- end to end --------------------------------------------------------------- */

static const char e2e_filter[] = "demo/@(passes|skips|role_fails|broken_setup|role_crashes|leaks_sysv_shm)";

Test(e2e_report, run_writes_junit_tap_and_json_that_agree)
{
    char junit[512], tap[512], json[512];
    snprintf(junit, sizeof junit, "%s/report-%d.xml", sup_scratch(), (int)getpid());
    snprintf(tap, sizeof tap, "%s/report-%d.tap", sup_scratch(), (int)getpid());
    snprintf(json, sizeof json, "%s/report-%d.json", sup_scratch(), (int)getpid());
    struct sup_cmd c;
    RUN_DEMO(&c, 40, "run", "-j2", "--filter", e2e_filter, "--junit", junit, "--tap", tap, "--json", json);
    cr_assert_eq(c.code, 1, "exit %d, expected 1:\n%s%s", c.code, c.out, c.err);
    sup_cmd_free(&c);

    static const struct { const char *name, *outcome, *junit_tag, *text; } want[] = {
        { "passes", "passed", NULL, NULL },
        { "skips", "skipped", "skipped", "needs a feature this machine lacks" },
        { "role_fails", "failed", "failure", "role 'checker': 42 == 41: expected 42, seen 41" },
        { "broken_setup", "broken", "error", "BROKEN (set-up failed, no verdict)" },
        { "role_crashes", "failed", "failure", "seen killed by SEGV" },
        { "leaks_sysv_shm", "failed", "failure", "left 1 IPC object behind: sysv_shm key" },
    };
    const size_t n = sizeof want / sizeof want[0];

    char err[256];
    char *s = sup_read_file(json);
    cr_assert(s, "--json %s not written", json);
    struct sup_json *v = sup_json_parse(s, err, sizeof err);
    cr_assert(v, "--json is not valid JSON: %s\n%s", err, s);
    const struct sup_json *res = sup_json_get(v, "results");
    cr_assert(res && res->n == n, "--json has %zu results, expected %zu", res ? res->n : 0, n);
    for (size_t i = 0; i < n; i++) {
        const struct sup_json *hit = NULL;
        for (size_t j = 0; j < res->n; j++)
            if (!strcmp(sup_json_get(&res->items[j], "name")->str, want[i].name))
                hit = &res->items[j];
        cr_assert(hit, "--json lacks %s", want[i].name);
        cr_expect_str_eq(sup_json_get(hit, "mechanism")->str, "demo");
        cr_expect_str_eq(sup_json_get(hit, "outcome")->str, want[i].outcome, "%s", want[i].name);
        if (want[i].text)
            cr_expect(strstr(sup_json_get(hit, "message")->str, want[i].text),
                      "%s: message '%s' lacks '%s'", want[i].name, sup_json_get(hit, "message")->str,
                      want[i].text);
    }
    sup_json_free(v);
    free(s);

    s = sup_read_file(junit);
    cr_assert(s, "--junit %s not written", junit);
    struct sup_xml *x = sup_xml_parse(s, err, sizeof err);
    cr_assert(x, "--junit is not well-formed XML: %s\n%s", err, s);
    cr_expect_str_eq(sup_xml_attr(x, "tests"), "6");
    cr_expect_str_eq(sup_xml_attr(x, "failures"), "4");
    cr_expect_str_eq(sup_xml_attr(x, "skipped"), "1");
    const struct sup_xml *suite = kid(x, "testsuite", 0);
    cr_assert(suite && count_kids(suite, "testcase") == n, "testcases:\n%s", s);
    for (size_t i = 0; i < n; i++) {
        const struct sup_xml *tc = NULL;
        for (size_t j = 0; j < suite->nkids; j++)
            if (!strcmp(sup_xml_attr(suite->kids[j], "name"), want[i].name))
                tc = suite->kids[j];
        cr_assert(tc, "--junit lacks %s", want[i].name);
        cr_expect_str_eq(sup_xml_attr(tc, "classname"), "demo");
        if (!want[i].junit_tag) {
            cr_expect_eq(tc->nkids, 0, "%s passed but has a child", want[i].name);
            continue;
        }
        const struct sup_xml *e = kid(tc, want[i].junit_tag, 0);
        cr_expect(e, "%s: no <%s>", want[i].name, want[i].junit_tag);
        if (e && strcmp(want[i].junit_tag, "skipped"))
            cr_expect(strstr(e->text, want[i].text), "%s: <%s> text '%s' lacks '%s'", want[i].name,
                      want[i].junit_tag, e->text, want[i].text);
    }
    sup_xml_free(x);
    free(s);

    s = sup_read_file(tap);
    cr_assert(s, "--tap %s not written", tap);
    cr_expect(!strncmp(s, "TAP version 13\n1..6\n", 20), "TAP header:\n%s", s);
    cr_expect_eq(sup_count(s, "\nok "), 2, "two ok lines (a pass and a skip):\n%s", s);
    cr_expect_eq(sup_count(s, "\nnot ok "), 4, "four not ok lines:\n%s", s);
    cr_expect(strstr(s, " - demo/skips # SKIP needs a feature this machine lacks\n"), "%s", s);
    free(s);
    unlink(junit);
    unlink(tap);
    unlink(json);
}

/* The table is the same text every time once pids and keys are set aside
 * (-j1: results in Criterion's order). broken_setup is left out: its
 * message spells glibc's expansion of IPC_PRIVATE and IPC_CREAT. */
Test(e2e_report, run_table_matches_expected_text)
{
    struct sup_cmd c;
    RUN_DEMO(&c, 40, "run", "-j1", "--filter",
             "demo/@(passes|skips|role_fails|leaks_[ps]*|role_dies_before_ready|role_exits_with_output)");
    cr_assert_eq(c.code, 1, "exit %d:\n%s%s", c.code, c.out, c.err);
    char *norm = sup_normalize(c.out);
    char *why = sup_golden_diff("demo-run.txt", norm);
    cr_expect(!why, "%s", why);
    free(why);
    free(norm);
    cr_expect_eq(c.err[0], '\0', "stderr: %s", c.err);
    sup_cmd_free(&c);
}

/* `--tap -` and `--json -` go to stdout (after the table). */
Test(e2e_report, report_to_stdout_with_dash)
{
    struct sup_cmd c;
    RUN_DEMO(&c, 30, "run", "--filter", "demo/passes", "--tap", "-");
    cr_expect_eq(c.code, 0);
    cr_expect(strstr(c.out, "TAP version 13\n1..1\nok 1 - demo/passes\n"), "%s", c.out);
    sup_cmd_free(&c);
}

/* The checkers themselves must reject what a real parser rejects, or a
 * "valid" verdict above means nothing. */
Test(report, checkers_reject_malformed_json_and_xml)
{
    static const char *const bad_json[] = {
        "", "[", "{\"a\": 1,}", "[1 2]", "{\"a\" 1}", "\"raw \n newline\"", "\"bad \\q escape\"",
        "01", "1.", "[1] x", "{a: 1}", "\"\\ud800\"", "nul", "[\"unterminated]",
    };
    for (size_t i = 0; i < sizeof bad_json / sizeof bad_json[0]; i++) {
        struct sup_json *v = sup_json_parse(bad_json[i], NULL, 0);
        cr_expect(!v, "accepted bad JSON: %s", bad_json[i]);
        sup_json_free(v);
    }
    static const char *const good_json[] = {
        "[]", "{}", "0", "-1.5e+3", "\"\\u00e9\\n\\\"\"", "{\"a\": [true, false, null]}",
    };
    for (size_t i = 0; i < sizeof good_json / sizeof good_json[0]; i++) {
        char err[128] = "";
        struct sup_json *v = sup_json_parse(good_json[i], err, sizeof err);
        cr_expect(v, "rejected good JSON %s: %s", good_json[i], err);
        sup_json_free(v);
    }
    static const char *const bad_xml[] = {
        "", "<a>", "<a></b>", "<a x=1/>", "<a x=\"1\" x=\"2\"/>", "<a>&bogus;</a>", "<a>a & b</a>",
        "<a>\x01</a>", "<a x=\"<\"/>", "<a/><b/>", "<a><b></a></b>", "<a>]]></a>", "<a x=\"1\"y=\"2\"/>",
    };
    for (size_t i = 0; i < sizeof bad_xml / sizeof bad_xml[0]; i++) {
        struct sup_xml *x = sup_xml_parse(bad_xml[i], NULL, 0);
        cr_expect(!x, "accepted bad XML: %s", bad_xml[i]);
        sup_xml_free(x);
    }
    char err[128] = "";
    struct sup_xml *x = sup_xml_parse("<?xml version=\"1.0\"?>\n<a k='v &amp; w'><!-- c --><b/>t&#65;<![CDATA[<x>]]></a>\n",
                                      err, sizeof err);
    cr_assert(x, "rejected good XML: %s", err);
    cr_expect_str_eq(sup_xml_attr(x, "k"), "v & w");
    cr_expect_str_eq(x->text, "tA<x>");
    sup_xml_free(x);
}

/* More failures than fit in a result's message: whole lines, and a count of
 * what was left out (not a line cut in the middle and silence). */
Test(e2e_report, too_many_failures_are_counted_not_cut)
{
    struct sup_cmd c;
    struct sup_json *r = RUN_DEMO_JSON(&c, 30, NULL, "--filter", "demo/fails_sixty_times");
    cr_assert(r, "no report:\n%s%s", c.out, c.err);
    const char *msg = sup_result_str(r, "fails_sixty_times", "message");
    cr_expect(strstr(msg, "expected 0, seen 1\n"), "the first failure is not shown: %s", msg);
    cr_expect(strstr(msg, "more failures"), "nothing says failures were left out:\n%s", msg);
    const char *last = strrchr(msg, '\n');
    last = last ? last + 1 : msg;
    cr_expect(strstr(last, "more failures") || strstr(last, "expected 0, seen "),
              "the message ends in a cut line: '%s'", last);
    sup_json_free(r);
    sup_cmd_free(&c);
}
