/* ipcvet points: every point of the table, with its family, return
 * convention and documented errnos, as a table and as JSON. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "faults.h"
#include "test_exec_support.h"

TestSuite(faults_points, .timeout = 60);

static const char *row_of(const char *table, const char *point, char *buf, size_t len)
{
    char key[128];
    snprintf(key, sizeof key, "\n%s ", point);
    const char *p = strstr(table, key);
    if (!p)
        return NULL;
    p++;
    size_t n = strcspn(p, "\n");
    snprintf(buf, len, "%.*s", (int)(n < len ? n : len - 1), p);
    return buf;
}

Test(faults_points, lists_every_point_with_family_returns_and_errnos)
{
    struct sup_cmd c;
    RUN_IPCVET(&c, 30, "points");
    cr_assert_eq(c.code, 0, "exit %d: %s", c.code, c.err);
    int rows = sup_count_lines(c.out) - 1;
    cr_expect_geq(rows, 80, "only %d points", rows);
    cr_expect_eq((size_t)rows, ipcv_faults_npoints(), "the table has %zu points, the command %d",
                 ipcv_faults_npoints(), rows);
    static const char *const families[] = { "sysv_shm", "sysv_msg", "sysv_sem", "posix_shm", "posix_mq",
                                            "posix_sem", "pshared", "pipe", "fifo", "io", "socket", "process" };
    for (size_t i = 0; i < sizeof families / sizeof families[0]; i++) {
        char needle[48];
        snprintf(needle, sizeof needle, "ipc/%s/", families[i]);
        cr_expect(strstr(c.out, needle), "no point of family %s", families[i]);
    }
    static const struct { const char *point, *returns; } conv[] = {
        { "ipc/pshared/pthread_mutex_lock", "the error number" },
        { "ipc/pshared/pthread_cond_wait", "the error number" },
        { "ipc/pshared/pthread_mutexattr_setrobust", "the error number" },
        { "ipc/posix_shm/mmap", "MAP_FAILED and errno" },
        { "ipc/sysv_shm/shmat", "(void *)-1 and errno" },
        { "ipc/posix_sem/sem_open", "SEM_FAILED and errno" },
        { "ipc/posix_mq/mq_open", "(mqd_t)-1 and errno" },
        { "ipc/sysv_msg/msgsnd", "-1 and errno" },
    };
    char row[512];
    for (size_t i = 0; i < sizeof conv / sizeof conv[0]; i++) {
        cr_assert(row_of(c.out, conv[i].point, row, sizeof row), "no row for %s", conv[i].point);
        cr_expect(strstr(row, conv[i].returns), "%s: expected '%s' in: %s", conv[i].point,
                  conv[i].returns, row);
    }
    cr_assert(row_of(c.out, "ipc/sysv_shm/shmat", row, sizeof row));
    cr_expect(strstr(row, "EACCES EIDRM EINVAL ENOMEM"), "shmat's errnos: %s", row);
    sup_cmd_free(&c);
}

Test(faults_points, json_gives_each_point_with_its_errnos)
{
    struct sup_cmd c;
    RUN_IPCVET(&c, 30, "points", "--json");
    cr_assert_eq(c.code, 0, "exit %d: %s", c.code, c.err);
    char err[256];
    struct sup_json *j = sup_json_parse(c.out, err, sizeof err);
    cr_assert(j, "not JSON: %s", err);
    cr_assert_eq(j->type, SUP_JARR);
    cr_expect_geq(j->n, 80u);
    for (size_t i = 0; i < j->n; i++) {
        const struct sup_json *p = &j->items[i];
        const char *fn = jstr(p, "function"), *fam = jstr(p, "family"), *pt = jstr(p, "point");
        cr_assert(fn && fam && pt && jstr(p, "returns"), "entry %zu lacks a field", i);
        char want[128];
        snprintf(want, sizeof want, "ipc/%s/%s", fam, fn);
        cr_expect_str_eq(pt, want);
        cr_expect_gt(jlen(p, "errnos"), 0u, "%s has no errno", fn);
    }
    sup_json_free(j);
    sup_cmd_free(&c);
}

Test(faults_points, family_filter_and_unknown_family)
{
    struct sup_cmd c;
    RUN_IPCVET(&c, 30, "points", "--family", "sysv_shm");
    cr_expect_eq(c.code, 0);
    cr_expect_eq(sup_count_lines(c.out), 1 + 5, "sysv_shm has ftok shmget shmat shmdt shmctl:\n%s", c.out);
    cr_expect(!strstr(c.out, "ipc/sysv_msg/"));
    sup_cmd_free(&c);
    RUN_IPCVET(&c, 30, "points", "--family", "bogus");
    cr_expect_eq(c.code, 2);
    cr_expect_eq(sup_count_lines(c.err), 1, "%s", c.err);
    cr_expect(strstr(c.err, "'bogus'"), "%s", c.err);
    sup_cmd_free(&c);
}
