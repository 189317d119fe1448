/* The human report: one table per mechanism, failures spelled out below. */
#include <string.h>

#include "report.h"

void ipcv_report_table(FILE *f, const struct ipcv_results *rs, int color)
{
    const char *red = color ? "\033[31m" : "", *green = color ? "\033[32m" : "";
    const char *yellow = color ? "\033[33m" : "", *off = color ? "\033[0m" : "";
    size_t totals[IPCV_SKIPPED + 1];
    fprintf(f, "%-12s %7s %7s %7s %7s %7s\n", "mechanism", "passed", "failed", "broken",
            "crashed", "skipped");
    for (size_t i = 0; i < rs->n; i++) {
        if (!ipcv_results_first_of_mech(rs, i))
            continue;
        const char *mech = rs->r[i].mech;
        size_t c[IPCV_SKIPPED + 1];
        ipcv_results_count(rs, mech, c);
        fprintf(f, "%-12s %7zu %s%7zu%s %7zu %7zu %7zu\n", mech, c[IPCV_PASSED],
                c[IPCV_FAILED] ? red : "", c[IPCV_FAILED], c[IPCV_FAILED] ? off : "",
                c[IPCV_BROKE], c[IPCV_CRASHED], c[IPCV_SKIPPED]);
    }
    ipcv_results_count(rs, NULL, totals);
    fprintf(f, "%-12s %7zu %7zu %7zu %7zu %7zu\n", "total", totals[0], totals[1], totals[2],
            totals[3], totals[4]);

    for (size_t i = 0; i < rs->n; i++) {
        const struct ipcv_result *r = &rs->r[i];
        if (r->outcome == IPCV_PASSED)
            continue;
        const char *col = r->outcome == IPCV_SKIPPED ? yellow : red;
        fprintf(f, "\n%s%s%s %s/%s\n", col, ipcv_outcome_name(r->outcome), off, r->mech, r->name);
        const char *p = r->message;
        while (*p) {
            size_t n = strcspn(p, "\n");
            fprintf(f, "    %.*s\n", (int)n, p);
            p += n + (p[n] == '\n');
        }
    }
    size_t bad = totals[IPCV_FAILED] + totals[IPCV_BROKE] + totals[IPCV_CRASHED];
    fprintf(f, "\n%s%zu passed, %zu failed%s, %zu skipped\n", bad ? red : green, totals[0], bad, off,
            totals[4]);
}
