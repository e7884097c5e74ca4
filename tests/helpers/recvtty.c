/* recvtty - console-socket peer for integration tests (like runc's tests/cmd/recvtty).
 *
 *   recvtty [--mode single|null] [--input TEXT] PATH
 *
 * Listens on the unix socket PATH, accepts one connection, receives the pty master via
 * SCM_RIGHTS and copies everything the container writes to it to stdout until EOF/EIO.
 * --mode null receives the fd and discards the output; --input writes TEXT to the master first.
 * Runs on the host, never in library code, so dying on error is fine here. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static void die(const char *what)
{
    fprintf(stderr, "recvtty: %s: %s\n", what, strerror(errno));
    exit(1);
}

static int recv_fd(int sock)
{
    char name[256];
    struct iovec iov = {.iov_base = name, .iov_len = sizeof(name)};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
    ssize_t n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    if (n < 0)
        die("recvmsg");
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    if (c == NULL || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
        c->cmsg_len != CMSG_LEN(sizeof(int))) {
        fprintf(stderr, "recvtty: no fd received\n");
        exit(1);
    }
    int fd;
    memcpy(&fd, CMSG_DATA(c), sizeof(fd));
    return fd;
}

int main(int argc, char **argv)
{
    const char *mode = "single", *input = NULL, *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--mode") == 0 && i + 1 < argc)
            mode = argv[++i];
        else if (strcmp(argv[i], "--input") == 0 && i + 1 < argc)
            input = argv[++i];
        else if (path == NULL && argv[i][0] != '-')
            path = argv[i];
        else {
            fprintf(stderr, "usage: recvtty [--mode single|null] [--input TEXT] PATH\n");
            return 2;
        }
    }
    if (path == NULL || (strcmp(mode, "single") != 0 && strcmp(mode, "null") != 0)) {
        fprintf(stderr, "usage: recvtty [--mode single|null] [--input TEXT] PATH\n");
        return 2;
    }

    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(addr.sun_path)) {
        fprintf(stderr, "recvtty: path too long\n");
        return 1;
    }
    memcpy(addr.sun_path, path, strlen(path) + 1);
    int ls = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (ls < 0)
        die("socket");
    unlink(path);
    if (bind(ls, (struct sockaddr *)&addr, sizeof(addr)) < 0)
        die("bind");
    if (listen(ls, 1) < 0)
        die("listen");
    int conn = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
    if (conn < 0)
        die("accept");
    int master = recv_fd(conn);
    close(conn);
    close(ls);
    unlink(path);

    if (input != NULL) {
        size_t len = strlen(input), off = 0;
        while (off < len) {
            ssize_t w = write(master, input + off, len - off);
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0)
                die("write");
            off += (size_t)w;
        }
    }

    char buf[4096];
    for (;;) {
        ssize_t n = read(master, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        /* EIO is how a pty master reports that every slave fd is closed. */
        if (n == 0 || (n < 0 && errno == EIO))
            break;
        if (n < 0)
            die("read");
        if (strcmp(mode, "null") == 0)
            continue;
        ssize_t off = 0;
        while (off < n) {
            ssize_t w = write(STDOUT_FILENO, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0)
                die("write stdout");
            off += w;
        }
    }
    return 0;
}
