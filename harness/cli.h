/* The ipcvet command line: one file per command, shared helpers here. */
#ifndef IPCV_CLI_H
#define IPCV_CLI_H

#include <stdio.h>

/* Exit statuses everywhere (DESIGN.md). */
enum { IPCV_EXIT_OK = 0, IPCV_EXIT_PROBLEMS = 1, IPCV_EXIT_USAGE = 2 };

int ipcv_cmd_list(int argc, char **argv);
int ipcv_cmd_run(int argc, char **argv);
int ipcv_cmd_limits(int argc, char **argv);
int ipcv_cmd_clean(int argc, char **argv);
int ipcv_cmd_exec(int argc, char **argv);
int ipcv_cmd_points(int argc, char **argv);
int ipcv_cmd_explore(int argc, char **argv);
int ipcv_cmd_bench(int argc, char **argv);

/* One clear line on stderr, then exit 2. */
_Noreturn void ipcv_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A whole positive number for `opt`, or a usage error naming it. */
long ipcv_parse_count(const char *opt, const char *s, long min, long max);
/* Does a case match the --mech list, the --tag and the --filter glob? */
struct ipcv_case_meta;
struct ipcv_selection { const char *mechs; const char *tag; const char *filter; };
int ipcv_case_selected(const struct ipcv_case_meta *m, const struct ipcv_selection *sel);
/* Check every name in a comma list against the known mechanisms. */
void ipcv_check_mechs(const char *list);
void ipcv_check_tag(const char *tag);

/* The option getopt_long just refused, as written: "-x" also inside a
 * cluster such as "-vx" or "-xv" (where argv[optind - 1] is not it). */
const char *ipcv_bad_option(char **argv);

/* JSON string (with quotes) on f. */
void ipcv_json_str(FILE *f, const char *s);

extern const char *const ipcv_mechanisms[];

#endif
