/* Unix-domain sockets: ancillary data between processes (SCM_RIGHTS,
 * SCM_CREDENTIALS) and the peer's credentials (SO_PEERCRED). */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ipcvet.h"

struct shared { ino_t ino[3]; pid_t pid; uid_t uid; gid_t gid; int ok; };
#define SH ((struct shared *)(void *)ipcv_self.page->scratch)

static void become_nobody(void)
{
    if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
        setresuid(65534, 65534, 65534) < 0)
        ipcv_skip("cannot become uid 65534: %s", ipcv_errname(errno));
}

static int open_fds(void)
{
    DIR *d = SAFE_PTR(opendir("/proc/self/fd"));
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += e->d_name[0] != '.';
    closedir(d);
    return n - 1;   /* the directory's own descriptor */
}

static ino_t ino_of(int fd)
{
    struct stat st;
    SAFE(fstat(fd, &st));
    return st.st_ino;
}

/* sendmsg with `n` descriptors in one SCM_RIGHTS message (cmsg_len as
 * given, or CMSG_LEN(n ints) when 0). */
static ssize_t send_fds(int sock, const int *fds, int n, const char *text, size_t cmsg_len)
{
    union { char buf[CMSG_SPACE(sizeof(int) * 4)]; struct cmsghdr align; } ctl;
    memset(&ctl, 0, sizeof ctl);
    struct iovec iov = { (void *)text, strlen(text) };
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
                         .msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)n) };
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = cmsg_len ? cmsg_len : CMSG_LEN(sizeof(int) * (size_t)n);
    memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)n);
    return sendmsg(sock, &mh, 0);
}

/* recvmsg with room for exactly `room` descriptors (CMSG_LEN, not
 * CMSG_SPACE: its padding would fit one more); returns how many arrived. */
static int recv_fds(int sock, int *fds, int room, char *text, size_t tlen, int flags, int *msg_flags)
{
    union { char buf[CMSG_SPACE(sizeof(int) * 4)]; struct cmsghdr align; } ctl;
    memset(&ctl, 0, sizeof ctl);
    struct iovec iov = { text, tlen };
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
                         .msg_controllen = CMSG_LEN(sizeof(int) * (size_t)room) };
    ssize_t r = recvmsg(sock, &mh, flags);
    if (msg_flags)
        *msg_flags = r < 0 ? -1 : mh.msg_flags;
    if (r < 0)
        return -1;
    int got = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            int k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
            memcpy(fds + got, CMSG_DATA(c), sizeof(int) * (size_t)k);
            got += k;
        }
    return got;
}

static int send_three_kinds(struct ipcv_role *self, void *arg)
{
    (void)self;
    int *sv = arg;
    close(sv[0]);
    int p[2];
    SAFE(pipe(p));
    SAFE(write(p[1], "through the pipe", 16));
    close(p[1]);
    int file = SAFE(open(ipcv_path("passed-file", 0), O_RDWR | O_CREAT | O_TRUNC, 0600));
    SAFE(write(file, "in the file", 11));
    int sp[2];
    SAFE(socketpair(AF_UNIX, SOCK_DGRAM, 0, sp));
    SAFE(send(sp[0], "queued", 6, 0));
    int fds[3] = { p[0], file, sp[1] };
    for (int i = 0; i < 3; i++)
        SH->ino[i] = ino_of(fds[i]);
    /* One, two, then three descriptors per message. */
    ipcv_expect_eq(1, send_fds(sv[1], fds, 1, "1", 0));
    ipcv_expect_eq(1, send_fds(sv[1], fds + 1, 2, "2", 0));
    ipcv_expect_eq(1, send_fds(sv[1], fds, 3, "3", 0));
    return 0;   /* its own copies close as it exits */
}

/* unix(7) SCM_RIGHTS: "Send or receive a set of open file descriptors from
 * another process ... as though they have been created with dup(2)." */
IPCV_CASE(unix_socket, scm_rights_passes_descriptors_to_another_process,
          .tags = "multi", .covers = "B728", .spec = "unix(7) SCM_RIGHTS",
          .desc = "a process passes a pipe read end, a file and a datagram socket in messages of 1, 2 and 3 descriptors, then exits; the receiver gets 6 new descriptors naming the same objects: the pipe's and socket's queued data and the file's bytes are readable")
{
    int sv[2];
    SAFE(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv));
    struct ipcv_role *r = ipcv_spawn("sender", send_three_kinds, sv);
    ipcv_join(r, IPCV_EXITED(0));
    close(sv[1]);
    int fds[8], want[] = { 1, 2, 3 };
    int first[] = { 0, 1, 0 };
    for (int m = 0; m < 3; m++) {
        char text[4] = "";
        int got = recv_fds(sv[0], fds, 4, text, sizeof text, MSG_DONTWAIT, NULL);
        ipcv_expect_eq(want[m], got);
        for (int i = 0; i < got && i < want[m]; i++)
            ipcv_expect_eq(SH->ino[first[m] + i], ino_of(fds[i]));
        if (m == 2 && got == 3) {
            char buf[32] = "";
            ipcv_expect_eq(16, read(fds[0], buf, sizeof buf));
            ipcv_expect_mem("through the pipe", buf, 16);
            ipcv_expect_eq(11, pread(fds[1], buf, sizeof buf, 0));
            ipcv_expect_mem("in the file", buf, 11);
            ipcv_expect_eq(6, recv(fds[2], buf, sizeof buf, MSG_DONTWAIT));
            ipcv_expect_mem("queued", buf, 6);
        }
        for (int i = 0; i < got; i++)
            close(fds[i]);
    }
    close(sv[0]);
}

/* unix(7)/sendmsg(2): EBADF for a descriptor in SCM_RIGHTS that is not
 * open; EINVAL for a control message whose cmsg_len is shorter than its
 * header. Nothing is sent. */
IPCV_CASE(unix_socket, scm_rights_with_a_bad_descriptor_or_header_fails,
          .tags = "api", .covers = "B728", .spec = "unix(7) SCM_RIGHTS; sendmsg(2) EBADF, EINVAL",
          .desc = "sendmsg with SCM_RIGHTS naming fd -1 or a closed fd fails EBADF, and with cmsg_len one byte short of a header fails EINVAL; the peer has nothing to read")
{
    int sv[2];
    SAFE(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv));
    int closed = SAFE(dup(0));
    close(closed);
    int bad[] = { -1 }, gone[] = { 0, closed };
    ipcv_expect_fail(EBADF, send_fds(sv[0], bad, 1, "x", 0));
    ipcv_expect_fail(EBADF, send_fds(sv[0], gone, 2, "x", 0));
    int ok[] = { 0 };
    ipcv_expect_fail(EINVAL, send_fds(sv[0], ok, 1, "x", sizeof(struct cmsghdr) - 1));
    char c;
    ipcv_expect_fail(EAGAIN, recv(sv[1], &c, 1, MSG_DONTWAIT));
    close(sv[0]);
    close(sv[1]);
}

/* recvmsg(2) MSG_CTRUNC: "some control data was discarded due to lack of
 * space in the buffer for ancillary data"; descriptors that do not fit
 * are closed, not leaked into the receiver. */
IPCV_CASE(unix_socket, scm_rights_into_a_short_control_buffer_sets_msg_ctrunc,
          .tags = "api cleanup", .covers = "B728", .spec = "recvmsg(2) MSG_CTRUNC; unix(7) SCM_RIGHTS",
          .desc = "three descriptors received with room for one: recvmsg sets MSG_CTRUNC, installs exactly one descriptor (the first sent), and the receiver's open descriptor count grows by one")
{
    int sv[2], p[2];
    SAFE(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv));
    SAFE(pipe(p));
    int fds[3] = { p[0], p[1], p[0] };
    SAFE(send_fds(sv[0], fds, 3, "x", 0));
    int before = open_fds();
    int got[4], flags = 0;
    char text[4];
    int n = recv_fds(sv[1], got, 1, text, sizeof text, MSG_DONTWAIT, &flags);
    ipcv_expect_eq(1, n);
    ipcv_expect_bits(MSG_CTRUNC, flags);
    ipcv_expect_eq(before + 1, open_fds());
    if (n >= 1) {
        ipcv_expect_eq(ino_of(p[0]), ino_of(got[0]));
        ipcv_expect_eq(O_RDONLY, fcntl(got[0], F_GETFL) & O_ACCMODE);
        close(got[0]);
    }
    close(p[0]);
    close(p[1]);
    close(sv[0]);
    close(sv[1]);
}

/* recvmsg(2) MSG_CMSG_CLOEXEC: "Set the close-on-exec flag for the file
 * descriptor received via a UNIX domain file descriptor using the
 * SCM_RIGHTS operation". */
IPCV_CASE(unix_socket, scm_rights_with_msg_cmsg_cloexec_sets_fd_cloexec,
          .tags = "api", .covers = "B728", .spec = "recvmsg(2) MSG_CMSG_CLOEXEC",
          .desc = "a descriptor received with MSG_CMSG_CLOEXEC has FD_CLOEXEC; one received without it has not, even though the sender's copy had FD_CLOEXEC")
{
    int sv[2], p[2];
    SAFE(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv));
    SAFE(pipe2(p, O_CLOEXEC));
    int fds[1] = { p[0] };
    SAFE(send_fds(sv[0], fds, 1, "a", 0));
    SAFE(send_fds(sv[0], fds, 1, "b", 0));
    int got[4];
    char text[4];
    if (recv_fds(sv[1], got, 1, text, sizeof text, MSG_DONTWAIT | MSG_CMSG_CLOEXEC, NULL) == 1) {
        ipcv_expect_bits(FD_CLOEXEC, fcntl(got[0], F_GETFD));
        close(got[0]);
    } else {
        ipcv_expect_true(0, "no descriptor received with MSG_CMSG_CLOEXEC");
    }
    if (recv_fds(sv[1], got, 1, text, sizeof text, MSG_DONTWAIT, NULL) == 1) {
        ipcv_expect_nobits(FD_CLOEXEC, fcntl(got[0], F_GETFD));
        close(got[0]);
    } else {
        ipcv_expect_true(0, "no descriptor received without MSG_CMSG_CLOEXEC");
    }
    close(p[0]);
    close(p[1]);
    close(sv[0]);
    close(sv[1]);
}

/* Linux unix(7) sockets install the passed descriptors on MSG_PEEK too;
 * the message (and its descriptors) stay queued for the real receive. */
IPCV_CASE(unix_socket, scm_rights_peek_installs_copies_and_keeps_the_message,
          .tags = "api", .covers = "B728", .spec = "unix(7) SCM_RIGHTS; recv(2) MSG_PEEK",
          .desc = "MSG_PEEK of a message carrying a pipe end yields a descriptor for that pipe; the following receive yields the same text and another descriptor for the same pipe")
{
    int sv[2], p[2];
    SAFE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    SAFE(pipe(p));
    int fds[1] = { p[0] };
    SAFE(send_fds(sv[0], fds, 1, "peek", 0));
    int a[4] = { -1 }, b[4] = { -1 };
    char t1[8] = "", t2[8] = "";
    int na = recv_fds(sv[1], a, 1, t1, 4, MSG_DONTWAIT | MSG_PEEK, NULL);
    int nb = recv_fds(sv[1], b, 1, t2, 4, MSG_DONTWAIT, NULL);
    ipcv_expect_eq(1, na);
    ipcv_expect_eq(1, nb);
    ipcv_expect_mem("peek", t1, 4);
    ipcv_expect_mem("peek", t2, 4);
    if (na == 1 && nb == 1) {
        ipcv_expect_ne(a[0], b[0]);
        ipcv_expect_eq(ino_of(p[0]), ino_of(a[0]));
        ipcv_expect_eq(ino_of(p[0]), ino_of(b[0]));
    }
    if (na == 1)
        close(a[0]);
    if (nb == 1)
        close(b[0]);
    char c;
    ipcv_expect_fail(EAGAIN, recv(sv[1], &c, 1, MSG_DONTWAIT));
    close(p[0]);
    close(p[1]);
    close(sv[0]);
    close(sv[1]);
}

static int send_then_die(struct ipcv_role *self, void *arg)
{
    int *sv = arg;
    close(sv[0]);
    int p[2];
    SAFE(pipe(p));
    SAFE(write(p[1], "left behind", 11));
    int fds[1] = { p[0] };
    ipcv_expect_eq(1, send_fds(sv[1], fds, 1, "!", 0));
    ipcv_ready(self);
    ipcv_await_release(self);   /* killed here, holding the write end */
    return 0;
}

/* A descriptor in flight holds its file: the sender dying (SIGKILL)
 * after sendmsg does not invalidate it for the receiver. */
IPCV_CASE(unix_socket, descriptor_in_flight_survives_the_sender_being_killed,
          .tags = "multi crash", .covers = "B728", .spec = "unix(7) SCM_RIGHTS",
          .desc = "a process sends a pipe read end and is SIGKILLed before it is received; the receiver still gets a working descriptor: the pipe's 11 bytes, then end-of-file since the writer died")
{
    int sv[2];
    SAFE(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv));
    struct ipcv_role *r = ipcv_spawn("sender", send_then_die, sv);
    ipcv_wait_ready(r);
    SAFE(kill(ipcv_role_pid(r), SIGKILL));
    ipcv_join(r, IPCV_KILLED(SIGKILL));
    close(sv[1]);
    int fds[4];
    char text[4];
    int n = recv_fds(sv[0], fds, 1, text, sizeof text, MSG_DONTWAIT, NULL);
    ipcv_expect_eq(1, n);
    if (n == 1) {
        char buf[32] = "";
        ipcv_expect_eq(11, read(fds[0], buf, sizeof buf));
        ipcv_expect_mem("left behind", buf, 11);
        ipcv_expect_eq(0, read(fds[0], buf, sizeof buf));
        close(fds[0]);
    }
    close(sv[0]);
}

/* recvmsg, returning the SCM_CREDENTIALS of the message if any. */
static int recv_creds(int sock, struct ucred *uc)
{
    union { char buf[CMSG_SPACE(sizeof(struct ucred))]; struct cmsghdr align; } ctl;
    char text[16];
    struct iovec iov = { text, sizeof text };
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
                         .msg_controllen = sizeof ctl.buf };
    if (recvmsg(sock, &mh, MSG_DONTWAIT) < 0)
        return -1;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
            memcpy(uc, CMSG_DATA(c), sizeof *uc);
            return 1;
        }
    return 0;
}

struct cred_job { int sv[2]; int nobody; };

static int plain_sender(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct cred_job *j = arg;
    close(j->sv[0]);
    if (j->nobody)
        become_nobody();
    ipcv_expect_eq(2, send(j->sv[1], "hi", 2, 0));
    return 0;
}

/* unix(7) SO_PASSCRED: "Enabling this socket option causes receipt of the
 * credentials of the sending process in an SCM_CREDENTIALS ancillary
 * message in each subsequently received message"; the pid is given in the
 * receiver's PID namespace. */
IPCV_CASE(unix_socket, so_passcred_reports_each_senders_credentials,
          .tags = "multi", .covers = "B729", .spec = "unix(7) SO_PASSCRED, SCM_CREDENTIALS",
          .desc = "with SO_PASSCRED on the receiving end, plain messages from a root process and from a uid-65534 process arrive with SCM_CREDENTIALS naming each sender's pid (as the receiver sees it), uid and gid")
{
    for (int nobody = 0; nobody < 2; nobody++) {
        struct cred_job j = { .nobody = nobody };
        SAFE(socketpair(AF_UNIX, SOCK_DGRAM, 0, j.sv));
        int on = 1;
        SAFE(setsockopt(j.sv[0], SOL_SOCKET, SO_PASSCRED, &on, sizeof on));
        struct ipcv_role *r = ipcv_spawn(nobody ? "nobody" : "root", plain_sender, &j);
        ipcv_join(r, IPCV_EXITED(0));
        struct ucred uc = { 0, 0, 0 };
        ipcv_expect_eq(1, recv_creds(j.sv[0], &uc));
        ipcv_expect_eq(ipcv_role_pid(r), uc.pid);
        ipcv_expect_eq(nobody ? 65534 : 0, uc.uid);
        ipcv_expect_eq(nobody ? 65534 : 0, uc.gid);
        close(j.sv[0]);
        close(j.sv[1]);
    }
}

static ssize_t send_creds(int sock, pid_t pid, uid_t uid, gid_t gid)
{
    union { char buf[CMSG_SPACE(sizeof(struct ucred))]; struct cmsghdr align; } ctl;
    memset(&ctl, 0, sizeof ctl);
    struct iovec iov = { "cred", 4 };
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
                         .msg_controllen = sizeof ctl.buf };
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_CREDENTIALS;
    c->cmsg_len = CMSG_LEN(sizeof(struct ucred));
    struct ucred uc = { pid, uid, gid };
    memcpy(CMSG_DATA(c), &uc, sizeof uc);
    return sendmsg(sock, &mh, 0);
}

static int explicit_sender(struct ipcv_role *self, void *arg)
{
    (void)self;
    struct cred_job *j = arg;
    close(j->sv[0]);
    become_nobody();
    ipcv_expect_fail(EPERM, send_creds(j->sv[1], getpid(), 0, 65534));
    ipcv_expect_fail(EPERM, send_creds(j->sv[1], getpid(), 65534, 0));
    ipcv_expect_fail(EPERM, send_creds(j->sv[1], getpid() == 1 ? 2 : 1, 65534, 65534));
    ipcv_expect_eq(4, send_creds(j->sv[1], getpid(), 65534, 65534));
    return 0;
}

/* unix(7) SCM_CREDENTIALS: "The kernel checks the credentials": a process
 * without CAP_SYS_ADMIN/CAP_SETUID/CAP_SETGID may name only its own pid
 * and one of its own uids and gids; anything else is EPERM. */
IPCV_CASE(unix_socket, scm_credentials_may_name_only_the_senders_own_ids,
          .tags = "multi", .covers = "B729", .spec = "unix(7) SCM_CREDENTIALS",
          .desc = "uid 65534 sending SCM_CREDENTIALS with uid 0, gid 0 or another pid fails EPERM; with its own pid, uid and gid it succeeds and the receiver sees exactly those (one message in all)")
{
    struct cred_job j = { .nobody = 1 };
    SAFE(socketpair(AF_UNIX, SOCK_DGRAM, 0, j.sv));
    int on = 1;
    SAFE(setsockopt(j.sv[0], SOL_SOCKET, SO_PASSCRED, &on, sizeof on));
    struct ipcv_role *r = ipcv_spawn("nobody", explicit_sender, &j);
    ipcv_join(r, IPCV_EXITED(0));
    struct ucred uc = { 0, 0, 0 };
    ipcv_expect_eq(1, recv_creds(j.sv[0], &uc));
    ipcv_expect_eq(ipcv_role_pid(r), uc.pid);
    ipcv_expect_eq(65534, uc.uid);
    ipcv_expect_eq(65534, uc.gid);
    ipcv_expect_eq(-1, recv_creds(j.sv[0], &uc));
    close(j.sv[0]);
    close(j.sv[1]);
}

/* unix(7): without SO_PASSCRED on either end and without an explicit
 * SCM_CREDENTIALS message, no credentials are delivered. */
IPCV_CASE(unix_socket, no_credentials_without_so_passcred,
          .tags = "api", .covers = "B729", .spec = "unix(7) SO_PASSCRED",
          .desc = "a message sent on a datagram pair where neither end set SO_PASSCRED arrives with no ancillary data")
{
    int sv[2];
    SAFE(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv));
    SAFE(send(sv[1], "hi", 2, 0));
    struct ucred uc;
    ipcv_expect_eq(0, recv_creds(sv[0], &uc));
    close(sv[0]);
    close(sv[1]);
}

static int accept_and_look(struct ipcv_role *self, void *arg)
{
    struct sockaddr_un *sa = arg;
    int srv = SAFE(socket(AF_UNIX, SOCK_STREAM, 0));
    SAFE(bind(srv, (struct sockaddr *)sa, sizeof *sa));
    SAFE(listen(srv, 1));
    ipcv_ready(self);
    int c = SAFE(accept(srv, NULL, NULL));
    struct ucred uc;
    socklen_t len = sizeof uc;
    SAFE(getsockopt(c, SOL_SOCKET, SO_PEERCRED, &uc, &len));
    /* The peer lives outside this PID namespace: it has no pid here. */
    ipcv_expect_eq(0, uc.pid);
    ipcv_expect_eq(0, uc.uid);
    close(c);
    close(srv);
    unlink(sa->sun_path);
    return 0;
}

/* unix(7) SO_PEERCRED: "the credentials of the peer process connected to
 * this socket ... those that were in effect at the time of the call to
 * connect(2) or socketpair(2)"; they stay after the peer exits, and the pid
 * is translated into the caller's PID namespace (0 if invisible there). */
IPCV_CASE(unix_socket, so_peercred_outlives_the_peer_and_follows_pid_namespaces,
          .tags = "multi", .covers = "B730", .spec = "unix(7) SO_PEERCRED; pid_namespaces(7)",
          .desc = "a server in the case's PID namespace sees its client from the parent namespace as pid 0; the client sees the server's pid as the parent namespace knows it, and still after the server has exited")
{
    static struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", ipcv_path("peercred", 0));
    struct ipcv_role *r = ipcv_spawn("server", accept_and_look, &sa);
    ipcv_wait_ready(r);
    int c = SAFE(socket(AF_UNIX, SOCK_STREAM, 0));
    SAFE(connect(c, (struct sockaddr *)&sa, sizeof sa));
    ipcv_join(r, IPCV_EXITED(0));
    struct ucred uc = { 0, 0, 0 };
    socklen_t len = sizeof uc;
    SAFE(getsockopt(c, SOL_SOCKET, SO_PEERCRED, &uc, &len));
    ipcv_expect_eq(ipcv_role_pid(r), uc.pid);
    ipcv_expect_eq(0, uc.uid);
    ipcv_expect_eq(0, uc.gid);
    close(c);
}
