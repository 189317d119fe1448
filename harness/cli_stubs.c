/* Commands not built yet. */
#include "cli.h"
int ipcv_cmd_exec(int argc, char **argv) { (void)argc; (void)argv; ipcv_usage_error("exec: not built yet"); }
int ipcv_cmd_points(int argc, char **argv) { (void)argc; (void)argv; ipcv_usage_error("points: not built yet"); }
int ipcv_cmd_explore(int argc, char **argv) { (void)argc; (void)argv; ipcv_usage_error("explore: not built yet"); }
int ipcv_cmd_bench(int argc, char **argv) { (void)argc; (void)argv; ipcv_usage_error("bench: not built yet"); }
