/* seccomp_listener - a minimal seccomp agent for the integration tests (runs
 * on the host, not in the container).
 *
 *   seccomp_listener SOCKET STATE_OUT LOG_OUT
 * Listens on the unix socket SOCKET, accepts one runtime connection, writes
 * the containerProcessState JSON it receives to STATE_OUT and checks that an
 * fd came with it (SCM_RIGHTS); then answers every notification on that fd
 * with SECCOMP_USER_NOTIF_FLAG_CONTINUE (the syscall runs as if unfiltered),
 * appending "nr=N" per notification to LOG_OUT, until the container is gone. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <linux/seccomp.h>

/* True once buf holds one whole JSON object: braces balance outside strings.
 * The runtime may keep the connection open (runc does), so EOF cannot be
 * what ends the message. */
static int json_complete(const char *buf, size_t len)
{
    int depth = 0, in_str = 0, esc = 0, seen = 0;
    for (size_t i = 0; i < len; i++) {
        char ch = buf[i];
        if (in_str) {
            if (esc)
                esc = 0;
            else if (ch == '\\')
                esc = 1;
            else if (ch == '"')
                in_str = 0;
        } else if (ch == '"') {
            in_str = 1;
        } else if (ch == '{') {
            depth++;
            seen = 1;
        } else if (ch == '}') {
            depth--;
        }
    }
    return seen && depth == 0;
}

static void die(const char *what)
{
    fprintf(stderr, "seccomp_listener: %s: %s\n", what, strerror(errno));
    exit(1);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: seccomp_listener SOCKET STATE_OUT LOG_OUT\n");
        return 2;
    }
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (strlen(argv[1]) >= sizeof a.sun_path) {
        fprintf(stderr, "seccomp_listener: socket path too long\n");
        return 2;
    }
    memcpy(a.sun_path, argv[1], strlen(argv[1]) + 1);
    int ls = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (ls < 0)
        die("socket");
    unlink(argv[1]);
    if (bind(ls, (struct sockaddr *)&a, sizeof a) < 0 || listen(ls, 1) < 0)
        die(argv[1]);
    int conn = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
    if (conn < 0)
        die("accept");

    /* The fd comes with the first bytes; read on until the document is whole. */
    static char buf[1 << 16];
    size_t len = 0;
    int nfd = -1;
    union {
        char b[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } c;
    struct iovec iov = {.iov_base = buf, .iov_len = sizeof buf - 1};
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = c.b, .msg_controllen = sizeof c.b};
    ssize_t n = recvmsg(conn, &mh, MSG_CMSG_CLOEXEC);
    if (n < 0)
        die("recvmsg");
    struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
    if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
        memcpy(&nfd, CMSG_DATA(cm), sizeof nfd);
    len = (size_t)n;
    while (!json_complete(buf, len) && len < sizeof buf - 1 &&
           (n = read(conn, buf + len, sizeof buf - 1 - len)) > 0)
        len += (size_t)n;
    close(conn);
    close(ls);
    FILE *out = fopen(argv[2], "we");
    if (out == NULL)
        die(argv[2]);
    fwrite(buf, 1, len, out);
    fclose(out);
    if (nfd < 0) {
        fprintf(stderr, "seccomp_listener: no fd received\n");
        return 1;
    }
    FILE *log = fopen(argv[3], "ae");
    if (log == NULL)
        die(argv[3]);
    setvbuf(log, NULL, _IOLBF, 0);
    for (;;) {
        struct pollfd p = {.fd = nfd, .events = POLLIN};
        if (poll(&p, 1, -1) < 0) {
            if (errno == EINTR)
                continue;
            die("poll");
        }
        /* POLLHUP: every task using the filter has exited. */
        if (!(p.revents & POLLIN))
            break;
        struct seccomp_notif req;
        memset(&req, 0, sizeof req);
        if (ioctl(nfd, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0) {
            if (errno == EINTR || errno == ENOENT)
                continue;
            die("SECCOMP_IOCTL_NOTIF_RECV");
        }
        fprintf(log, "nr=%d\n", req.data.nr);
        struct seccomp_notif_resp resp = {.id = req.id, .flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE};
        /* ENOENT: the task died (or the syscall was interrupted) meanwhile. */
        if (ioctl(nfd, SECCOMP_IOCTL_NOTIF_SEND, &resp) < 0 && errno != ENOENT)
            die("SECCOMP_IOCTL_NOTIF_SEND");
    }
    fclose(log);
    return 0;
}
