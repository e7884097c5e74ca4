/* test_ip_vfile.c - unit tests of the interpose level's served /proc and /sys
 * files (level/interpose/vfile.c): the pure rendering from sample host files
 * and cgroup v1 and v2 values (limits, ancestors, garbage, a limit above the
 * host's memory, CPU renumbering with cpusets and quotas). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "level/interpose/vfile.h"

/* gcc's -Wnull-dereference does not know that cmocka's assertions end the
 * test: check and abort so the compiler sees the pointer is non-NULL. */
__attribute__((returns_nonnull)) static void *nn_check(const void *p, const char *what)
{
    if (p == NULL) {
        fail_msg("%s is NULL", what);
        abort();
    }
    return (void *)(uintptr_t)p;
}
#define NN(x) ((__typeof__(x))nn_check((x), #x))

/* Render f from in; the test fails unless it succeeds. */
static char *render(const struct capsa_ip_vinput *in, enum capsa_ip_vfile f)
{
    char *out = NULL;
    size_t len = 0;
    struct capsa_err err = {0};
    int r = capsa_ip_vfile_format(in, f, &out, &len, &err);
    if (r != 0)
        fail_msg("format %d: %d %s", (int)f, r, err.msg);
    assert_int_equal(strlen(NN(out)), len);
    return out;
}

/* The value of a "Key:   N kB" line, or -1 when absent. */
static long long kb_of(const char *text, const char *key)
{
    size_t kl = strlen(key);
    for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        if (strncmp(l, key, kl) == 0 && l[kl] == ':')
            return strtoll(l + kl + 1, NULL, 10);
    }
    return -1;
}

static size_t count_lines(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* ---------------- samples ---------------- */

static const char host_meminfo[] = "MemTotal:        8000000 kB\n"
                                   "MemFree:         6000000 kB\n"
                                   "MemAvailable:    7000000 kB\n"
                                   "Buffers:           10000 kB\n"
                                   "Cached:           500000 kB\n"
                                   "SwapCached:           12 kB\n"
                                   "Active:           300000 kB\n"
                                   "Inactive:         200000 kB\n"
                                   "Active(anon):     100000 kB\n"
                                   "Inactive(anon):    50000 kB\n"
                                   "Active(file):     200000 kB\n"
                                   "Inactive(file):   150000 kB\n"
                                   "Unevictable:           0 kB\n"
                                   "SwapTotal:       2097152 kB\n"
                                   "SwapFree:        2000000 kB\n"
                                   "Dirty:               100 kB\n"
                                   "AnonPages:        150000 kB\n"
                                   "Shmem:             10000 kB\n"
                                   "KernelStack:        5000 kB\n"
                                   "Slab:             200000 kB\n"
                                   "SReclaimable:     150000 kB\n"
                                   "VmallocTotal:   34359738367 kB\n"
                                   "HugePages_Total:       0\n"
                                   "Hugepagesize:       2048 kB\n";

static const char host_swaps[] =
    "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"
    "/swapfile                               file\t\t2097148\t\t97152\t\t-2\n";

static const char v1_stat[] = "cache 1000\n"
                              "rss 2000\n"
                              "total_cache 52428800\n"
                              "total_rss 41943040\n"
                              "total_shmem 1048576\n"
                              "total_mapped_file 2097152\n"
                              "total_dirty 4096\n"
                              "total_writeback 0\n"
                              "total_inactive_anon 8388608\n"
                              "total_active_anon 33554432\n"
                              "total_inactive_file 20971520\n"
                              "total_active_file 31457280\n"
                              "total_unevictable 0\n"
                              "hierarchical_memory_limit 9223372036854771712\n"
                              "hierarchical_memsw_limit 9223372036854771712\n";

static const char v2_stat[] = "anon 41943040\n"
                              "file 52428800\n"
                              "kernel 3000000\n"
                              "kernel_stack 65536\n"
                              "pagetables 131072\n"
                              "percpu 8192\n"
                              "sock 0\n"
                              "shmem 1048576\n"
                              "file_mapped 2097152\n"
                              "file_dirty 4096\n"
                              "file_writeback 0\n"
                              "swapcached 0\n"
                              "anon_thp 0\n"
                              "inactive_anon 8388608\n"
                              "active_anon 33554432\n"
                              "inactive_file 20971520\n"
                              "active_file 31457280\n"
                              "unevictable 0\n"
                              "slab_reclaimable 1048576\n"
                              "slab_unreclaimable 524288\n"
                              "slab 1572864\n";

/* 256 MiB limit, 100 MiB used. */
static void v1_limited(struct capsa_ip_vinput *in)
{
    memset(in, 0, sizeof(*in));
    in->meminfo = host_meminfo;
    in->swaps = host_swaps;
    in->mem_limit[0] = "268435456\n";
    in->mem_usage = "104857600\n";
    in->mem_stat = v1_stat;
}

static void v2_limited(struct capsa_ip_vinput *in)
{
    memset(in, 0, sizeof(*in));
    in->meminfo = host_meminfo;
    in->swaps = host_swaps;
    in->mem_v2 = true;
    in->mem_limit[0] = "268435456\n";
    in->mem_usage = "104857600\n";
    in->mem_stat = v2_stat;
    in->swap_limit[0] = "max\n";
    in->swap_usage = "0\n";
}

/* ---------------- lookup ---------------- */

static void test_lookup(void **state)
{
    (void)state;
    assert_int_equal(capsa_ip_vfile_lookup("/proc/meminfo"), CAPSA_IP_VF_MEMINFO);
    assert_int_equal(capsa_ip_vfile_lookup("/proc/cpuinfo"), CAPSA_IP_VF_CPUINFO);
    assert_int_equal(capsa_ip_vfile_lookup("/proc/stat"), CAPSA_IP_VF_STAT);
    assert_int_equal(capsa_ip_vfile_lookup("/proc/uptime"), CAPSA_IP_VF_UPTIME);
    assert_int_equal(capsa_ip_vfile_lookup("/proc/loadavg"), CAPSA_IP_VF_LOADAVG);
    assert_int_equal(capsa_ip_vfile_lookup("/proc/swaps"), CAPSA_IP_VF_SWAPS);
    assert_int_equal(capsa_ip_vfile_lookup("/sys/devices/system/cpu/online"),
                     CAPSA_IP_VF_CPU_ONLINE);
    assert_int_equal(capsa_ip_vfile_lookup("/proc/meminfo/"), -1);
    assert_int_equal(capsa_ip_vfile_lookup("/proc/self/stat"), -1);
    assert_int_equal(capsa_ip_vfile_lookup("/proc/statx"), -1);
    assert_int_equal(capsa_ip_vfile_lookup(""), -1);
    assert_int_equal(capsa_ip_vfile_lookup(NULL), -1);
}

/* ---------------- meminfo ---------------- */

static void test_meminfo_v1(void **state)
{
    (void)state;
    struct capsa_ip_vinput in;
    v1_limited(&in);
    char *m = render(&in, CAPSA_IP_VF_MEMINFO);
    assert_int_equal(kb_of(m, "MemTotal"), 262144);
    assert_int_equal(kb_of(m, "MemFree"), 159744);
    /* free + active_file + inactive_file */
    assert_int_equal(kb_of(m, "MemAvailable"), 159744 + 30720 + 20480);
    assert_int_equal(kb_of(m, "Buffers"), 0);
    assert_int_equal(kb_of(m, "Cached"), 51200);
    assert_int_equal(kb_of(m, "Active"), 32768 + 30720);
    assert_int_equal(kb_of(m, "Inactive"), 8192 + 20480);
    assert_int_equal(kb_of(m, "Active(anon)"), 32768);
    assert_int_equal(kb_of(m, "Inactive(file)"), 20480);
    assert_int_equal(kb_of(m, "AnonPages"), 40960);
    assert_int_equal(kb_of(m, "Shmem"), 1024);
    assert_int_equal(kb_of(m, "Dirty"), 4);
    /* v1 has no per-cgroup kernel stack or slab, nor swapcached in this
     * sample: the host's lines stay, as does everything unrelated. */
    assert_int_equal(kb_of(m, "KernelStack"), 5000);
    assert_int_equal(kb_of(m, "Slab"), 200000);
    assert_int_equal(kb_of(m, "SwapCached"), 12);
    assert_int_equal(kb_of(m, "SwapTotal"), 2097152);
    assert_int_equal(kb_of(m, "SwapFree"), 2000000);
    assert_non_null(strstr(m, "\nVmallocTotal:   34359738367 kB\n"));
    assert_non_null(strstr(m, "\nHugePages_Total:       0\n"));
    /* The kernel's layout, the host's line order. */
    assert_non_null(strstr(m, "MemTotal:         262144 kB\n"));
    assert_non_null(strstr(m, "\nInactive(file):    20480 kB\n"));
    assert_int_equal(count_lines(m), count_lines(host_meminfo));
    assert_ptr_equal(strstr(m, "MemTotal"), m);
    free(m);
}

static void test_meminfo_v1_hierarchical(void **state)
{
    (void)state;
    /* The container's own limit is none; a parent's (memory.stat's
     * hierarchical_memory_limit) binds it. */
    static const char stat[] = "total_cache 0\nhierarchical_memory_limit 134217728\n";
    struct capsa_ip_vinput in;
    v1_limited(&in);
    in.mem_limit[0] = "9223372036854771712\n";
    in.mem_stat = stat;
    char *m = render(&in, CAPSA_IP_VF_MEMINFO);
    assert_int_equal(kb_of(m, "MemTotal"), 131072);
    assert_int_equal(kb_of(m, "MemFree"), 131072 - 102400);
    free(m);
    /* The same from an ancestor's file. */
    v1_limited(&in);
    in.mem_limit[0] = "9223372036854771712\n";
    in.mem_limit[2] = "134217728\n";
    in.mem_stat = NULL;
    m = render(&in, CAPSA_IP_VF_MEMINFO);
    assert_int_equal(kb_of(m, "MemTotal"), 131072);
    /* Without memory.stat the cache lines are the host's. */
    assert_int_equal(kb_of(m, "Cached"), 500000);
    assert_int_equal(kb_of(m, "Buffers"), 10000);
    free(m);
}

static void test_meminfo_v1_swap(void **state)
{
    (void)state;
    struct capsa_ip_vinput in;
    v1_limited(&in);
    /* memory + swap = 256 + 64 MiB; 8 MiB of swap in use. */
    in.swap_limit[0] = "335544320\n";
    in.swap_usage = "113246208\n";
    char *m = render(&in, CAPSA_IP_VF_MEMINFO);
    assert_int_equal(kb_of(m, "SwapTotal"), 65536);
    assert_int_equal(kb_of(m, "SwapFree"), 65536 - 8192);
    assert_int_equal(kb_of(m, "MemTotal"), 262144);
    free(m);
    char *s = render(&in, CAPSA_IP_VF_SWAPS);
    assert_string_equal(s, host_swaps);
    free(s);

    /* memsw == memory: no swap allowed. */
    in.swap_limit[0] = "268435456\n";
    m = render(&in, CAPSA_IP_VF_MEMINFO);
    assert_int_equal(kb_of(m, "SwapTotal"), 0);
    assert_int_equal(kb_of(m, "SwapFree"), 0);
    free(m);
    s = render(&in, CAPSA_IP_VF_SWAPS);
    assert_string_equal(s, "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n");
    free(s);

    /* Both unlimited: the host's swap. */
    in.mem_limit[0] = "9223372036854771712\n";
    in.swap_limit[0] = "9223372036854771712\n";
    m = render(&in, CAPSA_IP_VF_MEMINFO);
    assert_string_equal(m, host_meminfo);
    free(m);
    s = render(&in, CAPSA_IP_VF_SWAPS);
    assert_string_equal(s, host_swaps);
    free(s);
}

static void test_meminfo_v2(void **state)
{
    (void)state;
    struct capsa_ip_vinput in;
    v2_limited(&in);
    char *m = render(&in, CAPSA_IP_VF_MEMINFO);
    assert_int_equal(kb_of(m, "MemTotal"), 262144);
    assert_int_equal(kb_of(m, "MemFree"), 159744);
    assert_int_equal(kb_of(m, "MemAvailable"), 159744 + 30720 + 20480);
    assert_int_equal(kb_of(m, "Cached"), 51200);
    assert_int_equal(kb_of(m, "AnonPages"), 40960);
    assert_int_equal(kb_of(m, "KernelStack"), 64);
    assert_int_equal(kb_of(m, "Slab"), 1536);
    assert_int_equal(kb_of(m, "SReclaimable"), 1024);
    assert_int_equal(kb_of(m, "SwapCached"), 0);
    /* swap.max "max": the host's swap lines. */
    assert_int_equal(kb_of(m, "SwapTotal"), 2097152);
    assert_int_equal(kb_of(m, "SwapFree"), 2000000);
    free(m);

    /* A limit on an ancestor only (Kubernetes pod). */
    in.mem_limit[0] = "max\n";
    in.mem_limit[1] = "max\n";
    in.mem_limit[3] = "536870912\n";
    m = render(&in, CAPSA_IP_VF_MEMINFO);
    assert_int_equal(kb_of(m, "MemTotal"), 524288);
    free(m);

    /* Swap limited alone (v2): 64 MiB, 8 MiB used. */
    v2_limited(&in);
    in.swap_limit[0] = "67108864\n";
    in.swap_usage = "8388608\n";
    m = render(&in, CAPSA_IP_VF_MEMINFO);
    assert_int_equal(kb_of(m, "SwapTotal"), 65536);
    assert_int_equal(kb_of(m, "SwapFree"), 57344);
    free(m);

    /* No swap: meminfo says 0, swaps has only its header. */
    in.swap_limit[0] = "0\n";
    m = render(&in, CAPSA_IP_VF_MEMINFO);
    assert_int_equal(kb_of(m, "SwapTotal"), 0);
    assert_int_equal(kb_of(m, "SwapFree"), 0);
    free(m);
    char *s = render(&in, CAPSA_IP_VF_SWAPS);
    assert_string_equal(s, "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n");
    free(s);
    in.swaps = NULL;
    s = render(&in, CAPSA_IP_VF_SWAPS);
    assert_string_equal(s, "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n");
    free(s);
}

static void test_meminfo_no_limit(void **state)
{
    (void)state;
    struct capsa_ip_vinput in;
    /* A limit above the host's memory is no limit: the host's file. */
    static const char *const above[] = {"9223372036854771712\n", "8192000000\n", "16000000000\n",
                                        "18446744073709551615\n"};
    for (size_t i = 0; i < sizeof(above) / sizeof(above[0]); i++) {
        v1_limited(&in);
        in.mem_limit[0] = above[i];
        in.mem_stat = "total_cache 0\n";
        char *m = render(&in, CAPSA_IP_VF_MEMINFO);
        assert_string_equal(m, host_meminfo);
        free(m);
    }
    v2_limited(&in);
    in.mem_limit[0] = "max\n";
    char *m = render(&in, CAPSA_IP_VF_MEMINFO);
    assert_string_equal(m, host_meminfo);
    free(m);
    /* No cgroup at all. */
    memset(&in, 0, sizeof(in));
    in.meminfo = host_meminfo;
    m = render(&in, CAPSA_IP_VF_MEMINFO);
    assert_string_equal(m, host_meminfo);
    free(m);
}

static void test_meminfo_garbage(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "abc",
        "12abc",
        "-5",
        "99999999999999999999999",
        "",
        " ",
        "\n",
        "0x10",
        "1e9",
        "+5",
        "268435456 268435456",
        "268435456\n1\n",
        "-1x",
        "\xff\xfe",
    };
    struct capsa_ip_vinput in;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        /* A malformed limit: no limit known, the host's values. */
        v1_limited(&in);
        in.mem_limit[0] = bad[i];
        in.mem_stat = NULL;
        char *m = render(&in, CAPSA_IP_VF_MEMINFO);
        assert_string_equal(m, host_meminfo);
        free(m);
        /* A malformed usage with a good limit: the same. */
        v2_limited(&in);
        in.mem_usage = bad[i];
        m = render(&in, CAPSA_IP_VF_MEMINFO);
        assert_string_equal(m, host_meminfo);
        free(m);
        /* A malformed swap limit: the host's swap, the container's memory. */
        v2_limited(&in);
        in.swap_limit[0] = bad[i];
        m = render(&in, CAPSA_IP_VF_MEMINFO);
        assert_int_equal(kb_of(m, "SwapTotal"), 2097152);
        assert_int_equal(kb_of(m, "MemTotal"), 262144);
        free(m);
    }
    /* A malformed memory.stat line: that line is the host's. */
    v1_limited(&in);
    in.mem_stat = "total_cache 12x\ntotal_rss 99999999999999999999999\ntotal_shmem\n"
                  "total_dirty 4096\n";
    char *m = render(&in, CAPSA_IP_VF_MEMINFO);
    assert_int_equal(kb_of(m, "MemTotal"), 262144);
    assert_int_equal(kb_of(m, "Cached"), 500000);
    assert_int_equal(kb_of(m, "AnonPages"), 150000);
    assert_int_equal(kb_of(m, "Shmem"), 10000);
    assert_int_equal(kb_of(m, "Dirty"), 4);
    free(m);
    /* Usage above the limit: nothing free, no wrap-around. */
    v1_limited(&in);
    in.mem_usage = "300000000\n";
    m = render(&in, CAPSA_IP_VF_MEMINFO);
    assert_int_equal(kb_of(m, "MemFree"), 0);
    free(m);
    /* A host file without MemTotal, or garbage: kept as it is. */
    static const char *const hosts[] = {"MemFree: 5 kB\n", "MemTotal: lots kB\nMemFree: 5 kB\n",
                                        "garbage", ":::\n\n:\n", ""};
    for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
        v1_limited(&in);
        in.meminfo = hosts[i];
        m = render(&in, CAPSA_IP_VF_MEMINFO);
        assert_string_equal(m, hosts[i]);
        free(m);
    }
}

/* ---------------- CPUs ---------------- */

static const char host_cpuinfo[] = "processor\t: 0\nvendor_id\t: X\ncore id\t\t: 10\n\n"
                                   "processor\t: 1\nvendor_id\t: X\ncore id\t\t: 11\n\n"
                                   "processor\t: 2\nvendor_id\t: X\ncore id\t\t: 12\n\n"
                                   "processor\t: 3\nvendor_id\t: X\ncore id\t\t: 13\n\n";

static const char host_stat[] = "cpu  100 0 100 1000 3 0 0 0 0 0\n"
                                "cpu0 10 0 20 300 0 0 0 0 0 0\n"
                                "cpu1 20 0 30 200 0 0 0 0 0 0\n"
                                "cpu2 30 0 10 250 1 0 0 0 0 0\n"
                                "cpu3 40 0 40 250 2 0 0 0 0 0\n"
                                "intr 12345 0 0\n"
                                "ctxt 999\n"
                                "btime 1700000000\n"
                                "processes 5000\n"
                                "procs_running 3\n"
                                "procs_blocked 1\n"
                                "softirq 10 0 0\n";

static void cpu_input(struct capsa_ip_vinput *in, const char *cpus)
{
    memset(in, 0, sizeof(*in));
    in->cpuinfo = host_cpuinfo;
    in->stat = host_stat;
    in->cpus = cpus;
}

static void test_cpuinfo_renumber(void **state)
{
    (void)state;
    struct capsa_ip_vinput in;
    cpu_input(&in, "1,3\n");
    char *c = render(&in, CAPSA_IP_VF_CPUINFO);
    assert_string_equal(c, "processor\t: 0\nvendor_id\t: X\ncore id\t\t: 11\n\n"
                           "processor\t: 1\nvendor_id\t: X\ncore id\t\t: 13\n\n");
    free(c);

    /* v2 quota of 1.5 CPUs: 2 CPUs, the cpuset's first. */
    cpu_input(&in, "1-3\n");
    in.cpu_v2 = true;
    in.cpu_quota[0] = "150000 100000\n";
    c = render(&in, CAPSA_IP_VF_CPUINFO);
    assert_string_equal(c, "processor\t: 0\nvendor_id\t: X\ncore id\t\t: 11\n\n"
                           "processor\t: 1\nvendor_id\t: X\ncore id\t\t: 12\n\n");
    free(c);

    /* v1 quota of half a CPU: one. */
    cpu_input(&in, NULL);
    in.cpu_quota[0] = "50000\n";
    in.cpu_period[0] = "100000\n";
    c = render(&in, CAPSA_IP_VF_CPUINFO);
    assert_string_equal(c, "processor\t: 0\nvendor_id\t: X\ncore id\t\t: 10\n\n");
    free(c);

    /* v1 -1: no quota. A quota above the cpuset: the cpuset. */
    in.cpu_quota[0] = "-1\n";
    c = render(&in, CAPSA_IP_VF_CPUINFO);
    assert_string_equal(c, host_cpuinfo);
    free(c);
    in.cpus = "2\n";
    in.cpu_quota[0] = "300000\n";
    c = render(&in, CAPSA_IP_VF_CPUINFO);
    assert_string_equal(c, "processor\t: 0\nvendor_id\t: X\ncore id\t\t: 12\n\n");
    free(c);

    /* A quota on an ancestor (v2 "max" on the container's own). */
    cpu_input(&in, NULL);
    in.cpu_v2 = true;
    in.cpu_quota[0] = "max 100000\n";
    in.cpu_quota[1] = "300000 100000\n";
    in.cpu_quota[2] = "max 100000\n";
    c = render(&in, CAPSA_IP_VF_CPU_ONLINE);
    assert_string_equal(c, "0-2\n");
    free(c);

    /* Blocks without a processor line (arm64's trailer) stay. */
    static const char arm[] = "processor\t: 0\nBogoMIPS\t: 50\n\n"
                              "processor\t: 1\nBogoMIPS\t: 51\n\n"
                              "Hardware\t: Board\n";
    cpu_input(&in, "1\n");
    in.cpuinfo = arm;
    in.stat = NULL;
    c = render(&in, CAPSA_IP_VF_CPUINFO);
    assert_string_equal(c, "processor\t: 0\nBogoMIPS\t: 51\n\nHardware\t: Board\n");
    free(c);
    /* A file without processor lines (s390x) stays whole. */
    static const char s390[] = "vendor_id       : IBM/S390\nprocessor 0: version = FF\n";
    in.cpuinfo = s390;
    c = render(&in, CAPSA_IP_VF_CPUINFO);
    assert_string_equal(c, s390);
    free(c);
}

static void test_cpus_garbage(void **state)
{
    (void)state;
    /* A malformed cpuset, or one sharing no CPU with the host: all the
     * host's CPUs. */
    static const char *const bad[] = {
        "0-3-5",
        "4-2",
        "99999",
        "8192",
        "a",
        "",
        "\n",
        "1,,2",
        "1,",
        ",1",
        "-1",
        "1-",
        "0-18446744073709551616",
        "1 2",
        "6-7",
    };
    struct capsa_ip_vinput in;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cpu_input(&in, bad[i]);
        char *c = render(&in, CAPSA_IP_VF_CPUINFO);
        assert_string_equal(c, host_cpuinfo);
        free(c);
        c = render(&in, CAPSA_IP_VF_CPU_ONLINE);
        assert_string_equal(c, "0-3\n");
        free(c);
    }
    /* Malformed quotas count for nothing. */
    static const char *const badq2[] = {
        "0 100000", "100000 0",        "x 100000",  "100000",
        "",         "100000 100000 5", "-5 100000", "99999999999999999999 1"};
    for (size_t i = 0; i < sizeof(badq2) / sizeof(badq2[0]); i++) {
        cpu_input(&in, NULL);
        in.cpu_v2 = true;
        in.cpu_quota[0] = badq2[i];
        char *c = render(&in, CAPSA_IP_VF_CPU_ONLINE);
        assert_string_equal(c, "0-3\n");
        free(c);
    }
    static const char *const badq1[] = {"0",  "x",       "", "-5", "1 2", "99999999999999999999",
                                        "-1", "0x100000"};
    for (size_t i = 0; i < sizeof(badq1) / sizeof(badq1[0]); i++) {
        cpu_input(&in, NULL);
        in.cpu_quota[0] = badq1[i];
        in.cpu_period[0] = "100000";
        char *c = render(&in, CAPSA_IP_VF_CPU_ONLINE);
        assert_string_equal(c, "0-3\n");
        free(c);
        /* The period malformed instead. */
        cpu_input(&in, NULL);
        in.cpu_quota[0] = "100000";
        in.cpu_period[0] = badq1[i];
        c = render(&in, CAPSA_IP_VF_CPU_ONLINE);
        assert_string_equal(c, "0-3\n");
        free(c);
    }
}

static void test_cpu_online(void **state)
{
    (void)state;
    struct capsa_ip_vinput in;
    cpu_input(&in, "2-3\n");
    char *c = render(&in, CAPSA_IP_VF_CPU_ONLINE);
    assert_string_equal(c, "0-1\n");
    free(c);
    cpu_input(&in, "3\n");
    c = render(&in, CAPSA_IP_VF_CPU_ONLINE);
    assert_string_equal(c, "0\n");
    free(c);
    /* The cpuset counts only the host's online CPUs (cpu1 offline). */
    cpu_input(&in, "0-3\n");
    in.stat = "cpu  1 1 1 1\ncpu0 1 1 1 1\ncpu2 1 1 1 1\ncpu3 1 1 1 1\n";
    c = render(&in, CAPSA_IP_VF_CPU_ONLINE);
    assert_string_equal(c, "0-2\n");
    free(c);
    /* No host file to count from: an error, the real file is served. */
    in.stat = NULL;
    char *out = NULL;
    size_t len = 0;
    struct capsa_err err = {0};
    assert_int_equal(capsa_ip_vfile_format(&in, CAPSA_IP_VF_CPU_ONLINE, &out, &len, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "/sys/devices/system/cpu/online"));
    assert_null(out);
}

static void test_stat(void **state)
{
    (void)state;
    struct capsa_ip_vinput in;
    cpu_input(&in, "2-3\n");
    in.have_start = true;
    in.start_ticks = 12345;
    in.clk_tck = 100;
    in.tasks = (struct capsa_ip_vtasks){.valid = true, .running = 2, .blocked = 0, .total = 9};
    char *s = render(&in, CAPSA_IP_VF_STAT);
    assert_string_equal(s, "cpu  70 0 50 500 3 0 0 0 0 0\n"
                           "cpu0 30 0 10 250 1 0 0 0 0 0\n"
                           "cpu1 40 0 40 250 2 0 0 0 0 0\n"
                           "intr 12345 0 0\n"
                           "ctxt 999\n"
                           "btime 1700000123\n"
                           "processes 5000\n"
                           "procs_running 2\n"
                           "procs_blocked 0\n"
                           "softirq 10 0 0\n");
    free(s);

    /* No cgroup, no start, no task counts: the host's file. */
    cpu_input(&in, NULL);
    s = render(&in, CAPSA_IP_VF_STAT);
    assert_string_equal(s, host_stat);
    free(s);

    /* The reader itself runs: procs_running is at least 1. */
    cpu_input(&in, NULL);
    in.tasks = (struct capsa_ip_vtasks){.valid = true, .running = 0, .blocked = 4, .total = 9};
    s = render(&in, CAPSA_IP_VF_STAT);
    assert_non_null(strstr(s, "\nprocs_running 1\nprocs_blocked 4\n"));
    free(s);
}

static void test_stat_garbage(void **state)
{
    (void)state;
    /* A malformed cpu line, a sum that overflows, a CPU number out of range:
     * the host's cpu lines; btime and the rest are still the container's. */
    static const char *const bad[] = {
        "cpu  1 1\ncpu0 1 1\ncpu1 1 1\ncpu2 30 x 10\ncpu3 1 1\nbtime 1000\n",
        "cpu  1 1\ncpu2 18446744073709551615 1\ncpu3 1 1\nbtime 1000\n",
        "cpu  1 1\ncpu2 99999999999999999999 1\ncpu3 1 1\nbtime 1000\n",
        "cpu  1 1\ncpu2 1 1\ncpu99999 1 1\nbtime 1000\n",
        "cpu  1 1\ncpu2\ncpu3 1 1\nbtime 1000\n",
    };
    struct capsa_ip_vinput in;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cpu_input(&in, "2-3");
        in.stat = bad[i];
        in.have_start = true;
        in.start_ticks = 500;
        in.clk_tck = 100;
        char *s = render(&in, CAPSA_IP_VF_STAT);
        size_t cut = (size_t)(strstr(bad[i], "btime") - bad[i]);
        assert_memory_equal(s, bad[i], cut);
        assert_string_equal(s + cut, "btime 1005\n");
        free(s);
    }
    /* btime garbage stays as it is. */
    cpu_input(&in, NULL);
    in.stat = "cpu0 1 2\nbtime 12x\nbtime\nprocs_running -1\n";
    in.have_start = true;
    in.start_ticks = 500;
    in.clk_tck = 100;
    in.tasks.valid = true;
    char *s = render(&in, CAPSA_IP_VF_STAT);
    assert_string_equal(s, "cpu  1 2\ncpu0 1 2\nbtime 12x\nbtime\nprocs_running -1\n");
    free(s);
}

/* ---------------- uptime, loadavg ---------------- */

static void test_uptime(void **state)
{
    (void)state;
    struct capsa_ip_vinput in;
    cpu_input(&in, "0-1");
    in.uptime = "1000.00 4000.00\n";
    in.have_start = true;
    in.start_ticks = 50000; /* 500 s after boot */
    in.clk_tck = 100;
    /* idle: 4000 s over 4 CPUs and 1000 s is a 100% idle share; 2 CPUs for
     * 500 s: 1000 s. */
    char *u = render(&in, CAPSA_IP_VF_UPTIME);
    assert_string_equal(u, "500.00 1000.00\n");
    free(u);

    in.uptime = "1000.5 4002.00\n";
    in.start_ticks = 25; /* 0.25 s */
    u = render(&in, CAPSA_IP_VF_UPTIME);
    /* 1000.25 s; idle 4002 * 2 * 1000.25 / (4 * 1000.50) = 2000.50 */
    assert_string_equal(u, "1000.25 2000.50\n");
    free(u);

    /* Started "after" the host's uptime (garbage): zero, no wrap-around. */
    in.start_ticks = 10000000;
    u = render(&in, CAPSA_IP_VF_UPTIME);
    assert_string_equal(u, "0.00 0.00\n");
    free(u);

    /* Unknown start or malformed host file: the host's. */
    static const char *const bad[] = {"abc\n",
                                      "1000.123 5.00\n",
                                      "1000.\n",
                                      "1000.00\n",
                                      "99999999999999999999.00 1.00\n",
                                      "-1.00 2.00\n",
                                      ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        in.uptime = bad[i];
        in.start_ticks = 25;
        u = render(&in, CAPSA_IP_VF_UPTIME);
        assert_string_equal(u, bad[i]);
        free(u);
    }
    in.uptime = "1000.00 4000.00\n";
    in.have_start = false;
    u = render(&in, CAPSA_IP_VF_UPTIME);
    assert_string_equal(u, "1000.00 4000.00\n");
    free(u);
}

static void test_loadavg(void **state)
{
    (void)state;
    struct capsa_ip_vinput in;
    memset(&in, 0, sizeof(in));
    in.loadavg = "0.50 0.52 0.87 2/97 14970\n";
    char *l = render(&in, CAPSA_IP_VF_LOADAVG);
    assert_string_equal(l, "0.50 0.52 0.87 2/97 14970\n");
    free(l);
    in.tasks = (struct capsa_ip_vtasks){
        .valid = true, .running = 2, .blocked = 1, .total = 7, .last_pid = 42};
    l = render(&in, CAPSA_IP_VF_LOADAVG);
    assert_string_equal(l, "3.00 3.00 3.00 2/7 42\n");
    free(l);
    in.tasks = (struct capsa_ip_vtasks){.valid = true, .total = 5, .last_pid = 9};
    in.loadavg = NULL;
    l = render(&in, CAPSA_IP_VF_LOADAVG);
    assert_string_equal(l, "0.00 0.00 0.00 1/5 9\n");
    free(l);
}

/* ---------------- anything at all ---------------- */

static void test_format_errors(void **state)
{
    (void)state;
    struct capsa_ip_vinput in;
    memset(&in, 0, sizeof(in));
    char *out = NULL;
    size_t len = 0;
    struct capsa_err err = {0};
    for (int f = 0; f < CAPSA_IP_VF_COUNT; f++) {
        assert_int_equal(capsa_ip_vfile_format(&in, (enum capsa_ip_vfile)f, &out, &len, &err),
                         -ENOENT);
        assert_null(out);
    }
    assert_int_equal(capsa_ip_vfile_format(&in, CAPSA_IP_VF_COUNT, &out, &len, &err), -EINVAL);
    assert_null(out);
}

/* Random texts, built from the pieces the parsers look for, in every field:
 * no crash, no read out of bounds (the ASan build), always a result. */
static void test_random_input(void **state)
{
    (void)state;
    static const char *const pieces[] = {
        "cpu",
        "cpu0",
        "cpu8191",
        "cpu8192",
        " ",
        "\t",
        "\n",
        "\n\n",
        ":",
        "kB",
        "0",
        "1",
        "-",
        ",",
        "max",
        "-1",
        ".",
        "18446744073709551615",
        "99999999999999999999",
        "MemTotal",
        "SwapTotal",
        "processor",
        "btime",
        "total_cache",
        "hierarchical_memory_limit",
        "file",
        ")",
        "procs_running",
        "\xff",
    };
    uint64_t seed = 88172645463325252ULL;
    char bufs[12][512];
    for (int round = 0; round < 3000; round++) {
        for (size_t b = 0; b < 12; b++) {
            size_t len = 0;
            bufs[b][0] = '\0';
            for (;;) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                const char *p = pieces[seed % (sizeof(pieces) / sizeof(pieces[0]))];
                size_t pl = strlen(p);
                if (len + pl + 1 > sizeof(bufs[b]) || (seed >> 32) % 16 == 0)
                    break;
                memcpy(bufs[b] + len, p, pl + 1);
                len += pl;
            }
        }
        struct capsa_ip_vinput in = {.meminfo = bufs[0],
                                     .cpuinfo = bufs[1],
                                     .stat = bufs[2],
                                     .uptime = bufs[3],
                                     .loadavg = bufs[4],
                                     .swaps = bufs[5],
                                     .mem_v2 = round % 2,
                                     .mem_usage = bufs[7],
                                     .mem_stat = bufs[8],
                                     .swap_usage = bufs[9],
                                     .cpus = bufs[10],
                                     .cpu_v2 = round % 3 == 0,
                                     .have_start = round % 5 != 0,
                                     .start_ticks = seed,
                                     .clk_tck = (long)(seed % 4),
                                     .tasks = {.valid = round % 2, .running = seed}};
        in.mem_limit[0] = bufs[6];
        in.swap_limit[1] = bufs[6];
        in.cpu_quota[0] = bufs[11];
        in.cpu_period[0] = bufs[7];
        for (int f = 0; f < CAPSA_IP_VF_COUNT; f++) {
            char *out = NULL;
            size_t len = 0;
            struct capsa_err err = {0};
            int r = capsa_ip_vfile_format(&in, (enum capsa_ip_vfile)f, &out, &len, &err);
            if (r == 0) {
                assert_int_equal(strlen(NN(out)), len);
                free(out);
            } else {
                assert_int_equal(r, -ENOENT);
            }
        }
    }
}

/* ---------------- the sources, on this host ---------------- */

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return NULL;
    char *buf = calloc(1, 1 << 20);
    size_t n = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
    (void)n;
    fclose(f);
    return buf;
}

static void put(const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "we");
    if (f == NULL)
        fail_msg("create %s: %s", path, strerror(errno));
    fputs(text, NN(f));
    assert_int_equal(fclose(f), 0);
}

/* A child that sleeps in pause() (state S) until killed; returns once the
 * host's /proc shows it sleeping. With procs, the child first moves itself
 * there and touches 4 MiB, which the kernel charges to that cgroup. */
static pid_t sleeper_in(const char *procs)
{
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (procs != NULL) {
            int fd = open(procs, O_WRONLY | O_CLOEXEC);
            if (fd < 0 || write(fd, "0", 1) != 1)
                _exit(1);
            close(fd);
            char *mem = malloc(4 << 20);
            if (mem == NULL)
                _exit(1);
            memset(mem, 1, 4 << 20);
            __asm__ volatile("" : : "r"(mem) : "memory");
        }
        if (write(p[1], "r", 1) != 1)
            _exit(1);
        for (;;)
            pause();
    }
    close(p[1]);
    char c = 0;
    ssize_t n = read(p[0], &c, 1);
    close(p[0]);
    if (n != 1)
        fail_msg("child %d failed to start", (int)pid);
    char path[64], *st = NULL;
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    /* Bounded only to turn a hang into a failure. */
    for (int i = 0; i < 100000; i++) {
        st = slurp(path);
        const char *rp = st ? strrchr(st, ')') : NULL;
        bool sleeping = rp != NULL && rp[1] == ' ' && rp[2] == 'S';
        free(st);
        if (sleeping)
            return pid;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    fail_msg("child %d never slept", (int)pid);
    return pid;
}

static pid_t sleeper(void)
{
    return sleeper_in(NULL);
}

static void reap(pid_t *pid)
{
    if (*pid > 0) {
        kill(*pid, SIGKILL);
        waitpid(*pid, NULL, 0);
        *pid = 0;
    }
}

static uint64_t start_ticks_of(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    char *st = NN(slurp(path));
    const char *p = strrchr(st, ')');
    assert_non_null(p);
    p = NN(p) + 1;
    for (int field = 3; field < 22; field++) {
        p = strchr(p + 1, ' ');
        assert_non_null(p);
    }
    uint64_t v = strtoull(NN(p) + 1, NULL, 10);
    free(st);
    return v;
}

static uint64_t host_btime(void)
{
    char *st = NN(slurp("/proc/stat"));
    const char *b = strstr(st, "\nbtime ");
    assert_non_null(b);
    uint64_t v = strtoull(NN(b) + 7, NULL, 10);
    free(st);
    return v;
}

/* The first CPU in the host's /proc/stat. */
static unsigned host_first_cpu(void)
{
    char *st = NN(slurp("/proc/stat"));
    const char *c = strstr(st, "\ncpu");
    assert_non_null(c);
    unsigned v = (unsigned)strtoul(NN(c) + 4, NULL, 10);
    free(st);
    return v;
}

static char *vrender(const struct capsa_ip_vsrc *s, enum capsa_ip_vfile f)
{
    char *out = NULL;
    size_t len = 0;
    struct capsa_err err = {0};
    int r = capsa_ip_vfile_render(s, f, &out, &len, &err);
    if (r != 0)
        fail_msg("render %d: %d %s", (int)f, r, err.msg);
    assert_int_equal(strlen(NN(out)), len);
    return out;
}

static void test_vsrc_open_errors(void **state)
{
    (void)state;
    struct capsa_ip_vsrc s;
    struct capsa_err err = {0};
    int proc = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int tmp = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(proc >= 0 && tmp >= 0);

    assert_int_equal(capsa_ip_vsrc_open(tmp, NULL, 0, &s, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "not a procfs"));
    assert_true(capsa_ip_vsrc_open(proc, "garbage\n", 0, &s, &err) < 0);
    assert_non_null(strstr(err.msg, "cgroup"));
    assert_int_equal(capsa_ip_vsrc_open(proc, "v2 memory /nonexistent/capsa-vfile\n", 0, &s, &err),
                     -ENOENT);
    assert_non_null(strstr(err.msg, "/nonexistent/capsa-vfile"));
    assert_true(s.proc_fd == -1 && s.procs_fd == -1 && s.mem.n == 0);
    /* A pid above any pid_max. */
    assert_int_equal(capsa_ip_vsrc_open(proc, NULL, 0x7ffffff0, &s, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "start time"));
    capsa_ip_vsrc_close(&s); /* harmless after a failure */

    /* No cgroup, no init: the host's files as they are (meminfo, loadavg). */
    assert_int_equal(capsa_ip_vsrc_open(proc, "", 0, &s, &err), 0);
    char *m = vrender(&s, CAPSA_IP_VF_MEMINFO);
    assert_non_null(strstr(m, "MemTotal:"));
    free(m);
    char *l = vrender(&s, CAPSA_IP_VF_LOADAVG);
    assert_int_equal(count_lines(l), 1);
    free(l);
    capsa_ip_vsrc_close(&s);
    capsa_ip_vsrc_close(&s);
    close(proc);
    close(tmp);
}

/* A cgroup v2 directory stands in as an ordinary one (the files' names and
 * contents are what the kernel gives); the processes and /proc are real. */
struct fake {
    char dir[128];
    pid_t a, b;
    int proc;
};

static int fake_teardown(void **state)
{
    struct fake *f = *state;
    if (f == NULL)
        return 0;
    reap(&f->a);
    reap(&f->b);
    if (f->proc >= 0)
        close(f->proc);
    if (f->dir[0] != '\0') {
        char cmd[256];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
        if (system(cmd) != 0)
            return -1;
    }
    free(f);
    return 0;
}

static int fake_setup(void **state)
{
    struct fake *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return -1;
    f->proc = -1;
    *state = f;
    snprintf(f->dir, sizeof(f->dir), "/tmp/capsa-vfile-XXXXXX");
    if (mkdtemp(f->dir) == NULL) {
        f->dir[0] = '\0';
        return -1;
    }
    return 0;
}

static void test_vsrc_fake_v2(void **state)
{
    struct fake *f = *state;
    f->a = sleeper();
    f->b = sleeper();
    char sub[192], buf[256];
    snprintf(sub, sizeof(sub), "%s/sub", f->dir);
    assert_int_equal(mkdir(sub, 0755), 0);
    put(f->dir, "memory.max", "67108864\n");
    put(f->dir, "memory.current", "16777216\n");
    put(f->dir, "memory.stat",
        "file 4194304\nanon 8388608\nactive_file 1048576\n"
        "inactive_file 1048576\n");
    put(f->dir, "memory.swap.max", "0\n");
    put(f->dir, "memory.swap.current", "0\n");
    snprintf(buf, sizeof(buf), "%u\n", host_first_cpu());
    put(f->dir, "cpuset.cpus.effective", buf);
    put(f->dir, "cpu.max", "max 100000\n");
    /* Our own pid is not counted; garbage lines are skipped. */
    snprintf(buf, sizeof(buf), "%d\n0\ngarbage\n99999999999\n%d\n", (int)f->a, (int)getpid());
    put(f->dir, "cgroup.procs", buf);
    snprintf(buf, sizeof(buf), "%d\n", (int)f->b);
    put(sub, "cgroup.procs", buf);

    f->proc = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(f->proc >= 0);
    char text[256];
    snprintf(text, sizeof(text), "v2 cpuset,cpu,memory,pids %s\n", f->dir);
    struct capsa_ip_vsrc s;
    struct capsa_err err = {0};
    assert_int_equal(capsa_ip_vsrc_open(f->proc, text, f->a, &s, &err), 0);
    /* /tmp is no cgroupfs: no ancestors. */
    assert_int_equal(s.mem.n, 1);
    assert_true(s.mem.v2);

    char *m = vrender(&s, CAPSA_IP_VF_MEMINFO);
    assert_int_equal(kb_of(m, "MemTotal"), 65536);
    assert_int_equal(kb_of(m, "MemFree"), 65536 - 16384);
    assert_int_equal(kb_of(m, "MemAvailable"), 65536 - 16384 + 2048);
    assert_int_equal(kb_of(m, "Cached"), 4096);
    assert_int_equal(kb_of(m, "AnonPages"), 8192);
    assert_int_equal(kb_of(m, "SwapTotal"), 0);
    free(m);
    /* No swap for the container, whatever the host has: the header only. */
    char *sw = vrender(&s, CAPSA_IP_VF_SWAPS);
    assert_int_equal(count_lines(sw), 1);
    assert_non_null(strstr(sw, "Filename"));
    free(sw);
    char *c = vrender(&s, CAPSA_IP_VF_CPUINFO);
    assert_non_null(strstr(c, "processor\t: 0\n"));
    assert_null(strstr(c, "processor\t: 1\n"));
    free(c);
    char *o = vrender(&s, CAPSA_IP_VF_CPU_ONLINE);
    assert_string_equal(o, "0\n");
    free(o);

    /* Two sleeping threads, in the cgroup and its sub-cgroup. */
    char *l = vrender(&s, CAPSA_IP_VF_LOADAVG);
    snprintf(buf, sizeof(buf), "0.00 0.00 0.00 1/2 %d\n", (int)(f->a > f->b ? f->a : f->b));
    assert_string_equal(l, buf);
    free(l);

    /* stat: one cpu line besides the sum; btime the child's start. */
    uint64_t btime = host_btime() + start_ticks_of(f->a) / (uint64_t)sysconf(_SC_CLK_TCK);
    char *st = vrender(&s, CAPSA_IP_VF_STAT);
    assert_non_null(strstr(st, "\ncpu0 "));
    assert_null(strstr(st, "\ncpu1 "));
    snprintf(buf, sizeof(buf), "\nbtime %" PRIu64 "\n", btime);
    assert_non_null(strstr(st, buf));
    assert_non_null(strstr(st, "\nprocs_running 1\nprocs_blocked 0\n"));
    free(st);

    /* uptime: the host's minus the child's start, read around it. */
    double tck = (double)sysconf(_SC_CLK_TCK), before = 0, after = 0, up = 0, idle = 0;
    char *hu = NN(slurp("/proc/uptime"));
    before = strtod(hu, NULL);
    free(hu);
    char *u = vrender(&s, CAPSA_IP_VF_UPTIME);
    hu = NN(slurp("/proc/uptime"));
    after = strtod(hu, NULL);
    free(hu);
    assert_int_equal(sscanf(u, "%lf %lf", &up, &idle), 2);
    double start = (double)start_ticks_of(f->a) / tck;
    assert_true(up >= before - start - 0.02 && up <= after - start + 0.02);
    assert_true(idle >= 0 && idle <= up + 0.01); /* one CPU */
    free(u);

    /* The values are read at each render: a new limit shows at once. */
    put(f->dir, "memory.max", "max\n");
    m = vrender(&s, CAPSA_IP_VF_MEMINFO);
    char *host = NN(slurp("/proc/meminfo"));
    assert_int_equal(kb_of(m, "MemTotal"), kb_of(host, "MemTotal"));
    free(host);
    free(m);

    /* The container's processes gone: nothing to count but the reader. */
    reap(&f->a);
    reap(&f->b);
    l = vrender(&s, CAPSA_IP_VF_LOADAVG);
    assert_string_equal(l, "0.00 0.00 0.00 1/1 0\n");
    free(l);
    capsa_ip_vsrc_close(&s);
}

/* The supervisor's case: the reader is PID 1 of a pid namespace of its own,
 * so cgroup.procs (read by it) and the host's /proc name processes by
 * different numbers; the pidfd's fdinfo translates. The reader renders
 * loadavg for a cgroup whose cgroup.procs lists its child as "2". */
static void test_vsrc_pidns_reader(void **state)
{
    struct fake *f = *state;
    if (geteuid() != 0) {
        skip();
        return;
    }
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    pid_t h = fork();
    assert_true(h >= 0);
    if (h == 0) {
        close(p[0]);
        if (unshare(CLONE_NEWPID) != 0)
            _exit(1);
        pid_t r = fork();
        if (r < 0)
            _exit(1);
        if (r == 0) {
            /* The reader, pid 1 here; its child is pid 2. */
            pid_t c = fork();
            if (c < 0)
                _exit(1);
            if (c == 0) {
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                for (;;)
                    pause();
            }
            char buf[512];
            snprintf(buf, sizeof(buf), "%d\n", (int)c);
            put(f->dir, "cgroup.procs", buf);
            /* Until the child sleeps (bounded only against a hang). */
            for (int i = 0; i < 100000; i++) {
                int fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                struct capsa_ip_vsrc s;
                struct capsa_err err = {0};
                char text[256], *out = NULL;
                size_t len = 0;
                snprintf(text, sizeof(text), "v2 pids %s\n", f->dir);
                if (fd < 0 || capsa_ip_vsrc_open(fd, text, 0, &s, &err) != 0 ||
                    capsa_ip_vfile_render(&s, CAPSA_IP_VF_LOADAVG, &out, &len, &err) != 0)
                    _exit(2);
                capsa_ip_vsrc_close(&s);
                close(fd);
                if (strncmp(out, "0.00 ", 5) == 0 || i == 99999) {
                    bool ok = write(p[1], out, len) == (ssize_t)len;
                    _exit(ok ? 0 : 3);
                }
                free(out);
                struct timespec ts = {0, 1000000};
                nanosleep(&ts, NULL);
            }
            _exit(4);
        }
        int st = 0;
        waitpid(r, &st, 0);
        _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 5);
    }
    close(p[1]);
    char got[256] = {0};
    ssize_t n = read(p[0], got, sizeof(got) - 1);
    close(p[0]);
    int st = 0;
    assert_int_equal(waitpid(h, &st, 0), h);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    assert_true(n > 0);
    /* One sleeping thread, pid 2 in the reader's (= the container's here)
     * namespace. */
    assert_string_equal(got, "0.00 0.00 0.00 1/1 2\n");
}

/* A real v1 memory cgroup of this host, with a process in it. */
static void test_vsrc_real_v1_memory(void **state)
{
    struct fake *f = *state;
    struct stat st;
    if (geteuid() != 0 || stat("/sys/fs/cgroup/memory/memory.limit_in_bytes", &st) != 0) {
        skip();
        return;
    }
    snprintf(f->dir, sizeof(f->dir), "/sys/fs/cgroup/memory/capsa-vfile-test-%d", (int)getpid());
    if (mkdir(f->dir, 0755) != 0) {
        f->dir[0] = '\0';
        fail_msg("mkdir: %s", strerror(errno));
    }
    put(f->dir, "memory.limit_in_bytes", "67108864\n");
    char buf[256];
    snprintf(buf, sizeof(buf), "%s/cgroup.procs", f->dir);
    f->a = sleeper_in(buf);

    f->proc = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(f->proc >= 0);
    char text[256];
    snprintf(text, sizeof(text), "v1 memory %s\n", f->dir);
    struct capsa_ip_vsrc s;
    struct capsa_err err = {0};
    assert_int_equal(capsa_ip_vsrc_open(f->proc, text, f->a, &s, &err), 0);
    /* The cgroup and its hierarchy's root. */
    assert_int_equal(s.mem.n, 2);
    assert_false(s.mem.v2);

    char *m = vrender(&s, CAPSA_IP_VF_MEMINFO);
    assert_int_equal(kb_of(m, "MemTotal"), 65536);
    /* The child's 4 MiB are charged here. */
    long long fr = kb_of(m, "MemFree");
    assert_true(fr > 0 && fr <= 65536 - 4096);
    assert_true(kb_of(m, "MemAvailable") >= fr);
    assert_true(kb_of(m, "MemAvailable") <= 65536);
    free(m);

    char *l = vrender(&s, CAPSA_IP_VF_LOADAVG);
    snprintf(buf, sizeof(buf), "0.00 0.00 0.00 1/1 %d\n", (int)f->a);
    assert_string_equal(l, buf);
    free(l);
    capsa_ip_vsrc_close(&s);

    reap(&f->a);
    assert_int_equal(rmdir(f->dir), 0);
    f->dir[0] = '\0';
}

static int real_setup(void **state)
{
    struct fake *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return -1;
    f->proc = -1;
    *state = f;
    return 0;
}

/* Whatever failed, the cgroup goes (after the process in it). */
static int real_teardown(void **state)
{
    struct fake *f = *state;
    if (f != NULL && f->dir[0] != '\0') {
        reap(&f->a);
        if (rmdir(f->dir) != 0)
            return -1;
        f->dir[0] = '\0';
    }
    return fake_teardown(state);
}

/* A real cgroup v2 directory below a parent that holds the memory limit, on
 * a host whose v2 hierarchy has the memory, cpu and cpuset controllers (pure
 * v2; this project's hybrid machines skip it, tests/v2vm/ip-vfile.sh runs it
 * in a pure v2 guest). */
static bool put_try(const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    bool ok = write(fd, text, strlen(text)) == (ssize_t)strlen(text);
    close(fd);
    return ok;
}

/* Whether w is one of the blank-separated words of text. */
static bool word_in(const char *text, const char *w)
{
    size_t wl = strlen(w);
    for (const char *p = text; (p = strstr(p, w)) != NULL; p += wl)
        if ((p == text || p[-1] == ' ') && (p[wl] == ' ' || p[wl] == '\n' || p[wl] == '\0'))
            return true;
    return false;
}

struct v2fix {
    char parent[128], child[160];
    pid_t a;
    int proc;
};

static int v2_setup(void **state)
{
    struct v2fix *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return -1;
    f->proc = -1;
    *state = f;
    return 0;
}

static int v2_teardown(void **state)
{
    struct v2fix *f = *state;
    int r = 0;
    reap(&f->a);
    if (f->proc >= 0)
        close(f->proc);
    if (f->child[0] != '\0' && rmdir(f->child) != 0)
        r = -1;
    if (f->parent[0] != '\0' && rmdir(f->parent) != 0)
        r = -1;
    free(f);
    return r;
}

static void test_vsrc_real_v2(void **state)
{
    struct v2fix *f = *state;
    char *ctl = slurp("/sys/fs/cgroup/cgroup.controllers");
    bool have = geteuid() == 0 && ctl != NULL && word_in(ctl, "memory") && word_in(ctl, "cpu") &&
                word_in(ctl, "cpuset");
    free(ctl);
    if (!have) {
        skip();
        return;
    }
    snprintf(f->parent, sizeof(f->parent), "/sys/fs/cgroup/capsa-vfile-test-%d", (int)getpid());
    if (mkdir(f->parent, 0755) != 0) {
        f->parent[0] = '\0';
        fail_msg("mkdir: %s", strerror(errno));
    }
    if (!put_try(f->parent, "cgroup.subtree_control", "+memory +cpu +cpuset")) {
        skip(); /* the controllers are not delegated to us */
        return;
    }
    put(f->parent, "memory.max", "134217728\n");
    snprintf(f->child, sizeof(f->child), "%s/ctr", f->parent);
    if (mkdir(f->child, 0755) != 0) {
        f->child[0] = '\0';
        fail_msg("mkdir: %s", strerror(errno));
    }
    put(f->child, "cpu.max", "50000 100000\n");
    bool swap = put_try(f->child, "memory.swap.max", "0\n");
    char buf[256];
    snprintf(buf, sizeof(buf), "%s/cgroup.procs", f->child);
    f->a = sleeper_in(buf);

    f->proc = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(f->proc >= 0);
    char text[256];
    snprintf(text, sizeof(text), "v2 cpuset,cpu,memory,pids %s\n", f->child);
    struct capsa_ip_vsrc s;
    struct capsa_err err = {0};
    assert_int_equal(capsa_ip_vsrc_open(f->proc, text, f->a, &s, &err), 0);
    /* The container's directory, the parent, the hierarchy's root. */
    assert_int_equal(s.mem.n, 3);
    assert_true(s.mem.v2 && s.cpu.v2 && s.cpuset.v2);

    char *m = vrender(&s, CAPSA_IP_VF_MEMINFO);
    assert_int_equal(kb_of(m, "MemTotal"), 131072);
    long long fr = kb_of(m, "MemFree");
    assert_true(fr > 0 && fr <= 131072 - 4096);
    if (swap)
        assert_int_equal(kb_of(m, "SwapTotal"), 0);
    free(m);
    char *o = vrender(&s, CAPSA_IP_VF_CPU_ONLINE);
    assert_string_equal(o, "0\n");
    free(o);
    char *c = vrender(&s, CAPSA_IP_VF_CPUINFO);
    assert_non_null(strstr(c, "processor\t: 0\n"));
    assert_null(strstr(c, "processor\t: 1\n"));
    free(c);
    char *l = vrender(&s, CAPSA_IP_VF_LOADAVG);
    snprintf(buf, sizeof(buf), "0.00 0.00 0.00 1/1 %d\n", (int)f->a);
    assert_string_equal(l, buf);
    free(l);
    capsa_ip_vsrc_close(&s);
}

/* A procfs of a pid namespace that does not see the caller (one of a child
 * namespace): refused at open, as neither the pid translation nor the
 * memfd's reopen could work through it. */
struct pidns_fix {
    char dir[64];
    pid_t helper, init;
    int proc;
};

static int pidns_setup(void **state)
{
    struct pidns_fix *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return -1;
    f->proc = -1;
    *state = f;
    return 0;
}

static int pidns_teardown(void **state)
{
    struct pidns_fix *f = *state;
    if (f->proc >= 0)
        close(f->proc);
    reap(&f->init);
    reap(&f->helper);
    int r = f->dir[0] != '\0' && rmdir(f->dir) != 0 ? -1 : 0;
    free(f);
    return r;
}

static void test_vsrc_foreign_procfs(void **state)
{
    struct pidns_fix *f = *state;
    if (geteuid() != 0) {
        skip();
        return;
    }
    snprintf(f->dir, sizeof(f->dir), "/tmp/capsa-vfile-pidns-XXXXXX");
    if (mkdtemp(f->dir) == NULL) {
        f->dir[0] = '\0';
        fail_msg("mkdtemp: %s", strerror(errno));
    }
    /* p: the child's host pid, from the helper; q: "r" from the child once
     * its procfs is mounted (two pipes: the two writers race). */
    int p[2], q[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    assert_int_equal(pipe2(q, O_CLOEXEC), 0);
    f->helper = fork();
    assert_true(f->helper >= 0);
    if (f->helper == 0) {
        /* The helper: a new pid and mount namespace for its child, which
         * mounts that namespace's procfs and says so. */
        close(p[0]);
        close(q[0]);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (unshare(CLONE_NEWPID | CLONE_NEWNS) != 0 ||
            mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
            _exit(1);
        pid_t g = fork();
        if (g < 0)
            _exit(1);
        if (g == 0) {
            if (mount("proc", f->dir, "proc", 0, NULL) != 0 || write(q[1], "r", 1) != 1)
                _exit(1);
            for (;;)
                pause();
        }
        close(q[1]);
        if (write(p[1], &g, sizeof(g)) != (ssize_t)sizeof(g))
            _exit(1);
        int st = 0;
        waitpid(g, &st, 0);
        _exit(0);
    }
    close(p[1]);
    close(q[1]);
    pid_t g = 0;
    char c = 0;
    assert_int_equal(read(p[0], &g, sizeof(g)), (ssize_t)sizeof(g));
    f->init = g;
    assert_int_equal(read(q[0], &c, 1), 1);
    close(p[0]);
    close(q[0]);

    char path[160];
    snprintf(path, sizeof(path), "/proc/%d/root%s", (int)g, f->dir);
    f->proc = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(f->proc >= 0);
    struct stat st;
    assert_int_equal(fstatat(f->proc, "1/stat", &st, 0), 0); /* that namespace's procfs */

    struct capsa_ip_vsrc s;
    struct capsa_err err = {0};
    assert_true(capsa_ip_vsrc_open(f->proc, NULL, 0, &s, &err) < 0);
    assert_non_null(strstr(err.msg, "not visible"));
    assert_int_equal(s.proc_fd, -1);
    assert_true(capsa_ip_vfile_memfd(f->proc, "capsa-x", "a", 1, &err) < 0);

    reap(&f->init);
    reap(&f->helper);
}

/* ---------------- memfd ---------------- */

static void test_memfd(void **state)
{
    (void)state;
    static const char content[] = "MemTotal:          65536 kB\n";
    struct capsa_err err = {0};
    int proc = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(proc >= 0);
    int fd = capsa_ip_vfile_memfd(proc, "capsa-meminfo", content, strlen(content), &err);
    if (fd < 0)
        fail_msg("memfd: %s", err.msg);

    int fl = fcntl(fd, F_GETFL);
    assert_int_equal(fl & O_ACCMODE, O_RDONLY);
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    assert_int_equal(fcntl(fd, F_GET_SEALS),
                     F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
    assert_int_equal(lseek(fd, 0, SEEK_CUR), 0);
    char buf[128] = {0};
    assert_int_equal(read(fd, buf, sizeof(buf) - 1), (ssize_t)strlen(content));
    assert_string_equal(buf, content);
    assert_int_equal(write(fd, "x", 1), -1);
    assert_int_equal(errno, EBADF);

    /* Even a writable reopen cannot change it. */
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    int rw = open(path, O_RDWR | O_CLOEXEC);
    assert_true(rw >= 0);
    assert_int_equal(write(rw, "x", 1), -1);
    assert_int_equal(errno, EPERM);
    assert_int_equal(ftruncate(rw, 0), -1);
    assert_int_equal(ftruncate(rw, 1 << 20), -1);
    assert_true(mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, rw, 0) == MAP_FAILED);
    assert_int_equal(fcntl(rw, F_ADD_SEALS, 0), -1);
    close(rw);
    close(fd);

    /* An empty file is fine. */
    fd = capsa_ip_vfile_memfd(proc, "capsa-empty", "", 0, &err);
    assert_true(fd >= 0);
    assert_int_equal(read(fd, buf, sizeof(buf)), 0);
    close(fd);
    close(proc);

    /* Not a procfs: an error, no fd. */
    int tmp = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(capsa_ip_vfile_memfd(tmp, "capsa-x", "a", 1, &err) < 0);
    assert_non_null(strstr(err.msg, "capsa-x"));
    close(tmp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lookup),
        cmocka_unit_test(test_meminfo_v1),
        cmocka_unit_test(test_meminfo_v1_hierarchical),
        cmocka_unit_test(test_meminfo_v1_swap),
        cmocka_unit_test(test_meminfo_v2),
        cmocka_unit_test(test_meminfo_no_limit),
        cmocka_unit_test(test_meminfo_garbage),
        cmocka_unit_test(test_cpuinfo_renumber),
        cmocka_unit_test(test_cpus_garbage),
        cmocka_unit_test(test_cpu_online),
        cmocka_unit_test(test_stat),
        cmocka_unit_test(test_stat_garbage),
        cmocka_unit_test(test_uptime),
        cmocka_unit_test(test_loadavg),
        cmocka_unit_test(test_format_errors),
        cmocka_unit_test(test_random_input),
        cmocka_unit_test(test_vsrc_open_errors),
        cmocka_unit_test_setup_teardown(test_vsrc_fake_v2, fake_setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_vsrc_pidns_reader, fake_setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_vsrc_real_v1_memory, real_setup, real_teardown),
        cmocka_unit_test_setup_teardown(test_vsrc_real_v2, v2_setup, v2_teardown),
        cmocka_unit_test_setup_teardown(test_vsrc_foreign_procfs, pidns_setup, pidns_teardown),
        cmocka_unit_test(test_memfd),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
