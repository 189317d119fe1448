/* JSON: our own writer (Criterion 2.4.1's does not escape quotes). */
#include "cli.h"
#include "report.h"

void ipcv_report_json(FILE *f, const struct ipcv_results *rs)
{
    fputs("{\"tool\": \"ipcvet\", \"results\": [\n", f);
    for (size_t i = 0; i < rs->n; i++) {
        const struct ipcv_result *r = &rs->r[i];
        fprintf(f, "  {\"mechanism\": \"%s\", \"name\": \"%s\", \"outcome\": \"%s\", "
                   "\"seconds\": %.3f, \"message\": ", r->mech, r->name,
                ipcv_outcome_name(r->outcome), r->seconds);
        ipcv_json_str(f, r->message);
        fprintf(f, "}%s\n", i + 1 < rs->n ? "," : "");
    }
    fputs("]}\n", f);
}
