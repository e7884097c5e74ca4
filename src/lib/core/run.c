/* run.c - `run`: create + start + wait in the foreground. The runtime stays
 * the parent of the init, forwards the signals it receives to it, relays the
 * terminal when the container has one, and deletes the container at the end.
 * Signals are blocked before the clone and read through a signalfd, so none
 * is lost between the clone and the wait; the init resets its mask. */
#include "core/container.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/sync.h"
#include "linux/hooks.h"
#include "linux/terminal.h"
#include "sys/sys.h"
#include "uk/tender.h"
#include "util/util.h"

/* The signals `run` forwards to the container, as runc does: all of them
 * except the child's exit (ours to reap) and synchronous faults (raised by
 * our own code). Job-control stops are forwarded too: a `kill -TSTP` meant
 * for the container must reach it and not stop the runtime, which would
 * then neither relay nor reap. SIGWINCH is added once it is known that
 * there is no terminal (with one, the pty relay resizes the pty instead). */
static void forwarded_set(sigset_t *set)
{
    sigfillset(set);
    sigdelset(set, SIGCHLD);
    sigdelset(set, SIGWINCH);
    sigdelset(set, SIGSEGV);
    sigdelset(set, SIGBUS);
    sigdelset(set, SIGFPE);
    sigdelset(set, SIGILL);
    sigdelset(set, SIGTRAP);
}

static void forward_pending(int sfd, int pidfd)
{
    struct signalfd_siginfo si;
    while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si)
        capsa_pidfd_send_signal(pidfd, (int)si.ssi_signo, 0);
}

static bool exited(int pidfd)
{
    struct pollfd pp = {.fd = pidfd, .events = POLLIN};
    return poll(&pp, 1, 0) > 0;
}

/* Wait for the init to exit, forwarding signals and relaying the terminal. */
static int wait_exit(struct capsa_created *c, int sfd, struct capsa_err *err)
{
    cleanup_close int ep = -1;
    if (c->console_fd >= 0) {
        ep = epoll_create1(EPOLL_CLOEXEC);
        if (ep < 0)
            return capsa_err_set(err, errno, "epoll_create1");
        struct epoll_event ev = {.events = EPOLLIN};
        ev.data.fd = sfd;
        if (epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev) < 0)
            return capsa_err_set(err, errno, "epoll_ctl");
        ev.data.fd = c->pidfd;
        if (epoll_ctl(ep, EPOLL_CTL_ADD, c->pidfd, &ev) < 0)
            return capsa_err_set(err, errno, "epoll_ctl");
    }
    while (!exited(c->pidfd)) {
        if (c->console_fd >= 0) {
            struct capsa_err terr = {0};
            /* Returns when a signal or the exit is pending, or the pty
             * closed; in the last case go on without a terminal. */
            if (capsa_terminal_relay(c->console_fd, ep, &terr) < 0 || !exited(c->pidfd)) {
                struct pollfd pp = {.fd = sfd, .events = POLLIN};
                if (poll(&pp, 1, 0) <= 0)
                    capsa_close(&c->console_fd);
            }
        } else {
            struct pollfd pf[2] = {{.fd = sfd, .events = POLLIN},
                                   {.fd = c->pidfd, .events = POLLIN}};
            if (poll(pf, 2, -1) < 0 && errno != EINTR)
                return capsa_err_set(err, errno, "poll");
        }
        forward_pending(sfd, c->pidfd);
    }
    return 0;
}

/* Release the init (SYNC_START) and wait until it has executed the user
 * process: its end of the sync socket is close-on-exec, so EOF means exec. */
static int start_run_mode(struct capsa_created *c, struct capsa_err *err)
{
    int r = capsa_sync_send(c->sync_fd, CAPSA_SYNC_START, 0, NULL, 0, -1, err);
    if (r < 0)
        return r;
    struct capsa_sync_msg m;
    struct capsa_err e2 = {0};
    r = capsa_sync_recv(c->sync_fd, &m, &e2);
    if (r == -EPIPE)
        return 0;
    if (r < 0)
        return capsa_err_setx(err, -r, "%s", e2.msg);
    if (m.type == CAPSA_SYNC_ERROR)
        return capsa_sync_take_err(&m, "container init", err);
    capsa_sync_msg_clear(&m);
    return capsa_err_setx(err, EPROTO, "sync: unexpected message from init at start");
}

int capsa_container_run(const struct capsa_ctx *ctx, const char *id,
                        const struct capsa_create_opts *opts, bool detach, int *exit_code,
                        struct capsa_err *err)
{
    *exit_code = 0;
    if (detach) {
        int r = capsa_container_create(ctx, id, opts, err);
        if (r < 0)
            return r;
        r = capsa_container_start(ctx, id, err);
        if (r < 0) {
            struct capsa_err e2 = {0};
            capsa_container_delete(ctx, id, true, &e2);
        }
        return r;
    }

    sigset_t fwd, old;
    forwarded_set(&fwd);
    sigprocmask(SIG_BLOCK, &fwd, &old);
    int sfd = signalfd(-1, &fwd, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0) {
        int e = errno;
        sigprocmask(SIG_SETMASK, &old, NULL);
        return capsa_err_set(err, e, "signalfd");
    }
    struct capsa_created c;
    int r = capsa_create_internal(ctx, id, opts, true, &c, err);
    if (r < 0)
        goto out_sig;
    if (c.console_fd < 0) {
        /* No pty to resize: the container gets SIGWINCH like any other. */
        sigaddset(&fwd, SIGWINCH);
        sigprocmask(SIG_BLOCK, &fwd, NULL);
        if (signalfd(sfd, &fwd, SFD_CLOEXEC | SFD_NONBLOCK) < 0)
            capsa_log(ctx, CAPSA_LOG_WARNING, "signalfd: SIGWINCH not forwarded: %s",
                      strerror(errno));
    }
    r = start_run_mode(&c, err);
    if (r < 0) {
        capsa_create_rollback(&c);
        capsa_created_release(&c);
        goto out_sig;
    }
    /* No state write for "running": a created container without an exec
     * fifo (run mode has none) reads as running (capsa_state_status). */
    c.st.saved = CAPSA_STATUS_RUNNING;
    struct capsa_err werr = {0};
    if (c.spec->hooks.n_poststart > 0) {
        cleanup_free char *json = NULL;
        if (capsa_state_to_json(&c.st, CAPSA_STATUS_RUNNING, false, &json, &werr) < 0)
            capsa_log(ctx, CAPSA_LOG_WARNING, "poststart hooks: %s", werr.msg);
        else
            capsa_hooks_run_all("poststart", c.spec->hooks.poststart, c.spec->hooks.n_poststart,
                                json, capsa_log_warning_cb, (void *)ctx);
    }
    /* Do not hold the lock while the container runs: kill, state and
     * delete --force from other processes must work meanwhile. */
    {
        int fd = c.dirfd;
        c.dirfd = -1;
        close(fd);
    }
    r = wait_exit(&c, sfd, err);
    siginfo_t si;
    memset(&si, 0, sizeof si);
    while (waitid(P_PIDFD, (id_t)c.pidfd, &si, WEXITED) < 0 && errno == EINTR)
        ;
    if (si.si_code == CLD_EXITED)
        *exit_code = si.si_status;
    else if (si.si_code == CLD_KILLED || si.si_code == CLD_DUMPED)
        *exit_code = 128 + si.si_status;
    else
        *exit_code = 255;
    /* A unikernel dies of SIGSYS exactly when it makes a system call its
     * tender did not allow, of SIGSEGV and the like when it faults: say so. */
    bool unikernel = false;
    struct capsa_err uerr = {0};
    const char *signame = NULL, *why = capsa_uk_death_reason(si.si_status, &signame);
    if ((si.si_code == CLD_KILLED || si.si_code == CLD_DUMPED) && why != NULL &&
        capsa_uk_wanted(c.spec, &unikernel, &uerr) == 0 && unikernel)
        capsa_log(ctx, CAPSA_LOG_WARNING, "unikernel %s killed by %s: %s", id, signame, why);
    capsa_created_release(&c);
    /* --keep (runc): the stopped container stays, state says "stopped",
     * and delete removes it (running the poststop hooks then). */
    if (!opts->keep) {
        struct capsa_err derr = {0};
        int dr = capsa_container_delete(ctx, id, true, &derr);
        if (dr < 0 && dr != -ENOENT)
            capsa_log(ctx, CAPSA_LOG_WARNING, "delete %s: %s", id, derr.msg);
    }
out_sig:
    close(sfd);
    sigprocmask(SIG_SETMASK, &old, NULL);
    return r;
}
