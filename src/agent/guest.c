/* guest.c - what the agent does as PID 1 of the guest: the filesystems a
 * container runtime needs (/proc, /sys, /dev, /dev/pts, /run, /tmp, cgroup2
 * with its controllers enabled), the kernel modules of /modules.order, the
 * rootfs the host shares over virtio-fs, the virtio-serial port by name,
 * and powering off at the end. None of it runs with --no-init. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "agent.h"
#include "util/err.h"
#include "util/util.h"

struct fs {
    const char *src, *dir, *type;
    unsigned long flags;
    const char *data;
};

static const struct fs filesystems[] = {
    {"proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL},
    {"sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL},
    {"devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755"},
    {"devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620"},
    {"tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777"},
    {"tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755"},
    {"tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777"},
    {"cgroup2", "/sys/fs/cgroup", "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL},
};

static int mount_one(const struct fs *f, struct capsa_err *err)
{
    if (mkdir(f->dir, 0755) < 0 && errno != EEXIST)
        return capsa_err_set(err, errno, "mkdir %s", f->dir);
    if (mount(f->src, f->dir, f->type, f->flags, f->data) < 0 && errno != EBUSY)
        return capsa_err_set(err, errno, "mount %s on %s", f->type, f->dir);
    return 0;
}

/* Every controller the root offers, to the children (a container's cgroup
 * is one level down). */
static int enable_controllers(struct capsa_err *err)
{
    char buf[512];
    cleanup_close int fd = open("/sys/fs/cgroup/cgroup.controllers", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return capsa_err_set(err, errno, "open /sys/fs/cgroup/cgroup.controllers");
    ssize_t n = read(fd, buf, sizeof buf - 1);
    if (n < 0)
        return capsa_err_set(err, errno, "read /sys/fs/cgroup/cgroup.controllers");
    buf[n] = '\0';
    cleanup_close int ctl = open("/sys/fs/cgroup/cgroup.subtree_control", O_WRONLY | O_CLOEXEC);
    if (ctl < 0)
        return capsa_err_set(err, errno, "open /sys/fs/cgroup/cgroup.subtree_control");
    char *save = NULL;
    for (char *c = strtok_r(buf, " \n", &save); c; c = strtok_r(NULL, " \n", &save)) {
        char w[80];
        int len = snprintf(w, sizeof w, "+%s", c);
        /* One at a time: a controller the kernel refuses does not take the
         * others with it. */
        if (len > 0 && (size_t)len < sizeof w && write(ctl, w, (size_t)len) < 0)
            continue;
    }
    return 0;
}

/* /modules.order: one absolute .ko path a line, loaded in that order. A
 * module already loaded (EEXIST) is fine; any other failure is an error
 * naming the module. */
static int load_modules(const char *list, struct capsa_err *err)
{
    cleanup_fclose FILE *f = fopen(list, "re");
    if (f == NULL)
        return errno == ENOENT ? 0 : capsa_err_set(err, errno, "open %s", list);
    char line[512];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '\0' || line[0] == '#')
            continue;
        if (line[0] != '/')
            return capsa_err_setx(err, EINVAL, "%s: %s: not an absolute path", list, line);
        cleanup_close int fd = open(line, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return capsa_err_set(err, errno, "module %s", line);
        if (syscall(SYS_finit_module, fd, "", 0) < 0 && errno != EEXIST)
            return capsa_err_set(err, errno, "finit_module %s", line);
    }
    return 0;
}

static int mkdir_p(const char *path, struct capsa_err *err)
{
    char buf[256];
    if (strlen(path) >= sizeof buf)
        return capsa_err_setx(err, ENAMETOOLONG, "%s", path);
    memcpy(buf, path, strlen(path) + 1);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) < 0 && errno != EEXIST)
            return capsa_err_set(err, errno, "mkdir %s", buf);
        *p = '/';
    }
    if (mkdir(buf, 0755) < 0 && errno != EEXIST)
        return capsa_err_set(err, errno, "mkdir %s", buf);
    return 0;
}

/* pivot_root(2) refuses to move the initramfs (the rootfs mount), so a
 * container made on it could only be entered with MS_MOVE and chroot. The
 * guest's root moves to a tmpfs first, as switch_root does, without copying
 * anything: the modules are loaded and the agent runs, so nothing of the
 * initramfs is needed afterwards (it stays in memory, out of reach). */
static int leave_initramfs(struct capsa_err *err)
{
    if (mkdir("/newroot", 0755) < 0 && errno != EEXIST)
        return capsa_err_set(err, errno, "mkdir /newroot");
    if (mount("tmpfs", "/newroot", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") < 0)
        return capsa_err_set(err, errno, "mount a tmpfs on /newroot");
    if (chdir("/newroot") < 0 || mount("/newroot", "/", NULL, MS_MOVE, NULL) < 0 ||
        chroot(".") < 0 || chdir("/") < 0)
        return capsa_err_set(err, errno, "move the root from the initramfs to a tmpfs");
    return 0;
}

int guest_setup(const struct agent_conf *c, const struct agent *a, struct capsa_err *err)
{
    /* The modules from the initramfs, before leaving it. */
    int r = load_modules(c->modules, err);
    if (r < 0 || (r = leave_initramfs(err)) < 0)
        return r;
    for (size_t i = 0; i < ARRAY_SIZE(filesystems); i++)
        if ((r = mount_one(&filesystems[i], err)) < 0)
            return r;
    if (enable_controllers(err) < 0)
        agent_log(a, "warning: cgroup controllers: %s", err->msg);
    if (c->rootfs_tag[0] != '\0') {
        if ((r = mkdir_p(c->rootfs_dir, err)) < 0)
            return r;
        if (mount(c->rootfs_tag, c->rootfs_dir, "virtiofs", 0, NULL) < 0)
            return capsa_err_set(err, errno, "mount virtiofs %s on %s", c->rootfs_tag,
                                 c->rootfs_dir);
    }
    return 0;
}

/* /sys/class/virtio-ports/vportNpM/name holds the port's name; the device
 * is /dev/vportNpM. */
int guest_find_port(const char *name, char *path, size_t len, struct capsa_err *err)
{
    cleanup_dir DIR *d = opendir("/sys/class/virtio-ports");
    if (d == NULL)
        return capsa_err_set(err, errno, "open /sys/class/virtio-ports");
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char p[300], buf[128];
        snprintf(p, sizeof p, "/sys/class/virtio-ports/%s/name", e->d_name);
        cleanup_close int fd = open(p, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        ssize_t n = read(fd, buf, sizeof buf - 1);
        if (n <= 0)
            continue;
        buf[n] = '\0';
        buf[strcspn(buf, "\n")] = '\0';
        if (strcmp(buf, name) != 0)
            continue;
        if ((size_t)snprintf(path, len, "/dev/%s", e->d_name) >= len)
            return capsa_err_setx(err, ENAMETOOLONG, "virtio port %s", e->d_name);
        return 0;
    }
    return capsa_err_setx(err, ENOENT, "no virtio-serial port named %s", name);
}

int guest_kernel_release(char *buf, size_t len)
{
    struct utsname u;
    if (uname(&u) < 0)
        return -errno;
    snprintf(buf, len, "%s", u.release);
    return 0;
}

void guest_power_off(const struct agent *a)
{
    sync();
    reboot(RB_POWER_OFF);
    /* Only reached when the kernel refused: PID 1 may not exit. */
    agent_log(a, "reboot(RB_POWER_OFF) failed: %s", strerror(errno));
    for (;;)
        pause();
}
