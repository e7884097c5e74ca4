/* names.c - the name tables shared by the parser and the runtime: capability
 * names <-> numbers, RLIMIT_* names -> resource numbers, namespace type names,
 * scheduler policies and flags, I/O priority classes.
 * Pure lookups, no state. The config parser rejects an unknown rlimit or
 * namespace name; an unknown capability name is skipped with a warning, as
 * runc does (a capability can only be dropped that way, never granted). */
#include "spec/spec.h"

#include <string.h>
#include <strings.h>
#include <sys/resource.h>

#include "util/util.h"

/* Indexed by capability number (linux/capability.h), up to CAP_CHECKPOINT_RESTORE. */
static const char *const cap_names[CAPSA_CAP_LAST_KNOWN + 1] = {
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
};

int capsa_cap_from_name(const char *name)
{
    if (name == NULL)
        return -1;
    for (size_t i = 0; i < ARRAY_SIZE(cap_names); i++)
        if (strcmp(cap_names[i], name) == 0)
            return (int)i;
    return -1;
}

int capsa_cap_parse_name(const char *name, bool short_ok)
{
    if (name == NULL)
        return CAPSA_CAP_UNKNOWN;
    if (!short_ok)
        return capsa_cap_from_name(name);
    const char *bare = strncasecmp(name, "CAP_", 4) == 0 ? name + 4 : name;
    for (size_t i = 0; i < ARRAY_SIZE(cap_names); i++)
        if (strcasecmp(cap_names[i] + 4, bare) == 0)
            return (int)i;
    return CAPSA_CAP_UNKNOWN;
}

const char *capsa_cap_name(int cap)
{
    if (cap < 0 || cap > CAPSA_CAP_LAST_KNOWN)
        return NULL;
    return cap_names[cap];
}

static const struct {
    const char *name;
    int resource;
} rlimit_names[] = {
    {"RLIMIT_CPU", RLIMIT_CPU},           {"RLIMIT_FSIZE", RLIMIT_FSIZE},
    {"RLIMIT_DATA", RLIMIT_DATA},         {"RLIMIT_STACK", RLIMIT_STACK},
    {"RLIMIT_CORE", RLIMIT_CORE},         {"RLIMIT_RSS", RLIMIT_RSS},
    {"RLIMIT_NPROC", RLIMIT_NPROC},       {"RLIMIT_NOFILE", RLIMIT_NOFILE},
    {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},   {"RLIMIT_AS", RLIMIT_AS},
    {"RLIMIT_LOCKS", RLIMIT_LOCKS},       {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
    {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE}, {"RLIMIT_NICE", RLIMIT_NICE},
    {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},     {"RLIMIT_RTTIME", RLIMIT_RTTIME},
};

int capsa_rlimit_from_name(const char *name)
{
    if (name == NULL)
        return -1;
    for (size_t i = 0; i < ARRAY_SIZE(rlimit_names); i++)
        if (strcmp(rlimit_names[i].name, name) == 0)
            return (int)rlimit_names[i].resource;
    return -1;
}

const char *capsa_ns_type_name(enum capsa_ns_type type)
{
    switch (type) {
    case CAPSA_NS_PID:
        return "pid";
    case CAPSA_NS_NET:
        return "network";
    case CAPSA_NS_MNT:
        return "mount";
    case CAPSA_NS_IPC:
        return "ipc";
    case CAPSA_NS_UTS:
        return "uts";
    case CAPSA_NS_USER:
        return "user";
    case CAPSA_NS_CGROUP:
        return "cgroup";
    case CAPSA_NS_TIME:
        return "time";
    case CAPSA_NS_COUNT:
        break;
    }
    return NULL;
}

/* Lookups in a parsed spec. */

const struct capsa_namespace *capsa_spec_namespace(const struct capsa_spec *spec,
                                                   enum capsa_ns_type type)
{
    if (spec == NULL)
        return NULL;
    for (size_t i = 0; i < spec->linux_cfg.n_namespaces; i++)
        if (spec->linux_cfg.namespaces[i].type == type)
            return &spec->linux_cfg.namespaces[i];
    return NULL;
}

const char *capsa_spec_annotation(const struct capsa_spec *spec, const char *key)
{
    if (spec == NULL || key == NULL)
        return NULL;
    for (size_t i = 0; i < spec->n_annotations; i++)
        if (strcmp(spec->annotations[i].key, key) == 0)
            return spec->annotations[i].value;
    return NULL;
}

const char *capsa_spec_pod_sandbox(const struct capsa_spec *spec)
{
    static const char *const keys[][2] = {
        {"io.kubernetes.cri.container-type", "io.kubernetes.cri.sandbox-id"},
        {"io.kubernetes.cri-o.ContainerType", "io.kubernetes.cri-o.SandboxID"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
        const char *type = capsa_spec_annotation(spec, keys[i][0]);
        if (type && strcmp(type, "container") == 0)
            return capsa_spec_annotation(spec, keys[i][1]);
    }
    return NULL;
}

const char *const capsa_sched_policy_names[CAPSA_SCHED_POLICY_COUNT] = {
    "SCHED_OTHER", "SCHED_FIFO", "SCHED_RR",       "SCHED_BATCH",
    "SCHED_ISO",   "SCHED_IDLE", "SCHED_DEADLINE",
};

const char *const capsa_sched_flag_names[CAPSA_SCHED_FLAG_COUNT] = {
    "SCHED_FLAG_RESET_ON_FORK",  "SCHED_FLAG_RECLAIM",     "SCHED_FLAG_DL_OVERRUN",
    "SCHED_FLAG_KEEP_POLICY",    "SCHED_FLAG_KEEP_PARAMS", "SCHED_FLAG_UTIL_CLAMP_MIN",
    "SCHED_FLAG_UTIL_CLAMP_MAX",
};

const char *const capsa_ioprio_class_names[CAPSA_IOPRIO_CLASS_COUNT] = {
    NULL, "IOPRIO_CLASS_RT", "IOPRIO_CLASS_BE", "IOPRIO_CLASS_IDLE"};
