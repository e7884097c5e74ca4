/* lifecycle.c - start, kill, delete, state and list of existing containers.
 * Every command locks the container's state directory first; the live
 * status is always derived from the init process (pid + start time), never
 * trusted from the file alone. */
#include "core/container.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "level/level.h"
#include "linux/hooks.h"
#include "linux/rootfs.h"
#include "linux/systemd.h"
#include "sys/sys.h"
#include "util/util.h"

int capsa_container_start(const struct capsa_ctx *ctx, const char *id, struct capsa_err *err)
{
    struct capsa_opened o;
    int r = capsa_container_open(ctx, id, 0, &o, err);
    if (r < 0)
        return r;
    enum capsa_status status = o.status;
    if (status != CAPSA_STATUS_CREATED) {
        r = capsa_err_setx(err, EINVAL, "cannot start container %s: it is %s, not created", id,
                           capsa_status_name(status));
        capsa_opened_release(&o);
        return r;
    }
    cleanup_close int pidfd = capsa_state_pidfd(&o.st);
    cleanup_close int fifo = openat(o.dirfd, CAPSA_FIFO_FILE, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fifo < 0 || pidfd < 0) {
        r = capsa_err_set(err, fifo < 0 ? errno : ESRCH, "start %s: open exec fifo", id);
        capsa_opened_release(&o);
        return r;
    }
    /* The init opens the write end (it was waiting for a reader), writes one
     * NUL byte, and the write end closes at execve. Anything after the NUL
     * is an error message. */
    char buf[CAPSA_ERR_MSG_MAX + 2];
    size_t got = 0;
    bool eof = false, init_gone = false;
    while (!eof) {
        struct pollfd pf[2] = {{.fd = fifo, .events = POLLIN}, {.fd = pidfd, .events = POLLIN}};
        int n = poll(pf, init_gone ? 1 : 2, init_gone ? 1000 : -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            r = capsa_err_set(err, errno, "start %s: poll", id);
            break;
        }
        if (pf[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t rd = read(fifo, buf + got, sizeof buf - 1 - got);
            if (rd > 0) {
                got += (size_t)rd;
                if (got >= sizeof buf - 1)
                    eof = true;
            } else if (rd == 0) {
                eof = got > 0 || init_gone;
                if (!eof && !(pf[0].revents & POLLIN))
                    usleep(1000); /* never-opened fifo reported HUP: wait for the writer */
            } else if (errno != EAGAIN && errno != EINTR) {
                r = capsa_err_set(err, errno, "start %s: read exec fifo", id);
                break;
            }
        } else if (init_gone && n == 0) {
            eof = true;
        }
        if (!init_gone && (pf[1].revents & POLLIN))
            init_gone = true;
    }
    if (r == 0) {
        buf[got] = '\0';
        if (got == 0)
            r = capsa_err_setx(err, ESRCH, "start %s: the container init exited before start", id);
        else if (got > 1)
            r = capsa_err_setx(err, EINVAL, "start %s: %s", id, buf + 1);
    }
    /* Without the fifo, a live created container reads as running: no state
     * write needed (capsa_state_status). */
    unlinkat(o.dirfd, CAPSA_FIFO_FILE, 0);
    if (r == 0 && o.st.has_poststart) {
        cleanup_free char *json = NULL;
        struct capsa_err herr = {0};
        if (capsa_state_to_json(&o.st, CAPSA_STATUS_RUNNING, false, &json, &herr) == 0) {
            struct capsa_spec *spec = NULL;
            cleanup_free char *raw = NULL;
            size_t len = 0;
            if (capsa_read_file_at(o.dirfd, CAPSA_CONFIG_FILE, 16 << 20, &raw, &len, &herr) == 0 &&
                capsa_spec_parse(raw, len, &spec, &herr) == 0) {
                /* The spec: a poststart failure is a warning, not an error. */
                capsa_hooks_run_all("poststart", spec->hooks.poststart, spec->hooks.n_poststart,
                                    json, capsa_log_warning_cb, (void *)ctx);
                capsa_spec_free(spec);
            } else {
                capsa_log(ctx, CAPSA_LOG_WARNING, "poststart hooks: %s", herr.msg);
            }
        }
    }
    capsa_opened_release(&o);
    return r;
}

/* Signal every process in the container's pid namespace (the container has
 * its own): found through /proc/<pid>/ns/pid. */
static int kill_all_in_pidns(const struct capsa_state *st, int sig, struct capsa_err *err)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/ns/pid", (int)st->pid);
    struct stat want;
    if (stat(path, &want) < 0)
        return capsa_err_set(err, errno, "kill --all: %s", path);
    cleanup_dir DIR *d = opendir("/proc");
    if (d == NULL)
        return capsa_err_set(err, errno, "kill --all: open /proc");
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        int64_t pid;
        if (capsa_parse_int64(de->d_name, 1, 0x3fffffff, &pid) < 0)
            continue;
        int fd = capsa_pidfd_open((pid_t)pid, 0);
        if (fd < 0)
            continue;
        snprintf(path, sizeof path, "/proc/%d/ns/pid", (int)pid);
        struct stat sb;
        if (stat(path, &sb) == 0 && sb.st_ino == want.st_ino && sb.st_dev == want.st_dev)
            capsa_pidfd_send_signal(fd, sig, 0);
        close(fd);
    }
    return 0;
}

/* Without a pid namespace of its own (and until cgroups say which processes
 * are the container's), the container is the init and its descendants:
 * signal every process whose parent chain leads to the init. The tree comes
 * from a snapshot of /proc (pid, parent, start time); each process is then
 * pinned with a pidfd and signalled only if its start time still matches
 * the snapshot, read after the pidfd was opened: a pid that exited and was
 * reused in between belongs to another process, which is never hit. */
static void kill_descendants(pid_t init, int sig)
{
    size_t n = 0, cap = 0;
    struct pp {
        pid_t pid, ppid;
        unsigned long long start;
    } *v = NULL;
    cleanup_dir DIR *d = opendir("/proc");
    if (d == NULL)
        return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        int64_t pid;
        struct capsa_proc_stat ps;
        if (capsa_parse_int64(de->d_name, 1, 0x3fffffff, &pid) < 0 ||
            capsa_proc_stat((pid_t)pid, &ps) < 0)
            continue;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 256;
            struct pp *nv = realloc(v, nc * sizeof *nv);
            if (nv == NULL)
                break;
            v = nv;
            cap = nc;
        }
        v[n].pid = (pid_t)pid;
        v[n].ppid = ps.ppid;
        v[n].start = ps.start;
        n++;
    }
    /* Breadth-first from the init; v is small (one entry per process). */
    pid_t *queue = calloc(n + 1, sizeof *queue);
    if (queue != NULL) {
        size_t head = 0, tail = 0;
        queue[tail++] = init;
        while (head < tail) {
            pid_t cur = queue[head++];
            for (size_t i = 0; i < n && tail <= n; i++) {
                if (v[i].ppid != cur || v[i].pid == init)
                    continue;
                queue[tail++] = v[i].pid;
                int pfd = capsa_pidfd_open(v[i].pid, 0);
                if (pfd < 0)
                    continue;
                struct capsa_proc_stat now;
                if (capsa_proc_stat(v[i].pid, &now) == 0 && now.start == v[i].start)
                    capsa_pidfd_send_signal(pfd, sig, 0);
                close(pfd);
            }
        }
        free(queue);
    }
    free(v);
}

int capsa_container_kill(const struct capsa_ctx *ctx, const char *id, int sig, bool all,
                         struct capsa_err *err)
{
    struct capsa_opened o;
    int r = capsa_container_open(ctx, id, 0, &o, err);
    if (r < 0)
        return r;
    enum capsa_status status = o.status;
    cleanup_close int pidfd = -1;
    if (status == CAPSA_STATUS_STOPPED || (pidfd = capsa_state_pidfd(&o.st)) < 0) {
        /* As runc: --all also works once the init is gone, to reach what
         * is left in the cgroup. containerd's shim does exactly that when a
         * container in a pod's shared pid namespace exits, and waits for it. */
        if (all) {
            struct capsa_cgroup *cg = NULL;
            r = capsa_state_cgroup(&o.st, &cg, err);
            if (r == 0 && cg)
                r = capsa_cgroup_signal_all(cg, sig, err);
            capsa_cgroup_free(cg);
            goto out;
        }
        /* runc's words: containerd's shim reads "container not running"
         * in the error of a kill as "already finished", anything else as a
         * failure to stop the container. */
        r = capsa_err_setx(err, ESRCH, "container not running: %s has exited", id);
        goto out;
    }
    const struct capsa_level *level = capsa_level_of_state(o.st.level);
    if (all && status == CAPSA_STATUS_RUNNING && level->kill_all &&
        (r = level->kill_all(o.dirfd, id, sig, err)) <= 0)
        goto out;
    if (all) {
        struct capsa_cgroup *cg = NULL;
        r = capsa_state_cgroup(&o.st, &cg, err);
        if (r < 0)
            goto out;
        if (cg) {
            /* The cgroup is the exact set of the container's processes. */
            r = capsa_cgroup_signal_all(cg, sig, err);
            capsa_cgroup_free(cg);
            goto out;
        }
        if (o.st.new_pidns && sig != SIGKILL) {
            r = kill_all_in_pidns(&o.st, sig, err);
            if (r < 0)
                goto out;
        } else if (!o.st.new_pidns) {
            kill_descendants(o.st.pid, sig);
        }
    }
    /* SIGKILL to the init of a pid namespace kills every process in it. */
    if (capsa_pidfd_send_signal(pidfd, sig, 0) < 0)
        r = capsa_err_set(err, errno, "kill container %s with signal %d", id, sig);
out:
    capsa_opened_release(&o);
    return r;
}

void capsa_run_poststop(const struct capsa_ctx *ctx, int dirfd, const struct capsa_state *st)
{
    if (!st->has_poststop)
        return;
    struct capsa_err herr = {0};
    cleanup_free char *raw = NULL;
    size_t len = 0;
    struct capsa_spec *spec = NULL;
    if (capsa_read_file_at(dirfd, CAPSA_CONFIG_FILE, 16 << 20, &raw, &len, &herr) < 0 ||
        capsa_spec_parse(raw, len, &spec, &herr) < 0) {
        capsa_log(ctx, CAPSA_LOG_WARNING, "poststop hooks: %s", herr.msg);
        return;
    }
    if (spec->hooks.n_poststop > 0) {
        cleanup_free char *json = NULL;
        if (capsa_state_to_json(st, CAPSA_STATUS_STOPPED, false, &json, &herr) < 0)
            capsa_log(ctx, CAPSA_LOG_WARNING, "poststop hooks: %s", herr.msg);
        else
            capsa_hooks_run_all("poststop", spec->hooks.poststop, spec->hooks.n_poststop, json,
                                capsa_log_warning_cb, (void *)ctx);
    }
    capsa_spec_free(spec);
}

int capsa_container_delete(const struct capsa_ctx *ctx, const char *id, bool force,
                           struct capsa_err *err)
{
    if (!capsa_id_valid(id))
        return capsa_err_setx(err, EINVAL, "invalid container id \"%s\"", id ? id : "");
    cleanup_close int rootfd = -1;
    cleanup_close int dirfd = -1;
    int r = capsa_state_root_open(ctx->root, &rootfd, err);
    if (r < 0)
        return r;
    r = capsa_state_dir_open(rootfd, id, &dirfd, err);
    /* As runc: --force on a container that is already gone succeeds (the
     * containerd shim deletes once more after the container is removed). */
    if (r == -ENOENT && force) {
        capsa_err_clear(err);
        return 0;
    }
    if (r < 0)
        return r;
    struct capsa_state st;
    struct capsa_err serr = {0};
    if (capsa_state_read(dirfd, &st, &serr) < 0) {
        /* A create killed before it wrote any state: nothing runs that we
         * could identify; --force removes the directory. */
        if (!force)
            return capsa_err_setx(err, EINVAL, "container %s: %s (use --force to remove it)", id,
                                  serr.msg);
        return capsa_state_dir_remove(rootfd, dirfd, id, err);
    }
    enum capsa_status status = capsa_state_status(dirfd, &st);
    struct capsa_cgroup *cg = NULL;
    struct capsa_err cgerr = {0};
    if (capsa_state_cgroup(&st, &cg, &cgerr) < 0)
        capsa_log(ctx, CAPSA_LOG_WARNING, "delete %s: %s", id, cgerr.msg);
    if (status != CAPSA_STATUS_STOPPED) {
        /* Like runc, a created container may be deleted without --force. */
        if (!force && status != CAPSA_STATUS_CREATED) {
            r = capsa_err_setx(err, EBUSY,
                               "cannot delete container %s that is %s: stop it or use --force", id,
                               capsa_status_name(status));
            capsa_cgroup_free(cg);
            capsa_state_clear(&st);
            return r;
        }
        /* A frozen process cannot die: thaw a paused container first. */
        if (cg && capsa_cgroup_is_frozen(cg) == 1) {
            struct capsa_err ferr = {0};
            capsa_cgroup_freeze(cg, false, &ferr);
        }
        int pidfd = capsa_state_pidfd(&st);
        if (pidfd >= 0) {
            if (!st.new_pidns)
                kill_descendants(st.pid, SIGKILL);
            capsa_pidfd_send_signal(pidfd, SIGKILL, 0);
            capsa_wait_gone(pidfd);
            close(pidfd);
        }
    }
    /* The level's host-side helper (interpose: the supervisor) ends with
     * the container; it usually went when the init did. */
    const struct capsa_level *level = capsa_level_of_state(st.level);
    if (level->host_stop)
        level->host_stop(dirfd, st.helper_pid, st.helper_start);
    if (cg) {
        /* Whatever is left in the cgroup (a container without its own pid
         * namespace leaves its init's children behind) goes now. */
        struct capsa_err kerr = {0};
        pid_t *left = NULL;
        size_t n_left = 0;
        /* Usually nothing is left (the init's exit emptied its pid
         * namespace): then skip the freezer, whose every use costs the
         * kernel a text-patching round over all CPUs on v1. */
        if (capsa_cgroup_pids(cg, &left, &n_left, &kerr) < 0 || n_left > 0) {
            if (capsa_cgroup_is_frozen(cg) == 1)
                capsa_cgroup_freeze(cg, false, &kerr);
            capsa_cgroup_signal_all(cg, SIGKILL, &kerr);
        }
        free(left);
    }
    /* The systemd driver's scope: stopped (and its name freed) before the
     * directories go; systemd removes those it made. */
    if (st.systemd_unit) {
        struct capsa_err uerr = {0};
        if (capsa_systemd_stop(st.systemd_unit, &uerr) < 0)
            capsa_log(ctx, CAPSA_LOG_WARNING, "delete %s: %s", id, uerr.msg);
    }
    if (cg) {
        struct capsa_err kerr = {0};
        if (capsa_cgroup_destroy(cg, &kerr) < 0)
            capsa_log(ctx, CAPSA_LOG_WARNING, "delete %s: %s", id, kerr.msg);
        capsa_cgroup_free(cg);
    }
    if (st.shared_mntns && st.rootfs) {
        struct capsa_err uerr = {0};
        if (capsa_rootfs_unmount_all(st.rootfs, &uerr) < 0)
            capsa_log(ctx, CAPSA_LOG_WARNING, "delete %s: %s", id, uerr.msg);
    }
    capsa_run_poststop(ctx, dirfd, &st);
    r = capsa_state_dir_remove(rootfd, dirfd, id, err);
    capsa_state_clear(&st);
    return r;
}

int capsa_container_state(const struct capsa_ctx *ctx, const char *id, char **json_out,
                          struct capsa_err *err)
{
    struct capsa_opened o;
    int r = capsa_container_open(ctx, id, 0, &o, err);
    if (r < 0)
        return r;
    enum capsa_status status = o.status;
    capsa_state_fill_owner(o.dirfd, &o.st);
    r = capsa_state_to_json(&o.st, status, true, json_out, err);
    capsa_opened_release(&o);
    return r;
}

static int cmp_entry(const void *a, const void *b)
{
    const struct capsa_list_entry *x = a, *y = b;
    return strcmp(x->id, y->id);
}

void capsa_list_free(struct capsa_list_entry *e, size_t n)
{
    for (size_t i = 0; e && i < n; i++) {
        free(e[i].id);
        free(e[i].status);
        free(e[i].bundle);
        free(e[i].created);
        free(e[i].owner);
    }
    free(e);
}

int capsa_container_list(const struct capsa_ctx *ctx, struct capsa_list_entry **out, size_t *n,
                         struct capsa_err *err)
{
    *out = NULL;
    *n = 0;
    cleanup_dir DIR *d = opendir(ctx->root);
    if (d == NULL) {
        if (errno == ENOENT)
            return 0;
        return capsa_err_set(err, errno, "open state root %s", ctx->root);
    }
    struct capsa_list_entry *v = NULL;
    size_t cnt = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (!capsa_id_valid(de->d_name) || de->d_name[0] == '.')
            continue;
        cleanup_close int dfd =
            openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (dfd < 0)
            continue;
        struct capsa_state st;
        struct capsa_err e2 = {0};
        if (capsa_state_read(dfd, &st, &e2) < 0)
            continue;
        if (cnt == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            struct capsa_list_entry *nv = realloc(v, ncap * sizeof *nv);
            if (nv == NULL) {
                capsa_state_clear(&st);
                capsa_list_free(v, cnt);
                return capsa_err_set(err, ENOMEM, "list");
            }
            v = nv;
            cap = ncap;
        }
        enum capsa_status s = capsa_state_status(dfd, &st);
        capsa_state_fill_owner(dfd, &st);
        struct capsa_list_entry *e = &v[cnt++];
        e->id = steal_ptr(st.id);
        e->pid = s == CAPSA_STATUS_STOPPED ? 0 : st.pid;
        e->status = strdup(capsa_status_name(s));
        e->bundle = steal_ptr(st.bundle);
        e->created = steal_ptr(st.created);
        e->owner = steal_ptr(st.owner);
        capsa_state_clear(&st);
    }
    if (cnt > 1)
        qsort(v, cnt, sizeof *v, cmp_entry);
    *out = v;
    *n = cnt;
    return 0;
}
