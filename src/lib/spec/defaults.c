/* defaults.c - the default config.json written by `capsa spec`.
 *
 * Mirrors `runc spec` (libcontainer/specconv's example, runtime-spec 1.2):
 * a minimal set of capabilities, noNewPrivileges, a read-only rootfs, the usual
 * pseudo-filesystems, and runc's masked and read-only /proc and /sys paths,
 * which hide kernel interfaces that leak host information or allow writes to
 * host-global state. The rootless variant follows runc's ToRootless: a user
 * namespace mapping the caller to root, no network namespace (it could not be
 * configured unprivileged), /sys bind-mounted instead of a fresh sysfs, no
 * uid=/gid= mount options and no cgroup resources.
 */
#include "spec/spec.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/util.h"

#define OCI_VERSION "1.2.0"

static const char *const default_caps[] = {"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"};

static const char *const masked_paths[] = {
    "/proc/acpi",
    "/proc/asound",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/sys/firmware",
    "/proc/scsi",
    "/sys/devices/virtual/powercap",
};

static const char *const readonly_paths[] = {
    "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
};

struct mount_def {
    const char *destination;
    const char *type;
    const char *source;
    const char *options[7]; /* NULL-terminated */
};

static const struct mount_def default_mounts[] = {
    {"/proc", "proc", "proc", {NULL}},
    {"/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k", NULL}},
    {"/dev/pts",
     "devpts",
     "devpts",
     {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5", NULL}},
    {"/dev/shm", "tmpfs", "shm", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k", NULL}},
    {"/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev", NULL}},
    {"/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro", NULL}},
    {"/sys/fs/cgroup", "cgroup", "cgroup", {"nosuid", "noexec", "nodev", "relatime", "ro", NULL}},
};

/* The rootless /sys: a fresh sysfs needs CAP_SYS_ADMIN over the network
 * namespace, which a rootless container does not own. */
static const struct mount_def rootless_sys = {
    "/sys", "none", "/sys", {"rbind", "nosuid", "noexec", "nodev", "ro", NULL}};

/* json_array_append_new/json_object_set_new steal the reference even on
 * failure, so building never leaks; any failure is reported once at the end. */
static json_t *str_array(const char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a != NULL && i < n && v[i] != NULL; i++)
        if (json_array_append_new(a, json_string(v[i])) < 0) {
            json_decref(a);
            return NULL;
        }
    return a;
}

static json_t *mount_obj(const struct mount_def *m, bool rootless)
{
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    json_object_set_new(o, "destination", json_string(m->destination));
    json_object_set_new(o, "type", json_string(m->type));
    json_object_set_new(o, "source", json_string(m->source));
    if (m->options[0] == NULL)
        return o;
    json_t *opts = json_array();
    for (size_t i = 0; opts != NULL && m->options[i] != NULL; i++) {
        /* uid=/gid= name ids that do not exist in a one-id user namespace. */
        if (rootless &&
            (strncmp(m->options[i], "uid=", 4) == 0 || strncmp(m->options[i], "gid=", 4) == 0))
            continue;
        json_array_append_new(opts, json_string(m->options[i]));
    }
    json_object_set_new(o, "options", opts);
    return o;
}

static json_t *idmap_array(unsigned long host_id)
{
    return json_pack("[{s:i, s:I, s:i}]", "containerID", 0, "hostID", (json_int_t)host_id, "size",
                     1);
}

static json_t *build(bool rootless)
{
    json_t *caps = json_object();
    if (caps != NULL) {
        json_object_set_new(caps, "bounding", str_array(default_caps, ARRAY_SIZE(default_caps)));
        json_object_set_new(caps, "effective", str_array(default_caps, ARRAY_SIZE(default_caps)));
        json_object_set_new(caps, "permitted", str_array(default_caps, ARRAY_SIZE(default_caps)));
    }
    json_t *process =
        json_pack("{s:b, s:{s:i, s:i}, s:[s], s:[s, s], s:s, s:o, s:[{s:s, s:i, s:i}], s:b}",
                  "terminal", 1, "user", "uid", 0, "gid", 0, "args", "sh", "env",
                  "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm",
                  "cwd", "/", "capabilities", caps, "rlimits", "type", "RLIMIT_NOFILE", "hard",
                  1024, "soft", 1024, "noNewPrivileges", 1);

    json_t *mounts = json_array();
    for (size_t i = 0; mounts != NULL && i < ARRAY_SIZE(default_mounts); i++) {
        const struct mount_def *m = &default_mounts[i];
        if (rootless && strcmp(m->destination, "/sys") == 0)
            m = &rootless_sys;
        json_array_append_new(mounts, mount_obj(m, rootless));
    }

    json_t *namespaces = json_array();
    static const char *const ns_root[] = {"pid", "network", "ipc", "uts", "mount", "cgroup"};
    static const char *const ns_rootless[] = {"pid", "ipc", "uts", "mount", "cgroup", "user"};
    const char *const *ns = rootless ? ns_rootless : ns_root;
    for (size_t i = 0; namespaces != NULL && i < ARRAY_SIZE(ns_root); i++)
        json_array_append_new(namespaces, json_pack("{s:s}", "type", ns[i]));

    json_t *linux_o = json_object();
    if (linux_o != NULL) {
        if (rootless) {
            /* Map the invoking user to root, as runc does with its euid/egid. */
            json_object_set_new(linux_o, "uidMappings", idmap_array(geteuid()));
            json_object_set_new(linux_o, "gidMappings", idmap_array(getegid()));
        } else {
            /* Deny all device access by default; the runtime adds the
             * standard /dev nodes itself. */
            json_object_set_new(
                linux_o, "resources",
                json_pack("{s:[{s:b, s:s}]}", "devices", "allow", 0, "access", "rwm"));
        }
        json_object_set_new(linux_o, "namespaces", namespaces);
        namespaces = NULL;
        json_object_set_new(linux_o, "maskedPaths",
                            str_array(masked_paths, ARRAY_SIZE(masked_paths)));
        json_object_set_new(linux_o, "readonlyPaths",
                            str_array(readonly_paths, ARRAY_SIZE(readonly_paths)));
    }
    if (namespaces != NULL)
        json_decref(namespaces);

    /* "o" in json_pack steals the reference, also on failure. */
    return json_pack("{s:s, s:o, s:{s:s, s:b}, s:s, s:o, s:o}", "ociVersion", OCI_VERSION,
                     "process", process, "root", "path", "rootfs", "readonly", 1, "hostname",
                     "capsa", "mounts", mounts, "linux", linux_o);
}

int capsa_spec_default_json(bool rootless, char **out, struct capsa_err *err)
{
    *out = NULL;
    json_t *root = build(rootless);
    if (root == NULL)
        return capsa_err_set(err, ENOMEM, "building the default config.json");
    char *s = json_dumps(root, JSON_INDENT(2));
    json_decref(root);
    if (s == NULL)
        return capsa_err_set(err, ENOMEM, "serialising the default config.json");
    *out = s;
    return 0;
}
