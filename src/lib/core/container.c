/* container.c - glue the lifecycle files share: logging through the
 * context, opening an existing container, its init's pidfd and its cgroup. */
#include "core/container.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sys/sys.h"
#include "util/util.h"

void capsa_log(const struct capsa_ctx *ctx, enum capsa_log_level level, const char *fmt, ...)
{
    if (ctx == NULL || ctx->log == NULL || level > ctx->log_level)
        return;
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    ctx->log(ctx->log_opaque, level, buf);
}

void capsa_log_warning_cb(void *opaque, const char *msg)
{
    capsa_log(opaque, CAPSA_LOG_WARNING, "%s", msg);
}

void capsa_wait_gone(int pidfd)
{
    if (pidfd < 0)
        return;
    /* A pidfd turns readable when its process has exited, child or not.
     * Bounded: a process stuck in the kernel must not hang us forever. */
    struct pollfd pfd = {.fd = pidfd, .events = POLLIN};
    while (poll(&pfd, 1, 30000) < 0 && errno == EINTR)
        ;
    siginfo_t si;
    memset(&si, 0, sizeof si);
    waitid(P_PIDFD, (id_t)pidfd, &si, WEXITED | WNOHANG);
}

int capsa_state_pidfd(const struct capsa_state *st)
{
    if (st->pid <= 0)
        return -ESRCH;
    int fd = capsa_pidfd_open(st->pid, 0);
    if (fd < 0)
        return -errno;
    /* The pidfd pins the process: if the start time still matches now, the
     * fd refers to the container's init and not to a reused pid. */
    unsigned long long start = 0;
    bool dead = false;
    if (capsa_proc_start_time(st->pid, &start, &dead) < 0 || start != st->start) {
        close(fd);
        return -ESRCH;
    }
    return fd;
}

int capsa_state_cgroup(const struct capsa_state *st, struct capsa_cgroup **out,
                       struct capsa_err *err)
{
    *out = NULL;
    if (st->cgroup == NULL || st->cgroup[0] == '\0')
        return 0;
    int r = capsa_cgroup_decode(st->cgroup, out, err);
    if (r < 0)
        return capsa_err_wrap(err, "container %s: cgroup in state", st->id);
    return 0;
}

void capsa_opened_release(struct capsa_opened *o)
{
    capsa_close(&o->dirfd);
    capsa_close(&o->rootfd);
    capsa_state_clear(&o->st);
    capsa_cgroup_free(o->cg);
    o->cg = NULL;
}

int capsa_container_open(const struct capsa_ctx *ctx, const char *id, unsigned flags,
                         struct capsa_opened *o, struct capsa_err *err)
{
    memset(o, 0, sizeof *o);
    o->rootfd = o->dirfd = -1;
    if (!capsa_id_valid(id))
        return capsa_err_setx(err, EINVAL, "invalid container id \"%s\"", id ? id : "");
    int r = capsa_state_root_open(ctx->root, &o->rootfd, err);
    if (r == 0)
        r = capsa_state_dir_open(o->rootfd, id, &o->dirfd, err);
    if (r == 0 && (r = capsa_state_read(o->dirfd, &o->st, err)) < 0)
        capsa_err_wrap(err, "container %s", id);
    if (r == 0) {
        o->status = capsa_state_status(o->dirfd, &o->st);
        if (flags & CAPSA_OPEN_CGROUP)
            r = capsa_state_cgroup(&o->st, &o->cg, err);
    }
    /* The recorded status may lag behind a freeze done by someone else. */
    if (r == 0 && o->cg && o->status == CAPSA_STATUS_RUNNING && capsa_cgroup_is_frozen(o->cg) == 1)
        o->status = CAPSA_STATUS_PAUSED;
    if (r < 0)
        capsa_opened_release(o);
    return r;
}

int capsa_check_passed_fds(const int *ours, size_t n, int passed, struct capsa_err *err)
{
    for (size_t i = 0; i < n; i++) {
        if (ours[i] >= 3 && ours[i] < 3 + passed)
            return capsa_err_setx(err, EBADF,
                                  "--preserve-fds %d: fd %d is not open in the caller (the "
                                  "runtime's own fd took its place)",
                                  passed, ours[i]);
    }
    return 0;
}
