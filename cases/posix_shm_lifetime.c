/* POSIX shared memory objects across processes: one object behind a name,
 * its lifetime after close and after shm_unlink, and what a crash leaves. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <linux/limits.h>   /* NAME_MAX: <limits.h> is shadowed by harness/limits.h */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ipcvet.h"

static const char *shm_path(const char *name)
{
    static char buf[2][NAME_MAX + 32];
    static unsigned k;
    char *b = buf[k++ % 2];
    snprintf(b, sizeof buf[0], "/dev/shm%s", name);
    return b;
}

static int name_exists(const char *name)
{
    struct stat st;
    return stat(shm_path(name), &st) == 0;
}

struct named { char name[64]; };

/* What roles tell the coordinator, in the case's shared page. */
struct report {
    uintptr_t coord_addr, role_addr;
    ino_t ino;
    off_t size[2];
};
#define REPORT ((struct report *)ipcv_self.page->scratch)

static int open_map_and_write_back(struct ipcv_role *self, void *arg)
{
    struct named *a = arg;
    ipcv_await_release(self);
    /* Not inherited: this process opens the name and maps it itself, at an
     * address of its own choosing. */
    int fd = SAFE(shm_open(a->name, O_RDWR, 0));
    struct stat st;
    SAFE(fstat(fd, &st));
    REPORT->ino = st.st_ino;
    ipcv_expect_eq(4096, st.st_size);
    void *hint = (void *)(REPORT->coord_addr + ((uintptr_t)1 << 30));
    char *p = SAFE(mmap(hint, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
    REPORT->role_addr = (uintptr_t)p;
    ipcv_expect_mem("from-coordinator", p, 16);
    memcpy(p + 100, "from-role", 9);
    munmap(p, 4096);
    close(fd);
    return 0;
}

/* POSIX.1-2017 shm_open(): the name "shall be used by other processes to
 * refer to the shared memory object"; two processes opening it get the same
 * object, whatever address each maps it at. */
IPCV_CASE(posix_shm, same_name_in_two_processes_is_one_object,
          .tags = "multi", .covers = "B358",
          .spec = "POSIX.1-2017 shm_open()",
          .desc = "a process that opens the name and maps it at another address sees what the creator wrote, and the creator sees what it writes back")
{
    struct named a;
    snprintf(a.name, sizeof a.name, "%s", ipcv_name("same"));
    int fd = SAFE(shm_open(a.name, O_CREAT | O_EXCL | O_RDWR, 0600));
    SAFE(ftruncate(fd, 4096));
    /* Started before the mapping exists, so it inherits none. */
    struct ipcv_role *r = ipcv_spawn("peer", open_map_and_write_back, &a);
    char *p = SAFE(mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
    memcpy(p, "from-coordinator", 16);
    REPORT->coord_addr = (uintptr_t)p;
    ipcv_release(r);
    ipcv_join(r, IPCV_EXITED(0));
    ipcv_expect_mem("from-role", p + 100, 9);
    ipcv_expect_ne((uintptr_t)p, REPORT->role_addr);
    struct stat st;
    SAFE(fstat(fd, &st));
    ipcv_expect_eq(st.st_ino, REPORT->ino);
    munmap(p, 4096);
    close(fd);
    SAFE(shm_unlink(a.name));
}

static int read_back(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct named *a = arg;
    int fd = ipcv_expect_ok(shm_open(a->name, O_RDONLY, 0));
    if (fd < 0)
        return 0;
    char buf[8] = "";
    ipcv_expect_eq(7, pread(fd, buf, 7, 1000));
    ipcv_expect_mem("persist", buf, 7);
    close(fd);
    return 0;
}

/* POSIX.1-2017 shm_open(): "The state of a shared memory object, including
 * all data associated with the shared memory object, persists until the
 * shared memory object is unlinked and all other references are gone." */
IPCV_CASE(posix_shm, object_and_data_persist_after_last_close,
          .tags = "multi cleanup", .covers = "B373",
          .spec = "POSIX.1-2017 shm_open()",
          .desc = "after its creator wrote, unmapped and closed it, the object is still there and another process reads the same bytes")
{
    struct named a;
    snprintf(a.name, sizeof a.name, "%s", ipcv_name("persist"));
    int fd = SAFE(shm_open(a.name, O_CREAT | O_EXCL | O_RDWR, 0600));
    SAFE(ftruncate(fd, 4096));
    char *p = SAFE(mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
    memcpy(p + 1000, "persist", 7);
    SAFE(munmap(p, 4096));
    close(fd);
    struct ipcv_role *r = ipcv_spawn("reader", read_back, &a);
    ipcv_join(r, IPCV_EXITED(0));
    SAFE(shm_unlink(a.name));
}

/* POSIX.1-2017 shm_unlink(): "removes the name of the shared memory object
 * ... Upon successful completion, a value of zero shall be returned." */
IPCV_CASE(posix_shm, unlink_returns_zero_and_removes_name,
          .tags = "api cleanup", .covers = "B380 B384",
          .spec = "POSIX.1-2017 shm_unlink()",
          .desc = "shm_unlink returns exactly 0, the name is gone from /dev/shm and opening it without O_CREAT fails with ENOENT")
{
    const char *name = ipcv_name("unlink");
    close(SAFE(shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600)));
    ipcv_expect_eq(0, shm_unlink(name));
    ipcv_expect_true(!name_exists(name), "%s still exists after shm_unlink", name);
    ipcv_expect_fail(ENOENT, shm_open(name, O_RDWR, 0));
    ipcv_expect_fail(ENOENT, shm_open(name, O_RDONLY, 0));
}

static int map_and_hold(struct ipcv_role *self, void *arg)
{
    struct named *a = arg;
    int fd = SAFE(shm_open(a->name, O_RDWR, 0));
    char *p = SAFE(mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
    memcpy(p, "before-unlink", 13);
    ipcv_ready(self);
    ipcv_await_release(self);
    /* The name is gone now; the mapping and the descriptor are not. */
    ipcv_expect_mem("before-unlink", p, 13);
    memcpy(p + 200, "after-unlink", 12);
    struct stat st;
    SAFE(fstat(fd, &st));
    ipcv_expect_eq(0, st.st_nlink);
    ipcv_expect_eq(4096, st.st_size);
    munmap(p, 4096);
    close(fd);
    return 0;
}

/* POSIX.1-2017 shm_unlink(): "If one or more references to the shared
 * memory object exist when the object is unlinked, the name shall be
 * removed before shm_unlink() returns, but the removal of the memory object
 * contents shall be postponed until all open and map references to the
 * shared memory object have been removed." */
IPCV_CASE(posix_shm, unlink_while_mapped_elsewhere_keeps_mapping_and_data,
          .tags = "multi cleanup", .covers = "B381 B382",
          .spec = "POSIX.1-2017 shm_unlink()",
          .desc = "while another process has the object open and mapped, shm_unlink removes the name at once (ENOENT on open) but both mappings keep working and keep sharing bytes")
{
    struct named a;
    snprintf(a.name, sizeof a.name, "%s", ipcv_name("held"));
    int fd = SAFE(shm_open(a.name, O_CREAT | O_EXCL | O_RDWR, 0600));
    SAFE(ftruncate(fd, 4096));
    char *p = SAFE(mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
    struct ipcv_role *r = ipcv_spawn("holder", map_and_hold, &a);
    ipcv_wait_ready(r);
    ipcv_expect_eq(0, shm_unlink(a.name));
    ipcv_expect_fail(ENOENT, shm_open(a.name, O_RDWR, 0));
    ipcv_expect_true(!name_exists(a.name), "%s still listed after shm_unlink", a.name);
    ipcv_release(r);
    ipcv_join(r, IPCV_EXITED(0));
    /* Touch the mapping only if the object still has its page. */
    struct stat st;
    SAFE(fstat(fd, &st));
    ipcv_expect_eq(4096, st.st_size);
    if (st.st_size == 4096) {
        ipcv_expect_mem("before-unlink", p, 13);
        ipcv_expect_mem("after-unlink", p + 200, 12);
    }
    munmap(p, 4096);
    close(fd);
}

static int hold_old_object(struct ipcv_role *self, void *arg)
{
    struct named *a = arg;
    int fd = SAFE(shm_open(a->name, O_RDWR, 0));
    char *p = SAFE(mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
    close(fd);
    memcpy(p, "old-object", 10);
    ipcv_ready(self);
    ipcv_await_release(self);
    ipcv_expect_mem("old-object", p, 10);
    munmap(p, 4096);
    return 0;
}

/* POSIX.1-2017 shm_unlink(): after the name is removed, "a subsequent
 * shm_open() with O_CREAT creates a new object" even while the old one is
 * still referenced. */
IPCV_CASE(posix_shm, create_after_unlink_gives_a_new_object,
          .tags = "multi cleanup", .covers = "B383",
          .spec = "POSIX.1-2017 shm_unlink()",
          .desc = "with the old object still mapped by another process, O_CREAT|O_EXCL on the unlinked name succeeds and gives an empty object with another inode; writes to either do not reach the other")
{
    struct named a;
    snprintf(a.name, sizeof a.name, "%s", ipcv_name("recreate"));
    int fd = SAFE(shm_open(a.name, O_CREAT | O_EXCL | O_RDWR, 0600));
    SAFE(ftruncate(fd, 4096));
    struct stat old;
    SAFE(fstat(fd, &old));
    close(fd);
    struct ipcv_role *r = ipcv_spawn("holder", hold_old_object, &a);
    ipcv_wait_ready(r);
    SAFE(shm_unlink(a.name));
    fd = ipcv_expect_ok(shm_open(a.name, O_CREAT | O_EXCL | O_RDWR, 0600));
    if (fd >= 0) {
        struct stat st;
        SAFE(fstat(fd, &st));
        ipcv_expect_eq(0, st.st_size);
        ipcv_expect_ne(old.st_ino, st.st_ino);
        SAFE(ftruncate(fd, 4096));
        char buf[10] = "";
        SAFE(pread(fd, buf, 10, 0));
        ipcv_expect_true(memcmp(buf, "old-object", 10) != 0, "the new object holds the old bytes");
        SAFE(pwrite(fd, "new-object", 10, 0));
        close(fd);
    }
    ipcv_release(r);
    ipcv_join(r, IPCV_EXITED(0));
    shm_unlink(a.name);
}

static int unlink_as_nobody(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct named *a = arg;
    if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
        setresuid(65534, 65534, 65534) < 0)
        ipcv_skip("cannot become uid 65534: %s", ipcv_errname(errno));
    ipcv_expect_fail(EACCES, shm_unlink(a->name));
    return 0;
}

/* POSIX.1-2017 shm_unlink(): [EACCES] "Permission is denied to unlink the
 * named shared memory object", and "If -1 is returned, the named shared
 * memory object shall not be changed by this function call." (glibc turns
 * the kernel's EPERM from the sticky /dev/shm into EACCES.) */
IPCV_CASE(posix_shm, denied_unlink_fails_eacces_and_changes_nothing,
          .tags = "multi", .covers = "B385 B386",
          .spec = "POSIX.1-2017 shm_unlink() EACCES",
          .desc = "uid 65534 unlinking root's object in the sticky /dev/shm fails with EACCES; the name, inode, size and bytes are unchanged")
{
    struct named a;
    snprintf(a.name, sizeof a.name, "%s", ipcv_name("keep"));
    int fd = SAFE(shm_open(a.name, O_CREAT | O_EXCL | O_RDWR, 0644));
    SAFE(fchmod(fd, 0666));
    SAFE(pwrite(fd, "unchanged", 9, 0));
    struct stat before, after;
    SAFE(fstat(fd, &before));
    struct ipcv_role *r = ipcv_spawn("unlinker", unlink_as_nobody, &a);
    ipcv_join(r, IPCV_EXITED(0));
    ipcv_expect_true(name_exists(a.name), "%s is gone after a failed shm_unlink", a.name);
    int again = ipcv_expect_ok(shm_open(a.name, O_RDONLY, 0));
    if (again >= 0) {
        SAFE(fstat(again, &after));
        ipcv_expect_eq(before.st_ino, after.st_ino);
        ipcv_expect_eq(9, after.st_size);
        char buf[9] = "";
        SAFE(pread(again, buf, 9, 0));
        ipcv_expect_mem("unchanged", buf, 9);
        close(again);
    }
    close(fd);
    shm_unlink(a.name);
}

/* POSIX.1-2017 shm_unlink(): [ENOENT] "The named shared memory object does
 * not exist." */
IPCV_CASE(posix_shm, unlink_of_missing_name_fails_enoent,
          .tags = "api", .covers = "B388",
          .spec = "POSIX.1-2017 shm_unlink() ENOENT",
          .desc = "shm_unlink of a name never created, and a second shm_unlink of a removed one, fail with ENOENT")
{
    const char *never = ipcv_name("never"), *twice = ipcv_name("twice");
    ipcv_expect_fail(ENOENT, shm_unlink(never));
    close(SAFE(shm_open(twice, O_CREAT | O_EXCL | O_RDWR, 0600)));
    SAFE(shm_unlink(twice));
    ipcv_expect_fail(ENOENT, shm_unlink(twice));
}

#define PINGPONG_ROUNDS 64
#define OBJ_SIZE 4000

struct pingpong { struct named n; int me; };

struct turn { volatile unsigned char *cell; unsigned char want; };

static int cell_is(void *arg)
{
    struct turn *t = arg;
    return *t->cell == t->want;
}

static int ping_pong(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct pingpong *a = arg;
    int fd = SAFE(shm_open(a->n.name, O_RDWR, 0));
    struct stat st;
    SAFE(fstat(fd, &st));
    REPORT->size[a->me] = st.st_size;
    volatile unsigned char *p = SAFE(mmap(NULL, OBJ_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
    close(fd);
    /* Worker 0 writes cell 0, worker 1 answers in cell OBJ_SIZE-1. */
    volatile unsigned char *mine = a->me ? &p[OBJ_SIZE - 1] : &p[0];
    volatile unsigned char *theirs = a->me ? &p[0] : &p[OBJ_SIZE - 1];
    for (unsigned i = 1; i <= PINGPONG_ROUNDS; i++) {
        if (a->me == 0)
            *mine = (unsigned char)i;
        struct turn t = { theirs, (unsigned char)i };
        if (!ipcv_poll_until(cell_is, &t, ipcv_wait_bound())) {
            ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "round %u: the peer's byte never arrived (seen %u)",
                        i, *theirs);
            break;
        }
        if (a->me == 1)
            *mine = (unsigned char)i;
    }
    munmap((void *)p, OBJ_SIZE);
    return 0;
}

/* glibc rt/tst-shm.c: an object created O_CREAT|O_EXCL|O_TRUNC and sized
 * with ftruncate(2) to 4000 bytes has that size in every process that opens
 * it, and two workers that open it by name exchange bytes through their own
 * MAP_SHARED mappings. */
IPCV_CASE(posix_shm, two_workers_see_size_and_exchange_bytes,
          .tags = "multi", .covers = "B640",
          .spec = "POSIX.1-2017 shm_open(), ftruncate(), mmap() MAP_SHARED",
          .desc = "two processes that open a 4000-byte object by name see st_size 4000 and ping-pong 64 bytes through their mappings")
{
    struct pingpong a[2];
    snprintf(a[0].n.name, sizeof a[0].n.name, "%s", ipcv_name("pingpong"));
    a[1] = a[0];
    a[0].me = 0;
    a[1].me = 1;
    int fd = SAFE(shm_open(a[0].n.name, O_CREAT | O_EXCL | O_TRUNC | O_RDWR, 0600));
    SAFE(ftruncate(fd, OBJ_SIZE));
    close(fd);
    struct ipcv_role *r0 = ipcv_spawn("ping", ping_pong, &a[0]);
    struct ipcv_role *r1 = ipcv_spawn("pong", ping_pong, &a[1]);
    ipcv_join(r0, IPCV_EXITED(0));
    ipcv_join(r1, IPCV_EXITED(0));
    ipcv_expect_eq(OBJ_SIZE, REPORT->size[0]);
    ipcv_expect_eq(OBJ_SIZE, REPORT->size[1]);
    SAFE(shm_unlink(a[0].n.name));
}

static int create_and_die(struct ipcv_role *self, void *arg)
{
    struct named *a = arg;
    int fd = SAFE(shm_open(a->name, O_CREAT | O_EXCL | O_RDWR, 0600));
    SAFE(ftruncate(fd, 8192));
    ipcv_ready(self);               /* between shm_open and shm_unlink */
    ipcv_await_release(self);       /* killed before it gets here */
    shm_unlink(a->name);
    return 0;
}

/* POSIX.1-2017 shm_open(): the object persists "until the shared memory
 * object is unlinked", and a process's death is no unlink: a creator
 * killed between shm_open and shm_unlink leaves the name for someone else
 * to remove (what the harness census reports as a leak). */
IPCV_CASE(posix_shm, name_outlives_creator_killed_before_unlink,
          .tags = "crash cleanup", .covers = "B373",
          .spec = "POSIX.1-2017 shm_open(), shm_unlink()",
          .desc = "a creator SIGKILLed between shm_open and shm_unlink leaves the name in /dev/shm with its size; the coordinator finds it there and unlinks it")
{
    struct named a;
    snprintf(a.name, sizeof a.name, "%s", ipcv_name("orphan"));
    struct ipcv_role *r = ipcv_spawn("creator", create_and_die, &a);
    ipcv_wait_ready(r);
    SAFE(kill(ipcv_role_pid(r), SIGKILL));
    ipcv_join(r, IPCV_KILLED(SIGKILL));
    struct stat st;
    if (ipcv_expect_ok(stat(shm_path(a.name), &st)) == 0) {
        ipcv_expect_true(S_ISREG(st.st_mode), "%s is not a regular file", a.name);
        ipcv_expect_eq(8192, st.st_size);
    }
    ipcv_expect_eq(0, shm_unlink(a.name));
}
