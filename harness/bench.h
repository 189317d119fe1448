/* Benchmarks for `ipcvet bench`: figures measured side by side in one run,
 * reported as ratios against a floor measured in the same run. */
#ifndef IPCV_BENCH_H
#define IPCV_BENCH_H

#include <stdio.h>

struct ipcv_bench_row {
    const char *name;       /* what was measured */
    double us;              /* microseconds per iteration (median of rounds) */
    const char *floor;      /* the row it is compared with, or NULL */
    double ratio;           /* us / floor's us */
};

/* Case isolation: bare fork, a full sandbox created and torn down, and a
 * conformance case as `ipcvet run` runs it. `self` is ipcvet's own path. */
int ipcv_bench_isolation(const char *self, struct ipcv_bench_row *rows, int max);

/* Print rows as a table or as JSON members. */
void ipcv_bench_print(FILE *f, const char *title, const struct ipcv_bench_row *rows, int n,
                      int json, int *first);

#endif
