/* spec.h - config.json (OCI runtime-spec 1.2, Linux) as typed C structs.
 *
 * This is the only place that knows the JSON shape. spec.c parses a document
 * into struct capsa_spec (rejecting duplicate keys, wrong types, bad ranges,
 * relative paths where absolute ones are required), ignoring unknown fields.
 * Errors name the JSON path, e.g. `linux.namespaces[2].type: unknown namespace "foo"`,
 * or line:column for syntax errors. No syscalls are made here, so it can be fuzzed.
 *
 * Conventions: arrays are pointer + count (n_*); string arrays are also
 * NULL-terminated so they can be passed to execve. Optional scalars carry a
 * has_* flag. Strings absent from the document are NULL.
 */
#ifndef CAPSA_SPEC_SPEC_H
#define CAPSA_SPEC_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

struct capsa_kv {
    char *key;
    char *value;
};

struct capsa_idmap {
    uint32_t container_id;
    uint32_t host_id;
    uint32_t size;
};

struct capsa_mount {
    char *destination; /* required; absolute (relative accepted with a warning? no: rejected) */
    char *type;        /* may be NULL */
    char *source;      /* may be NULL */
    char **options;    /* NULL-terminated */
    size_t n_options;
    struct capsa_idmap *uid_mappings;
    size_t n_uid_mappings;
    struct capsa_idmap *gid_mappings;
    size_t n_gid_mappings;
};

struct capsa_hook {
    char *path;  /* required, absolute */
    char **args; /* NULL-terminated, may be NULL */
    size_t n_args;
    char **env; /* NULL-terminated, may be NULL */
    size_t n_env;
    bool has_timeout;
    int timeout; /* seconds, > 0 */
};

struct capsa_hooks {
    struct capsa_hook *prestart;
    size_t n_prestart;
    struct capsa_hook *create_runtime;
    size_t n_create_runtime;
    struct capsa_hook *create_container;
    size_t n_create_container;
    struct capsa_hook *start_container;
    size_t n_start_container;
    struct capsa_hook *poststart;
    size_t n_poststart;
    struct capsa_hook *poststop;
    size_t n_poststop;
};

/* Capability sets as bit masks (bit N = capability number N, 0..63). */
struct capsa_caps {
    uint64_t bounding;
    uint64_t effective;
    uint64_t inheritable;
    uint64_t permitted;
    uint64_t ambient;
};

struct capsa_rlimit {
    int resource; /* RLIMIT_* */
    char *type;   /* as written, e.g. "RLIMIT_NOFILE" */
    uint64_t soft;
    uint64_t hard;
};

struct capsa_user {
    uint32_t uid;
    uint32_t gid;
    bool has_umask;
    uint32_t umask;
    uint32_t *additional_gids;
    size_t n_additional_gids;
};

struct capsa_scheduler {
    int policy; /* SCHED_* */
    int32_t nice;
    int32_t priority;
    uint64_t flags; /* SCHED_FLAG_* bits */
    uint64_t runtime;
    uint64_t deadline;
    uint64_t period;
};

struct capsa_io_priority {
    int class;    /* IOPRIO_CLASS_RT=1, BE=2, IDLE=3 */
    int priority; /* 0..7 */
};

struct capsa_process {
    bool terminal;
    bool has_console_size;
    uint32_t console_height;
    uint32_t console_width;
    struct capsa_user user;
    char **args; /* NULL-terminated, at least one element */
    size_t n_args;
    char **env; /* NULL-terminated, may be empty */
    size_t n_env;
    char *cwd; /* required, absolute */
    bool has_capabilities;
    struct capsa_caps capabilities;
    struct capsa_rlimit *rlimits;
    size_t n_rlimits;
    bool no_new_privileges;
    char *apparmor_profile;
    bool has_oom_score_adj;
    int oom_score_adj; /* -1000..1000 */
    char *selinux_label;
    bool has_scheduler;
    struct capsa_scheduler scheduler;
    bool has_io_priority;
    struct capsa_io_priority io_priority;
};

enum capsa_ns_type {
    CAPSA_NS_PID,
    CAPSA_NS_NET,
    CAPSA_NS_MNT,
    CAPSA_NS_IPC,
    CAPSA_NS_UTS,
    CAPSA_NS_USER,
    CAPSA_NS_CGROUP,
    CAPSA_NS_TIME,
    CAPSA_NS_COUNT
};

struct capsa_namespace {
    enum capsa_ns_type type;
    char *path; /* NULL: create a new one */
};

struct capsa_device {
    char type;  /* 'c', 'b', 'u' or 'p' */
    char *path; /* absolute */
    int64_t major;
    int64_t minor;
    bool has_file_mode;
    uint32_t file_mode;
    bool has_uid;
    uint32_t uid;
    bool has_gid;
    uint32_t gid;
};

struct capsa_time_offset {
    bool set;
    int64_t secs;
    uint32_t nanosecs;
};

struct capsa_personality {
    char *domain; /* "LINUX" or "LINUX32" */
    char **flags;
    size_t n_flags;
};

/* --- linux.resources (used by the cgroup code) --- */

struct capsa_device_rule {
    bool allow;
    char *type; /* "a", "c", "b" or NULL (= all) */
    bool has_major;
    int64_t major;
    bool has_minor;
    int64_t minor;
    char *access; /* subset of "rwm", or NULL */
};

struct capsa_memory {
    bool has_limit;
    int64_t limit;
    bool has_reservation;
    int64_t reservation;
    bool has_swap;
    int64_t swap;
    bool has_kernel;
    int64_t kernel;
    bool has_kernel_tcp;
    int64_t kernel_tcp;
    bool has_swappiness;
    uint64_t swappiness;
    bool has_disable_oom_killer;
    bool disable_oom_killer;
    bool has_use_hierarchy;
    bool use_hierarchy;
    bool has_check_before_update;
    bool check_before_update;
};

struct capsa_cpu {
    bool has_shares;
    uint64_t shares;
    bool has_quota;
    int64_t quota;
    bool has_burst;
    uint64_t burst;
    bool has_period;
    uint64_t period;
    bool has_realtime_runtime;
    int64_t realtime_runtime;
    bool has_realtime_period;
    uint64_t realtime_period;
    char *cpus;
    char *mems;
    bool has_idle;
    int64_t idle;
};

struct capsa_weight_device {
    int64_t major;
    int64_t minor;
    bool has_weight;
    uint16_t weight;
    bool has_leaf_weight;
    uint16_t leaf_weight;
};

struct capsa_throttle_device {
    int64_t major;
    int64_t minor;
    uint64_t rate;
};

struct capsa_blkio {
    bool has_weight;
    uint16_t weight;
    bool has_leaf_weight;
    uint16_t leaf_weight;
    struct capsa_weight_device *weight_device;
    size_t n_weight_device;
    struct capsa_throttle_device *throttle_read_bps;
    size_t n_throttle_read_bps;
    struct capsa_throttle_device *throttle_write_bps;
    size_t n_throttle_write_bps;
    struct capsa_throttle_device *throttle_read_iops;
    size_t n_throttle_read_iops;
    struct capsa_throttle_device *throttle_write_iops;
    size_t n_throttle_write_iops;
};

struct capsa_hugepage_limit {
    char *page_size; /* e.g. "2MB" */
    uint64_t limit;
};

struct capsa_net_priority {
    char *name;
    uint32_t priority;
};

struct capsa_rdma_limit {
    char *device;
    bool has_hca_handles;
    uint32_t hca_handles;
    bool has_hca_objects;
    uint32_t hca_objects;
};

struct capsa_resources {
    struct capsa_device_rule *devices;
    size_t n_devices;
    bool has_memory;
    struct capsa_memory memory;
    bool has_cpu;
    struct capsa_cpu cpu;
    bool has_pids;
    int64_t pids_limit;
    bool has_blkio;
    struct capsa_blkio blkio;
    struct capsa_hugepage_limit *hugepage_limits;
    size_t n_hugepage_limits;
    bool has_network;
    bool has_class_id;
    uint32_t class_id;
    struct capsa_net_priority *net_priorities;
    size_t n_net_priorities;
    struct capsa_rdma_limit *rdma;
    size_t n_rdma;
    struct capsa_kv *unified;
    size_t n_unified;
};

/* --- linux.seccomp --- */

struct capsa_seccomp_arg {
    uint32_t index;
    uint64_t value;
    uint64_t value_two;
    char *op; /* "SCMP_CMP_EQ", ... validated */
};

struct capsa_seccomp_syscall {
    char **names; /* NULL-terminated */
    size_t n_names;
    char *action;
    bool has_errno_ret;
    uint32_t errno_ret;
    struct capsa_seccomp_arg *args;
    size_t n_args;
};

struct capsa_seccomp {
    char *default_action;
    bool has_default_errno_ret;
    uint32_t default_errno_ret;
    char **architectures;
    size_t n_architectures;
    char **flags;
    size_t n_flags;
    char *listener_path;
    char *listener_metadata;
    struct capsa_seccomp_syscall *syscalls;
    size_t n_syscalls;
};

struct capsa_intel_rdt {
    char *clos_id;
    char *l3_cache_schema;
    char *mem_bw_schema;
    bool has_enable_cmt;
    bool enable_cmt;
    bool has_enable_mbm;
    bool enable_mbm;
};

struct capsa_linux {
    struct capsa_namespace *namespaces;
    size_t n_namespaces;
    struct capsa_idmap *uid_mappings;
    size_t n_uid_mappings;
    struct capsa_idmap *gid_mappings;
    size_t n_gid_mappings;
    struct capsa_time_offset time_monotonic;
    struct capsa_time_offset time_boottime;
    struct capsa_device *devices;
    size_t n_devices;
    char *cgroups_path;
    bool has_resources;
    struct capsa_resources resources;
    char *rootfs_propagation; /* "shared", "slave", "private", "unbindable", r-variants, or NULL */
    char **masked_paths;
    size_t n_masked_paths;
    char **readonly_paths;
    size_t n_readonly_paths;
    char *mount_label;
    struct capsa_kv *sysctl;
    size_t n_sysctl;
    struct capsa_seccomp *seccomp; /* NULL when absent */
    bool has_personality;
    struct capsa_personality personality;
    struct capsa_intel_rdt *intel_rdt; /* NULL when absent */
};

/* What the parser accepted but the user should hear about: an unknown
 * capability name is skipped with a warning, not refused (runc and crun do
 * the same: an engine may pass a capability this kernel, or this runtime,
 * does not know). spec/ cannot log; the runtime reports each line through
 * its log at create and exec (capsa_spec_warnings_report). At most
 * CAPSA_SPEC_MAX_WARNINGS lines are kept, n_dropped counts the others, so a
 * hostile document cannot make the list grow without bound. */
#define CAPSA_SPEC_MAX_WARNINGS 32
struct capsa_spec_warnings {
    char **v; /* n heap strings */
    size_t n;
    size_t n_dropped;
};

struct capsa_spec {
    char *oci_version; /* required */
    char *root_path;   /* root.path as written; NULL when root is absent */
    bool root_readonly;
    char *hostname;
    char *domainname;
    struct capsa_mount *mounts;
    size_t n_mounts;
    struct capsa_process *process; /* NULL when absent */
    struct capsa_hooks hooks;
    struct capsa_kv *annotations;
    size_t n_annotations;
    bool has_linux;
    struct capsa_linux linux_cfg;
    struct capsa_spec_warnings warnings;
};

/* Parse a config.json document held in memory (len bytes, need not be
 * NUL-terminated). On success *out is a heap struct to release with
 * capsa_spec_free. */
int capsa_spec_parse(const char *json, size_t len, struct capsa_spec **out, struct capsa_err *err);

/* Read and parse <path>; errors are prefixed with the path. */
int capsa_spec_load(const char *path, struct capsa_spec **out, struct capsa_err *err);

/* Parse an OCI LinuxResources object alone (for `update --resources`);
 * errors name linux.resources.<field>. Free with capsa_resources_free. */
int capsa_spec_parse_resources(const char *json, size_t len, struct capsa_resources **out,
                               struct capsa_err *err);
void capsa_resources_free(struct capsa_resources *res);

void capsa_spec_free(struct capsa_spec *spec);
void capsa_spec_freep(struct capsa_spec **spec);
#define cleanup_spec __attribute__((cleanup(capsa_spec_freep)))

/* Lookups used by the runtime. */
const struct capsa_namespace *capsa_spec_namespace(const struct capsa_spec *spec,
                                                   enum capsa_ns_type type);
const char *capsa_spec_annotation(const struct capsa_spec *spec, const char *key);

/* The id of the CRI pod sandbox a container belongs to, from containerd's
 * (io.kubernetes.cri.container-type = container, .sandbox-id) or CRI-O's
 * (io.kubernetes.cri-o.ContainerType, .SandboxID) annotations; NULL for a
 * sandbox itself and for a container outside a CRI pod. */
const char *capsa_spec_pod_sandbox(const struct capsa_spec *spec);
const char *capsa_ns_type_name(enum capsa_ns_type type); /* "pid", "network", ... */

/* Capability name <-> number ("CAP_CHOWN" <-> 0). -1 when unknown. */
int capsa_cap_from_name(const char *name);
const char *capsa_cap_name(int cap);
#define CAPSA_CAP_LAST_KNOWN 40 /* CAP_CHECKPOINT_RESTORE */

/* A capability name as a user writes it: config.json's exact "CAP_CHOWN"
 * (short false), or, for `exec --cap`, also "chown", "CHOWN", "cap_chown"
 * (short true). Returns the number, or CAPSA_CAP_UNKNOWN when the name is
 * no capability this runtime knows: callers skip it with a warning
 * (capsa_spec_warn), as runc does, rather than refusing. Whether the
 * running kernel has a known capability is the runtime's question
 * (capsa_caps_warn_unavailable). */
#define CAPSA_CAP_UNKNOWN (-1)
int capsa_cap_parse_name(const char *name, bool short_ok);

/* Add a warning line (printf style) to w; beyond CAPSA_SPEC_MAX_WARNINGS it
 * is only counted. 0, or -ENOMEM (the line is then lost, nothing else). */
int capsa_spec_warn(struct capsa_spec_warnings *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void capsa_spec_warnings_free(struct capsa_spec_warnings *w);

/* Hand each warning of spec to warn (a logger), then one line for the
 * dropped ones if any. Nothing when warn is NULL. */
typedef void (*capsa_warn_fn)(void *opaque, const char *msg);
void capsa_spec_warnings_report(const struct capsa_spec *spec, capsa_warn_fn warn, void *opaque);

/* A bare OCI process object (the file of `exec --process`), parsed as the
 * process of config.json is: errors name "NAME: process.<field>", syntax
 * errors "NAME:LINE:COL"; skipped capabilities are added to warnings. *out
 * is freed with capsa_process_free. */
int capsa_spec_parse_process(const char *json, size_t len, const char *name,
                             struct capsa_process **out, struct capsa_spec_warnings *warnings,
                             struct capsa_err *err);
void capsa_process_free(struct capsa_process *p);

struct capsa_exec_opts;
/* The process of `exec`, made in spec->process (the container's stored
 * config): with proc_json (the bytes of --process FILE, named proc_name in
 * errors) that object replaces it (--tty still sets terminal); otherwise
 * the container's process, or runc's defaults (cwd "/") when the config
 * has none, gets runc's exec flags: args, cwd, env (a key already set is
 * replaced), user and additional gids (added), capabilities (added; an
 * unknown name is skipped, as runc), no_new_privs, LSM labels, terminal.
 * spec->warnings then holds what exec itself was given and skipped (those
 * of the stored config were reported at create). Fails when there is no
 * command. */
int capsa_spec_exec_process(struct capsa_spec *spec, const char *proc_json, size_t proc_len,
                            const char *proc_name, const struct capsa_exec_opts *o,
                            struct capsa_err *err);

/* Indexed by SCHED_* policy, by bit of SCHED_FLAG_* (bit i: 1 << i), by
 * IOPRIO_CLASS_* (0 has no name). */
#define CAPSA_SCHED_POLICY_COUNT 7
#define CAPSA_SCHED_FLAG_COUNT   7
#define CAPSA_IOPRIO_CLASS_COUNT 4
extern const char *const capsa_sched_policy_names[CAPSA_SCHED_POLICY_COUNT];
extern const char *const capsa_sched_flag_names[CAPSA_SCHED_FLAG_COUNT];
extern const char *const capsa_ioprio_class_names[CAPSA_IOPRIO_CLASS_COUNT];

/* The process p as an OCI process object (what `exec --process` reads and
 * capsa_spec_parse_process parses back to the same values): a heap string,
 * compact JSON. */
int capsa_process_to_json(const struct capsa_process *p, char **out, struct capsa_err *err);

/* rlimit name ("RLIMIT_NOFILE") -> RLIMIT_* value, -1 when unknown. */
int capsa_rlimit_from_name(const char *name);

/* Write the default config.json that `capsa spec` produces (like runc's),
 * rootless variant when rootless is true. Returns a heap string. */
int capsa_spec_default_json(bool rootless, char **out, struct capsa_err *err);

#endif
