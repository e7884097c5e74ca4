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
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
