/* memfd_create(2): anonymous files, their seals and the hugetlb variant. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/memfd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ipcvet.h"

#define PG 4096
#define HUGE_2M (2u << 20)

/* Case memfds are named "case-..." (mutants leave other names alone). */
static int sealable(const char *tag, off_t size)
{
    char name[64];
    snprintf(name, sizeof name, "case-%s", tag);
    int fd = SAFE(memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING));
    if (size)
        SAFE(ftruncate(fd, size));
    return fd;
}

struct memfd_arg { int fd; };

static int map_inherited_memfd(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct memfd_arg *a = arg;
    char *p = SAFE(mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, a->fd, 0));
    ipcv_expect_mem("from-parent", p + PG, 11);
    memcpy(p + 50, "from-child", 10);
    munmap(p, 2 * PG);
    return 0;
}

/* memfd_create(2): "creates an anonymous file and returns a file
 * descriptor that refers to it. The file behaves like a regular file, and
 * so can be modified, truncated, memory-mapped ... The initial size of the
 * file is set to 0"; the name shows in /proc/self/fd as "memfd:NAME"; the
 * descriptor can be shared with a child. */
IPCV_CASE(mmap_file, memfd_is_a_resizable_file_shared_with_children,
          .tags = "multi", .covers = "B204",
          .spec = "memfd_create(2)",
          .desc = "memfd_create gives an empty regular file with FD_CLOEXEC, linked as /memfd:NAME (deleted); after ftruncate a child maps the inherited descriptor and both sides see each other's bytes")
{
    int fd = SAFE(memfd_create("case-basic", MFD_CLOEXEC));
    struct stat st;
    SAFE(fstat(fd, &st));
    ipcv_expect_true(S_ISREG(st.st_mode), "not a regular file (mode %#o)", st.st_mode);
    ipcv_expect_eq(0, st.st_size);
    ipcv_expect_bits(FD_CLOEXEC, fcntl(fd, F_GETFD));
    char link[64], target[128] = "";
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    SAFE(readlink(link, target, sizeof target - 1));
    ipcv_expect_true(!strcmp(target, "/memfd:case-basic (deleted)"), "/proc link is '%s'", target);
    SAFE(ftruncate(fd, 2 * PG));
    char *p = SAFE(mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
    memcpy(p + PG, "from-parent", 11);
    struct memfd_arg a = { fd };
    struct ipcv_role *r = ipcv_spawn("child", map_inherited_memfd, &a);
    ipcv_join(r, IPCV_EXITED(0));
    ipcv_expect_mem("from-child", p + 50, 10);
    char buf[10] = "";
    SAFE(pread(fd, buf, 10, 50));
    ipcv_expect_mem("from-child", buf, 10);
    munmap(p, 2 * PG);
    close(fd);
}

/* memfd_create(2) F_SEAL_WRITE: "the file contents cannot be modified.
 * Calls to write(2) fail with EPERM, ... trying to create new shared,
 * writable memory mappings via mmap(2) will also fail with EPERM." */
IPCV_CASE(mmap_file, memfd_seal_write_refuses_writes_and_shared_writable_maps,
          .tags = "api", .covers = "B204",
          .spec = "memfd_create(2), fcntl(2) F_ADD_SEALS F_SEAL_WRITE",
          .desc = "after F_SEAL_WRITE, F_GET_SEALS shows it; write, pwrite and PROT_WRITE|MAP_SHARED fail with EPERM; PROT_READ shared and private writable maps work and the bytes stay")
{
    int fd = sealable("write", PG);
    SAFE(pwrite(fd, "sealed", 6, 0));
    ipcv_expect_eq(0, fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE));
    ipcv_expect_bits(F_SEAL_WRITE, fcntl(fd, F_GET_SEALS));
    ipcv_expect_fail(EPERM, write(fd, "x", 1));
    ipcv_expect_fail(EPERM, pwrite(fd, "x", 1, 10));
    ipcv_expect_fail(EPERM, mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
    char *ro = mmap(NULL, PG, PROT_READ, MAP_SHARED, fd, 0);
    ipcv_expect_true(ro != MAP_FAILED, "PROT_READ|MAP_SHARED failed: %s", ipcv_errname(errno));
    if (ro != MAP_FAILED) {
        ipcv_expect_mem("sealed", ro, 6);
        /* The read-only shared mapping cannot be made writable either. */
        ipcv_expect_true(mprotect(ro, PG, PROT_READ | PROT_WRITE) < 0,
                         "mprotect(PROT_WRITE) of a shared mapping of a write-sealed memfd succeeded");
        munmap(ro, PG);
    }
    char *priv = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    ipcv_expect_true(priv != MAP_FAILED, "PROT_WRITE|MAP_PRIVATE failed: %s", ipcv_errname(errno));
    if (priv != MAP_FAILED) {
        memcpy(priv, "cow", 3);
        munmap(priv, PG);
    }
    char buf[6] = "";
    SAFE(pread(fd, buf, 6, 0));
    ipcv_expect_mem("sealed", buf, 6);
    close(fd);
}

/* memfd_create(2) F_SEAL_WRITE: "If a writable shared mapping exists,
 * adding F_SEAL_WRITE fails with EBUSY" (fcntl(2)). */
IPCV_CASE(mmap_file, memfd_seal_write_fails_ebusy_while_a_writable_map_exists,
          .tags = "api", .covers = "B204",
          .spec = "fcntl(2) F_ADD_SEALS EBUSY",
          .desc = "with a PROT_WRITE|MAP_SHARED mapping in place F_SEAL_WRITE fails with EBUSY and is not added; after munmap it is added")
{
    int fd = sealable("busy", PG);
    char *p = SAFE(mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
    ipcv_expect_fail(EBUSY, fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE));
    ipcv_expect_nobits(F_SEAL_WRITE, fcntl(fd, F_GET_SEALS));
    SAFE(munmap(p, PG));
    ipcv_expect_eq(0, fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE));
    ipcv_expect_bits(F_SEAL_WRITE, fcntl(fd, F_GET_SEALS));
    close(fd);
}

/* fcntl(2) F_SEAL_SHRINK: "the file in question cannot be reduced in
 * size"; F_SEAL_GROW: "the file in question cannot be increased in size",
 * which covers ftruncate, fallocate and writes past the end. */
IPCV_CASE(mmap_file, memfd_seal_shrink_and_grow_refuse_resizes,
          .tags = "api", .covers = "B204",
          .spec = "fcntl(2) F_SEAL_SHRINK, F_SEAL_GROW",
          .desc = "with F_SEAL_SHRINK ftruncate down fails with EPERM and up works; with F_SEAL_GROW ftruncate up, fallocate past the end and pwrite past the end fail with EPERM and down works")
{
    int shrink = sealable("shrink", 2 * PG);
    ipcv_expect_eq(0, fcntl(shrink, F_ADD_SEALS, F_SEAL_SHRINK));
    ipcv_expect_fail(EPERM, ftruncate(shrink, PG));
    ipcv_expect_fail(EPERM, ftruncate(shrink, 0));
    ipcv_expect_ok(ftruncate(shrink, 3 * PG));
    struct stat st;
    SAFE(fstat(shrink, &st));
    ipcv_expect_eq(3 * PG, st.st_size);
    close(shrink);

    int grow = sealable("grow", 2 * PG);
    ipcv_expect_eq(0, fcntl(grow, F_ADD_SEALS, F_SEAL_GROW));
    ipcv_expect_fail(EPERM, ftruncate(grow, 3 * PG));
    ipcv_expect_fail(EPERM, fallocate(grow, 0, 0, 4 * PG));
    ipcv_expect_fail(EPERM, pwrite(grow, "x", 1, 2 * PG));
    ipcv_expect_ok(pwrite(grow, "x", 1, 2 * PG - 1));
    ipcv_expect_ok(ftruncate(grow, PG));
    SAFE(fstat(grow, &st));
    ipcv_expect_eq(PG, st.st_size);
    close(grow);
}

/* fcntl(2) F_SEAL_SEAL: "the set of seals is now fixed ... any further
 * call to fcntl() with F_ADD_SEALS fails with the error EPERM." */
IPCV_CASE(mmap_file, memfd_seal_seal_freezes_the_seal_set,
          .tags = "api", .covers = "B204",
          .spec = "fcntl(2) F_SEAL_SEAL",
          .desc = "after F_SEAL_SHRINK|F_SEAL_SEAL, adding F_SEAL_WRITE or F_SEAL_GROW fails with EPERM and F_GET_SEALS stays F_SEAL_SHRINK|F_SEAL_SEAL")
{
    int fd = sealable("seal", PG);
    ipcv_expect_eq(0, fcntl(fd, F_GET_SEALS));
    ipcv_expect_eq(0, fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_SEAL));
    ipcv_expect_fail(EPERM, fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE));
    ipcv_expect_fail(EPERM, fcntl(fd, F_ADD_SEALS, F_SEAL_GROW));
    ipcv_expect_eq(F_SEAL_SHRINK | F_SEAL_SEAL, fcntl(fd, F_GET_SEALS));
    ipcv_expect_ok(pwrite(fd, "w", 1, 0));
    close(fd);
}

struct seal_arg { int fd; };

static int check_seals_in_child(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct seal_arg *a = arg;
    ipcv_expect_eq(F_SEAL_WRITE | F_SEAL_SHRINK, fcntl(a->fd, F_GET_SEALS));
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", a->fd);
    int again = SAFE(open(link, O_RDWR | O_CLOEXEC));
    ipcv_expect_eq(F_SEAL_WRITE | F_SEAL_SHRINK, fcntl(again, F_GET_SEALS));
    ipcv_expect_fail(EPERM, write(again, "x", 1));
    ipcv_expect_fail(EPERM, ftruncate(again, 0));
    ipcv_expect_fail(EPERM, mmap(NULL, PG, PROT_WRITE, MAP_SHARED, again, 0));
    close(again);
    return 0;
}

/* fcntl(2) File Sealing: "Seals are a property of an inode. Thus, all open
 * file descriptors referring to the same inode share the same set of
 * seals" — dup'ed descriptors, new opens through /proc/PID/fd, and
 * descriptors inherited by children. */
IPCV_CASE(mmap_file, memfd_seals_are_shared_by_dup_proc_reopen_and_children,
          .tags = "multi", .covers = "B204",
          .spec = "fcntl(2) File Sealing",
          .desc = "seals added on one descriptor are seen and enforced through a dup, a reopen of /proc/self/fd/N, and a child's inherited descriptor and its own reopen")
{
    int fd = sealable("shared", PG);
    int dup_fd = SAFE(fcntl(fd, F_DUPFD_CLOEXEC, 0));
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    int reopened = SAFE(open(link, O_RDWR | O_CLOEXEC));
    ipcv_expect_eq(0, fcntl(reopened, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK));
    ipcv_expect_eq(F_SEAL_WRITE | F_SEAL_SHRINK, fcntl(fd, F_GET_SEALS));
    ipcv_expect_eq(F_SEAL_WRITE | F_SEAL_SHRINK, fcntl(dup_fd, F_GET_SEALS));
    ipcv_expect_fail(EPERM, write(dup_fd, "x", 1));
    ipcv_expect_fail(EPERM, ftruncate(fd, 0));
    struct seal_arg a = { fd };
    struct ipcv_role *r = ipcv_spawn("child", check_seals_in_child, &a);
    ipcv_join(r, IPCV_EXITED(0));
    close(reopened);
    close(dup_fd);
    close(fd);
}

/* memfd_create(2) MFD_ALLOW_SEALING: "If this flag is not set, the initial
 * set of seals will be F_SEAL_SEAL, meaning that no other seals can be set
 * on the file." */
IPCV_CASE(mmap_file, memfd_without_allow_sealing_refuses_seals,
          .tags = "api", .covers = "B205",
          .spec = "memfd_create(2) MFD_ALLOW_SEALING",
          .desc = "a memfd created without MFD_ALLOW_SEALING reports F_SEAL_SEAL and every F_ADD_SEALS fails with EPERM")
{
    int fd = SAFE(memfd_create("case-nosealing", MFD_CLOEXEC));
    ipcv_expect_eq(F_SEAL_SEAL, fcntl(fd, F_GET_SEALS));
    ipcv_expect_fail(EPERM, fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE));
    ipcv_expect_fail(EPERM, fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW));
    ipcv_expect_ok(ftruncate(fd, PG));
    ipcv_expect_ok(pwrite(fd, "w", 1, 0));
    close(fd);
}

/* memfd_create(2) EFAULT: "The address in name points to invalid memory." */
IPCV_CASE(mmap_file, memfd_null_name_fails_efault,
          .tags = "api", .covers = "B206",
          .spec = "memfd_create(2) EFAULT",
          .desc = "memfd_create(NULL, 0) and memfd_create of an unmapped address fail with EFAULT")
{
    const char *volatile null_name = NULL;
    ipcv_expect_fail(EFAULT, memfd_create(null_name, 0));
    ipcv_expect_fail(EFAULT, memfd_create(null_name, MFD_CLOEXEC | MFD_ALLOW_SEALING));
    char *gone = SAFE(mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    SAFE(munmap(gone, PG));
    ipcv_expect_fail(EFAULT, memfd_create(gone, 0));
}

/* memfd_create(2) EINVAL: "flags included unknown bits", "name was too
 * long (the limit is 249 bytes, excluding the terminating null byte)", or
 * a MFD_HUGE_* size without MFD_HUGETLB. */
IPCV_CASE(mmap_file, memfd_long_name_or_unknown_flags_fail_einval,
          .tags = "api limit", .covers = "B207",
          .spec = "memfd_create(2) EINVAL",
          .desc = "a 249-byte name works and 250 fails with EINVAL; unknown flag bits and MFD_HUGE_2MB without MFD_HUGETLB fail with EINVAL")
{
    char name[256];
    memset(name, 'c', sizeof name);
    memcpy(name, "case-", 5);
    name[249] = '\0';
    int fd = ipcv_expect_ok(memfd_create(name, MFD_CLOEXEC));
    if (fd >= 0)
        close(fd);
    name[249] = 'c';
    name[250] = '\0';
    ipcv_expect_fail(EINVAL, memfd_create(name, MFD_CLOEXEC));
    ipcv_expect_fail(EINVAL, memfd_create("case-flags", 0x100));
    ipcv_expect_fail(EINVAL, memfd_create("case-flags", MFD_CLOEXEC | 0x80));
    ipcv_expect_fail(EINVAL, memfd_create("case-flags", MFD_HUGE_2MB));
}

/* Free default-size huge pages, from /proc/meminfo. */
static long free_huge_pages(void)
{
    FILE *f = fopen("/proc/meminfo", "re");
    long n = -1;
    char line[128];
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "HugePages_Free: %ld", &n) == 1)
            break;
    if (f)
        fclose(f);
    return n;
}

static int hugetlb_memfd(const char *tag, unsigned flags)
{
    char name[64];
    snprintf(name, sizeof name, "case-%s", tag);
    int fd = memfd_create(name, MFD_CLOEXEC | MFD_HUGETLB | flags);
    if (fd < 0 && (errno == EINVAL || errno == ENOENT || errno == ENOSYS || errno == EOPNOTSUPP))
        ipcv_skip("no MFD_HUGETLB here: %s", ipcv_errname(errno));
    return fd;
}

/* memfd_create(2) MFD_HUGETLB: the file lives in hugetlbfs, which has no
 * write(2) (EINVAL), sizes in whole huge pages, and mappings that need
 * free huge pages (ENOMEM otherwise); a hugetlb mapping cannot be partly
 * unmapped (munmap(2) EINVAL). Partial munmap is checked only when a huge
 * page is free. */
IPCV_CASE(mmap_file, memfd_hugetlb_refuses_write_and_overallocation,
          .tags = "api limit", .covers = "B208",
          .spec = "memfd_create(2) MFD_HUGETLB; hugetlbfs",
          .desc = "a MFD_HUGETLB memfd: write fails with EINVAL, ftruncate to 4096 fails with EINVAL and to 2 MiB works, mapping more huge pages than are free fails with ENOMEM")
{
    int fd = hugetlb_memfd("huge", 0);
    if (fd < 0)
        ipcv_brk(__FILE__, __LINE__, "memfd_create(MFD_HUGETLB): %s", ipcv_errname(errno));
    ipcv_expect_fail(EINVAL, write(fd, "x", 1));
    ipcv_expect_fail(EINVAL, ftruncate(fd, PG));
    long free_pages = free_huge_pages();
    if (free_pages < 0)
        ipcv_brk(__FILE__, __LINE__, "no HugePages_Free in /proc/meminfo");
    size_t over = (size_t)(free_pages + 1) * HUGE_2M;
    ipcv_expect_ok(ftruncate(fd, (off_t)over));
    ipcv_expect_fail(ENOMEM, mmap(NULL, over, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
    if (free_pages >= 1) {
        char *p = mmap(NULL, HUGE_2M, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (p != MAP_FAILED) {
            ipcv_expect_fail(EINVAL, munmap(p, PG));
            munmap(p, HUGE_2M);
        }
    }
    close(fd);
}

/* memfd_create(2) MFD_HUGE_*: "used in conjunction with MFD_HUGETLB to
 * select alternative hugetlb page sizes"; a size the system does not
 * support fails with ENODEV (mm/hugetlb.c). A size is supported exactly
 * when /sys/kernel/mm/hugepages/hugepages-<N>kB exists. */
IPCV_CASE(mmap_file, memfd_huge_sizes_succeed_or_fail_enodev,
          .tags = "api", .covers = "B209",
          .spec = "memfd_create(2) MFD_HUGE_*",
          .desc = "for each MFD_HUGE_* size from 64 KiB to 16 GiB, memfd_create(MFD_HUGETLB|size) succeeds when sysfs lists that size and fails with ENODEV otherwise")
{
    static const unsigned shifts[] = { 16, 19, 20, 21, 23, 24, 25, 28, 29, 30, 31, 34 };
    int fd = hugetlb_memfd("huge-default", 0);
    if (fd >= 0)
        close(fd);
    for (size_t i = 0; i < sizeof shifts / sizeof shifts[0]; i++) {
        char sys[96];
        snprintf(sys, sizeof sys, "/sys/kernel/mm/hugepages/hugepages-%lukB",
                 (1ul << shifts[i]) / 1024);
        int supported = access(sys, F_OK) == 0;
        errno = 0;
        fd = memfd_create("case-huge-size", MFD_CLOEXEC | MFD_HUGETLB | (shifts[i] << MFD_HUGE_SHIFT));
        int err = fd < 0 ? errno : 0;
        if (fd >= 0)
            close(fd);
        if (supported ? err != 0 : err != ENODEV)
            ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "2^%u-byte pages (%s): expected %s, seen %s",
                        shifts[i], supported ? "listed" : "not listed",
                        supported ? "success" : "ENODEV", err ? ipcv_errname(err) : "success");
    }
}
