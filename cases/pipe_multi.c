/* Pipes between processes: inheritance across fork and execve, several
 * writers and readers, end-of-file, SIGPIPE and EPIPE when the reader dies,
 * writers killed while blocked, and interruption by signals. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <linux/limits.h>   /* PIPE_BUF: harness/limits.h hides the libc one */
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ipcvet.h"

/* State the roles of one case share with the coordinator. */
struct shared {
    atomic_int done[8];
    long result[8];
    int err[8];
    atomic_int handled, sigpipes;
    atomic_uchar seen[2048];
};
#define SH ((struct shared *)(void *)ipcv_self.page->scratch)

static void report(int slot, long rc)
{
    SH->err[slot] = errno;
    SH->result[slot] = rc;
    atomic_store(&SH->done[slot], 1);
}

static void pattern(unsigned char *p, size_t len, unsigned seed)
{
    for (size_t i = 0; i < len; i++)
        p[i] = (unsigned char)((i * 131 + seed * 7 + (i >> 8)) & 0xff);
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* Fill a blocking pipe to the brim through a temporary O_NONBLOCK. */
static size_t fill(int wfd)
{
    static unsigned char junk[4096];
    int fl = SAFE(fcntl(wfd, F_GETFL));
    SAFE(fcntl(wfd, F_SETFL, fl | O_NONBLOCK));
    size_t total = 0;
    for (size_t chunk = sizeof junk; chunk >= 1; chunk /= 2)
        for (ssize_t n; (n = write(wfd, junk, chunk)) > 0;)
            total += (size_t)n;
    SAFE(fcntl(wfd, F_SETFL, fl));
    return total;
}

struct asleep_probe { pid_t pid; int slot; long nr; };

static int asleep_or_done(void *arg)
{
    struct asleep_probe *p = arg;
    return atomic_load(&SH->done[p->slot]) || ipcv_pid_asleep_in(p->pid, p->nr);
}

/* Wait until the role sleeps in `nr` or has reported; a role that reported
 * instead of sleeping fails the case (it should have blocked). */
static void expect_asleep(struct ipcv_role *r, int slot, long nr, const char *why)
{
    struct asleep_probe p = { ipcv_role_pid(r), slot, nr };
    if (!ipcv_poll_until(asleep_or_done, &p, ipcv_wait_bound()))
        ipcv_brk(__FILE__, __LINE__, "role '%s' neither slept nor returned", ipcv_role_name(r));
    ipcv_expect_true(!atomic_load(&SH->done[slot]),
                     "role '%s' returned %ld (%s) %s", ipcv_role_name(r), SH->result[slot],
                     ipcv_errname(SH->err[slot]), why);
}

/* --- inheritance ----------------------------------------------------------- */

static int read_inherited(struct ipcv_role *self, void *arg)
{
    (void)self;
    int *fd = arg;
    close(fd[1]);
    static unsigned char want[3000], got[3000];
    pattern(want, sizeof want, 11);
    size_t total = 0;
    for (ssize_t n; total < sizeof got && (n = read(fd[0], got + total, sizeof got - total)) > 0;)
        total += (size_t)n;
    ipcv_expect_eq(sizeof got, total);
    ipcv_expect_mem(want, got, sizeof got);
    char c;
    ipcv_expect_eq(0, read(fd[0], &c, 1));
    return 0;
}

/* fork(2): the child inherits copies of the parent's descriptors, which
 * refer to the same open pipe; data written before fork is still there. */
IPCV_CASE(pipe, child_reads_what_was_written_before_fork,
          .tags = "multi", .covers = "B176", .spec = "fork(2); pipe(2)",
          .desc = "3000 bytes written before fork are read by the child, whole and in order, then end-of-file once the parent closes its write end")
{
    int fd[2];
    SAFE(pipe(fd));
    static unsigned char out[3000];
    pattern(out, sizeof out, 11);
    SAFE(write(fd[1], out, sizeof out));
    struct ipcv_role *r = ipcv_spawn("child", read_inherited, fd);
    close_fd(&fd[1]);
    ipcv_join(r, IPCV_EXITED(0));
    close_fd(&fd[0]);
}

static int exec_checker(struct ipcv_role *self, void *arg)
{
    (void)arg;
    ipcv_ready(self);
    /* Only the pipes below stay: they land on 3..6, which sh can name. */
    syscall(SYS_close_range, 3, ~0U, 0);
    int keep[2], lose[2];
    SAFE(pipe(keep));
    SAFE(pipe2(lose, O_CLOEXEC));
    if (keep[0] != 3 || keep[1] != 4 || lose[0] != 5 || lose[1] != 6)
        ipcv_brk(__FILE__, __LINE__, "pipes on %d %d %d %d, not 3..6", keep[0], keep[1], lose[0], lose[1]);
    execl("/bin/sh", "sh", "-c",
          "( : <&3 ) && ( : >&4 ) || exit 3; "
          "( : <&5 ) 2>/dev/null && exit 4; ( : >&6 ) 2>/dev/null && exit 5; exit 0",
          (char *)NULL);
    ipcv_brk(__FILE__, __LINE__, "execl /bin/sh: %s", ipcv_errname(errno));
}

/* pipe2(2) O_CLOEXEC: "Set the close-on-exec (FD_CLOEXEC) flag on the two
 * new file descriptors"; execve(2) closes them, and only them. */
IPCV_CASE(pipe, pipe2_cloexec_ends_are_closed_by_execve,
          .tags = "multi", .covers = "B183", .spec = "pipe2(2) O_CLOEXEC; execve(2)",
          .desc = "after execve of /bin/sh, the ends of a pipe() are still open and the ends of a pipe2(O_CLOEXEC) are closed (EBADF in the new program)")
{
    if (access("/bin/sh", X_OK) < 0)
        ipcv_skip("/bin/sh: %s", ipcv_errname(errno));
    struct ipcv_role *r = ipcv_spawn("execer", exec_checker, NULL);
    ipcv_join(r, IPCV_EXITED(0));
}

/* --- several writers, several readers ---------------------------------- */

#define RECORDS 200
#define REC_LEN 64

static void make_record(unsigned char *rec, unsigned writer, unsigned seq)
{
    rec[0] = (unsigned char)writer;
    rec[1] = (unsigned char)(seq & 0xff);
    rec[2] = (unsigned char)(seq >> 8);
    pattern(rec + 3, REC_LEN - 3, writer * 1000 + seq);
}

static int record_writer(struct ipcv_role *self, void *arg)
{
    (void)self;
    int *fd = arg;
    unsigned writer = (unsigned)fd[2];
    close(fd[0]);
    ipcv_checkpoint_wait(0, 1);
    unsigned char rec[REC_LEN];
    for (unsigned seq = 0; seq < RECORDS; seq++) {
        make_record(rec, writer, seq);
        ipcv_expect_eq(REC_LEN, write(fd[1], rec, REC_LEN));
    }
    return 0;
}

/* pipe(7): writes of at most PIPE_BUF bytes are atomic, so two writer
 * processes' records arrive whole, each stream complete and in order. */
IPCV_CASE(pipe, two_writer_processes_deliver_both_streams_whole,
          .tags = "multi", .covers = "B175", .spec = "pipe(7) PIPE_BUF",
          .desc = "two writer processes each write 200 numbered 64-byte records at once; the reader gets 400 intact records, each writer's in order, then end-of-file")
{
    int fd[3];
    SAFE(pipe(fd));
    struct ipcv_role *w[2];
    for (int i = 0; i < 2; i++) {
        fd[2] = i;
        w[i] = ipcv_spawn(i ? "writer1" : "writer0", record_writer, fd);
    }
    close_fd(&fd[1]);
    ipcv_checkpoint_signal(0);
    unsigned next[2] = { 0, 0 }, bad = 0, total = 0;
    unsigned char rec[REC_LEN], want[REC_LEN];
    for (;;) {
        size_t got = 0;
        ssize_t n = 0;
        while (got < REC_LEN && (n = read(fd[0], rec + got, REC_LEN - got)) > 0)
            got += (size_t)n;
        if (got == 0)
            break;
        total++;
        unsigned writer = rec[0], seq = rec[1] | (unsigned)rec[2] << 8;
        if (got != REC_LEN || writer > 1 || seq != next[writer]) {
            bad++;
            continue;
        }
        make_record(want, writer, seq);
        bad += memcmp(want, rec, REC_LEN) != 0;
        next[writer]++;
    }
    ipcv_expect_eq(2 * RECORDS, total);
    ipcv_expect_eq(0, bad);
    ipcv_expect_eq(RECORDS, next[0]);
    ipcv_expect_eq(RECORDS, next[1]);
    for (int i = 0; i < 2; i++)
        ipcv_join(w[i], IPCV_EXITED(0));
    close_fd(&fd[0]);
}

#define READERS 4

static int share_reader(struct ipcv_role *self, void *arg)
{
    (void)self;
    int *fd = arg;
    close(fd[1]);
    ipcv_checkpoint_wait(0, 1);
    unsigned char buf[PIPE_BUF / READERS];
    ssize_t n = read(fd[0], buf, sizeof buf);
    ipcv_expect_eq(sizeof buf, n);
    for (ssize_t i = 0; i + 1 < n; i += 2) {
        unsigned v = buf[i] | (unsigned)buf[i + 1] << 8;
        if (v < 2048 && atomic_exchange(&SH->seen[v], 1))
            ipcv_expect_true(0, "value %u read twice", v);
    }
    return 0;
}

/* read(2) on a pipe with enough data returns the bytes asked for; readers
 * in several processes share the data, each byte going to exactly one. */
IPCV_CASE(pipe, readers_in_several_processes_each_get_a_disjoint_share,
          .tags = "multi", .covers = "B177", .spec = "pipe(7); read(2)",
          .desc = "PIPE_BUF bytes of 16-bit counters in a pipe, four processes each read PIPE_BUF/4 bytes at once: each gets its full share and every counter is read exactly once")
{
    int fd[2];
    SAFE(pipe(fd));
    memset(SH, 0, sizeof *SH);
    uint16_t values[PIPE_BUF / 2];
    for (unsigned i = 0; i < PIPE_BUF / 2; i++)
        values[i] = (uint16_t)i;
    SAFE(write(fd[1], values, sizeof values));
    struct ipcv_role *r[READERS];
    for (int i = 0; i < READERS; i++) {
        char name[16];
        snprintf(name, sizeof name, "reader%d", i);
        r[i] = ipcv_spawn(name, share_reader, fd);
    }
    ipcv_checkpoint_signal(0);
    for (int i = 0; i < READERS; i++)
        ipcv_join(r[i], IPCV_EXITED(0));
    unsigned missing = 0;
    for (unsigned v = 0; v < PIPE_BUF / 2; v++)
        missing += !atomic_load(&SH->seen[v]);
    ipcv_expect_eq(0, missing);
    close_fd(&fd[0]);
    close_fd(&fd[1]);
}

static int stream_writer(struct ipcv_role *self, void *arg)
{
    (void)self;
    int *fd = arg;
    close(fd[0]);
    size_t len = (size_t)fd[2];
    unsigned char *out = SAFE_PTR(malloc(len));
    pattern(out, len, 21);
    ipcv_expect_eq(len, write(fd[1], out, len));   /* blocks until all is written */
    free(out);
    return 0;
}

/* pipe(7): a blocking write of more than the capacity blocks until a
 * reader makes room, and returns only when all n bytes are written. */
IPCV_CASE(pipe, four_times_the_capacity_streams_through_a_concurrent_reader,
          .tags = "multi", .covers = "B715", .spec = "pipe(7) I/O on pipes and FIFOs",
          .desc = "one write of 4x the pipe capacity returns the full count while another process reads 1000 bytes at a time; the reader gets every byte in order, then end-of-file")
{
    int fd[3];
    SAFE(pipe(fd));
    size_t len = 4 * (size_t)SAFE(fcntl(fd[1], F_GETPIPE_SZ));
    fd[2] = (int)len;
    struct ipcv_role *w = ipcv_spawn("writer", stream_writer, fd);
    close_fd(&fd[1]);
    unsigned char *want = SAFE_PTR(malloc(len)), *got = SAFE_PTR(malloc(len + 1000));
    pattern(want, len, 21);
    size_t total = 0;
    for (ssize_t n; (n = read(fd[0], got + total, 1000)) > 0 && total + (size_t)n <= len;)
        total += (size_t)n;
    ipcv_expect_eq(len, total);
    ipcv_expect_mem(want, got, total < len ? total : len);
    ipcv_join(w, IPCV_EXITED(0));
    free(want);
    free(got);
    close_fd(&fd[0]);
}

/* --- end of file --------------------------------------------------------- */

struct eof_job { int fd[2]; int slot; };

static int eof_reader(struct ipcv_role *self, void *arg)
{
    struct eof_job *j = arg;
    close(j->fd[1]);
    ipcv_ready(self);
    char c;
    errno = 0;
    report(j->slot, read(j->fd[0], &c, 1));
    return 0;
}

static int hold_write_end(struct ipcv_role *self, void *arg)
{
    int *fd = arg;
    close(fd[0]);
    ipcv_ready(self);
    ipcv_await_release(self);
    close(fd[1]);
    return 0;
}

/* pipe(7): end-of-file comes when *all* descriptors for the write end are
 * closed; while any writer holds one, a reader of the empty pipe sleeps. */
IPCV_CASE(pipe, eof_comes_only_after_every_writer_closes,
          .tags = "multi cleanup", .spec = "pipe(7) I/O on pipes and FIFOs",
          .desc = "three processes hold the write end; a reader of the empty pipe stays asleep after the first and second close and reads end-of-file after the third")
{
    memset(SH, 0, sizeof *SH);
    struct eof_job j;
    SAFE(pipe(j.fd));
    j.slot = 0;
    struct ipcv_role *reader = ipcv_spawn("reader", eof_reader, &j);
    struct ipcv_role *w[3];
    for (int i = 0; i < 3; i++) {
        char name[16];
        snprintf(name, sizeof name, "writer%d", i);
        w[i] = ipcv_spawn(name, hold_write_end, j.fd);
        ipcv_wait_ready(w[i]);
    }
    close_fd(&j.fd[0]);
    close_fd(&j.fd[1]);
    ipcv_wait_ready(reader);
    expect_asleep(reader, 0, SYS_read, "before any writer closed");
    for (int i = 0; i < 3; i++) {
        ipcv_release(w[i]);
        ipcv_join(w[i], IPCV_EXITED(0));
        if (i < 2)
            expect_asleep(reader, 0, SYS_read, "while a writer still held the pipe");
    }
    ipcv_join(reader, IPCV_EXITED(0));
    ipcv_expect_eq(0, SH->result[0]);
}

/* pipe(7) end-of-file: closing the last write end wakes every reader
 * asleep on the empty pipe, not just one (LTP pipe13, 6551d5c56eb0). */
IPCV_CASE(pipe, last_writer_close_wakes_every_blocked_reader,
          .tags = "multi", .covers = "B179", .spec = "pipe(7) I/O on pipes and FIFOs",
          .desc = "three processes asleep reading an empty pipe all return 0 when the only write end is closed")
{
    memset(SH, 0, sizeof *SH);
    struct eof_job j[3];
    int fd[2];
    SAFE(pipe(fd));
    struct ipcv_role *r[3];
    for (int i = 0; i < 3; i++) {
        j[i] = (struct eof_job){ { fd[0], fd[1] }, i };
        char name[16];
        snprintf(name, sizeof name, "reader%d", i);
        r[i] = ipcv_spawn(name, eof_reader, &j[i]);
        ipcv_wait_ready(r[i]);
    }
    close_fd(&fd[0]);
    for (int i = 0; i < 3; i++)
        expect_asleep(r[i], i, SYS_read, "before the write end was closed");
    close_fd(&fd[1]);
    for (int i = 0; i < 3; i++) {
        ipcv_join(r[i], IPCV_EXITED(0));
        ipcv_expect_eq(0, SH->result[i]);
    }
}

/* --- the reader goes away ------------------------------------------------ */

static int write_to_closed(struct ipcv_role *self, void *arg)
{
    int *fd = arg;
    signal(SIGPIPE, SIG_DFL);
    close(fd[0]);
    ipcv_ready(self);
    ipcv_await_release(self);
    (void)!write(fd[1], "x", 1);
    return 0;   /* not reached: SIGPIPE's default action ends it */
}

/* pipe(7): a write with no reader generates SIGPIPE, whose default action
 * terminates the process; the parent sees it in the wait status. */
IPCV_CASE(pipe, writer_without_a_reader_is_killed_by_sigpipe,
          .tags = "multi", .covers = "B168", .spec = "pipe(7); signal(7) SIGPIPE",
          .desc = "a child that writes after every read end is closed, with SIGPIPE at its default action, is terminated by SIGPIPE")
{
    int fd[2];
    SAFE(pipe(fd));
    struct ipcv_role *w = ipcv_spawn("writer", write_to_closed, fd);
    ipcv_wait_ready(w);
    close_fd(&fd[0]);
    ipcv_release(w);
    ipcv_join(w, IPCV_KILLED(SIGPIPE));
    close_fd(&fd[1]);
}

static int hold_read_end(struct ipcv_role *self, void *arg)
{
    int *fd = arg;
    close(fd[1]);
    ipcv_ready(self);
    ipcv_await_release(self);
    return 0;
}

static void count_sigpipe(int sig)
{
    (void)sig;
    atomic_fetch_add(&SH->sigpipes, 1);
}

struct epipe_job { int fd[2]; size_t first; };

static int writer_until_epipe(struct ipcv_role *self, void *arg)
{
    struct epipe_job *j = arg;
    struct sigaction sa = { .sa_handler = count_sigpipe };
    sigemptyset(&sa.sa_mask);
    SAFE(sigaction(SIGPIPE, &sa, NULL));
    close(j->fd[0]);
    if (!j->first)
        fill(j->fd[1]);
    ipcv_ready(self);
    size_t len = j->first ? j->first : 1;
    unsigned char *buf = SAFE_PTR(calloc(1, len));
    errno = 0;
    report(0, write(j->fd[1], buf, len));
    errno = 0;
    report(1, write(j->fd[1], buf, 1));
    free(buf);
    return 0;
}

static void reader_killed_while_writer_blocks(size_t first)
{
    memset(SH, 0, sizeof *SH);
    struct epipe_job j = { .first = first };
    SAFE(pipe(j.fd));
    if (first)
        j.first = 2 * (size_t)SAFE(fcntl(j.fd[1], F_GETPIPE_SZ));
    struct ipcv_role *reader = ipcv_spawn("reader", hold_read_end, j.fd);
    ipcv_wait_ready(reader);
    struct ipcv_role *writer = ipcv_spawn("writer", writer_until_epipe, &j);
    ipcv_wait_ready(writer);
    close_fd(&j.fd[0]);
    close_fd(&j.fd[1]);
    ipcv_wait_blocked(writer, "write");
    SAFE(kill(ipcv_role_pid(reader), SIGKILL));
    ipcv_join(reader, IPCV_KILLED(SIGKILL));
    ipcv_join(writer, IPCV_EXITED(0));
}

/* pipe(7)/write(2) EPIPE: a writer asleep on a full pipe whose last reader
 * dies gets SIGPIPE and EPIPE. */
IPCV_CASE(pipe, blocked_writer_gets_epipe_when_the_reader_is_killed,
          .tags = "multi crash", .covers = "B708", .spec = "pipe(7); write(2) EPIPE",
          .desc = "a writer asleep on a full pipe returns EPIPE with one SIGPIPE when the only reader is SIGKILLed, and a further write does the same")
{
    reader_killed_while_writer_blocks(0);
    ipcv_expect_true(SH->result[0] == -1 && SH->err[0] == EPIPE, "blocked write: expected EPIPE, seen %ld (%s)",
                     SH->result[0], ipcv_errname(SH->err[0]));
    ipcv_expect_true(SH->result[1] == -1 && SH->err[1] == EPIPE, "next write: expected EPIPE, seen %ld (%s)",
                     SH->result[1], ipcv_errname(SH->err[1]));
    ipcv_expect_eq(2, atomic_load(&SH->sigpipes));
}

/* write(2): "If a write() is interrupted ... after it successfully writes
 * some data, it shall return the number of bytes written"; Linux sends
 * SIGPIPE for the part that could not go, and the next write fails EPIPE. */
IPCV_CASE(pipe, partial_write_returns_its_count_when_the_reader_is_killed,
          .tags = "multi crash", .covers = "B709", .spec = "write(2); pipe(7)",
          .desc = "a write of twice the capacity into an empty pipe, asleep after the first half, returns the capacity when the reader is SIGKILLed; the next write fails EPIPE; two SIGPIPEs in all")
{
    reader_killed_while_writer_blocks(1);
    int fd[2];
    SAFE(pipe(fd));
    long cap = SAFE(fcntl(fd[1], F_GETPIPE_SZ));
    close(fd[0]);
    close(fd[1]);
    ipcv_expect_eq(cap, SH->result[0]);
    ipcv_expect_true(SH->result[1] == -1 && SH->err[1] == EPIPE, "next write: expected EPIPE, seen %ld (%s)",
                     SH->result[1], ipcv_errname(SH->err[1]));
    ipcv_expect_eq(2, atomic_load(&SH->sigpipes));
}

static int blocked_writer(struct ipcv_role *self, void *arg)
{
    int *fd = arg;
    signal(SIGTERM, SIG_DFL);
    close(fd[0]);
    ipcv_ready(self);
    char c = 'x';
    (void)!write(fd[1], &c, 1);
    return 0;
}

/* signal(7): SIGTERM's default action and SIGKILL terminate a process even
 * while it sleeps in write on a full pipe (LTP pipe04). */
IPCV_CASE(pipe, writers_blocked_on_a_full_pipe_can_be_killed,
          .tags = "multi crash", .covers = "B170", .spec = "signal(7); pipe(7)",
          .desc = "two processes asleep writing to a full pipe end by SIGTERM and SIGKILL respectively; the pipe still holds exactly its capacity")
{
    int fd[2];
    SAFE(pipe(fd));
    size_t cap = fill(fd[1]);
    struct ipcv_role *w[2];
    w[0] = ipcv_spawn("writer0", blocked_writer, fd);
    w[1] = ipcv_spawn("writer1", blocked_writer, fd);
    for (int i = 0; i < 2; i++) {
        ipcv_wait_ready(w[i]);
        ipcv_wait_blocked(w[i], "write");
    }
    SAFE(kill(ipcv_role_pid(w[0]), SIGTERM));
    SAFE(kill(ipcv_role_pid(w[1]), SIGKILL));
    ipcv_join(w[0], IPCV_KILLED(SIGTERM));
    ipcv_join(w[1], IPCV_KILLED(SIGKILL));
    close_fd(&fd[1]);
    static char buf[65536];
    size_t total = 0;
    for (ssize_t n; (n = read(fd[0], buf, sizeof buf)) > 0;)
        total += (size_t)n;
    ipcv_expect_eq(cap, total);
    close_fd(&fd[0]);
}

/* A writer dying in the middle of a write larger than the pipe: what it
 * wrote stays readable (a prefix of its data), then end-of-file. */
IPCV_CASE(pipe, writer_killed_mid_write_leaves_a_prefix_then_eof,
          .tags = "multi crash", .spec = "pipe(7); write(2)",
          .desc = "a process SIGKILLed while asleep in one 4x-capacity write leaves the reader a correct prefix of its data of at least the capacity, then end-of-file")
{
    int fd[3];
    SAFE(pipe(fd));
    size_t cap = (size_t)SAFE(fcntl(fd[1], F_GETPIPE_SZ));
    fd[2] = (int)(4 * cap);
    struct ipcv_role *w = ipcv_spawn("writer", stream_writer, fd);
    close_fd(&fd[1]);
    ipcv_wait_blocked(w, "write");
    unsigned char *want = SAFE_PTR(malloc(4 * cap)), *got = SAFE_PTR(malloc(4 * cap));
    pattern(want, 4 * cap, 21);
    size_t total = 0;
    while (total < 10000) {
        ssize_t n = SAFE(read(fd[0], got + total, 10000 - total));
        total += (size_t)n;
    }
    ipcv_wait_blocked(w, "write");
    SAFE(kill(ipcv_role_pid(w), SIGKILL));
    ipcv_join(w, IPCV_KILLED(SIGKILL));
    for (ssize_t n; total < 4 * cap && (n = read(fd[0], got + total, 4 * cap - total)) > 0;)
        total += (size_t)n;
    char c;
    ipcv_expect_eq(0, read(fd[0], &c, 1));
    ipcv_expect_true(total >= cap && total < 4 * cap, "read %zu bytes in all; capacity %zu", total, cap);
    ipcv_expect_mem(want, got, total);
    free(want);
    free(got);
    close_fd(&fd[0]);
}

/* --- interruption -------------------------------------------------------- */

static void on_usr1(int sig)
{
    (void)sig;
    atomic_fetch_add(&SH->handled, 1);
}

struct intr_job { int fd[2]; int sa_flags; int write; };

static int interrupted_io(struct ipcv_role *self, void *arg)
{
    struct intr_job *j = arg;
    struct sigaction sa = { .sa_handler = on_usr1, .sa_flags = j->sa_flags };
    sigemptyset(&sa.sa_mask);
    SAFE(sigaction(SIGUSR1, &sa, NULL));
    close(j->fd[j->write ? 0 : 1]);
    ipcv_ready(self);
    char c = 'i';
    errno = 0;
    report(0, j->write ? write(j->fd[1], &c, 1) : read(j->fd[0], &c, 1));
    return 0;
}

struct settle { pid_t pid; long nr; };

static int settled(void *arg)
{
    struct settle *s = arg;
    return atomic_load(&SH->done[0]) || (atomic_load(&SH->handled) && ipcv_pid_asleep_in(s->pid, s->nr));
}

/* signal(7): read(2) and write(2) on a pipe interrupted by a handler are
 * restarted with SA_RESTART and fail with EINTR without it. Each row
 * blocks, signals, and (if the call slept again) unblocks the call. */
static void interrupt_pipe_io(int write_side)
{
    static const struct { const char *what; int flags; } rows[] = {
        { "without SA_RESTART", 0 }, { "with SA_RESTART", SA_RESTART },
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        memset(SH, 0, sizeof *SH);
        struct intr_job j = { .sa_flags = rows[i].flags, .write = write_side };
        SAFE(pipe(j.fd));
        if (write_side)
            fill(j.fd[1]);
        struct ipcv_role *r = ipcv_spawn(write_side ? "writer" : "reader", interrupted_io, &j);
        ipcv_wait_ready(r);
        close_fd(&j.fd[write_side ? 1 : 0]);
        ipcv_wait_blocked(r, write_side ? "write" : "read");
        SAFE(kill(ipcv_role_pid(r), SIGUSR1));
        struct settle s = { ipcv_role_pid(r), write_side ? SYS_write : SYS_read };
        if (!ipcv_poll_until(settled, &s, ipcv_wait_bound()))
            ipcv_brk(__FILE__, __LINE__, "%s: the role neither returned nor slept again", rows[i].what);
        if (!atomic_load(&SH->done[0])) {   /* asleep again: let it finish */
            static char buf[65536];
            if (write_side)
                SAFE(read(j.fd[0], buf, sizeof buf));
            else
                SAFE(write(j.fd[1], "r", 1));
        }
        ipcv_join(r, IPCV_EXITED(0));
        ipcv_expect_eq(1, atomic_load(&SH->handled));
        if (rows[i].flags & SA_RESTART)
            ipcv_expect_true(SH->result[0] == 1, "%s %s: expected the call restarted and 1 byte moved, seen %ld (%s)",
                             write_side ? "write" : "read", rows[i].what, SH->result[0],
                             ipcv_errname(SH->err[0]));
        else
            ipcv_expect_true(SH->result[0] == -1 && SH->err[0] == EINTR, "%s %s: expected EINTR, seen %ld (%s)",
                             write_side ? "write" : "read", rows[i].what, SH->result[0],
                             ipcv_errname(SH->err[0]));
        close_fd(&j.fd[0]);
        close_fd(&j.fd[1]);
    }
}

IPCV_CASE(pipe, interrupted_read_restarts_only_with_sa_restart,
          .tags = "multi fault", .spec = "signal(7) Interruption of system calls",
          .desc = "a reader asleep on an empty pipe whose SIGUSR1 handler runs fails EINTR without SA_RESTART, and with SA_RESTART sleeps again and returns the byte written later")
{
    interrupt_pipe_io(0);
}

IPCV_CASE(pipe, interrupted_write_restarts_only_with_sa_restart,
          .tags = "multi fault", .spec = "signal(7) Interruption of system calls",
          .desc = "a writer asleep on a full pipe whose SIGUSR1 handler runs fails EINTR without SA_RESTART, and with SA_RESTART sleeps again and completes once room is made")
{
    interrupt_pipe_io(1);
}
