/* Sandbox: what a case gets (private IPC, mount and PID namespaces, empty
 * /dev/shm and /tmp, a deadline kept by the anchor), and --isolate none:
 * without namespaces leaks are still caught and removed from the host. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/limits.h>
#include <mqueue.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "checkpoint.h"
#include "sandbox.h"
#include "test_support.h"

TestSuite(sandbox, .timeout = 60);      /* unit */
TestSuite(e2e_sandbox, .timeout = 60);  /* ipcvet-demo run --isolate none */

Test(sandbox, isolation_names_parse_both_ways)
{
    cr_expect_eq(ipcv_isolation_parse("auto"), IPCV_ISOLATE_AUTO);
    cr_expect_eq(ipcv_isolation_parse("ns"), IPCV_ISOLATE_NS);
    cr_expect_eq(ipcv_isolation_parse("none"), IPCV_ISOLATE_NONE);
    static const char *const bad[] = { "", "NS", "nonee", "auto ", "userns" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect_eq(ipcv_isolation_parse(bad[i]), -1, "'%s' accepted", bad[i]);
    for (int m = IPCV_ISOLATE_AUTO; m <= IPCV_ISOLATE_NONE; m++)
        cr_expect_eq(ipcv_isolation_parse(ipcv_isolation_name(m)), m);
}

/* The Criterion runner of these tests must not be pid 1 of its PID
 * namespace: orphans of the runs killed here (a SIGKILLed ipcvet's runner,
 * a --isolate none role's child) would become its children, and Criterion
 * 2.4.1's child pump spins on children it does not know: the whole selftest
 * hangs. (ci/sandboxed.sh must keep a shell as pid 1, not exec the runner.) */
Test(sandbox, selftest_runner_is_not_the_namespace_init)
{
    cr_expect_neq(getppid(), 1, "this test's runner is pid 1 of its PID namespace: orphans of "
                  "killed runs will hang Criterion (run it under a reaping init)");
}

static void ns_of(const char *which, char *buf, size_t len)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/self/ns/%s", which);
    ssize_t n = readlink(path, buf, len - 1);
    buf[n > 0 ? n : 0] = '\0';
}

static atomic_int *expired;
static void note_expiry(double seconds)
{
    (void)seconds;
    atomic_store(expired, 1);   /* in the anchor: no cr_* here */
}

static int has_expired(void *arg)
{
    (void)arg;
    return atomic_load(expired);
}

Test(sandbox, ns_sandbox_is_private_and_its_anchor_keeps_the_deadline)
{
    char ipc0[64], mnt0[64], ipc1[64], mnt1[64], err[256];
    int host_tmp = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);   /* the host's, kept */
    cr_assert(host_tmp >= 0);
    ns_of("ipc", ipc0, sizeof ipc0);
    ns_of("mnt", mnt0, sizeof mnt0);
    expired = mmap(NULL, sizeof *expired, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    cr_assert(expired != MAP_FAILED);
    struct ipcv_deadline dl = { .seconds = 0.2, .on_expiry = note_expiry };
    struct ipcv_sandbox sb;
    if (ipcv_sandbox_enter(&sb, IPCV_ISOLATE_NS, &dl, err, sizeof err) < 0)
        cr_skip_test("no namespaces here: %s", err);
    cr_expect_eq(sb.mode, IPCV_ISOLATE_NS);
    cr_expect_geq(sb.mq_fd, 0, "no mqueue fs for the census");
    cr_expect_str_eq(sb.tmpdir, "/tmp");
    ns_of("ipc", ipc1, sizeof ipc1);
    ns_of("mnt", mnt1, sizeof mnt1);
    cr_expect_str_neq(ipc0, ipc1, "same IPC namespace");
    cr_expect_str_neq(mnt0, mnt1, "same mount namespace");

    /* /dev/shm and /tmp are fresh and invisible from the host's mounts. */
    int entries = 0;
    struct stat st;
    char probe[128];
    snprintf(probe, sizeof probe, "/tmp/ipcvet-selftest-probe.%d", (int)getpid());
    int fd = open(probe, O_CREAT | O_WRONLY, 0600);
    cr_assert(fd >= 0, "cannot write the sandbox's /tmp: %s", strerror(errno));
    close(fd);
    cr_expect(fstatat(host_tmp, probe + 5, &st, 0) < 0 && errno == ENOENT, "%s is visible on the host", probe);
    close(host_tmp);
    DIR *d = opendir("/dev/shm");
    cr_assert(d, "cannot read the sandbox's /dev/shm: %s", strerror(errno));
    for (struct dirent *e; (e = readdir(d));)
        entries += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    cr_expect_eq(entries, 0, "the sandbox's /dev/shm is not empty");

    /* The anchor is alive, leads its own group, and calls on_expiry. */
    cr_expect_eq(kill(sb.anchor, 0), 0, "anchor %d not alive", (int)sb.anchor);
    cr_expect_eq(getpgid(sb.anchor), sb.anchor);
    cr_expect(ipcv_poll_until(has_expired, NULL, 5), "the anchor never reported the deadline");

    pid_t anchor = sb.anchor;
    ipcv_sandbox_leave(&sb);
    cr_expect_eq(sb.anchor, -1);
    cr_expect(kill(anchor, 0) < 0 && errno == ESRCH, "anchor %d survives the sandbox", (int)anchor);
    unlink(probe);
}

Test(sandbox, none_sandbox_has_a_private_tmpdir_removed_on_leave)
{
    int lock = sup_host_lock();
    char err[256];
    struct ipcv_sandbox sb;
    cr_assert_eq(ipcv_sandbox_enter(&sb, IPCV_ISOLATE_NONE, NULL, err, sizeof err), 0, "%s", err);
    cr_expect_eq(sb.mode, IPCV_ISOLATE_NONE);
    char prefix[64];
    snprintf(prefix, sizeof prefix, "/tmp/ipcvet.%d.", (int)getpid());
    cr_expect(!strncmp(sb.tmpdir, prefix, strlen(prefix)), "tmpdir %s", sb.tmpdir);
    struct stat st;
    cr_expect(stat(sb.tmpdir, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0700,
              "%s is not a private directory", sb.tmpdir);
    char tmpdir[64];
    snprintf(tmpdir, sizeof tmpdir, "%s", sb.tmpdir);
    pid_t anchor = sb.anchor;
    ipcv_sandbox_leave(&sb);
    int gone = stat(tmpdir, &st) < 0 && errno == ENOENT;
    if (!gone)
        rmdir(tmpdir);
    sup_host_unlock(lock);
    cr_expect(gone, "%s is left behind", tmpdir);
    cr_expect(kill(anchor, 0) < 0, "anchor survives");
}

/* Without namespaces every leak is still caught and removed: afterwards the
 * host holds nothing new (SysV, /dev/shm, POSIX queues, /tmp). */
Test(e2e_sandbox, isolate_none_catches_leaks_and_leaves_the_host_clean)
{
    int lock = sup_host_lock();
    char *before = sup_host_snapshot();
    struct sup_cmd c;
    /* /dev/shm is a directory of our own (see SUP_SHM_DIR); SysV objects
     * and queues are the host's. */
    const char *shm = sup_fresh_dir("shm");
    char shm_env[PATH_MAX * 2 + 32];
    snprintf(shm_env, sizeof shm_env, SUP_SHM_DIR "=%s", shm);
    struct sup_json *r = RUN_DEMO_JSON(&c, 40, SUP_ARGV(shm_env), "--isolate", "none", "--filter",
                                       "demo/@(leaks_*|passes)");
    char *after = sup_host_snapshot();
    char *fresh = sup_new_lines(before, after);
    char shm_left[512] = "";
    DIR *d = opendir(shm);
    for (struct dirent *e; d && (e = readdir(d));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            snprintf(shm_left + strlen(shm_left), sizeof shm_left - strlen(shm_left), " %s", e->d_name);
    if (d)
        closedir(d);
    sup_remove_dir(shm);
    /* Take away what this run left (its names only), so that one failure
     * here does not poison the host for everything else. */
    for (char *p = fresh; *p; p += strcspn(p, "\n") + 1) {
        char name[256], path[300];
        if (sscanf(p, "mqueue %255s", name) == 1 && !strncmp(name, "ipcv", 4)) {
            snprintf(path, sizeof path, "/%s", name);
            mq_unlink(path);
        } else if (sscanf(p, "dev-shm %255s", name) == 1 &&
                   (!strncmp(name, "ipcv", 4) || !strncmp(name, "sem.ipcv", 8))) {
            snprintf(path, sizeof path, "/dev/shm/%s", name);
            unlink(path);
        }
    }
    sup_host_unlock(lock);

    cr_assert(r, "no report:\n%s%s", c.out, c.err);
    cr_expect_eq(c.code, 1);
    cr_expect(strstr(c.err, "--isolate none: cases share the host's IPC namespace"), "no warning: %s", c.err);
    cr_expect_str_eq(sup_result_str(r, "passes", "outcome"), "passed");
    static const char *const kinds[] = { "sysv_shm", "sysv_msg", "sysv_sem", "posix_shm", "posix_sem", "posix_mq" };
    for (int k = 0; k < 6; k++) {
        char cas[64], text[64];
        snprintf(cas, sizeof cas, "leaks_%s", kinds[k]);
        snprintf(text, sizeof text, "left 1 IPC object behind: %s", kinds[k]);
        cr_expect_str_eq(sup_result_str(r, cas, "outcome"), "failed", "%s was not caught", cas);
        const char *msg = sup_result_str(r, cas, "message");
        cr_expect(strstr(msg, text), "%s: %s", cas, msg);
        cr_expect(strstr(sup_result_str(r, "leaks_every_kind", "message"), kinds[k]),
                  "leaks_every_kind does not name its %s: %s", kinds[k],
                  sup_result_str(r, "leaks_every_kind", "message"));
    }
    cr_expect_str_eq(fresh, "", "--isolate none left these on the host:\n%s", fresh);
    cr_expect_str_eq(shm_left, "", "--isolate none left these in /dev/shm:%s", shm_left);
    free(fresh);
    free(before);
    free(after);
    sup_json_free(r);
    sup_cmd_free(&c);
}

/* The run's private tmpfs on /tmp must not hide ipcvet itself: Criterion
 * finds its tests, and re-executes its workers, by the path of the binary.
 * (Without care: "no case matches the selection", exit 2.) */
Test(e2e_sandbox, binary_under_tmp_still_runs)
{
    char dir[128], copy[160], libs[PATH_MAX * 2 + 32];
    snprintf(dir, sizeof dir, "/tmp/selftest-ipcv-bin.%d", (int)getpid());
    snprintf(copy, sizeof copy, "%s/ipcvet-demo", dir);
    mkdir(dir, 0755);
    size_t len = 0;
    FILE *in = fopen(sup_demo(), "re");
    FILE *out = fopen(copy, "we");
    cr_assert(in && out, "cannot copy %s to %s", sup_demo(), copy);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        len += fwrite(buf, 1, n, out);
    fclose(in);
    fclose(out);
    chmod(copy, 0755);
    /* The copy's relative rpath no longer reaches lib/: name it. */
    const char *faults = getenv("IPCVET_FAULTS_LIB");
    char fdir[PATH_MAX];
    snprintf(fdir, sizeof fdir, "%s", faults ? faults : "");
    char *slash = strrchr(fdir, '/');
    if (slash)
        *slash = '\0';
    snprintf(libs, sizeof libs, "LD_LIBRARY_PATH=%s%s%s/lib", fdir, fdir[0] ? ":" : "", sup_top());
    struct sup_cmd c;
    sup_run(&c, 30, SUP_ARGV(copy, "run", "--filter", "demo/passes"), SUP_ARGV(libs));
    unlink(copy);
    rmdir(dir);
    cr_expect(len > 0);
    cr_expect_eq(c.code, 0, "%s run --filter demo/passes: exit %d\n%s%s", copy, c.code, c.out, c.err);
    cr_expect(strstr(c.out, "1 passed, 0 failed, 0 skipped"), "%s", c.out);
    sup_cmd_free(&c);
}

static int count_procs(const char *tag)
{
    return sup_procs_with_tag(tag, NULL, 0, NULL, 0);
}

/* Without namespaces the census must only judge (and remove) what the case
 * created: objects another program makes meanwhile are not its leaks. This
 * test makes a /dev/shm file, a SysV segment and a POSIX queue while
 * demo/hangs runs (1 s), then checks all three survive, unnamed. */
Test(e2e_sandbox, isolate_none_never_touches_what_it_did_not_create)
{
    int lock = sup_host_lock();
    const char *shm = sup_fresh_dir("shm");
    char shm_env[PATH_MAX * 2 + 32], file[PATH_MAX * 2 + 32], qname[64];
    snprintf(shm_env, sizeof shm_env, SUP_SHM_DIR "=%s", shm);
    snprintf(file, sizeof file, "%s/bystander-segment", shm);
    snprintf(qname, sizeof qname, "/selftest-bystander.%d", (int)getpid());
    char json[PATH_MAX * 2];
    snprintf(json, sizeof json, "%s/bystander-%d.json", sup_scratch(), (int)getpid());

    struct sup_proc p;
    sup_start(&p, SUP_ARGV(sup_demo(), "run", "--isolate", "none", "--filter", "demo/hangs", "--json", json),
              SUP_ARGV(shm_env));
    /* ipcvet, init, runner, worker, anchor and the role: the case runs. */
    int running = 0;
    for (int i = 0; i < 400 && !running; i++) {
        running = count_procs(p.tag) >= 6;
        if (!running)
            usleep(2500);
    }
    int fd = open(file, O_CREAT | O_RDWR, 0600);
    if (fd >= 0)
        close(fd);
    int seg = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    mqd_t q = mq_open(qname, O_CREAT | O_RDWR, 0600, NULL);
    if (q != (mqd_t)-1)
        mq_close(q);
    struct sup_cmd c;
    sup_finish(&p, 30, &c);
    struct stat st;
    struct shmid_ds ds;
    int file_kept = stat(file, &st) == 0;
    int seg_kept = seg >= 0 && shmctl(seg, IPC_STAT, &ds) == 0;
    q = mq_open(qname, O_RDONLY);
    int q_kept = q != (mqd_t)-1;
    if (q_kept)
        mq_close(q);
    unlink(file);
    if (seg >= 0)
        shmctl(seg, IPC_RMID, NULL);
    mq_unlink(qname);
    sup_remove_dir(shm);
    sup_host_unlock(lock);

    char *report = sup_read_file(json);
    unlink(json);
    cr_assert(running, "demo/hangs never got going:\n%s%s", c.out, c.err);
    cr_assert(fd >= 0 && seg >= 0, "could not make the bystanders");
    cr_expect(file_kept, "the census of a --isolate none case removed another program's /dev/shm file");
    cr_expect(seg_kept, "the census of a --isolate none case removed another program's SysV segment");
    cr_expect(q_kept, "the census of a --isolate none case removed another program's queue");
    cr_expect(report && !strstr(report, "bystander") && !strstr(report, "sysv_shm"),
              "another program's objects are blamed on the case: %s", report ? report : "(no report)");
    free(report);
    sup_cmd_free(&c);
}
