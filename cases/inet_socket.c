/* TCP and UDP over the loopback interface, 127.0.0.1 only: the behaviours
 * of the Unix-socket cases that carry over to IP sockets (gVisor's
 * loopback instantiations of its socket-pair tests). Every socket is
 * bound to 127.0.0.1 and an ephemeral port; nothing leaves the host. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

#include "ipcvet.h"

struct shared { atomic_int done, handled; long result; int err; };
#define SH ((struct shared *)(void *)ipcv_self.page->scratch)

/* A socket bound to 127.0.0.1 on a port the kernel picks. */
static int loopback_socket(int type, struct sockaddr_in *a)
{
    int s = SAFE(socket(AF_INET, type, 0));
    memset(a, 0, sizeof *a);
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(s, (struct sockaddr *)a, sizeof *a) < 0)
        ipcv_skip("cannot bind 127.0.0.1: %s", ipcv_errname(errno));
    socklen_t len = sizeof *a;
    SAFE(getsockname(s, (struct sockaddr *)a, &len));
    return s;
}

static int listener(struct sockaddr_in *a)
{
    int s = loopback_socket(SOCK_STREAM, a);
    SAFE(listen(s, 4));
    return s;
}

static void pattern(unsigned char *p, size_t len, size_t from)
{
    for (size_t i = 0; i < len; i++)
        p[i] = (unsigned char)((from + i) * 131 + ((from + i) >> 9));
}

#define STREAM_LEN (256 * 1024)

static int tcp_client(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct sockaddr_in *a = arg;
    int s = SAFE(socket(AF_INET, SOCK_STREAM, 0));
    SAFE(connect(s, (struct sockaddr *)a, sizeof *a));
    static unsigned char buf[4000];
    for (size_t off = 0; off < STREAM_LEN;) {
        size_t n = STREAM_LEN - off < sizeof buf ? STREAM_LEN - off : sizeof buf;
        pattern(buf, n, off);
        ssize_t w = send(s, buf, n, 0);
        if (w <= 0)
            ipcv_brk(__FILE__, __LINE__, "send: %s", ipcv_errname(errno));
        off += (size_t)w;
    }
    close(s);
    return 0;
}

/* tcp(7): a connection carries a reliable, ordered byte stream; the peer's
 * close is end-of-file after the last byte. */
IPCV_CASE(inet_socket, tcp_loopback_carries_a_byte_stream_in_order,
          .tags = "multi", .covers = "B733", .spec = "tcp(7); ip(7) loopback",
          .desc = "a client process sends 256 KiB over TCP to 127.0.0.1 in 4000-byte sends and closes; the accepting side reads every byte in order, then 0")
{
    struct sockaddr_in a;
    int srv = listener(&a);
    struct ipcv_role *r = ipcv_spawn("client", tcp_client, &a);
    int c = SAFE(accept(srv, NULL, NULL));
    unsigned char *got = SAFE_PTR(malloc(STREAM_LEN)), *want = SAFE_PTR(malloc(STREAM_LEN));
    size_t total = 0;
    for (ssize_t n; total < STREAM_LEN && (n = recv(c, got + total, STREAM_LEN - total, 0)) > 0;)
        total += (size_t)n;
    char extra;
    ipcv_expect_eq(0, recv(c, &extra, 1, 0));
    ipcv_expect_eq(STREAM_LEN, total);
    pattern(want, STREAM_LEN, 0);
    ipcv_expect_mem(want, got, total);
    ipcv_join(r, IPCV_EXITED(0));
    free(got);
    free(want);
    close(c);
    close(srv);
}

/* udp(7): datagrams keep their boundaries; a read into a short buffer is
 * truncated (MSG_TRUNC) and the rest discarded. */
IPCV_CASE(inet_socket, udp_loopback_keeps_datagram_boundaries,
          .tags = "api", .covers = "B733", .spec = "udp(7); recv(2) MSG_TRUNC",
          .desc = "three UDP datagrams of 2, 5 and 9 bytes sent to 127.0.0.1 are read as 2, 5 and 9 bytes with the sender's address; a 3-byte read of a 9-byte datagram sets MSG_TRUNC and the next read gets the next datagram")
{
    struct sockaddr_in ra, sa, from;
    int r = loopback_socket(SOCK_DGRAM, &ra), s = loopback_socket(SOCK_DGRAM, &sa);
    const char *msgs[] = { "ab", "cdefg", "hijklmnop" };
    for (int i = 0; i < 3; i++)
        SAFE(sendto(s, msgs[i], strlen(msgs[i]), 0, (struct sockaddr *)&ra, sizeof ra));
    char buf[64];
    for (int i = 0; i < 3; i++) {
        socklen_t fl = sizeof from;
        ssize_t n = recvfrom(r, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
        ipcv_expect_true(n == (ssize_t)strlen(msgs[i]) && !memcmp(buf, msgs[i], (size_t)n),
                         "datagram %d: %zd bytes", i, n);
        ipcv_expect_eq(sa.sin_port, from.sin_port);
    }
    SAFE(sendto(s, msgs[2], 9, 0, (struct sockaddr *)&ra, sizeof ra));
    SAFE(sendto(s, "z", 1, 0, (struct sockaddr *)&ra, sizeof ra));
    struct iovec iov = { buf, 3 };
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
    ipcv_expect_eq(3, recvmsg(r, &mh, 0));
    ipcv_expect_bits(MSG_TRUNC, mh.msg_flags);
    ipcv_expect_eq(1, recv(r, buf, sizeof buf, 0));
    ipcv_expect_eq('z', buf[0]);
    close(r);
    close(s);
}

/* connect(2) ECONNREFUSED: "A connect() on a stream socket found no one
 * listening on the remote address"; bind(2) EADDRINUSE for a port held. */
IPCV_CASE(inet_socket, tcp_connect_without_listener_and_bind_in_use_fail,
          .tags = "api", .covers = "B733", .spec = "connect(2) ECONNREFUSED; bind(2) EADDRINUSE",
          .desc = "connecting to a 127.0.0.1 port that is bound but not listening fails ECONNREFUSED; binding a second socket to a listening port fails EADDRINUSE")
{
    struct sockaddr_in a, l;
    int held = loopback_socket(SOCK_STREAM, &a);
    int c = SAFE(socket(AF_INET, SOCK_STREAM, 0));
    ipcv_expect_fail(ECONNREFUSED, connect(c, (struct sockaddr *)&a, sizeof a));
    close(c);
    int srv = listener(&l);
    int other = SAFE(socket(AF_INET, SOCK_STREAM, 0));
    ipcv_expect_fail(EADDRINUSE, bind(other, (struct sockaddr *)&l, sizeof l));
    close(other);
    close(srv);
    close(held);
}

static atomic_int sigpipes;

static void count_sigpipe(int sig)
{
    (void)sig;
    atomic_fetch_add(&sigpipes, 1);
}

/* send(2) EPIPE: "The local end has been shut down on a connection
 * oriented socket. In this case, the process will also receive a SIGPIPE
 * unless MSG_NOSIGNAL is set." */
IPCV_CASE(inet_socket, tcp_send_after_shutdown_fails_epipe,
          .tags = "api", .covers = "B733", .spec = "send(2) EPIPE, MSG_NOSIGNAL; shutdown(2)",
          .desc = "after shutdown(SHUT_WR) of a loopback TCP connection, send with MSG_NOSIGNAL fails EPIPE without a signal and write fails EPIPE with one SIGPIPE; the peer reads end-of-file")
{
    struct sockaddr_in a;
    int srv = listener(&a);
    int c = SAFE(socket(AF_INET, SOCK_STREAM, 0));
    SAFE(connect(c, (struct sockaddr *)&a, sizeof a));
    int p = SAFE(accept(srv, NULL, NULL));
    struct sigaction sa = { .sa_handler = count_sigpipe }, old;
    sigemptyset(&sa.sa_mask);
    SAFE(sigaction(SIGPIPE, &sa, &old));
    atomic_store(&sigpipes, 0);
    SAFE(shutdown(c, SHUT_WR));
    ipcv_expect_fail(EPIPE, send(c, "x", 1, MSG_NOSIGNAL));
    ipcv_expect_eq(0, atomic_load(&sigpipes));
    ipcv_expect_fail(EPIPE, write(c, "x", 1));
    ipcv_expect_eq(1, atomic_load(&sigpipes));
    SAFE(sigaction(SIGPIPE, &old, NULL));
    char buf[4];
    ipcv_expect_eq(0, recv(p, buf, sizeof buf, 0));
    close(p);
    close(c);
    close(srv);
}

static int endless_tcp(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct sockaddr_in *a = arg;
    int s = SAFE(socket(AF_INET, SOCK_STREAM, 0));
    int small = 4096;
    SAFE(setsockopt(s, SOL_SOCKET, SO_SNDBUF, &small, sizeof small));
    SAFE(connect(s, (struct sockaddr *)a, sizeof *a));
    static unsigned char buf[4096];
    for (size_t off = 0;; off += sizeof buf) {
        pattern(buf, sizeof buf, off);
        if (send(s, buf, sizeof buf, 0) != (ssize_t)sizeof buf)
            return 1;
    }
}

/* tcp(7): a process killed mid-stream has its socket closed by the kernel
 * (FIN, since it had nothing unread): the peer reads a correct prefix of
 * the stream, then end-of-file. */
IPCV_CASE(inet_socket, tcp_sender_killed_mid_stream_leaves_a_prefix_then_eof,
          .tags = "multi crash", .covers = "B733", .spec = "tcp(7)",
          .desc = "a process streaming over loopback TCP is SIGKILLed while asleep in send; the reader gets a correct prefix of the stream, then 0, not an error")
{
    struct sockaddr_in a;
    int srv = listener(&a);
    int rcvbuf = 4096;
    SAFE(setsockopt(srv, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf));
    struct ipcv_role *r = ipcv_spawn("sender", endless_tcp, &a);
    int c = SAFE(accept(srv, NULL, NULL));
    ipcv_wait_blocked(r, "sendto");
    SAFE(kill(ipcv_role_pid(r), SIGKILL));
    ipcv_join(r, IPCV_KILLED(SIGKILL));
    size_t cap = 8 << 20, total = 0;
    unsigned char *got = SAFE_PTR(malloc(cap)), *want = SAFE_PTR(malloc(cap));
    ssize_t n = 0;
    while (total < cap && (n = recv(c, got + total, cap - total, 0)) > 0)
        total += (size_t)n;
    ipcv_expect_true(n == 0, "recv after the sender died: %zd (%s)", n, n < 0 ? ipcv_errname(errno) : "stream too long");
    ipcv_expect_true(total > 0, "nothing arrived");
    pattern(want, total, 0);
    ipcv_expect_mem(want, got, total);
    free(got);
    free(want);
    close(c);
    close(srv);
}

static void on_usr1(int sig)
{
    (void)sig;
    atomic_fetch_add(&SH->handled, 1);
}

struct intr_job { int fd; int sa_flags; int timeo; };

static int tcp_receiver(struct ipcv_role *self, void *arg)
{
    struct intr_job *j = arg;
    struct sigaction sa = { .sa_handler = on_usr1, .sa_flags = j->sa_flags };
    sigemptyset(&sa.sa_mask);
    SAFE(sigaction(SIGUSR1, &sa, NULL));
    if (j->timeo) {
        struct timeval tv = { 30, 0 };
        SAFE(setsockopt(j->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
    }
    ipcv_ready(self);
    char c;
    errno = 0;
    long rc = recv(j->fd, &c, 1, 0);
    SH->err = errno;
    SH->result = rc;
    atomic_store(&SH->done, 1);
    return 0;
}

static int sleeps_in_recvfrom(pid_t pid)
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
    if (!paren || paren[2] != 'S')
        return 0;
    snprintf(path, sizeof path, "/proc/%d/syscall", (int)pid);
    f = fopen(path, "re");
    if (!f)
        return 0;
    long nr = -1;
    int ok = fscanf(f, "%ld", &nr) == 1;
    fclose(f);
    return ok && nr == SYS_recvfrom;
}

static int settled(void *arg)
{
    return atomic_load(&SH->done) || (atomic_load(&SH->handled) && sleeps_in_recvfrom(*(pid_t *)arg));
}

/* signal(7): recv on a TCP socket is restarted under SA_RESTART, but not
 * when SO_RCVTIMEO is set: then it fails EINTR whatever the flags. */
IPCV_CASE(inet_socket, interrupted_tcp_recv_restarts_only_with_sa_restart_and_no_timeout,
          .tags = "multi fault", .covers = "B733", .spec = "signal(7) Interruption of system calls (SO_RCVTIMEO)",
          .desc = "a recv asleep on a loopback TCP connection, signalled: without SA_RESTART it fails EINTR; with SA_RESTART it restarts and returns the byte sent later; with SA_RESTART and SO_RCVTIMEO it fails EINTR")
{
    static const struct { const char *what; int sa_flags, timeo, restarts; } rows[] = {
        { "no SA_RESTART", 0, 0, 0 }, { "SA_RESTART", SA_RESTART, 0, 1 },
        { "SA_RESTART with SO_RCVTIMEO", SA_RESTART, 1, 0 },
    };
    struct sockaddr_in a;
    int srv = listener(&a);
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        memset(SH, 0, sizeof *SH);
        int c = SAFE(socket(AF_INET, SOCK_STREAM, 0));
        SAFE(connect(c, (struct sockaddr *)&a, sizeof a));
        int p = SAFE(accept(srv, NULL, NULL));
        struct intr_job j = { p, rows[i].sa_flags, rows[i].timeo };
        struct ipcv_role *r = ipcv_spawn("receiver", tcp_receiver, &j);
        ipcv_wait_ready(r);
        ipcv_wait_blocked(r, "recvfrom");
        SAFE(kill(ipcv_role_pid(r), SIGUSR1));
        pid_t pid = ipcv_role_pid(r);
        if (!ipcv_poll_until(settled, &pid, ipcv_wait_bound()))
            ipcv_brk(__FILE__, __LINE__, "%s: the role neither returned nor slept again", rows[i].what);
        if (!atomic_load(&SH->done))
            SAFE(send(c, "r", 1, 0));
        ipcv_join(r, IPCV_EXITED(0));
        if (rows[i].restarts)
            ipcv_expect_true(SH->result == 1, "%s: expected the recv restarted and 1 byte, seen %ld (%s)",
                             rows[i].what, SH->result, ipcv_errname(SH->err));
        else
            ipcv_expect_true(SH->result == -1 && SH->err == EINTR, "%s: expected EINTR, seen %s",
                             rows[i].what, SH->result >= 0 ? "success after a restart" : ipcv_errname(SH->err));
        close(p);
        close(c);
    }
    close(srv);
}
