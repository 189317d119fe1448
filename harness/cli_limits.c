/* ipcvet limits: every IPC limit, its value, and whether this machine lets
 * ipcvet lower or raise it inside a sandbox. */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "ipc_limits.h"

int ipcv_cmd_limits(int argc, char **argv)
{
    static const struct option opts[] = { { "json", no_argument, NULL, 'J' }, { 0 } };
    int json = 0, c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'J')
            json = 1;
        else
            ipcv_usage_error("limits: unknown option '%s'", ipcv_bad_option(argv));
    }
    if (optind < argc)
        ipcv_usage_error("limits: unexpected argument '%s'", argv[optind]);

    if (json)
        puts("[");
    else
        printf("%-16s %20s  %-5s %-5s  %s\n", "limit", "value", "lower", "raise", "what");
    for (size_t i = 0; i < ipcv_nlimits; i++) {
        const struct ipcv_limit *l = &ipcv_limits[i];
        unsigned long long v = 0;
        int have = ipcv_limit_get(l, &v) == 0;
        struct ipcv_limit_probe p;
        ipcv_limit_probe(l, &p);
        char value[32];
        if (!have)
            snprintf(value, sizeof value, "?");
        else if (v == (unsigned long long)-1)
            snprintf(value, sizeof value, "unlimited");
        else
            snprintf(value, sizeof value, "%llu", v);
        if (json) {
            printf("%s  {\"name\": \"%s\", \"value\": \"%s\", \"can_lower\": %s, \"can_raise\": %s, "
                   "\"scope\": \"%s\", \"what\": ", i ? ",\n" : "", l->name, value,
                   p.can_lower ? "true" : "false", p.can_raise ? "true" : "false",
                   l->kind == IPCV_LIMIT_SYSCTL ? "ipc-namespace" : "process");
            ipcv_json_str(stdout, l->what);
            fputs(", \"note\": ", stdout);
            ipcv_json_str(stdout, p.why);
            fputs("}", stdout);
        } else {
            printf("%-16s %20s  %-5s %-5s  %s%s%s%s\n", l->name, value, p.can_lower ? "yes" : "no",
                   p.can_raise ? "yes" : "no", l->what, p.why[0] ? " (" : "", p.why,
                   p.why[0] ? ")" : "");
        }
    }
    if (json)
        puts("\n]");
    return IPCV_EXIT_OK;
}
