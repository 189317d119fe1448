/* The first check: with shmget (msgget, semget) failing ENOSPC,
 * ipcmk prints its own error, exec exits 1 and the host keeps nothing. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "test_exec_support.h"

TestSuite(exec_ipcmk, .timeout = 120);

static void ipcmk_fails(const char *plan, const char *message, const char *const *ipcmk_args)
{
    const char *argv[16];
    int n = 0;
    argv[n++] = sup_ipcvet();
    argv[n++] = "exec";
    argv[n++] = "--inject";
    argv[n++] = plan;
    argv[n++] = "--";
    argv[n++] = "ipcmk";
    for (int i = 0; ipcmk_args[i]; i++)
        argv[n++] = ipcmk_args[i];
    argv[n] = NULL;

    int lock = sup_host_lock();
    char *before = sup_host_snapshot();
    struct sup_cmd c;
    sup_run(&c, 60, argv, NULL);
    char *after = sup_host_snapshot();
    sup_host_unlock(lock);
    char *added = host_added(before, after);

    cr_expect_eq(c.code, 1, "%s: exit %d (signal %d), expected 1; stderr:\n%s", plan, c.code, c.sig, c.err);
    cr_expect(strstr(c.err, message), "%s: ipcmk's own message '%s' is missing:\n%s", plan, message, c.err);
    cr_expect(strstr(c.err, "process 0 (ipcmk, pid "), "%s: the report does not name ipcmk:\n%s", plan, c.err);
    cr_expect(strstr(c.err, "exited with status 1"), "%s: no exit status in the report:\n%s", plan, c.err);
    cr_expect_str_empty(added, "%s: left on the host:\n%s", plan, added);
    free(before);
    free(after);
    free(added);
    sup_cmd_free(&c);
}

Test(exec_ipcmk, shmget_enospc_fails_ipcmk_m_and_leaves_nothing)
{
    ipcmk_fails("shmget:error=ENOSPC", "ipcmk: create share memory failed: No space left on device",
                SUP_ARGV("-M", "4096"));
}

Test(exec_ipcmk, msgget_enospc_fails_ipcmk_q_and_leaves_nothing)
{
    ipcmk_fails("msgget:error=ENOSPC", "ipcmk: create message queue failed: No space left on device",
                SUP_ARGV("-Q"));
}

Test(exec_ipcmk, semget_enospc_fails_ipcmk_s_and_leaves_nothing)
{
    ipcmk_fails("semget:error=ENOSPC", "ipcmk: create semaphore failed: No space left on device",
                SUP_ARGV("-S", "1"));
}

/* Without a plan ipcmk succeeds and, by design, leaves its segment: that
 * is a leak of the run, named with its creator, and removed. */
Test(exec_ipcmk, uninjected_ipcmk_leak_is_reported_and_removed)
{
    int lock = sup_host_lock();
    char *before = sup_host_snapshot();
    struct sup_cmd c;
    struct sup_json *j = EXEC_JSON(&c, 60, "--", "ipcmk", "-M", "4096");
    char *after = sup_host_snapshot();
    sup_host_unlock(lock);
    char *added = host_added(before, after);
    cr_assert(j, "no JSON report; stderr:\n%s", c.err);
    cr_expect_eq(c.code, 1, "exit %d; stderr:\n%s", c.code, c.err);
    cr_expect_eq(jlen(j, "leaks"), 1u);
    const struct sup_json *leak = jlen(j, "leaks") ? &sup_json_get(j, "leaks")->items[0] : NULL;
    cr_expect_str_eq(jstr(leak, "kind"), "sysv_shm");
    cr_expect_str_eq(jstr(leak, "creator_lineage"), "0");
    cr_expect_str_eq(jstr(leak, "creator_comm"), "ipcmk");
    cr_expect(strstr(c.err, "leak: sysv_shm key"), "no leak line:\n%s", c.err);
    cr_expect_str_empty(added, "left on the host:\n%s", added);
    sup_json_free(j);
    free(before);
    free(after);
    free(added);
    sup_cmd_free(&c);
}
