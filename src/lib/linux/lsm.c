/* lsm.c - Linux security module labels for the container process: the
 * AppArmor profile and the SELinux label are armed with attr/exec so that the
 * kernel applies them atomically at the next execve (the user program), not
 * to the runtime code still running in the container init.
 *
 * Asking for a label on a host without that LSM is an error rather than a
 * silent no-op: the user asked for confinement and would not get it.
 */
#include "linux/process.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "linux/rootfs.h"
#include "sys/sys.h"
#include "util/util.h"

int capsa_lsm_apparmor_enabled(void)
{
    cleanup_free char *buf = NULL;
    struct capsa_err ignored;
    if (capsa_read_file_at(AT_FDCWD, "/sys/module/apparmor/parameters/enabled", 64, &buf, NULL,
                           &ignored) < 0)
        return 0;
    return buf[0] == 'Y';
}

int capsa_lsm_selinux_enabled(void)
{
    return access("/sys/fs/selinux/enforce", F_OK) == 0;
}

static int write_fd(int fd, const char *rel, const char *data, struct capsa_err *err)
{
    /* One write(2): the LSMs parse the whole buffer as a single command. */
    ssize_t w;
    do {
        w = write(fd, data, strlen(data));
    } while (w < 0 && errno == EINTR);
    if (w < 0)
        return capsa_err_set(err, errno, "write /proc/self/%s", rel);
    if ((size_t)w != strlen(data))
        return capsa_err_setx(err, EIO, "write /proc/self/%s: short write", rel);
    return 0;
}

static int apply_apparmor(const char *profile, int procfd, struct capsa_err *err)
{
    if (!capsa_lsm_apparmor_enabled())
        return capsa_err_setx(err, EOPNOTSUPP,
                              "process.apparmorProfile: AppArmor is not enabled on this host");
    cleanup_free char *cmd = NULL;
    int r = capsa_asprintf(&cmd, err, "exec %s", profile);
    if (r < 0)
        return r;
    /* Newer kernels (5.1+, LSM stacking) have a per-LSM directory; the
     * generic attr/exec is the fallback for older ones. */
    const char *rel = "attr/apparmor/exec";
    struct capsa_err e1;
    cleanup_close int fd = capsa_proc_open_self(procfd, rel, O_WRONLY, &e1);
    if (fd < 0 && (fd == -ENOENT || fd == -EACCES)) {
        rel = "attr/exec";
        fd = capsa_proc_open_self(procfd, rel, O_WRONLY, err);
    } else if (fd < 0) {
        *err = e1;
    }
    if (fd < 0)
        return capsa_err_wrap(err, "process.apparmorProfile");
    r = write_fd(fd, rel, cmd, err);
    if (r < 0)
        return capsa_err_wrap(err, "process.apparmorProfile \"%s\"", profile);
    return 0;
}

static int apply_selinux(const char *label, int procfd, struct capsa_err *err)
{
    if (!capsa_lsm_selinux_enabled())
        return capsa_err_setx(err, EOPNOTSUPP,
                              "process.selinuxLabel: SELinux is not enabled on this host");
    cleanup_close int fd = capsa_proc_open_self(procfd, "attr/exec", O_WRONLY, err);
    if (fd < 0)
        return capsa_err_wrap(err, "process.selinuxLabel");
    int r = write_fd(fd, "attr/exec", label, err);
    if (r < 0)
        return capsa_err_wrap(err, "process.selinuxLabel \"%s\"", label);
    return 0;
}

int capsa_lsm_apply(const struct capsa_process *p, int procfd, struct capsa_err *err)
{
    if (p->apparmor_profile != NULL && p->apparmor_profile[0] != '\0') {
        int r = apply_apparmor(p->apparmor_profile, procfd, err);
        if (r < 0)
            return r;
    }
    if (p->selinux_label != NULL && p->selinux_label[0] != '\0') {
        int r = apply_selinux(p->selinux_label, procfd, err);
        if (r < 0)
            return r;
    }
    return 0;
}
