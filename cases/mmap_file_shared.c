/* Shared and private file mappings between processes: coherence, the page
 * that holds end-of-file, SIGBUS past it, and a full tmpfs. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ipcvet.h"

#define PG 4096

static int case_file(const char *tag, unsigned pages)
{
    char file[64];
    snprintf(file, sizeof file, "mf-%s", tag);
    int fd = SAFE(open(ipcv_path(file, 0), O_CREAT | O_RDWR | O_TRUNC | O_CLOEXEC, 0600));
    char buf[PG];
    for (unsigned k = 0; k < pages; k++) {
        memset(buf, 'a' + k, sizeof buf);
        SAFE(pwrite(fd, buf, sizeof buf, (off_t)k * PG));
    }
    return fd;
}

static void no_core(void)
{
    struct rlimit rl = { 0, 0 };
    setrlimit(RLIMIT_CORE, &rl);
}

struct shared_report { uintptr_t coord_addr, unrelated_addr; unsigned pages_done; };
#define REPORT ((struct shared_report *)ipcv_self.page->scratch)

struct path_arg { char path[256]; };

static int write_through_inherited(struct ipcv_role *self, void *arg)
{
    (void)self; (void)arg;
    char *p = (char *)REPORT->coord_addr;      /* inherited across fork */
    ipcv_expect_eq('a', p[0]);
    memcpy(p, "forked", 6);
    return 0;
}

static int map_own_and_write(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct path_arg *a = arg;
    int fd = SAFE(open(a->path, O_RDWR | O_CLOEXEC));
    void *hint = (void *)(REPORT->coord_addr + ((uintptr_t)1 << 30));
    char *p = SAFE(mmap(hint, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
    close(fd);
    REPORT->unrelated_addr = (uintptr_t)p;
    ipcv_expect_mem("forked", p, 6);
    memcpy(p + 64, "unrelated", 9);
    munmap(p, PG);
    return 0;
}

/* POSIX.1-2017 mmap(): MAP_SHARED "Write references shall change the
 * underlying object"; every process mapping the object, by inheritance or
 * on its own at another address, sees the change. */
IPCV_CASE(mmap_file, shared_writes_are_seen_by_forked_and_unrelated_processes,
          .tags = "multi", .covers = "B413",
          .spec = "POSIX.1-2017 mmap() MAP_SHARED",
          .desc = "a child writing through the inherited MAP_SHARED mapping, and a process that maps the file itself at another address, each see the other's bytes and so does the parent")
{
    int fd = case_file("coherent", 1);
    char *p = SAFE(mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
    REPORT->coord_addr = (uintptr_t)p;
    struct path_arg a;
    snprintf(a.path, sizeof a.path, "%s", ipcv_path("mf-coherent", 0));
    struct ipcv_role *forked = ipcv_spawn("forked", write_through_inherited, NULL);
    ipcv_join(forked, IPCV_EXITED(0));
    ipcv_expect_mem("forked", p, 6);
    struct ipcv_role *unrelated = ipcv_spawn("unrelated", map_own_and_write, &a);
    ipcv_join(unrelated, IPCV_EXITED(0));
    ipcv_expect_mem("unrelated", p + 64, 9);
    ipcv_expect_ne(REPORT->coord_addr, REPORT->unrelated_addr);
    char buf[9] = "";
    SAFE(pread(fd, buf, 9, 64));
    ipcv_expect_mem("unrelated", buf, 9);
    munmap(p, PG);
    close(fd);
}

static int check_shared_view(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct path_arg *a = arg;
    int fd = SAFE(open(a->path, O_RDONLY | O_CLOEXEC));
    char *p = SAFE(mmap(NULL, PG, PROT_READ, MAP_SHARED, fd, 0));
    close(fd);
    ipcv_expect_eq('a', p[0]);
    ipcv_expect_eq('a', p[PG - 1]);
    munmap(p, PG);
    return 0;
}

/* POSIX.1-2017 mmap(): MAP_PRIVATE "Changes to the mapped data by the
 * calling process shall be visible only to the calling process and shall
 * not change the underlying object"; munmap(): "If a mapping removed was a
 * MAP_PRIVATE mapping, any modifications made in this address range shall
 * be discarded." */
IPCV_CASE(mmap_file, private_writes_stay_private_and_are_discarded,
          .tags = "multi", .covers = "B413 B430",
          .spec = "POSIX.1-2017 mmap() MAP_PRIVATE, munmap()",
          .desc = "writes through a MAP_PRIVATE mapping reach neither the file nor another process's shared mapping, and a new mapping after munmap shows the file again")
{
    int fd = case_file("private", 1);
    char *p = SAFE(mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0));
    memset(p, 'q', PG);
    char c = 0;
    SAFE(pread(fd, &c, 1, 100));
    ipcv_expect_eq('a', c);
    struct path_arg a;
    snprintf(a.path, sizeof a.path, "%s", ipcv_path("mf-private", 0));
    struct ipcv_role *r = ipcv_spawn("viewer", check_shared_view, &a);
    ipcv_join(r, IPCV_EXITED(0));
    ipcv_expect_eq('q', p[100]);
    SAFE(munmap(p, PG));
    p = SAFE(mmap(NULL, PG, PROT_READ, MAP_PRIVATE, fd, 0));
    ipcv_expect_eq('a', p[100]);
    munmap(p, PG);
    close(fd);
}

/* mmap(2): MAP_SHARED "Updates to the mapping are visible to other
 * processes mapping the same region, and ... are carried through to the
 * underlying file"; Linux keeps one page cache, so read(2) and write(2)
 * see the mapping and the mapping sees them with no msync. */
IPCV_CASE(mmap_file, shared_mapping_is_coherent_with_read_and_write,
          .tags = "api", .covers = "B644",
          .spec = "mmap(2) MAP_SHARED",
          .desc = "bytes stored through a MAP_SHARED mapping are returned by pread at once, and bytes written with pwrite appear in the mapping at once")
{
    int fd = case_file("rw", 2);
    char *p = SAFE(mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
    memcpy(p + PG + 10, "via-mapping", 11);
    char buf[11] = "";
    SAFE(pread(fd, buf, 11, PG + 10));
    ipcv_expect_mem("via-mapping", buf, 11);
    SAFE(pwrite(fd, "via-pwrite", 10, 20));
    ipcv_expect_mem("via-pwrite", p + 20, 10);
    munmap(p, 2 * PG);
    close(fd);
}

#define EOF_SIZE (PG + 100)

static int read_eof_page(struct ipcv_role *self, void *arg)
{
    (void)self; (void)arg;
    no_core();
    char *p = (char *)REPORT->coord_addr;       /* inherited: 3 pages */
    int bad = 0;
    for (int i = PG; i < EOF_SIZE; i++)
        bad += p[i] != 'b';
    for (int i = EOF_SIZE; i < 2 * PG; i++)
        bad += p[i] != 0;
    ipcv_expect_eq(0, bad);
    p[PG + 1000] = 'x';                        /* past EOF, inside the page */
    return 0;
}

static int touch_page_after_eof_page(struct ipcv_role *self, void *arg)
{
    (void)self; (void)arg;
    no_core();
    volatile char *p = (char *)REPORT->coord_addr;
    (void)p[2 * PG];
    return 0;
}

/* POSIX.1-2017 mmap(): "The system shall always zero-fill any partial page
 * at the end of an object. ... modifications to any partial page ... beyond
 * the end of the object ... shall not be written out", and "References
 * within the address range starting at pa and continuing for len bytes to
 * whole pages following the end of an object shall result in delivery of a
 * SIGBUS signal." */
IPCV_CASE(mmap_file, page_containing_eof_is_zero_filled_and_the_next_raises_sigbus,
          .tags = "multi", .covers = "B416 B646",
          .spec = "POSIX.1-2017 mmap()",
          .desc = "for a 4196-byte file mapped 3 pages: a child reads the 100 bytes and zeros after them in page 2 and may write there without reaching the file; a mapping at offset 4096 shows the same; touching page 3 is SIGBUS")
{
    int fd = case_file("eof", 2);
    SAFE(ftruncate(fd, EOF_SIZE));
    char *p = SAFE(mmap(NULL, 3 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
    REPORT->coord_addr = (uintptr_t)p;
    struct ipcv_role *reader = ipcv_spawn("reader", read_eof_page, NULL);
    ipcv_join(reader, IPCV_EXITED(0));
    struct stat st;
    SAFE(fstat(fd, &st));
    ipcv_expect_eq(EOF_SIZE, st.st_size);
    char c;
    ipcv_expect_eq(0, pread(fd, &c, 1, PG + 1000));
    char *tail = SAFE(mmap(NULL, PG, PROT_READ, MAP_SHARED, fd, PG));
    ipcv_expect_eq('b', tail[99]);
    ipcv_expect_eq(0, tail[100]);
    munmap(tail, PG);
    struct ipcv_role *beyond = ipcv_spawn("beyond", touch_page_after_eof_page, NULL);
    ipcv_join(beyond, IPCV_KILLED(SIGBUS));
    munmap(p, 3 * PG);
    close(fd);
}

struct truncate_arg { char path[256]; int write; };

static int map_then_touch_after_truncate(struct ipcv_role *self, void *arg)
{
    struct truncate_arg *a = arg;
    no_core();
    int fd = SAFE(open(a->path, O_RDWR | O_CLOEXEC));
    volatile char *p = SAFE(mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
    close(fd);
    ipcv_expect_eq('a', p[0]);
    ipcv_expect_eq('b', p[PG]);
    ipcv_ready(self);
    ipcv_await_release(self);       /* the peer truncated the file to one page */
    ipcv_expect_eq('a', p[0]);
    if (a->write)
        p[PG + 8] = 'w';
    else
        (void)p[PG + 8];
    return 0;
}

/* mmap(2) SIGBUS: "Attempted access to a page of the buffer that lies
 * beyond the end of the mapped file", also when another process shrinks
 * the file under an existing mapping (gVisor mmap.cc SigBusDeath,
 * *TruncateSIGBUS). */
IPCV_CASE(mmap_file, access_beyond_eof_after_peer_truncates_raises_sigbus,
          .tags = "multi", .covers = "B645",
          .spec = "mmap(2) SIGBUS; POSIX.1-2017 mmap()",
          .desc = "two processes map a 2-page file and touch both pages; after the coordinator truncates it to one page, the reader and the writer of page 2 both die by SIGBUS while page 1 stays readable")
{
    struct truncate_arg a[2];
    int fd = case_file("truncate", 2);
    for (int i = 0; i < 2; i++) {
        snprintf(a[i].path, sizeof a[i].path, "%s", ipcv_path("mf-truncate", 0));
        a[i].write = i;
    }
    struct ipcv_role *r[2] = {
        ipcv_spawn("reader", map_then_touch_after_truncate, &a[0]),
        ipcv_spawn("writer", map_then_touch_after_truncate, &a[1]),
    };
    ipcv_wait_ready(r[0]);
    ipcv_wait_ready(r[1]);
    SAFE(ftruncate(fd, PG));
    for (int i = 0; i < 2; i++) {
        ipcv_release(r[i]);
        ipcv_join(r[i], IPCV_KILLED(SIGBUS));
    }
    close(fd);
}

static int check_truncated_tail(struct ipcv_role *self, void *arg)
{
    (void)self; (void)arg;
    no_core();
    char *p = (char *)REPORT->coord_addr;
    int bad = 0;
    for (int i = 0; i < 100; i++)
        bad += p[i] != 'z';
    for (int i = 100; i < PG; i++)
        bad += p[i] != 0;
    ipcv_expect_eq(0, bad);
    return 0;
}

/* POSIX.1-2017 ftruncate(): "If the file size is decreased, the extra data
 * shall be discarded" and mmap(): the partial page at the end is
 * zero-filled — so a file shrunk to the middle of a mapped page keeps that
 * page accessible, with zeros after the new end (gVisor mmap.cc
 * *TruncatePartialPage, NoSigBusOnPageContainingEOF). */
IPCV_CASE(mmap_file, truncate_to_mid_page_zeroes_the_tail_of_that_page,
          .tags = "multi", .covers = "B646",
          .spec = "POSIX.1-2017 ftruncate(), mmap()",
          .desc = "a mapped page full of 'z' truncated to 100 bytes still reads in a child without SIGBUS: 100 'z' then zeros; grown back, the tail is still zero")
{
    int fd = case_file("midpage", 1);
    char *p = SAFE(mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
    memset(p, 'z', PG);
    REPORT->coord_addr = (uintptr_t)p;
    SAFE(ftruncate(fd, 100));
    struct ipcv_role *r = ipcv_spawn("reader", check_truncated_tail, NULL);
    ipcv_join(r, IPCV_EXITED(0));
    SAFE(ftruncate(fd, PG));
    char buf[16] = "", zero[16] = { 0 };
    SAFE(pread(fd, buf, sizeof buf, 200));
    ipcv_expect_mem(zero, buf, sizeof buf);
    munmap(p, PG);
    close(fd);
}

#define TINY_KB 64

/* A tmpfs of TINY_KB KiB on a directory of the case's own tmpfs. */
static const char *mount_tiny_tmpfs(void)
{
    const char *dir = ipcv_path("tiny", 0);
    SAFE(mkdir(dir, 0700));
    char opts[32];
    snprintf(opts, sizeof opts, "size=%dk", TINY_KB);
    if (mount("ipcv-tiny", dir, "tmpfs", MS_NOSUID | MS_NODEV, opts) < 0) {
        int err = errno;
        rmdir(dir);
        ipcv_skip("cannot mount a %d KiB tmpfs: %s", TINY_KB, ipcv_errname(err));
    }
    return dir;
}

static void unmount_tiny_tmpfs(const char *dir)
{
    umount2(dir, MNT_DETACH);
    rmdir(dir);
}

static int fill_by_write_faults(struct ipcv_role *self, void *arg)
{
    (void)self;
    int fd = *(int *)arg;
    no_core();
    volatile char *p = SAFE(mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
    for (unsigned i = 0; i < (1u << 20) / PG; i++) {
        p[(size_t)i * PG] = 'f';
        REPORT->pages_done = i + 1;
    }
    return 0;
}

/* mmap(2) SIGBUS; tmpfs(5) size=: a write fault that needs a page the
 * filesystem cannot give is a SIGBUS, not a silent loss. The full
 * filesystem is a 64 KiB tmpfs mounted by the case in its own mount
 * namespace (the /dev/shm of the sandbox cannot be remounted). */
IPCV_CASE(mmap_file, write_fault_on_full_tmpfs_raises_sigbus,
          .tags = "limit multi",
          .spec = "mmap(2) SIGBUS; tmpfs(5) size",
          .desc = "on a 64 KiB tmpfs a sparse 1 MiB file mapped MAP_SHARED takes exactly 16 page writes; the 17th write fault kills the writer with SIGBUS")
{
    const char *dir = mount_tiny_tmpfs();
    char path[300];
    snprintf(path, sizeof path, "%s/sparse", dir);
    int fd = SAFE(open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0600));
    SAFE(ftruncate(fd, 1 << 20));      /* sparse: takes no blocks yet */
    struct ipcv_role *r = ipcv_spawn("writer", fill_by_write_faults, &fd);
    ipcv_join(r, IPCV_KILLED(SIGBUS));
    ipcv_expect_eq(TINY_KB * 1024 / PG, REPORT->pages_done);
    close(fd);
    unlink(path);
    unmount_tiny_tmpfs(dir);
}

/* write(2), fallocate(2) ENOSPC; tmpfs(5) size=: a full tmpfs refuses more
 * data; ftruncate of a sparse size still succeeds (it takes no blocks). */
IPCV_CASE(mmap_file, write_and_fallocate_on_full_tmpfs_fail_enospc,
          .tags = "limit",
          .spec = "write(2), fallocate(2) ENOSPC; tmpfs(5) size",
          .desc = "on a 64 KiB tmpfs, writing 128 KiB stops after 64 KiB with ENOSPC, fallocate of 128 KiB fails with ENOSPC and ftruncate to 1 MiB works")
{
    const char *dir = mount_tiny_tmpfs();
    char path[300], other[300];
    snprintf(path, sizeof path, "%s/full", dir);
    snprintf(other, sizeof other, "%s/alloc", dir);
    int fd = SAFE(open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0600));
    char buf[PG];
    memset(buf, 'w', sizeof buf);
    size_t written = 0;
    int err = 0;
    for (int i = 0; i < 2 * TINY_KB * 1024 / PG; i++) {
        ssize_t n = write(fd, buf, sizeof buf);
        if (n < 0) {
            err = errno;
            break;
        }
        written += (size_t)n;
    }
    ipcv_expect_eq(ENOSPC, err);
    ipcv_expect_eq(TINY_KB * 1024, written);
    SAFE(ftruncate(fd, 0));
    int fd2 = SAFE(open(other, O_CREAT | O_RDWR | O_CLOEXEC, 0600));
    ipcv_expect_fail(ENOSPC, fallocate(fd2, 0, 0, 2 * TINY_KB * 1024));
    ipcv_expect_ok(ftruncate(fd2, 1 << 20));
    close(fd2);
    close(fd);
    unlink(other);
    unlink(path);
    unmount_tiny_tmpfs(dir);
}
