/* vfile.h - the files under /proc and /sys that the interpose supervisor
 * serves from the container's cgroup and start time instead of the host's,
 * so that free, nproc, top and uptime inside see the container (what LXCFS
 * does with FUSE; our own code): /proc/meminfo, cpuinfo, stat, uptime,
 * loadavg, swaps and /sys/devices/system/cpu/online.
 *
 * Two halves. The pure half, capsa_ip_vfile_format, takes the texts of the
 * host's files and of the cgroup's files and produces the content; it makes
 * no system call and is what the unit tests drive with samples. The other
 * half, capsa_ip_vsrc_*, opens once, while the supervisor still sees the
 * host, a procfs fd and the container's cgroup directories, and at each open
 * of a served file reads the texts through those fds and calls the pure half.
 *
 * Failure rule: anything missing or malformed on the cgroup side (a file this
 * kernel or cgroup version lacks, garbage, a number that overflows) makes
 * that part fall back to the host's values, never an error. Only a host file
 * that cannot be read at all, or no memory, is an error: the supervisor then
 * serves the real file. */
#ifndef CAPSA_LEVEL_INTERPOSE_VFILE_H
#define CAPSA_LEVEL_INTERPOSE_VFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/err.h"

enum capsa_ip_vfile {
    CAPSA_IP_VF_MEMINFO,
    CAPSA_IP_VF_CPUINFO,
    CAPSA_IP_VF_STAT,
    CAPSA_IP_VF_UPTIME,
    CAPSA_IP_VF_LOADAVG,
    CAPSA_IP_VF_SWAPS,
    CAPSA_IP_VF_CPU_ONLINE,
    CAPSA_IP_VF_COUNT
};

/* Which served file a canonical path is ("/proc/meminfo", ...,
 * "/sys/devices/system/cpu/online"), or -1. */
int capsa_ip_vfile_lookup(const char *path);

/* The container's cgroup directory and, after it, its nearest ancestors:
 * limits set on a parent (a Kubernetes pod's, a systemd slice's) bind the
 * container too. */
#define CAPSA_IP_VDEPTH 8

/* ---- the pure half ---- */

/* Task counts of the container's cgroup (the impure half fills them from
 * cgroup.procs and the host's /proc/<pid>/task/<tid>/stat). */
struct capsa_ip_vtasks {
    bool valid;        /* false: unknown, the host's values stay */
    uint64_t running;  /* threads in state R */
    uint64_t blocked;  /* threads in state D */
    uint64_t total;    /* all threads */
    uint64_t last_pid; /* the highest pid, in the container's pid namespace */
};

/* Everything the content is made of. Every text may be NULL (absent,
 * unreadable); texts need not be well formed. */
struct capsa_ip_vinput {
    /* The host's /proc files. */
    const char *meminfo, *cpuinfo, *stat, *uptime, *loadavg, *swaps;

    /* Memory: mem_v2 picks the file names and meanings. Index 0 is the
     * container's cgroup, then its ancestors (NULL where there are fewer). */
    bool mem_v2;
    const char *mem_limit[CAPSA_IP_VDEPTH];  /* v1 memory.limit_in_bytes, v2 memory.max */
    const char *mem_usage;                   /* v1 memory.usage_in_bytes, v2 memory.current */
    const char *mem_stat;                    /* memory.stat (v1 hierarchical_* limits too) */
    const char *swap_limit[CAPSA_IP_VDEPTH]; /* v1 memory.memsw.limit_in_bytes (memory +
                                                swap), v2 memory.swap.max (swap alone) */
    const char *swap_usage; /* v1 memory.memsw.usage_in_bytes, v2 memory.swap.current */

    /* CPU: the effective cpuset (a list, "0-3,8"), the quota per level. */
    const char *cpus;
    bool cpu_v2;
    const char *cpu_quota[CAPSA_IP_VDEPTH];  /* v1 cpu.cfs_quota_us, v2 cpu.max */
    const char *cpu_period[CAPSA_IP_VDEPTH]; /* v1 cpu.cfs_period_us; unused on v2 */

    /* The init's start, in clock ticks after the host's boot (field 22 of
     * /proc/<pid>/stat), and the tick rate. */
    bool have_start;
    uint64_t start_ticks;
    long clk_tck;

    struct capsa_ip_vtasks tasks;
};

/* Produce file f from in (heap buffer, NUL-terminated, *len without the NUL).
 * -ENOENT when the host file it is made from is absent. */
int capsa_ip_vfile_format(const struct capsa_ip_vinput *in, enum capsa_ip_vfile f, char **out,
                          size_t *len, struct capsa_err *err);

/* ---- the sources: what the supervisor opens once, at its start ---- */

/* A cgroup directory and up to CAPSA_IP_VDEPTH - 1 ancestors (fd[0] is the
 * container's; n == 0: the controller is not there). */
struct capsa_ip_vdir {
    int fd[CAPSA_IP_VDEPTH];
    size_t n;
    bool v2;
};

struct capsa_ip_vsrc {
    int proc_fd; /* the host's procfs (our own dup) */
    struct capsa_ip_vdir mem, cpu, cpuset;
    int procs_fd; /* the directory whose cgroup.procs tree lists the container's
                     processes (the v2 one if any), -1 when none */
    bool have_start;
    uint64_t start_ticks;
    long clk_tck;
};

/* Open the sources while the caller still sees the host: host_proc_fd (a
 * procfs of the host; dup'ed, the caller keeps its own), the directories of
 * cgroup_text (capsa_cgroup_encode's format; NULL or "" for none: the host's
 * values then) and the start time of init_pid (a pid in host_proc_fd's pid
 * namespace; 0 for unknown). A directory that cannot be opened or an init
 * whose stat cannot be read is an error naming it. On error nothing is left
 * open; *out can be closed either way. */
int capsa_ip_vsrc_open(int host_proc_fd, const char *cgroup_text, pid_t init_pid,
                       struct capsa_ip_vsrc *out, struct capsa_err *err);
void capsa_ip_vsrc_close(struct capsa_ip_vsrc *s);

/* Render file f now, from the current values (heap buffer, as
 * capsa_ip_vfile_format). The task counts come from pidfds of the pids in
 * cgroup.procs (read in the caller's pid namespace), translated to
 * host_proc_fd's through the pidfd's fdinfo, so the caller may live in a pid
 * namespace of its own; the caller's own process is not counted. */
int capsa_ip_vfile_render(const struct capsa_ip_vsrc *s, enum capsa_ip_vfile f, char **out,
                          size_t *len, struct capsa_err *err);

/* The fd the supervisor installs: the content in a memfd (MFD_CLOEXEC |
 * MFD_ALLOW_SEALING), sealed against writes, growth, shrinking and further
 * seals, reopened read-only (O_RDONLY | O_CLOEXEC, offset 0) through proc_fd
 * (a procfs in which the caller is visible, e.g. s->proc_fd: the
 * supervisor's own /proc may not be reachable inside the container's root):
 * the workload's fd is read-only, and the seals refuse a write even through
 * a writable reopen (/proc/self/fd/N). The fd, or <0 with err set. */
int capsa_ip_vfile_memfd(int proc_fd, const char *name, const char *buf, size_t len,
                         struct capsa_err *err);

#endif
