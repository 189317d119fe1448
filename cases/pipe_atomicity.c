/* PIPE_BUF atomicity (pipe(7) "PIPE_BUF"): writes of at most PIPE_BUF
 * bytes are atomic, blocking or not; larger non-blocking writes may be
 * partial. Several writer processes at once, and the boundaries one
 * process can see. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <linux/limits.h>   /* PIPE_BUF: harness/limits.h hides the libc one */
#include <poll.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "ipcvet.h"

#define WRITERS 4
#define PER_WRITER 300

struct atom_state { atomic_uint partial, written; };
#define AS ((struct atom_state *)(void *)ipcv_self.page->scratch)

/* A record: 4-byte header (writer, seq) then a body derived from both. */
static size_t rec_len(unsigned writer, unsigned seq)
{
    static const size_t sizes[] = { 64, 1000, 2500, PIPE_BUF };
    return sizes[(writer + seq) % 4];
}

static void make_rec(unsigned char *p, unsigned writer, unsigned seq)
{
    size_t len = rec_len(writer, seq);
    p[0] = (unsigned char)writer;
    p[1] = (unsigned char)(seq & 0xff);
    p[2] = (unsigned char)(seq >> 8);
    p[3] = (unsigned char)(len / 64);
    for (size_t i = 4; i < len; i++)
        p[i] = (unsigned char)(writer * 37 + seq * 11 + i);
}

struct writer_job { int fd[2]; unsigned writer; int nonblock; };

static int record_writer(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct writer_job *j = arg;
    close(j->fd[0]);
    ipcv_checkpoint_wait(0, 1);
    unsigned char rec[PIPE_BUF];
    for (unsigned seq = 0; seq < PER_WRITER; seq++) {
        size_t len = rec_len(j->writer, seq);
        make_rec(rec, j->writer, seq);
        for (;;) {
            ssize_t n = write(j->fd[1], rec, len);
            if (n == (ssize_t)len)
                break;
            if (n == -1 && errno == EAGAIN && j->nonblock) {
                struct pollfd p = { j->fd[1], POLLOUT, 0 };
                poll(&p, 1, 1000);
                continue;
            }
            /* A partial write of <= PIPE_BUF bytes: the record is torn. */
            atomic_fetch_add(&AS->partial, 1);
            if (n < 0)
                ipcv_brk(__FILE__, __LINE__, "write: %s", ipcv_errname(errno));
            break;
        }
        atomic_fetch_add(&AS->written, 1);
    }
    return 0;
}

/* Read the stream until end-of-file and check it is a sequence of whole
 * records, each writer's in order. Returns the records found whole. */
static unsigned read_records(int rfd, unsigned *torn)
{
    size_t cap = 1 << 16, have = 0;
    unsigned char *buf = SAFE_PTR(malloc(cap));
    unsigned next[WRITERS] = { 0 }, whole = 0;
    unsigned char want[PIPE_BUF];
    *torn = 0;
    for (;;) {
        ssize_t n = read(rfd, buf + have, 1000 < cap - have ? 1000 : cap - have);
        if (n <= 0)
            break;
        have += (size_t)n;
        size_t off = 0;
        while (!*torn && have - off >= 4) {
            unsigned w = buf[off], seq = buf[off + 1] | (unsigned)buf[off + 2] << 8;
            if (w >= WRITERS || seq != next[w] || buf[off + 3] != rec_len(w, seq) / 64) {
                (*torn)++;
                break;
            }
            size_t len = rec_len(w, seq);
            if (have - off < len)
                break;
            make_rec(want, w, seq);
            if (memcmp(want, buf + off, len)) {
                (*torn)++;
                break;
            }
            next[w]++;
            whole++;
            off += len;
        }
        memmove(buf, buf + off, have - off);
        have -= off;
        if (*torn)
            have = 0;   /* no way to resynchronise: count the rest as lost */
    }
    free(buf);
    return whole;
}

static void concurrent_writers(int nonblock)
{
    memset(AS, 0, sizeof *AS);
    struct writer_job j[WRITERS];
    int fd[2];
    SAFE(pipe(fd));
    if (nonblock)
        SAFE(fcntl(fd[1], F_SETFL, O_NONBLOCK));
    struct ipcv_role *w[WRITERS];
    for (unsigned i = 0; i < WRITERS; i++) {
        j[i] = (struct writer_job){ { fd[0], fd[1] }, i, nonblock };
        char name[16];
        snprintf(name, sizeof name, "writer%u", i);
        w[i] = ipcv_spawn(name, record_writer, &j[i]);
    }
    close(fd[1]);
    ipcv_checkpoint_signal(0);
    unsigned torn;
    unsigned whole = read_records(fd[0], &torn);
    for (int i = 0; i < WRITERS; i++)
        ipcv_join(w[i], IPCV_EXITED(0));
    close(fd[0]);
    ipcv_expect_eq(0, atomic_load(&AS->partial));
    ipcv_expect_true(torn == 0, "the stream holds an interleaved or torn record after %u whole ones", whole);
    ipcv_expect_eq(WRITERS * PER_WRITER, whole);
}

/* pipe(7): "O_NONBLOCK disabled, n <= PIPE_BUF: All n bytes are written
 * atomically; write(2) may block if there is not room for n bytes to be
 * written immediately." */
IPCV_CASE(pipe, concurrent_blocking_writes_up_to_pipe_buf_never_interleave,
          .tags = "multi sync", .covers = "B185 B717", .spec = "pipe(7) PIPE_BUF; POSIX.1-2017 write()",
          .desc = "four writer processes each write 300 records of 64..PIPE_BUF bytes to one blocking pipe at once; the reader, reading 1000 bytes at a time, finds 1200 whole records, each writer's in order")
{
    concurrent_writers(0);
}

/* pipe(7): "O_NONBLOCK enabled, n <= PIPE_BUF: If there is room to write n
 * bytes to the pipe, then write(2) succeeds immediately, writing all n
 * bytes; otherwise write(2) fails, with errno set to EAGAIN." */
IPCV_CASE(pipe, concurrent_nonblocking_writes_up_to_pipe_buf_are_all_or_nothing,
          .tags = "multi sync", .covers = "B185 B717", .spec = "pipe(7) PIPE_BUF",
          .desc = "four writer processes write 300 records each of 64..PIPE_BUF bytes to an O_NONBLOCK pipe, retrying on EAGAIN: no write is partial and the reader finds 1200 whole records, each writer's in order")
{
    concurrent_writers(1);
}

static int unread(int fd)
{
    int n = -1;
    SAFE(ioctl(fd, FIONREAD, &n));
    return n;
}

/* pipe(7) O_NONBLOCK, n <= PIPE_BUF, not enough room: EAGAIN and nothing
 * written (LTP pipe12). */
IPCV_CASE(pipe, nonblocking_write_up_to_pipe_buf_without_room_writes_nothing,
          .tags = "api", .covers = "B178 B717", .spec = "pipe(7) PIPE_BUF",
          .desc = "with exactly 100 bytes of room left, a non-blocking 200-byte write fails EAGAIN and adds nothing, and a 100-byte write succeeds whole")
{
    int fd[2];
    SAFE(pipe2(fd, O_NONBLOCK));
    int cap = SAFE(fcntl(fd[1], F_GETPIPE_SZ));
    unsigned char *junk = SAFE_PTR(calloc(1, (size_t)cap));
    ipcv_expect_eq(cap - 100, write(fd[1], junk, (size_t)cap - 100));
    ipcv_expect_fail(EAGAIN, write(fd[1], junk, 200));
    ipcv_expect_eq(cap - 100, unread(fd[0]));
    ipcv_expect_eq(100, write(fd[1], junk, 100));
    ipcv_expect_eq(cap, unread(fd[0]));
    free(junk);
    close(fd[0]);
    close(fd[1]);
}

/* pipe(7): "O_NONBLOCK enabled, n > PIPE_BUF: If the pipe is full, then
 * write(2) fails, with errno set to EAGAIN. Otherwise, from 1 to n bytes
 * may be written (i.e., a "partial write" may occur)". */
IPCV_CASE(pipe, nonblocking_write_above_pipe_buf_writes_what_fits,
          .tags = "api", .covers = "B178", .spec = "pipe(7) PIPE_BUF",
          .desc = "with two pages of room, a non-blocking write of three pages returns a count between 1 and the room (not EAGAIN) and FIONREAD grows by it; on the then-full pipe the same write fails EAGAIN")
{
    int fd[2];
    SAFE(pipe2(fd, O_NONBLOCK));
    int cap = SAFE(fcntl(fd[1], F_GETPIPE_SZ));
    long page = sysconf(_SC_PAGESIZE);
    size_t room = 2 * (size_t)page, n = 3 * (size_t)page;
    unsigned char *junk = SAFE_PTR(calloc(1, (size_t)cap));
    SAFE(write(fd[1], junk, (size_t)cap - room));
    errno = 0;
    ssize_t rc = write(fd[1], junk, n);
    ipcv_expect_true(rc >= 1 && (size_t)rc <= room, "write of %zu with %zu bytes of room: returned %zd (%s)",
                     n, room, rc, rc < 0 ? ipcv_errname(errno) : "partial expected");
    if (rc > 0)
        ipcv_expect_eq(cap - (int)room + rc, unread(fd[0]));
    if (rc == (ssize_t)room)
        ipcv_expect_fail(EAGAIN, write(fd[1], junk, n));
    free(junk);
    close(fd[0]);
    close(fd[1]);
}
