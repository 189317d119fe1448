/* Pipes in one process: pipe and pipe2, the two ends, O_NONBLOCK,
 * O_DIRECT packets, F_SETPIPE_SZ, FIONREAD, seeking, EOF and EPIPE. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <linux/limits.h>   /* PIPE_BUF: harness/limits.h hides the libc one */
#include <linux/capability.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "ipcvet.h"

/* The kernel's O_LARGEFILE (x86_64 glibc defines O_LARGEFILE as 0). */
#define KERNEL_O_LARGEFILE 0100000

static void make_pipe(int fd[2], int flags)
{
    SAFE(pipe2(fd, flags));
}

static void close_pipe(int fd[2])
{
    if (fd[0] >= 0)
        close(fd[0]);
    if (fd[1] >= 0)
        close(fd[1]);
    fd[0] = fd[1] = -1;
}

static void pattern(unsigned char *p, size_t len, unsigned seed)
{
    for (size_t i = 0; i < len; i++)
        p[i] = (unsigned char)((i * 131 + seed * 7 + (i >> 8)) & 0xff);
}

/* Fill a non-blocking pipe to the brim; returns how many bytes went in. */
static size_t fill(int wfd)
{
    static unsigned char junk[65536];
    size_t total = 0;
    for (;;) {
        ssize_t n = write(wfd, junk, sizeof junk);
        if (n > 0) {
            total += (size_t)n;
            continue;
        }
        if (n == 0 || (n == -1 && errno == EAGAIN))
            break;   /* full (0 is wrong, and the case's own checks say so) */
        ipcv_brk(__FILE__, __LINE__, "filling the pipe: write returned %zd (%s)", n, ipcv_errname(errno));
    }
    /* A page may have room left for fewer bytes than asked: top it up. */
    for (size_t chunk = 4096; chunk >= 1; chunk /= 2)
        for (ssize_t n; (n = write(wfd, junk, chunk)) > 0;)
            total += (size_t)n;
    return total;
}

/* pipe(2): "Data written to the write end of the pipe is buffered by the
 * kernel until it is read from the read end." */
IPCV_CASE(pipe, write_then_read_returns_the_same_bytes,
          .tags = "api", .covers = "B167", .spec = "pipe(2)",
          .desc = "three writes of 1, 100 and 4000 bytes are read back in one stream, byte for byte, in order")
{
    int fd[2];
    make_pipe(fd, 0);
    static unsigned char out[4101], in[4101];
    pattern(out, sizeof out, 1);
    ipcv_expect_eq(1, write(fd[1], out, 1));
    ipcv_expect_eq(100, write(fd[1], out + 1, 100));
    ipcv_expect_eq(4000, write(fd[1], out + 101, 4000));
    size_t got = 0;
    while (got < sizeof in) {
        ssize_t n = read(fd[0], in + got, sizeof in - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    ipcv_expect_eq(sizeof in, got);
    ipcv_expect_mem(out, in, sizeof in);
    close_pipe(fd);
}

/* pipe(7): a pipe is one object with two ends: both descriptors refer to
 * one FIFO inode. */
IPCV_CASE(pipe, both_ends_share_one_fifo_inode,
          .tags = "api", .covers = "B699", .spec = "pipe(7); fstat(2)",
          .desc = "fstat of the read end and of the write end give the same st_dev and st_ino, and S_ISFIFO")
{
    int fd[2];
    make_pipe(fd, 0);
    struct stat r, w;
    SAFE(fstat(fd[0], &r));
    SAFE(fstat(fd[1], &w));
    ipcv_expect_eq(r.st_ino, w.st_ino);
    ipcv_expect_eq(r.st_dev, w.st_dev);
    ipcv_expect_true(S_ISFIFO(r.st_mode) && S_ISFIFO(w.st_mode), "modes %o and %o are not FIFOs",
                     r.st_mode, w.st_mode);
    close_pipe(fd);
}

/* pipe(2): "pipefd[0] refers to the read end of the pipe. pipefd[1] refers
 * to the write end"; read(2)/write(2) EBADF: "fd is not ... open for
 * reading/writing". */
IPCV_CASE(pipe, wrong_end_fails_ebadf,
          .tags = "api", .covers = "B169 B700", .spec = "pipe(2); read(2), write(2) EBADF",
          .desc = "write to the read end and read from the write end fail with EBADF, on an empty and on a non-empty pipe")
{
    int fd[2];
    make_pipe(fd, 0);
    char c = 'x';
    ipcv_expect_fail(EBADF, write(fd[0], &c, 1));
    ipcv_expect_fail(EBADF, read(fd[1], &c, 1));
    SAFE(write(fd[1], &c, 1));
    ipcv_expect_fail(EBADF, write(fd[0], &c, 1));
    ipcv_expect_fail(EBADF, read(fd[1], &c, 1));
    close_pipe(fd);
}

/* pipe(2)/open(2): the ends are opened O_RDONLY and O_WRONLY; a FIFO opened
 * by path also carries the kernel's O_LARGEFILE on 64-bit Linux. */
IPCV_CASE(pipe, ends_are_read_only_and_write_only,
          .tags = "api", .covers = "B701", .spec = "pipe(2); fcntl(2) F_GETFL",
          .desc = "F_GETFL gives exactly O_RDONLY for the read end and O_WRONLY for the write end; a FIFO opened O_RDONLY|O_NONBLOCK reports O_RDONLY, O_NONBLOCK and O_LARGEFILE")
{
    int fd[2];
    make_pipe(fd, 0);
    ipcv_expect_eq(O_RDONLY, fcntl(fd[0], F_GETFL));
    ipcv_expect_eq(O_WRONLY, fcntl(fd[1], F_GETFL));
    close_pipe(fd);

    const char *path = ipcv_path("fifo", 0);
    SAFE(mkfifo(path, 0600));
    int r = SAFE(open(path, O_RDONLY | O_NONBLOCK));
    int fl = fcntl(r, F_GETFL);
    ipcv_expect_eq(O_RDONLY, fl & O_ACCMODE);
    ipcv_expect_bits(O_NONBLOCK | KERNEL_O_LARGEFILE, fl);
    close(r);
    SAFE(unlink(path));
}

/* pipe2(2): O_CLOEXEC sets FD_CLOEXEC on both descriptors; O_NONBLOCK sets
 * that status flag on both open file descriptions, O_DIRECT on the write
 * end (LTP pipe2_01). */
IPCV_CASE(pipe, pipe2_flags_show_in_fcntl,
          .tags = "api", .covers = "B182 B703", .spec = "pipe2(2)",
          .desc = "for flags 0, O_CLOEXEC, O_NONBLOCK, O_DIRECT and all three, F_GETFD of both ends shows FD_CLOEXEC as asked, F_GETFL shows O_NONBLOCK on both and O_DIRECT on the write end, nothing else")
{
    static const struct { const char *what; int flags; } tcases[] = {
        { "0", 0 }, { "O_CLOEXEC", O_CLOEXEC }, { "O_NONBLOCK", O_NONBLOCK },
        { "O_DIRECT", O_DIRECT }, { "all", O_CLOEXEC | O_NONBLOCK | O_DIRECT },
    };
    for (size_t i = 0; i < sizeof tcases / sizeof tcases[0]; i++) {
        int fd[2];
        make_pipe(fd, tcases[i].flags);
        for (int e = 0; e < 2; e++) {
            int fdfl = fcntl(fd[e], F_GETFD), fl = fcntl(fd[e], F_GETFL);
            ipcv_expect_true(!!(fdfl & FD_CLOEXEC) == !!(tcases[i].flags & O_CLOEXEC),
                             "pipe2(%s) end %d: F_GETFD %#x", tcases[i].what, e, fdfl);
            /* Linux marks only the write end O_DIRECT: packets are made by writes. */
            int want = e ? O_WRONLY | (tcases[i].flags & (O_NONBLOCK | O_DIRECT))
                         : O_RDONLY | (tcases[i].flags & O_NONBLOCK);
            ipcv_expect_true(fl == want, "pipe2(%s) end %d: F_GETFL %#x, expected %#x",
                             tcases[i].what, e, fl, want);
        }
        close_pipe(fd);
    }
}

/* pipe2(2) EINVAL: "Invalid value in flags." */
IPCV_CASE(pipe, pipe2_with_unknown_flags_fails_einval,
          .tags = "api", .covers = "B703", .spec = "pipe2(2) EINVAL",
          .desc = "pipe2 with O_APPEND, O_TRUNC, O_SYNC, O_RDWR or O_NOCTTY fails with EINVAL and opens nothing")
{
    static const struct { const char *what; int flags; } tcases[] = {
        { "O_APPEND", O_APPEND }, { "O_TRUNC", O_TRUNC }, { "O_SYNC", O_SYNC },
        { "O_RDWR", O_RDWR }, { "O_NOCTTY", O_NOCTTY }, { "O_CLOEXEC|O_APPEND", O_CLOEXEC | O_APPEND },
    };
    int probe = SAFE(dup(0));
    close(probe);
    for (size_t i = 0; i < sizeof tcases / sizeof tcases[0]; i++) {
        int fd[2] = { -1, -1 };
        errno = 0;
        int rc = pipe2(fd, tcases[i].flags);
        ipcv_expect_true(rc == -1 && errno == EINVAL, "pipe2(%s): expected EINVAL, seen %s",
                         tcases[i].what, rc == -1 ? ipcv_errname(errno) : "success");
        if (rc == 0)
            close_pipe(fd);
    }
    int after = SAFE(dup(0));   /* the lowest free descriptor did not move */
    ipcv_expect_eq(probe, after);
    close(after);
}

/* pipe(7): "If a process attempts to read from an empty pipe, then read(2)
 * will block until data is available ... [with O_NONBLOCK] read(2) fails
 * with the error EAGAIN". */
IPCV_CASE(pipe, nonblocking_read_of_an_empty_pipe_fails_eagain,
          .tags = "api", .covers = "B702", .spec = "pipe(7) I/O on pipes and FIFOs",
          .desc = "read from an empty O_NONBLOCK pipe with a writer fails EAGAIN; after one byte is written it returns that byte, and then EAGAIN again")
{
    int fd[2];
    make_pipe(fd, O_NONBLOCK);
    char c = 0;
    ipcv_expect_fail(EAGAIN, read(fd[0], &c, 1));
    SAFE(write(fd[1], "z", 1));
    ipcv_expect_eq(1, read(fd[0], &c, 1));
    ipcv_expect_eq('z', c);
    ipcv_expect_fail(EAGAIN, read(fd[0], &c, 1));
    close_pipe(fd);
}

/* pipe(7): "If a process attempts to write to a full pipe ... [with
 * O_NONBLOCK] write(2) fails with the error EAGAIN"; the flag stays in
 * force (LTP pipe2_04). */
IPCV_CASE(pipe, nonblocking_write_to_a_full_pipe_fails_eagain,
          .tags = "api", .covers = "B184", .spec = "pipe(7) I/O on pipes and FIFOs",
          .desc = "three times over: a pipe2(O_NONBLOCK) pipe filled to its capacity refuses a 1-byte write with EAGAIN; after draining it takes the same amount again")
{
    int fd[2];
    make_pipe(fd, O_NONBLOCK);
    size_t cap = (size_t)SAFE(fcntl(fd[1], F_GETPIPE_SZ));
    static char buf[65536];
    for (int round = 0; round < 3; round++) {
        ipcv_expect_eq(cap, fill(fd[1]));
        ipcv_expect_fail(EAGAIN, write(fd[1], "x", 1));
        size_t drained = 0;
        for (ssize_t n; (n = read(fd[0], buf, sizeof buf)) > 0;)
            drained += (size_t)n;
        ipcv_expect_eq(cap, drained);
    }
    close_pipe(fd);
}

/* pipe(7) "Pipe capacity": 16 pages since Linux 2.6.11, what F_GETPIPE_SZ
 * reports; F_SETPIPE_SZ changes it. */
IPCV_CASE(pipe, capacity_is_what_f_getpipe_sz_reports,
          .tags = "api limit", .covers = "B178", .spec = "pipe(7) Pipe capacity; fcntl(2) F_GETPIPE_SZ",
          .desc = "a new pipe holds exactly 65536 bytes (F_GETPIPE_SZ) before a non-blocking write fails EAGAIN; after F_SETPIPE_SZ 8192 it holds exactly 8192")
{
    int fd[2];
    make_pipe(fd, O_NONBLOCK);
    ipcv_expect_eq(65536, fcntl(fd[1], F_GETPIPE_SZ));
    ipcv_expect_eq(65536, fill(fd[1]));
    close_pipe(fd);
    make_pipe(fd, O_NONBLOCK);
    ipcv_expect_eq(8192, fcntl(fd[1], F_SETPIPE_SZ, 8192));
    ipcv_expect_eq(8192, fcntl(fd[0], F_GETPIPE_SZ));
    ipcv_expect_eq(8192, fill(fd[1]));
    close_pipe(fd);
}

/* lseek(2) ESPIPE: "fd is associated with a pipe, socket, or FIFO";
 * pread(2)/pwrite(2) and preadv/pwritev likewise. */
IPCV_CASE(pipe, seek_and_positional_io_fail_espipe,
          .tags = "api", .covers = "B705", .spec = "lseek(2), pread(2), preadv(2) ESPIPE",
          .desc = "lseek, pread, pwrite, preadv and pwritev on pipe ends fail with ESPIPE and move no data")
{
    int fd[2];
    make_pipe(fd, O_NONBLOCK);
    char buf[8] = "abcdefg";
    struct iovec iov = { buf, 4 };
    SAFE(write(fd[1], "12345678", 8));
    ipcv_expect_fail(ESPIPE, lseek(fd[0], 0, SEEK_SET));
    ipcv_expect_fail(ESPIPE, lseek(fd[1], 0, SEEK_CUR));
    ipcv_expect_fail(ESPIPE, pread(fd[0], buf, 4, 0));
    ipcv_expect_fail(ESPIPE, pwrite(fd[1], buf, 4, 0));
    ipcv_expect_fail(ESPIPE, preadv(fd[0], &iov, 1, 0));
    ipcv_expect_fail(ESPIPE, pwritev(fd[1], &iov, 1, 0));
    int avail = -1;
    SAFE(ioctl(fd[0], FIONREAD, &avail));
    ipcv_expect_eq(8, avail);
    close_pipe(fd);
}

/* close(2) EBADF: "fd isn't a valid open file descriptor". */
IPCV_CASE(pipe, closing_an_end_twice_fails_ebadf,
          .tags = "api cleanup", .covers = "B710", .spec = "close(2) EBADF",
          .desc = "closing each pipe end succeeds once and fails with EBADF the second time")
{
    int fd[2];
    make_pipe(fd, 0);
    ipcv_expect_ok(close(fd[0]));
    ipcv_expect_ok(close(fd[1]));
    ipcv_expect_fail(EBADF, close(fd[0]));
    ipcv_expect_fail(EBADF, close(fd[1]));
}

/* ioctl_fionread / pipe(7): FIONREAD gives the number of unread bytes; on
 * Linux both ends answer. */
IPCV_CASE(pipe, fionread_counts_the_unread_bytes_on_both_ends,
          .tags = "api", .covers = "B711", .spec = "pipe(7) FIONREAD",
          .desc = "FIONREAD on the read end and on the write end gives 0, then 123 after a 123-byte write, then 100 after reading 23")
{
    int fd[2];
    make_pipe(fd, 0);
    int n0 = -1, n1 = -1;
    SAFE(ioctl(fd[0], FIONREAD, &n0));
    SAFE(ioctl(fd[1], FIONREAD, &n1));
    ipcv_expect_eq(0, n0);
    ipcv_expect_eq(0, n1);
    static char buf[123];
    SAFE(write(fd[1], buf, sizeof buf));
    SAFE(ioctl(fd[0], FIONREAD, &n0));
    SAFE(ioctl(fd[1], FIONREAD, &n1));
    ipcv_expect_eq(123, n0);
    ipcv_expect_eq(123, n1);
    SAFE(read(fd[0], buf, 23));
    SAFE(ioctl(fd[0], FIONREAD, &n0));
    ipcv_expect_eq(100, n0);
    close_pipe(fd);
}

/* read(2)/write(2) with count 0 on a pipe return 0 and do nothing. */
IPCV_CASE(pipe, zero_length_read_and_write_return_0,
          .tags = "api", .covers = "B716", .spec = "read(2), write(2)",
          .desc = "write of 0 bytes returns 0 and queues nothing; read of 0 bytes returns 0 on an empty and on a non-empty pipe without consuming")
{
    int fd[2];
    make_pipe(fd, O_NONBLOCK);
    char c = 'q';
    ipcv_expect_eq(0, write(fd[1], &c, 0));
    int avail = -1;
    SAFE(ioctl(fd[0], FIONREAD, &avail));
    ipcv_expect_eq(0, avail);
    ipcv_expect_eq(0, read(fd[0], &c, 0));
    SAFE(write(fd[1], "w", 1));
    ipcv_expect_eq(0, read(fd[0], &c, 0));
    ipcv_expect_eq(1, read(fd[0], &c, 1));
    ipcv_expect_eq('w', c);
    close_pipe(fd);
}

/* fcntl(2) F_SETPIPE_SZ: "the kernel may use a capacity larger than arg";
 * Linux rounds up to a power-of-two number of pages, at least one page,
 * and returns the size used. */
IPCV_CASE(pipe, setpipe_sz_rounds_up_and_grows,
          .tags = "api", .covers = "B712", .spec = "fcntl(2) F_SETPIPE_SZ",
          .desc = "F_SETPIPE_SZ 0 gives one page, 5000 gives 8192, 65537 gives 131072 and pipe-max-size gives itself; F_GETPIPE_SZ agrees each time")
{
    int fd[2];
    make_pipe(fd, 0);
    long page = sysconf(_SC_PAGESIZE);
    FILE *f = SAFE_PTR(fopen("/proc/sys/fs/pipe-max-size", "re"));
    long max = 0;
    if (fscanf(f, "%ld", &max) != 1)
        max = 0;
    fclose(f);
    struct { long ask, want; } tcases[] = {
        { 0, page }, { 5000, 8192 }, { 65537, 131072 }, { max, max }, { 1, page },
    };
    for (size_t i = 0; i < sizeof tcases / sizeof tcases[0]; i++) {
        if (tcases[i].ask > max || (tcases[i].ask == max && (max & (max - 1))))
            continue;   /* pipe-max-size not a power of two: it would round past itself */
        ipcv_expect_eq(tcases[i].want, fcntl(fd[1], F_SETPIPE_SZ, (int)tcases[i].ask));
        ipcv_expect_eq(tcases[i].want, fcntl(fd[0], F_GETPIPE_SZ));
    }
    close_pipe(fd);
}

/* fcntl(2) F_SETPIPE_SZ: "Attempts to set the pipe capacity above the
 * limit defined by /proc/sys/fs/pipe-max-size fail with EPERM" without
 * CAP_SYS_RESOURCE; sizes past 2^31 cannot be rounded: EINVAL. */
IPCV_CASE(pipe, setpipe_sz_past_the_limits_fails,
          .tags = "api limit", .covers = "B713", .spec = "fcntl(2) F_SETPIPE_SZ EPERM, EINVAL; pipe(7) pipe-max-size",
          .desc = "F_SETPIPE_SZ of pipe-max-size+1 fails EPERM (no CAP_SYS_RESOURCE) and of 2^31+1 or -1 fails EINVAL; the capacity stays 65536")
{
    int fd[2];
    make_pipe(fd, 0);
    FILE *f = SAFE_PTR(fopen("/proc/sys/fs/pipe-max-size", "re"));
    long max = 0;
    if (fscanf(f, "%ld", &max) != 1)
        max = 0;
    fclose(f);
    if (!ipcv_has_cap(CAP_SYS_RESOURCE))
        ipcv_expect_fail(EPERM, fcntl(fd[1], F_SETPIPE_SZ, (int)(max + 1)));
    ipcv_expect_fail(EINVAL, fcntl(fd[1], F_SETPIPE_SZ, (int)(0x80000001u)));
    ipcv_expect_fail(EINVAL, fcntl(fd[1], F_SETPIPE_SZ, -1));
    ipcv_expect_eq(65536, fcntl(fd[1], F_GETPIPE_SZ));
    close_pipe(fd);
}

/* fcntl(2) F_SETPIPE_SZ EBUSY: "an attempt to decrease the pipe capacity
 * ... to a size that is less than the amount of data currently in the
 * pipe". */
IPCV_CASE(pipe, setpipe_sz_below_the_unread_bytes_fails_ebusy,
          .tags = "api", .covers = "B714", .spec = "fcntl(2) F_SETPIPE_SZ EBUSY",
          .desc = "with 20000 unread bytes, F_SETPIPE_SZ 4096 fails EBUSY and nothing is lost; F_SETPIPE_SZ 32768 succeeds")
{
    int fd[2];
    make_pipe(fd, O_NONBLOCK);
    static unsigned char out[20000], in[20000];
    pattern(out, sizeof out, 3);
    SAFE(write(fd[1], out, sizeof out));
    ipcv_expect_fail(EBUSY, fcntl(fd[1], F_SETPIPE_SZ, 4096));
    ipcv_expect_eq(65536, fcntl(fd[1], F_GETPIPE_SZ));
    ipcv_expect_eq(32768, fcntl(fd[1], F_SETPIPE_SZ, 32768));
    ipcv_expect_eq(sizeof in, read(fd[0], in, sizeof in));
    ipcv_expect_mem(out, in, sizeof in);
    close_pipe(fd);
}

/* pipe(7): "If all file descriptors referring to the write end of a pipe
 * have been closed, then an attempt to read(2) from the pipe will see
 * end-of-file (read(2) will return 0)" -- after the data still in it. */
IPCV_CASE(pipe, read_after_the_writer_closes_returns_the_data_then_eof,
          .tags = "api", .covers = "B180 B706", .spec = "pipe(7) I/O on pipes and FIFOs",
          .desc = "after 10 bytes are written and the write end closed, reads return the 10 bytes, then 0, and 0 again")
{
    int fd[2];
    make_pipe(fd, 0);
    SAFE(write(fd[1], "0123456789", 10));
    close(fd[1]);
    fd[1] = -1;
    char buf[32];
    ipcv_expect_eq(4, read(fd[0], buf, 4));
    ipcv_expect_eq(6, read(fd[0], buf + 4, sizeof buf - 4));
    ipcv_expect_mem("0123456789", buf, 10);
    ipcv_expect_eq(0, read(fd[0], buf, sizeof buf));
    ipcv_expect_eq(0, read(fd[0], buf, sizeof buf));
    close_pipe(fd);
}

/* read(2) (POSIX.1-2017): "When attempting to read from an empty pipe or
 * FIFO: If no process has the pipe open for writing, read() shall return 0
 * to indicate end-of-file" -- O_NONBLOCK or not. */
IPCV_CASE(pipe, nonblocking_read_without_writers_returns_eof_not_eagain,
          .tags = "api", .spec = "POSIX.1-2017 read() (pipes and FIFOs)",
          .desc = "an empty O_NONBLOCK pipe whose write end is closed returns 0 from read, not EAGAIN")
{
    int fd[2];
    make_pipe(fd, O_NONBLOCK);
    close(fd[1]);
    fd[1] = -1;
    char c;
    ipcv_expect_eq(0, read(fd[0], &c, 1));
    close_pipe(fd);
}

static atomic_int sigpipes;

static void count_sigpipe(int sig)
{
    (void)sig;
    atomic_fetch_add(&sigpipes, 1);
}

/* pipe(7): "If all file descriptors referring to the read end of a pipe
 * have been closed, then a write(2) will cause a SIGPIPE signal to be
 * generated for the calling process. If the calling process is ignoring
 * this signal, then write(2) fails with the error EPIPE." */
IPCV_CASE(pipe, write_without_readers_raises_sigpipe_and_fails_epipe,
          .tags = "api", .covers = "B174 B707", .spec = "pipe(7); write(2) EPIPE",
          .desc = "with the read end closed, each write fails EPIPE and raises exactly one SIGPIPE when caught; when ignored, write still fails EPIPE")
{
    int fd[2];
    make_pipe(fd, 0);
    close(fd[0]);
    fd[0] = -1;
    struct sigaction sa = { .sa_handler = count_sigpipe }, old;
    sigemptyset(&sa.sa_mask);
    SAFE(sigaction(SIGPIPE, &sa, &old));
    atomic_store(&sigpipes, 0);
    ipcv_expect_fail(EPIPE, write(fd[1], "x", 1));
    ipcv_expect_eq(1, atomic_load(&sigpipes));
    ipcv_expect_fail(EPIPE, write(fd[1], "xy", 2));
    ipcv_expect_eq(2, atomic_load(&sigpipes));

    sa.sa_handler = SIG_IGN;
    SAFE(sigaction(SIGPIPE, &sa, NULL));
    ipcv_expect_fail(EPIPE, write(fd[1], "x", 1));
    ipcv_expect_eq(2, atomic_load(&sigpipes));
    SAFE(sigaction(SIGPIPE, &old, NULL));
    close_pipe(fd);
}

/* pipe2(2) O_DIRECT: "Each write(2) to the pipe is dealt with as a
 * separate packet, and read(2)s from the pipe will read one packet at a
 * time." */
IPCV_CASE(pipe, direct_pipe_reads_one_packet_per_write,
          .tags = "api", .covers = "B182", .spec = "pipe2(2) O_DIRECT",
          .desc = "in an O_DIRECT pipe, writes of 10, 20 and 30 bytes are read back by 100-byte reads as 10, 20 and 30 bytes")
{
    int fd[2];
    errno = 0;
    if (pipe2(fd, O_DIRECT) < 0) {
        if (errno == EINVAL)
            ipcv_skip("pipe2(O_DIRECT): EINVAL (kernel before 3.4)");
        SAFE(-1);
    }
    static unsigned char out[60], in[100];
    pattern(out, sizeof out, 5);
    SAFE(write(fd[1], out, 10));
    SAFE(write(fd[1], out + 10, 20));
    SAFE(write(fd[1], out + 30, 30));
    ipcv_expect_eq(10, read(fd[0], in, sizeof in));
    ipcv_expect_mem(out, in, 10);
    ipcv_expect_eq(20, read(fd[0], in, sizeof in));
    ipcv_expect_mem(out + 10, in, 20);
    ipcv_expect_eq(30, read(fd[0], in, sizeof in));
    ipcv_expect_mem(out + 30, in, 30);
    close_pipe(fd);
}

/* pipe2(2) O_DIRECT: "If a read(2) specifies a buffer size that is smaller
 * than the next packet, then the requested number of bytes are read, and
 * the excess bytes in the packet are discarded." */
IPCV_CASE(pipe, direct_pipe_short_read_discards_the_rest_of_the_packet,
          .tags = "api", .covers = "B182", .spec = "pipe2(2) O_DIRECT",
          .desc = "in an O_DIRECT pipe, a 4-byte read of a 30-byte packet returns 4 bytes and the next read returns the next packet, not the other 26 bytes")
{
    int fd[2];
    errno = 0;
    if (pipe2(fd, O_DIRECT | O_NONBLOCK) < 0) {
        if (errno == EINVAL)
            ipcv_skip("pipe2(O_DIRECT): EINVAL (kernel before 3.4)");
        SAFE(-1);
    }
    SAFE(write(fd[1], "abcdefghijklmnopqrstuvwxyz0123", 30));
    SAFE(write(fd[1], "next", 4));
    char in[64];
    ipcv_expect_eq(4, read(fd[0], in, 4));
    ipcv_expect_mem("abcd", in, 4);
    ipcv_expect_eq(4, read(fd[0], in, sizeof in));
    ipcv_expect_mem("next", in, 4);
    ipcv_expect_fail(EAGAIN, read(fd[0], in, sizeof in));
    close_pipe(fd);
}

/* pipe2(2) O_DIRECT: "Writes greater than PIPE_BUF bytes (see pipe(7))
 * will be split into multiple packets." */
IPCV_CASE(pipe, direct_pipe_splits_writes_above_pipe_buf_into_packets,
          .tags = "api", .covers = "B182", .spec = "pipe2(2) O_DIRECT",
          .desc = "in an O_DIRECT pipe, one write of 2*PIPE_BUF+100 bytes is read back by large reads as packets of PIPE_BUF, PIPE_BUF and 100 bytes")
{
    int fd[2];
    errno = 0;
    if (pipe2(fd, O_DIRECT | O_NONBLOCK) < 0) {
        if (errno == EINVAL)
            ipcv_skip("pipe2(O_DIRECT): EINVAL (kernel before 3.4)");
        SAFE(-1);
    }
    static unsigned char out[2 * PIPE_BUF + 100], in[3 * PIPE_BUF];
    pattern(out, sizeof out, 9);
    ipcv_expect_eq(sizeof out, write(fd[1], out, sizeof out));
    size_t want[] = { PIPE_BUF, PIPE_BUF, 100 }, off = 0;
    for (int i = 0; i < 3; i++) {
        ssize_t n = read(fd[0], in, sizeof in);
        ipcv_expect_eq(want[i], n);
        if (n > 0 && off + (size_t)n <= sizeof out)
            ipcv_expect_mem(out + off, in, (size_t)n);
        off += want[i];
    }
    close_pipe(fd);
}

/* pipe(2) EFAULT: "pipefd is not valid." */
IPCV_CASE(pipe, pipe_into_an_unmapped_array_fails_efault,
          .tags = "api", .covers = "B171", .spec = "pipe(2) EFAULT",
          .desc = "pipe and pipe2 with an unmapped descriptor array fail with EFAULT and leave no descriptor open")
{
    int probe = SAFE(dup(0));
    close(probe);
    int *volatile bad = (int *)8;
    ipcv_expect_fail(EFAULT, pipe(bad));
    ipcv_expect_fail(EFAULT, pipe2(bad, O_CLOEXEC));
    int after = SAFE(dup(0));
    ipcv_expect_eq(probe, after);
    close(after);
}
