/* cgroup.h - control groups on every host layout: pure v2, pure v1, and
 * hybrid (v1 controllers plus a v2 hierarchy, which may hold controllers of
 * its own, e.g. hugetlb on our machines).
 *
 * The model is per controller, not per layout: the host is a list of
 * hierarchies (each a mount: v1 with its controllers, or the v2 one with the
 * controllers listed in its cgroup.controllers); a container's cgroup is one
 * directory in each hierarchy; every resource is written by the code for the
 * hierarchy that holds its controller (v1 file names and units there, v2 ones
 * there). Nothing outside cgroup*.c knows about layouts.
 */
#ifndef CAPSA_LINUX_CGROUP_H
#define CAPSA_LINUX_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "spec/spec.h"
#include "util/err.h"

/* One mounted hierarchy. */
struct capsa_cgroup_hier {
    char *mount;        /* absolute mount point, e.g. /sys/fs/cgroup/memory */
    bool v2;            /* cgroup2 */
    char **controllers; /* NULL-terminated; v1: from the mount options ("cpu", "cpuacct",
                           "name=systemd"); v2: the root's cgroup.controllers */
    char *self;         /* the calling process' cgroup in it, from /proc/self/cgroup ("/" ...) */
};

struct capsa_cgroup_host {
    struct capsa_cgroup_hier *h;
    size_t n;
};

/* Pure: build the host description from the text of /proc/self/mountinfo,
 * /proc/self/cgroup and a function returning the v2 root's cgroup.controllers
 * (for tests: any text). Hierarchies that are mounted more than once count once
 * (the first mount wins, except that a mount under /sys/fs/cgroup replaces an
 * earlier one elsewhere). When a mount shows a subtree (mountinfo root field
 * not "/"), `self` is made relative to that subtree. */
int capsa_cgroup_host_parse(const char *mountinfo, const char *self_cgroup,
                            const char *v2_controllers, struct capsa_cgroup_host *out,
                            struct capsa_err *err);
/* Read the real files of the running host. */
int capsa_cgroup_host_load(struct capsa_cgroup_host *out, struct capsa_err *err);
void capsa_cgroup_host_free(struct capsa_cgroup_host *host);

/* A container's cgroup: one directory per hierarchy used. */
struct capsa_cgroup_dir {
    char *path; /* absolute directory, e.g. /sys/fs/cgroup/memory/capsa/ID */
    bool v2;
    char **controllers; /* NULL-terminated, as in the hierarchy */
};

struct capsa_cgroup {
    struct capsa_cgroup_dir *d;
    size_t n;
};

void capsa_cgroup_free(struct capsa_cgroup *cg);

/* Resolve linux.cgroupsPath as runc does with the cgroupfs driver: an
 * absolute path is relative to each hierarchy's root; a relative one is
 * relative to the caller's own cgroup in that hierarchy (hier->self); NULL or
 * empty means the relative path "<id>" (runc's default: below the runtime's
 * own cgroup). Rejects ".." components. Named v1 hierarchies are skipped,
 * except name=systemd (joined, as runc's fs driver does); a v2 hierarchy is always used, even
 * without controllers (on a hybrid host it still gives cgroup.kill, cgroup.freeze and device
 * programs). Pure (no I/O). */
int capsa_cgroup_resolve(const struct capsa_cgroup_host *host, const char *cgroups_path,
                         const char *id, struct capsa_cgroup **out, struct capsa_err *err);

/* Serialize / parse a struct capsa_cgroup for the state file (one line per
 * directory: "v1|v2 ctrl1,ctrl2 /abs/path"). */
int capsa_cgroup_encode(const struct capsa_cgroup *cg, char **out, struct capsa_err *err);
int capsa_cgroup_decode(const char *text, struct capsa_cgroup **out, struct capsa_err *err);

/* exec --cgroup (runc's): the container's cgroup with each directory moved
 * to an existing sub-cgroup. Each spec is [CONTROLLER[,CONTROLLER...]:]PATH,
 * PATH relative to the container's cgroup (no ".."); without controllers it
 * applies to every hierarchy that no spec names a controller of (a v2
 * hierarchy is named "unified"). A spec whose controllers none of the
 * container's hierarchies has, or a sub-cgroup that does not exist, is an
 * error naming it. */
int capsa_cgroup_sub(const struct capsa_cgroup *cg, char *const *specs, size_t n,
                     struct capsa_cgroup **out, struct capsa_err *err);

typedef void (*capsa_warn_fn)(void *opaque, const char *msg);

/* Make the directories (mkdir -p; on v1 cpuset, copy cpuset.cpus/mems down
 * from the parent where empty; on v2 enable the needed controllers in
 * cgroup.subtree_control of each ancestor below the root) and apply res
 * (may be NULL). A directory that already exists and holds processes is
 * refused (EBUSY). On failure, directories this call created are removed. */
int capsa_cgroup_create(const struct capsa_cgroup *cg, const struct capsa_resources *res,
                        capsa_warn_fn warn, void *opaque, struct capsa_err *err);

/* The same for a cgroup another manager made for the container (the
 * systemd driver's scope): existing directories are used even though they
 * hold a process (the scope's placeholder), the directories missing (v1
 * hierarchies systemd does not manage) are made, and the v2 ancestors'
 * cgroup.subtree_control is left to that manager. */
int capsa_cgroup_adopt(const struct capsa_cgroup *cg, const struct capsa_resources *res,
                       capsa_warn_fn warn, void *opaque, struct capsa_err *err);

/* Write every linux.resources value present in res, on each hierarchy that
 * holds the controller, with runc's v1 <-> v2 conversions (shares -> weight,
 * blkio weight -> io.weight, swap = memory+swap -> memory.swap.max = swap -
 * limit, ...). A value the kernel or the layout cannot take is an error naming
 * the field (e.g. `linux.resources.network.classID: the net_cls controller is
 * not mounted`), except deprecated kernel-memory limits, which are warnings.
 * linux.resources.devices is handled by capsa_cgroup_devices_apply. */
int capsa_cgroup_apply(const struct capsa_cgroup *cg, const struct capsa_resources *res,
                       capsa_warn_fn warn, void *opaque, struct capsa_err *err);

/* Move pid into the container's directories by writing cgroup.procs: the v1
 * ones when v1 is set, the v2 one when v2 is set. Each such write of another
 * process takes the kernel's global cgroup_threadgroup_rwsem for writing,
 * which waits for an RCU grace period (milliseconds): prefer the self-join
 * below on v1 and clone3(CLONE_INTO_CGROUP) on v2. */
int capsa_cgroup_enter(const struct capsa_cgroup *cg, pid_t pid, bool v1, bool v2,
                       struct capsa_err *err);

/* A process moving itself. On v1, a write of "0" to a hierarchy's "tasks"
 * file moves the calling thread only, and for that the kernel skips the
 * global lock above: the runtime opens the files (the parent side has the
 * host's view and credentials), the single-threaded child writes them before
 * it runs anything else, which moves the whole process. v2 is not covered:
 * clone3(CLONE_INTO_CGROUP) places the child there at birth. */
#define CAPSA_CG_MAX_JOIN 16
struct capsa_cgroup_join {
    int fd[CAPSA_CG_MAX_JOIN];
    const char *path[CAPSA_CG_MAX_JOIN]; /* borrowed from the struct capsa_cgroup */
    size_t n;
};
int capsa_cgroup_join_open(const struct capsa_cgroup *cg, struct capsa_cgroup_join *j,
                           struct capsa_err *err);
int capsa_cgroup_join_self(const struct capsa_cgroup_join *j, struct capsa_err *err);
void capsa_cgroup_join_close(struct capsa_cgroup_join *j);

/* *fd_out: an O_PATH|O_DIRECTORY fd of the v2 directory for
 * clone3(CLONE_INTO_CGROUP), or -1 when the container has no v2 directory
 * (0 returned either way). An error opening an existing one is an error. */
int capsa_cgroup_v2_fd(const struct capsa_cgroup *cg, int *fd_out, struct capsa_err *err);

/* Every pid in the container's cgroup and its sub-cgroups (from the v2
 * directory if any, else the first v1 hierarchy in the order pids, freezer,
 * memory, cpu, others). Heap array. */
int capsa_cgroup_pids(const struct capsa_cgroup *cg, pid_t **pids, size_t *n,
                      struct capsa_err *err);

/* Signal every process of the cgroup: SIGKILL through cgroup.kill where the
 * v2 kernel has it; otherwise freeze (when a freezer is available), signal
 * each pid through a pidfd, thaw. */
int capsa_cgroup_signal_all(const struct capsa_cgroup *cg, int sig, struct capsa_err *err);

/* Freeze / thaw (v1 freezer.state FROZEN/THAWED waiting until it settles;
 * v2 cgroup.freeze waiting for cgroup.events frozen 1). -ENOTSUP with a clear
 * message when no freezer exists. */
int capsa_cgroup_freeze(const struct capsa_cgroup *cg, bool frozen, struct capsa_err *err);
/* 1 frozen, 0 not, <0 error. */
int capsa_cgroup_is_frozen(const struct capsa_cgroup *cg);

/* Remove the directories, sub-cgroups first (depth-first rmdir); retries
 * briefly on EBUSY while the last processes exit. Missing dirs are fine. */
int capsa_cgroup_destroy(const struct capsa_cgroup *cg, struct capsa_err *err);

/* Statistics in runc's `events --stats` shape. Absent values are 0. */
struct capsa_cg_memory_entry {
    uint64_t usage, max_usage, failcnt, limit;
};
struct capsa_cg_blkio_entry {
    uint64_t major, minor;
    char op[16]; /* "Read", "Write", "Sync", "Async", "Discard", "Total" */
    uint64_t value;
};
struct capsa_cg_hugetlb_entry {
    char page_size[16]; /* "2MB", "1GB" */
    uint64_t usage, max_usage, failcnt;
};
struct capsa_cg_kv {
    char key[64];
    uint64_t value;
};
struct capsa_cgroup_stats {
    /* cpu */
    uint64_t cpu_total, cpu_kernel, cpu_user; /* nanoseconds */
    uint64_t *cpu_percpu;
    size_t n_percpu;
    uint64_t throttle_periods, throttled_periods, throttled_time;
    /* memory */
    struct capsa_cg_memory_entry mem_usage, mem_swap, mem_kernel, mem_kernel_tcp;
    uint64_t mem_cache;
    struct capsa_cg_kv *mem_raw; /* memory.stat, as is */
    size_t n_mem_raw;
    /* pids */
    uint64_t pids_current, pids_limit; /* limit 0 = max */
    /* blkio / io */
    struct capsa_cg_blkio_entry *io_service_bytes;
    size_t n_io_service_bytes;
    struct capsa_cg_blkio_entry *io_serviced;
    size_t n_io_serviced;
    /* hugetlb */
    struct capsa_cg_hugetlb_entry *hugetlb;
    size_t n_hugetlb;
    /* memory.events oom_kill (v2) / memory.oom_control oom_kill (v1) */
    uint64_t oom_kills;
    /* OOM situations, killed or not: memory.events oom (v2); oom_kill on
     * v1, where under_oom tells a cgroup waiting with the OOM killer off */
    uint64_t ooms;
    bool under_oom;
};
int capsa_cgroup_stats(const struct capsa_cgroup *cg, struct capsa_cgroup_stats *st,
                       struct capsa_err *err);
void capsa_cgroup_stats_clear(struct capsa_cgroup_stats *st);

/* linux.resources.devices: v1 devices.deny/devices.allow (deny all first,
 * then the rules in order, like runc), or on v2 an eBPF device program
 * (BPF_PROG_TYPE_CGROUP_DEVICE) built from the rules and attached to the v2
 * directory (replacing a program capsa attached before). The default device
 * set (null, zero, full, random, urandom, tty, console, ptmx, pts/N) is always
 * allowed, as runc does. Done after capsa_cgroup_create. */
int capsa_cgroup_devices_apply(const struct capsa_cgroup *cg, const struct capsa_device_rule *rules,
                               size_t n, struct capsa_err *err);

#endif
