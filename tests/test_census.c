/* Census: a leaked object of every kind is caught, named and removed, both
 * by the functions themselves (in a sandbox entered by the test) and end to
 * end through the demo cases. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <unistd.h>

#include "census.h"
#include "sandbox.h"
#include "test_support.h"

TestSuite(census, .timeout = 60);      /* unit: the functions themselves */
TestSuite(e2e_census, .timeout = 60);  /* through ipcvet-demo */

static struct ipcv_sandbox sb;

static void enter_sandbox(void)
{
    char err[256];
    if (ipcv_sandbox_enter(&sb, IPCV_ISOLATE_NS, NULL, err, sizeof err) < 0)
        cr_skip_test("no namespaces here: %s", err);
}

static const struct ipcv_object *find_kind(const struct ipcv_census *c, enum ipcv_object_kind k, int *count)
{
    const struct ipcv_object *hit = NULL;
    *count = 0;
    for (size_t i = 0; i < c->n; i++)
        if (c->objs[i].kind == k) {
            hit = &c->objs[i];
            ++*count;
        }
    return hit;
}

Test(census, catches_names_and_removes_one_object_of_every_kind)
{
    enter_sandbox();
    struct ipcv_census before = { 0 }, after = { 0 }, left = { 0 };
    cr_assert_eq(ipcv_census_take(&before, &sb), 0, "census: %s", strerror(errno));
    cr_expect_eq(before.n, 0, "a fresh sandbox holds %zu objects", before.n);

    key_t key = 0x5e1f7e57;
    int shm = shmget(key, 4096, IPC_CREAT | 0600);
    int msg = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
    int sem = semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
    cr_assert(shm >= 0 && msg >= 0 && sem >= 0, "SysV set-up: %s", strerror(errno));
    int fd = shm_open("/census-shm", O_CREAT | O_RDWR, 0600);
    cr_assert(fd >= 0, "shm_open: %s", strerror(errno));
    close(fd);
    sem_t *s = sem_open("/census-sem", O_CREAT, 0600, 1);
    cr_assert(s != SEM_FAILED, "sem_open: %s", strerror(errno));
    sem_close(s);
    mqd_t q = mq_open("/census-mq", O_CREAT | O_RDWR, 0600, NULL);
    cr_assert(q != (mqd_t)-1, "mq_open: %s", strerror(errno));
    mq_close(q);

    /* Under valgrind 3.19 fsopen fails and the sandbox has no view of its
     * queues (the harness falls back): the census cannot name one then. */
    int see_mq = sb.mq_fd >= 0;
    if (!see_mq)
        mq_unlink("/census-mq");
    cr_assert_eq(ipcv_census_take(&after, &sb), 0);
    ipcv_census_diff(&before, &after, &left);
    cr_expect_eq(left.n, 5u + see_mq, "diff holds %zu objects, expected %d", left.n, 5 + see_mq);

    static const struct { enum ipcv_object_kind kind; const char *name; } kinds[] = {
        { IPCV_OBJ_SYSV_SHM, "sysv_shm" }, { IPCV_OBJ_SYSV_MSG, "sysv_msg" },
        { IPCV_OBJ_SYSV_SEM, "sysv_sem" }, { IPCV_OBJ_POSIX_SHM, "posix_shm" },
        { IPCV_OBJ_POSIX_SEM, "posix_sem" }, { IPCV_OBJ_POSIX_MQ, "posix_mq" },
    };
    char want[6][128];
    snprintf(want[0], sizeof want[0], "sysv_shm key %#x id %d (creator pid %d)", (unsigned)key, shm, (int)getpid());
    snprintf(want[1], sizeof want[1], "sysv_msg key 0 id %d", msg);
    snprintf(want[2], sizeof want[2], "sysv_sem key 0 id %d", sem);
    snprintf(want[3], sizeof want[3], "posix_shm /census-shm");
    snprintf(want[4], sizeof want[4], "posix_sem /census-sem");
    snprintf(want[5], sizeof want[5], "posix_mq /census-mq");
    for (int i = 0; i < 5 + see_mq; i++) {
        int count;
        const struct ipcv_object *o = find_kind(&left, kinds[i].kind, &count);
        cr_expect_eq(count, 1, "%d objects of kind %s", count, kinds[i].name);
        cr_expect_str_eq(ipcv_object_kind_name(kinds[i].kind), kinds[i].name);
        if (o) {
            char buf[320];
            ipcv_object_format(o, buf, sizeof buf);
            cr_expect_str_eq(buf, want[i]);
        }
    }
    char line[2048];
    ipcv_census_format(&left, line, sizeof line);
    for (int i = 0; i < 5 + see_mq; i++)
        cr_expect(strstr(line, want[i]), "one-line format lacks '%s': %s", want[i], line);
    cr_expect_eq(sup_count(line, "; "), 4 + see_mq, "objects joined by '; ': %s", line);

    cr_expect_eq(ipcv_census_remove(&left, &sb), 0, "some objects could not be removed");
    cr_assert_eq(ipcv_census_take(&after, &sb), 0);
    cr_expect_eq(after.n, 0, "%zu objects survive removal", after.n);
    /* Removing what is gone already is not a failure. */
    cr_expect_eq(ipcv_census_remove(&left, &sb), 0, "a second removal failed");

    ipcv_census_free(&before);
    ipcv_census_free(&after);
    ipcv_census_free(&left);
    ipcv_sandbox_leave(&sb);
}

Test(census, diff_leaves_out_what_was_there_before)
{
    enter_sandbox();
    struct ipcv_census before = { 0 }, after = { 0 }, left = { 0 };
    int old = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    cr_assert(old >= 0);
    cr_assert_eq(ipcv_census_take(&before, &sb), 0);
    cr_expect_eq(before.n, 1);
    int new = semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
    cr_assert(new >= 0);
    cr_assert_eq(ipcv_census_take(&after, &sb), 0);
    ipcv_census_diff(&before, &after, &left);
    cr_assert_eq(left.n, 1, "diff: %zu objects", left.n);
    cr_expect_eq(left.objs[0].kind, IPCV_OBJ_SYSV_SEM);
    cr_expect_eq(left.objs[0].id, new);
    /* (Both ids are 0 in a fresh namespace: the kind tells them apart.) */
    (void)old;
    ipcv_census_free(&before);
    ipcv_census_free(&after);
    ipcv_census_free(&left);
    ipcv_sandbox_leave(&sb);
}

Test(census, format_is_bounded_and_terminated)
{
    struct ipcv_census c = { 0 };
    struct ipcv_object objs[40];
    for (int i = 0; i < 40; i++)
        objs[i] = (struct ipcv_object){ .kind = IPCV_OBJ_POSIX_SHM, .id = -1 };
    for (int i = 0; i < 40; i++)
        snprintf(objs[i].name, sizeof objs[i].name, "/object-number-%d", i);
    c.objs = objs;
    c.n = c.cap = 40;
    char buf[64];
    memset(buf, 'X', sizeof buf);
    ipcv_census_format(&c, buf, 50);
    cr_expect_lt(strlen(buf), 50, "overflowed: %zu chars", strlen(buf));
    cr_expect_eq(buf[50], 'X', "wrote past the length it was given");
    cr_expect(!strncmp(buf, "posix_shm /object-number-0; posix_shm /object-", 40), "%s", buf);

    struct ipcv_object o = { .kind = IPCV_OBJ_SYSV_MSG, .id = 3, .key = 0x1234 };
    ipcv_object_format(&o, buf, sizeof buf);
    cr_expect_str_eq(buf, "sysv_msg key 0x1234 id 3");
    o = (struct ipcv_object){ .kind = IPCV_OBJ_SYSV_SHM, .id = 0, .key = 0, .cpid = 42 };
    ipcv_object_format(&o, buf, sizeof buf);
    cr_expect_str_eq(buf, "sysv_shm key 0 id 0 (creator pid 42)");
    o = (struct ipcv_object){ .kind = IPCV_OBJ_POSIX_MQ, .id = -1 };
    snprintf(o.name, sizeof o.name, "/q");
    ipcv_object_format(&o, buf, sizeof buf);
    cr_expect_str_eq(buf, "posix_mq /q");
    struct ipcv_census empty = { 0 };
    ipcv_census_format(&empty, buf, sizeof buf);
    cr_expect_str_eq(buf, "");
}

/* ---- end to end ------------------------------------------------------------------ */

static const struct { const char *cas, *text; } leaks[] = {
    { "leaks_sysv_shm", "left 1 IPC object behind: sysv_shm key 0x" },
    { "leaks_sysv_msg", "left 1 IPC object behind: sysv_msg key 0 id " },
    { "leaks_sysv_sem", "left 1 IPC object behind: sysv_sem key 0 id " },
    { "leaks_posix_shm", "left 1 IPC object behind: posix_shm /ipcv" },
    { "leaks_posix_sem", "left 1 IPC object behind: posix_sem /ipcv" },
    { "leaks_posix_mq", "left 1 IPC object behind: posix_mq /ipcv" },
};

Test(e2e_census, every_leaking_demo_case_fails_naming_its_object)
{
    int lock = sup_host_lock();
    char *host_before = sup_host_snapshot();
    struct sup_cmd c;
    struct sup_json *r = RUN_DEMO_JSON(&c, 40, NULL, "-j2", "--filter", "demo/leaks_*");
    char *host_after = sup_host_snapshot();
    sup_host_unlock(lock);
    cr_assert(r, "no report:\n%s%s", c.out, c.err);
    cr_expect_eq(c.code, 1);
    for (size_t i = 0; i < sizeof leaks / sizeof leaks[0]; i++) {
        cr_expect_str_eq(sup_result_str(r, leaks[i].cas, "outcome"), "failed", "%s", leaks[i].cas);
        const char *msg = sup_result_str(r, leaks[i].cas, "message");
        cr_expect(strstr(msg, leaks[i].text), "%s: message '%s' lacks '%s'", leaks[i].cas, msg, leaks[i].text);
    }
    const char *all = sup_result_str(r, "leaks_every_kind", "message");
    cr_expect(strstr(all, "left 6 IPC objects behind: "), "leaks_every_kind: %s", all);
    static const char *const kinds[] = { "sysv_shm", "sysv_msg", "sysv_sem", "posix_shm", "posix_sem", "posix_mq" };
    for (int k = 0; k < 6; k++)
        cr_expect(strstr(all, kinds[k]), "leaks_every_kind does not name a %s: %s", kinds[k], all);
    char *fresh = sup_new_lines(host_before, host_after);
    cr_expect_str_eq(fresh, "", "the sandboxed run left objects on the host:\n%s", fresh);
    free(fresh);
    free(host_before);
    free(host_after);
    sup_json_free(r);
    sup_cmd_free(&c);
}
