/* Commands not built yet: none at the moment (explore lives in
 * cli_explore.c). A stub here is `int ipcv_cmd_X(int argc, char **argv)`
 * that ends in ipcv_usage_error("X: not built yet"). */
#include "cli.h"
