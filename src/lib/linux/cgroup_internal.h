/* cgroup_internal.h - helpers shared by cgroup.c, cgroup_res.c and
 * cgroup_stats.c: controller lookup, no-follow file access relative to a
 * directory fd, and the pure v1 <-> v2 value conversions (exposed so the unit
 * tests can check them without a cgroup tree). Not for use outside cgroup*.c. */
#ifndef CAPSA_LINUX_CGROUP_INTERNAL_H
#define CAPSA_LINUX_CGROUP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "linux/cgroup.h"

/* True when the NULL-terminated list holds ctrl. */
bool capsa_cg_has(char *const *ctrls, const char *ctrl);
/* The directory of cg whose hierarchy holds ctrl, or NULL. */
const struct capsa_cgroup_dir *capsa_cg_dir_for(const struct capsa_cgroup *cg, const char *ctrl);
/* The v2 directory of cg, or NULL. */
const struct capsa_cgroup_dir *capsa_cg_v2_dir(const struct capsa_cgroup *cg);

/* Open an absolute cgroup directory (O_DIRECTORY|O_NOFOLLOW|O_CLOEXEC): fd or -errno. */
int capsa_cg_open_dir(const char *path);
/* Read dirfd/file (never following a symlink) into a heap string: 0 or -errno. */
int capsa_cg_read(int dirfd, const char *file, char **out);
/* Write val to dirfd/file (no create, no symlink): 0 or -errno. */
int capsa_cg_write(int dirfd, const char *file, const char *val);
/* Whether dirfd/file exists (not following a symlink). */
bool capsa_cg_exists(int dirfd, const char *file);
/* Parse an unsigned decimal, allowing surrounding white space; "max" gives UINT64_MAX. */
int capsa_cg_parse_u64(const char *s, uint64_t *out);

/* --- pure conversions (runc / crun semantics) --- */

/* cpu.shares (2..262144) -> cpu.weight (1..10000); 0 means "not set" -> 0. */
uint64_t capsa_cg_shares_to_weight(uint64_t shares);
/* blkio.weight (10..1000) -> io.weight (1..10000); 0 -> 0. */
uint64_t capsa_cg_blkio_to_io_weight(uint64_t weight);
/* memory.swap.max from OCI limit (memory) and swap (memory+swap): writes
 * "max", a number, or "" (nothing to write) into buf. -EINVAL with a reason
 * in *why when the pair is inconsistent. */
int capsa_cg_v2_swap(bool has_limit, int64_t limit, bool has_swap, int64_t swap, char *buf,
                     size_t n, const char **why);
/* cpu.max from quota/period: "" when neither is set, "max P" for quota <= 0,
 * otherwise "Q P"; the period defaults to 100000. */
void capsa_cg_cpu_max(bool has_quota, int64_t quota, bool has_period, uint64_t period, char *buf,
                      size_t n);
/* pids.max: "max" for limit <= 0, else the number. */
void capsa_cg_pids_max(int64_t limit, char *buf, size_t n);
/* A memory value for v2: "max" for -1 (any negative), else the number. */
void capsa_cg_v2_mem(int64_t v, char *buf, size_t n);
/* Normalise a hugepage size as the kernel names it in hugetlb.<size>.*:
 * "2MB", "2M", "2mb", "2048KB" -> "2MB"; "1GB" -> "1GB"; "64KB" -> "64KB".
 * 0 or -EINVAL. */
int capsa_cg_hugepage_size(const char *in, char *buf, size_t n);

#endif
