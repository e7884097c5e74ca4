/* test_spec.c - unit tests for the config.json parser (src/lib/spec/): a full
 * document parsed into the right values, one negative case per class of error
 * (checking the JSON path in the message), the default spec round trip and the
 * name tables. Documents are written with single quotes for readability; sq()
 * turns them into JSON. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "level/level.h"
#include "spec/spec.h"
#include "util/util.h"

/* Single quotes -> double quotes (the test documents contain no apostrophes). */
static char *sq(const char *s)
{
    char *d = strdup(s);
    assert_non_null(d);
    for (char *p = d; *p; p++)
        if (*p == '\'')
            *p = '"';
    return d;
}

static struct capsa_spec *parse_ok(const char *doc_sq)
{
    cleanup_free char *doc = sq(doc_sq);
    struct capsa_spec *spec = NULL;
    struct capsa_err err = {0};
    int r = capsa_spec_parse(doc, strlen(doc), &spec, &err);
    if (r != 0)
        fail_msg("unexpected error: %s", err.msg);
    assert_non_null(spec);
    return spec;
}

/* The parse must fail with -EINVAL and a message containing want. */
static void expect_err(const char *doc_sq, const char *want)
{
    cleanup_free char *doc = sq(doc_sq);
    struct capsa_spec *spec = (struct capsa_spec *)&spec; /* must be reset to NULL */
    struct capsa_err err = {0};
    int r = capsa_spec_parse(doc, strlen(doc), &spec, &err);
    if (r == 0) {
        capsa_spec_free(spec);
        fail_msg("expected an error containing '%s' for %s", want, doc);
    }
    assert_int_equal(r, -EINVAL);
    assert_null(spec);
    if (strstr(err.msg, want) == NULL)
        fail_msg("error '%s' does not contain '%s'", err.msg, want);
}

static const char full_doc[] =
    "{'ociVersion': '1.2.0',"
    " 'root': {'path': 'rootfs', 'readonly': true},"
    " 'hostname': 'box', 'domainname': 'example.org',"
    " 'mounts': [{'destination': '/proc', 'type': 'proc', 'source': 'proc'},"
    "   {'destination': '/data', 'type': 'bind', 'source': '/srv/data',"
    "    'options': ['rbind', 'ro'],"
    "    'uidMappings': [{'containerID': 0, 'hostID': 1000, 'size': 1}],"
    "    'gidMappings': [{'containerID': 0, 'hostID': 2000, 'size': 2}]}],"
    " 'process': {'terminal': true, 'consoleSize': {'height': 24, 'width': 80},"
    "   'user': {'uid': 1, 'gid': 2, 'umask': 18, 'additionalGids': [5, 6, 4294967295]},"
    "   'args': ['sh', '-c', 'true'], 'env': ['PATH=/bin', 'A=b=c'], 'cwd': '/work',"
    "   'capabilities': {'bounding': ['CAP_CHOWN', 'CAP_KILL', 'CAP_CHECKPOINT_RESTORE'],"
    "     'effective': ['CAP_KILL'], 'inheritable': [], 'permitted': ['CAP_SYS_ADMIN'],"
    "     'ambient': ['CAP_NET_RAW']},"
    "   'rlimits': [{'type': 'RLIMIT_NOFILE', 'soft': 1024, 'hard': 4096},"
    "     {'type': 'RLIMIT_CORE', 'soft': 18446744073709551615, 'hard': 18446744073709551615}],"
    "   'noNewPrivileges': true, 'apparmorProfile': 'prof', 'oomScoreAdj': -1000,"
    "   'selinuxLabel': 'label',"
    "   'scheduler': {'policy': 'SCHED_DEADLINE', 'nice': -5, 'priority': 3,"
    "     'flags': ['SCHED_FLAG_RESET_ON_FORK', 'SCHED_FLAG_DL_OVERRUN'],"
    "     'runtime': 100, 'deadline': 200, 'period': 300},"
    "   'ioPriority': {'class': 'IOPRIO_CLASS_BE', 'priority': 7}},"
    " 'hooks': {'prestart': [{'path': '/bin/a', 'args': ['a', 'x'], 'env': ['K=V'],"
    "     'timeout': 5}],"
    "   'createRuntime': [{'path': '/bin/b'}, {'path': '/bin/c'}],"
    "   'createContainer': [{'path': '/bin/d'}], 'startContainer': [{'path': '/bin/e'}],"
    "   'poststart': [{'path': '/bin/f'}], 'poststop': [{'path': '/bin/g'}]},"
    " 'annotations': {'org.capsa.mode': 'native', 'k': 'v'},"
    " 'linux': {"
    "   'namespaces': [{'type': 'pid'}, {'type': 'network', 'path': '/run/netns/x'},"
    "     {'type': 'mount'}, {'type': 'ipc'}, {'type': 'uts'}, {'type': 'user'},"
    "     {'type': 'cgroup'}, {'type': 'time'}],"
    "   'uidMappings': [{'containerID': 0, 'hostID': 100000, 'size': 65536}],"
    "   'gidMappings': [{'containerID': 0, 'hostID': 200000, 'size': 65536}],"
    "   'timeOffsets': {'monotonic': {'secs': -10, 'nanosecs': 5},"
    "     'boottime': {'secs': 7}},"
    "   'devices': [{'type': 'c', 'path': '/dev/fuse', 'major': 10, 'minor': 229,"
    "     'fileMode': 438, 'uid': 0, 'gid': 0}, {'type': 'p', 'path': '/dev/fifo'}],"
    "   'cgroupsPath': '/capsa/box',"
    "   'resources': {"
    "     'devices': [{'allow': false, 'access': 'rwm'},"
    "       {'allow': true, 'type': 'c', 'major': 10, 'minor': -1, 'access': 'rw'}],"
    "     'memory': {'limit': 536870912, 'reservation': 1, 'swap': -1, 'kernel': 2,"
    "       'kernelTCP': 3, 'swappiness': 60, 'disableOOMKiller': true,"
    "       'useHierarchy': false, 'checkBeforeUpdate': true},"
    "     'cpu': {'shares': 1024, 'quota': 50000, 'burst': 10, 'period': 100000,"
    "       'realtimeRuntime': 950, 'realtimePeriod': 1000, 'cpus': '0-1', 'mems': '0',"
    "       'idle': 1},"
    "     'pids': {'limit': 42},"
    "     'blockIO': {'weight': 500, 'leafWeight': 300,"
    "       'weightDevice': [{'major': 8, 'minor': 0, 'weight': 600}],"
    "       'throttleReadBpsDevice': [{'major': 8, 'minor': 0, 'rate': 1048576}],"
    "       'throttleWriteBpsDevice': [{'major': 8, 'minor': 1, 'rate': 2}],"
    "       'throttleReadIOPSDevice': [{'major': 8, 'minor': 2, 'rate': 3}],"
    "       'throttleWriteIOPSDevice': [{'major': 8, 'minor': 3, 'rate': 4}]},"
    "     'hugepageLimits': [{'pageSize': '2MB', 'limit': 209715200}],"
    "     'network': {'classID': 1048577, 'priorities': [{'name': 'eth0', 'priority': 500}]},"
    "     'rdma': {'mlx5_1': {'hcaHandles': 3, 'hcaObjects': 10000}},"
    "     'unified': {'memory.high': '1G', 'io.weight': '100'}},"
    "   'rootfsPropagation': 'rslave',"
    "   'maskedPaths': ['/proc/kcore'], 'readonlyPaths': ['/proc/sys', '/proc/bus'],"
    "   'mountLabel': 'mlabel',"
    "   'sysctl': {'net.ipv4.ip_forward': '1'},"
    "   'seccomp': {'defaultAction': 'SCMP_ACT_ERRNO', 'defaultErrnoRet': 1,"
    "     'architectures': ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86'],"
    "     'flags': ['SECCOMP_FILTER_FLAG_LOG'], 'listenerPath': '/run/seccomp.sock',"
    "     'listenerMetadata': 'meta',"
    "     'syscalls': [{'names': ['read', 'write'], 'action': 'SCMP_ACT_ALLOW'},"
    "       {'names': ['personality'], 'action': 'SCMP_ACT_ERRNO', 'errnoRet': 38,"
    "        'args': [{'index': 0, 'value': 255, 'valueTwo': 18446744073709551615,"
    "                  'op': 'SCMP_CMP_MASKED_EQ'}]}]},"
    "   'personality': {'domain': 'LINUX32', 'flags': ['x']},"
    "   'intelRdt': {'closID': 'g1', 'l3CacheSchema': 'L3:0=ff', 'memBwSchema': 'MB:0=50',"
    "     'enableCMT': true, 'enableMBM': false}}}";

static void test_full(void **state)
{
    (void)state;
    cleanup_spec struct capsa_spec *s = parse_ok(full_doc);

    assert_string_equal(s->oci_version, "1.2.0");
    assert_string_equal(s->root_path, "rootfs");
    assert_true(s->root_readonly);
    assert_string_equal(s->hostname, "box");
    assert_string_equal(s->domainname, "example.org");

    assert_int_equal(s->n_mounts, 2);
    assert_string_equal(s->mounts[0].destination, "/proc");
    assert_null(s->mounts[0].options);
    assert_string_equal(s->mounts[1].source, "/srv/data");
    assert_int_equal(s->mounts[1].n_options, 2);
    assert_string_equal(s->mounts[1].options[1], "ro");
    assert_null(s->mounts[1].options[2]);
    assert_int_equal(s->mounts[1].uid_mappings[0].host_id, 1000);
    assert_int_equal(s->mounts[1].gid_mappings[0].size, 2);

    struct capsa_process *p = s->process;
    assert_non_null(p);
    assert_true(p->terminal);
    assert_true(p->has_console_size);
    assert_int_equal(p->console_height, 24);
    assert_int_equal(p->console_width, 80);
    assert_int_equal(p->user.uid, 1);
    assert_int_equal(p->user.gid, 2);
    assert_true(p->user.has_umask);
    assert_int_equal(p->user.umask, 18);
    assert_int_equal(p->user.n_additional_gids, 3);
    assert_int_equal(p->user.additional_gids[2], UINT32_MAX);
    assert_int_equal(p->n_args, 3);
    assert_string_equal(p->args[2], "true");
    assert_null(p->args[3]);
    assert_string_equal(p->env[1], "A=b=c");
    assert_string_equal(p->cwd, "/work");
    assert_true(p->has_capabilities);
    assert_int_equal(p->capabilities.bounding, (1ULL << 0) | (1ULL << 5) | (1ULL << 40));
    assert_int_equal(p->capabilities.effective, 1ULL << 5);
    assert_int_equal(p->capabilities.inheritable, 0);
    assert_int_equal(p->capabilities.permitted, 1ULL << 21);
    assert_int_equal(p->capabilities.ambient, 1ULL << 13);
    assert_int_equal(p->n_rlimits, 2);
    assert_int_equal(p->rlimits[0].resource, RLIMIT_NOFILE);
    assert_string_equal(p->rlimits[0].type, "RLIMIT_NOFILE");
    assert_int_equal(p->rlimits[0].soft, 1024);
    assert_int_equal(p->rlimits[0].hard, 4096);
    assert_int_equal(p->rlimits[1].resource, RLIMIT_CORE);
    assert_true(p->rlimits[1].soft == UINT64_MAX);
    assert_true(p->rlimits[1].hard == UINT64_MAX);
    assert_true(p->no_new_privileges);
    assert_string_equal(p->apparmor_profile, "prof");
    assert_true(p->has_oom_score_adj);
    assert_int_equal(p->oom_score_adj, -1000);
    assert_string_equal(p->selinux_label, "label");
    assert_true(p->has_scheduler);
    assert_int_equal(p->scheduler.policy, 6);
    assert_int_equal(p->scheduler.nice, -5);
    assert_int_equal(p->scheduler.priority, 3);
    assert_int_equal(p->scheduler.flags, 0x01 | 0x04);
    assert_int_equal(p->scheduler.runtime, 100);
    assert_int_equal(p->scheduler.deadline, 200);
    assert_int_equal(p->scheduler.period, 300);
    assert_true(p->has_io_priority);
    assert_int_equal(p->io_priority.class, 2);
    assert_int_equal(p->io_priority.priority, 7);

    assert_int_equal(s->hooks.n_prestart, 1);
    assert_string_equal(s->hooks.prestart[0].path, "/bin/a");
    assert_string_equal(s->hooks.prestart[0].args[1], "x");
    assert_string_equal(s->hooks.prestart[0].env[0], "K=V");
    assert_true(s->hooks.prestart[0].has_timeout);
    assert_int_equal(s->hooks.prestart[0].timeout, 5);
    assert_int_equal(s->hooks.n_create_runtime, 2);
    assert_string_equal(s->hooks.create_runtime[1].path, "/bin/c");
    assert_false(s->hooks.create_runtime[1].has_timeout);
    assert_string_equal(s->hooks.create_container[0].path, "/bin/d");
    assert_string_equal(s->hooks.start_container[0].path, "/bin/e");
    assert_string_equal(s->hooks.poststart[0].path, "/bin/f");
    assert_string_equal(s->hooks.poststop[0].path, "/bin/g");

    assert_int_equal(s->n_annotations, 2);
    assert_string_equal(capsa_spec_annotation(s, "org.capsa.mode"), "native");
    assert_string_equal(capsa_spec_annotation(s, "k"), "v");
    assert_null(capsa_spec_annotation(s, "nope"));

    assert_true(s->has_linux);
    struct capsa_linux *l = &s->linux_cfg;
    assert_int_equal(l->n_namespaces, 8);
    for (int t = 0; t < CAPSA_NS_COUNT; t++)
        assert_non_null(capsa_spec_namespace(s, (enum capsa_ns_type)t));
    assert_string_equal(capsa_spec_namespace(s, CAPSA_NS_NET)->path, "/run/netns/x");
    assert_null(capsa_spec_namespace(s, CAPSA_NS_PID)->path);
    assert_int_equal(l->uid_mappings[0].host_id, 100000);
    assert_int_equal(l->gid_mappings[0].size, 65536);
    assert_true(l->time_monotonic.set);
    assert_int_equal(l->time_monotonic.secs, -10);
    assert_int_equal(l->time_monotonic.nanosecs, 5);
    assert_true(l->time_boottime.set);
    assert_int_equal(l->time_boottime.secs, 7);
    assert_int_equal(l->n_devices, 2);
    assert_int_equal(l->devices[0].type, 'c');
    assert_int_equal(l->devices[0].major, 10);
    assert_int_equal(l->devices[0].minor, 229);
    assert_true(l->devices[0].has_file_mode);
    assert_int_equal(l->devices[0].file_mode, 0666);
    assert_true(l->devices[0].has_uid);
    assert_int_equal(l->devices[1].type, 'p');
    assert_false(l->devices[1].has_uid);
    assert_string_equal(l->cgroups_path, "/capsa/box");

    assert_true(l->has_resources);
    struct capsa_resources *r = &l->resources;
    assert_int_equal(r->n_devices, 2);
    assert_false(r->devices[0].allow);
    assert_null(r->devices[0].type);
    assert_false(r->devices[0].has_major);
    assert_true(r->devices[1].allow);
    assert_string_equal(r->devices[1].type, "c");
    assert_int_equal(r->devices[1].minor, -1);
    assert_string_equal(r->devices[1].access, "rw");
    assert_true(r->has_memory);
    assert_int_equal(r->memory.limit, 536870912);
    assert_true(r->memory.has_swap);
    assert_int_equal(r->memory.swap, -1);
    assert_int_equal(r->memory.kernel_tcp, 3);
    assert_int_equal(r->memory.swappiness, 60);
    assert_true(r->memory.has_disable_oom_killer && r->memory.disable_oom_killer);
    assert_true(r->memory.has_use_hierarchy && !r->memory.use_hierarchy);
    assert_true(r->memory.check_before_update);
    assert_true(r->has_cpu);
    assert_int_equal(r->cpu.shares, 1024);
    assert_int_equal(r->cpu.quota, 50000);
    assert_int_equal(r->cpu.burst, 10);
    assert_int_equal(r->cpu.period, 100000);
    assert_int_equal(r->cpu.realtime_runtime, 950);
    assert_int_equal(r->cpu.realtime_period, 1000);
    assert_string_equal(r->cpu.cpus, "0-1");
    assert_string_equal(r->cpu.mems, "0");
    assert_true(r->cpu.has_idle);
    assert_true(r->has_pids);
    assert_int_equal(r->pids_limit, 42);
    assert_true(r->has_blkio);
    assert_int_equal(r->blkio.weight, 500);
    assert_int_equal(r->blkio.leaf_weight, 300);
    assert_int_equal(r->blkio.weight_device[0].weight, 600);
    assert_false(r->blkio.weight_device[0].has_leaf_weight);
    assert_int_equal(r->blkio.throttle_read_bps[0].rate, 1048576);
    assert_int_equal(r->blkio.throttle_write_bps[0].minor, 1);
    assert_int_equal(r->blkio.throttle_read_iops[0].rate, 3);
    assert_int_equal(r->blkio.throttle_write_iops[0].rate, 4);
    assert_string_equal(r->hugepage_limits[0].page_size, "2MB");
    assert_int_equal(r->hugepage_limits[0].limit, 209715200);
    assert_true(r->has_network && r->has_class_id);
    assert_int_equal(r->class_id, 1048577);
    assert_string_equal(r->net_priorities[0].name, "eth0");
    assert_int_equal(r->net_priorities[0].priority, 500);
    assert_int_equal(r->n_rdma, 1);
    assert_string_equal(r->rdma[0].device, "mlx5_1");
    assert_int_equal(r->rdma[0].hca_objects, 10000);
    assert_int_equal(r->n_unified, 2);
    assert_string_equal(r->unified[1].key, "io.weight");
    assert_string_equal(r->unified[1].value, "100");

    assert_string_equal(l->rootfs_propagation, "rslave");
    assert_string_equal(l->masked_paths[0], "/proc/kcore");
    assert_int_equal(l->n_readonly_paths, 2);
    assert_string_equal(l->mount_label, "mlabel");
    assert_string_equal(l->sysctl[0].key, "net.ipv4.ip_forward");
    assert_string_equal(l->sysctl[0].value, "1");

    struct capsa_seccomp *sc = l->seccomp;
    assert_non_null(sc);
    assert_string_equal(sc->default_action, "SCMP_ACT_ERRNO");
    assert_true(sc->has_default_errno_ret);
    assert_int_equal(sc->default_errno_ret, 1);
    assert_int_equal(sc->n_architectures, 2);
    assert_string_equal(sc->flags[0], "SECCOMP_FILTER_FLAG_LOG");
    assert_string_equal(sc->listener_path, "/run/seccomp.sock");
    assert_string_equal(sc->listener_metadata, "meta");
    assert_int_equal(sc->n_syscalls, 2);
    assert_string_equal(sc->syscalls[0].names[1], "write");
    assert_false(sc->syscalls[0].has_errno_ret);
    assert_int_equal(sc->syscalls[1].errno_ret, 38);
    assert_int_equal(sc->syscalls[1].args[0].value, 255);
    assert_true(sc->syscalls[1].args[0].value_two == UINT64_MAX);
    assert_string_equal(sc->syscalls[1].args[0].op, "SCMP_CMP_MASKED_EQ");

    assert_true(l->has_personality);
    assert_string_equal(l->personality.domain, "LINUX32");
    assert_string_equal(l->personality.flags[0], "x");
    assert_non_null(l->intel_rdt);
    assert_string_equal(l->intel_rdt->clos_id, "g1");
    assert_string_equal(l->intel_rdt->mem_bw_schema, "MB:0=50");
    assert_true(l->intel_rdt->has_enable_cmt && l->intel_rdt->enable_cmt);
    assert_true(l->intel_rdt->has_enable_mbm && !l->intel_rdt->enable_mbm);
}

static void test_minimal_and_unknown_fields(void **state)
{
    (void)state;
    cleanup_spec struct capsa_spec *s = parse_ok("{'ociVersion': '1.0.0'}");
    assert_null(s->process);
    assert_false(s->has_linux);
    assert_null(s->root_path);
    assert_null(capsa_spec_namespace(s, CAPSA_NS_PID));

    /* Unknown fields at every level are ignored, nulls count as absent. */
    cleanup_spec struct capsa_spec *u =
        parse_ok("{'ociVersion': '1.2.0', 'windows': {'x': 1}, 'vm': [1, 2], 'future': null,"
                 " 'hostname': null,"
                 " 'process': {'args': ['a'], 'cwd': '/', 'execCPUAffinity': {'initial': '0'},"
                 "   'user': {'username': 'x'}, 'commandLine': 'a b'},"
                 " 'linux': {'namespaces': [{'type': 'pid', 'extra': true}], 'newThing': {},"
                 "   'resources': {'memory': {'what': 1}}, 'seccomp': null}}");
    assert_null(u->hostname);
    assert_non_null(u->process);
    assert_int_equal(u->process->n_args, 1);
    assert_int_equal(u->process->n_env, 0);
    assert_null(u->process->env);
    assert_false(u->process->has_capabilities);
    assert_int_equal(u->linux_cfg.n_namespaces, 1);
    assert_true(u->linux_cfg.resources.has_memory);
    assert_false(u->linux_cfg.resources.memory.has_limit);
    assert_null(u->linux_cfg.seccomp);
}

struct neg {
    const char *doc;
    const char *want;
};

#define V       "{'ociVersion': '1.2.0', "
#define PROC(x) V "'process': {'args': ['sh'], 'cwd': '/', " x "}}"
#define LNX(x)  V "'linux': {" x "}}"

static const struct neg negs[] = {
    /* syntax */
    {"{", "config.json:1:"},
    {"{\n  'ociVersion': tru\n}", "config.json:2:"},
    {"{'ociVersion': '1'} x", "config.json:1:"},
    {"{'ociVersion': '1', 'ociVersion': '2'}", "duplicate"},
    {"{'ociVersion': '1', 'linux': {'sysctl': {'a': '1', 'a': '2'}}}", "duplicate"},
    {"[]", "must be a JSON object"},
    {"{'ociVersion': '1', 'hostname': 'a\\u0000b'}", "hostname: must not contain NUL bytes"},
    {"{'ociVersion': '1', 'x': 123456789012345678901234}", "config.json:1:"},
    /* columns (of the token's first byte) are those of the original text, even after a big literal
     */
    {"{'ociVersion': '1',\n 'a': [18446744073709551615], 'b': tru}",
     "config.json:2:36: invalid token"},
    {"{'ociVersion': '1',\n 'a': [1], 'b': tru}", "config.json:2:17: invalid token"},
    {"{'ociVersion': '1',\n  'b\\u0000': 'x'}", "config.json:2:12: NUL byte in an object key"},
    /* top level */
    {"{}", "ociVersion: is required"},
    {"{'ociVersion': 1}", "ociVersion: must be a string"},
    {V "'hostname': 18446744073709551615}", "hostname: must be a string"},
    {V "'root': {'readonly': true}}", "root.path: is required"},
    {V "'root': {'path': 'r', 'readonly': 'yes'}}", "root.readonly: must be a boolean"},
    {V "'annotations': {'foo': 1}}", "annotations.foo: must be a string"},
    {V "'annotations': []}", "annotations: must be an object"},
    /* process */
    {V "'process': {'cwd': '/'}}", "process.args: must be a non-empty array of strings"},
    {V "'process': {'args': [], 'cwd': '/'}}",
     "process.args: must be a non-empty array of strings"},
    {V "'process': {'args': 'sh', 'cwd': '/'}}",
     "process.args: must be a non-empty array of strings"},
    {V "'process': {'args': ['sh', 1], 'cwd': '/'}}", "process.args[1]: must be a string"},
    {V "'process': {'args': ['sh']}}", "process.cwd: is required"},
    {V "'process': {'args': ['sh'], 'cwd': 'tmp'}}", "process.cwd: must be an absolute path"},
    {V "'process': []}", "process: must be an object"},
    {PROC("'env': ['PATH']"), "process.env[0]: must have the form KEY=VALUE"},
    {PROC("'terminal': 1"), "process.terminal: must be a boolean"},
    {PROC("'user': {'uid': -1}"), "process.user.uid: must be a non-negative integer"},
    {PROC("'user': {'gid': 4294967296}"), "process.user.gid: must be between 0 and 4294967295"},
    {PROC("'user': {'uid': 1.5}"), "process.user.uid: must be an integer"},
    {PROC("'user': {'additionalGids': [1, 'x']}"),
     "process.user.additionalGids[1]: must be an integer"},
    {PROC("'consoleSize': {'height': 1}"), "process.consoleSize.width: is required"},
    {PROC("'capabilities': {'ambient': 'CAP_KILL'}"),
     "process.capabilities.ambient: must be an array"},
    {PROC("'rlimits': [{'type': 'RLIMIT_FOO', 'soft': 1, 'hard': 1}]"),
     "process.rlimits[0].type: unknown rlimit \"RLIMIT_FOO\""},
    {PROC("'rlimits': [{'type': 'RLIMIT_NOFILE', 'soft': 2, 'hard': 1}]"),
     "process.rlimits[0].soft: soft limit 2 exceeds hard limit 1"},
    {PROC("'rlimits': [{'type': 'RLIMIT_NOFILE', 'soft': 1}]"),
     "process.rlimits[0].hard: is required"},
    {PROC("'rlimits': [{'type': 'RLIMIT_AS', 'soft': 1, 'hard': 1},"
          " {'type': 'RLIMIT_AS', 'soft': 1, 'hard': 1}]"),
     "process.rlimits[1].type: duplicate rlimit"},
    {PROC("'oomScoreAdj': 1001"), "process.oomScoreAdj: must be between -1000 and 1000"},
    {PROC("'oomScoreAdj': -1001"), "process.oomScoreAdj: must be between -1000 and 1000"},
    {PROC("'scheduler': {'policy': 'SCHED_FOO'}"),
     "process.scheduler.policy: unknown scheduler policy"},
    {PROC("'scheduler': {'nice': 1}"), "process.scheduler.policy: is required"},
    {PROC("'scheduler': {'policy': 'SCHED_RR', 'flags': ['SCHED_FLAG_X']}"),
     "process.scheduler.flags[0]: unknown scheduler flag"},
    {PROC("'scheduler': {'policy': 'SCHED_OTHER', 'nice': 20}"),
     "process.scheduler.nice: must be between -20 and 19"},
    {PROC("'ioPriority': {'class': 'IOPRIO_CLASS_NONE'}"),
     "process.ioPriority.class: unknown I/O priority class"},
    {PROC("'ioPriority': {'class': 'IOPRIO_CLASS_RT', 'priority': 8}"),
     "process.ioPriority.priority: must be between 0 and 7"},
    /* mounts */
    {V "'mounts': {}}", "mounts: must be an array"},
    {V "'mounts': [{'destination': '/a'}, {'destination': '/b'}, {'destination': '/c'},"
       " {'destination': 'd'}]}",
     "mounts[3].destination: must be an absolute path"},
    {V "'mounts': [{'type': 'tmpfs'}]}", "mounts[0].destination: is required"},
    {V "'mounts': [{'destination': '/a', 'options': ['ro', 3]}]}",
     "mounts[0].options[1]: must be a string"},
    {V "'mounts': [1]}", "mounts[0]: must be an object"},
    /* hooks */
    {V "'hooks': {'prestart': [{'path': 'bin/x'}]}}",
     "hooks.prestart[0].path: must be an absolute path"},
    {V "'hooks': {'createRuntime': [{'args': ['x']}]}}",
     "hooks.createRuntime[0].path: is required"},
    {V "'hooks': {'poststop': [{'path': '/x', 'timeout': 0}]}}",
     "hooks.poststop[0].timeout: must be between 1 and"},
    {V "'hooks': {'poststart': {}}}", "hooks.poststart: must be an array"},
    /* linux */
    {LNX("'namespaces': [{'type': 'pid'}, {'type': 'ipc'}, {'type': 'foo'}]"),
     "linux.namespaces[2].type: unknown namespace \"foo\""},
    {LNX("'namespaces': [{'type': 'pid'}, {'type': 'pid'}]"),
     "linux.namespaces[1].type: duplicate namespace \"pid\""},
    {LNX("'namespaces': [{'type': 'net', 'path': 'x'}]"),
     "linux.namespaces[0].type: unknown namespace \"net\""},
    {LNX("'namespaces': [{'type': 'network', 'path': 'run/x'}]"),
     "linux.namespaces[0].path: must be an absolute path"},
    {LNX("'namespaces': [{'path': '/x'}]"), "linux.namespaces[0].type: is required"},
    {LNX("'uidMappings': [{'containerID': 0, 'hostID': 1000, 'size': 0}]"),
     "linux.uidMappings[0].size: must be greater than 0"},
    {LNX("'gidMappings': [{'containerID': 0, 'hostID': 1000}]"),
     "linux.gidMappings[0].size: is required"},
    {LNX("'uidMappings': [{'containerID': 4294967295, 'hostID': 0, 'size': 2}]"),
     "linux.uidMappings[0].size: range overflows"},
    {LNX("'devices': [{'type': 'x', 'path': '/dev/x'}]"),
     "linux.devices[0].type: unknown device type \"x\""},
    {LNX("'devices': [{'type': 'c', 'path': '/dev/x', 'minor': 1}]"),
     "linux.devices[0].major: is required"},
    {LNX("'devices': [{'type': 'b', 'path': 'dev/x', 'major': 1, 'minor': 1}]"),
     "linux.devices[0].path: must be an absolute path"},
    {LNX("'maskedPaths': ['/proc/kcore', 'proc/keys']"),
     "linux.maskedPaths[1]: must be an absolute path"},
    {LNX("'readonlyPaths': ['sys']"), "linux.readonlyPaths[0]: must be an absolute path"},
    {LNX("'rootfsPropagation': 'rfoo'"), "linux.rootfsPropagation: unknown propagation \"rfoo\""},
    {LNX("'sysctl': ['a']"), "linux.sysctl: must be an object"},
    {LNX("'resources': {'memory': {'limit': '1G'}}"),
     "linux.resources.memory.limit: must be an integer"},
    {LNX("'resources': {'memory': {'limit': 1.5}}"),
     "linux.resources.memory.limit: must be an integer"},
    {LNX("'resources': {'memory': {'swappiness': 101}}"),
     "linux.resources.memory.swappiness: must be between 0 and 100"},
    {LNX("'resources': {'cpu': {'shares': -2}}"),
     "linux.resources.cpu.shares: must be a non-negative integer"},
    {LNX("'resources': {'pids': {}}"), "linux.resources.pids.limit: is required"},
    {LNX("'resources': {'devices': [{'allow': true, 'access': ''}]}"),
     "linux.resources.devices[0].access: must not be empty"},
    {LNX("'resources': {'devices': [{'access': 'r'}]}"),
     "linux.resources.devices[0].allow: is required"},
    {LNX("'resources': {'blockIO': {'weight': 70000}}"),
     "linux.resources.blockIO.weight: must be between 0 and 65535"},
    {LNX("'resources': {'blockIO': {'throttleReadBpsDevice': [{'major': 8, 'minor': 0}]}}"),
     "linux.resources.blockIO.throttleReadBpsDevice[0].rate: is required"},
    {LNX("'resources': {'hugepageLimits': [{'limit': 1}]}"),
     "linux.resources.hugepageLimits[0].pageSize: is required"},
    {LNX("'resources': {'rdma': {'mlx': {'hcaHandles': 'x'}}}"),
     "linux.resources.rdma.mlx.hcaHandles: must be an integer"},
    {LNX("'resources': {'unified': {'memory.max': 5}}"),
     "linux.resources.unified.memory.max: must be a string"},
    {LNX("'timeOffsets': {'boottime': {'nanosecs': 1000000000}}"),
     "linux.timeOffsets.boottime.nanosecs: must be below 1000000000"},
    {LNX("'personality': {'domain': 'LINUX64'}"),
     "linux.personality.domain: unknown personality domain"},
    {LNX("'seccomp': {'syscalls': []}"), "linux.seccomp.defaultAction: is required"},
    {LNX("'seccomp': {'defaultAction': 'SCMP_ACT_NOPE'}"),
     "linux.seccomp.defaultAction: unknown seccomp action"},
    {LNX("'seccomp': {'defaultAction': 'SCMP_ACT_ALLOW', 'syscalls': [{'names': ['read'],"
         " 'action': 'SCMP_ACT_FOO'}]}"),
     "linux.seccomp.syscalls[0].action: unknown seccomp action \"SCMP_ACT_FOO\""},
    {LNX("'seccomp': {'defaultAction': 'SCMP_ACT_ALLOW', 'syscalls': [{'names': [],"
         " 'action': 'SCMP_ACT_KILL'}]}"),
     "linux.seccomp.syscalls[0].names: must not be empty"},
    {LNX("'seccomp': {'defaultAction': 'SCMP_ACT_ALLOW', 'syscalls': [{'names': ['read'],"
         " 'action': 'SCMP_ACT_KILL', 'args': [{'index': 0, 'value': 1, 'op': 'EQ'}]}]}"),
     "linux.seccomp.syscalls[0].args[0].op: unknown seccomp operator"},
    {LNX("'seccomp': {'defaultAction': 'SCMP_ACT_ALLOW', 'architectures': ['x86_64']}"),
     "linux.seccomp.architectures[0]: unknown seccomp architecture"},
    {LNX("'seccomp': {'defaultAction': 'SCMP_ACT_ALLOW', 'flags': ['FLAG']}"),
     "linux.seccomp.flags[0]: unknown seccomp flag"},
    {LNX("'intelRdt': {'enableCMT': 1}"), "linux.intelRdt.enableCMT: must be a boolean"},
    {V "'linux': 5}", "linux: must be an object"},
};

static void test_negative(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(negs); i++)
        expect_err(negs[i].doc, negs[i].want);
}

static void test_too_many_mounts(void **state)
{
    (void)state;
    size_t n = 4097, cap = n * 24 + 64, len = 0;
    cleanup_free char *doc = malloc(cap);
    assert_non_null(doc);
    len += (size_t)snprintf(doc + len, cap - len, "{'ociVersion': '1', 'mounts': [");
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(doc + len, cap - len, "%s{'destination': '/m'}", i ? "," : "");
    snprintf(doc + len, cap - len, "]}");
    expect_err(doc, "mounts: too many entries (at most 4096)");
}

static void test_null_and_empty_input(void **state)
{
    (void)state;
    struct capsa_spec *s = NULL;
    struct capsa_err err = {0};
    assert_int_equal(capsa_spec_parse("", 0, &s, &err), -EINVAL);
    assert_null(s);
    assert_non_null(strstr(err.msg, "config.json:"));
    assert_int_equal(capsa_spec_parse(NULL, 0, &s, &err), -EINVAL);
    /* The buffer need not be NUL-terminated: only len bytes are read. */
    const char doc[] = "{\"ociVersion\": \"1\"}garbage";
    assert_int_equal(capsa_spec_parse(doc, 19, &s, &err), 0);
    assert_string_equal(s->oci_version, "1");
    capsa_spec_freep(&s);
    assert_null(s);
    capsa_spec_freep(&s); /* idempotent */
    capsa_spec_free(NULL);
}

static void test_big_numbers(void **state)
{
    (void)state;
    /* A big literal next to others on the same line, in arrays and nested. */
    cleanup_spec struct capsa_spec *s = parse_ok(
        "{'ociVersion': '1', 'process': {'args': ['a'], 'cwd': '/', 'rlimits': ["
        "{'type': 'RLIMIT_AS', 'soft': 9223372036854775808, 'hard': 18446744073709551615},"
        "{'type': 'RLIMIT_NPROC', 'soft': 9223372036854775807, 'hard': 9223372036854775807}]},"
        " 'linux': {'resources': {'memory': {'limit': -9223372036854775808}}}}");
    assert_true(s->process->rlimits[0].soft == (uint64_t)INT64_MAX + 1);
    assert_true(s->process->rlimits[0].hard == UINT64_MAX);
    assert_true(s->process->rlimits[1].soft == (uint64_t)INT64_MAX);
    assert_true(s->linux_cfg.resources.memory.limit == INT64_MIN);
    expect_err(PROC("'rlimits': [{'type': 'RLIMIT_AS', 'soft': 18446744073709551615,"
                    " 'hard': 1}]"),
               "soft limit 18446744073709551615 exceeds hard limit 1");
    expect_err(LNX("'resources': {'memory': {'limit': 18446744073709551615}}"),
               "linux.resources.memory.limit: must be between");
    expect_err(PROC("'user': {'uid': 18446744073709551615}"),
               "process.user.uid: must be between 0 and 4294967295");
    /* Digits inside strings and fractions are left alone. */
    cleanup_spec struct capsa_spec *t =
        parse_ok("{'ociVersion': '18446744073709551615', 'x': 18446744073709551615.5,"
                 " 'hostname': '\\\\u0000'}");
    assert_string_equal(t->oci_version, "18446744073709551615");
    assert_string_equal(t->hostname, "\\u0000");
}

static void check_default(bool rootless)
{
    cleanup_free char *json = NULL;
    struct capsa_err err = {0};
    assert_int_equal(capsa_spec_default_json(rootless, &json, &err), 0);
    assert_non_null(json);
    assert_non_null(strstr(json, "\n  \"ociVersion\": \"1.2.0\"")); /* JSON_INDENT(2) */
    cleanup_spec struct capsa_spec *s = NULL;
    if (capsa_spec_parse(json, strlen(json), &s, &err) != 0)
        fail_msg("default spec does not parse: %s", err.msg);
    assert_string_equal(s->root_path, "rootfs");
    assert_true(s->root_readonly);
    assert_string_equal(s->hostname, "capsa");
    assert_non_null(s->process);
    assert_true(s->process->terminal);
    assert_string_equal(s->process->args[0], "sh");
    assert_int_equal(s->process->n_args, 1);
    assert_int_equal(s->process->n_env, 2);
    assert_string_equal(s->process->cwd, "/");
    assert_true(s->process->no_new_privileges);
    uint64_t caps = (1ULL << 29) | (1ULL << 5) | (1ULL << 10);
    assert_int_equal(s->process->capabilities.bounding, caps);
    assert_int_equal(s->process->capabilities.effective, caps);
    assert_int_equal(s->process->capabilities.permitted, caps);
    assert_int_equal(s->process->capabilities.ambient, 0);
    assert_int_equal(s->process->n_rlimits, 1);
    assert_int_equal(s->process->rlimits[0].resource, RLIMIT_NOFILE);
    assert_int_equal(s->process->rlimits[0].soft, 1024);
    assert_int_equal(s->process->rlimits[0].hard, 1024);
    assert_int_equal(s->n_mounts, 7);
    assert_string_equal(s->mounts[0].destination, "/proc");
    assert_string_equal(s->mounts[6].destination, "/sys/fs/cgroup");
    assert_string_equal(s->mounts[2].type, "devpts");
    assert_int_equal(s->linux_cfg.n_namespaces, 6);
    assert_non_null(capsa_spec_namespace(s, CAPSA_NS_PID));
    assert_non_null(capsa_spec_namespace(s, CAPSA_NS_MNT));
    assert_non_null(capsa_spec_namespace(s, CAPSA_NS_CGROUP));
    assert_true(s->linux_cfg.n_masked_paths >= 10);
    assert_string_equal(s->linux_cfg.masked_paths[0], "/proc/acpi");
    assert_int_equal(s->linux_cfg.n_readonly_paths, 5);
    if (rootless) {
        assert_null(capsa_spec_namespace(s, CAPSA_NS_NET));
        assert_non_null(capsa_spec_namespace(s, CAPSA_NS_USER));
        assert_int_equal(s->linux_cfg.n_uid_mappings, 1);
        assert_int_equal(s->linux_cfg.uid_mappings[0].host_id, geteuid());
        assert_int_equal(s->linux_cfg.gid_mappings[0].host_id, getegid());
        assert_int_equal(s->linux_cfg.uid_mappings[0].container_id, 0);
        assert_int_equal(s->linux_cfg.uid_mappings[0].size, 1);
        assert_string_equal(s->mounts[5].type, "none");
        assert_string_equal(s->mounts[5].options[0], "rbind");
        assert_int_equal(s->mounts[2].n_options, 5); /* no gid=5 */
        assert_false(s->linux_cfg.has_resources);
    } else {
        assert_non_null(capsa_spec_namespace(s, CAPSA_NS_NET));
        assert_null(capsa_spec_namespace(s, CAPSA_NS_USER));
        assert_int_equal(s->linux_cfg.n_uid_mappings, 0);
        assert_string_equal(s->mounts[5].type, "sysfs");
        assert_string_equal(s->mounts[2].options[5], "gid=5");
        assert_true(s->linux_cfg.has_resources);
        assert_int_equal(s->linux_cfg.resources.n_devices, 1);
        assert_false(s->linux_cfg.resources.devices[0].allow);
        assert_string_equal(s->linux_cfg.resources.devices[0].access, "rwm");
    }
}

static void test_default_json(void **state)
{
    (void)state;
    check_default(false);
    check_default(true);
}

static void test_load(void **state)
{
    (void)state;
    char dir[] = "/tmp/capsa-test-spec-XXXXXX";
    assert_non_null(mkdtemp(dir));
    cleanup_free char *good = NULL, *bad = NULL, *syn = NULL, *missing = NULL;
    struct capsa_err err = {0};
    assert_int_equal(capsa_asprintf(&good, &err, "%s/good.json", dir), 0);
    assert_int_equal(capsa_asprintf(&bad, &err, "%s/bad.json", dir), 0);
    assert_int_equal(capsa_asprintf(&syn, &err, "%s/syn.json", dir), 0);
    assert_int_equal(capsa_asprintf(&missing, &err, "%s/missing.json", dir), 0);
    FILE *f = fopen(good, "w");
    assert_non_null(f);
    fputs("{\"ociVersion\": \"1.2.0\", \"hostname\": \"h\"}\n", f);
    fclose(f);
    f = fopen(bad, "w");
    assert_non_null(f);
    fputs("{\"ociVersion\": \"1.2.0\", \"process\": {\"args\": [\"a\"], \"cwd\": \"x\"}}", f);
    fclose(f);
    f = fopen(syn, "w");
    assert_non_null(f);
    fputs("{\n\"ociVersion\": }", f);
    fclose(f);

    struct capsa_spec *s = NULL;
    assert_int_equal(capsa_spec_load(good, &s, &err), 0);
    assert_string_equal(s->hostname, "h");
    capsa_spec_freep(&s);

    assert_int_equal(capsa_spec_load(bad, &s, &err), -EINVAL);
    assert_null(s);
    cleanup_free char *want = NULL;
    assert_int_equal(capsa_asprintf(&want, &err, "%s: process.cwd: must be an absolute path", bad),
                     0);
    assert_string_equal(err.msg, want);

    assert_int_equal(capsa_spec_load(syn, &s, &err), -EINVAL);
    cleanup_free char *want2 = NULL;
    assert_int_equal(capsa_asprintf(&want2, &err, "%s:2:", syn), 0);
    assert_true(strncmp(err.msg, want2, strlen(want2)) == 0);

    assert_int_equal(capsa_spec_load(missing, &s, &err), -ENOENT);
    assert_non_null(strstr(err.msg, missing));

    unlink(good);
    unlink(bad);
    unlink(syn);
    rmdir(dir);
}

static void test_cap_names(void **state)
{
    (void)state;
    for (int i = 0; i <= CAPSA_CAP_LAST_KNOWN; i++) {
        const char *n = capsa_cap_name(i);
        assert_non_null(n);
        assert_int_equal(strncmp(n, "CAP_", 4), 0);
        assert_int_equal(capsa_cap_from_name(n), i);
    }
    assert_int_equal(capsa_cap_from_name("CAP_CHOWN"), 0);
    assert_int_equal(capsa_cap_from_name("CAP_SYS_ADMIN"), 21);
    assert_int_equal(capsa_cap_from_name("CAP_AUDIT_READ"), 37);
    assert_int_equal(capsa_cap_from_name("CAP_PERFMON"), 38);
    assert_int_equal(capsa_cap_from_name("CAP_BPF"), 39);
    assert_int_equal(capsa_cap_from_name("CAP_CHECKPOINT_RESTORE"), 40);
    assert_int_equal(capsa_cap_from_name("CAP_FOO"), -1);
    assert_int_equal(capsa_cap_from_name("cap_chown"), -1);
    assert_int_equal(capsa_cap_from_name("CHOWN"), -1);
    assert_int_equal(capsa_cap_from_name(NULL), -1);
    assert_null(capsa_cap_name(-1));
    assert_null(capsa_cap_name(41));
}

/* Unknown capability names are skipped with a warning (runc, crun), never
 * refused; the known ones still apply. */
static void test_unknown_caps_warned(void **state)
{
    (void)state;
    struct capsa_spec *s = parse_ok(PROC("'capabilities': {'bounding': ['CAP_KILL', 'CAP_FOO', "
                                         "'cap_chown'], 'effective': ['UNKNOWN_CAP']}"));
    assert_true(s->process->has_capabilities);
    assert_int_equal(s->process->capabilities.bounding, UINT64_C(1) << 5);
    assert_int_equal(s->process->capabilities.effective, 0);
    assert_int_equal(s->warnings.n, 3);
    assert_string_equal(
        s->warnings.v[0],
        "process.capabilities.bounding[1]: ignoring unknown capability \"CAP_FOO\"");
    assert_string_equal(s->warnings.v[1], "process.capabilities.bounding[2]: ignoring unknown "
                                          "capability \"cap_chown\"");
    assert_string_equal(s->warnings.v[2], "process.capabilities.effective[0]: ignoring unknown "
                                          "capability \"UNKNOWN_CAP\"");
    capsa_spec_free(s);
    /* A clean document has none. */
    s = parse_ok(PROC("'capabilities': {'bounding': ['CAP_KILL']}"));
    assert_int_equal(s->warnings.n, 0);
    assert_null(s->warnings.v);
    capsa_spec_free(s);
}

struct collected {
    size_t n;
    char last[256];
};

static void collect(void *opaque, const char *msg)
{
    struct collected *c = opaque;
    c->n++;
    snprintf(c->last, sizeof c->last, "%s", msg);
}

/* The list is bounded: the rest is counted and reported as one line. */
static void test_warnings_bounded(void **state)
{
    (void)state;
    char doc[8192];
    size_t len = (size_t)snprintf(doc, sizeof doc, "%s",
                                  V "'process': {'args': ['sh'], 'cwd': '/', "
                                    "'capabilities': {'bounding': [");
    for (int i = 0; i < 100; i++)
        len += (size_t)snprintf(doc + len, sizeof doc - len, "%s'CAP_X%d'", i ? ", " : "", i);
    snprintf(doc + len, sizeof doc - len, "]}}}");
    struct capsa_spec *s = parse_ok(doc);
    assert_int_equal(s->warnings.n, CAPSA_SPEC_MAX_WARNINGS);
    assert_int_equal(s->warnings.n_dropped, 100 - CAPSA_SPEC_MAX_WARNINGS);
    struct collected c = {0};
    capsa_spec_warnings_report(s, collect, &c);
    assert_int_equal(c.n, CAPSA_SPEC_MAX_WARNINGS + 1);
    assert_string_equal(c.last, "config: 68 more warnings not shown");
    capsa_spec_warnings_report(s, NULL, &c); /* no logger: nothing */
    assert_int_equal(c.n, CAPSA_SPEC_MAX_WARNINGS + 1);
    capsa_spec_free(s);
}

/* exec --cap spells names loosely; config.json exactly. */
static void test_cap_parse_name(void **state)
{
    (void)state;
    assert_int_equal(capsa_cap_parse_name("CAP_KILL", false), 5);
    assert_int_equal(capsa_cap_parse_name("KILL", false), CAPSA_CAP_UNKNOWN);
    assert_int_equal(capsa_cap_parse_name("cap_kill", false), CAPSA_CAP_UNKNOWN);
    assert_int_equal(capsa_cap_parse_name("CAP_KILL", true), 5);
    assert_int_equal(capsa_cap_parse_name("cap_kill", true), 5);
    assert_int_equal(capsa_cap_parse_name("kill", true), 5);
    assert_int_equal(capsa_cap_parse_name("Sys_Admin", true), 21);
    assert_int_equal(capsa_cap_parse_name("CAP_", true), CAPSA_CAP_UNKNOWN);
    assert_int_equal(capsa_cap_parse_name("", true), CAPSA_CAP_UNKNOWN);
    assert_int_equal(capsa_cap_parse_name("CAP_FOO", true), CAPSA_CAP_UNKNOWN);
    assert_int_equal(capsa_cap_parse_name(NULL, true), CAPSA_CAP_UNKNOWN);
}

static void test_rlimit_and_ns_names(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        int value;
    } rl[] = {
        {"RLIMIT_CPU", RLIMIT_CPU},           {"RLIMIT_FSIZE", RLIMIT_FSIZE},
        {"RLIMIT_DATA", RLIMIT_DATA},         {"RLIMIT_STACK", RLIMIT_STACK},
        {"RLIMIT_CORE", RLIMIT_CORE},         {"RLIMIT_RSS", RLIMIT_RSS},
        {"RLIMIT_NPROC", RLIMIT_NPROC},       {"RLIMIT_NOFILE", RLIMIT_NOFILE},
        {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},   {"RLIMIT_AS", RLIMIT_AS},
        {"RLIMIT_LOCKS", RLIMIT_LOCKS},       {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
        {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE}, {"RLIMIT_NICE", RLIMIT_NICE},
        {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},     {"RLIMIT_RTTIME", RLIMIT_RTTIME},
    };
    for (size_t i = 0; i < ARRAY_SIZE(rl); i++)
        assert_int_equal(capsa_rlimit_from_name(rl[i].name), rl[i].value);
    assert_int_equal(capsa_rlimit_from_name("RLIMIT_FOO"), -1);
    assert_int_equal(capsa_rlimit_from_name("NOFILE"), -1);
    assert_int_equal(capsa_rlimit_from_name(NULL), -1);

    static const char *const ns[] = {"pid", "network", "mount",  "ipc",
                                     "uts", "user",    "cgroup", "time"};
    for (int t = 0; t < CAPSA_NS_COUNT; t++)
        assert_string_equal(capsa_ns_type_name((enum capsa_ns_type)t), ns[t]);
    assert_null(capsa_ns_type_name(CAPSA_NS_COUNT));
}

/* CRI pods: which sandbox a container joins, and the level it inherits. */
static void test_pod_sandbox_and_level(void **state)
{
    (void)state;
    cleanup_spec struct capsa_spec *member = parse_ok(
        "{'ociVersion': '1.0.0', 'annotations': {'io.kubernetes.cri.container-type': 'container',"
        " 'io.kubernetes.cri.sandbox-id': 'sb1'}}");
    cleanup_spec struct capsa_spec *sandbox = parse_ok(
        "{'ociVersion': '1.0.0', 'annotations': {'io.kubernetes.cri.container-type': 'sandbox',"
        " 'io.kubernetes.cri.sandbox-id': 'sb1'}}");
    cleanup_spec struct capsa_spec *crio = parse_ok(
        "{'ociVersion': '1.0.0', 'annotations': {'io.kubernetes.cri-o.ContainerType': 'container',"
        " 'io.kubernetes.cri-o.SandboxID': 'sb2', 'capsa.isolation': 'native'}}");
    cleanup_spec struct capsa_spec *none = parse_ok("{'ociVersion': '1.0.0'}");
    assert_string_equal(capsa_spec_pod_sandbox(member), "sb1");
    assert_null(capsa_spec_pod_sandbox(sandbox));
    assert_string_equal(capsa_spec_pod_sandbox(crio), "sb2");
    assert_null(capsa_spec_pod_sandbox(none));

    const struct capsa_level *l = NULL;
    struct capsa_err err = {0};
    /* The sandbox's level is the member's floor. */
    assert_int_equal(capsa_level_choose(member, NULL, "vm", &l, &err), 0);
    assert_string_equal(l->name, "vm");
    assert_int_equal(capsa_level_choose(member, NULL, NULL, &l, &err), 0);
    assert_string_equal(l->name, "native");
    /* A weaker pod level does not lower the runtime entry's. */
    assert_int_equal(capsa_level_choose(member, "vm", "native", &l, &err), 0);
    assert_string_equal(l->name, "vm");
    /* An annotation may not take a pod's container below its sandbox. */
    assert_int_equal(capsa_level_choose(crio, NULL, "vm", &l, &err), -EPERM);
    assert_non_null(strstr(err.msg, "the pod sandbox's isolation level \"vm\""));
    /* An unknown recorded level is no floor. */
    assert_int_equal(capsa_level_choose(member, NULL, "bogus", &l, &err), 0);
    assert_string_equal(l->name, "native");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full),
        cmocka_unit_test(test_pod_sandbox_and_level),
        cmocka_unit_test(test_minimal_and_unknown_fields),
        cmocka_unit_test(test_negative),
        cmocka_unit_test(test_too_many_mounts),
        cmocka_unit_test(test_null_and_empty_input),
        cmocka_unit_test(test_big_numbers),
        cmocka_unit_test(test_default_json),
        cmocka_unit_test(test_load),
        cmocka_unit_test(test_cap_names),
        cmocka_unit_test(test_unknown_caps_warned),
        cmocka_unit_test(test_warnings_bounded),
        cmocka_unit_test(test_cap_parse_name),
        cmocka_unit_test(test_rlimit_and_ns_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
