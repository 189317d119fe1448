/* Everything a case file needs. */
#ifndef IPCVET_H
#define IPCVET_H

#include "case.h"
#include "checkpoint.h"
#include "expect.h"
#include "ipc_limits.h"
#include "names.h"
#include "roles.h"
#include "safe.h"

#endif
