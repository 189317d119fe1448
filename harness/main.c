/* ipcvet: conformance and fault injection for Linux/POSIX IPC. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char usage[] =
    "usage: ipcvet COMMAND [OPTIONS]\n"
    "\n"
    "  list     [--mech M[,M..]] [--tag T] [--json]            the built-in cases\n"
    "  run      [--mech M[,M..]] [--tag T] [--filter GLOB] [-j N] [--repeat N]\n"
    "           [--isolate auto|ns|none] [--junit F] [--tap F] [--json F] [--verbose]\n"
    "  exec     [--inject PLAN].. [--limit NAME=V].. [--timeout S] [--seed N]\n"
    "           [--isolate ..] [--trace[=F]] [--valgrind] [--json F] -- CMD [ARG..]\n"
    "  explore  [options] -- CMD [ARG..]                        systematic fault search\n"
    "  points   [--family F] [--json]                           every injection point\n"
    "  limits   [--json]                                        IPC limits and what can be changed\n"
    "  clean    [--dry-run]                                     remove what an interrupted run left\n"
    "  bench    [--json]                                        overhead measured side by side\n"
    "\n"
    "Exit status: 0 all good, 1 problems found, 2 bad input or unusable environment.\n";

int main(int argc, char **argv)
{
    static const struct { const char *name; int (*fn)(int, char **); } cmds[] = {
        { "list", ipcv_cmd_list },       { "run", ipcv_cmd_run },
        { "exec", ipcv_cmd_exec },       { "explore", ipcv_cmd_explore },
        { "points", ipcv_cmd_points },   { "limits", ipcv_cmd_limits },
        { "clean", ipcv_cmd_clean },     { "bench", ipcv_cmd_bench },
    };
    if (argc < 2) {
        fputs(usage, stderr);
        return IPCV_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        fputs(usage, stdout);
        return IPCV_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (!strcmp(argv[1], cmds[i].name))
            return cmds[i].fn(argc - 1, argv + 1);
    ipcv_usage_error("unknown command '%s' (try 'ipcvet --help')", argv[1]);
}
