/* level.h - the isolation levels behind one table of operations.
 *
 * A container runs at one level: native (namespaces, cgroups, seccomp,
 * capabilities: what runc and crun do), interpose (native plus a strict
 * system call allowlist whose calls on host resources a per-container
 * supervisor serves), unikernel (a Solo5 spt program loaded by the init
 * behind a nine-call filter), vm (the workload in a virtual machine whose
 * VMM runs in the native container, level/vm/level.c). Every level runs
 * inside the native container: each adds to it, none replaces it.
 *
 * The core never asks which level a container is at: it calls the level's
 * hooks at fixed points of create, exec, run and delete (docs/architecture.md
 * draws them). A hook left NULL does nothing. Adding a level is one folder
 * under src/lib/level/ and one entry in the table of level.c.
 *
 * The level is chosen by the annotation capsa.isolation, else by the
 * runtime entry's default (capsa_ctx.default_level: the --isolation flag, the
 * name the binary was started under, capsa-LEVEL, or the configuration
 * file), else native. Where a runtime entry's default is not native, an
 * annotation may not choose a level of lower rank: a pod annotation cannot
 * take a workload out of the sandbox its RuntimeClass promised. A CRI pod's
 * container (capsa_spec_pod_sandbox) is at least at its sandbox's level,
 * which the pod's RuntimeClass (or pod annotation) chose. The chosen
 * level is recorded in state.json, so that exec, delete and the rest act on
 * the level the container was created at whatever entry they are called
 * through. */
#ifndef CAPSA_LEVEL_LEVEL_H
#define CAPSA_LEVEL_LEVEL_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "spec/spec.h"
#include "util/err.h"

#define CAPSA_LEVEL_ANNOTATION "capsa.isolation"

struct capsa_level;

/* The runtime's side of one command (create or exec) at a level. The core
 * fills the first part; the level's host_prepare the second, which the core
 * then applies; host_release frees what host_prepare made for this command
 * alone (a helper process it started stays: host_stop ends it). */
struct capsa_level_host {
    const struct capsa_level *level;
    const char *id;
    const struct capsa_spec *spec;
    int state_dirfd;        /* the container's (locked) state directory */
    const char *cgroup;     /* the container's cgroup (capsa_cgroup_encode text) or NULL */
    const char *bundle;     /* create: the bundle directory (absolute) */
    bool exec;              /* exec (a process into a running container), not create */
    bool created;           /* exec: the container is created, not yet started */
    const char *rootfs;     /* create: the rootfs directory (absolute) */
    const char *config_raw; /* create: config.json as read (config_len bytes) */
    size_t config_len;
    bool allow_tcg;   /* capsa_ctx.allow_tcg: a VM may run without KVM */
    pid_t helper_pid; /* create: set by host_prepare */
    unsigned long long helper_start;
    /* Set by host_prepare: */
    int pidns_fd;     /* >= 0: the container's new pid namespace is made inside this one */
    int child_fd;     /* >= 0: handed to the child as capsa_level_child.level_fd */
    int child_aux_fd; /* >= 0: a second one, capsa_level_child.aux_fd */
    /* A seccomp program (linux/scmp.h) the child installs in child_confine:
     * compiled here, before the clone, so that the child allocates nothing. */
    struct capsa_seccomp_prog *child_prog;
    /* More paths for the container's mount namespace to mask and make
     * read-only, as linux.maskedPaths and linux.readonlyPaths (create). */
    const char *const *masked;
    size_t n_masked;
    const char *const *readonly;
    size_t n_readonly;
    void *priv;
};

/* The level's side inside the container: the init (create, run) or the
 * process of exec, running the runtime's code until execve. */
struct capsa_level_child {
    const char *id; /* the container's */
    const struct capsa_spec *spec;
    const struct capsa_process *p; /* the process to start */
    bool exec;
    int inherited_fds; /* fds 3..3+N-1 were handed in (--preserve-fds, LISTEN_FDS) */
    int level_fd;      /* capsa_level_host.child_fd, or -1 */
    int aux_fd;        /* capsa_level_host.child_aux_fd, or -1 */
    const struct capsa_seccomp_prog *prog; /* capsa_level_host.child_prog */
    /* host_prepare's (the child has its own copy of the runtime's memory),
     * which child_prepare may replace, for child_start. */
    void *priv;
};

struct capsa_level {
    const char *name;
    const char *summary; /* one line, for `features` and errors */
    /* Order of strength for the rule on annotations above: native 0. */
    int rank;
    /* Whether this host can provide the level; an error says why not. */
    int (*available)(struct capsa_err *err);
    /* create, before anything is made: the config (annotations, namespaces). */
    int (*validate)(const struct capsa_spec *spec, struct capsa_err *err);
    /* create and exec, runtime side, before the clone. */
    int (*host_prepare)(struct capsa_level_host *h, struct capsa_err *err);
    void (*host_release)(struct capsa_level_host *h);
    /* create, runtime side, once the init is created and the prestart and
     * createRuntime hooks have run (init_pid: the init); an error fails
     * the create. */
    int (*host_created)(struct capsa_level_host *h, pid_t init_pid, struct capsa_err *err);
    /* delete, and a failed create: end the helper host_prepare started
     * (its pid and start time as recorded in state.json) and undo what
     * else it made (state_dirfd: the container's state directory, whose
     * files it may have left there). Called whether or not a helper was
     * recorded (helper_pid 0: none). */
    void (*host_stop)(int state_dirfd, pid_t helper_pid, unsigned long long helper_start);
    /* The init, inside the container while still privileged, after the
     * mounts (step 4): open devices, check the program. Sets *execs to
     * false when the level starts the program itself (child_start) rather
     * than executing process.args[0]. */
    int (*child_prepare)(struct capsa_level_child *c, bool *execs, struct capsa_err *err);
    /* Init and exec'd process: the level's confinement, right after the
     * OCI seccomp filter's place (core/child.h). */
    int (*child_confine)(struct capsa_level_child *c, struct capsa_err *err);
    /* The init, and with exec the process of exec, in place of execve;
     * returns only on error. child_prepare runs for an exec'd process too
     * (capsa_level_child.exec), to choose between the two. */
    int (*child_start)(struct capsa_level_child *c, struct capsa_err *err);
    /* exec: NULL allows it; otherwise an error that says why not. */
    int (*exec_allowed)(const char *id, struct capsa_err *err);
    /* kill --all, update and the stats of events on a running container,
     * served by the level in place of the core's acting on the host cgroup
     * (vm: in the guest, whose processes and cgroups the host cannot see).
     * NULL leaves them to the core. Each returns 0 when done, 1 when the
     * level cannot serve it now (the core then acts as at the native
     * level), < 0 an error. state_dirfd is the container's locked state
     * directory; update's resources_json is the merged LinuxResources
     * object; stats sets *json_out (heap) to the line `events --stats`
     * prints. */
    int (*kill_all)(int state_dirfd, const char *id, int sig, struct capsa_err *err);
    int (*update)(int state_dirfd, const char *id, const char *resources_json,
                  struct capsa_err *err);
    int (*stats)(int state_dirfd, const char *id, char **json_out, struct capsa_err *err);
    /* pause and resume: the level's part, before the core freezes or
     * thaws the host cgroup (vm: a pod member's container in the guest,
     * which its host cgroup does not hold). */
    int (*freeze)(int state_dirfd, const char *id, bool frozen, struct capsa_err *err);
    /* ps: the level's own listing of the container's processes (*table,
     * heap: a "PID CMD" header, then "PID COMMAND LINE" lines). */
    int (*ps)(int state_dirfd, const char *id, char **table, struct capsa_err *err);
    /* The count of OOM kills (events' oom events come from its rises). */
    int (*ooms)(int state_dirfd, const char *id, uint64_t *ooms, struct capsa_err *err);
    /* run: why the container's process died of signal sig (NULL: no more to
     * say), and the signal's name in *signame. */
    const char *(*death_reason)(int sig, const char **signame);
};

/* The table, in rank order. */
const struct capsa_level *const *capsa_levels(size_t *n);

/* The level named name, or NULL. */
const struct capsa_level *capsa_level_by_name(const char *name);

/* "native, interpose, unikernel": the known names, for messages. */
const char *capsa_level_names(void);

/* The level spec asks for (see the rules above), available on this host:
 * otherwise an error naming the annotation or the default and the known
 * levels. default_level: NULL or "" for native; pod_level: the level of the
 * pod sandbox the container joins, or NULL. */
int capsa_level_choose(const struct capsa_spec *spec, const char *default_level,
                       const char *pod_level, const struct capsa_level **out,
                       struct capsa_err *err);

/* The level recorded in state.json (NULL or unknown: native, which is what
 * a container created before levels were recorded ran at). */
const struct capsa_level *capsa_level_of_state(const char *name);

#endif
