/* fuzz_mountinfo.c - libFuzzer target: /proc/self/mountinfo and
 * /proc/self/cgroup as capsa_cgroup_host_parse reads them. Both are kernel
 * output, but mount points and cgroup names are chosen by whoever can mount
 * or mkdir (a container manager, another user in a delegated subtree), so
 * they can hold any bytes the kernel escapes or not. The input is split at
 * NUL bytes: mountinfo, then /proc/self/cgroup, then the v2 root's
 * cgroup.controllers. The parsed host then resolves a few cgroupsPath forms. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "linux/cgroup.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > FUZZ_MAX_INPUT)
        return -1;
    char *buf = NULL;
    const char *parts[3];
    if (fuzz_split_nul(data, size, &buf, parts, 3) < 0)
        return 0;
    struct capsa_err err = {0};
    struct capsa_cgroup_host host = {0};
    if (capsa_cgroup_host_parse(parts[0], parts[1], parts[2], &host, &err) == 0) {
        /* Only mounts the state file can describe are kept: absolute mount
         * points, one-word controller names (corpus/mountinfo/regress-*). */
        for (size_t i = 0; i < host.n; i++) {
            FUZZ_CHECK(host.h[i].mount != NULL && host.h[i].self != NULL);
            FUZZ_CHECK(host.h[i].self[0] == '/' && host.h[i].mount[0] == '/');
            FUZZ_CHECK(fuzz_ctrl_names_ok(host.h[i].controllers));
        }
        static const char *const paths[] = {NULL, "/capsa/fuzz", "sub/fuzz", "/"};
        for (size_t k = 0; k < sizeof paths / sizeof paths[0]; k++) {
            struct capsa_cgroup *cg = NULL;
            if (capsa_cgroup_resolve(&host, paths[k], "fuzz", &cg, &err) == 0) {
                char *enc = NULL;
                if (capsa_cgroup_encode(cg, &enc, &err) == 0) {
                    struct capsa_cgroup *back = NULL;
                    /* What create stores, later commands must read back. */
                    int r = capsa_cgroup_decode(enc, &back, &err);
                    FUZZ_CHECK(r == 0);
                    if (r == 0) {
                        FUZZ_CHECK(back->n == cg->n);
                        capsa_cgroup_free(back);
                    }
                    free(enc);
                }
                capsa_cgroup_free(cg);
            }
        }
        capsa_cgroup_host_free(&host);
    }
    free(buf);
    return 0;
}
