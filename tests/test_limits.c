/* Limits: parsing --limit NAME=V, reading every limit, setting one only
 * inside a private IPC namespace, and `ipcvet limits` / `limits --json`. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ipc_limits.h"
#include "test_support.h"

TestSuite(limits, .timeout = 60);      /* unit */
TestSuite(e2e_limits, .timeout = 60);  /* ipcvet limits */

Test(limits, parse_accepts_name_equals_number)
{
    const struct ipcv_limit *l = NULL;
    unsigned long long v = 0;
    char err[200] = "";
    cr_expect_eq(ipcv_limit_parse("msgmnb=128", &l, &v, err, sizeof err), 0, "%s", err);
    cr_expect(l && !strcmp(l->name, "msgmnb"));
    cr_expect_eq(v, 128);
    cr_expect_eq(ipcv_limit_parse("rlimit_nofile=0x40", &l, &v, err, sizeof err), 0, "%s", err);
    cr_expect_eq(v, 64);
    cr_expect_eq(l->kind, IPCV_LIMIT_RLIMIT);
    cr_expect_eq(ipcv_limit_parse("semmni=0", &l, &v, err, sizeof err), 0, "%s", err);
    cr_expect_eq(v, 0);
}

Test(limits, parse_rejects_bad_input_naming_it)
{
    static const struct { const char *arg, *says; } bad[] = {
        { "msgmnb", "expected NAME=VALUE, got 'msgmnb'" },
        { "=5", "expected NAME=VALUE, got '=5'" },
        { "nosuch=1", "unknown limit 'nosuch' in 'nosuch=1'" },
        { "msgmnb=", "bad value '' in 'msgmnb='" },
        { "msgmnb=-1", "bad value '-1'" },
        { "msgmnb=12k", "bad value '12k'" },
        { "msgmnb=99999999999999999999999", "bad value '99999999999999999999999'" },
        { "msgmnb=1 ", "bad value '1 '" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const struct ipcv_limit *l = NULL;
        unsigned long long v = 0;
        char err[200] = "";
        cr_expect_eq(ipcv_limit_parse(bad[i].arg, &l, &v, err, sizeof err), -1, "'%s' accepted", bad[i].arg);
        cr_expect(strstr(err, bad[i].says), "'%s': message '%s' lacks '%s'", bad[i].arg, err, bad[i].says);
        cr_expect(!strncmp(err, "--limit: ", 9), "'%s': message '%s'", bad[i].arg, err);
    }
}

/* strtoull skips leading blanks and accepts a minus sign: " -1" must not
 * become 18446744073709551615. */
Test(limits, parse_rejects_a_negative_value_after_blanks)
{
    const struct ipcv_limit *l = NULL;
    unsigned long long v = 0;
    char err[200] = "";
    int rc = ipcv_limit_parse("msgmnb= -1", &l, &v, err, sizeof err);
    cr_expect_eq(rc, -1, "'msgmnb= -1' accepted as %llu", v);
}

Test(limits, every_limit_is_known_once_and_readable)
{
    for (size_t i = 0; i < ipcv_nlimits; i++) {
        const struct ipcv_limit *l = &ipcv_limits[i];
        cr_expect_eq(ipcv_limit_find(l->name), l, "%s is found as another entry", l->name);
        cr_expect((l->kind == IPCV_LIMIT_SYSCTL) == (l->path != NULL), "%s: path and kind disagree", l->name);
        unsigned long long v;
        cr_expect_eq(ipcv_limit_get(l, &v), 0, "cannot read %s: %s", l->name, strerror(errno));
    }
    cr_expect_null(ipcv_limit_find("nosuch"));
    cr_expect_null(ipcv_limit_find(""));

    /* The four fields of kernel/sem land in the four semaphore limits. */
    FILE *f = fopen("/proc/sys/kernel/sem", "re");
    cr_assert(f);
    unsigned long long sem[4];
    cr_assert_eq(fscanf(f, "%llu %llu %llu %llu", &sem[0], &sem[1], &sem[2], &sem[3]), 4);
    fclose(f);
    static const char *const names[] = { "semmsl", "semmns", "semopm", "semmni" };
    for (int k = 0; k < 4; k++) {
        unsigned long long v = 0;
        ipcv_limit_get(ipcv_limit_find(names[k]), &v);
        cr_expect_eq(v, sem[k], "%s: %llu, kernel/sem field %d is %llu", names[k], v, k, sem[k]);
    }
}

/* Set inside a private IPC namespace (in a child: no cr_* there); the
 * host's value does not move. */
Test(limits, set_in_a_private_ipc_namespace_leaves_the_host_alone)
{
    const struct ipcv_limit *mnb = ipcv_limit_find("msgmnb"), *semmni = ipcv_limit_find("semmni");
    unsigned long long host_mnb, host_semmni;
    cr_assert_eq(ipcv_limit_get(mnb, &host_mnb), 0);
    cr_assert_eq(ipcv_limit_get(semmni, &host_semmni), 0);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        if (unshare(CLONE_NEWIPC) < 0)
            _exit(77);
        unsigned long long v;
        if (ipcv_limit_set(mnb, 128) < 0 || ipcv_limit_get(mnb, &v) < 0 || v != 128)
            _exit(1);
        if (ipcv_limit_set(semmni, 7) < 0 || ipcv_limit_get(semmni, &v) < 0 || v != 7)
            _exit(2);
        if (ipcv_limit_get(ipcv_limit_find("semmsl"), &v) < 0)
            _exit(3);
        _exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 77)
        cr_skip_test("no private IPC namespace here");
    cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "setting in the namespace failed (step %d)",
              WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    unsigned long long v;
    ipcv_limit_get(mnb, &v);
    cr_expect_eq(v, host_mnb, "the host's msgmnb moved");
    ipcv_limit_get(semmni, &v);
    cr_expect_eq(v, host_semmni, "the host's semmni moved");
}

/* ---- ipcvet limits ------------------------------------------------------------- */

static void host_values(unsigned long long *v)
{
    for (size_t i = 0; i < ipcv_nlimits; i++)
        if (ipcv_limit_get(&ipcv_limits[i], &v[i]) < 0)
            v[i] = 0;
}

Test(e2e_limits, table_and_json_agree_with_the_kernel_and_change_nothing)
{
    unsigned long long before[64], after[64];
    cr_assert_lt(ipcv_nlimits, 64);
    host_values(before);
    struct sup_cmd t, j;
    RUN_IPCVET(&t, 30, "limits");
    RUN_IPCVET(&j, 30, "limits", "--json");
    host_values(after);
    cr_assert_eq(t.code, 0, "limits: exit %d: %s", t.code, t.err);
    cr_assert_eq(j.code, 0, "limits --json: exit %d: %s", j.code, j.err);

    cr_expect(!strncmp(t.out, "limit ", 6), "no header: %s", t.out);
    cr_expect_eq(sup_count_lines(t.out), (int)ipcv_nlimits + 1, "%d lines:\n%s", sup_count_lines(t.out), t.out);
    char err[256];
    struct sup_json *v = sup_json_parse(j.out, err, sizeof err);
    cr_assert(v, "limits --json is not valid JSON: %s\n%s", err, j.out);
    cr_assert(v->type == SUP_JARR && v->n == ipcv_nlimits, "limits --json: %zu entries", v->n);

    const char *row = strchr(t.out, '\n') + 1;
    for (size_t i = 0; i < ipcv_nlimits; i++, row += strcspn(row, "\n") + 1) {
        const struct ipcv_limit *l = &ipcv_limits[i];
        cr_expect_eq(before[i], after[i], "%s changed from %llu to %llu", l->name, before[i], after[i]);
        char name[32], value[32], lower[8], raise[8];
        cr_assert_eq(sscanf(row, "%31s %31s %7s %7s", name, value, lower, raise), 4, "row: %.80s", row);
        cr_expect_str_eq(name, l->name);
        char want[32];
        if (before[i] == (unsigned long long)-1)
            snprintf(want, sizeof want, "unlimited");
        else
            snprintf(want, sizeof want, "%llu", before[i]);
        cr_expect_str_eq(value, want, "%s", l->name);
        cr_expect(!strcmp(lower, "yes") || !strcmp(lower, "no"), "%s: lower '%s'", l->name, lower);
        cr_expect(!strcmp(raise, "yes") || !strcmp(raise, "no"), "%s: raise '%s'", l->name, raise);

        const struct sup_json *o = &v->items[i];
        const struct sup_json *jn = sup_json_get(o, "name"), *jv = sup_json_get(o, "value"),
                              *cl = sup_json_get(o, "can_lower"), *cr = sup_json_get(o, "can_raise"),
                              *sc = sup_json_get(o, "scope"), *wh = sup_json_get(o, "what"),
                              *no = sup_json_get(o, "note");
        cr_assert(jn && jv && cl && cr && sc && wh && no, "%s: a field is missing in --json", l->name);
        cr_expect_str_eq(jn->str, l->name);
        cr_expect_str_eq(jv->str, want, "%s --json value", l->name);
        cr_expect(cl->type == SUP_JBOOL && cl->boolean == !strcmp(lower, "yes"), "%s: can_lower disagrees", l->name);
        cr_expect(cr->type == SUP_JBOOL && cr->boolean == !strcmp(raise, "yes"), "%s: can_raise disagrees", l->name);
        cr_expect_str_eq(sc->str, l->kind == IPCV_LIMIT_SYSCTL ? "ipc-namespace" : "process");
        cr_expect_str_eq(wh->str, l->what);
    }
    sup_json_free(v);
    sup_cmd_free(&t);
    sup_cmd_free(&j);
}
