/* Unix-domain sockets in one process (and an unprivileged role where the
 * rule is about permissions): socketpair, bind/connect on filesystem and
 * abstract names, message boundaries, and the errors of unix(7). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ipcvet.h"

static void become_nobody(void)
{
    if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
        setresuid(65534, 65534, 65534) < 0)
        ipcv_skip("cannot become uid 65534: %s", ipcv_errname(errno));
}

/* A filesystem name in the case's directory, or an abstract one (leading
 * NUL); returns the address length. */
static socklen_t unix_addr(struct sockaddr_un *a, const char *name, int abstract)
{
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    if (abstract) {
        snprintf(a->sun_path + 1, sizeof a->sun_path - 1, "ipcvet.%d.%s", (int)getpid(), name);
        return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(a->sun_path + 1));
    }
    snprintf(a->sun_path, sizeof a->sun_path, "%s", ipcv_path(name, 0));
    return (socklen_t)sizeof *a;
}

static int lowest_free_fd(void)
{
    int fd = SAFE(dup(0));
    close(fd);
    return fd;
}

/* socketpair(2)/socket(2) ERRORS: EAFNOSUPPORT for an unknown domain,
 * EINVAL for an unknown type or flag, EPROTONOSUPPORT for a protocol the
 * domain/type lacks, EOPNOTSUPP for a domain without pairs (LTP
 * socketpair01). */
IPCV_CASE(unix_socket, socketpair_rejects_bad_domains_types_and_protocols,
          .tags = "api", .covers = "B194 B195 B196 B198", .spec = "socketpair(2), socket(2) ERRORS",
          .desc = "socketpair fails EAFNOSUPPORT for domain -1, EINVAL for type 15 and an unknown type flag, EPROTONOSUPPORT for AF_UNIX protocol 2 and AF_INET raw/TCP-dgram/ICMP-stream, EOPNOTSUPP for AF_INET TCP and UDP; no descriptor is left")
{
    static const struct { const char *what; int domain, type, protocol, err; } tcases[] = {
        { "domain -1", -1, SOCK_STREAM, 0, EAFNOSUPPORT },
        { "type 15", AF_UNIX, 15, 0, EINVAL },
        { "unknown type flag", AF_UNIX, SOCK_STREAM | 0x1000, 0, EINVAL },
        { "AF_UNIX protocol 2", AF_UNIX, SOCK_STREAM, 2, EPROTONOSUPPORT },   /* 0 and PF_UNIX are valid */
        { "AF_INET SOCK_RAW protocol 0", AF_INET, SOCK_RAW, 0, EPROTONOSUPPORT },
        { "AF_INET SOCK_DGRAM IPPROTO_TCP", AF_INET, SOCK_DGRAM, IPPROTO_TCP, EPROTONOSUPPORT },
        { "AF_INET SOCK_STREAM IPPROTO_ICMP", AF_INET, SOCK_STREAM, IPPROTO_ICMP, EPROTONOSUPPORT },
        { "AF_INET SOCK_STREAM IPPROTO_TCP", AF_INET, SOCK_STREAM, IPPROTO_TCP, EOPNOTSUPP },
        { "AF_INET SOCK_DGRAM IPPROTO_UDP", AF_INET, SOCK_DGRAM, IPPROTO_UDP, EOPNOTSUPP },
    };
    int probe = lowest_free_fd();
    for (size_t i = 0; i < sizeof tcases / sizeof tcases[0]; i++) {
        int sv[2] = { -1, -1 };
        errno = 0;
        int rc = socketpair(tcases[i].domain, tcases[i].type, tcases[i].protocol, sv);
        ipcv_expect_true(rc == -1 && errno == tcases[i].err, "socketpair(%s): expected %s, seen %s",
                         tcases[i].what, ipcv_errname(tcases[i].err), rc == -1 ? ipcv_errname(errno) : "success");
        if (rc == 0) {
            close(sv[0]);
            close(sv[1]);
        }
    }
    ipcv_expect_eq(probe, lowest_free_fd());
}

/* socketpair(2) EFAULT: "The address sv does not specify a valid part of
 * the process address space." The sockets made meanwhile are not left. */
IPCV_CASE(unix_socket, socketpair_into_an_unmapped_array_fails_efault,
          .tags = "api", .covers = "B197", .spec = "socketpair(2) EFAULT",
          .desc = "socketpair with an unmapped aligned or unaligned sv fails EFAULT and leaves no descriptor open")
{
    int probe = lowest_free_fd();
    int *volatile aligned = (int *)8, *volatile unaligned = (int *)9;
    ipcv_expect_fail(EFAULT, socketpair(AF_UNIX, SOCK_STREAM, 0, aligned));
    ipcv_expect_fail(EFAULT, socketpair(AF_UNIX, SOCK_DGRAM, 0, unaligned));
    ipcv_expect_eq(probe, lowest_free_fd());
}

/* unix(7) SOCK_DGRAM/SOCK_SEQPACKET "preserve message boundaries"; a
 * datagram read into a short buffer is truncated (MSG_TRUNC) and the rest
 * is discarded. */
IPCV_CASE(unix_socket, datagram_and_seqpacket_pairs_keep_message_boundaries,
          .tags = "api", .covers = "B199", .spec = "unix(7); socketpair(2); recv(2) MSG_TRUNC",
          .desc = "on AF_UNIX SOCK_DGRAM and SOCK_SEQPACKET pairs, sends of 2, 5 and 9 bytes come back as three reads of 2, 5 and 9; a 3-byte read of a 9-byte message returns 3 with MSG_TRUNC and the rest is gone")
{
    int types[] = { SOCK_DGRAM, SOCK_SEQPACKET };
    for (int t = 0; t < 2; t++) {
        int sv[2];
        SAFE(socketpair(AF_UNIX, types[t] | SOCK_NONBLOCK, 0, sv));
        const char *msgs[] = { "ab", "cdefg", "hijklmnop" };
        for (int i = 0; i < 3; i++)
            SAFE(send(sv[0], msgs[i], strlen(msgs[i]), 0));
        char buf[64];
        for (int i = 0; i < 3; i++) {
            ssize_t n = recv(sv[1], buf, sizeof buf, 0);
            ipcv_expect_true(n == (ssize_t)strlen(msgs[i]) && !memcmp(buf, msgs[i], (size_t)n),
                             "type %d message %d: %zd bytes", types[t], i, n);
        }
        SAFE(send(sv[0], msgs[2], 9, 0));
        SAFE(send(sv[0], "z", 1, 0));
        struct iovec iov = { buf, 3 };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
        ipcv_expect_eq(3, recvmsg(sv[1], &mh, 0));
        ipcv_expect_bits(MSG_TRUNC, mh.msg_flags);
        ipcv_expect_eq(1, recv(sv[1], buf, sizeof buf, 0));
        ipcv_expect_eq('z', buf[0]);
        close(sv[0]);
        close(sv[1]);
    }
}

/* socketpair(2)/socket(2): SOCK_NONBLOCK and SOCK_CLOEXEC in type set
 * O_NONBLOCK and FD_CLOEXEC on both new descriptors (LTP socketpair02). */
IPCV_CASE(unix_socket, socketpair_type_flags_set_cloexec_and_nonblock,
          .tags = "api", .covers = "B200", .spec = "socket(2) SOCK_NONBLOCK, SOCK_CLOEXEC",
          .desc = "for no flag, SOCK_CLOEXEC, SOCK_NONBLOCK and both, each end of the pair has FD_CLOEXEC and O_NONBLOCK exactly as asked, and a non-blocking recv on an empty pair fails EAGAIN")
{
    static const int flags[] = { 0, SOCK_CLOEXEC, SOCK_NONBLOCK, SOCK_CLOEXEC | SOCK_NONBLOCK };
    for (size_t i = 0; i < 4; i++) {
        int sv[2];
        SAFE(socketpair(AF_UNIX, SOCK_STREAM | flags[i], 0, sv));
        for (int e = 0; e < 2; e++) {
            int fd = fcntl(sv[e], F_GETFD), fl = fcntl(sv[e], F_GETFL);
            ipcv_expect_true(!!(fd & FD_CLOEXEC) == !!(flags[i] & SOCK_CLOEXEC),
                             "flags %#x end %d: F_GETFD %#x", flags[i], e, fd);
            ipcv_expect_true(!!(fl & O_NONBLOCK) == !!(flags[i] & SOCK_NONBLOCK),
                             "flags %#x end %d: F_GETFL %#x", flags[i], e, fl);
        }
        if (flags[i] & SOCK_NONBLOCK) {
            char c;
            ipcv_expect_fail(EAGAIN, recv(sv[0], &c, 1, 0));
        }
        close(sv[0]);
        close(sv[1]);
    }
}

/* bind(2): EAFNOSUPPORT for an address of the wrong family (an AF_UNIX
 * address on an AF_INET socket); unix(7) ENOTDIR "A component of the path
 * prefix is not a directory" (LTP bind01). */
IPCV_CASE(unix_socket, bind_to_a_foreign_family_or_a_bad_path_fails,
          .tags = "api", .covers = "B201", .spec = "bind(2) EAFNOSUPPORT; unix(7) ENOTDIR",
          .desc = "binding an AF_UNIX address to an AF_INET socket fails EAFNOSUPPORT; binding an AF_UNIX socket to file/sock where file is regular fails ENOTDIR")
{
    struct sockaddr_un a;
    socklen_t len = unix_addr(&a, "never", 0);
    int in = SAFE(socket(AF_INET, SOCK_STREAM, 0));
    ipcv_expect_fail(EAFNOSUPPORT, bind(in, (struct sockaddr *)&a, len));
    close(in);
    int u = SAFE(socket(AF_UNIX, SOCK_STREAM, 0));
    snprintf(a.sun_path, sizeof a.sun_path, "%s/sock", ipcv_path("regular", 1));
    ipcv_expect_fail(ENOTDIR, bind(u, (struct sockaddr *)&a, sizeof a));
    close(u);
}

/* unix(7): stream and seqpacket sockets connect to a listening name and
 * carry data both ways; datagram sockets send to a bound name; both
 * filesystem and abstract names (LTP bind04/bind05 for AF_UNIX). */
IPCV_CASE(unix_socket, named_sockets_connect_and_carry_data,
          .tags = "api", .covers = "B202", .spec = "unix(7); bind(2), listen(2), connect(2), accept(2)",
          .desc = "stream and seqpacket sockets bound to a filesystem and to an abstract name accept a connection and carry data both ways; datagram sockets bound to either kind of name exchange datagrams with sendto and see the sender's name")
{
    static const struct { const char *what; int type, abstract; } rows[] = {
        { "stream, filesystem", SOCK_STREAM, 0 }, { "stream, abstract", SOCK_STREAM, 1 },
        { "seqpacket, filesystem", SOCK_SEQPACKET, 0 }, { "seqpacket, abstract", SOCK_SEQPACKET, 1 },
        { "dgram, filesystem", SOCK_DGRAM, 0 }, { "dgram, abstract", SOCK_DGRAM, 1 },
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "srv%zu", i);
        struct sockaddr_un sa, ca, from;
        socklen_t slen = unix_addr(&sa, name, rows[i].abstract);
        int srv = SAFE(socket(AF_UNIX, rows[i].type, 0));
        SAFE(bind(srv, (struct sockaddr *)&sa, slen));
        char buf[32] = "";
        if (rows[i].type == SOCK_DGRAM) {
            snprintf(name, sizeof name, "cli%zu", i);
            socklen_t clen = unix_addr(&ca, name, rows[i].abstract);
            int cli = SAFE(socket(AF_UNIX, SOCK_DGRAM, 0));
            SAFE(bind(cli, (struct sockaddr *)&ca, clen));
            ipcv_expect_eq(4, sendto(cli, "ping", 4, 0, (struct sockaddr *)&sa, slen));
            socklen_t flen = sizeof from;
            ipcv_expect_eq(4, recvfrom(srv, buf, sizeof buf, 0, (struct sockaddr *)&from, &flen));
            /* A filesystem name comes back with its length up to the NUL. */
            ipcv_expect_true(rows[i].abstract ? flen == clen && !memcmp(&from, &ca, clen)
                                              : !strcmp(from.sun_path, ca.sun_path),
                             "%s: recvfrom names another sender", rows[i].what);
            ipcv_expect_eq(4, sendto(srv, "pong", 4, 0, (struct sockaddr *)&from, flen));
            ipcv_expect_eq(4, recv(cli, buf, sizeof buf, 0));
            ipcv_expect_mem("pong", buf, 4);
            close(cli);
            if (!rows[i].abstract)
                unlink(ca.sun_path);
        } else {
            SAFE(listen(srv, 1));
            int cli = SAFE(socket(AF_UNIX, rows[i].type, 0));
            ipcv_expect_ok(connect(cli, (struct sockaddr *)&sa, slen));
            int acc = accept(srv, NULL, NULL);
            ipcv_expect_true(acc >= 0, "%s: accept: %s", rows[i].what, ipcv_errname(errno));
            if (acc >= 0) {
                ipcv_expect_eq(4, send(cli, "ping", 4, 0));
                ipcv_expect_eq(4, recv(acc, buf, sizeof buf, 0));
                ipcv_expect_mem("ping", buf, 4);
                ipcv_expect_eq(4, send(acc, "pong", 4, 0));
                ipcv_expect_eq(4, recv(cli, buf, sizeof buf, 0));
                ipcv_expect_mem("pong", buf, 4);
                close(acc);
            }
            close(cli);
        }
        close(srv);
        if (!rows[i].abstract)
            unlink(sa.sun_path);
    }
}

static int connect_as_nobody(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct sockaddr_un *sa = arg;
    become_nobody();
    int s = SAFE(socket(AF_UNIX, SOCK_STREAM, 0));
    ipcv_expect_fail(EACCES, connect(s, (struct sockaddr *)sa, sizeof *sa));
    close(s);
    return 0;
}

/* connect(2)/unix(7): EPROTOTYPE when the socket types differ; EACCES
 * without write permission on the socket file; ECONNREFUSED when the name
 * exists but nobody listens; ENOENT for a missing name (LTP connect03). */
IPCV_CASE(unix_socket, connect_to_a_wrong_type_forbidden_or_dead_name_fails,
          .tags = "api multi", .covers = "B203", .spec = "connect(2); unix(7) ERRORS",
          .desc = "a datagram socket connecting to a stream listener fails EPROTOTYPE; uid 65534 connecting to a root 0755 socket file fails EACCES; a name whose socket is closed gives ECONNREFUSED and a missing one ENOENT")
{
    struct sockaddr_un sa, dead, missing;
    unix_addr(&sa, "listener", 0);
    int srv = SAFE(socket(AF_UNIX, SOCK_STREAM, 0));
    SAFE(bind(srv, (struct sockaddr *)&sa, sizeof sa));
    SAFE(listen(srv, 4));
    SAFE(chmod(sa.sun_path, 0755));
    int d = SAFE(socket(AF_UNIX, SOCK_DGRAM, 0));
    ipcv_expect_fail(EPROTOTYPE, connect(d, (struct sockaddr *)&sa, sizeof sa));
    close(d);
    struct ipcv_role *r = ipcv_spawn("nobody", connect_as_nobody, &sa);
    ipcv_join(r, IPCV_EXITED(0));

    unix_addr(&dead, "dead", 0);
    int gone = SAFE(socket(AF_UNIX, SOCK_STREAM, 0));
    SAFE(bind(gone, (struct sockaddr *)&dead, sizeof dead));
    close(gone);
    int c = SAFE(socket(AF_UNIX, SOCK_STREAM, 0));
    ipcv_expect_fail(ECONNREFUSED, connect(c, (struct sockaddr *)&dead, sizeof dead));
    unix_addr(&missing, "missing", 0);
    ipcv_expect_fail(ENOENT, connect(c, (struct sockaddr *)&missing, sizeof missing));
    close(c);
    close(srv);
    unlink(sa.sun_path);
    unlink(dead.sun_path);
}

static atomic_int sigpipes;

static void count_sigpipe(int sig)
{
    (void)sig;
    atomic_fetch_add(&sigpipes, 1);
}

/* unix(7)/send(2) EPIPE: "The local end has been shut down on a connection
 * oriented socket. In this case, the process will also receive a SIGPIPE
 * unless MSG_NOSIGNAL is set." -- also when the peer has closed. Linux
 * raises SIGPIPE for SOCK_STREAM only: a SOCK_SEQPACKET send gets EPIPE
 * without it (unix_dgram_sendmsg), although POSIX send() names both. */
IPCV_CASE(unix_socket, send_after_the_peer_closed_fails_epipe,
          .tags = "api", .covers = "B723", .spec = "send(2) EPIPE, MSG_NOSIGNAL",
          .desc = "on stream and seqpacket pairs whose peer is closed, send with MSG_NOSIGNAL fails EPIPE without a signal, and write fails EPIPE, with exactly one SIGPIPE on the stream pair")
{
    struct sigaction sa = { .sa_handler = count_sigpipe }, old;
    sigemptyset(&sa.sa_mask);
    SAFE(sigaction(SIGPIPE, &sa, &old));
    int types[] = { SOCK_STREAM, SOCK_SEQPACKET };
    for (int t = 0; t < 2; t++) {
        int sv[2];
        SAFE(socketpair(AF_UNIX, types[t], 0, sv));
        close(sv[1]);
        atomic_store(&sigpipes, 0);
        ipcv_expect_fail(EPIPE, send(sv[0], "x", 1, MSG_NOSIGNAL));
        ipcv_expect_eq(0, atomic_load(&sigpipes));
        ipcv_expect_fail(EPIPE, write(sv[0], "x", 1));
        ipcv_expect_eq(types[t] == SOCK_STREAM ? 1 : 0, atomic_load(&sigpipes));
        close(sv[0]);
    }
    SAFE(sigaction(SIGPIPE, &old, NULL));
}

/* unix(7)/gVisor listener-close: a connection still in the backlog when
 * the listener closes is reset: the client's next read fails ECONNRESET,
 * and SO_ERROR reports ECONNRESET once. */
IPCV_CASE(unix_socket, pending_connection_is_reset_when_the_listener_closes,
          .tags = "api cleanup", .covers = "B724", .spec = "unix(7); getsockopt(2) SO_ERROR",
          .desc = "two clients connected but never accepted: after the listener closes, one's recv fails ECONNRESET, the other's SO_ERROR is ECONNRESET and then 0")
{
    struct sockaddr_un sa;
    socklen_t len = unix_addr(&sa, "backlog", 1);
    int srv = SAFE(socket(AF_UNIX, SOCK_STREAM, 0));
    SAFE(bind(srv, (struct sockaddr *)&sa, len));
    SAFE(listen(srv, 4));
    int c1 = SAFE(socket(AF_UNIX, SOCK_STREAM, 0)), c2 = SAFE(socket(AF_UNIX, SOCK_STREAM, 0));
    SAFE(connect(c1, (struct sockaddr *)&sa, len));
    SAFE(connect(c2, (struct sockaddr *)&sa, len));
    close(srv);
    char c;
    ipcv_expect_fail(ECONNRESET, recv(c1, &c, 1, MSG_DONTWAIT));
    int err = -1;
    socklen_t elen = sizeof err;
    SAFE(getsockopt(c2, SOL_SOCKET, SO_ERROR, &err, &elen));
    ipcv_expect_eq(ECONNRESET, err);
    SAFE(getsockopt(c2, SOL_SOCKET, SO_ERROR, &err, &elen));
    ipcv_expect_eq(0, err);
    close(c1);
    close(c2);
}

/* unix(7) ECONNREFUSED: a datagram sent to a peer that has gone away, on a
 * connected pair or to a bound name whose socket is closed. */
IPCV_CASE(unix_socket, datagram_to_a_closed_peer_fails_econnrefused,
          .tags = "api", .covers = "B725", .spec = "unix(7) ECONNREFUSED",
          .desc = "send on a SOCK_DGRAM pair whose peer is closed fails ECONNREFUSED, and so does sendto a filesystem name whose datagram socket was closed")
{
    int sv[2];
    SAFE(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv));
    close(sv[1]);
    ipcv_expect_fail(ECONNREFUSED, send(sv[0], "x", 1, MSG_DONTWAIT));
    close(sv[0]);

    struct sockaddr_un sa;
    unix_addr(&sa, "gone", 0);
    int s = SAFE(socket(AF_UNIX, SOCK_DGRAM, 0));
    SAFE(bind(s, (struct sockaddr *)&sa, sizeof sa));
    close(s);
    int c = SAFE(socket(AF_UNIX, SOCK_DGRAM, 0));
    ipcv_expect_fail(ECONNREFUSED, sendto(c, "x", 1, MSG_DONTWAIT, (struct sockaddr *)&sa, sizeof sa));
    close(c);
    unlink(sa.sun_path);
}

/* unix(7) EADDRINUSE: "The specified local address is already in use or
 * the filesystem socket object already exists." An abstract name is freed
 * when its socket closes; a filesystem name stays until unlinked. */
IPCV_CASE(unix_socket, binding_a_name_in_use_fails_eaddrinuse,
          .tags = "api cleanup", .covers = "B726", .spec = "unix(7) EADDRINUSE; Address format",
          .desc = "a second bind of a live abstract or filesystem name fails EADDRINUSE; after close the abstract name can be bound again, the filesystem name only after unlink")
{
    for (int abstract = 0; abstract < 2; abstract++) {
        struct sockaddr_un sa;
        socklen_t len = unix_addr(&sa, "taken", abstract);
        int a = SAFE(socket(AF_UNIX, SOCK_DGRAM, 0)), b = SAFE(socket(AF_UNIX, SOCK_DGRAM, 0));
        SAFE(bind(a, (struct sockaddr *)&sa, len));
        ipcv_expect_fail(EADDRINUSE, bind(b, (struct sockaddr *)&sa, len));
        close(a);
        if (abstract) {
            ipcv_expect_ok(bind(b, (struct sockaddr *)&sa, len));
        } else {
            ipcv_expect_fail(EADDRINUSE, bind(b, (struct sockaddr *)&sa, len));
            SAFE(unlink(sa.sun_path));
            ipcv_expect_ok(bind(b, (struct sockaddr *)&sa, len));
            unlink(sa.sun_path);
        }
        close(b);
    }
}

/* open(2) ENXIO: "The file is a UNIX domain socket"; the same through
 * /proc/self/fd for a socketpair end. */
IPCV_CASE(unix_socket, opening_a_socket_fails_enxio,
          .tags = "api", .covers = "B727", .spec = "open(2) ENXIO",
          .desc = "open of a bound socket's path fails ENXIO, O_RDONLY and O_WRONLY, and open of /proc/self/fd/N for a socketpair end fails ENXIO")
{
    struct sockaddr_un sa;
    unix_addr(&sa, "node", 0);
    int s = SAFE(socket(AF_UNIX, SOCK_STREAM, 0));
    SAFE(bind(s, (struct sockaddr *)&sa, sizeof sa));
    ipcv_expect_fail(ENXIO, open(sa.sun_path, O_RDONLY));
    ipcv_expect_fail(ENXIO, open(sa.sun_path, O_WRONLY));
    int sv[2];
    SAFE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    char p[64];
    snprintf(p, sizeof p, "/proc/self/fd/%d", sv[0]);
    ipcv_expect_fail(ENXIO, open(p, O_RDWR));
    close(sv[0]);
    close(sv[1]);
    close(s);
    unlink(sa.sun_path);
}
