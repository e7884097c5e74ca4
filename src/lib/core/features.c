/* features.c - the OCI features document (`capsa features`): what this build
 * really implements, so that engines can rely on it. */
#include "capsa/capsa.h"

#include <errno.h>
#include <jansson.h>
#include <string.h>

#include "level/level.h"
#include "spec/spec.h"
#include "util/util.h"

static json_t *strings(const char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

int capsa_features(char **json_out, struct capsa_err *err)
{
    static const char *const hooks[] = {"prestart",       "createRuntime", "createContainer",
                                        "startContainer", "poststart",     "poststop"};
    static const char *const mount_opts[] = {
        "async",       "atime",        "bind",        "defaults",
        "dev",         "diratime",     "dirsync",     "exec",
        "mand",        "noatime",      "nodev",       "nodiratime",
        "noexec",      "nomand",       "norelatime",  "nostrictatime",
        "nosuid",      "nosymfollow",  "private",     "ratime",
        "rbind",       "rdev",         "rdiratime",   "relatime",
        "remount",     "rexec",        "rnoatime",    "rnodev",
        "rnodiratime", "rnoexec",      "rnorelatime", "rnostrictatime",
        "rnosuid",     "rnosymfollow", "ro",          "rprivate",
        "rrelatime",   "rro",          "rrw",         "rshared",
        "rslave",      "rstrictatime", "rsuid",       "rsymfollow",
        "runbindable", "rw",           "shared",      "slave",
        "strictatime", "suid",         "symfollow",   "sync",
        "unbindable"};
    static const char *const namespaces[] = {"cgroup", "ipc",  "mount", "network",
                                             "pid",    "time", "user",  "uts"};
    json_t *o = json_object();
    if (o == NULL)
        return capsa_err_set(err, ENOMEM, "features");
    json_object_set_new(o, "ociVersionMin", json_string("1.0.0"));
    json_object_set_new(o, "ociVersionMax", json_string("1.2.0"));
    json_object_set_new(o, "hooks", strings(hooks, ARRAY_SIZE(hooks)));
    json_object_set_new(o, "mountOptions", strings(mount_opts, ARRAY_SIZE(mount_opts)));

    json_t *lx = json_object();
    json_object_set_new(lx, "namespaces", strings(namespaces, ARRAY_SIZE(namespaces)));
    json_t *caps = json_array();
    for (int i = 0; i <= CAPSA_CAP_LAST_KNOWN; i++) {
        const char *n = capsa_cap_name(i);
        if (n)
            json_array_append_new(caps, json_string(n));
    }
    json_object_set_new(lx, "capabilities", caps);
    json_t *cg = json_object();
    json_object_set_new(cg, "v1", json_true());
    json_object_set_new(cg, "v2", json_true());
    /* --systemd-cgroup (linux/systemd.h); as another user it talks to the
     * user's own manager (tests/sdvm/systemd.sh, rootless checks). */
    json_object_set_new(cg, "systemd", json_true());
    json_object_set_new(cg, "systemdUser", json_true());
    json_object_set_new(lx, "cgroup", cg);
    static const char *const sc_actions[] = {
        "SCMP_ACT_ALLOW",        "SCMP_ACT_ERRNO",       "SCMP_ACT_KILL",
        "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG",
        "SCMP_ACT_NOTIFY",       "SCMP_ACT_TRACE",       "SCMP_ACT_TRAP"};
    static const char *const sc_ops[] = {"SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT",
                                         "SCMP_CMP_LE", "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ",
                                         "SCMP_CMP_NE"};
    static const char *const sc_flags[] = {
        "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_TSYNC",
        "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"};
    static const char *const sc_archs[] = {"SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32",
                                           "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"};
    json_t *sc = json_object();
    json_object_set_new(sc, "enabled", json_true());
    json_object_set_new(sc, "actions", strings(sc_actions, ARRAY_SIZE(sc_actions)));
    json_object_set_new(sc, "operators", strings(sc_ops, ARRAY_SIZE(sc_ops)));
    json_object_set_new(sc, "archs", strings(sc_archs, ARRAY_SIZE(sc_archs)));
    json_object_set_new(sc, "knownFlags", strings(sc_flags, ARRAY_SIZE(sc_flags)));
    json_object_set_new(sc, "supportedFlags", strings(sc_flags, ARRAY_SIZE(sc_flags)));
    json_object_set_new(lx, "seccomp", sc);
    json_t *aa = json_object();
    json_object_set_new(aa, "enabled", json_true());
    json_object_set_new(lx, "apparmor", aa);
    json_t *se = json_object();
    json_object_set_new(se, "enabled", json_true());
    json_object_set_new(lx, "selinux", se);
    json_t *im = json_object();
    json_object_set_new(im, "enabled", json_false());
    json_object_set_new(lx, "intelRdt", im);
    json_t *mx = json_object();
    json_object_set_new(mx, "enabled", json_false());
    json_object_set_new(lx, "mountExtensions", mx);
    json_object_set_new(o, "linux", lx);

    json_t *ann = json_object();
    json_object_set_new(ann, "org.opencontainers.runtime-spec.features.version",
                        json_string("1.2.0"));
    json_object_set_new(ann, "io.github.capsa.version", json_string(CAPSA_VERSION));
    /* The isolation levels a container can ask for with the annotation
     * capsa.isolation (level/level.h): those this host provides, from the
     * table. */
    size_t n_levels;
    const struct capsa_level *const *levels = capsa_levels(&n_levels);
    char names[256] = "";
    for (size_t i = 0; i < n_levels; i++) {
        struct capsa_err lerr = {0};
        if (levels[i]->available && levels[i]->available(&lerr) < 0)
            continue;
        if (names[0] != '\0')
            strncat(names, ",", sizeof names - strlen(names) - 1);
        strncat(names, levels[i]->name, sizeof names - strlen(names) - 1);
    }
    json_object_set_new(ann, "io.github.capsa.isolation", json_string(names));
    /* checkpoint and restore are built in (runc says the same with
     * org.opencontainers.runc.checkpoint.enabled); they need CRIU at run
     * time (docs/checkpoint.md). */
    json_object_set_new(ann, "io.github.capsa.checkpoint.enabled", json_string("true"));
    json_object_set_new(o, "annotations", ann);

    char *s = json_dumps(o, JSON_INDENT(4));
    json_decref(o);
    if (s == NULL)
        return capsa_err_set(err, ENOMEM, "features");
    *json_out = s;
    return 0;
}
