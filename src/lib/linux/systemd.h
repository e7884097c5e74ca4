/* systemd.h - the systemd cgroup driver (--systemd-cgroup), as runc's.
 *
 * linux.cgroupsPath is "SLICE:PREFIX:NAME": the container gets a transient
 * scope unit PREFIX-NAME.scope (NAME.scope when PREFIX is empty) in SLICE
 * (system.slice when empty), started through systemd's D-Bus API on its
 * private socket with Delegate=yes and linux.resources as unit properties.
 * Its cgroup is then the directory systemd made, and everything else (the
 * resource files, devices, freezing, kill --all, stats, the v1 hierarchies
 * systemd does not manage) goes through the cgroupfs code as with the
 * default driver. delete stops the unit; update sets its properties.
 *
 * systemd needs a live process to start a scope, and the container's init
 * must be born in its cgroup (clone3 CLONE_INTO_CGROUP, before any of its
 * own code runs): so the scope is started around a placeholder child that
 * pauses, the init is cloned into the cgroup the placeholder was moved to,
 * and the placeholder is killed. */
#ifndef CAPSA_LINUX_SYSTEMD_H
#define CAPSA_LINUX_SYSTEMD_H

#include <stdbool.h>
#include <sys/types.h>

#include "linux/dbus.h"
#include "spec/spec.h"
#include "util/err.h"

struct capsa_systemd_unit {
    char *slice; /* "system.slice" */
    char *name;  /* "capsa-ID.scope" */
    /* The config's annotations, borrowed: org.systemd.property.* ones
     * become unit properties (linux/sdprop.h). */
    const struct capsa_kv *annotations;
    size_t n_annotations;
};

/* Parse linux.cgroupsPath for the systemd driver; NULL or "" means
 * "system.slice:capsa:ID". Pure. Errors name linux.cgroupsPath. */
int capsa_systemd_unit_parse(const char *cgroups_path, const char *id,
                             struct capsa_systemd_unit *out, struct capsa_err *err);
void capsa_systemd_unit_free(struct capsa_systemd_unit *u);

/* The cgroup path of a slice as systemd lays it out: "a-b.slice" ->
 * "/a.slice/a-b.slice", "-.slice" -> "". Pure; refuses names systemd
 * refuses ("a--b.slice", "-a.slice", no ".slice" suffix, a '/'). */
int capsa_systemd_slice_path(const char *slice, char **out, struct capsa_err *err);

/* Whether s is a scope name capsa may stop or change: valid unit-name
 * characters, ending in ".scope" (state.json is checked with this before
 * any unit it names is touched). */
bool capsa_systemd_scope_name_ok(const char *s);

/* Append to b (inside an open a(sv) array) the unit properties for res:
 * v2 names (MemoryMax, CPUWeight, AllowedCPUs, ...) when unified, else the
 * v1 ones (MemoryLimit, CPUShares, ...). An unparsable cpuset is an error
 * naming the field. Pure. */
int capsa_systemd_res_props(const struct capsa_resources *res, bool unified,
                            struct capsa_dbus_buf *b, struct capsa_err *err);

/* A started scope and its placeholder. */
struct capsa_systemd_scope {
    pid_t holder;  /* the placeholder child, 0 once released */
    int holder_fd; /* its pidfd */
    char *cgroup;  /* the scope's cgroup path ("/system.slice/capsa-ID.scope") */
};

/* Start the scope for unit u around a new placeholder and wait for its job.
 * On error nothing is left: no placeholder, no unit. */
int capsa_systemd_scope_start(const struct capsa_systemd_unit *u, const char *description,
                              const struct capsa_resources *res, struct capsa_systemd_scope *out,
                              struct capsa_err *err);
/* Kill and reap the placeholder (once the init is in the cgroup), free. */
void capsa_systemd_scope_release(struct capsa_systemd_scope *s);

/* Stop the unit and wait (a unit already gone is success), then reset its
 * failed state. */
int capsa_systemd_stop(const char *unit, struct capsa_err *err);
/* Set res on the running unit (update). */
int capsa_systemd_set(const char *unit, const struct capsa_resources *res, struct capsa_err *err);

/* The same three, over a connection already made (tests drive them with a
 * fake manager at the other end of a socketpair). */
int capsa_systemd_start_on(struct capsa_dbus *bus, const struct capsa_systemd_unit *u,
                           const char *description, pid_t pid, const struct capsa_resources *res,
                           bool unified, long long deadline_ms, struct capsa_err *err);
int capsa_systemd_stop_on(struct capsa_dbus *bus, const char *unit, long long deadline_ms,
                          struct capsa_err *err);
int capsa_systemd_set_on(struct capsa_dbus *bus, const char *unit,
                         const struct capsa_resources *res, bool unified, long long deadline_ms,
                         struct capsa_err *err);

/* The manager's private socket: /run/systemd/private for root, the user
 * manager's $XDG_RUNTIME_DIR/systemd/private otherwise. */
int capsa_systemd_socket_path(char *buf, size_t size, struct capsa_err *err);

/* The cgroup a process is in as systemd sees it, from /proc/PID/cgroup text:
 * the v2 ("0::") path when not "/", else the name=systemd one. Pure. */
int capsa_systemd_cgroup_of(const char *proc_cgroup, char **out, struct capsa_err *err);

#endif
