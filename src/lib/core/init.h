/* init.h - the container init: the process the runtime clones into the new
 * namespaces. It sets the container up step by step, reporting to the parent
 * over the sync socket, waits for `start`, and executes the user process. */
#ifndef CAPSA_CORE_INIT_H
#define CAPSA_CORE_INIT_H

#include <signal.h>
#include <stdbool.h>

#include "core/sync.h"
#include "spec/spec.h"

struct capsa_seccomp_prog;
struct capsa_cgroup;
struct capsa_cgroup_join;
struct capsa_level;
struct capsa_level_child;

struct capsa_init_args {
    const struct capsa_spec *spec;
    const char *id;
    const char *rootfs; /* absolute */
    const char *bundle; /* absolute */
    int sync_fd;        /* our end of the socketpair */
    int fifo_fd;        /* O_PATH fd of the exec fifo; -1 in run mode (wait for SYNC_START) */
    bool no_pivot;
    bool no_new_keyring;
    int listen_fds;   /* LISTEN_FDS passed first (fds 3..3+N-1) */
    int preserve_fds; /* every fd passed: 3..3+preserve_fds-1 (listen fds included) */
    bool new_userns;
    bool new_netns;
    bool new_cgroupns; /* unshared by the init once the parent has placed it */
    bool shared_mntns; /* no mount namespace of its own (chroot, no propagation change) */
    /* One slot per spec->mounts entry, memory of the runtime's: the runtime
     * may send a bind source it opened (MOUNT_FD) for the mount of that
     * index. NULL when the spec has no mounts. */
    int *mount_fds;
    /* linux.seccomp compiled by the runtime before clone; NULL when absent. */
    const struct capsa_seccomp_prog *seccomp;
    /* The container's cgroup (for the /sys/fs/cgroup mount); NULL if none. */
    const struct capsa_cgroup *cg;
    /* v1 "tasks" files the init writes to move itself (see cgroup.h); NULL
     * when the parent moves it (or there are no v1 hierarchies). */
    const struct capsa_cgroup_join *join;
    /* Signals the runtime ignores (capsa_signals_ignored): reset in the init. */
    sigset_t sig_ignored;
    /* Where the init's log lines go (the runtime's logger, over sync_fd). */
    struct capsa_sync_log log;
    /* The isolation level and its child side (level/level.h), prepared by
     * the runtime: the init fills in p and its own fields. */
    const struct capsa_level *level;
    struct capsa_level_child *lc;
    /* The level's extra masked and read-only paths (capsa_level_host). */
    const char *const *more_masked;
    size_t n_more_masked;
    const char *const *more_readonly;
    size_t n_more_readonly;
};

/* Never returns: execs the user process or exits non-zero after reporting
 * the error to the parent (or to `start` through the fifo). */
__attribute__((noreturn)) void capsa_init_main(void *init_args);

#endif
