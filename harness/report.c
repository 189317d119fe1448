/* Collects each finished test in the runner process. A crashed test comes
 * through TEST_CRASH, not POST_TEST (Criterion 2.4.1), so both are hooked. */
#define _GNU_SOURCE
#include "report.h"

#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <stdlib.h>
#include <string.h>

struct ipcv_results ipcv_run_results;
size_t ipcv_run_total;
int ipcv_run_progress;

const char *ipcv_outcome_name(enum ipcv_outcome o)
{
    static const char *names[] = { "passed", "failed", "broken", "crashed", "skipped" };
    return names[o];
}

int ipcv_results_first_of_mech(const struct ipcv_results *rs, size_t i)
{
    for (size_t j = 0; j < i; j++)
        if (!strcmp(rs->r[j].mech, rs->r[i].mech))
            return 0;
    return 1;
}

void ipcv_results_count(const struct ipcv_results *rs, const char *mech,
                        size_t counts[IPCV_SKIPPED + 1])
{
    memset(counts, 0, (IPCV_SKIPPED + 1) * sizeof counts[0]);
    for (size_t k = 0; k < rs->n; k++)
        if (!mech || !strcmp(rs->r[k].mech, mech))
            counts[rs->r[k].outcome]++;
}

static void append(char *buf, size_t len, const char *text)
{
    size_t used = strlen(buf);
    if (used + 1 < len)
        snprintf(buf + used, len - used, "%s%s", used ? "\n" : "", text);
}

static void collect(struct criterion_test_stats *st, int crashed)
{
    struct ipcv_results *rs = &ipcv_run_results;
    if (rs->n == rs->cap) {
        size_t cap = rs->cap ? rs->cap * 2 : 64;
        struct ipcv_result *r = realloc(rs->r, cap * sizeof *r);
        if (!r)
            return;
        rs->r = r;
        rs->cap = cap;
    }
    struct ipcv_result *r = &rs->r[rs->n++];
    memset(r, 0, sizeof *r);
    snprintf(r->mech, sizeof r->mech, "%s", st->test->category);
    snprintf(r->name, sizeof r->name, "%s", st->test->name);
    r->seconds = st->elapsed_time;

    /* Failed asserts come newest first: walk to keep source order. */
    const struct criterion_assert_stats *a[64];
    int na = 0, nfailed = 0, shown = 0, broken = 0;
    for (const struct criterion_assert_stats *s = st->asserts; s; s = s->next)
        if (!s->passed && nfailed++ < 64)
            a[na++] = s;
    /* Whole lines only, and room kept to say how many did not fit. */
    const size_t room = sizeof r->message - 48;
    for (int i = na - 1; i >= 0; i--) {
        char line[700];
        snprintf(line, sizeof line, "%s:%u: %s", a[i]->file, a[i]->line, a[i]->message);
        broken |= !strncmp(a[i]->message, "BROKEN", 6);
        if (shown == na - 1 - i && strlen(r->message) + strlen(line) + 2 <= room) {
            append(r->message, sizeof r->message, line);
            shown++;
        }
    }
    if (shown < nfailed) {
        char more[48];
        snprintf(more, sizeof more, "(%d more failures not shown)", nfailed - shown);
        append(r->message, sizeof r->message, more);
    }
    if (crashed || st->signal) {
        r->outcome = IPCV_CRASHED;
        char line[128];
        snprintf(line, sizeof line, "the case's coordinator was killed by %s",
                 sigabbrev_np(st->signal) ? sigabbrev_np(st->signal) : "a signal");
        append(r->message, sizeof r->message, line);
    } else if (st->timed_out) {
        r->outcome = IPCV_FAILED;
        append(r->message, sizeof r->message, "Criterion's own timeout killed the case");
    } else if (st->test_status == CR_STATUS_SKIPPED) {
        r->outcome = IPCV_SKIPPED;
        snprintf(r->message, sizeof r->message, "%s", st->message ? st->message : "skipped");
    } else if (st->test_status == CR_STATUS_FAILED || na) {
        r->outcome = broken ? IPCV_BROKE : IPCV_FAILED;
        if (!na && st->exit_code)
            append(r->message, sizeof r->message, "the case's coordinator exited unexpectedly");
    } else {
        r->outcome = IPCV_PASSED;
    }
}

/* On a terminal, one self-overwriting line on stderr. */
static void progress(void)
{
    if (!ipcv_run_progress)
        return;
    const struct ipcv_result *r = &ipcv_run_results.r[ipcv_run_results.n - 1];
    fprintf(stderr, "\r\033[K[%zu/%zu] %s/%.60s", ipcv_run_results.n, ipcv_run_total, r->mech,
            r->name);
    if (ipcv_run_results.n == ipcv_run_total)
        fputs("\r\033[K", stderr);
}

ReportHook(POST_TEST)(struct criterion_test_stats *st) { collect(st, 0); progress(); }
ReportHook(TEST_CRASH)(struct criterion_test_stats *st) { collect(st, 1); progress(); }
