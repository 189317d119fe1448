/* POSIX named semaphores: sem_open, sem_close, sem_unlink. glibc keeps a
 * named semaphore in /dev/shm/sem.NAME (a private tmpfs in the sandbox)
 * and maps it once per process. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <semaphore.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ipcvet.h"

/* sem_open fails with SEM_FAILED (NULL in glibc) and errno err. */
#define expect_open_fails(err, call) do {                                     \
    errno = 0;                                                                \
    sem_t *s_ = (call);                                                       \
    int e_ = errno;                                                           \
    if (s_ != SEM_FAILED) {                                                   \
        ipcv_record(IPCV_FAIL, __FILE__, __LINE__,                            \
                    "%s: expected SEM_FAILED with %s, seen a semaphore",      \
                    #call, ipcv_errname(err));                                \
        sem_close(s_);                                                        \
    } else if (e_ != (err)) {                                                 \
        ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "%s: expected %s, seen %s",\
                    #call, ipcv_errname(err), ipcv_errname(e_));              \
    }                                                                         \
} while (0)

/* sem_open succeeds (set-up: stops the case as broken otherwise). */
#define OPEN(...) SAFE_PTR(sem_open(__VA_ARGS__))

static int value_of(sem_t *s)
{
    int v = -12345;
    SAFE(sem_getvalue(s, &v));
    return v;
}

/* /dev/shm/sem.NAME for name "/NAME". */
static const char *sem_file(const char *name)
{
    static char buf[2][300];
    static int k;
    char *b = buf[k++ % 2];
    snprintf(b, sizeof buf[0], "/dev/shm/sem.%s", name + 1);
    return b;
}

/* How many named-semaphore files the process has mapped. glibc maps the
 * temporary file before linking it under the name, so /proc/self/maps
 * shows "/dev/shm/sem.XXXXXX (deleted)", not the name. */
static int sem_mappings(void)
{
    FILE *f = SAFE_PTR(fopen("/proc/self/maps", "re"));
    char line[512];
    int n = 0;
    while (fgets(line, sizeof line, f))
        n += strstr(line, " /dev/shm/sem.") != NULL;
    fclose(f);
    return n;
}

static void become_nobody(void)
{
    if (setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0)
        ipcv_skip("cannot become uid/gid 65534: %s", ipcv_errname(errno));
}

struct named { char name[64]; int value; };

/* sem_open(3), sem_close(3), sem_unlink(3): O_CREAT makes a semaphore with
 * the given value; it is used like any other and the calls return 0. */
IPCV_CASE(posix_sem, sem_open_creates_a_semaphore_with_the_initial_value,
          .tags = "api", .covers = "B304 B647 B312 B315",
          .spec = "sem_open(3); POSIX.1-2017 sem_open()",
          .desc = "sem_open(O_CREAT|O_EXCL, 0600, 1) gives a semaphore at 1; wait, trywait (EAGAIN) and post work; sem_close and sem_unlink return 0")
{
    const char *name = ipcv_name("s");
    sem_t *s = OPEN(name, O_CREAT | O_EXCL, 0600, 1);
    ipcv_expect_eq(1, value_of(s));
    ipcv_expect_ok(sem_wait(s));
    ipcv_expect_eq(0, value_of(s));
    ipcv_expect_fail(EAGAIN, sem_trywait(s));
    ipcv_expect_ok(sem_post(s));
    ipcv_expect_eq(1, value_of(s));
    ipcv_expect_eq(0, sem_close(s));
    ipcv_expect_eq(0, sem_unlink(name));
    ipcv_expect_true(access(sem_file(name), F_OK) < 0, "%s still exists after sem_unlink",
                     sem_file(name));
}

/* sem_open(3) EEXIST: O_CREAT and O_EXCL were given and the name exists. */
IPCV_CASE(posix_sem, sem_open_creat_excl_on_an_existing_name_fails_eexist,
          .tags = "api", .covers = "B305 B307 B648",
          .spec = "sem_open(3) EEXIST",
          .desc = "a second sem_open(O_CREAT|O_EXCL) of a name fails with EEXIST and leaves the first semaphore's value")
{
    const char *name = ipcv_name("s");
    sem_t *s = OPEN(name, O_CREAT | O_EXCL, 0600, 2);
    expect_open_fails(EEXIST, sem_open(name, O_CREAT | O_EXCL, 0600, 7));
    ipcv_expect_eq(2, value_of(s));
    SAFE(sem_close(s));
    SAFE(sem_unlink(name));
}

/* sem_open(3) ENOENT: O_CREAT was not given and the name does not exist. */
IPCV_CASE(posix_sem, sem_open_without_creat_on_a_missing_name_fails_enoent,
          .tags = "api", .covers = "B309 B654",
          .spec = "sem_open(3) ENOENT",
          .desc = "sem_open(name, 0) and sem_open(name, O_EXCL) of a missing name fail with ENOENT and create nothing")
{
    const char *name = ipcv_name("missing");
    expect_open_fails(ENOENT, sem_open(name, 0));
    expect_open_fails(ENOENT, sem_open(name, O_EXCL));
    ipcv_expect_true(access(sem_file(name), F_OK) < 0, "%s was created", sem_file(name));
}

/* sem_open(3) EINVAL: value was greater than SEM_VALUE_MAX. */
IPCV_CASE(posix_sem, sem_open_with_a_value_above_sem_value_max_fails_einval,
          .tags = "api limit", .covers = "B308",
          .spec = "sem_open(3) EINVAL",
          .desc = "sem_open(O_CREAT) with SEM_VALUE_MAX+1 fails with EINVAL and creates nothing; SEM_VALUE_MAX itself works")
{
    const char *name = ipcv_name("s");
    expect_open_fails(EINVAL, sem_open(name, O_CREAT, 0600, (unsigned)SEM_VALUE_MAX + 1));
    ipcv_expect_true(access(sem_file(name), F_OK) < 0, "%s was created", sem_file(name));
    sem_t *s = sem_open(name, O_CREAT | O_EXCL, 0600, (unsigned)SEM_VALUE_MAX);
    ipcv_expect_true(s != SEM_FAILED, "sem_open with SEM_VALUE_MAX: %s", ipcv_errname(errno));
    if (s != SEM_FAILED) {
        ipcv_expect_eq(SEM_VALUE_MAX, value_of(s));
        SAFE(sem_close(s));
        SAFE(sem_unlink(name));
    }
}

struct access_case { char name[3][64]; };

static int open_as_nobody(struct ipcv_role *self, void *arg)
{
    (void)self;
    const struct access_case *ac = arg;
    become_nobody();
    /* 0600 and 0644: a semaphore is opened for reading and writing. */
    expect_open_fails(EACCES, sem_open(ac->name[0], 0));
    expect_open_fails(EACCES, sem_open(ac->name[0], O_CREAT, 0666, 0));
    expect_open_fails(EACCES, sem_open(ac->name[1], 0));
    sem_t *s = sem_open(ac->name[2], 0);
    ipcv_expect_true(s != SEM_FAILED, "opening a 0666 semaphore: %s", ipcv_errname(errno));
    if (s != SEM_FAILED) {
        ipcv_expect_ok(sem_post(s));
        sem_close(s);
    }
    return 0;
}

/* sem_open(3) EACCES: the semaphore exists, but the caller does not have
 * permission to open it (it needs read and write). */
IPCV_CASE(posix_sem, sem_open_without_permission_fails_eacces,
          .tags = "api multi", .covers = "B306 B649",
          .spec = "sem_open(3) EACCES",
          .desc = "another uid gets EACCES opening a root semaphore of mode 0600 (also with O_CREAT) or 0644, and opens and posts one of mode 0666")
{
    struct access_case ac;
    static const mode_t modes[3] = { 0600, 0644, 0666 };
    sem_t *s[3];
    mode_t old = umask(0);
    for (int i = 0; i < 3; i++) {
        snprintf(ac.name[i], sizeof ac.name[i], "%s", ipcv_name(i == 0 ? "a" : i == 1 ? "b" : "c"));
        s[i] = OPEN(ac.name[i], O_CREAT | O_EXCL, modes[i], 0);
    }
    umask(old);
    ipcv_join(ipcv_spawn("nobody", open_as_nobody, &ac), IPCV_EXITED(0));
    ipcv_expect_eq(0, value_of(s[0]));
    ipcv_expect_eq(1, value_of(s[2]));
    for (int i = 0; i < 3; i++) {
        SAFE(sem_close(s[i]));
        SAFE(sem_unlink(ac.name[i]));
    }
}

static int reopen_with_creat(struct ipcv_role *self, void *arg)
{
    (void)self;
    const struct named *n = arg;
    sem_t *s = sem_open(n->name, O_CREAT, 0600, 9);
    ipcv_expect_true(s != SEM_FAILED, "sem_open(O_CREAT) of an existing name: %s",
                     ipcv_errname(errno));
    if (s != SEM_FAILED) {
        ipcv_expect_eq(n->value, value_of(s));
        sem_close(s);
    }
    return 0;
}

/* sem_open(3): with O_CREAT on an existing name, mode and value are
 * ignored; POSIX.1-2017: "O_CREAT ... has no effect" if it exists. */
IPCV_CASE(posix_sem, sem_open_creat_on_an_existing_name_keeps_its_value,
          .tags = "api multi", .covers = "B310",
          .spec = "sem_open(3) O_CREAT; POSIX.1-2017 sem_open()",
          .desc = "a semaphore created at 3 is opened again with O_CREAT and value 9, here and in another process: both see 3")
{
    struct named n = { .value = 3 };
    snprintf(n.name, sizeof n.name, "%s", ipcv_name("s"));
    sem_t *s = OPEN(n.name, O_CREAT | O_EXCL, 0600, 3);
    sem_t *again = sem_open(n.name, O_CREAT, 0600, 9);
    ipcv_expect_true(again != SEM_FAILED, "reopen: %s", ipcv_errname(errno));
    ipcv_expect_eq(3, value_of(s));
    ipcv_join(ipcv_spawn("reopener", reopen_with_creat, &n), IPCV_EXITED(0));
    ipcv_expect_eq(3, value_of(s));
    if (again != SEM_FAILED)
        SAFE(sem_close(again));
    SAFE(sem_close(s));
    SAFE(sem_unlink(n.name));
}

/* POSIX.1-2017 sem_open(): opening the same name again in a process
 * returns the same address (until sem_close); glibc counts the opens, so
 * each needs its sem_close and the mapping goes with the last. */
IPCV_CASE(posix_sem, sem_open_again_in_one_process_returns_the_same_address,
          .tags = "api cleanup", .covers = "B311 B651",
          .spec = "POSIX.1-2017 sem_open(); sem_close(3)",
          .desc = "three sem_open of one name return one address and one mapping; after two sem_close it still works, the third unmaps it, a fourth fails with EINVAL")
{
    const char *name = ipcv_name("s");
    sem_t *a = OPEN(name, O_CREAT | O_EXCL, 0600, 1);
    sem_t *b = OPEN(name, 0);
    sem_t *c = OPEN(name, O_CREAT, 0600, 5);
    ipcv_expect_true(a == b && b == c, "addresses differ: %p %p %p", (void *)a, (void *)b,
                     (void *)c);
    ipcv_expect_eq(1, sem_mappings());
    ipcv_expect_eq(0, sem_close(c));
    ipcv_expect_eq(0, sem_close(b));
    ipcv_expect_eq(1, sem_mappings());
    ipcv_expect_ok(sem_post(a));
    ipcv_expect_eq(2, value_of(a));
    ipcv_expect_eq(0, sem_close(a));
    ipcv_expect_eq(0, sem_mappings());
    ipcv_expect_fail(EINVAL, sem_close(a));
    SAFE(sem_unlink(name));
}

/* glibc sem_close: EINVAL for an address that sem_open did not return
 * (POSIX leaves it undefined; musl has no check). */
IPCV_CASE(posix_sem, sem_close_of_a_semaphore_not_from_sem_open_fails_einval,
          .tags = "api", .covers = "B742",
          .spec = "sem_close(3) EINVAL; glibc sysdeps/pthread/sem_close.c",
          .desc = "sem_close of an unnamed semaphore made by sem_init fails with EINVAL, and the semaphore still works")
{
    sem_t local;
    SAFE(sem_init(&local, 0, 1));
    ipcv_expect_fail(EINVAL, sem_close(&local));
    ipcv_expect_ok(sem_trywait(&local));
    ipcv_expect_eq(0, sem_destroy(&local));
}

static int read_value(struct ipcv_role *self, void *arg)
{
    (void)self;
    const struct named *n = arg;
    sem_t *s = sem_open(n->name, 0);
    ipcv_expect_true(s != SEM_FAILED, "sem_open: %s", ipcv_errname(errno));
    if (s != SEM_FAILED) {
        ipcv_expect_eq(n->value, value_of(s));
        ipcv_expect_ok(sem_wait(s));
        sem_close(s);
    }
    return 0;
}

/* sem_close(3): closing frees the process's resources; the semaphore (and
 * its value) lives on while the name is linked. */
IPCV_CASE(posix_sem, sem_close_keeps_the_value_for_the_next_open,
          .tags = "api multi cleanup", .covers = "B313 B314",
          .spec = "sem_close(3); POSIX.1-2017 sem_close()",
          .desc = "a semaphore posted to 2 and closed keeps 2: the next sem_open here and one in another process read 2; the mapping is gone after the close")
{
    struct named n = { .value = 2 };
    snprintf(n.name, sizeof n.name, "%s", ipcv_name("s"));
    sem_t *s = OPEN(n.name, O_CREAT | O_EXCL, 0600, 0);
    SAFE(sem_post(s));
    SAFE(sem_post(s));
    ipcv_expect_eq(0, sem_close(s));
    ipcv_expect_eq(0, sem_mappings());
    s = OPEN(n.name, 0);
    ipcv_expect_eq(2, value_of(s));
    SAFE(sem_close(s));
    ipcv_join(ipcv_spawn("reader", read_value, &n), IPCV_EXITED(0));
    s = OPEN(n.name, 0);
    ipcv_expect_eq(1, value_of(s));
    SAFE(sem_close(s));
    SAFE(sem_unlink(n.name));
}

static int wait_on_named(struct ipcv_role *self, void *arg)
{
    const struct named *n = arg;
    sem_t *s = sem_open(n->name, 0);
    ipcv_expect_true(s != SEM_FAILED, "sem_open: %s", ipcv_errname(errno));
    if (s == SEM_FAILED)
        return 0;
    ipcv_expect_eq(0, value_of(s));
    ipcv_ready(self);
    ipcv_expect_ok(sem_wait(s));
    ipcv_expect_ok(sem_post(s));
    ipcv_expect_ok(sem_post(s));
    sem_close(s);
    return 0;
}

/* sem_overview(7): a named semaphore opened by name in two processes is one
 * semaphore: the value is shared and a post in one wakes a waiter in the
 * other. */
IPCV_CASE(posix_sem, named_semaphore_opened_by_another_process_is_the_same_semaphore,
          .tags = "multi", .covers = "B650 B304 B332 B337",
          .spec = "sem_overview(7); sem_wait(3)",
          .desc = "the coordinator takes a semaphore from 1 to 0; another process opening the name reads 0 and blocks in sem_wait; the coordinator's post wakes it, and its two posts show here as 2")
{
    struct named n;
    snprintf(n.name, sizeof n.name, "%s", ipcv_name("s"));
    sem_t *s = OPEN(n.name, O_CREAT | O_EXCL, 0600, 1);
    SAFE(sem_wait(s));
    struct ipcv_role *r = ipcv_spawn("waiter", wait_on_named, &n);
    ipcv_wait_ready(r);
    ipcv_wait_blocked(r, "futex");
    ipcv_expect_eq(0, value_of(s));
    ipcv_expect_ok(sem_post(s));
    ipcv_join(r, IPCV_EXITED(0));
    ipcv_expect_eq(2, value_of(s));
    SAFE(sem_close(s));
    SAFE(sem_unlink(n.name));
}

static int hold_open(struct ipcv_role *self, void *arg)
{
    const struct named *n = arg;
    sem_t *s = SAFE_PTR(sem_open(n->name, 0));
    ipcv_ready(self);
    ipcv_await_release(self);
    /* The name is gone; the semaphore is not. */
    ipcv_expect_ok(sem_wait(s));
    ipcv_expect_eq(1, value_of(s));
    ipcv_expect_eq(0, sem_close(s));
    return 0;
}

/* sem_unlink(3): the name is removed at once; the semaphore is destroyed
 * once all processes that have it open close it. sem_unlink does not
 * wait for them (POSIX.1-2017: "shall not block"). */
IPCV_CASE(posix_sem, sem_unlink_removes_the_name_but_not_the_open_semaphore,
          .tags = "multi cleanup", .covers = "B316 B321 B322",
          .spec = "sem_unlink(3); POSIX.1-2017 sem_unlink()",
          .desc = "while another process has it open, sem_unlink returns 0 at once, the name no longer opens (ENOENT), and both processes go on sharing the value (2, then 1)")
{
    struct named n;
    snprintf(n.name, sizeof n.name, "%s", ipcv_name("s"));
    sem_t *s = OPEN(n.name, O_CREAT | O_EXCL, 0600, 2);
    struct ipcv_role *r = ipcv_spawn("holder", hold_open, &n);
    ipcv_wait_ready(r);
    ipcv_expect_eq(0, sem_unlink(n.name));
    expect_open_fails(ENOENT, sem_open(n.name, 0));
    ipcv_expect_true(access(sem_file(n.name), F_OK) < 0, "%s still exists", sem_file(n.name));
    ipcv_expect_eq(2, value_of(s));
    ipcv_release(r);
    ipcv_join(r, IPCV_EXITED(0));
    ipcv_expect_eq(1, value_of(s));
    SAFE(sem_close(s));
}

/* sem_unlink(3); POSIX.1-2017: after sem_unlink, sem_open of the name with
 * O_CREAT makes a new semaphore; the old one is unaffected. */
IPCV_CASE(posix_sem, sem_open_after_sem_unlink_creates_a_new_semaphore,
          .tags = "api cleanup", .covers = "B320",
          .spec = "sem_unlink(3); POSIX.1-2017 sem_unlink()",
          .desc = "a semaphore at 5 is unlinked while open; sem_open(O_CREAT, 0) of the name gives a different semaphore at 0, and posting it leaves the old one at 5")
{
    const char *name = ipcv_name("s");
    sem_t *old = OPEN(name, O_CREAT | O_EXCL, 0600, 5);
    SAFE(sem_unlink(name));
    sem_t *fresh = OPEN(name, O_CREAT | O_EXCL, 0600, 0);
    ipcv_expect_true(fresh != old, "the new semaphore has the old one's address %p", (void *)old);
    ipcv_expect_eq(0, value_of(fresh));
    SAFE(sem_post(fresh));
    ipcv_expect_eq(5, value_of(old));
    ipcv_expect_eq(1, value_of(fresh));
    SAFE(sem_close(fresh));
    SAFE(sem_close(old));
    SAFE(sem_unlink(name));
}

/* sem_unlink(3) ENOENT: there is no semaphore with the given name. */
IPCV_CASE(posix_sem, sem_unlink_of_a_missing_name_fails_enoent,
          .tags = "api", .covers = "B318",
          .spec = "sem_unlink(3) ENOENT",
          .desc = "sem_unlink of a name never created, and a second sem_unlink of a removed name, fail with ENOENT")
{
    ipcv_expect_fail(ENOENT, sem_unlink(ipcv_name("never")));
    const char *name = ipcv_name("s");
    SAFE(sem_close(OPEN(name, O_CREAT | O_EXCL, 0600, 0)));
    ipcv_expect_ok(sem_unlink(name));
    ipcv_expect_fail(ENOENT, sem_unlink(name));
}

/* sem_open(3), sem_unlink(3) ENAMETOOLONG: the name is too long. glibc
 * stores "/NAME" as /dev/shm/sem.NAME, so from 252 characters up to
 * NAME_MAX the file name component is too long for the filesystem. */
IPCV_CASE(posix_sem, sem_open_and_sem_unlink_of_a_too_long_name_fail_enametoolong,
          .tags = "api limit", .covers = "B319",
          .spec = "sem_open(3) ENAMETOOLONG; sem_unlink(3) ENAMETOOLONG",
          .desc = "names of 252 and 255 characters after the slash give ENAMETOOLONG from sem_open(O_CREAT) and sem_unlink; 251 works")
{
    static const int lens[] = { 252, 255 };
    char name[NAME_MAX + 2];
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        name[0] = '/';
        memset(name + 1, 'n', (size_t)lens[i]);
        name[lens[i] + 1] = '\0';
        expect_open_fails(ENAMETOOLONG, sem_open(name, O_CREAT, 0600, 0));
        ipcv_expect_fail(ENAMETOOLONG, sem_unlink(name));
    }
    name[252] = '\0';
    sem_t *s = sem_open(name, O_CREAT | O_EXCL, 0600, 0);
    ipcv_expect_true(s != SEM_FAILED, "a 251-character name: %s", ipcv_errname(errno));
    if (s != SEM_FAILED) {
        sem_close(s);
        SAFE(sem_unlink(name));
    }
}

static int unlink_as_nobody(struct ipcv_role *self, void *arg)
{
    (void)self;
    const struct named *n = arg;
    become_nobody();
    ipcv_expect_fail(EACCES, sem_unlink(n->name));
    return 0;
}

/* sem_unlink(3) EACCES: the caller does not have permission to unlink the
 * semaphore (/dev/shm is sticky; glibc reports the kernel's EPERM as
 * EACCES). */
IPCV_CASE(posix_sem, sem_unlink_without_permission_fails_eacces,
          .tags = "api multi", .covers = "B317",
          .spec = "sem_unlink(3) EACCES",
          .desc = "another uid's sem_unlink of a root semaphore of mode 0666 fails with EACCES and the name still opens")
{
    struct named n;
    snprintf(n.name, sizeof n.name, "%s", ipcv_name("s"));
    mode_t old = umask(0);
    sem_t *s = OPEN(n.name, O_CREAT | O_EXCL, 0666, 0);
    umask(old);
    ipcv_join(ipcv_spawn("nobody", unlink_as_nobody, &n), IPCV_EXITED(0));
    sem_t *again = sem_open(n.name, 0);
    ipcv_expect_true(again == s, "the name no longer opens the semaphore (%s)", ipcv_errname(errno));
    if (again != SEM_FAILED)
        SAFE(sem_close(again));
    SAFE(sem_close(s));
    SAFE(sem_unlink(n.name));
}

/* sem_open(3) EINVAL: name consists of just "/"; glibc also refuses a
 * slash after the first character (sem_overview(7): "/somename"). */
IPCV_CASE(posix_sem, sem_open_of_a_bare_slash_or_a_name_with_an_inner_slash_fails_einval,
          .tags = "api", .covers = "",
          .spec = "sem_open(3) EINVAL; sem_overview(7)",
          .desc = "sem_open(O_CREAT) of \"/\", \"//\" and \"/a/b\" fails with EINVAL and nothing appears in /dev/shm")
{
    static const char *const bad[] = { "/", "//", "/ipcv/sub" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_open_fails(EINVAL, sem_open(bad[i], O_CREAT, 0600, 0));
    DIR *d = SAFE_PTR(opendir("/dev/shm"));
    struct dirent *e;
    while ((e = readdir(d)))
        ipcv_expect_true(e->d_name[0] == '.', "/dev/shm/%s appeared", e->d_name);
    closedir(d);
}

/* sem_open(3): the permissions are the mode argument less the umask;
 * glibc passes every mode bit on (musl keeps only 0666). */
IPCV_CASE(posix_sem, sem_open_gives_the_mode_less_the_umask,
          .tags = "api", .covers = "B743",
          .spec = "sem_open(3) O_CREAT mode; umask(2)",
          .desc = "with umask 022 a semaphore created 0666 is 0644; with umask 0 one created 0751 is 0751")
{
    static const struct { mode_t umask, mode, want; } tcases[] = {
        { 022, 0666, 0644 }, { 0, 0751, 0751 }, { 077, 0640, 0600 },
    };
    mode_t saved = umask(0);
    for (size_t i = 0; i < sizeof tcases / sizeof tcases[0]; i++) {
        const char *name = ipcv_name("m");
        umask(tcases[i].umask);
        sem_t *s = OPEN(name, O_CREAT | O_EXCL, tcases[i].mode, 0);
        struct stat st;
        SAFE(stat(sem_file(name), &st));
        ipcv_expect_true((st.st_mode & 07777) == tcases[i].want,
                         "mode %04o under umask %03o: expected %04o, seen %04o",
                         (unsigned)tcases[i].mode, (unsigned)tcases[i].umask,
                         (unsigned)tcases[i].want, (unsigned)(st.st_mode & 07777));
        SAFE(sem_close(s));
        SAFE(sem_unlink(name));
    }
    umask(saved);
}

/* sem_overview(7): on Linux a named semaphore is a file /dev/shm/sem.NAME
 * (glibc); it is not a POSIX shared memory object of the same name. */
IPCV_CASE(posix_sem, named_semaphore_lives_in_dev_shm_apart_from_shm_open_names,
          .tags = "api cleanup", .covers = "B740",
          .spec = "sem_overview(7) Named semaphores; shm_overview(7)",
          .desc = "sem_open(\"/NAME\") creates the file /dev/shm/sem.NAME of sizeof(sem_t) bytes; shm_open(\"/NAME\", O_CREAT|O_EXCL) still succeeds; sem_unlink removes only sem.NAME")
{
    const char *name = ipcv_name("both");
    sem_t *s = OPEN(name, O_CREAT | O_EXCL, 0600, 0);
    struct stat st;
    ipcv_expect_ok(stat(sem_file(name), &st));
    ipcv_expect_true(S_ISREG(st.st_mode), "%s is not a regular file", sem_file(name));
    ipcv_expect_eq(sizeof(sem_t), st.st_size);
    int fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
    ipcv_expect_true(fd >= 0, "shm_open(O_EXCL) of a semaphore's name: %s", ipcv_errname(errno));
    SAFE(sem_close(s));
    SAFE(sem_unlink(name));
    if (fd >= 0) {
        char shm[300];
        snprintf(shm, sizeof shm, "/dev/shm/%s", name + 1);
        ipcv_expect_ok(access(shm, F_OK));
        close(fd);
        SAFE(shm_unlink(name));
    }
}

/* glibc tst-sem8/tst-sem9: open, close (and unlink) in a loop. Each round
 * leaves nothing mapped, and the value persists while the name does. */
IPCV_CASE(posix_sem, sem_open_close_and_unlink_in_a_loop_all_succeed,
          .tags = "api cleanup", .covers = "B652",
          .spec = "sem_open(3); sem_close(3); sem_unlink(3)",
          .desc = "100 rounds of sem_open/sem_post/sem_close on one name reach value 100 with no mapping left; 100 rounds of open/close/unlink all succeed and leave no file")
{
    const char *name = ipcv_name("loop");
    int failures = 0;
    for (int i = 0; i < 100; i++) {
        sem_t *s = sem_open(name, O_CREAT, 0600, 0);
        failures += s == SEM_FAILED || sem_post(s) != 0 || sem_close(s) != 0;
    }
    ipcv_expect_eq(0, failures);
    ipcv_expect_eq(0, sem_mappings());
    sem_t *s = OPEN(name, 0);
    ipcv_expect_eq(100, value_of(s));
    SAFE(sem_close(s));
    SAFE(sem_unlink(name));
    for (int i = 0; i < 100; i++) {
        sem_t *t = sem_open(name, O_CREAT | O_EXCL, 0600, 1);
        failures += t == SEM_FAILED || sem_close(t) != 0 || sem_unlink(name) != 0;
    }
    ipcv_expect_eq(0, failures);
    ipcv_expect_eq(0, sem_mappings());
    ipcv_expect_true(access(sem_file(name), F_OK) < 0, "%s left behind", sem_file(name));
}

#define MANY 300

/* sem_open(3); glibc has no SEM_NSEMS_MAX (musl stops at 256): a process
 * may hold any number of named semaphores. */
IPCV_CASE(posix_sem, one_process_holds_three_hundred_named_semaphores,
          .tags = "api limit", .covers = "B741",
          .spec = "sem_open(3); POSIX.1-2017 <limits.h> SEM_NSEMS_MAX",
          .desc = "300 distinct named semaphores open at once, each with its own value, all succeed and keep their values; all are closed and unlinked")
{
    sem_t *s[MANY];
    int opened = 0;
    for (int i = 0; i < MANY; i++) {
        char suffix[16];
        snprintf(suffix, sizeof suffix, "n%d", i);
        s[i] = sem_open(ipcv_name(suffix), O_CREAT | O_EXCL, 0600, (unsigned)(i % 7));
        if (s[i] == SEM_FAILED) {
            ipcv_expect_true(0, "named semaphore #%d: %s", i, ipcv_errname(errno));
            break;
        }
        opened++;
    }
    for (int i = 0; i < opened; i++)
        if (value_of(s[i]) != i % 7) {
            ipcv_expect_eq(i % 7, value_of(s[i]));
            break;
        }
    for (int i = 0; i < opened; i++) {
        char suffix[16];
        snprintf(suffix, sizeof suffix, "n%d", i);
        SAFE(sem_close(s[i]));
        SAFE(sem_unlink(ipcv_name(suffix)));
    }
}
