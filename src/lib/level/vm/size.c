/* size.c - how big the vm level makes a VM, from the container's
 * linux.resources (vmm.h). Pure: no syscalls. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "level/vm/vmm.h"
#include "util/util.h"

#define MIB       (1024ULL * 1024ULL)
#define MAX_VCPUS 255u

/* The number of CPUs in a cpuset list ("0-3,8,10-11"); -EINVAL when malformed. */
static int count_cpus(const char *s, unsigned *out)
{
    unsigned long n = 0;
    const char *p = s;
    while (*p) {
        char *end;
        errno = 0;
        unsigned long a = strtoul(p, &end, 10), b = a;
        if (end == p || errno != 0 || a > 65535)
            return -EINVAL;
        p = end;
        if (*p == '-') {
            b = strtoul(++p, &end, 10);
            if (end == p || errno != 0 || b < a || b > 65535)
                return -EINVAL;
            p = end;
        }
        n += b - a + 1;
        if (*p == ',')
            p++;
        else if (*p != '\0')
            return -EINVAL;
    }
    if (n == 0)
        return -EINVAL;
    *out = n > MAX_VCPUS ? MAX_VCPUS : (unsigned)n;
    return 0;
}

int capsa_vm_size_from(const struct capsa_resources *res, struct capsa_vm_size *out,
                       struct capsa_err *err)
{
    out->mem_mib = CAPSA_VM_DEFAULT_MEM_MIB;
    out->vcpus = 1;
    if (res && res->has_memory && res->memory.has_limit && res->memory.limit > 0) {
        uint64_t mib = ((uint64_t)res->memory.limit + MIB - 1) / MIB;
        if (mib < CAPSA_VM_MIN_MEM_MIB)
            return capsa_err_setx(err, EINVAL,
                                  "linux.resources.memory.limit: %lld bytes is too little for a "
                                  "VM (at least %u MiB)",
                                  (long long)res->memory.limit, CAPSA_VM_MIN_MEM_MIB);
        if (mib > (1u << 20))
            return capsa_err_setx(err, EINVAL,
                                  "linux.resources.memory.limit: %lld bytes is more than a VM "
                                  "may have (1 TiB)",
                                  (long long)res->memory.limit);
        out->mem_mib = (unsigned)mib;
    }
    if (res && res->has_cpu) {
        unsigned q = 0, c = 0;
        const struct capsa_cpu *cpu = &res->cpu;
        if (cpu->has_quota && cpu->quota > 0) {
            uint64_t period = cpu->has_period && cpu->period > 0 ? cpu->period : 100000;
            uint64_t n = ((uint64_t)cpu->quota + period - 1) / period;
            q = n > MAX_VCPUS ? MAX_VCPUS : (unsigned)n;
        }
        if (cpu->cpus && cpu->cpus[0] && count_cpus(cpu->cpus, &c) < 0)
            return capsa_err_setx(err, EINVAL, "linux.resources.cpu.cpus: \"%s\" is not a CPU list",
                                  cpu->cpus);
        if (q && c)
            out->vcpus = q < c ? q : c;
        else if (q || c)
            out->vcpus = q ? q : c;
    }
    out->host_mem_bytes = ((uint64_t)out->mem_mib + CAPSA_VM_OVERHEAD_MIB) * MIB;
    return 0;
}

#define POD_MEM    "io.kubernetes.cri.sandbox-memory"
#define POD_QUOTA  "io.kubernetes.cri.sandbox-cpu-quota"
#define POD_PERIOD "io.kubernetes.cri.sandbox-cpu-period"

/* Annotation key as a number in [0, max] (absent: 0). */
static int pod_number(const struct capsa_spec *spec, const char *key, int64_t max, int64_t *out,
                      struct capsa_err *err)
{
    const char *v = capsa_spec_annotation(spec, key);
    *out = 0;
    if (v && capsa_parse_int64(v, 0, max, out) < 0)
        return capsa_err_setx(err, EINVAL, "annotations.%s: \"%.32s\" is not a number in [0, %lld]",
                              key, v, (long long)max);
    return 0;
}

int capsa_vm_size_of(const struct capsa_spec *spec, struct capsa_vm_size *out,
                     struct capsa_err *err)
{
    struct capsa_resources res = spec->linux_cfg.resources;
    int64_t mem = 0, quota = 0, period = 0;
    int r = pod_number(spec, POD_MEM, (int64_t)1 << 40, &mem, err);
    if (r == 0)
        r = pod_number(spec, POD_QUOTA, (int64_t)1 << 40, &quota, err);
    if (r == 0)
        r = pod_number(spec, POD_PERIOD, 1000000, &period, err);
    if (r < 0)
        return r;
    /* The pod's: what its containers may use, on top of what the guest
     * itself needs; the sandbox's own limit (pause's) is not the pod's. */
    if (mem > 0) {
        int64_t own = res.has_memory && res.memory.has_limit && res.memory.limit > 0
                          ? res.memory.limit
                          : (int64_t)CAPSA_VM_DEFAULT_MEM_MIB * (int64_t)MIB;
        res.has_memory = true;
        res.memory.has_limit = true;
        res.memory.limit = own + mem;
    }
    if (quota > 0) {
        res.has_cpu = true;
        res.cpu.has_quota = true;
        res.cpu.quota = quota;
        res.cpu.has_period = period > 0;
        res.cpu.period = (uint64_t)period;
    }
    return capsa_vm_size_from(&res, out, err);
}
