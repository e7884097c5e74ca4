/* ns.h - namespaces: clone flags, joining an existing namespace by path (with
 * a type check), writing uid/gid maps and time namespace offsets. */
#ifndef CAPSA_LINUX_NS_H
#define CAPSA_LINUX_NS_H

#include <sys/types.h>

#include "spec/spec.h"
#include "util/err.h"

/* The kernel's name of a namespace type (/proc/PID/ns/NAME: "net", "mnt",
 * ...), which CRIU also uses; "" for none. */
const char *capsa_ns_proc_name(enum capsa_ns_type type);

/* CLONE_NEW* flag of a namespace type. */
int capsa_ns_clone_flag(enum capsa_ns_type type);

/* Open ns->path and setns() into it, after checking with NS_GET_NSTYPE that
 * the file is a namespace of the expected type. */
int capsa_ns_join(const struct capsa_namespace *ns, size_t index, struct capsa_err *err);

/* The CLONE_NEW* flags of every namespace of pid that differs from the
 * caller's (the ones to setns() into to join pid). The caller proves
 * afterwards that pid was the process it meant (start time, pidfd).
 * -errno with err set when pid's namespaces cannot be read (ENOENT: gone). */
int capsa_ns_differing(pid_t pid, int *flags, struct capsa_err *err);

/* 1 when the namespace file path (of type) is the caller's own namespace,
 * 0 when another, -errno with err set when either cannot be looked at. */
int capsa_ns_is_ours(const char *path, enum capsa_ns_type type, struct capsa_err *err);

/* Write /proc/<pid>/uid_map and gid_map from the spec. */
int capsa_idmap_write(pid_t pid, const struct capsa_spec *spec, struct capsa_err *err);

/* Write the calling process' timens_offsets (after unshare(CLONE_NEWTIME),
 * before any child exists in the new time namespace). */
int capsa_timens_write_offsets(const struct capsa_spec *spec, struct capsa_err *err);

#endif
