/* SIGKILL midway: ipcvet killed while a case holds one object of every kind
 * (and a role) leaves no process, and the host's SysV objects, /dev/shm,
 * POSIX queues and /tmp are as they were before. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_support.h"

TestSuite(e2e_sigkill, .timeout = 60);

Test(e2e_sigkill, killed_run_leaves_no_process_and_the_host_untouched)
{
    int lock = sup_host_lock();
    char *before = sup_host_snapshot();

    /* --verbose: Criterion leaves the case's stdout alone, so the line the
     * case prints once its objects exist reaches us. */
    struct sup_proc p;
    sup_start(&p, SUP_ARGV(sup_demo(), "run", "--verbose", "--filter", "demo/slow_for_sigkill"), NULL);
    int reached = sup_wait_output(&p, "ipcvet-demo: objects created", 20);
    char during[512];
    int nprocs = sup_procs_with_tag(p.tag, NULL, 0, during, sizeof during);
    kill(p.pid, SIGKILL);
    struct sup_cmd c;
    sup_finish(&p, 10, &c);
    int none_left = sup_wait_no_procs(c.tag, 10);
    char left[512];
    int nleft = sup_procs_with_tag(c.tag, NULL, 0, left, sizeof left);
    char *after = sup_host_snapshot();
    sup_host_unlock(lock);

    cr_assert(reached, "the case never said its objects were created:\n%s%s", c.out, c.err);
    cr_expect_geq(nprocs, 5, "only %d processes while the case ran (%s): ipcvet, runner, worker, "
                  "anchor and role expected", nprocs, during);
    cr_expect_eq(c.sig, SIGKILL, "ipcvet ended with status %d, not by SIGKILL", c.status);
    cr_expect(none_left, "%d processes of the run survive SIGKILL: %s", nleft, left);
    char *fresh = sup_new_lines(before, after);
    cr_expect_str_eq(fresh, "", "SIGKILL left these on the host:\n%s", fresh);
    free(fresh);
    free(before);
    free(after);
    sup_cmd_free(&c);
}
