/* test_vm_size.c - the vm level's VM size from linux.resources
 * (src/lib/level/vm/size.c): defaults, the memory limit rounded up to a MiB
 * with the stated overhead on top for the host, vCPUs from the CPU quota and
 * from the cpuset (the smaller of the two), and the refusals naming the field. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "level/vm/vmm.h"
#include "spec/spec.h"

static void test_defaults(void **state)
{
    (void)state;
    struct capsa_vm_size s;
    struct capsa_err err = {0};
    assert_int_equal(capsa_vm_size_from(NULL, &s, &err), 0);
    assert_int_equal(s.mem_mib, CAPSA_VM_DEFAULT_MEM_MIB);
    assert_int_equal(s.vcpus, 1);
    assert_int_equal(s.host_mem_bytes, (uint64_t)(CAPSA_VM_DEFAULT_MEM_MIB + CAPSA_VM_OVERHEAD_MIB)
                                           << 20);
}

static void test_memory(void **state)
{
    (void)state;
    struct capsa_resources r;
    memset(&r, 0, sizeof(r));
    struct capsa_vm_size s;
    struct capsa_err err = {0};
    r.has_memory = true;
    r.memory.has_limit = true;
    r.memory.limit = 512LL * 1024 * 1024 + 1; /* rounds up */
    assert_int_equal(capsa_vm_size_from(&r, &s, &err), 0);
    assert_int_equal(s.mem_mib, 513);
    assert_int_equal(s.host_mem_bytes, (uint64_t)(513 + CAPSA_VM_OVERHEAD_MIB) << 20);
    r.memory.limit = 32LL * 1024 * 1024;
    assert_int_equal(capsa_vm_size_from(&r, &s, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "linux.resources.memory.limit"));
    r.memory.limit = -1; /* unlimited: the default */
    assert_int_equal(capsa_vm_size_from(&r, &s, &err), 0);
    assert_int_equal(s.mem_mib, CAPSA_VM_DEFAULT_MEM_MIB);
}

static void test_cpus(void **state)
{
    (void)state;
    struct capsa_resources r;
    memset(&r, 0, sizeof(r));
    struct capsa_vm_size s;
    struct capsa_err err = {0};
    r.has_cpu = true;
    r.cpu.has_quota = true;
    r.cpu.quota = 250000;
    r.cpu.has_period = true;
    r.cpu.period = 100000;
    assert_int_equal(capsa_vm_size_from(&r, &s, &err), 0);
    assert_int_equal(s.vcpus, 3); /* 2.5 CPUs of time: 3 vCPUs */
    char cpus[] = "0-1,4";
    r.cpu.cpus = cpus;
    assert_int_equal(capsa_vm_size_from(&r, &s, &err), 0);
    assert_int_equal(s.vcpus, 3);
    char two[] = "6,7";
    r.cpu.cpus = two;
    assert_int_equal(capsa_vm_size_from(&r, &s, &err), 0);
    assert_int_equal(s.vcpus, 2); /* the smaller */
    r.cpu.has_quota = false;
    char many[] = "0-1023";
    r.cpu.cpus = many;
    assert_int_equal(capsa_vm_size_from(&r, &s, &err), 0);
    assert_int_equal(s.vcpus, 255);
    static const char *const bad[] = {"x", "3-1", "1,,2", "1-", "-1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char b[16];
        snprintf(b, sizeof(b), "%s", bad[i]);
        r.cpu.cpus = b;
        assert_int_equal(capsa_vm_size_from(&r, &s, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "linux.resources.cpu.cpus"));
    }
}

static struct capsa_spec *spec_of(const char *json)
{
    struct capsa_spec *spec = NULL;
    struct capsa_err err = {0};
    if (capsa_spec_parse(json, strlen(json), &spec, &err) < 0)
        fail_msg("%s", err.msg);
    return spec;
}

/* A CRI pod's sandbox: the VM holds the pod, sized from containerd's
 * annotations on top of what the guest itself needs. */
static void test_pod(void **state)
{
    (void)state;
    struct capsa_vm_size s;
    struct capsa_err err = {0};
    struct capsa_spec *sp = spec_of("{\"ociVersion\": \"1.0.0\", \"annotations\": {"
                                    "\"io.kubernetes.cri.sandbox-memory\": \"536870912\","
                                    "\"io.kubernetes.cri.sandbox-cpu-quota\": \"250000\","
                                    "\"io.kubernetes.cri.sandbox-cpu-period\": \"100000\"}}");
    assert_int_equal(capsa_vm_size_of(sp, &s, &err), 0);
    assert_int_equal(s.mem_mib, CAPSA_VM_DEFAULT_MEM_MIB + 512);
    assert_int_equal(s.vcpus, 3);
    capsa_spec_free(sp);
    /* Without them: linux.resources alone, as capsa_vm_size_from. */
    sp = spec_of("{\"ociVersion\": \"1.0.0\", \"linux\": {\"resources\": "
                 "{\"memory\": {\"limit\": 134217728}}}}");
    assert_int_equal(capsa_vm_size_of(sp, &s, &err), 0);
    assert_int_equal(s.mem_mib, 128);
    assert_int_equal(s.vcpus, 1);
    capsa_spec_free(sp);
    /* A malformed annotation is named. */
    sp = spec_of("{\"ociVersion\": \"1.0.0\", \"annotations\": "
                 "{\"io.kubernetes.cri.sandbox-memory\": \"lots\"}}");
    assert_int_equal(capsa_vm_size_of(sp, &s, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "annotations.io.kubernetes.cri.sandbox-memory"));
    capsa_spec_free(sp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pod),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_memory),
        cmocka_unit_test(test_cpus),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
