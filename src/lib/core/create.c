/* create.c - the runtime's side of `create` (and of the create half of
 * `run`), in the order of its steps:
 *   load_bundle   read config.json once, parse and check it, find the rootfs;
 *   make_state    the locked state directory, the config copy, the cgroup,
 *                 a first state.json, the exec fifo;
 *   prepare       the sync socket, the init's arguments, the seccomp program;
 *   spawn         clone the init (core/spawn.c);
 *   handshake     start time, id maps, cgroups, the fds the init needs from
 *                 us (rootfs, bind sources), GO, then serve the init until
 *                 CREATED (hooks, console, seccomp listener, log lines);
 *   finish        state "created", the pid file.
 *
 * A failed create leaves nothing behind: the init (and with it its mount
 * namespace) is killed, the cgroup and the state directory removed. */
#include "core/container.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/init.h"
#include "core/spawn.h"
#include "core/sync.h"
#include "level/level.h"
#include "linux/devices.h"
#include "linux/hooks.h"
#include "linux/ns.h"
#include "linux/process.h"
#include "linux/rootfs.h"
#include "linux/scmp.h"
#include "linux/sdprop.h"
#include "linux/systemd.h"
#include "linux/terminal.h"
#include "sys/sys.h"
#include "util/util.h"

void capsa_created_release(struct capsa_created *c)
{
    capsa_spec_free(c->spec);
    c->spec = NULL;
    capsa_state_clear(&c->st);
    capsa_close(&c->pidfd);
    capsa_close(&c->sync_fd);
    capsa_close(&c->console_fd);
    capsa_close(&c->dirfd);
    capsa_close(&c->rootfd);
    capsa_cgroup_free(c->cg);
    c->cg = NULL;
}

void capsa_create_rollback(struct capsa_created *c)
{
    if (c->pidfd >= 0) {
        capsa_pidfd_send_signal(c->pidfd, SIGKILL, 0);
        capsa_wait_gone(c->pidfd);
    }
    if (c->cg)
        capsa_cgroup_signal_all(c->cg, SIGKILL, NULL);
    if (c->st.systemd_unit) {
        struct capsa_err ignored = {0};
        (void)capsa_systemd_stop(c->st.systemd_unit, &ignored);
    }
    if (c->cg)
        capsa_cgroup_destroy(c->cg, NULL);
    if (c->level && c->level->host_stop)
        c->level->host_stop(c->dirfd, c->st.helper_pid, c->st.helper_start);
    if (c->st.shared_mntns && c->st.rootfs)
        capsa_rootfs_unmount_all(c->st.rootfs, NULL);
    if (c->dirfd >= 0 && c->rootfd >= 0 && c->st.id)
        capsa_state_dir_remove(c->rootfd, c->dirfd, c->st.id, NULL);
}

/* Everything create builds on its way, released by job_release. */
struct job {
    const struct capsa_ctx *ctx;
    const char *id;
    const struct capsa_create_opts *opts;
    bool run_mode;
    struct capsa_created *c;
    char *bundle;
    char *rootfs;
    char *raw; /* config.json as read */
    size_t rawlen;
    int fifo;       /* O_PATH exec fifo (create mode) */
    int child_sock; /* the init's end of the sync socket */
    int cgroup_fd;  /* v2 directory for CLONE_INTO_CGROUP */
    struct capsa_cgroup_join join;
    struct capsa_systemd_scope scope; /* --systemd-cgroup: the scope's placeholder */
    struct capsa_seccomp_prog *seccomp;
    bool new_ns[CAPSA_NS_COUNT];
    int *mount_fds; /* the init's slots (capsa_init_args.mount_fds) */
    struct capsa_init_args init;
    struct capsa_spawn spawn;
    char *hook_state;
    struct capsa_level_host lh; /* the level's runtime side (level/level.h) */
    struct capsa_level_child lc;
};

static void job_release(struct job *j)
{
    free(j->bundle);
    free(j->rootfs);
    free(j->raw);
    capsa_close(&j->fifo);
    capsa_close(&j->child_sock);
    capsa_close(&j->cgroup_fd);
    capsa_cgroup_join_close(&j->join);
    capsa_systemd_scope_release(&j->scope);
    capsa_seccomp_prog_free(j->seccomp);
    free(j->mount_fds);
    free(j->hook_state);
    if (j->c->level && j->c->level->host_release)
        j->c->level->host_release(&j->lh);
    capsa_close(&j->lh.pidns_fd);
    capsa_close(&j->lh.child_fd);
    capsa_close(&j->lh.child_aux_fd);
}

/* Checks that need the whole spec and the host, before anything is made. */
static int check_spec(const struct job *j, const struct capsa_spec *spec, struct capsa_err *err)
{
    if (j->ctx->systemd_cgroup) {
        struct capsa_systemd_unit u;
        int r = capsa_systemd_unit_parse(spec->linux_cfg.cgroups_path, j->id, &u, err);
        capsa_systemd_unit_free(&u);
        if (r == 0)
            r = capsa_sdprop_append(spec->annotations, spec->n_annotations, NULL, err);
        if (r < 0)
            return r;
    }
    /* Intel RDT (resctrl): not implemented. runc refuses it where the host
     * lacks resctrl; here it is refused on every host rather than ignored,
     * so that no cache or bandwidth limit is believed to hold. */
    if (spec->linux_cfg.intel_rdt != NULL) {
        struct stat st;
        bool has = stat("/sys/fs/resctrl/schemata", &st) == 0;
        return capsa_err_setx(err, ENOTSUP,
                              "linux.intelRdt: %s (Intel RDT cache and memory bandwidth "
                              "allocation is not applied by capsa)",
                              has ? "resctrl is mounted, but capsa does not support it yet"
                                  : "this host has no resctrl filesystem (/sys/fs/resctrl)");
    }
    /* The spec makes process optional at create and required at start
     * (runc and crun refuse it at create). `run` needs it now. */
    if (spec->process == NULL && j->run_mode)
        return capsa_err_setx(err, EINVAL, "process: required to run a container");
    if (spec->root_path == NULL)
        return capsa_err_setx(err, EINVAL, "root.path: required");
    if (!spec->has_linux)
        return capsa_err_setx(err, EINVAL, "linux: required on Linux");
    const struct capsa_linux *l = &spec->linux_cfg;
    const struct capsa_namespace *user = capsa_spec_namespace(spec, CAPSA_NS_USER);
    if ((l->n_uid_mappings || l->n_gid_mappings) && (user == NULL || user->path))
        return capsa_err_setx(err, EINVAL, "linux.uidMappings: mappings need a new user namespace");
    if (user && !user->path && (l->n_uid_mappings == 0 || l->n_gid_mappings == 0))
        return capsa_err_setx(err, EINVAL,
                              "linux.uidMappings, linux.gidMappings: a new user namespace needs "
                              "both mappings");
    const struct capsa_namespace *uts = capsa_spec_namespace(spec, CAPSA_NS_UTS);
    if ((spec->hostname || spec->domainname) && uts == NULL)
        return capsa_err_setx(err, EINVAL, "%s: setting it needs a UTS namespace",
                              spec->hostname ? "hostname" : "domainname");
    const struct capsa_namespace *tns = capsa_spec_namespace(spec, CAPSA_NS_TIME);
    if ((l->time_monotonic.set || l->time_boottime.set) && (tns == NULL || tns->path))
        return capsa_err_setx(err, EINVAL, "linux.timeOffsets: need a new time namespace");
    static const struct capsa_process none;
    const struct capsa_process *p = spec->process ? spec->process : &none;
    const struct capsa_create_opts *opts = j->opts;
    if (p->terminal && !opts->console_socket && !j->run_mode)
        return capsa_err_setx(err, EINVAL,
                              "process.terminal: --console-socket is required when the "
                              "container has a terminal");
    if (!p->terminal && opts->console_socket)
        return capsa_err_setx(err, EINVAL,
                              "--console-socket: the container has no terminal "
                              "(process.terminal is false)");
    if (opts->preserve_fds < 0)
        return capsa_err_setx(err, EINVAL, "--preserve-fds: negative");
    if (opts->listen_fds < 0 || opts->listen_fds > 4096 - opts->preserve_fds)
        return capsa_err_setx(err, EINVAL, "LISTEN_FDS %d: out of range", opts->listen_fds);
    if (p->apparmor_profile && !capsa_lsm_apparmor_enabled())
        return capsa_err_setx(err, ENOTSUP,
                              "process.apparmorProfile: AppArmor is not enabled on this host");
    if (p->selinux_label && !capsa_lsm_selinux_enabled())
        return capsa_err_setx(err, ENOTSUP,
                              "process.selinuxLabel: SELinux is not enabled on this host");
    return capsa_sysctl_validate(spec, err);
}

/* root.path, relative to the (already resolved, absolute) bundle. */
static int resolve_rootfs(const char *bundle, const struct capsa_spec *spec, char **rootfs_out,
                          struct capsa_err *err)
{
    cleanup_free char *joined = NULL;
    const char *rp = spec->root_path;
    if (rp[0] != '/') {
        int r = capsa_asprintf(&joined, err, "%s/%s", bundle, rp);
        if (r < 0)
            return r;
        rp = joined;
    }
    char *rootfs = realpath(rp, NULL);
    if (rootfs == NULL)
        return capsa_err_set(err, errno, "root.path %s", spec->root_path);
    struct stat sb;
    if (stat(rootfs, &sb) < 0 || !S_ISDIR(sb.st_mode)) {
        free(rootfs);
        return capsa_err_setx(err, ENOTDIR, "root.path %s: not a directory", spec->root_path);
    }
    *rootfs_out = rootfs;
    return 0;
}

/* Step 1: the bundle. Nothing exists yet, so an error leaves nothing behind. */
/* The level of the CRI pod sandbox the container joins (in the same state
 * root), in buf; NULL when it is no pod member or there is no such sandbox
 * (the level then says what is wrong, if anything). */
static const char *pod_level(const struct job *j, char *buf, size_t len)
{
    const char *sb = capsa_spec_pod_sandbox(j->c->spec);
    if (sb == NULL || !capsa_id_valid(sb) || j->ctx->root == NULL)
        return NULL;
    cleanup_close int root = open(j->ctx->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    cleanup_close int sd =
        root < 0 ? -1 : openat(root, sb, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    struct capsa_state st = {0};
    struct capsa_err e = {0};
    buf[0] = '\0';
    if (sd >= 0 && capsa_state_read(sd, &st, &e) == 0 && st.level)
        snprintf(buf, len, "%s", st.level);
    capsa_state_clear(&st);
    return buf[0] ? buf : NULL;
}

static int load_bundle(struct job *j, struct capsa_err *err)
{
    const char *b = j->opts->bundle ? j->opts->bundle : ".";
    j->bundle = realpath(b, NULL);
    if (j->bundle == NULL)
        return capsa_err_set(err, errno, "bundle %s", b);
    cleanup_free char *cfgpath = NULL;
    int r;
    if (j->opts->config)
        r = capsa_strdup(j->opts->config, &cfgpath, err);
    else
        r = capsa_asprintf(&cfgpath, err, "%s/config.json", j->bundle);
    if (r < 0)
        return r;
    r = capsa_read_file_at(AT_FDCWD, cfgpath, 16 << 20, &j->raw, &j->rawlen, err);
    if (r < 0)
        return r;
    r = capsa_spec_parse(j->raw, j->rawlen, &j->c->spec, err);
    if (r < 0)
        return capsa_err_wrap(err, "%s", cfgpath);
    /* What the config asks and cannot have (unknown or unavailable
     * capabilities), as runc: warned about, skipped. */
    capsa_spec_warnings_report(j->c->spec, capsa_log_warning_cb, (void *)j->ctx);
    capsa_caps_warn_unavailable(j->c->spec->process, capsa_log_warning_cb, (void *)j->ctx);
    r = check_spec(j, j->c->spec, err);
    /* The isolation level, and its own checks of the config, before
     * anything is made. */
    if (r == 0) {
        char pod[32];
        r = capsa_level_choose(j->c->spec, j->ctx->default_level, pod_level(j, pod, sizeof pod),
                               &j->c->level, err);
    }
    if (r == 0 && j->c->level->validate)
        r = j->c->level->validate(j->c->spec, err);
    if (r == 0)
        r = resolve_rootfs(j->bundle, j->c->spec, &j->rootfs, err);
    if (r == 0)
        capsa_log(j->ctx, CAPSA_LOG_DEBUG, "create %s: bundle %s, rootfs %s", j->id, j->bundle,
                  j->rootfs);
    return r;
}

static int dup_annotations(const struct capsa_spec *spec, struct capsa_state *st,
                           struct capsa_err *err)
{
    if (spec->n_annotations == 0)
        return 0;
    st->annotations = calloc(spec->n_annotations, sizeof *st->annotations);
    if (st->annotations == NULL)
        return capsa_err_set(err, ENOMEM, "annotations");
    for (size_t i = 0; i < spec->n_annotations; i++) {
        st->annotations[i].key = strdup(spec->annotations[i].key);
        st->annotations[i].value = strdup(spec->annotations[i].value);
        st->n_annotations++;
        if (!st->annotations[i].key || !st->annotations[i].value)
            return capsa_err_set(err, ENOMEM, "annotations");
    }
    return 0;
}

/* Make the container's cgroup and apply linux.resources. An unprivileged
 * runtime without delegation goes on without cgroups when no limits were
 * asked for (as runc does rootless), with a warning. */
static int setup_cgroup(struct job *j, struct capsa_cgroup **out, struct capsa_err *err)
{
    *out = NULL;
    const struct capsa_linux *l = &j->c->spec->linux_cfg;
    const struct capsa_resources *res = l->has_resources ? &l->resources : NULL;
    const char *path = l->cgroups_path;
    if (j->ctx->systemd_cgroup) {
        /* systemd makes the cgroup (a scope around a placeholder, which
         * the init replaces); the rest is as with cgroupfs, on its path. */
        struct capsa_systemd_unit u;
        char desc[300];
        int r = capsa_systemd_unit_parse(l->cgroups_path, j->id, &u, err);
        u.annotations = j->c->spec->annotations;
        u.n_annotations = j->c->spec->n_annotations;
        snprintf(desc, sizeof desc, "capsa container %s", j->id);
        if (r == 0)
            r = capsa_systemd_scope_start(&u, desc, res, &j->scope, err);
        if (r == 0 && (j->c->st.systemd_unit = strdup(u.name)) == NULL)
            r = capsa_err_set(err, ENOMEM, "systemd unit");
        capsa_systemd_unit_free(&u);
        if (r < 0)
            return r;
        capsa_log(j->ctx, CAPSA_LOG_DEBUG, "create %s: systemd unit %s, cgroup %s", j->id,
                  j->c->st.systemd_unit, j->scope.cgroup);
        path = j->scope.cgroup;
    }
    struct capsa_cgroup_host host = {0};
    int r = capsa_cgroup_host_load(&host, err);
    if (r == 0)
        r = capsa_cgroup_resolve(&host, path, j->id, out, err);
    capsa_cgroup_host_free(&host);
    if (r < 0)
        return r;
    if (j->ctx->systemd_cgroup)
        r = capsa_cgroup_adopt(*out, res, capsa_log_warning_cb, (void *)j->ctx, err);
    else
        r = capsa_cgroup_create(*out, res, capsa_log_warning_cb, (void *)j->ctx, err);
    if (r < 0) {
        capsa_cgroup_free(*out);
        *out = NULL;
        bool denied = r == -EACCES || r == -EPERM || r == -EROFS;
        if (geteuid() != 0 && denied && !j->ctx->systemd_cgroup &&
            (res == NULL ||
             (!res->has_memory && !res->has_cpu && !res->has_pids && !res->has_blkio &&
              res->n_hugepage_limits == 0 && res->n_unified == 0))) {
            capsa_log(j->ctx, CAPSA_LOG_DEBUG, "no cgroup for %s (%s): running without one", j->id,
                      err->msg);
            capsa_err_clear(err);
            return 0;
        }
        return capsa_err_wrap(err, "cgroup");
    }
    for (size_t i = 0; *out != NULL && i < (*out)->n; i++)
        capsa_log(j->ctx, CAPSA_LOG_DEBUG, "create %s: cgroup %s", j->id, (*out)->d[i].path);
    return 0;
}

/* The host id that id 0 of the container maps to (0 when unmapped). */
static uint32_t host_id(const struct capsa_idmap *m, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (m[i].container_id == 0 && m[i].size > 0)
            return m[i].host_id;
    }
    return 0;
}

static int make_fifo(struct job *j, struct capsa_err *err)
{
    struct capsa_created *c = j->c;
    if (mkfifoat(c->dirfd, CAPSA_FIFO_FILE, 0600) < 0)
        return capsa_err_set(err, errno, "create exec fifo");
    j->fifo = openat(c->dirfd, CAPSA_FIFO_FILE, O_PATH | O_CLOEXEC);
    if (j->fifo < 0)
        return capsa_err_set(err, errno, "open exec fifo");
    /* In a new user namespace the init reopens the fifo as the container's
     * root: that host id must own it. */
    const struct capsa_spec *spec = c->spec;
    const struct capsa_namespace *uns = capsa_spec_namespace(spec, CAPSA_NS_USER);
    if (uns && !uns->path) {
        uid_t hu = host_id(spec->linux_cfg.uid_mappings, spec->linux_cfg.n_uid_mappings);
        gid_t hg = host_id(spec->linux_cfg.gid_mappings, spec->linux_cfg.n_gid_mappings);
        if (fchownat(c->dirfd, CAPSA_FIFO_FILE, hu, hg, AT_SYMLINK_NOFOLLOW) < 0)
            return capsa_err_set(err, errno, "chown exec fifo");
    }
    return 0;
}

/* Step 2: the state directory (from here on, failure must undo). */
static int make_state(struct job *j, struct capsa_err *err)
{
    struct capsa_created *c = j->c;
    const struct capsa_spec *spec = c->spec;
    int r = capsa_state_root_open(j->ctx->root, &c->rootfd, err);
    if (r == 0)
        r = capsa_state_dir_create(c->rootfd, j->id, &c->dirfd, err);
    if (r < 0)
        return r;
    struct capsa_state *st = &c->st;
    if ((r = capsa_strdup(j->id, &st->id, err)) < 0 ||
        (r = capsa_strdup(spec->oci_version, &st->oci_version, err)) < 0 ||
        (r = capsa_strdup(j->bundle, &st->bundle, err)) < 0 ||
        (r = capsa_strdup(j->rootfs, &st->rootfs, err)) < 0 ||
        (r = capsa_timestamp_now(&st->created, err)) < 0 ||
        (r = dup_annotations(spec, st, err)) < 0 ||
        (r = capsa_strdup(c->level->name, &st->level, err)) < 0)
        return r;
    st->saved = CAPSA_STATUS_CREATING;
    st->hooks_known = true;
    st->has_poststart = spec->hooks.n_poststart > 0;
    st->has_poststop = spec->hooks.n_poststop > 0;
    const struct capsa_namespace *pidns = capsa_spec_namespace(spec, CAPSA_NS_PID);
    st->new_pidns = pidns && !pidns->path;
    st->shared_mntns = capsa_spec_namespace(spec, CAPSA_NS_MNT) == NULL;
    /* A fresh directory that we hold locked: nobody can see a partial file,
     * so no temporary file and rename (a new inode each) is needed. */
    {
        cleanup_close int cfd = openat(c->dirfd, CAPSA_CONFIG_FILE,
                                       O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        r = cfd < 0 ? -errno : capsa_write_all(cfd, j->raw, j->rawlen);
        if (r < 0)
            return capsa_err_set(err, -r, "write %s", CAPSA_CONFIG_FILE);
    }
    if ((r = setup_cgroup(j, &c->cg, err)) < 0)
        return r;
    if (c->cg && (r = capsa_cgroup_encode(c->cg, &st->cgroup, err)) < 0)
        return r;
    if ((r = capsa_state_write(c->dirfd, st, err)) < 0)
        return r;
    return j->run_mode ? 0 : make_fifo(j, err);
}

/* Which namespaces are new, which joined, and what that asks of the clone. */
static void plan_namespaces(struct job *j)
{
    const struct capsa_spec *spec = j->c->spec;
    const struct capsa_linux *l = &spec->linux_cfg;
    struct capsa_spawn *s = &j->spawn;
    for (size_t i = 0; i < l->n_namespaces; i++) {
        const struct capsa_namespace *ns = &l->namespaces[i];
        if (ns->path) {
            s->join_paths = spec;
            capsa_log(j->ctx, CAPSA_LOG_DEBUG, "create %s: join %s namespace %s", j->id,
                      capsa_ns_type_name(ns->type), ns->path);
            continue;
        }
        j->new_ns[ns->type] = true;
        if (ns->type == CAPSA_NS_CGROUP)
            continue; /* unshared by the init once it is in its cgroup */
        if (ns->type == CAPSA_NS_TIME && (l->time_monotonic.set || l->time_boottime.set))
            s->timens_offsets = spec;
        s->clone_flags |= (uint64_t)capsa_ns_clone_flag(ns->type);
    }
}

/* Step 3: the sync socket, the init's arguments, the seccomp program. */
static int prepare(struct job *j, struct capsa_err *err)
{
    struct capsa_created *c = j->c;
    const struct capsa_spec *spec = c->spec;
    int sp[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
        return capsa_err_set(err, errno, "socketpair");
    c->sync_fd = sp[0];
    j->child_sock = sp[1];
    /* The init clears close-on-exec on fds 3..3+N-1: none of ours may sit
     * there, or it would reach the container. */
    int passed = j->opts->listen_fds + j->opts->preserve_fds;
    int ours[] = {c->rootfd, c->dirfd, j->fifo, sp[0], sp[1]};
    int r = capsa_check_passed_fds(ours, ARRAY_SIZE(ours), passed, err);
    if (r < 0)
        return r;
    if (c->cg && (capsa_cgroup_v2_fd(c->cg, &j->cgroup_fd, err) < 0 ||
                  capsa_cgroup_join_open(c->cg, &j->join, err) < 0))
        return capsa_err_wrap(err, "cgroup");
    if (spec->n_mounts > 0) {
        j->mount_fds = calloc(spec->n_mounts, sizeof *j->mount_fds);
        if (j->mount_fds == NULL)
            return capsa_err_set(err, ENOMEM, "mounts");
    }
    /* Compiled here, before clone: the init gets the program as plain
     * inherited memory and never allocates for it. */
    if (spec->linux_cfg.seccomp &&
        (r = capsa_seccomp_compile(spec->linux_cfg.seccomp, &j->seccomp, capsa_log_warning_cb,
                                   (void *)j->ctx, err)) < 0)
        return r;

    /* The level's host side: interpose starts its supervisor here. */
    struct capsa_level_host *lh = &j->lh;
    *lh = (struct capsa_level_host){.level = c->level,
                                    .id = j->id,
                                    .spec = spec,
                                    .state_dirfd = c->dirfd,
                                    .cgroup = c->st.cgroup,
                                    .bundle = j->bundle,
                                    .rootfs = j->rootfs,
                                    .config_raw = j->raw,
                                    .config_len = j->rawlen,
                                    .allow_tcg = j->ctx->allow_tcg,
                                    .pidns_fd = -1,
                                    .child_fd = -1,
                                    .child_aux_fd = -1};
    if (c->level->host_prepare && (r = c->level->host_prepare(lh, err)) < 0)
        return r;
    c->st.helper_pid = lh->helper_pid;
    c->st.helper_start = lh->helper_start;
    int level_fds[] = {lh->child_fd, lh->child_aux_fd};
    if ((r = capsa_check_passed_fds(level_fds, ARRAY_SIZE(level_fds), passed, err)) < 0)
        return r;
    j->lc = (struct capsa_level_child){.id = j->id,
                                       .spec = spec,
                                       .p = spec->process,
                                       .inherited_fds = passed,
                                       .level_fd = lh->child_fd,
                                       .aux_fd = lh->child_aux_fd,
                                       .prog = lh->child_prog,
                                       .priv = lh->priv};

    struct capsa_spawn *s = &j->spawn;
    capsa_spawn_init(s);
    plan_namespaces(j);
    /* A joined netns (podman, CNI: namespaces[].path) is as much the
     * container's own as a new one: sysfs must be mounted fresh there too,
     * or the container sees the host's /sys/class/net (runc mounts it fresh
     * and falls back to the host's only on EPERM, as mount.c does). */
    const struct capsa_namespace *netns = capsa_spec_namespace(spec, CAPSA_NS_NET);
    j->init = (struct capsa_init_args){
        .spec = spec,
        .id = j->id,
        .rootfs = j->rootfs,
        .bundle = j->bundle,
        .sync_fd = j->child_sock,
        .fifo_fd = j->fifo,
        .no_pivot = j->opts->no_pivot,
        .no_new_keyring = j->opts->no_new_keyring,
        .listen_fds = j->opts->listen_fds,
        .preserve_fds = passed,
        .new_userns = j->new_ns[CAPSA_NS_USER],
        .new_netns = netns != NULL,
        .new_cgroupns = j->new_ns[CAPSA_NS_CGROUP],
        .shared_mntns = c->st.shared_mntns,
        .mount_fds = j->mount_fds,
        .seccomp = j->seccomp,
        .cg = c->cg,
        .join = j->join.n > 0 ? &j->join : NULL,
        .log = {.sock = j->ctx->log ? j->child_sock : -1, .max = j->ctx->log_level},
        .level = c->level,
        .lc = &j->lc,
        .more_masked = lh->masked,
        .n_more_masked = lh->n_masked,
        .more_readonly = lh->readonly,
        .n_more_readonly = lh->n_readonly,
    };
    capsa_signals_ignored(&j->init.sig_ignored);
    s->cgroup_fd = j->cgroup_fd;
    s->child_sock = j->child_sock;
    s->parent_sock = c->sync_fd;
    s->close_fds[0] = c->dirfd;
    s->close_fds[1] = c->rootfd;
    s->child_main = capsa_init_main;
    s->child_arg = &j->init;
    return 0;
}

/* Open dir (O_PATH) and each bind source as seen from the mount namespace of
 * pid, with our credentials: enter it, open, come back. The fds then belong
 * to that namespace's copies of the mounts, which the new mount API
 * requires, and the root of a new user namespace need not be able to walk
 * the host paths (a 0700 parent directory, a root-only bind source). We are
 * single-threaded here. */
static int open_in_mntns(struct job *j, int *rootfs_fd, struct capsa_err *err)
{
    const struct capsa_spec *spec = j->c->spec;
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/ns/mnt", (int)j->c->pid);
    cleanup_close int self = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
    cleanup_close int target = open(path, O_RDONLY | O_CLOEXEC);
    cleanup_close int cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (self < 0 || target < 0 || cwd < 0)
        return capsa_err_set(err, errno, "open mount namespaces");
    if (setns(target, CLONE_NEWNS) < 0)
        return capsa_err_set(err, errno, "enter the container's mount namespace");
    int r = 0;
    *rootfs_fd = open(j->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (*rootfs_fd < 0)
        r = capsa_err_set(err, errno, "open rootfs %s", j->rootfs);
    for (size_t i = 0; r == 0 && i < spec->n_mounts; i++) {
        const struct capsa_mount *m = &spec->mounts[i];
        if (!capsa_mount_is_bind(m) || m->source == NULL)
            continue;
        /* Relative sources are relative to the bundle. A source that does
         * not open here is left to the init, which reports it. */
        cleanup_free char *abs = NULL;
        const char *src = m->source;
        if (src[0] != '/') {
            if ((r = capsa_asprintf(&abs, err, "%s/%s", j->bundle, src)) < 0)
                break;
            src = abs;
        }
        j->mount_fds[i] = open(src, O_PATH | O_CLOEXEC);
    }
    if (setns(self, CLONE_NEWNS) < 0 || fchdir(cwd) < 0) {
        /* We cannot stay in the container's namespace: give up entirely. */
        capsa_close(rootfs_fd);
        return capsa_err_set(err, errno, "return to the runtime's mount namespace");
    }
    if (r < 0)
        capsa_close(rootfs_fd);
    return r;
}

/* Send the bind sources (MOUNT_FD) and GO with the hook state and rootfs. */
static int send_go(struct job *j, struct capsa_err *err)
{
    struct capsa_created *c = j->c;
    const struct capsa_spec *spec = c->spec;
    cleanup_close int rootfs_fd = -1;
    if (j->new_ns[CAPSA_NS_USER] && !c->st.shared_mntns && geteuid() == 0) {
        for (size_t i = 0; i < spec->n_mounts; i++)
            j->mount_fds[i] = -1;
        int r = open_in_mntns(j, &rootfs_fd, err);
        for (size_t i = 0; i < spec->n_mounts; i++) {
            if (r == 0 && j->mount_fds[i] >= 0)
                r = capsa_sync_send(c->sync_fd, CAPSA_SYNC_MOUNT_FD, (int32_t)i, NULL, 0,
                                    j->mount_fds[i], err);
            capsa_close(&j->mount_fds[i]);
        }
        if (r < 0)
            return r;
    }
    return capsa_sync_send(c->sync_fd, CAPSA_SYNC_GO, 0, j->hook_state, strlen(j->hook_state) + 1,
                           rootfs_fd, err);
}

/* PREPIVOT: the init's mounts are done; the runtime-namespace hooks run. */
static int run_prepivot_hooks(void *opaque, struct capsa_err *err)
{
    const struct job *j = opaque;
    const struct capsa_hooks *h = &j->c->spec->hooks;
    for (size_t i = 0; i < h->n_prestart; i++)
        capsa_log(j->ctx, CAPSA_LOG_DEBUG, "create %s: prestart hook #%zu: %s", j->id, i,
                  h->prestart[i].path);
    for (size_t i = 0; i < h->n_create_runtime; i++)
        capsa_log(j->ctx, CAPSA_LOG_DEBUG, "create %s: createRuntime hook #%zu: %s", j->id, i,
                  h->create_runtime[i].path);
    int r = capsa_hooks_run("prestart", h->prestart, h->n_prestart, j->hook_state, err);
    if (r == 0)
        r = capsa_hooks_run("createRuntime", h->create_runtime, h->n_create_runtime, j->hook_state,
                            err);
    return r;
}

/* The init closed the sync socket without a word: it died. Say how, and
 * name the likely culprit when it was SIGKILLed with a memory limit set (the
 * OOM killer, a limit too small for even the setup). */
static void explain_init_death(const struct capsa_created *c, struct capsa_err *err)
{
    siginfo_t si;
    memset(&si, 0, sizeof si);
    if (c->pidfd < 0 || waitid(P_PIDFD, (id_t)c->pidfd, &si, WEXITED | WNOWAIT) < 0)
        return;
    const struct capsa_linux *l = &c->spec->linux_cfg;
    const struct capsa_resources *res = &l->resources;
    if (si.si_code == CLD_KILLED && si.si_status == SIGKILL && l->has_resources &&
        res->has_memory && res->memory.has_limit)
        capsa_err_setx(err, EPIPE,
                       "container init was killed (SIGKILL) during setup: "
                       "linux.resources.memory.limit (%lld bytes) is probably too small "
                       "(the OOM killer)",
                       (long long)res->memory.limit);
    else if (si.si_code == CLD_KILLED || si.si_code == CLD_DUMPED)
        capsa_err_setx(err, EPIPE, "container init was killed by signal %d during setup",
                       si.si_status);
    else if (si.si_code == CLD_EXITED)
        capsa_err_setx(err, EPIPE, "container init exited with status %d during setup",
                       si.si_status);
}

/* Step 5: from the clone to CREATED. */
static int handshake(struct job *j, struct capsa_err *err)
{
    struct capsa_created *c = j->c;
    const struct capsa_spec *spec = c->spec;
    struct capsa_state *st = &c->st;
    st->pid = c->pid;
    int r = capsa_proc_start_time(c->pid, &st->start, NULL);
    if (r < 0)
        return capsa_err_set(err, -r, "read the start time of the container init");
    capsa_log(j->ctx, CAPSA_LOG_DEBUG, "create %s: init pid %d", j->id, (int)c->pid);
    /* The pid reaches state.json with CREATED below: until then we hold the
     * lock (no other command looks), and the init dies with us
     * (PR_SET_PDEATHSIG) if we die first. */
    if (j->new_ns[CAPSA_NS_USER] && (r = capsa_idmap_write(c->pid, spec, err)) < 0)
        return r;
    /* Into the cgroup before any user code runs (the init waits for GO): v2
     * already at clone time, v1 by the init itself right after GO; here only
     * what those could not do. */
    if (c->cg) {
        r = capsa_cgroup_enter(c->cg, c->pid, false, !j->spawn.into_cgroup, err);
        if (r == 0) {
            const struct capsa_resources *res = &spec->linux_cfg.resources;
            r = capsa_cgroup_devices_apply(c->cg, res->devices, res->n_devices, err);
            /* Rootless, as runc: attaching a BPF device filter needs
             * privileges an unprivileged runtime lacks, even in a
             * delegated cgroup. Its user namespace is the device fence
             * then: no mknod, host nodes bound with the user's rights. */
            if (r == -EPERM && geteuid() != 0) {
                capsa_log(j->ctx, CAPSA_LOG_DEBUG, "create %s: no device filter (rootless): %s",
                          j->id, err->msg);
                capsa_err_clear(err);
                r = 0;
            }
        }
        if (r < 0)
            return capsa_err_wrap(err, "cgroup");
    }
    if ((r = capsa_state_to_json(st, CAPSA_STATUS_CREATED, false, &j->hook_state, err)) < 0 ||
        (r = send_go(j, err)) < 0)
        return r;
    const struct capsa_seccomp *sc = spec->linux_cfg.seccomp;
    struct capsa_sync_peer peer = {
        .ctx = j->ctx,
        .sock = c->sync_fd,
        .who = "container init",
        .allowed = CAPSA_SYNC_BIT(CAPSA_SYNC_PREPIVOT) | CAPSA_SYNC_BIT(CAPSA_SYNC_CONSOLE) |
                   CAPSA_SYNC_BIT(CAPSA_SYNC_SECCOMP) | CAPSA_SYNC_BIT(CAPSA_SYNC_LOG),
        .console_socket = j->opts->console_socket,
        .console_fd = j->run_mode ? &c->console_fd : NULL,
        .listener_path = sc ? sc->listener_path : NULL,
        .listener_metadata = sc ? sc->listener_metadata : NULL,
        .state_json = j->hook_state,
        .prepivot = run_prepivot_hooks,
        .opaque = j,
    };
    r = capsa_sync_serve(&peer, CAPSA_SYNC_CREATED, err);
    if (r == -EPIPE)
        explain_init_death(c, err);
    return r;
}

/* Step 6: the container is created. */
static int finish(struct job *j, struct capsa_err *err)
{
    struct capsa_created *c = j->c;
    c->st.saved = CAPSA_STATUS_CREATED;
    int r = capsa_state_write(c->dirfd, &c->st, err);
    if (r == 0 && j->opts->pid_file)
        r = capsa_write_pid_file(j->opts->pid_file, c->pid, err);
    return r;
}

/* Step 4: clone the init. A level may ask for the container's pid namespace
 * to be made inside one of its own (interpose: the supervisor's, so that
 * the supervisor is invisible from the container and its death kills the
 * container): we enter it for our children only, for this one clone, and
 * come back, so that the hooks we run later are not born in it. */
static int spawn_init(struct job *j, struct capsa_err *err)
{
    if (j->lh.pidns_fd < 0)
        return capsa_spawn_child(&j->spawn, err);
    cleanup_close int self = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
    if (self < 0)
        return capsa_err_set(err, errno, "open /proc/self/ns/pid");
    if (setns(j->lh.pidns_fd, CLONE_NEWPID) < 0)
        return capsa_err_set(err, errno, "enter the %s level's pid namespace", j->c->level->name);
    /* A new pid namespace can only be made by a process whose own pid
     * namespace is its parent: the stage1, born in the level's. It only
     * clones, so it may share our memory (spawn.h, share_vm): a copy of the
     * address space here, after the level's helper was forked, cost 2-3 ms
     * of copy-on-write faults on a VM with shadow paging. */
    j->spawn.stage1 = true;
    j->spawn.share_vm = true;
    int r = capsa_spawn_child(&j->spawn, err);
    if (setns(self, CLONE_NEWPID) < 0 && r == 0)
        r = capsa_err_set(err, errno, "return to the runtime's pid namespace");
    return r;
}

/* Steps 1 and 2, for create and restore alike: the bundle, then the state
 * directory and the cgroup. On failure what was made is undone and every
 * resource released. */
static int begin(const struct capsa_ctx *ctx, const char *id, const struct capsa_create_opts *opts,
                 bool run_mode, struct capsa_created *c, struct job *j, struct capsa_err *err)
{
    memset(c, 0, sizeof *c);
    c->rootfd = c->dirfd = c->pidfd = c->sync_fd = c->console_fd = -1;
    *j = (struct job){.ctx = ctx,
                      .id = id,
                      .opts = opts,
                      .run_mode = run_mode,
                      .c = c,
                      .fifo = -1,
                      .child_sock = -1,
                      .cgroup_fd = -1,
                      .scope = {.holder_fd = -1},
                      .lh = {.pidns_fd = -1, .child_fd = -1, .child_aux_fd = -1}};
    if (!capsa_id_valid(id))
        return capsa_err_setx(err, EINVAL,
                              "invalid container id \"%s\": use 1-255 characters from "
                              "[A-Za-z0-9_+.-], not \".\" or \"..\"",
                              id ? id : "");
    /* load_bundle makes nothing; make_state's partial work is rolled back. */
    int r = load_bundle(j, err);
    if (r == 0 && (r = make_state(j, err)) < 0)
        capsa_create_rollback(c);
    if (r < 0) {
        job_release(j);
        capsa_created_release(c);
    }
    return r;
}

int capsa_create_internal(const struct capsa_ctx *ctx, const char *id,
                          const struct capsa_create_opts *opts, bool run_mode,
                          struct capsa_created *c, struct capsa_err *err)
{
    struct job j;
    int r = begin(ctx, id, opts, run_mode, c, &j, err);
    if (r < 0)
        return r;
    if ((r = prepare(&j, err)) < 0)
        goto fail;
    r = spawn_init(&j, err);
    /* The init has its copies; ours go now. */
    capsa_seccomp_prog_free(j.seccomp);
    j.seccomp = NULL;
    capsa_cgroup_join_close(&j.join);
    capsa_close(&j.cgroup_fd);
    /* The init holds the scope now (it was born in its cgroup). */
    capsa_systemd_scope_release(&j.scope);
    if (r < 0)
        goto fail;
    c->pid = j.spawn.pid;
    c->pidfd = j.spawn.pidfd;
    capsa_close(&j.child_sock);
    capsa_close(&j.fifo);
    if ((r = handshake(&j, err)) < 0)
        goto fail;
    if (c->level->host_created && (r = c->level->host_created(&j.lh, c->pid, err)) < 0)
        goto fail;
    if ((r = finish(&j, err)) < 0)
        goto fail;
    job_release(&j);
    return 0;

fail:
    capsa_create_rollback(c);
    capsa_created_release(c);
    job_release(&j);
    return r;
}

int capsa_create_restore(const struct capsa_ctx *ctx, const char *id,
                         const struct capsa_create_opts *opts, capsa_restore_fn fn, void *opaque,
                         struct capsa_created *c, struct capsa_err *err)
{
    /* run_mode: no exec fifo, the restored process runs. */
    struct job j;
    int r = begin(ctx, id, opts, true, c, &j, err);
    if (r < 0)
        return r;
    /* The scope's placeholder holds the systemd unit until fn has put the
     * restoring process in the cgroup. */
    r = fn(opaque, c, err);
    capsa_systemd_scope_release(&j.scope);
    if (r < 0)
        goto fail;
    c->st.pid = c->pid;
    if ((r = capsa_proc_start_time(c->pid, &c->st.start, NULL)) < 0) {
        r = capsa_err_set(err, -r, "read the start time of the restored process %d", (int)c->pid);
        goto fail;
    }
    /* No exec fifo: the state reads as running. */
    c->st.saved = CAPSA_STATUS_RUNNING;
    if ((r = capsa_state_write(c->dirfd, &c->st, err)) < 0)
        goto fail;
    if (opts->pid_file && (r = capsa_write_pid_file(opts->pid_file, c->pid, err)) < 0)
        goto fail;
    job_release(&j);
    return 0;

fail:
    capsa_create_rollback(c);
    capsa_created_release(c);
    job_release(&j);
    return r;
}

int capsa_container_create(const struct capsa_ctx *ctx, const char *id,
                           const struct capsa_create_opts *opts, struct capsa_err *err)
{
    struct capsa_created c;
    int r = capsa_create_internal(ctx, id, opts, false, &c, err);
    if (r < 0)
        return r;
    capsa_created_release(&c);
    return 0;
}
