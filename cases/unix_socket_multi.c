/* Unix-domain sockets across processes: shutdown seen by a poller, a
 * sender freed by a larger SO_SNDBUF, peers killed mid-stream, SIGPIPE
 * against MSG_NOSIGNAL, RLIMIT_NOFILE, and interruption by signals with and
 * without SA_RESTART and socket timeouts. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "ipcvet.h"

struct shared {
    atomic_int done[4];
    long result[4];
    int err[4];
    atomic_int handled;
};
#define SH ((struct shared *)(void *)ipcv_self.page->scratch)

static void report(int slot, long rc)
{
    SH->err[slot] = errno;
    SH->result[slot] = rc;
    atomic_store(&SH->done[slot], 1);
}

static int sleeps_in(pid_t pid, long nr)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *paren = strrchr(buf, ')');
    if (!paren || (paren[2] != 'S' && paren[2] != 'D'))
        return 0;
    snprintf(path, sizeof path, "/proc/%d/syscall", (int)pid);
    f = fopen(path, "re");
    if (!f)
        return 0;
    long seen = -1;
    int ok = fscanf(f, "%ld", &seen) == 1;
    fclose(f);
    return ok && seen == nr;
}

/* Fill a stream socket's send side until a non-blocking send would block. */
static size_t stuff(int fd)
{
    static char junk[4096];
    size_t total = 0;
    for (size_t chunk = sizeof junk; chunk >= 1; chunk /= 2)
        for (ssize_t n; (n = send(fd, junk, chunk, MSG_DONTWAIT)) > 0;)
            total += (size_t)n;
    return total;
}

static size_t drain(int fd)
{
    static char buf[65536];
    size_t total = 0;
    for (ssize_t n; (n = recv(fd, buf, sizeof buf, MSG_DONTWAIT)) > 0;)
        total += (size_t)n;
    return total;
}

/* --- shutdown and poll ------------------------------------------------------ */

struct poll_job { int sv[2]; };

static int poller(struct ipcv_role *self, void *arg)
{
    struct poll_job *j = arg;
    close(j->sv[0]);
    ipcv_ready(self);
    struct pollfd p = { j->sv[1], POLLIN | POLLRDHUP, 0 };
    errno = 0;
    int rc = poll(&p, 1, -1);
    report(0, rc < 0 ? rc : p.revents);
    return 0;
}

/* poll(2)/unix(7): the peer's shutdown(SHUT_WR) wakes a poller with POLLIN
 * and POLLRDHUP ("Stream socket peer closed connection, or shut down
 * writing half of connection"); a full shutdown adds POLLHUP. */
IPCV_CASE(unix_socket, peer_shutdown_wakes_a_poller_with_rdhup_or_hup,
          .tags = "multi", .covers = "B731", .spec = "poll(2) POLLRDHUP, POLLHUP; shutdown(2)",
          .desc = "a process asleep in poll(POLLIN|POLLRDHUP) on a stream pair wakes when the peer shuts down: SHUT_WR gives POLLIN|POLLRDHUP without POLLHUP, SHUT_RDWR gives POLLHUP as well")
{
    static const struct { const char *what; int how; short want, unwanted; } rows[] = {
        { "SHUT_WR", SHUT_WR, POLLIN | POLLRDHUP, POLLHUP },
        { "SHUT_RDWR", SHUT_RDWR, POLLIN | POLLRDHUP | POLLHUP, 0 },
    };
    for (size_t i = 0; i < 2; i++) {
        memset(SH, 0, sizeof *SH);
        struct poll_job j;
        SAFE(socketpair(AF_UNIX, SOCK_STREAM, 0, j.sv));
        struct ipcv_role *r = ipcv_spawn("poller", poller, &j);
        ipcv_wait_ready(r);
        close(j.sv[1]);
        ipcv_wait_blocked(r, "poll");
        SAFE(shutdown(j.sv[0], rows[i].how));
        ipcv_join(r, IPCV_EXITED(0));
        long ev = SH->result[0];
        ipcv_expect_true(ev >= 0 && (ev & rows[i].want) == rows[i].want && !(ev & rows[i].unwanted),
                         "%s: revents %#lx, expected %#x and not %#x", rows[i].what, ev,
                         rows[i].want, rows[i].unwanted);
        close(j.sv[0]);
    }
}

/* --- SO_SNDBUF --------------------------------------------------------------- */

#define BIG_SEND 32768

static int big_sender(struct ipcv_role *self, void *arg)
{
    int *sv = arg;
    close(sv[1]);
    static char buf[BIG_SEND];
    ipcv_ready(self);
    errno = 0;
    report(0, send(sv[0], buf, sizeof buf, 0));
    return 0;
}

/* socket(7) SO_SNDBUF: raising the send buffer of a socket whose sender is
 * asleep for lack of room lets it go on (the kernel signals write space
 * when the option grows). */
IPCV_CASE(unix_socket, raising_so_sndbuf_wakes_a_blocked_sender,
          .tags = "multi", .covers = "B732", .spec = "socket(7) SO_SNDBUF",
          .desc = "a 32 KiB send on a stream socket with the minimum SO_SNDBUF sleeps with nothing read by the peer; raising SO_SNDBUF to 256 KiB from another process lets the send complete in full")
{
    memset(SH, 0, sizeof *SH);
    int sv[2];
    SAFE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    int small = 1;   /* clamped to the minimum */
    SAFE(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small));
    struct ipcv_role *r = ipcv_spawn("sender", big_sender, sv);
    ipcv_wait_ready(r);
    ipcv_wait_blocked(r, "sendto");
    ipcv_expect_true(!atomic_load(&SH->done[0]), "the send returned before SO_SNDBUF grew");
    int big = 256 * 1024;
    SAFE(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof big));
    ipcv_join(r, IPCV_EXITED(0));
    ipcv_expect_eq(BIG_SEND, SH->result[0]);
    ipcv_expect_eq(BIG_SEND, drain(sv[1]));
    close(sv[0]);
    close(sv[1]);
}

/* --- peers that die ----------------------------------------------------------- */

static int hold_end(struct ipcv_role *self, void *arg)
{
    int *sv = arg;
    close(sv[0]);
    ipcv_ready(self);
    ipcv_await_release(self);
    return 0;
}

struct nosig_job { int sv[2]; int flags; };

static int send_to_the_dead(struct ipcv_role *self, void *arg)
{
    struct nosig_job *j = arg;
    signal(SIGPIPE, SIG_DFL);
    close(j->sv[1]);
    ipcv_ready(self);
    ipcv_await_release(self);
    errno = 0;
    report(0, send(j->sv[0], "x", 1, j->flags));
    return 0;
}

/* send(2) MSG_NOSIGNAL: "Don't generate a SIGPIPE signal if the peer on a
 * stream-oriented socket has closed the connection. The EPIPE error is
 * still returned." Without it SIGPIPE's default action ends the sender. */
IPCV_CASE(unix_socket, send_to_a_killed_peer_raises_sigpipe_unless_msg_nosignal,
          .tags = "multi crash", .covers = "B723", .spec = "send(2) MSG_NOSIGNAL, EPIPE",
          .desc = "after the peer process is SIGKILLed, a send with MSG_NOSIGNAL fails EPIPE and the sender lives; a plain send kills the sender by SIGPIPE")
{
    for (int nosig = 1; nosig >= 0; nosig--) {
        memset(SH, 0, sizeof *SH);
        struct nosig_job j = { .flags = nosig ? MSG_NOSIGNAL : 0 };
        SAFE(socketpair(AF_UNIX, SOCK_STREAM, 0, j.sv));
        struct ipcv_role *peer = ipcv_spawn("peer", hold_end, j.sv);
        struct ipcv_role *sender = ipcv_spawn("sender", send_to_the_dead, &j);
        ipcv_wait_ready(peer);
        ipcv_wait_ready(sender);
        close(j.sv[0]);
        close(j.sv[1]);
        SAFE(kill(ipcv_role_pid(peer), SIGKILL));
        ipcv_join(peer, IPCV_KILLED(SIGKILL));
        ipcv_release(sender);
        if (nosig) {
            ipcv_join(sender, IPCV_EXITED(0));
            ipcv_expect_true(SH->result[0] == -1 && SH->err[0] == EPIPE, "MSG_NOSIGNAL send: expected EPIPE, seen %ld (%s)",
                             SH->result[0], ipcv_errname(SH->err[0]));
        } else {
            ipcv_join(sender, IPCV_KILLED(SIGPIPE));
        }
    }
}

#define REC 2048

struct stream_job { int sv[2]; };

static int endless_sender(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct stream_job *j = arg;
    close(j->sv[1]);
    unsigned char rec[REC];
    for (uint32_t seq = 0;; seq++) {
        for (int i = 0; i < REC; i++)
            rec[i] = (unsigned char)(seq * 7 + (uint32_t)i);
        memcpy(rec, &seq, sizeof seq);
        if (send(j->sv[0], rec, REC, 0) != REC)
            return 1;
    }
}

/* A sender killed in the middle of a stream: the receiver reads what was
 * queued and then end-of-file (no error: nothing it sent was lost); on a
 * SOCK_SEQPACKET socket every record it gets is whole. */
IPCV_CASE(unix_socket, sender_killed_mid_stream_leaves_whole_data_then_eof,
          .tags = "multi crash", .spec = "unix(7); recv(2)",
          .desc = "a process streaming 2 KiB numbered records is SIGKILLed while asleep in send; the reader gets the records in order (stream: a correct prefix; seqpacket: whole records only), then 0")
{
    int types[] = { SOCK_STREAM, SOCK_SEQPACKET };
    for (int t = 0; t < 2; t++) {
        struct stream_job j;
        SAFE(socketpair(AF_UNIX, types[t], 0, j.sv));
        struct ipcv_role *r = ipcv_spawn("sender", endless_sender, &j);
        close(j.sv[0]);
        ipcv_wait_blocked(r, "sendto");
        static unsigned char buf[8 * REC];
        ssize_t n = SAFE(recv(j.sv[1], buf, REC, 0));   /* make it move on */
        (void)n;
        ipcv_wait_blocked(r, "sendto");
        SAFE(kill(ipcv_role_pid(r), SIGKILL));
        ipcv_join(r, IPCV_KILLED(SIGKILL));
        size_t have = (size_t)n, bad = 0;
        uint32_t next = 0;
        for (;;) {
            ssize_t k = recv(j.sv[1], buf + have, sizeof buf - have, 0);
            if (k < 0) {
                ipcv_expect_true(0, "type %d: recv after the sender died: %s", types[t], ipcv_errname(errno));
                break;
            }
            if (types[t] == SOCK_SEQPACKET && k > 0 && k != REC)
                bad++;
            have += (size_t)k;
            size_t off = 0;
            for (; have - off >= REC; off += REC, next++) {
                uint32_t seq;
                memcpy(&seq, buf + off, sizeof seq);
                int ok = seq == next;
                for (int i = sizeof seq; i < REC && ok; i++)
                    ok = buf[off + i] == (unsigned char)(seq * 7 + (uint32_t)i);
                bad += !ok;
            }
            memmove(buf, buf + off, have - off);
            have -= off;
            if (k == 0)
                break;
        }
        ipcv_expect_true(bad == 0, "type %d: %zu records torn or out of order", types[t], bad);
        ipcv_expect_true(next > 1, "type %d: only %u records arrived", types[t], next);
        if (types[t] == SOCK_SEQPACKET)
            ipcv_expect_eq(0, have);
        close(j.sv[1]);
    }
}

/* --- RLIMIT_NOFILE -------------------------------------------------------------- */

#define NOFILE 16

static int free_slots(void)
{
    int n = 0;
    for (int fd = 0; fd < NOFILE; fd++)
        n += fcntl(fd, F_GETFD) == -1 && errno == EBADF;
    return n;
}

static int exhaust_with_sockets(struct ipcv_role *self, void *arg)
{
    (void)self;
    (void)arg;
    syscall(SYS_close_range, 3, ~0U, 0);
    struct rlimit rl = { NOFILE, NOFILE };
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
        ipcv_skip("setrlimit(RLIMIT_NOFILE, %d): %s", NOFILE, ipcv_errname(errno));
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    snprintf(sa.sun_path + 1, sizeof sa.sun_path - 1, "ipcvet.%d.emfile", (int)getpid());
    socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(sa.sun_path + 1));
    int srv = SAFE(socket(AF_UNIX, SOCK_STREAM, 0));
    SAFE(bind(srv, (struct sockaddr *)&sa, len));
    SAFE(listen(srv, 4));
    int cli = SAFE(socket(AF_UNIX, SOCK_STREAM, 0));
    SAFE(connect(cli, (struct sockaddr *)&sa, len));
    while (free_slots() > 1)
        SAFE(socket(AF_UNIX, SOCK_DGRAM, 0));
    int sv[2];
    ipcv_expect_fail(EMFILE, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    ipcv_expect_eq(1, free_slots());
    int last = socket(AF_UNIX, SOCK_DGRAM, 0);
    ipcv_expect_true(last >= 0, "socket with one slot left: %s", ipcv_errname(errno));
    ipcv_expect_fail(EMFILE, socket(AF_UNIX, SOCK_DGRAM, 0));
    ipcv_expect_fail(EMFILE, accept(srv, NULL, NULL));
    /* The connection waits in the backlog: free a slot and accept it. */
    close(last);
    int acc = accept(srv, NULL, NULL);
    ipcv_expect_true(acc >= 0, "accept after freeing a slot: %s", ipcv_errname(errno));
    return 0;
}

/* socket(2), socketpair(2), accept(2) EMFILE: "The per-process limit on
 * the number of open file descriptors has been reached"; a connection that
 * accept could not take stays queued. */
IPCV_CASE(unix_socket, sockets_past_rlimit_nofile_fail_emfile,
          .tags = "api limit", .spec = "socket(2), socketpair(2), accept(2) EMFILE",
          .desc = "with RLIMIT_NOFILE lowered to 16: socketpair with one slot free, socket and accept with none fail EMFILE; after one close the pending connection is accepted")
{
    struct ipcv_role *r = ipcv_spawn("opener", exhaust_with_sockets, NULL);
    ipcv_join(r, IPCV_EXITED(0));
}

/* --- interruption --------------------------------------------------------------- */

static void on_usr1(int sig)
{
    (void)sig;
    atomic_fetch_add(&SH->handled, 1);
}

enum op { OP_RECV, OP_SEND, OP_ACCEPT };

struct intr_job { int fd; int sa_flags; int timeo; enum op op; };

static int interrupted_call(struct ipcv_role *self, void *arg)
{
    struct intr_job *j = arg;
    struct sigaction sa = { .sa_handler = on_usr1, .sa_flags = j->sa_flags };
    sigemptyset(&sa.sa_mask);
    SAFE(sigaction(SIGUSR1, &sa, NULL));
    if (j->timeo) {
        struct timeval tv = { 30, 0 };   /* far longer than the case: only its presence counts */
        SAFE(setsockopt(j->fd, SOL_SOCKET, j->op == OP_SEND ? SO_SNDTIMEO : SO_RCVTIMEO, &tv, sizeof tv));
    }
    ipcv_ready(self);
    char c = 's';
    errno = 0;
    long rc = j->op == OP_RECV ? recv(j->fd, &c, 1, 0)
            : j->op == OP_SEND ? send(j->fd, &c, 1, 0)
                               : accept(j->fd, NULL, NULL);
    report(0, rc);
    if (j->op == OP_ACCEPT && rc >= 0)
        close((int)rc);
    return 0;
}

struct settle { pid_t pid; long nr; };

static int settled(void *arg)
{
    struct settle *s = arg;
    return atomic_load(&SH->done[0]) || (atomic_load(&SH->handled) && sleeps_in(s->pid, s->nr));
}

/* signal(7): socket calls are restarted under SA_RESTART "unless a timeout
 * has been set on the socket"; then -- and always without SA_RESTART --
 * they fail with EINTR. Rows: no timeout/timeout x no flag/SA_RESTART. */
static void interrupt_socket_call(enum op op)
{
    static const struct { const char *what; int sa_flags, timeo, restarts; } rows[] = {
        { "no timeout, no SA_RESTART", 0, 0, 0 },
        { "no timeout, SA_RESTART", SA_RESTART, 0, 1 },
        { "timeout, no SA_RESTART", 0, 1, 0 },
        { "timeout, SA_RESTART", SA_RESTART, 1, 0 },
    };
    static const char *names[] = { "recvfrom", "sendto", "accept" };
    static const long nrs[] = { SYS_recvfrom, SYS_sendto, SYS_accept };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        memset(SH, 0, sizeof *SH);
        int sv[2] = { -1, -1 }, srv = -1;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        socklen_t len = 0;
        struct intr_job j = { .sa_flags = rows[i].sa_flags, .timeo = rows[i].timeo, .op = op };
        if (op == OP_ACCEPT) {
            snprintf(sa.sun_path + 1, sizeof sa.sun_path - 1, "ipcvet.%d.acc%zu", (int)getpid(), i);
            len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(sa.sun_path + 1));
            srv = j.fd = SAFE(socket(AF_UNIX, SOCK_STREAM, 0));
            SAFE(bind(srv, (struct sockaddr *)&sa, len));
            SAFE(listen(srv, 1));
        } else {
            SAFE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
            j.fd = sv[0];
            if (op == OP_SEND)
                stuff(sv[0]);
        }
        struct ipcv_role *r = ipcv_spawn("caller", interrupted_call, &j);
        ipcv_wait_ready(r);
        ipcv_wait_blocked(r, names[op]);
        SAFE(kill(ipcv_role_pid(r), SIGUSR1));
        struct settle s = { ipcv_role_pid(r), nrs[op] };
        if (!ipcv_poll_until(settled, &s, ipcv_wait_bound()))
            ipcv_brk(__FILE__, __LINE__, "%s: the role neither returned nor slept again", rows[i].what);
        int extra = -1;
        if (!atomic_load(&SH->done[0])) {   /* asleep again: give it what it waits for */
            if (op == OP_RECV)
                SAFE(send(sv[1], "r", 1, 0));
            else if (op == OP_SEND)
                drain(sv[1]);
            else {
                extra = SAFE(socket(AF_UNIX, SOCK_STREAM, 0));
                SAFE(connect(extra, (struct sockaddr *)&sa, len));
            }
        }
        ipcv_join(r, IPCV_EXITED(0));
        ipcv_expect_eq(1, atomic_load(&SH->handled));
        if (rows[i].restarts)
            ipcv_expect_true(SH->result[0] >= 0, "%s %s: expected the call restarted and completed, seen %s",
                             names[op], rows[i].what, ipcv_errname(SH->err[0]));
        else
            ipcv_expect_true(SH->result[0] == -1 && SH->err[0] == EINTR, "%s %s: expected EINTR, seen %s",
                             names[op], rows[i].what, SH->result[0] >= 0 ? "success after a restart" : ipcv_errname(SH->err[0]));
        if (extra >= 0)
            close(extra);
        if (srv >= 0)
            close(srv);
        if (sv[0] >= 0) {
            close(sv[0]);
            close(sv[1]);
        }
    }
}

IPCV_CASE(unix_socket, interrupted_recv_restarts_only_with_sa_restart_and_no_timeout,
          .tags = "multi fault", .spec = "signal(7) Interruption of system calls (SO_RCVTIMEO)",
          .desc = "a recv asleep on a stream pair, signalled: restarted only with SA_RESTART and no SO_RCVTIMEO; EINTR without SA_RESTART, and with SO_RCVTIMEO even with SA_RESTART")
{
    interrupt_socket_call(OP_RECV);
}

IPCV_CASE(unix_socket, interrupted_send_restarts_only_with_sa_restart_and_no_timeout,
          .tags = "multi fault", .spec = "signal(7) Interruption of system calls (SO_SNDTIMEO)",
          .desc = "a send asleep on a full stream pair, signalled: restarted only with SA_RESTART and no SO_SNDTIMEO; EINTR without SA_RESTART, and with SO_SNDTIMEO even with SA_RESTART")
{
    interrupt_socket_call(OP_SEND);
}

IPCV_CASE(unix_socket, interrupted_accept_restarts_only_with_sa_restart_and_no_timeout,
          .tags = "multi fault", .spec = "signal(7) Interruption of system calls (SO_RCVTIMEO)",
          .desc = "an accept asleep on a listener, signalled: restarted only with SA_RESTART and no SO_RCVTIMEO; EINTR without SA_RESTART, and with SO_RCVTIMEO even with SA_RESTART")
{
    interrupt_socket_call(OP_ACCEPT);
}
