/* JUnit XML: one <testsuite> per mechanism. */
#include <string.h>

#include "report.h"

static void xml_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default:
            if ((unsigned char)*s >= 0x20 || *s == '\n' || *s == '\t')
                fputc(*s, f);
        }
    }
}

void ipcv_report_junit(FILE *f, const struct ipcv_results *rs)
{
    size_t fails = 0, skips = 0;
    double total = 0;
    for (size_t i = 0; i < rs->n; i++) {
        fails += rs->r[i].outcome != IPCV_PASSED && rs->r[i].outcome != IPCV_SKIPPED;
        skips += rs->r[i].outcome == IPCV_SKIPPED;
        total += rs->r[i].seconds;
    }
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    fprintf(f, "<testsuites name=\"ipcvet\" tests=\"%zu\" failures=\"%zu\" skipped=\"%zu\" time=\"%.3f\">\n",
            rs->n, fails, skips, total);
    for (size_t i = 0; i < rs->n; i++) {
        if (!ipcv_results_first_of_mech(rs, i))
            continue;
        const char *mech = rs->r[i].mech;
        size_t c[IPCV_SKIPPED + 1];
        ipcv_results_count(rs, mech, c);
        size_t ns = c[IPCV_SKIPPED], nf = c[IPCV_FAILED] + c[IPCV_BROKE] + c[IPCV_CRASHED];
        size_t n = ns + nf + c[IPCV_PASSED];
        fprintf(f, "  <testsuite name=\"%s\" tests=\"%zu\" failures=\"%zu\" skipped=\"%zu\">\n",
                mech, n, nf, ns);
        for (size_t k = i; k < rs->n; k++) {
            const struct ipcv_result *r = &rs->r[k];
            if (strcmp(r->mech, mech))
                continue;
            fprintf(f, "    <testcase classname=\"%s\" name=\"%s\" time=\"%.3f\"", r->mech,
                    r->name, r->seconds);
            if (r->outcome == IPCV_PASSED) {
                fputs("/>\n", f);
                continue;
            }
            const char *tag = r->outcome == IPCV_SKIPPED ? "skipped"
                              : r->outcome == IPCV_FAILED ? "failure" : "error";
            fprintf(f, ">\n      <%s type=\"%s\" message=\"", tag, ipcv_outcome_name(r->outcome));
            char first[300];
            snprintf(first, sizeof first, "%.*s", (int)strcspn(r->message, "\n"), r->message);
            xml_text(f, first);
            fputs("\">", f);
            xml_text(f, r->message);
            fprintf(f, "</%s>\n    </testcase>\n", tag);
        }
        fputs("  </testsuite>\n", f);
    }
    fputs("</testsuites>\n", f);
}
