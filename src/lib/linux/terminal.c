/* terminal.c - pseudo-terminals for process.terminal.
 *
 * The pty pair is created inside the container (from the container's own
 * devpts instance) so the slave's name and ownership make sense there; the
 * master is then handed out over a unix socket with SCM_RIGHTS, either to
 * the --console-socket peer (as runc does) or to our own foreground relay.
 */
#include "linux/terminal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "sys/sys.h"
#include "util/util.h"

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif

/* Bind-mount the slave over /dev/console. open_tree(OPEN_TREE_CLONE) on the
 * slave fd itself needs no /proc and cannot be raced by a path swap; the
 * /proc/self/fd magic link is the fallback for kernels without the new
 * mount API. */
static int bind_console(int slave, struct capsa_err *err)
{
    struct stat st;
    if (lstat("/dev/console", &st) < 0) {
        if (errno != ENOENT)
            return capsa_err_set(err, errno, "stat /dev/console");
        int fd = open("/dev/console", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
            return capsa_err_set(err, errno, "create /dev/console");
        close(fd);
    } else if (S_ISLNK(st.st_mode) || S_ISDIR(st.st_mode)) {
        /* A symlink could point the mount anywhere in the container. */
        return capsa_err_setx(err, EINVAL, "/dev/console is a symlink or directory");
    }

    int tree = capsa_open_tree(slave, "", AT_EMPTY_PATH | OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
    if (tree >= 0) {
        cleanup_close int t = tree;
        if (capsa_move_mount(t, "", AT_FDCWD, "/dev/console", MOVE_MOUNT_F_EMPTY_PATH) < 0)
            return capsa_err_set(err, errno, "bind mount the pty slave on /dev/console");
        return 0;
    }
    if (errno != ENOSYS)
        return capsa_err_set(err, errno, "open_tree on the pty slave");
    char src[64];
    snprintf(src, sizeof src, "/proc/self/fd/%d", slave);
    if (mount(src, "/dev/console", NULL, MS_BIND, NULL) < 0)
        return capsa_err_set(err, errno, "bind mount %s on /dev/console", src);
    return 0;
}

/* A new pty from the container's devpts: the master must be the ptmx
 * character device (5:2), whatever the container placed at /dev/ptmx; the
 * slave is opened from the master (TIOCGPTPEER, relative to the master's
 * devpts instance), so no path in the container can redirect it. Returns
 * the master, the slave in *slave_out. */
static int open_pty(uint32_t height, uint32_t width, int *slave_out, struct capsa_err *err)
{
    static const char *const paths[] = {"/dev/pts/ptmx", "/dev/ptmx"};
    cleanup_close int master = -1;
    int e = 0;
    for (size_t i = 0; i < ARRAY_SIZE(paths) && master < 0; i++) {
        master = open(paths[i], O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (master < 0) {
            e = errno;
            continue;
        }
        struct stat sb;
        if (fstat(master, &sb) < 0 || !S_ISCHR(sb.st_mode) || major(sb.st_rdev) != 5 ||
            minor(sb.st_rdev) != 2) {
            capsa_close(&master);
            e = ENOTTY;
        }
    }
    if (master < 0)
        return capsa_err_set(err, e, "open the container's /dev/pts/ptmx");
    int unlock = 0;
    if (ioctl(master, TIOCSPTLCK, &unlock) < 0)
        return capsa_err_set(err, errno, "unlock the pty (TIOCSPTLCK)");
    cleanup_close int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (slave < 0)
        return capsa_err_set(err, errno, "open the pty slave (TIOCGPTPEER)");
    if (height > 0 || width > 0) {
        struct winsize ws = {.ws_row = (unsigned short)height, .ws_col = (unsigned short)width};
        if (ioctl(slave, TIOCSWINSZ, &ws) < 0)
            return capsa_err_set(err, errno, "process.consoleSize: TIOCSWINSZ");
    }
    *slave_out = steal_fd(slave);
    return steal_fd(master);
}

/* The slave becomes our controlling terminal and stdin, stdout, stderr,
 * owned by the process user. */
static int take_pty(int slave, uid_t owner, struct capsa_err *err)
{
    /* A session of our own (the runtime's children start one anyway). */
    if (setsid() < 0 && !(errno == EPERM && getsid(0) == getpid()))
        return capsa_err_set(err, errno, "setsid");
    if (ioctl(slave, TIOCSCTTY, 0) < 0)
        return capsa_err_set(err, errno, "TIOCSCTTY");
    for (int fd = 0; fd < 3; fd++)
        if (dup2(slave, fd) < 0)
            return capsa_err_set(err, errno, "dup2 the pty slave to fd %d", fd);
    return capsa_terminal_set_owner(slave, owner, err);
}

int capsa_terminal_setup_console(uint32_t height, uint32_t width, uid_t owner,
                                 struct capsa_err *err)
{
    cleanup_close int slave = -1;
    cleanup_close int master = open_pty(height, width, &slave, err);
    if (master < 0)
        return master;
    int r = bind_console(slave, err);
    if (r == 0)
        r = take_pty(slave, owner, err);
    return r < 0 ? r : steal_fd(master);
}

int capsa_terminal_open_exec_pty(uint32_t height, uint32_t width, uid_t owner,
                                 struct capsa_err *err)
{
    cleanup_close int slave = -1;
    cleanup_close int master = open_pty(height, width, &slave, err);
    if (master < 0)
        return capsa_err_wrap(err, "--tty");
    int r = take_pty(slave, owner, err);
    return r < 0 ? capsa_err_wrap(err, "--tty") : steal_fd(master);
}

int capsa_terminal_set_owner(int fd, uid_t uid, struct capsa_err *err)
{
    struct stat st;
    if (!isatty(fd))
        return 0;
    if (fstat(fd, &st) < 0)
        return capsa_err_set(err, errno, "stat the terminal (fd %d)", fd);
    if (st.st_uid == uid)
        return 0;
    if (fchown(fd, uid, (gid_t)-1) < 0 && errno != EPERM && errno != EROFS)
        return capsa_err_set(err, errno, "give the terminal to uid %u", (unsigned)uid);
    return 0;
}

/* One sendmsg carrying data (at least one byte: a zero-length stream
 * message would not carry the ancillary data) and fd in SCM_RIGHTS. */
static int send_fd_with(int sock, int fd, const char *data, size_t len, struct capsa_err *err)
{
    char zero = 0;
    struct iovec iov = {.iov_base = len ? (void *)data : &zero, .iov_len = len ? len : 1};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    memset(&u, 0, sizeof u);
    struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
    struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &fd, sizeof fd);
    ssize_t w;
    do {
        w = sendmsg(sock, &msg, MSG_NOSIGNAL);
    } while (w < 0 && errno == EINTR);
    if (w < 0)
        return capsa_err_set(err, errno, "sendmsg (SCM_RIGHTS)");
    return 0;
}

int capsa_fd_send(int sock, int fd, struct capsa_err *err)
{
    return send_fd_with(sock, fd, NULL, 0, err);
}

int capsa_fd_recv(int sock, int *fd_out, struct capsa_err *err)
{
    *fd_out = -1;
    char data[256];
    struct iovec iov = {.iov_base = data, .iov_len = sizeof data};
    /* Room for a few fds, so a peer sending more than one cannot make us
     * lose track of (and leak) the extras through MSG_CTRUNC. */
    union {
        char buf[CMSG_SPACE(sizeof(int) * 8)];
        struct cmsghdr align;
    } u;
    memset(&u, 0, sizeof u);
    struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
    ssize_t r;
    do {
        r = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    } while (r < 0 && errno == EINTR);
    if (r < 0)
        return capsa_err_set(err, errno, "recvmsg (SCM_RIGHTS)");
    int got = -1;
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm != NULL; cm = CMSG_NXTHDR(&msg, cm)) {
        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
            continue;
        size_t n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < n; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof fd);
            if (got < 0)
                got = fd;
            else
                close(fd);
        }
    }
    if (msg.msg_flags & MSG_CTRUNC) {
        capsa_close(&got);
        return capsa_err_setx(err, EPROTO, "recvmsg: control data truncated");
    }
    if (got < 0) {
        if (r == 0)
            return capsa_err_setx(err, ECONNRESET, "recvmsg: peer closed without sending a fd");
        return capsa_err_setx(err, EPROTO, "recvmsg: no file descriptor received");
    }
    *fd_out = got;
    return 0;
}

int capsa_console_socket_send(const char *path, int fd, struct capsa_err *err)
{
    cleanup_close int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (sock < 0)
        return capsa_err_set(err, errno, "console socket %s: socket", path);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    /* Outside the else block: sun_path names it through /proc/self/fd until connect. */
    // cppcheck-suppress [variableScope, unreadVariable] ; cleanup_close reads it
    cleanup_close int dirfd = -1;
    size_t plen = strlen(path);
    if (plen < sizeof sa.sun_path) {
        memcpy(sa.sun_path, path, plen + 1);
    } else {
        /* sun_path is 108 bytes; reach deep paths through an O_PATH fd on
         * the directory and its /proc/self/fd magic link, which keeps the
         * address short whatever the depth. */
        const char *slash = strrchr(path, '/');
        if (slash == NULL)
            return capsa_err_setx(err, ENAMETOOLONG, "console socket %s: name too long", path);
        const char *base = slash + 1;
        cleanup_free char *dir = strndup(path, (size_t)(slash - path));
        if (dir == NULL)
            return capsa_err_set(err, ENOMEM, "console socket %s", path);
        dirfd = open(dir[0] ? dir : "/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (dirfd < 0)
            return capsa_err_set(err, errno, "console socket %s: open directory", path);
        int n = snprintf(sa.sun_path, sizeof sa.sun_path, "/proc/self/fd/%d/%s", dirfd, base);
        if (n < 0 || (size_t)n >= sizeof sa.sun_path)
            return capsa_err_setx(err, ENAMETOOLONG, "console socket %s: name too long", path);
    }
    int r;
    do {
        r = connect(sock, (struct sockaddr *)&sa, sizeof sa);
    } while (r < 0 && errno == EINTR);
    if (r < 0)
        return capsa_err_set(err, errno, "connect to console socket %s", path);
    /* Like runc, the payload names the terminal: "/dev/pts/N" when fd is a
     * pty master, otherwise a generic name. */
    char name[64] = "/dev/ptmx";
    unsigned int ptn = 0;
    if (ioctl(fd, TIOCGPTN, &ptn) == 0)
        snprintf(name, sizeof name, "/dev/pts/%u", ptn);
    r = send_fd_with(sock, fd, name, strlen(name), err);
    if (r < 0)
        return capsa_err_wrap(err, "console socket %s", path);
    return 0;
}

/* ---- foreground relay ---- */

static int copy_window_size(int from, int to)
{
    struct winsize ws;
    if (ioctl(from, TIOCGWINSZ, &ws) < 0)
        return -errno;
    if (ioctl(to, TIOCSWINSZ, &ws) < 0)
        return -errno;
    return 0;
}

struct relay {
    int master;
    int stop_fd;
    int sigfd;
    bool in_open; /* still reading our stdin */
    bool stdin_tty;
    char buf[16384];   /* master -> stdout */
    char inbuf[16384]; /* stdin -> master, possibly not yet written */
    size_t in_len, in_off;
};

/* Copy what is readable on master to stdout. Returns 1 on data, 0 when the
 * master is drained/would block, -EIO at hangup (all slaves closed). */
static int pump_master(struct relay *rl, struct capsa_err *err)
{
    ssize_t r = read(rl->master, rl->buf, sizeof rl->buf);
    if (r < 0) {
        if (errno == EAGAIN || errno == EINTR)
            return 0;
        if (errno == EIO)
            return -EIO;
        return capsa_err_set(err, errno, "read from the pty master");
    }
    if (r == 0)
        return -EIO;
    int w = capsa_write_all(STDOUT_FILENO, rl->buf, (size_t)r);
    /* stdout gone (EPIPE): keep draining so the container does not block. */
    if (w < 0 && w != -EPIPE)
        return capsa_err_set(err, -w, "write to stdout");
    return 1;
}

static int relay_loop(struct relay *rl, struct capsa_err *err)
{
    for (;;) {
        struct pollfd pfd[4];
        nfds_t n = 0;
        /* The master is non-blocking: input the container has not taken
         * yet stays in inbuf (and we stop reading stdin) instead of blocking
         * us while the container may be waiting for us to read its output. */
        bool pending = rl->in_off < rl->in_len;
        pfd[n++] =
            (struct pollfd){.fd = rl->master, .events = (short)(POLLIN | (pending ? POLLOUT : 0))};
        pfd[n++] =
            (struct pollfd){.fd = (rl->in_open && !pending) ? STDIN_FILENO : -1, .events = POLLIN};
        pfd[n++] = (struct pollfd){.fd = rl->stop_fd, .events = POLLIN};
        pfd[n++] = (struct pollfd){.fd = rl->sigfd, .events = POLLIN};
        int pr = poll(pfd, n, -1);
        if (pr < 0) {
            if (errno == EINTR)
                continue;
            return capsa_err_set(err, errno, "poll");
        }
        if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            int r = pump_master(rl, err);
            if (r == -EIO)
                return 0;
            if (r < 0)
                return r;
        }
        if (pfd[1].revents) {
            ssize_t r = read(STDIN_FILENO, rl->inbuf, sizeof rl->inbuf);
            if (r < 0 && errno != EAGAIN && errno != EINTR && errno != EIO)
                return capsa_err_set(err, errno, "read from stdin");
            if (r == 0 || (r < 0 && errno == EIO)) {
                /* Our input ended; keep relaying the container's output. */
                rl->in_open = false;
            } else if (r > 0) {
                rl->in_len = (size_t)r;
                rl->in_off = 0;
                pending = true;
            }
        }
        if (pending) {
            ssize_t w = write(rl->master, rl->inbuf + rl->in_off, rl->in_len - rl->in_off);
            if (w > 0)
                rl->in_off += (size_t)w;
            else if (w < 0 && errno == EIO)
                return 0;
            else if (w < 0 && errno != EAGAIN && errno != EINTR)
                return capsa_err_set(err, errno, "write to the pty master");
        }
        if (pfd[3].revents) {
            struct signalfd_siginfo si;
            while (read(rl->sigfd, &si, sizeof si) == (ssize_t)sizeof si)
                ;
            if (rl->stdin_tty)
                copy_window_size(STDIN_FILENO, rl->master);
        }
        if (pfd[2].revents) {
            /* The process is gone: flush what it left in the pty, without
             * blocking (the master is non-blocking for this), then stop. */
            for (;;) {
                int r = pump_master(rl, err);
                if (r == -EIO || r == 0)
                    return 0;
                if (r < 0)
                    return r;
            }
        }
    }
}

int capsa_terminal_relay(int master, int stop_fd, struct capsa_err *err)
{
    /* 32 KiB of buffers on the stack: the relay runs on the CLI's main
     * thread, and this keeps it free of allocation failures. */
    struct relay relay_state;
    struct relay *rl = &relay_state;
    memset(rl, 0, sizeof *rl);
    rl->master = master;
    rl->stop_fd = stop_fd;
    rl->sigfd = -1;
    rl->in_open = fcntl(STDIN_FILENO, F_GETFD) >= 0;
    rl->stdin_tty = isatty(STDIN_FILENO);

    int flags = fcntl(master, F_GETFL);
    if (flags < 0)
        return capsa_err_set(err, errno, "fcntl on the pty master");
    if (!(flags & O_NONBLOCK) && fcntl(master, F_SETFL, flags | O_NONBLOCK) < 0)
        return capsa_err_set(err, errno, "fcntl on the pty master");

    /* SIGWINCH through a signalfd: no handler (a library must not install
     * one) and no async-signal-safety concerns. */
    sigset_t winch, oldmask;
    sigemptyset(&winch);
    sigaddset(&winch, SIGWINCH);
    int mr = pthread_sigmask(SIG_BLOCK, &winch, &oldmask);
    if (mr != 0) {
        fcntl(master, F_SETFL, flags);
        return capsa_err_set(err, mr, "blocking SIGWINCH");
    }
    cleanup_close int sigfd = signalfd(-1, &winch, SFD_CLOEXEC | SFD_NONBLOCK);
    rl->sigfd = sigfd;

    struct termios saved;
    bool restore = false;
    if (rl->stdin_tty) {
        copy_window_size(STDIN_FILENO, master);
        if (tcgetattr(STDIN_FILENO, &saved) == 0) {
            struct termios raw = saved;
            cfmakeraw(&raw);
            if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0)
                restore = true;
        }
    }

    int r = sigfd < 0 ? capsa_err_set(err, errno, "signalfd") : relay_loop(rl, err);

    if (restore)
        tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    pthread_sigmask(SIG_SETMASK, &oldmask, NULL);
    fcntl(master, F_SETFL, flags);
    return r;
}
