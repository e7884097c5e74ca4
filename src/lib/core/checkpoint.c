/* checkpoint.c - `checkpoint` and `restore` through CRIU (linux/criu.h), as
 * runc does them (docs/checkpoint.md):
 *
 *   checkpoint  CRIU dumps the container's process tree from its init, with
 *               the rootfs as root; the mounts whose source is outside the
 *               container (bind mounts, the masking /dev/null, bind-mounted
 *               devices, v1 cgroup binds) are declared external by their
 *               destination, namespaces given by path (network, pid) are
 *               external too, the cgroup is frozen with its freezer, and the
 *               stdio the init had is written to descriptors.json. Then the
 *               container is removed, unless --leave-running or --pre-dump.
 *   restore     a new container is made from the bundle as create makes it
 *               (state directory, cgroup or systemd scope), and CRIU, started
 *               in that cgroup, restores the tree as our sibling (so that we,
 *               or the engine's shim that is our subreaper, are its parent)
 *               under a bind mount of the rootfs, with the external mounts
 *               mapped to the config's sources, the namespaces joined, the
 *               stdio pipes taken from our own stdio, and a terminal's new pty
 *               master sent to --console-socket.
 */
#include "core/container.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/relay.h"
#include "level/level.h"
#include "linux/criu.h"
#include "linux/hooks.h"
#include "linux/ns.h"
#include "linux/rootfs.h"
#include "linux/terminal.h"
#include "sys/sys.h"
#include "util/util.h"

/* CRIU 3.11: external network namespaces (3.17 is Debian 12's). */
#define CRIU_MIN_VERSION 31100
#define DESCRIPTORS_FILE "descriptors.json"
#define DUMP_LOG         "dump.log"
#define RESTORE_LOG      "restore.log"

/* The key CRIU files an external namespace under, as runc names it. */
static const char *ext_ns_key(enum capsa_ns_type t)
{
    return t == CAPSA_NS_NET ? "extRootNetNS" : "extRootPidNS";
}

static bool level_is_native(const char *name)
{
    return name == NULL || strcmp(name, "native") == 0;
}

static int check_criu(const struct capsa_ctx *ctx, struct capsa_err *err)
{
    int v = 0;
    int r = capsa_criu_version(ctx->criu, &v, err);
    if (r < 0)
        return r;
    capsa_log(ctx, CAPSA_LOG_DEBUG, "criu version %d", v);
    if (v < CRIU_MIN_VERSION)
        return capsa_err_setx(err, ENOTSUP, "CRIU %d.%d.%d is too old: 3.11 or later is needed",
                              v / 10000, v / 100 % 100, v % 100);
    return 0;
}

/* FEATURE_CHECK for what pre-dump (memory tracking) and lazy pages need. */
static int check_features(const struct capsa_ctx *ctx, bool mem_track, bool lazy,
                          struct capsa_err *err)
{
    if (!mem_track && !lazy)
        return 0;
    struct capsa_criu c;
    int r = capsa_criu_spawn(ctx->criu, NULL, 0, &c, err);
    if (r < 0)
        return r;
    struct capsa_criu_req req;
    capsa_criu_req_init(&req, CAPSA_CRIU_FEATURE_CHECK);
    req.feat_mem_track = mem_track;
    req.feat_lazy_pages = lazy;
    struct capsa_criu_resp resp;
    r = capsa_criu_call(&c, &req, NULL, NULL, &resp, err);
    capsa_criu_end(&c, NULL);
    if (r < 0)
        return capsa_err_wrap(err, "criu feature check");
    if (mem_track && !resp.feat_mem_track)
        return capsa_err_setx(err, ENOTSUP,
                              "--pre-dump: CRIU cannot track memory changes on this kernel "
                              "(soft-dirty bits)");
    if (lazy && !resp.feat_lazy_pages)
        return capsa_err_setx(err, ENOTSUP,
                              "--lazy-pages: CRIU cannot restore pages lazily on this kernel "
                              "(userfaultfd)");
    return 0;
}

/* Options common to dump and restore. */
static int common_opts(const struct capsa_checkpoint_opts *o, const struct capsa_spec *spec,
                       int imgfd, int workfd, const char *log, struct capsa_criu_req *req,
                       struct capsa_err *err)
{
    req->has_opts = true;
    req->images_dir_fd = imgfd;
    req->work_dir_fd = workfd;
    req->log_level = 4;
    req->manage_cgroups = true;
    req->notify_scripts = true;
    req->orphan_pts_master = true;
    req->shell_job = o->shell_job;
    req->tcp_established = o->tcp_established;
    req->ext_unix_sk = o->ext_unix_sk;
    req->file_locks = o->file_locks;
    req->auto_dedup = o->auto_dedup;
    req->lazy_pages = o->lazy_pages;
    enum capsa_criu_cg_mode mode;
    if (capsa_criu_cg_mode_parse(o->manage_cgroups_mode, &mode) < 0)
        return capsa_err_setx(err, EINVAL,
                              "--manage-cgroups-mode \"%s\": use soft, full, strict or ignore",
                              o->manage_cgroups_mode);
    req->cg_mode = mode;
    /* As runc: capsa does not configure network devices, so CRIU makes the
     * network namespace empty rather than restore what is in it. */
    req->empty_ns = CLONE_NEWNET;
    for (size_t i = 0; i < o->n_empty_ns; i++) {
        if (strcmp(o->empty_ns[i], "network") != 0)
            return capsa_err_setx(err, EINVAL, "--empty-ns \"%s\": only \"network\" is supported",
                                  o->empty_ns[i]);
    }
    int r = capsa_criu_set_str(&req->log_file, log, err);
    /* A CRIU configuration file: the annotation org.criu.config (empty:
     * none), else capsa's own (ignored by CRIU when it does not exist). */
    const char *conf = capsa_spec_annotation(spec, "org.criu.config");
    if (r == 0 && conf == NULL)
        conf = "/etc/criu/capsa.conf";
    if (r == 0 && conf[0] != '\0')
        r = capsa_criu_set_str(&req->config_file, conf, err);
    for (size_t i = 0; r == 0 && i < o->n_external; i++)
        r = capsa_criu_add_external(req, o->external[i], err);
    return r;
}

static bool is_bind(const struct capsa_mount *m)
{
    if (m->type && strcmp(m->type, "bind") == 0)
        return true;
    for (size_t i = 0; i < m->n_options; i++)
        if (strcmp(m->options[i], "bind") == 0 || strcmp(m->options[i], "rbind") == 0)
            return true;
    return false;
}

static bool is_cgroup_mount(const struct capsa_mount *m)
{
    return m->type && strcmp(m->type, "cgroup") == 0;
}

/* The external mounts, by their destination in the container: for a dump
 * (of the container whose init is pid) the value is the key itself, for a
 * restore the host source. */
static int add_external_mounts(const struct capsa_spec *spec, const char *bundle,
                               const struct capsa_cgroup *cg, bool restore, pid_t pid,
                               struct capsa_criu_req *req, struct capsa_err *err)
{
    const struct capsa_linux *l = &spec->linux_cfg;
    bool cgroupns = capsa_spec_namespace(spec, CAPSA_NS_CGROUP) != NULL;
    int r = 0;
    for (size_t i = 0; r == 0 && i < spec->n_mounts; i++) {
        const struct capsa_mount *m = &spec->mounts[i];
        if (is_bind(m) && m->source) {
            cleanup_free char *src = NULL;
            if (restore && m->source[0] != '/' &&
                (r = capsa_asprintf(&src, err, "%s/%s", bundle, m->source)) < 0)
                return r;
            r = capsa_criu_add_ext_mnt(req, m->destination,
                                       restore ? (src ? src : m->source) : m->destination, err);
        } else if (is_cgroup_mount(m) && cg && !cgroupns) {
            /* v1 / hybrid: one bind per hierarchy (linux/mount.c). */
            for (size_t k = 0; r == 0 && k < cg->n; k++) {
                char name[256];
                cleanup_free char *dest = NULL;
                if (capsa_cgroup_mount_name(&cg->d[k], name, sizeof name) < 0 || !name[0])
                    continue;
                if (cg->d[k].v2 && cg->n == 1)
                    continue; /* pure v2: a real cgroup2 mount */
                if ((r = capsa_asprintf(&dest, err, "%s/%s", m->destination, name)) < 0)
                    return r;
                r = capsa_criu_add_ext_mnt(req, dest, restore ? cg->d[k].path : dest, err);
            }
        }
    }
    /* Masked files are binds of the host's /dev/null (masked directories
     * are tmpfs, which CRIU saves; missing paths are not masked). */
    if (r == 0 && l->n_masked_paths > 0) {
        if (restore)
            r = capsa_criu_add_ext_mnt(req, "/dev/null", "/dev/null", err);
        for (size_t i = 0; r == 0 && !restore && i < l->n_masked_paths; i++) {
            char p[4096];
            struct stat sb;
            snprintf(p, sizeof p, "/proc/%d/root%s", (int)pid, l->masked_paths[i]);
            if (fstatat(AT_FDCWD, p, &sb, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(sb.st_mode))
                r = capsa_criu_add_ext_mnt(req, l->masked_paths[i], "/dev/null", err);
        }
    }
    /* Devices are bind mounts of the host's nodes in a user namespace. */
    static const char *const defaults[] = {"/dev/null",   "/dev/zero",    "/dev/full",
                                           "/dev/random", "/dev/urandom", "/dev/tty"};
    for (size_t i = 0; r == 0 && i < sizeof defaults / sizeof defaults[0]; i++)
        r = capsa_criu_add_ext_mnt(req, defaults[i], defaults[i], err);
    for (size_t i = 0; r == 0 && i < l->n_devices; i++)
        r = capsa_criu_add_ext_mnt(req, l->devices[i].path, l->devices[i].path, err);
    return r;
}

/* mkdir (0700) unless present; an O_DIRECTORY fd; *made says whether we
 * made it (a failed checkpoint removes only what it made). */
static int open_dir(const char *path, const char *what, bool create, bool *made, int *fd,
                    struct capsa_err *err)
{
    if (made)
        *made = false;
    if (create) {
        if (mkdir(path, 0700) == 0) {
            if (made)
                *made = true;
        } else if (errno != EEXIST) {
            return capsa_err_set(err, errno, "%s %s", what, path);
        }
    }
    *fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (*fd < 0)
        return capsa_err_set(err, errno, "%s %s", what, path);
    return 0;
}

/* Remove a directory tree we made (one level: CRIU writes flat images). */
static void remove_made_dir(const char *path)
{
    cleanup_close int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (fd >= 0) {
        int dfd = dup(fd);
        DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
        if (d == NULL && dfd >= 0)
            close(dfd);
        struct dirent *e;
        while (d && (e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            if (unlinkat(fd, e->d_name, 0) < 0 && errno == EISDIR)
                (void)unlinkat(fd, e->d_name, AT_REMOVEDIR);
        }
        if (d)
            closedir(d);
    }
    (void)rmdir(path);
}

/* "criu dump failed: <CRIU's reason> (log: DIR/dump.log)". */
static int criu_failed(const char *what, const struct capsa_criu_resp *resp, int logdir,
                       const char *logdir_path, const char *log, struct capsa_err *err)
{
    char line[512];
    capsa_criu_log_error(logdir, log, line, sizeof line);
    const char *why = line[0] ? line : resp && resp->errmsg[0] ? resp->errmsg : "";
    int e = resp && resp->cr_errno > 0 ? resp->cr_errno : 0;
    // cppcheck-suppress variableScope ; why may point into it
    char ebuf[128] = "";
    if (!why[0] && e)
        why = capsa_strerror_lower(e, ebuf, sizeof ebuf);
    return capsa_err_setx(err, e ? e : EIO, "criu %s failed%s%s (log: %s/%s)", what,
                          why[0] ? ": " : "", why, logdir_path, log);
}

/* The init's stdin, stdout and stderr as /proc links name them ("pipe:[N]",
 * "/dev/pts/0", ...), for restore to find the pipes by key (runc's file,
 * so that either runtime can restore the other's checkpoint). */
static int write_descriptors(int imgfd, pid_t pid, struct capsa_err *err)
{
    json_t *a = json_array();
    if (a == NULL)
        return capsa_err_set(err, ENOMEM, DESCRIPTORS_FILE);
    for (int fd = 0; fd < 3; fd++) {
        char link[64], target[4096];
        snprintf(link, sizeof link, "/proc/%d/fd/%d", (int)pid, fd);
        ssize_t n = readlink(link, target, sizeof target - 1);
        if (n < 0)
            n = 0; /* closed: an empty name, as runc writes */
        target[n] = '\0';
        json_array_append_new(a, json_string(target));
    }
    char *text = json_dumps(a, JSON_COMPACT);
    json_decref(a);
    if (text == NULL)
        return capsa_err_set(err, ENOMEM, DESCRIPTORS_FILE);
    int r = capsa_write_atomic(imgfd, DESCRIPTORS_FILE, text, strlen(text), 0600, err);
    free(text);
    return r;
}

static int dump_notify(void *opaque, const char *script, int pid, int fd, struct capsa_err *err)
{
    (void)err;
    const struct capsa_ctx *ctx = opaque;
    capsa_log(ctx, CAPSA_LOG_DEBUG, "criu: %s (pid %d)", script, pid);
    if (fd >= 0)
        close(fd);
    return 0;
}

/* The freezer CRIU stops the tree with: the v1 freezer, else the v2 dir. */
static const char *freezer_dir(const struct capsa_cgroup *cg)
{
    if (cg == NULL)
        return NULL;
    for (size_t i = 0; i < cg->n; i++)
        for (char **c = cg->d[i].controllers; !cg->d[i].v2 && c && *c; c++)
            if (strcmp(*c, "freezer") == 0)
                return cg->d[i].path;
    for (size_t i = 0; i < cg->n; i++)
        if (cg->d[i].v2)
            return cg->d[i].path;
    return NULL;
}

struct dump {
    const struct capsa_ctx *ctx;
    const char *id;
    const struct capsa_checkpoint_opts *o;
    struct capsa_opened op;
    struct capsa_spec *spec;
    int imgfd, workfd;
    bool img_made;
    struct capsa_criu_req req;
};

static int dump_prepare(struct dump *d, struct capsa_err *err)
{
    const struct capsa_checkpoint_opts *o = d->o;
    struct capsa_opened *op = &d->op;
    if (op->status != CAPSA_STATUS_RUNNING && op->status != CAPSA_STATUS_PAUSED)
        return capsa_err_setx(err, EINVAL,
                              "container %s is %s: only a running or paused "
                              "container can be checkpointed",
                              d->id, capsa_status_name(op->status));
    if (!level_is_native(op->st.level))
        return capsa_err_setx(err, ENOTSUP,
                              "container %s runs at the %s isolation level: checkpoint is "
                              "supported at the native level only",
                              d->id, op->st.level);
    cleanup_free char *raw = NULL;
    size_t len = 0;
    int r = capsa_read_file_at(op->dirfd, CAPSA_CONFIG_FILE, 16 << 20, &raw, &len, err);
    if (r == 0 && (r = capsa_spec_parse(raw, len, &d->spec, err)) < 0)
        capsa_err_wrap(err, "container %s: stored config", d->id);
    if (r < 0)
        return r;
    if (o->parent_path && o->parent_path[0] == '/')
        return capsa_err_setx(err, EINVAL, "--parent-path %s: must be relative to --image-path",
                              o->parent_path);
    if ((r = check_criu(d->ctx, err)) < 0 ||
        (r = check_features(d->ctx, o->pre_dump, o->lazy_pages, err)) < 0)
        return r;
    if ((r = open_dir(o->image_path, "--image-path", true, &d->img_made, &d->imgfd, err)) < 0)
        return r;
    if (o->parent_path) {
        struct stat sb;
        if (fstatat(d->imgfd, o->parent_path, &sb, 0) < 0)
            return capsa_err_set(err, errno, "--parent-path %s/%s", o->image_path, o->parent_path);
        if (!S_ISDIR(sb.st_mode))
            return capsa_err_setx(err, ENOTDIR, "--parent-path %s/%s: not a directory",
                                  o->image_path, o->parent_path);
    }
    if (o->work_path &&
        (r = open_dir(o->work_path, "--work-path", true, NULL, &d->workfd, err)) < 0)
        return r;
    if (o->status_fd >= 0) {
        int fl = fcntl(o->status_fd, F_GETFL);
        if (fl < 0 || (fl & O_ACCMODE) == O_RDONLY)
            return capsa_err_setx(err, EBADF, "--status-fd %d: not an fd open for writing",
                                  o->status_fd);
    }

    struct capsa_criu_req *req = &d->req;
    capsa_criu_req_init(req, o->pre_dump ? CAPSA_CRIU_PRE_DUMP : CAPSA_CRIU_DUMP);
    if ((r = common_opts(o, d->spec, d->imgfd, d->workfd, DUMP_LOG, req, err)) < 0)
        return r;
    req->pid = op->st.pid;
    req->leave_running = o->leave_running || o->pre_dump;
    req->tcp_skip_in_flight = o->tcp_skip_in_flight;
    req->link_remap = o->link_remap;
    req->status_fd = o->status_fd;
    if ((r = capsa_criu_set_str(&req->root, op->st.rootfs, err)) < 0)
        return r;
    if (o->parent_path) {
        if ((r = capsa_criu_set_str(&req->parent_img, o->parent_path, err)) < 0)
            return r;
        req->track_mem = true;
    }
    if (o->pre_dump)
        req->track_mem = true;
    if (o->page_server) {
        const char *colon = strrchr(o->page_server, ':');
        int64_t port;
        if (colon == NULL || colon == o->page_server ||
            capsa_parse_int64(colon + 1, 1, 65535, &port) < 0)
            return capsa_err_setx(err, EINVAL, "--page-server %s: use ADDRESS:PORT",
                                  o->page_server);
        char addr[256];
        snprintf(addr, sizeof addr, "%.*s", (int)(colon - o->page_server), o->page_server);
        if ((r = capsa_criu_set_str(&req->ps_address, addr, err)) < 0)
            return r;
        req->ps_port = (int)port;
    }
    /* Namespaces given by path belong to someone else: external. */
    for (size_t i = 0; i < d->spec->linux_cfg.n_namespaces; i++) {
        const struct capsa_namespace *ns = &d->spec->linux_cfg.namespaces[i];
        if (!ns->path || (ns->type != CAPSA_NS_NET && ns->type != CAPSA_NS_PID))
            continue;
        struct stat sb;
        if (stat(ns->path, &sb) < 0)
            return capsa_err_set(err, errno, "linux.namespaces: %s path %s",
                                 capsa_ns_type_name(ns->type), ns->path);
        char ext[128];
        snprintf(ext, sizeof ext, "%s[%llu]:%s", capsa_ns_proc_name(ns->type),
                 (unsigned long long)sb.st_ino, ext_ns_key(ns->type));
        if ((r = capsa_criu_add_external(req, ext, err)) < 0)
            return r;
    }
    const char *fz = freezer_dir(op->cg);
    if (fz && (r = capsa_criu_set_str(&req->freeze_cgroup, fz, err)) < 0)
        return r;
    if (!o->pre_dump) {
        if ((r = add_external_mounts(d->spec, op->st.bundle, op->cg, false, op->st.pid, req, err)) <
                0 ||
            (r = write_descriptors(d->imgfd, op->st.pid, err)) < 0)
            return r;
    }
    return 0;
}

int capsa_container_checkpoint(const struct capsa_ctx *ctx, const char *id,
                               const struct capsa_checkpoint_opts *o, struct capsa_err *err)
{
    if (o->image_path == NULL || o->image_path[0] == '\0')
        return capsa_err_setx(err, EINVAL, "checkpoint needs --image-path");
    struct dump d = {.ctx = ctx, .id = id, .o = o, .imgfd = -1, .workfd = -1};
    capsa_criu_req_init(&d.req, CAPSA_CRIU_EMPTY);
    int r = capsa_container_open(ctx, id, CAPSA_OPEN_CGROUP, &d.op, err);
    if (r < 0)
        return r;
    r = dump_prepare(&d, err);
    struct capsa_criu c = {.pid = -1, .sock = -1};
    struct capsa_criu_resp resp = {0};
    int status = 0;
    bool called = false;
    if (r == 0)
        r = capsa_criu_spawn(ctx->criu, NULL, 0, &c, err);
    if (r == 0) {
        called = true;
        r = capsa_criu_call(&c, &d.req, dump_notify, (void *)ctx, &resp, err);
        capsa_criu_end(&c, &status);
    }
    const char *what = o->pre_dump ? "pre-dump" : "dump";
    /* After a pre-dump CRIU waits for more and is ended by the hang-up. */
    if (r == 0 &&
        (!resp.success || (!o->pre_dump && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)))) {
        r = criu_failed(what, &resp, d.workfd >= 0 ? d.workfd : d.imgfd,
                        d.workfd >= 0 ? o->work_path : o->image_path, DUMP_LOG, err);
    } else if (r < 0 && called) {
        capsa_err_wrap(err, "criu %s", what);
    }
    bool log_elsewhere = d.workfd >= 0;
    capsa_criu_req_free(&d.req);
    capsa_spec_free(d.spec);
    capsa_close(&d.imgfd);
    capsa_close(&d.workfd);
    if (r < 0) {
        /* The container runs on (CRIU resumes it). An image directory we
         * made goes, unless it holds the log the error points to; the work
         * directory is where the user asked for the log. */
        if (d.img_made && (!called || log_elsewhere))
            remove_made_dir(o->image_path);
        capsa_opened_release(&d.op);
        return r;
    }
    capsa_opened_release(&d.op);
    if (o->leave_running || o->pre_dump)
        return 0;
    /* CRIU killed the tree: the container goes, as runc destroys it. */
    struct capsa_err derr = {0};
    if (capsa_container_delete(ctx, id, true, &derr) < 0)
        capsa_log(ctx, CAPSA_LOG_WARNING, "checkpoint %s: delete after the dump: %s", id, derr.msg);
    return 0;
}

/* ---------------- restore ---------------- */

struct restore {
    const struct capsa_ctx *ctx;
    const char *id;
    const struct capsa_create_opts *co;
    const struct capsa_checkpoint_opts *o;
    int imgfd, workfd;
    char *criu_root; /* the rootfs bind mount CRIU restores into */
    bool mounted;
    pid_t pid; /* from post-restore */
    struct capsa_created *c;
};

static int restore_notify(void *opaque, const char *script, int pid, int fd, struct capsa_err *err)
{
    struct restore *rs = opaque;
    const struct capsa_spec *spec = rs->c->spec;
    capsa_log(rs->ctx, CAPSA_LOG_DEBUG, "criu: %s (pid %d)", script, pid);
    int r = 0;
    if (strcmp(script, "orphan-pts-master") == 0) {
        /* The restored terminal's new master: the engine gets it as on
         * create. */
        if (fd < 0)
            return capsa_err_setx(err, EPROTO, "criu: orphan-pts-master without a file");
        if (rs->co->console_socket == NULL)
            r = capsa_err_setx(err, EINVAL,
                               "the checkpointed process has a terminal: restore needs "
                               "--console-socket");
        else
            r = capsa_console_socket_send(rs->co->console_socket, fd, err);
        close(fd);
        return r;
    }
    if (fd >= 0)
        close(fd);
    if (strcmp(script, "setup-namespaces") == 0 &&
        (spec->hooks.n_prestart > 0 || spec->hooks.n_create_runtime > 0)) {
        /* The hooks that set a new container's namespaces up (network). */
        struct capsa_state st = rs->c->st;
        st.pid = pid;
        cleanup_free char *json = NULL;
        if ((r = capsa_state_to_json(&st, CAPSA_STATUS_CREATED, false, &json, err)) == 0 &&
            (r = capsa_hooks_run("prestart", spec->hooks.prestart, spec->hooks.n_prestart, json,
                                 err)) == 0)
            r = capsa_hooks_run("createRuntime", spec->hooks.create_runtime,
                                spec->hooks.n_create_runtime, json, err);
    } else if (strcmp(script, "post-restore") == 0) {
        rs->pid = pid;
    }
    return r;
}

/* Whether dest lies below the destination of a mount of type TYPE, or of a
 * bind mount (type NULL). */
static bool below_mount(const struct capsa_spec *spec, const char *dest, const char *type)
{
    for (size_t i = 0; i < spec->n_mounts; i++) {
        const struct capsa_mount *m = &spec->mounts[i];
        if (type ? !(m->type && strcmp(m->type, type) == 0) : !is_bind(m))
            continue;
        size_t n = strlen(m->destination);
        while (n > 1 && m->destination[n - 1] == '/')
            n--;
        if (strncmp(dest, m->destination, n) == 0 && dest[n] == '/')
            return true;
    }
    return false;
}

/* The mountpoints, as create makes them (runc does the same before a
 * restore): a rootfs made anew (an image's layers and the checkpoint's
 * diff: podman restore --import) lacks those create added. Resolved inside
 * the rootfs, never following a symlink out of it. Not below a tmpfs
 * (CRIU restores its content), nor below a bind mount (the path would land
 * in the rootfs instead of the bound directory), nor cgroup mounts. */
static int make_mountpoints(const struct capsa_spec *spec, const char *rootfs, const char *bundle,
                            struct capsa_err *err)
{
    cleanup_close int rootfd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0)
        return capsa_err_set(err, errno, "open rootfs %s", rootfs);
    for (size_t i = 0; i < spec->n_mounts; i++) {
        const struct capsa_mount *m = &spec->mounts[i];
        if (is_cgroup_mount(m) || below_mount(spec, m->destination, "tmpfs") ||
            below_mount(spec, m->destination, NULL))
            continue;
        bool file = false;
        if (is_bind(m) && m->source) {
            cleanup_free char *src = NULL;
            if (m->source[0] != '/' && capsa_asprintf(&src, err, "%s/%s", bundle, m->source) < 0)
                return -ENOMEM;
            struct stat sb;
            file = stat(src ? src : m->source, &sb) == 0 && !S_ISDIR(sb.st_mode);
        }
        int fd = capsa_resolve_mkdir_in_root(rootfd, m->destination, file, err);
        if (fd < 0)
            return capsa_err_wrap(err, "mountpoint %s", m->destination);
        close(fd);
    }
    return 0;
}

/* CRIU wants the root to be a mount point whose parent is not overmounted:
 * a bind mount of the rootfs in the state directory, as runc makes. */
static int mount_criu_root(struct restore *rs, struct capsa_err *err)
{
    int r = capsa_asprintf(&rs->criu_root, err, "%s/%s/criu-root", rs->ctx->root, rs->id);
    if (r < 0)
        return r;
    if (mkdirat(rs->c->dirfd, "criu-root", 0700) < 0)
        return capsa_err_set(err, errno, "mkdir %s", rs->criu_root);
    if (mount(rs->c->st.rootfs, rs->criu_root, NULL, MS_BIND | MS_REC, NULL) < 0)
        return capsa_err_set(err, errno, "bind %s on %s", rs->c->st.rootfs, rs->criu_root);
    rs->mounted = true;
    return 0;
}

static void unmount_criu_root(struct restore *rs)
{
    if (rs->mounted && umount2(rs->criu_root, MNT_DETACH) < 0)
        capsa_log(rs->ctx, CAPSA_LOG_WARNING, "unmount %s: %s", rs->criu_root, strerror(errno));
    rs->mounted = false;
    if (rs->c && rs->c->dirfd >= 0)
        (void)unlinkat(rs->c->dirfd, "criu-root", AT_REMOVEDIR);
}

/* Our stdio pipes take the place of the init's (descriptors.json). */
static int inherit_stdio(int imgfd, struct capsa_criu_req *req, struct capsa_err *err)
{
    cleanup_free char *raw = NULL;
    size_t len = 0;
    struct capsa_err ignored = {0};
    if (capsa_read_file_at(imgfd, DESCRIPTORS_FILE, 1 << 20, &raw, &len, &ignored) < 0)
        return 0; /* a checkpoint without it: CRIU restores the files it saved */
    json_error_t jerr;
    json_t *a = json_loadb(raw, len, 0, &jerr);
    if (!json_is_array(a)) {
        json_decref(a);
        return capsa_err_setx(err, EINVAL, "%s: not a JSON array", DESCRIPTORS_FILE);
    }
    int r = 0;
    for (size_t i = 0; r == 0 && i < json_array_size(a) && i < 3; i++) {
        const char *s = json_string_value(json_array_get(a, i));
        if (s && strstr(s, "pipe:"))
            r = capsa_criu_add_inherit_fd(req, s, (int)i, err);
    }
    json_decref(a);
    return r;
}

/* Put criu in the container's cgroup and tell it the cgroup roots it is
 * in, so that the tree comes back in the container's cgroup. */
static int restore_cgroups(struct restore *rs, pid_t criu, struct capsa_criu_req *req,
                           struct capsa_err *err)
{
    struct capsa_created *c = rs->c;
    if (c->cg == NULL)
        return 0;
    int r = capsa_cgroup_enter(c->cg, criu, true, true, err);
    if (r < 0)
        return capsa_err_wrap(err, "cgroup");
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/cgroup", (int)criu);
    cleanup_free char *text = NULL;
    size_t len = 0;
    if ((r = capsa_read_file_at(AT_FDCWD, path, 1 << 20, &text, &len, err)) < 0)
        return r;
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        char *c1 = strchr(line, ':');
        char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (c2 == NULL)
            continue;
        *c2 = '\0';
        const char *ctrls = c1 + 1, *cgpath = c2 + 1;
        if (ctrls[0] == '\0') {
            if ((r = capsa_criu_add_cg_root(req, NULL, cgpath, err)) < 0)
                return r;
            continue;
        }
        cleanup_free char *list = strdup(ctrls);
        if (list == NULL)
            return capsa_err_set(err, ENOMEM, "cgroup roots");
        for (char *s2 = NULL, *ctrl = strtok_r(list, ",", &s2); r == 0 && ctrl;
             ctrl = strtok_r(NULL, ",", &s2))
            r = capsa_criu_add_cg_root(req, ctrl, cgpath, err);
        if (r < 0)
            return r;
    }
    return r;
}

static int do_restore(void *opaque, struct capsa_created *c, struct capsa_err *err)
{
    struct restore *rs = opaque;
    rs->c = c;
    const struct capsa_checkpoint_opts *o = rs->o;
    const struct capsa_spec *spec = c->spec;
    if (!level_is_native(c->level->name))
        return capsa_err_setx(err, ENOTSUP,
                              "the %s isolation level cannot be restored: checkpoint and "
                              "restore are supported at the native level only",
                              c->level->name);
    struct capsa_criu_req req;
    capsa_criu_req_init(&req, CAPSA_CRIU_RESTORE);
    int nsfds[CAPSA_NS_COUNT];
    size_t n_nsfds = 0;
    struct capsa_criu crp = {.pid = -1, .sock = -1};
    int r = common_opts(o, spec, rs->imgfd, rs->workfd, RESTORE_LOG, &req, err);
    if (r < 0)
        goto out;
    req.rst_sibling = true;
    req.evasive_devices = true;
    if ((o->lsm_profile && (r = capsa_criu_set_str(&req.lsm_profile, o->lsm_profile, err)) < 0) ||
        (o->lsm_mount_context &&
         (r = capsa_criu_set_str(&req.lsm_mount_context, o->lsm_mount_context, err)) < 0))
        goto out;
    /* Namespaces given by path: network and pid are handed over as open
     * files under the keys the dump used, the others joined. */
    for (size_t i = 0; i < spec->linux_cfg.n_namespaces; i++) {
        const struct capsa_namespace *ns = &spec->linux_cfg.namespaces[i];
        if (!ns->path)
            continue;
        if (ns->type == CAPSA_NS_CGROUP) {
            r = capsa_err_setx(err, ENOTSUP,
                               "linux.namespaces: CRIU cannot restore into a cgroup namespace "
                               "given by path (%s)",
                               ns->path);
            goto out;
        }
        if (ns->type == CAPSA_NS_NET || ns->type == CAPSA_NS_PID) {
            int fd = open(ns->path, O_RDONLY | O_CLOEXEC);
            if (fd < 0) {
                r = capsa_err_set(err, errno, "linux.namespaces: %s path %s",
                                  capsa_ns_type_name(ns->type), ns->path);
                goto out;
            }
            nsfds[n_nsfds++] = fd;
            r = capsa_criu_add_inherit_fd(&req, ext_ns_key(ns->type), 3 + (int)n_nsfds, err);
        } else {
            r = capsa_criu_add_join_ns(&req, capsa_ns_proc_name(ns->type), ns->path, err);
        }
        if (r < 0)
            goto out;
    }
    if ((r = inherit_stdio(rs->imgfd, &req, err)) < 0 ||
        (r = add_external_mounts(spec, c->st.bundle, c->cg, true, 0, &req, err)) < 0 ||
        (r = make_mountpoints(spec, c->st.rootfs, c->st.bundle, err)) < 0 ||
        (r = mount_criu_root(rs, err)) < 0 ||
        (r = capsa_criu_set_str(&req.root, rs->criu_root, err)) < 0)
        goto out;
    if ((r = capsa_criu_spawn(rs->ctx->criu, nsfds, n_nsfds, &crp, err)) < 0)
        goto out;
    /* criu gets its own copies: ours go. */
    for (size_t i = 0; i < n_nsfds; i++)
        close(nsfds[i]);
    n_nsfds = 0;
    if ((r = restore_cgroups(rs, crp.pid, &req, err)) < 0)
        goto out;
    struct capsa_criu_resp resp;
    r = capsa_criu_call(&crp, &req, restore_notify, rs, &resp, err);
    int status = 0;
    capsa_criu_end(&crp, &status);
    if (r < 0) {
        capsa_err_wrap(err, "criu restore");
        goto out;
    }
    if (!resp.success) {
        r = criu_failed("restore", &resp, rs->workfd >= 0 ? rs->workfd : rs->imgfd,
                        rs->workfd >= 0 ? o->work_path : o->image_path, RESTORE_LOG, err);
        goto out;
    }
    pid_t pid = resp.has_restore_pid ? resp.restore_pid : rs->pid;
    if (pid <= 0) {
        r = capsa_err_setx(err, EPROTO, "criu restore: no pid for the restored process");
        goto out;
    }
    c->pid = pid;
    c->pidfd = capsa_pidfd_open(pid, 0);
    if (c->pidfd < 0)
        r = capsa_err_set(err, errno, "pidfd of the restored process %d", (int)pid);
out:
    if (crp.pid > 0) {
        /* A failed exchange: criu must not go on restoring without us. */
        kill(crp.pid, SIGKILL);
        capsa_criu_end(&crp, NULL);
    }
    for (size_t i = 0; i < n_nsfds; i++)
        close(nsfds[i]);
    unmount_criu_root(rs);
    capsa_criu_req_free(&req);
    return r;
}

int capsa_container_restore(const struct capsa_ctx *ctx, const char *id,
                            const struct capsa_create_opts *co,
                            const struct capsa_checkpoint_opts *o, bool detach, int *exit_code,
                            struct capsa_err *err)
{
    *exit_code = 0;
    if (o->image_path == NULL || o->image_path[0] == '\0')
        return capsa_err_setx(err, EINVAL, "restore needs --image-path");
    struct restore rs = {.ctx = ctx, .id = id, .co = co, .o = o, .imgfd = -1, .workfd = -1};
    /* Everything that can be checked before anything is made. */
    int r = open_dir(o->image_path, "--image-path", false, NULL, &rs.imgfd, err);
    if (r == 0 && faccessat(rs.imgfd, "inventory.img", F_OK, 0) < 0)
        r = capsa_err_setx(err, ENOENT, "--image-path %s: no checkpoint there (no inventory.img)",
                           o->image_path);
    if (r == 0 && o->work_path)
        r = open_dir(o->work_path, "--work-path", true, NULL, &rs.workfd, err);
    if (r == 0)
        r = check_criu(ctx, err);
    if (r == 0)
        r = check_features(ctx, false, o->lazy_pages, err);
    struct capsa_relay relay;
    bool relaying = false;
    if (r == 0 && !detach && (r = capsa_relay_begin(&relay, err)) == 0)
        relaying = true;
    struct capsa_created c = {.pidfd = -1};
    if (r == 0)
        r = capsa_create_restore(ctx, id, co, do_restore, &rs, &c, err);
    free(rs.criu_root);
    capsa_close(&rs.imgfd);
    capsa_close(&rs.workfd);
    if (r < 0) {
        if (relaying)
            capsa_relay_end(&relay);
        return r;
    }
    capsa_log(ctx, CAPSA_LOG_DEBUG, "restore %s: pid %d", id, (int)c.pid);
    if (detach) {
        capsa_created_release(&c);
        return 0;
    }
    /* In the foreground, as run: the lock goes, signals are forwarded. */
    capsa_close(&c.dirfd);
    capsa_relay_add_winch(&relay);
    siginfo_t si;
    r = capsa_relay_wait(&relay, c.pidfd, &c.console_fd, exit_code, &si, err);
    capsa_created_release(&c);
    struct capsa_err derr = {0};
    int dr = capsa_container_delete(ctx, id, true, &derr);
    if (dr < 0 && dr != -ENOENT)
        capsa_log(ctx, CAPSA_LOG_WARNING, "delete %s: %s", id, derr.msg);
    capsa_relay_end(&relay);
    return r;
}
