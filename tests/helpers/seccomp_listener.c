/* seccomp_listener - a minimal seccomp agent for the integration tests (runs
 * on the host, not in the container).
 *
 *   seccomp_listener SOCKET STATE_OUT LOG_OUT [MODE [COUNT]]
 * Listens on the unix socket SOCKET, accepts COUNT (default 1) runtime
 * connections, writes the containerProcessState JSON each one sends to
 * STATE_OUT (the first) or STATE_OUT.N (the Nth, N >= 2) and checks that an
 * fd came with it (SCM_RIGHTS). Then, per fd, in MODE "continue" (the
 * default) it answers every notification with
 * SECCOMP_USER_NOTIF_FLAG_CONTINUE (the syscall runs as if unfiltered),
 * appending "nr=N" per notification to LOG_OUT, until every process using
 * the filter is gone; in MODE "hold" it keeps the fd and never answers (an
 * agent that hangs), until killed. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
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

/* Receive one containerProcessState and its fd from conn into STATE_OUT. */
static int receive_one(int conn, const char *state_out)
{
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
    FILE *out = fopen(state_out, "we");
    if (out == NULL)
        die(state_out);
    fwrite(buf, 1, len, out);
    fclose(out);
    if (nfd < 0) {
        fprintf(stderr, "seccomp_listener: no fd received\n");
        exit(1);
    }
    return nfd;
}

/* Answer every notification on nfd with CONTINUE until nobody uses it. */
static int serve(int nfd, const char *log_out)
{
    FILE *log = fopen(log_out, "ae");
    if (log == NULL)
        die(log_out);
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
        fprintf(log, "nr=%d pid=%u\n", req.data.nr, req.pid);
        struct seccomp_notif_resp resp = {.id = req.id, .flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE};
        /* ENOENT: the task died (or the syscall was interrupted) meanwhile. */
        if (ioctl(nfd, SECCOMP_IOCTL_NOTIF_SEND, &resp) < 0 && errno != ENOENT)
            die("SECCOMP_IOCTL_NOTIF_SEND");
    }
    fclose(log);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 4 || argc > 6) {
        fprintf(stderr,
                "usage: seccomp_listener SOCKET STATE_OUT LOG_OUT [continue|hold [COUNT]]\n");
        return 2;
    }
    int hold = argc >= 5 && strcmp(argv[4], "hold") == 0;
    if (argc >= 5 && !hold && strcmp(argv[4], "continue") != 0) {
        fprintf(stderr, "seccomp_listener: MODE is continue or hold\n");
        return 2;
    }
    int count = argc == 6 ? atoi(argv[5]) : 1;
    if (count < 1 || count > 16) {
        fprintf(stderr, "seccomp_listener: COUNT is 1..16\n");
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
    if (bind(ls, (struct sockaddr *)&a, sizeof a) < 0 || listen(ls, count) < 0)
        die(argv[1]);
    int held[16];
    int rc = 0;
    for (int i = 0; i < count; i++) {
        int conn = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
        if (conn < 0)
            die("accept");
        char path[4096];
        if (i == 0)
            snprintf(path, sizeof path, "%s", argv[2]);
        else
            snprintf(path, sizeof path, "%s.%d", argv[2], i + 1);
        int nfd = receive_one(conn, path);
        close(conn);
        if (hold) {
            held[i] = nfd; /* kept open, never read: the agent hangs */
            continue;
        }
        /* One server per fd, so that a later connection is still accepted. */
        pid_t pid = fork();
        if (pid < 0)
            die("fork");
        if (pid == 0) {
            close(ls);
            _exit(serve(nfd, argv[3]));
        }
        close(nfd);
    }
    close(ls);
    if (hold) {
        (void)held;
        for (;;)
            pause();
    }
    int st;
    while (wait(&st) > 0)
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
            rc = 1;
    return rc;
}
