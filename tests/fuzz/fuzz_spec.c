/* fuzz_spec.c - libFuzzer target: config.json. The bundle's config is the
 * main untrusted input of a runtime (it comes from whoever calls create), so
 * the input goes through capsa_spec_parse and then through every pure check
 * and conversion the runtime applies to a parsed spec before acting on it:
 * the sysctl policy, each mount's options, the rootfs propagation, the
 * cgroup path resolution (on a fixed hybrid host) and the resources. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "fuzz_res.h"
#include "linux/cgroup.h"
#include "linux/devices.h"
#include "linux/rootfs.h"
#include "spec/spec.h"

/* A hybrid host (v1 controllers plus a cgroup2 mount), as on our machines. */
static const char host_mountinfo[] =
    "25 30 0:23 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw\n"
    "35 25 0:30 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755\n"
    "36 35 0:31 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 "
    "cgroup2 rw,nsdelegate\n"
    "37 35 0:32 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:11 - cgroup "
    "cgroup rw,xattr,name=systemd\n"
    "40 35 0:35 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:15 - cgroup "
    "cgroup rw,memory\n"
    "41 35 0:36 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:16 - cgroup "
    "cgroup rw,cpu,cpuacct\n"
    "42 35 0:37 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:17 - cgroup "
    "cgroup rw,pids\n";
static const char host_self[] = "12:pids:/user.slice\n"
                                "5:cpu,cpuacct:/user.slice\n"
                                "4:memory:/user.slice\n"
                                "1:name=systemd:/user.slice/session-1.scope\n"
                                "0::/user.slice/session-1.scope\n";

static void exercise_cgroup_path(const char *cgroups_path)
{
    struct capsa_err err = {0};
    struct capsa_cgroup_host host = {0};
    FUZZ_CHECK(capsa_cgroup_host_parse(host_mountinfo, host_self, "hugetlb", &host, &err) == 0);
    struct capsa_cgroup *cg = NULL;
    if (capsa_cgroup_resolve(&host, cgroups_path, "fuzz", &cg, &err) == 0) {
        /* What create writes to the state file must read back the same. */
        char *text = NULL;
        FUZZ_CHECK(capsa_cgroup_encode(cg, &text, &err) == 0);
        struct capsa_cgroup *back = NULL;
        FUZZ_CHECK(capsa_cgroup_decode(text, &back, &err) == 0);
        FUZZ_CHECK(back->n == cg->n);
        for (size_t i = 0; i < cg->n; i++) {
            FUZZ_CHECK(strcmp(back->d[i].path, cg->d[i].path) == 0);
            FUZZ_CHECK(back->d[i].v2 == cg->d[i].v2);
            /* A resolved path never climbs out of its hierarchy. */
            FUZZ_CHECK(strstr(cg->d[i].path, "/../") == NULL);
        }
        capsa_cgroup_free(back);
        free(text);
        capsa_cgroup_free(cg);
    }
    capsa_cgroup_host_free(&host);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > FUZZ_MAX_INPUT)
        return -1;
    struct capsa_err err = {0};
    struct capsa_spec *spec = NULL;
    if (capsa_spec_parse((const char *)data, size, &spec, &err) < 0) {
        /* A failure always explains itself. */
        FUZZ_CHECK(err.msg[0] != '\0');
        return 0;
    }
    FUZZ_CHECK(spec != NULL && spec->oci_version != NULL);

    (void)capsa_sysctl_validate(spec, &err);
    for (size_t i = 0; i < spec->n_mounts; i++) {
        struct capsa_mount_opts o;
        memset(&o, 0, sizeof o);
        if (capsa_mount_opts_parse(spec->mounts[i].options, spec->mounts[i].n_options, &o, &err) ==
            0) {
            char *joined = NULL;
            if (capsa_mount_opts_data(&o, &joined, &err) == 0)
                free(joined);
            capsa_mount_opts_release(&o);
        }
    }
    if (spec->has_linux) {
        const struct capsa_linux *l = &spec->linux_cfg;
        if (l->rootfs_propagation != NULL) {
            uint64_t prop = 0;
            bool rec = false;
            (void)capsa_mount_propagation_parse(l->rootfs_propagation, &prop, &rec);
        }
        exercise_cgroup_path(l->cgroups_path);
        if (l->has_resources)
            fuzz_exercise_resources(&l->resources);
    }
    (void)capsa_spec_annotation(spec, "run.oci.handler");
    capsa_spec_free(spec);
    return 0;
}
