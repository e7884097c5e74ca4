/* fuzz_res.h - what the runtime does with a parsed linux.resources object
 * before touching a cgroup file, shared by the spec and resources targets:
 * the device rule list (normalised, compiled to eBPF and to v1 lines) and the
 * pure unit conversions. All of it is pure, so the fuzzer can reach it. */
#ifndef CAPSA_FUZZ_RES_H
#define CAPSA_FUZZ_RES_H

#include <stdlib.h>

#include "fuzz.h"
#include "linux/bpf_devices.h"
#include "linux/cgroup_internal.h"
#include "spec/spec.h"

static inline void fuzz_exercise_resources(const struct capsa_resources *res)
{
    struct capsa_err err = {0};
    struct capsa_devrule *rules = NULL;
    size_t n = 0;
    if (capsa_devices_normalize(res->devices, res->n_devices, &rules, &n, &err) == 0) {
        /* The list always starts with the "deny everything" rule. */
        FUZZ_CHECK(n >= 1 && !rules[0].allow);
        struct bpf_insn *insns = NULL;
        size_t n_insns = 0;
        if (capsa_devices_bpf_build(rules, n, &insns, &n_insns, &err) == 0) {
            FUZZ_CHECK(n_insns > 0);
            free(insns);
        }
        struct capsa_devices_v1_line *lines = NULL;
        size_t n_lines = 0;
        if (capsa_devices_v1_lines(rules, n, &lines, &n_lines, &err) == 0) {
            for (size_t i = 0; i < n_lines; i++)
                FUZZ_CHECK(memchr(lines[i].text, '\0', sizeof lines[i].text) != NULL);
            free(lines);
        }
        /* The reference decision must not read out of bounds either. */
        (void)capsa_devices_allowed(rules, n, 'c', 1, 3, CAPSA_DEV_ACC_READ);
        (void)capsa_devices_allowed(rules, n, 'b', 8, 0, CAPSA_DEV_ACC_ALL);
        free(rules);
    }
    char buf[128];
    for (size_t i = 0; i < res->n_hugepage_limits; i++) {
        if (res->hugepage_limits[i].page_size != NULL &&
            capsa_cg_hugepage_size(res->hugepage_limits[i].page_size, buf, sizeof buf) == 0)
            FUZZ_CHECK(memchr(buf, '\0', sizeof buf) != NULL);
    }
    if (res->has_memory) {
        const struct capsa_memory *m = &res->memory;
        const char *why = NULL;
        (void)capsa_cg_v2_swap(m->has_limit, m->limit, m->has_swap, m->swap, buf, sizeof buf, &why);
        if (m->has_limit)
            capsa_cg_v2_mem(m->limit, buf, sizeof buf);
    }
    if (res->has_cpu) {
        const struct capsa_cpu *c = &res->cpu;
        capsa_cg_cpu_max(c->has_quota, c->quota, c->has_period, c->period, buf, sizeof buf);
        (void)capsa_cg_shares_to_weight(c->shares);
    }
    if (res->has_pids)
        capsa_cg_pids_max(res->pids_limit, buf, sizeof buf);
    if (res->has_blkio)
        (void)capsa_cg_blkio_to_io_weight(res->blkio.weight);
}

#endif
