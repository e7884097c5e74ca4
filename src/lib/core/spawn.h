/* spawn.h - cloning a process into a container: the init of `create` and the
 * process of `exec` are made by the same code.
 *
 * Without namespaces to join, one clone3 makes the child with every new
 * namespace at once, born in its v2 cgroup (CLONE_INTO_CGROUP), with a pidfd.
 * When namespaces must be joined first (create: linux.namespaces[].path, or
 * time offsets to write before any process lives in a new time namespace;
 * exec: every namespace of the init), an intermediate process ("stage1")
 * joins them and clone3s the child with CLONE_PARENT, so that the runtime is
 * still the child's parent (and can wait for it); stage1 reports the pid (and
 * whether CLONE_INTO_CGROUP placed it) with a PID message and exits. A pid
 * namespace only applies to children, hence the extra process.
 *
 * Errors of stage1 come back as ERROR messages on the child's socket end. */
#ifndef CAPSA_CORE_SPAWN_H
#define CAPSA_CORE_SPAWN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "spec/spec.h"
#include "util/err.h"

struct capsa_spawn {
    /* What stage1 joins before it clones (any set means a stage1):
     * linux.namespaces[] with a path (create), user namespace first; */
    const struct capsa_spec *join_paths;
    /* unshare(CLONE_NEWTIME) and write linux.timeOffsets (create); */
    const struct capsa_spec *timens_offsets;
    /* one setns(2) of join_flags on join_pidfd (exec: the init's pidfd); */
    int join_pidfd;
    int join_flags;
    /* a chroot into this directory (exec into a container without a mount
     * namespace of its own: its init's root). -1: none. */
    int chroot_fd;

    /* stage1 may share the runtime's memory (CLONE_VM | CLONE_VFORK, as
     * posix_spawn does): it only joins and clones, and sparing the copy of
     * the address space and its copy-on-write faults is about 1 ms on a VM
     * with shadow paging (docs/performance.md). Ignored where a user or
     * time namespace is joined or made (setns and unshare refuse a shared
     * mm), or namespaces are joined by path. */
    bool share_vm;
    /* Always through a stage1: the runtime has entered a pid namespace for
     * its children (a level's, core/create.c), in which only a process
     * living there may make the child's own pid namespace. */
    bool stage1;

    uint64_t clone_flags; /* CLONE_NEW* made at the child's clone */
    int cgroup_fd;        /* v2 directory for CLONE_INTO_CGROUP, or -1 */
    int child_sock;       /* the child's end of the sync socket (stage1 reports on it) */
    int parent_sock;      /* the runtime's end, closed in stage1 and the child */
    /* Runtime fds that must not live on in the children (the locked state
     * directory above all: its flock would outlive the command); -1 unused. */
    int close_fds[8];
    __attribute__((noreturn)) void (*child_main)(void *arg);
    void *child_arg;

    /* Out. */
    pid_t pid;
    int pidfd;        /* of the child, which is the runtime's own child */
    bool into_cgroup; /* born in cgroup_fd's cgroup */
};

/* Initialise s: no joins, no fds. */
void capsa_spawn_init(struct capsa_spawn *s);

/* Clone the child as described by s; on success s->pid and s->pidfd are
 * set, and the child waits for GO on its socket. */
int capsa_spawn_child(struct capsa_spawn *s, struct capsa_err *err);

#endif
