/* ipcvet explore on its corpus (fixtures/explore/): every seeded defect is
 * found with the class it must have, explore itself saw it again on a
 * second run, and the finding's `ipcvet exec` line really reproduces it;
 * every correct twin stays clean under the whole fault space. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_explore_support.h"

TestSuite(explore_corpus, .timeout = 240);

/* explore OPTS -- explore/NAME finds a `cls` of `kind` (at `function`). */
static void seeded(const char *name, const char *cls, const char *kind, const char *function,
                   const char *const *opts)
{
    const char *args[32];
    int n = 0;
    args[n++] = "-j1";
    for (int i = 0; opts[i]; i++)
        args[n++] = opts[i];
    args[n++] = "--";
    char rel[64];
    snprintf(rel, sizeof rel, "explore/%s", name);
    args[n++] = fixture(rel);
    args[n] = NULL;
    struct sup_cmd c;
    struct sup_json *j = explore_json(&c, 200, args);
    cr_assert(j, "no report (exit %d): %s", c.code, c.err);
    char *all = xfindings_text(j);
    cr_expect_eq(c.code, 1, "%s: exit %d, expected 1; findings:\n%s", name, c.code, all);
    const struct sup_json *f = xfinding(j, cls, kind);
    cr_expect(f, "%s: no %s finding from %s; findings:\n%s%s", name, cls, kind, all, c.out);
    if (f) {
        if (function)
            cr_expect_str_eq(jstr(f, "function"), function, "%s: the finding is at %s", name, jstr(f, "function"));
        cr_expect_eq(jnum(f, "reproduced", 0), 1, "%s: explore did not see it again: %s", name, jstr(f, "what"));
        /* A race that delays reveal comes back often, not always. */
        char why[2048];
        int ok = 0;
        for (int tries = 0; tries < 3 && !ok; tries++)
            ok = reproduces(f, why, sizeof why);
        cr_expect(ok, "%s: `%s` does not reproduce it: %s", name, jstr(f, "reproducer"), why);
    }
    free(all);
    sup_json_free(j);
    sup_cmd_free(&c);
}
#define SEEDED(name, cls, kind, function, ...) seeded(name, cls, kind, function, SUP_ARGV(__VA_ARGS__))

Test(explore_corpus, unchecked_shmat_is_a_crash_under_a_failed_attach)
{
    seeded("sysv_shm_unchecked_shmat", "crash", "error", "shmat", (const char *const[]){ NULL });
}

Test(explore_corpus, a_leak_on_an_error_path_is_a_leak)
{
    seeded("posix_shm_leak_on_error", "leak", "error", NULL, (const char *const[]){ NULL });
}

Test(explore_corpus, unretried_eintr_is_a_wrong_result)
{
    SEEDED("sysv_msg_unretried_eintr", "wrong-result", "error", "msgrcv", "--errnos", "EINTR");
}

Test(explore_corpus, ignored_eagain_under_a_smaller_queue_is_a_wrong_result)
{
    SEEDED("sysv_msg_ignored_eagain", "wrong-result", "limit", NULL, "--limits", "--calls", "msgget");
}

Test(explore_corpus, cleanup_only_at_exit_leaks_on_sigterm)
{
    SEEDED("posix_mq_atexit_cleanup", "leak", "terminate", NULL, "--terminate", "--calls", "mq_open");
}

Test(explore_corpus, missing_sem_undo_hangs_the_survivor_of_a_crash)
{
    SEEDED("sysv_sem_no_undo", "hang", "crash_after", "semop", "--crash", "--errnos", "EINVAL");
}

Test(explore_corpus, a_race_only_delays_reveal_is_a_wrong_result)
{
    SEEDED("posix_sem_race", "wrong-result", "delays", NULL, "--delays", "--calls", "sem_init");
}

Test(explore_corpus, a_non_robust_mutex_with_a_dying_holder_hangs)
{
    SEEDED("pshared_mutex_not_robust", "hang", "crash_after", "pthread_mutex_lock", "--crash", "--calls",
           "%pshared", "--errnos", "EINVAL");
}

Test(explore_corpus, default_sigpipe_is_a_crash_when_the_reader_goes)
{
    SEEDED("pipe_sigpipe", "crash", "error", "write", "--errnos", "EPIPE");
}

Test(explore_corpus, no_eof_check_spins_when_the_writer_dies)
{
    SEEDED("fifo_no_eof_check", "hang", "crash", "write", "--crash", "--calls", "write", "--errnos", "EIO");
}

Test(explore_corpus, an_unchecked_send_leaves_both_sides_waiting)
{
    SEEDED("unix_socket_unchecked_send", "hang", "error", "send", "--calls", "send");
}

/* The whole space: every documented errno, crashes, delays, limits and
 * SIGTERM; nothing may come of it. */
static void clean(const char *name)
{
    char rel[64];
    snprintf(rel, sizeof rel, "explore/%s", name);
    struct sup_cmd c;
    struct sup_json *j = EXPLORE_JSON(&c, 200, "-j1", "--errnos", "doc", "--crash", "--delays", "--limits",
                                      "--terminate", "--", fixture(rel));
    cr_assert(j, "no report (exit %d): %s", c.code, c.err);
    char *all = xfindings_text(j);
    cr_expect_eq(c.code, 0, "%s: exit %d; findings:\n%s", name, c.code, all);
    cr_expect_eq(jlen(j, "findings"), 0u, "%s: findings:\n%s", name, all);
    cr_expect_gt(jnum(j, "experiments", 0), 20, "%s: only %g experiments", name, jnum(j, "experiments", 0));
    free(all);
    sup_json_free(j);
    sup_cmd_free(&c);
}

Test(explore_corpus, correct_sysv_shm_is_clean) { clean("sysv_shm_ok"); }
Test(explore_corpus, correct_posix_shm_is_clean) { clean("posix_shm_ok"); }
Test(explore_corpus, correct_sysv_msg_is_clean) { clean("sysv_msg_ok"); }
Test(explore_corpus, correct_sysv_msg_queue_is_clean) { clean("sysv_msg_queue_ok"); }
Test(explore_corpus, correct_posix_mq_is_clean) { clean("posix_mq_ok"); }
Test(explore_corpus, correct_sysv_sem_is_clean) { clean("sysv_sem_ok"); }
Test(explore_corpus, correct_posix_sem_is_clean) { clean("posix_sem_ok"); }
Test(explore_corpus, correct_pshared_is_clean) { clean("pshared_ok"); }
Test(explore_corpus, correct_pipe_is_clean) { clean("pipe_ok"); }
Test(explore_corpus, correct_fifo_is_clean) { clean("fifo_ok"); }
Test(explore_corpus, correct_unix_socket_is_clean) { clean("unix_socket_ok"); }
