/* child.c - steps shared by the init and exec'd processes; see child.h. */
#include "core/child.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "level/level.h"
#include "linux/cgroup.h"
#include "linux/process.h"
#include "linux/scmp.h"
#include "util/util.h"

int capsa_child_begin(int sock, const sigset_t *ignored, const struct capsa_cgroup_join *join,
                      int *mount_fds, size_t n_mount_fds, struct capsa_sync_msg *go,
                      struct capsa_err *err)
{
    for (size_t i = 0; i < n_mount_fds; i++)
        mount_fds[i] = -1;
    /* Fails only for a process group leader, which a fresh clone is not. */
    if (setsid() < 0)
        return capsa_err_set(err, errno, "setsid");
    capsa_signals_reset(ignored);
    for (;;) {
        int r = capsa_sync_recv(sock, go, err);
        if (r < 0)
            return r;
        if (go->type == CAPSA_SYNC_GO)
            break;
        if (go->type == CAPSA_SYNC_ERROR)
            return capsa_sync_take_err(go, "runtime", err);
        if (go->type != CAPSA_SYNC_MOUNT_FD || go->fd < 0 || go->value < 0 ||
            (size_t)go->value >= n_mount_fds || mount_fds[go->value] >= 0) {
            uint32_t t = go->type;
            capsa_sync_msg_clear(go);
            return capsa_err_setx(err, EPROTO, "sync: unexpected %s before GO", capsa_sync_name(t));
        }
        mount_fds[go->value] = steal_fd(go->fd);
        capsa_sync_msg_clear(go);
    }
    /* Into the v1 cgroups before anything of the container runs. */
    if (join) {
        int r = capsa_cgroup_join_self(join, err);
        for (size_t i = 0; i < join->n; i++)
            close(join->fd[i]);
        if (r < 0) {
            capsa_sync_msg_clear(go);
            return r;
        }
    }
    /* Until execve, this process runs the runtime's code and holds its file
     * descriptors: keep other processes (a container sharing our pid
     * namespace) from ptrace or /proc/<pid>/{exe,fd,mem}. execve resets it.
     * Only after GO: an unprivileged runtime writes the init's uid_map,
     * which it could not open if the init were non-dumpable. */
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    return 0;
}

int capsa_child_prepare(const struct capsa_spec *spec, const struct capsa_process *p, int procfd,
                        bool create_cwd, int *cwd_fd, char **exe, struct capsa_err *err)
{
    *cwd_fd = -1;
    if (spec->linux_cfg.has_personality) {
        int r = capsa_process_apply_personality(&spec->linux_cfg.personality, err);
        if (r < 0)
            return r;
    }
    int r = capsa_process_apply_attrs(p, procfd, err);
    if (r < 0)
        return r;
    if (p->cwd) {
        *cwd_fd = capsa_process_enter_cwd(p->cwd, create_cwd, err);
        if (*cwd_fd < 0)
            return *cwd_fd;
    }
    if (exe && (r = capsa_process_find_exec(p, exe, err)) < 0) {
        capsa_close(cwd_fd);
        return r;
    }
    return 0;
}

static int load_filter(const struct capsa_child_confine *c, struct capsa_err *err)
{
    const struct capsa_seccomp_prog *prog = c->seccomp;
    int nfd = -1;
    int r = capsa_seccomp_load(prog, prog->uses_notify ? &nfd : NULL, err);
    if (r < 0 || nfd < 0)
        return r;
    r = capsa_sync_send(c->sock, CAPSA_SYNC_SECCOMP, 0, NULL, 0, nfd, err);
    close(nfd);
    return r;
}

/* The OCI filter, then the level's confinement (interpose: its own filter,
 * whose listener goes to the supervisor), which the OCI filter's rules then
 * also cover: the kernel applies the strictest answer of all filters. */
static int load_filters(const struct capsa_child_confine *c, struct capsa_err *err)
{
    int r;
    if (c->seccomp && (r = load_filter(c, err)) < 0)
        return r;
    if (c->level && c->level->child_confine && (r = c->level->child_confine(c->lc, err)) < 0)
        return r;
    return 0;
}

int capsa_child_confine(const struct capsa_child_confine *c, struct capsa_err *err)
{
    const struct capsa_process *p = c->p;
    int r = capsa_process_prepare_fds(c->preserve_fds, err);
    if (r < 0)
        return r;
    if ((r = capsa_lsm_apply(p, *c->procfd, err)) < 0)
        return r;
    bool late = p->no_new_privileges;
    if (!late && (r = load_filters(c, err)) < 0)
        return r;
    if ((r = capsa_process_switch_user(p, err)) < 0)
        return r;
    /* Again as the user, through the same fd (never the path again): a
     * directory only root could enter is refused now rather than leaving
     * the process somewhere it cannot be. */
    if (*c->cwd_fd >= 0 && fchdir(*c->cwd_fd) < 0 && errno != EACCES)
        return capsa_err_set(err, errno, "process.cwd: chdir %s", p->cwd ? p->cwd : "/");
    capsa_close(c->cwd_fd);
    if (!c->keep_procfd)
        capsa_close(c->procfd);
    if (late && (r = load_filters(c, err)) < 0)
        return r;
    return 0;
}

/* Set KEY=value in v (len entries, room for one more): replace, or append. */
static int env_set(char **v, size_t *len, const char *key, long value, struct capsa_err *err)
{
    char *kv = NULL;
    int r = capsa_asprintf(&kv, err, "%s=%ld", key, value);
    if (r < 0)
        return r;
    size_t klen = strlen(key) + 1;
    for (size_t i = 0; i < *len; i++) {
        if (strncmp(v[i], kv, klen) == 0) {
            free(v[i]);
            v[i] = kv;
            return 0;
        }
    }
    v[(*len)++] = kv;
    return 0;
}

int capsa_child_env(const struct capsa_process *p, int listen_fds, char ***out,
                    struct capsa_err *err)
{
    /* HOME from the image's /etc/passwd when the config has none. */
    cleanup_strv char **home = NULL;
    int r = capsa_process_env_home(p, &home, err);
    if (r < 0)
        return r;
    char *const *base = home ? home : p->env;
    size_t have = base ? capsa_strv_len(base) : 0;
    cleanup_strv char **v = calloc(have + 3, sizeof *v);
    if (v == NULL)
        return capsa_err_set(err, ENOMEM, "process.env");
    for (size_t i = 0; i < have; i++) {
        v[i] = strdup(base[i]);
        if (v[i] == NULL)
            return capsa_err_set(err, ENOMEM, "process.env");
    }
    size_t len = have;
    if (listen_fds > 0 && ((r = env_set(v, &len, "LISTEN_FDS", listen_fds, err)) < 0 ||
                           (r = env_set(v, &len, "LISTEN_PID", (long)getpid(), err)) < 0))
        return r;
    *out = steal_ptr(v);
    return 0;
}

int capsa_child_execve(const struct capsa_process *p, const char *exe, char *const *env,
                       struct capsa_err *err)
{
    execve(exe, p->args, env ? env : (char *[]){NULL});
    char eb[128];
    int e = errno;
    return capsa_err_setx(err, e, "exec: \"%s\": %s", p->args[0],
                          capsa_strerror_lower(e, eb, sizeof eb));
}
