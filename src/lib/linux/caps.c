/* caps.c - switching the container init to the spec user and setting its
 * capability sets (bounding, effective, permitted, inheritable, ambient),
 * no_new_privs and umask, just before execve.
 *
 * We deliberately do not link libcap: the raw capget/capset syscalls with
 * _LINUX_CAPABILITY_VERSION_3 and prctl are all we need, and keeping the
 * dependency list short matters for a runtime that runs as root.
 *
 * Order matters for security and for correctness:
 *   1. PR_SET_KEEPCAPS so that setresuid() to a non-zero uid keeps the
 *      permitted set (effective is still cleared by the kernel);
 *   2. setgroups / setresgid / setresuid while we still hold CAP_SETGID /
 *      CAP_SETUID;
 *   3. drop the bounding set (needs CAP_SETPCAP, still in permitted, so we
 *      first make effective = permitted again);
 *   4. capset the final effective/permitted/inheritable sets;
 *   5. ambient last, because raising an ambient cap requires it to be in
 *      both permitted and inheritable;
 *   6. no_new_privs, umask.
 */
#include "linux/process.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/util.h"

#define DEFAULT_UMASK 0022

static int sys_capget(struct __user_cap_header_struct *h, struct __user_cap_data_struct *d)
{
    return (int)syscall(SYS_capget, h, d);
}

static int sys_capset(struct __user_cap_header_struct *h, struct __user_cap_data_struct *d)
{
    return (int)syscall(SYS_capset, h, d);
}

int capsa_caps_last_cap(void)
{
    cleanup_free char *buf = NULL;
    int64_t v = 0;
    struct capsa_err ignored;
    if (capsa_read_file_at(AT_FDCWD, "/proc/sys/kernel/cap_last_cap", 64, &buf, NULL, &ignored) ==
        0) {
        size_t n = strlen(buf);
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
            buf[--n] = '\0';
        if (capsa_parse_int64(buf, 0, 63, &v) == 0)
            return (int)v;
    }
    /* No /proc (or a weird one): probe the bounding set; the kernel answers
     * EINVAL for the first capability number it does not know. */
    int last = 0;
    for (int c = 0; c < 64; c++) {
        if (prctl(PR_CAPBSET_READ, (unsigned long)c, 0, 0, 0) < 0)
            break;
        last = c;
    }
    return last;
}

void capsa_caps_warn_unavailable(const struct capsa_process *p, capsa_warn_fn warn, void *opaque)
{
    if (p == NULL || !p->has_capabilities || warn == NULL)
        return;
    const struct capsa_caps *c = &p->capabilities;
    uint64_t all = c->bounding | c->effective | c->permitted | c->inheritable | c->ambient;
    /* capsa needs Linux 5.8 (setns on a pidfd), which has every capability
     * up to CAP_BPF (39): only a higher one makes reading the kernel's last
     * worth a file read on every create and exec. */
    if ((all >> 40) == 0)
        return;
    int last = capsa_caps_last_cap();
    if (last >= 63 || (all >> (last + 1)) == 0)
        return;
    char line[1024];
    int len = snprintf(line, sizeof line,
                       "process.capabilities: ignoring capabilities this kernel does not have "
                       "(cap_last_cap %d):",
                       last);
    for (int cap = last + 1; cap < 64 && len > 0 && (size_t)len < sizeof line; cap++) {
        if (!(all & (UINT64_C(1) << cap)))
            continue;
        const char *name = capsa_cap_name(cap);
        if (name != NULL)
            len += snprintf(line + len, sizeof line - (size_t)len, " %s", name);
        else
            len += snprintf(line + len, sizeof line - (size_t)len, " %d", cap);
    }
    warn(opaque, line);
}

/* Read the current effective/permitted/inheritable sets as 64-bit masks. */
static int caps_get(uint64_t *eff, uint64_t *prm, uint64_t *inh, struct capsa_err *err)
{
    struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct d[2];
    memset(d, 0, sizeof d);
    if (sys_capget(&h, d) < 0)
        return capsa_err_set(err, errno, "capget");
    *eff = (uint64_t)d[0].effective | ((uint64_t)d[1].effective << 32);
    *prm = (uint64_t)d[0].permitted | ((uint64_t)d[1].permitted << 32);
    *inh = (uint64_t)d[0].inheritable | ((uint64_t)d[1].inheritable << 32);
    return 0;
}

static int caps_set(uint64_t eff, uint64_t prm, uint64_t inh, struct capsa_err *err)
{
    struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct d[2];
    d[0].effective = (uint32_t)eff;
    d[1].effective = (uint32_t)(eff >> 32);
    d[0].permitted = (uint32_t)prm;
    d[1].permitted = (uint32_t)(prm >> 32);
    d[0].inheritable = (uint32_t)inh;
    d[1].inheritable = (uint32_t)(inh >> 32);
    if (sys_capset(&h, d) < 0)
        return capsa_err_set(
            err, errno, "capset (effective %#llx, permitted %#llx, inheritable %#llx)",
            (unsigned long long)eff, (unsigned long long)prm, (unsigned long long)inh);
    return 0;
}

/* True unless /proc/self/setgroups says "deny" (a user namespace whose gid
 * map was written without CAP_SETGID); a missing file means an old kernel or
 * no user namespace, where setgroups is allowed. */
static bool setgroups_allowed(void)
{
    cleanup_free char *buf = NULL;
    struct capsa_err ignored;
    if (capsa_read_file_at(AT_FDCWD, "/proc/self/setgroups", 64, &buf, NULL, &ignored) < 0)
        return true;
    return strncmp(buf, "deny", 4) != 0;
}

static int set_user(const struct capsa_user *u, struct capsa_err *err)
{
    if (setgroups_allowed()) {
        size_t n = u->n_additional_gids;
        cleanup_free gid_t *gids = NULL;
        if (n > 0) {
            gids = calloc(n, sizeof *gids);
            if (gids == NULL)
                return capsa_err_set(err, ENOMEM, "process.user.additionalGids");
            for (size_t i = 0; i < n; i++)
                gids[i] = (gid_t)u->additional_gids[i];
        }
        /* Always call it, even with n == 0: the groups inherited from the
         * runtime (root's) must not leak into the container. */
        if (setgroups(n, gids) < 0)
            return capsa_err_set(err, errno, "setgroups (process.user.additionalGids)");
    } else if (u->n_additional_gids > 0) {
        return capsa_err_setx(err, EPERM,
                              "process.user.additionalGids: setgroups is denied in this user "
                              "namespace");
    }
    if (setresgid(u->gid, u->gid, u->gid) < 0)
        return capsa_err_set(err, errno, "setresgid %u (process.user.gid)", u->gid);
    if (setresuid(u->uid, u->uid, u->uid) < 0)
        return capsa_err_set(err, errno, "setresuid %u (process.user.uid)", u->uid);
    return 0;
}

static int set_caps(const struct capsa_process *p, struct capsa_err *err)
{
    int last = capsa_caps_last_cap();
    /* Caps the running kernel does not know are skipped rather than being an
     * error: a spec written for a newer kernel must still run. */
    uint64_t known = last >= 63 ? ~0ULL : ((1ULL << (last + 1)) - 1);
    struct capsa_caps want = {0};
    if (p->has_capabilities)
        want = p->capabilities;
    want.bounding &= known;
    want.effective &= known;
    want.permitted &= known;
    want.inheritable &= known;
    want.ambient &= known;

    /* setresuid() to a non-zero uid cleared the effective set (KEEPCAPS only
     * keeps permitted); restore it so we hold CAP_SETPCAP for the bounding
     * set drop below. */
    uint64_t eff = 0, prm = 0, inh = 0;
    int r = caps_get(&eff, &prm, &inh, err);
    if (r < 0)
        return r;
    if (eff != prm) {
        r = caps_set(prm, prm, inh, err);
        if (r < 0)
            return capsa_err_wrap(err, "restoring effective capabilities");
    }

    for (int c = 0; c <= last; c++) {
        if (want.bounding & (1ULL << c))
            continue;
        /* Dropping an absent capability succeeds, so no read first; only
         * without CAP_SETPCAP (EPERM) does it matter whether it was there. */
        if (prctl(PR_CAPBSET_DROP, (unsigned long)c, 0, 0, 0) < 0) {
            int e = errno;
            if (e != EPERM || prctl(PR_CAPBSET_READ, (unsigned long)c, 0, 0, 0) != 0)
                return capsa_err_set(err, e, "dropping capability %d from the bounding set", c);
        }
    }

    r = caps_set(want.effective, want.permitted, want.inheritable, err);
    if (r < 0)
        return capsa_err_wrap(err, "process.capabilities");

    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
        return capsa_err_set(err, errno, "clearing the ambient capability set");
    for (int c = 0; c <= last; c++) {
        uint64_t bit = 1ULL << c;
        if (!(want.ambient & bit))
            continue;
        /* The kernel only accepts ambient caps that are both permitted and
         * inheritable. Like runc (which only warns), we skip the others
         * silently instead of failing: the spec is still honoured as far as
         * the kernel allows, and the process can never gain more than its
         * permitted set anyway. */
        if (!(want.permitted & bit) || !(want.inheritable & bit))
            continue;
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, (unsigned long)c, 0, 0) < 0)
            return capsa_err_set(err, errno, "raising ambient capability %d", c);
    }
    return 0;
}

int capsa_process_switch_user(const struct capsa_process *p, struct capsa_err *err)
{
    /* Keep the permitted set across setresuid(non-zero); without it every
     * capability would be lost before we could set the spec's sets. */
    if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
        return capsa_err_set(err, errno, "prctl(PR_SET_KEEPCAPS)");
    int r = set_user(&p->user, err);
    if (r < 0)
        return r;
    if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
        return capsa_err_set(err, errno, "prctl(PR_SET_KEEPCAPS)");
    r = set_caps(p, err);
    if (r < 0)
        return r;
    if (p->no_new_privileges && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return capsa_err_set(err, errno, "process.noNewPrivileges");
    umask(p->user.has_umask ? (mode_t)(p->user.umask & 07777) : DEFAULT_UMASK);
    return 0;
}
