/* Results of a run, collected in the Criterion runner by report hooks, and
 * the small report providers that write them out. */
#ifndef IPCV_REPORT_H
#define IPCV_REPORT_H

#include <stdio.h>

enum ipcv_outcome { IPCV_PASSED, IPCV_FAILED, IPCV_BROKE, IPCV_CRASHED, IPCV_SKIPPED };

struct ipcv_result {
    char mech[32];
    char name[96];
    enum ipcv_outcome outcome;
    double seconds;
    char message[1024];   /* failures (newest last) or the skip reason */
};

struct ipcv_results {
    size_t n, cap;
    struct ipcv_result *r;
};

extern struct ipcv_results ipcv_run_results;
extern size_t ipcv_run_total;     /* cases in this run, for progress */
extern int ipcv_run_progress;     /* show progress on stderr */

const char *ipcv_outcome_name(enum ipcv_outcome o);

/* Providers group results by mechanism, in order of first appearance. */
int ipcv_results_first_of_mech(const struct ipcv_results *rs, size_t i);
/* Results per outcome, of one mechanism or (mech NULL) of the whole run. */
void ipcv_results_count(const struct ipcv_results *rs, const char *mech,
                        size_t counts[IPCV_SKIPPED + 1]);

/* Providers: each writes the whole run. */
void ipcv_report_table(FILE *f, const struct ipcv_results *rs, int color);
void ipcv_report_junit(FILE *f, const struct ipcv_results *rs);
void ipcv_report_tap(FILE *f, const struct ipcv_results *rs);
void ipcv_report_json(FILE *f, const struct ipcv_results *rs);

#endif
