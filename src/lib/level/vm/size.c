/* size.c - how big the vm level makes a VM, from the container's
 * linux.resources (vmm.h). Pure: no syscalls. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "level/vm/vmm.h"

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
