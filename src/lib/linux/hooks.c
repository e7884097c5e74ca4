/* hooks.c - running OCI hooks: each hook is forked and executed with the
 * container state JSON on its stdin, its stdout and stderr both going to our
 * stderr, the spec's environment (the runtime's own when the hook has no
 * "env", as runc and crun do: a hook without one finds PATH) and no other
 * inherited file
 * descriptors; its timeout is enforced with SIGKILL through a pidfd.
 *
 * We are a library, so process-wide state (signal dispositions) is not ours
 * to change: SIGPIPE is avoided by filling the stdin pipe before the fork
 * whenever the state fits in it, and otherwise blocked only in the calling
 * thread while we write, with any SIGPIPE we caused consumed afterwards.
 */
#include "linux/hooks.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sys/sys.h"
#include "util/util.h"

/* Enough for any realistic state document (annotations included). */
#define STATE_PIPE_SIZE (256 * 1024)

struct hook_ctx {
    const char *kind;
    size_t index;
    const char *path;
};

#define HOOK_FMT     "%s hook #%zu (%s)"
#define HOOK_ARGS(c) (c)->kind, (c)->index, (c)->path

/* Child side, between fork and execve: only async-signal-safe calls. */
static __attribute__((noreturn)) void hook_child(const struct capsa_hook *h, int in_r, int err_w)
{
    char *fallback_argv[2] = {h->path, NULL};
    int e;

    /* Move our two fds above 2 so the dup2s below cannot clobber them. */
    int in = fcntl(in_r, F_DUPFD_CLOEXEC, 3);
    int ew = fcntl(err_w, F_DUPFD_CLOEXEC, 3);
    if (in < 0 || ew < 0)
        goto fail;
    if (dup2(in, STDIN_FILENO) < 0 || dup2(STDERR_FILENO, STDOUT_FILENO) < 0)
        goto fail;

    /* Leave no runtime fd (state dir, sync sockets, the container's
     * terminal...) open in a program we do not control. ew survives until
     * execve closes it (CLOEXEC) and so tells the parent the exec worked. */
    if (ew > 3)
        capsa_close_range(3, (unsigned int)ew - 1, 0);
    capsa_close_range((unsigned int)ew + 1, ~0U, 0);

    /* Dispositions set to SIG_IGN and the blocked mask survive execve; a hook
     * should start with a clean slate, like any program started from a shell. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP)
            continue;
        sigaction(sig, &sa, NULL);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);

    char *const *argv = (h->args != NULL && h->args[0] != NULL) ? h->args : fallback_argv;
    /* No "env" (not an empty one): the runtime's environment. */
    char *const *envp = h->env != NULL ? h->env : environ;
    execve(h->path, argv, envp);
fail:
    e = errno;
    if (ew >= 0) {
        ssize_t w = write(ew, &e, sizeof e);
        (void)w;
    }
    _exit(127);
}

static int remaining_ms(uint64_t deadline)
{
    if (deadline == 0)
        return -1;
    uint64_t now = capsa_now_ns();
    if (now >= deadline)
        return 0;
    uint64_t ms = (deadline - now + 999999) / 1000000;
    return ms > INT_MAX ? INT_MAX : (int)ms;
}

/* Wait for the hook to exit, feeding the rest of the state to its stdin
 * (in_w, non-blocking) meanwhile. Returns 0 with *status filled, or
 * -ETIMEDOUT when the deadline passed (the hook is then killed by the
 * caller), or another -errno. */
static int wait_hook(int pidfd, int *in_w, const char *data, size_t len, size_t *off,
                     uint64_t deadline, struct capsa_err *err, const struct hook_ctx *c)
{
    for (;;) {
        struct pollfd pfd[2] = {{.fd = pidfd, .events = POLLIN}, {.fd = -1}};
        nfds_t n = 1;
        if (*in_w >= 0) {
            pfd[1].fd = *in_w;
            pfd[1].events = POLLOUT;
            n = 2;
        }
        int r = poll(pfd, n, remaining_ms(deadline));
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return capsa_err_set(err, errno, HOOK_FMT ": poll", HOOK_ARGS(c));
        }
        if (r == 0)
            return -ETIMEDOUT;
        if (n == 2 && pfd[1].revents != 0) {
            ssize_t w = write(*in_w, data + *off, len - *off);
            if (w > 0)
                *off += (size_t)w;
            /* EPIPE: the hook closed its stdin without reading it all; that
             * is its right, not an error. */
            if ((w < 0 && errno != EAGAIN && errno != EINTR) || *off == len)
                capsa_close(in_w);
        }
        if (pfd[0].revents != 0)
            return 0;
    }
}

static int run_one(const struct hook_ctx *c, const struct capsa_hook *h, const char *state,
                   struct capsa_err *err)
{
    size_t len = state ? strlen(state) : 0;
    size_t off = 0;
    int in[2] = {-1, -1}, ep[2] = {-1, -1};
    if (pipe2(in, O_CLOEXEC) < 0)
        return capsa_err_set(err, errno, HOOK_FMT ": pipe", HOOK_ARGS(c));
    cleanup_close int in_r = in[0];
    cleanup_close int in_w = in[1];
    if (pipe2(ep, O_CLOEXEC) < 0)
        return capsa_err_set(err, errno, HOOK_FMT ": pipe", HOOK_ARGS(c));
    cleanup_close int ep_r = ep[0];
    cleanup_close int ep_w = ep[1];

    /* Fill stdin before the fork: the read end is still open here, so no
     * SIGPIPE is possible, and the common case needs no signal games. */
    if (len > 0) {
        (void)fcntl(in_w, F_SETPIPE_SZ, STATE_PIPE_SIZE);
        if (fcntl(in_w, F_SETFL, O_NONBLOCK) < 0)
            return capsa_err_set(err, errno, HOOK_FMT ": pipe", HOOK_ARGS(c));
        while (off < len) {
            ssize_t w = write(in_w, state + off, len - off);
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0 && errno == EAGAIN)
                break;
            if (w < 0)
                return capsa_err_set(err, errno, HOOK_FMT ": writing the state", HOOK_ARGS(c));
            off += (size_t)w;
        }
    }
    if (off == len)
        capsa_close(&in_w);

    pid_t pid = fork();
    if (pid < 0)
        return capsa_err_set(err, errno, HOOK_FMT ": fork", HOOK_ARGS(c));
    if (pid == 0)
        hook_child(h, in_r, ep_w);
    capsa_close(&in_r);
    capsa_close(&ep_w);

    /* We own this child and nobody else reaps it, so the pid cannot be
     * recycled before pidfd_open. */
    cleanup_close int pidfd = capsa_pidfd_open(pid, 0);
    if (pidfd < 0) {
        int e = errno;
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return capsa_err_set(err, e, HOOK_FMT ": pidfd_open", HOOK_ARGS(c));
    }

    /* The close-on-exec pipe gives EOF when execve succeeded, or the errno. */
    int child_errno = 0;
    ssize_t got = capsa_read_all(ep_r, &child_errno, sizeof child_errno);
    if (got == (ssize_t)sizeof child_errno) {
        waitpid(pid, NULL, 0);
        return capsa_err_set(err, child_errno, HOOK_FMT ": exec", HOOK_ARGS(c));
    }

    /* Only when the state did not fit in the pipe: block SIGPIPE in this
     * thread while writing the rest, remembering whether one was already
     * pending so we only swallow our own. */
    sigset_t pipeset, oldmask, pending;
    bool blocked = false, was_pending = false;
    if (in_w >= 0) {
        sigemptyset(&pipeset);
        sigaddset(&pipeset, SIGPIPE);
        sigpending(&pending);
        was_pending = sigismember(&pending, SIGPIPE);
        if (pthread_sigmask(SIG_BLOCK, &pipeset, &oldmask) == 0)
            blocked = true;
    }

    uint64_t deadline = 0;
    if (h->has_timeout && h->timeout > 0)
        deadline = capsa_now_ns() + (uint64_t)h->timeout * 1000000000ULL;
    int r = wait_hook(pidfd, &in_w, state, len, &off, deadline, err, c);
    capsa_close(&in_w);

    if (blocked) {
        sigpending(&pending);
        if (!was_pending && sigismember(&pending, SIGPIPE)) {
            struct timespec zero = {0, 0};
            sigtimedwait(&pipeset, NULL, &zero);
        }
        pthread_sigmask(SIG_SETMASK, &oldmask, NULL);
    }

    if (r == -ETIMEDOUT) {
        capsa_pidfd_send_signal(pidfd, SIGKILL, 0);
        waitpid(pid, NULL, 0);
        return capsa_err_setx(err, ETIMEDOUT, HOOK_FMT " timed out after %ds", HOOK_ARGS(c),
                              h->timeout);
    }
    if (r < 0) {
        capsa_pidfd_send_signal(pidfd, SIGKILL, 0);
        waitpid(pid, NULL, 0);
        return r;
    }

    int status = 0;
    pid_t w;
    do {
        w = waitpid(pid, &status, 0);
    } while (w < 0 && errno == EINTR);
    if (w < 0)
        return capsa_err_set(err, errno, HOOK_FMT ": waitpid", HOOK_ARGS(c));
    if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
        return capsa_err_setx(err, ECANCELED, HOOK_FMT " exited with status %d", HOOK_ARGS(c),
                              WEXITSTATUS(status));
    if (WIFSIGNALED(status)) {
        const char *name = sigabbrev_np(WTERMSIG(status));
        if (name != NULL)
            return capsa_err_setx(err, ECANCELED, HOOK_FMT " killed by signal SIG%s", HOOK_ARGS(c),
                                  name);
        return capsa_err_setx(err, ECANCELED, HOOK_FMT " killed by signal %d", HOOK_ARGS(c),
                              WTERMSIG(status));
    }
    return 0;
}

int capsa_hooks_run(const char *kind, const struct capsa_hook *hooks, size_t n,
                    const char *state_json, struct capsa_err *err)
{
    for (size_t i = 0; i < n; i++) {
        struct hook_ctx c = {.kind = kind ? kind : "hook", .index = i, .path = hooks[i].path};
        if (hooks[i].path == NULL)
            return capsa_err_setx(err, EINVAL, "%s hook #%zu: path is required", c.kind, i);
        int r = run_one(&c, &hooks[i], state_json, err);
        if (r < 0)
            return r;
    }
    return 0;
}

void capsa_hooks_run_all(const char *kind, const struct capsa_hook *hooks, size_t n,
                         const char *state_json, void (*warn)(void *opaque, const char *msg),
                         void *opaque)
{
    for (size_t i = 0; i < n; i++) {
        struct capsa_err err = {0};
        struct hook_ctx c = {.kind = kind ? kind : "hook", .index = i, .path = hooks[i].path};
        int r;
        if (hooks[i].path == NULL)
            r = capsa_err_setx(&err, EINVAL, "%s hook #%zu: path is required", c.kind, i);
        else
            r = run_one(&c, &hooks[i], state_json, &err);
        if (r < 0 && warn)
            warn(opaque, err.msg);
    }
}
