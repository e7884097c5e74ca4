/* relay.c - wait for a foreground process; see relay.h. */
#include "core/relay.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "linux/terminal.h"
#include "sys/sys.h"
#include "util/util.h"

int capsa_relay_begin(struct capsa_relay *r, struct capsa_err *err)
{
    sigfillset(&r->fwd);
    static const int keep[] = {SIGCHLD, SIGWINCH, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP};
    for (size_t i = 0; i < ARRAY_SIZE(keep); i++)
        sigdelset(&r->fwd, keep[i]);
    sigprocmask(SIG_BLOCK, &r->fwd, &r->old);
    r->sfd = signalfd(-1, &r->fwd, SFD_CLOEXEC | SFD_NONBLOCK);
    if (r->sfd < 0) {
        int e = errno;
        sigprocmask(SIG_SETMASK, &r->old, NULL);
        return capsa_err_set(err, e, "signalfd");
    }
    return 0;
}

void capsa_relay_add_winch(struct capsa_relay *r)
{
    sigaddset(&r->fwd, SIGWINCH);
    sigprocmask(SIG_BLOCK, &r->fwd, NULL);
    /* On failure SIGWINCH stays blocked and is simply not forwarded. */
    signalfd(r->sfd, &r->fwd, SFD_CLOEXEC | SFD_NONBLOCK);
}

void capsa_relay_end(struct capsa_relay *r)
{
    if (r->sfd < 0)
        return;
    capsa_close(&r->sfd);
    sigprocmask(SIG_SETMASK, &r->old, NULL);
}

static bool exited(int pidfd)
{
    struct pollfd pp = {.fd = pidfd, .events = POLLIN};
    return poll(&pp, 1, 0) > 0;
}

static void forward_pending(int sfd, int pidfd)
{
    struct signalfd_siginfo si;
    while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si)
        capsa_pidfd_send_signal(pidfd, (int)si.ssi_signo, 0);
}

static int wait_loop(int sfd, int pidfd, int *console_fd, struct capsa_err *err)
{
    cleanup_close int ep = -1;
    if (*console_fd >= 0) {
        ep = epoll_create1(EPOLL_CLOEXEC);
        if (ep < 0)
            return capsa_err_set(err, errno, "epoll_create1");
        struct epoll_event ev = {.events = EPOLLIN};
        ev.data.fd = sfd;
        if (epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev) < 0)
            return capsa_err_set(err, errno, "epoll_ctl");
        ev.data.fd = pidfd;
        if (epoll_ctl(ep, EPOLL_CTL_ADD, pidfd, &ev) < 0)
            return capsa_err_set(err, errno, "epoll_ctl");
    }
    while (!exited(pidfd)) {
        if (*console_fd >= 0) {
            struct capsa_err terr = {0};
            /* Returns when a signal or the exit is pending, or the pty
             * closed; in the last case go on without a terminal. */
            if (capsa_terminal_relay(*console_fd, ep, &terr) < 0 || !exited(pidfd)) {
                struct pollfd pp = {.fd = sfd, .events = POLLIN};
                if (poll(&pp, 1, 0) <= 0)
                    capsa_close(console_fd);
            }
        } else {
            struct pollfd pf[2] = {{.fd = sfd, .events = POLLIN}, {.fd = pidfd, .events = POLLIN}};
            if (poll(pf, 2, -1) < 0 && errno != EINTR)
                return capsa_err_set(err, errno, "poll");
        }
        forward_pending(sfd, pidfd);
    }
    return 0;
}

int capsa_relay_wait(struct capsa_relay *r, int pidfd, int *console_fd, int *exit_code,
                     siginfo_t *si_out, struct capsa_err *err)
{
    int ret = wait_loop(r->sfd, pidfd, console_fd, err);
    siginfo_t si;
    memset(&si, 0, sizeof si);
    while (waitid(P_PIDFD, (id_t)pidfd, &si, WEXITED) < 0 && errno == EINTR)
        ;
    if (si.si_code == CLD_EXITED)
        *exit_code = si.si_status;
    else if (si.si_code == CLD_KILLED || si.si_code == CLD_DUMPED)
        *exit_code = 128 + si.si_status;
    else
        *exit_code = 255;
    if (si_out)
        *si_out = si;
    return ret;
}
