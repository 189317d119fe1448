/* Commands not built yet. */
#include "cli.h"
int ipcv_cmd_explore(int argc, char **argv) { (void)argc; (void)argv; ipcv_usage_error("explore: not built yet"); }
