/* TAP 13: one line per case, diagnostics for failures, # SKIP reasons. */
#include <string.h>

#include "report.h"

void ipcv_report_tap(FILE *f, const struct ipcv_results *rs)
{
    fprintf(f, "TAP version 13\n1..%zu\n", rs->n);
    for (size_t i = 0; i < rs->n; i++) {
        const struct ipcv_result *r = &rs->r[i];
        int ok = r->outcome == IPCV_PASSED || r->outcome == IPCV_SKIPPED;
        fprintf(f, "%s %zu - %s/%s", ok ? "ok" : "not ok", i + 1, r->mech, r->name);
        if (r->outcome == IPCV_SKIPPED)
            fprintf(f, " # SKIP %.*s", (int)strcspn(r->message, "\n"), r->message);
        fputc('\n', f);
        if (!ok)
            for (const char *p = r->message; *p;) {
                size_t n = strcspn(p, "\n");
                fprintf(f, "  # %.*s\n", (int)n, p);
                p += n + (p[n] == '\n');
            }
    }
}
