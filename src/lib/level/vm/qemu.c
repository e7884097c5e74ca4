/* qemu.c - the QEMU microvm backend of the vm level (vmm.h).
 *
 * Two processes per VM:
 *  - virtiofsd (Debian's C one, /usr/lib/qemu/virtiofsd) serves the shared
 *    directory over vhost-user. It runs as root (it must act on the rootfs's
 *    files with their owners) in its own sandbox (-o sandbox=namespace:
 *    mount, pid and net namespaces, pivot_root into the shared directory, so
 *    no symlink or ".." the guest plants leads out of it).
 *  - qemu-system-x86_64 -M microvm: virtio-mmio devices found through ACPI,
 *    no PCI, no firmware beyond the microvm bios, direct kernel boot. It is
 *    started in new mount, pid, net, ipc, uts and cgroup namespaces, inside
 *    a read-only tmpfs root that holds only /usr (its binary, libraries and
 *    ROMs, read-only), the kernel, the initramfs, /dev/null, /dev/urandom
 *    and /dev/kvm; no /proc, no /sys, no host directory. It gets every socket
 *    it uses as an inherited fd (the QMP and agent listeners, its connection
 *    to virtiofsd), so it needs no path of ours; all its other fds are
 *    closed. It keeps uid 0 (the files it opens are root's; with no
 *    capability, an empty bounding set, SECBIT_NOROOT locked and
 *    no_new_privs it cannot regain any) and runs with QEMU's own seccomp
 *    sandbox (-sandbox on,obsolete=deny,elevateprivileges=deny,spawn=deny,
 *    resourcecontrol=deny). Guest RAM is a shared memfd, which vhost-user
 *    needs to hand to virtiofsd.
 *
 * Without /dev/kvm the guest runs under TCG, which QEMU does not treat as a
 * security boundary: boot refuses unless the caller allowed it. Under TCG
 * the microvm needs the PIT and PIC and the kernel a given TSC rate, or it
 * hangs calibrating its clocks (docs/vm.md). */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "level/vm/vmm.h"
#include "linux/process.h"
#include "sys/sys.h"
#include "util/util.h"

#define QEMU_DEFAULT      "/usr/bin/qemu-system-x86_64"
#define VIRTIOFSD_DEFAULT "/usr/lib/qemu/virtiofsd"
#define FS_SOCK           "virtiofsd.sock" /* exists only while virtiofsd is being connected */
/* The jail's layout (inside QEMU's root). */
#define JAIL_KERNEL "/vm/kernel"
#define JAIL_INITRD "/vm/initrd"
/* The fds QEMU inherits. */
#define FD_QMP   3
#define FD_AGENT 4
#define FD_FS    5
#define FD_NET0  6 /* the TAPs: FD_NET0 + i */
/* Under TCG the guest cannot calibrate its TSC on microvm (no HPET, no PM
 * timer): give it a rate. TCG's TSC is the host's, so the host's rate keeps
 * the guest's clock from drifting (at a made-up 2 GHz on a 2.1 GHz host it
 * lost 4 % against the host's files' times); tcg_tsc_khz finds it. */
#define TCG_CMDLINE      "tsc_early_khz=%u lpj=4000000 tsc=reliable"
#define TCG_TSC_KHZ_DFLT 2000000u
#define TCG_TB_MIB       64u /* TCG's translation cache, MiB */

/* The host's TSC rate in kHz: "cpu MHz" of /proc/cpuinfo where the TSC is
 * constant (its rate is then the nominal one, which a VM host reports
 * there), else the default. */
static unsigned tcg_tsc_khz(void)
{
    FILE *f = fopen("/proc/cpuinfo", "re");
    if (f == NULL)
        return TCG_TSC_KHZ_DFLT;
    char line[512];
    double mhz = 0;
    bool constant = false;
    while (fgets(line, sizeof line, f) != NULL) {
        if (mhz == 0 && strncmp(line, "cpu MHz", 7) == 0) {
            const char *colon = strchr(line, ':');
            if (colon)
                mhz = strtod(colon + 1, NULL);
        }
        if (strncmp(line, "flags", 5) == 0) {
            constant = strstr(line, " constant_tsc") != NULL;
            break;
        }
    }
    (void)fclose(f);
    if (!constant || !(mhz >= 100.0 && mhz <= 10000.0))
        return TCG_TSC_KHZ_DFLT;
    return (unsigned)(mhz * 1000.0 + 0.5);
}

/* Whether the "flags" line of a /proc/cpuinfo text names vmx or svm. */
static bool cpu_has_virt(const char *text)
{
    for (const char *l = strstr(text, "\nflags"); l; l = strstr(l + 1, "\nflags")) {
        const char *end = strchr(l + 1, '\n');
        size_t n = end ? (size_t)(end - l) : strlen(l);
        if (memmem(l, n, " vmx", 4) || memmem(l, n, " svm", 4))
            return true;
    }
    return false;
}

int capsa_vmm_kvm_available(struct capsa_err *err)
{
    int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        if (err)
            capsa_err_set(err, errno, "/dev/kvm");
        return 0;
    }
    close(fd);
    /* KVM runs guests on the CPU's virtualization extensions, which it
     * advertises as vmx or svm. Some hypervisors hand their guests a
     * /dev/kvm without them; guests then die mid-boot ("emulation
     * failure"). Such a /dev/kvm is not used. */
    cleanup_free char *text = NULL;
    size_t len = 0;
    struct capsa_err ignored = {0};
    if (capsa_read_file_at(AT_FDCWD, "/proc/cpuinfo", 4u << 20, &text, &len, &ignored) == 0 &&
        !cpu_has_virt(text)) {
        if (err)
            capsa_err_setx(err, ENODEV,
                           "/dev/kvm exists but the CPU advertises no virtualization "
                           "extensions (vmx, svm): a KVM without them fails guests");
        return 0;
    }
    return 1;
}

int capsa_vm_channel_connect(const struct capsa_vm *vm, int *fd, struct capsa_err *err)
{
    char p[PATH_MAX];
    int r = capsa_vm_state_path(vm->state_dir, CAPSA_VM_AGENT_SOCK, p, sizeof(p), err);
    if (r == 0)
        r = capsa_vm_connect(p, fd, err);
    return r < 0 ? capsa_err_wrap(err, "vm agent channel") : 0;
}

/* ---- argv ---------------------------------------------------------------- */

/* An argument vector whose first failure sticks: a->r < 0 makes every later
 * arg() a no-op, so a command line is written as a list and checked once. */
struct argv {
    char *v[64];
    size_t n;
    int r;
    struct capsa_err *err;
};

static void arg(struct argv *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void arg(struct argv *a, const char *fmt, ...)
{
    if (a->r < 0)
        return;
    if (a->n + 1 >= ARRAY_SIZE(a->v)) {
        a->r = capsa_err_setx(a->err, E2BIG, "vmm command line: too many arguments");
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&a->v[a->n], fmt, ap);
    va_end(ap);
    if (n < 0) {
        a->v[a->n] = NULL;
        a->r = capsa_err_set(a->err, ENOMEM, "vmm command line");
        return;
    }
    a->v[++a->n] = NULL;
}

static void argv_free(struct argv *a)
{
    for (size_t i = 0; i < a->n; i++)
        free(a->v[i]);
    a->n = 0;
}

/* A value that goes inside a QEMU option (key=value,...) must not carry a
 * comma (QEMU would split it) or anything unprintable. */
static int opt_safe(const char *what, const char *s, bool comma_ok, struct capsa_err *err)
{
    for (const char *p = s; *p; p++)
        if ((*p == ',' && !comma_ok) || (unsigned char)*p < ' ' || *p == 0x7f)
            return capsa_err_setx(err, EINVAL, "%s \"%s\": a comma or control character", what, s);
    return 0;
}

static int qemu_argv(const struct capsa_vmm_config *cfg, const char *qemu, bool kvm, struct argv *a,
                     struct capsa_err *err)
{
    const char *tag = cfg->share_tag ? cfg->share_tag : CAPSA_VM_SHARE_TAG;
    const char *extra = cfg->cmdline_extra ? cfg->cmdline_extra : "";
    int r = opt_safe("virtio-fs tag", tag, false, err);
    if (r == 0)
        r = opt_safe("kernel command line", extra, true, err);
    if (r < 0)
        return r;
    a->err = err;
    a->r = 0;
    arg(a, "%s", qemu);
    /* ACPI stays on: Debian's cloud kernel finds its virtio-mmio devices
     * only there (virtio_mmio is a module and cannot parse the
     * virtio_mmio.device= arguments QEMU adds without ACPI). */
    arg(a, "-M");
    arg(a, "microvm,acpi=on,isa-serial=on,memory-backend=mem%s", kvm ? "" : ",pit=on,pic=on");
    /* TCG's translation cache grows to 1 GiB by default, all of it QEMU's
     * own memory: a busy guest got QEMU OOM-killed in its cgroup (guest RAM
     * + CAPSA_VM_OVERHEAD_MIB). TCG_TB_MIB keeps it inside the overhead. */
    arg(a, "-accel");
    if (kvm)
        arg(a, "kvm");
    else
        arg(a, "tcg,tb-size=%u", TCG_TB_MIB);
    /* The host's CPU under KVM, without ARCH_CAPABILITIES: under nested
     * KVM (a KVM host that is itself a guest, as cloud machines are) the
     * value QEMU derives for that MSR can be refused by the outer
     * hypervisor, and QEMU aborts ("failed to set MSR 0x10a"). Without it
     * the guest kernel assumes the CPU vulnerable and keeps its
     * mitigations on: safe, if a little slower. */
    arg(a, "-cpu");
    arg(a, "%s", kvm ? "host,-arch-capabilities" : "max");
    arg(a, "-nodefaults");
    arg(a, "-no-user-config");
    arg(a, "-nographic");
    arg(a, "-no-reboot");
    arg(a, "-sandbox");
    arg(a, "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny");
    /* virtio-fs needs a modern (virtio 1.0) transport. */
    arg(a, "-global");
    arg(a, "virtio-mmio.force-legacy=false");
    arg(a, "-m");
    arg(a, "%u", cfg->mem_mib);
    arg(a, "-smp");
    arg(a, "%u", cfg->vcpus);
    /* Shared memory: vhost-user hands guest RAM to virtiofsd. */
    arg(a, "-object");
    arg(a, "memory-backend-memfd,id=mem,size=%uM,share=on", cfg->mem_mib);
    arg(a, "-kernel");
    arg(a, JAIL_KERNEL);
    arg(a, "-initrd");
    arg(a, JAIL_INITRD);
    arg(a, "-append");
    char tcg[96] = "";
    if (!kvm)
        snprintf(tcg, sizeof tcg, " " TCG_CMDLINE, tcg_tsc_khz());
    arg(a, "console=ttyS0 quiet panic=-1 rdinit=/init%s%s%s", tcg, extra[0] ? " " : "", extra);
    /* The serial console goes to QEMU's stdout, the console log. */
    arg(a, "-chardev");
    arg(a, "stdio,id=con,signal=off");
    arg(a, "-serial");
    arg(a, "chardev:con");
    arg(a, "-chardev");
    arg(a, "socket,id=qmp,fd=%d,server=on,wait=off", FD_QMP);
    arg(a, "-mon");
    arg(a, "chardev=qmp,mode=control");
    arg(a, "-chardev");
    arg(a, "socket,id=fs,fd=%d", FD_FS);
    arg(a, "-device");
    arg(a, "vhost-user-fs-device,chardev=fs,tag=%s", tag);
    arg(a, "-device");
    arg(a, "virtio-serial-device,max_ports=2");
    arg(a, "-chardev");
    arg(a, "socket,id=agent,fd=%d,server=on,wait=off", FD_AGENT);
    arg(a, "-device");
    arg(a, "virtserialport,chardev=agent,name=" CAPSA_VM_CHANNEL_NAME);
    for (size_t i = 0; i < cfg->n_nics; i++) {
        const uint8_t *m = cfg->nics[i].mac;
        arg(a, "-netdev");
        arg(a, "tap,id=net%zu,fd=%zu", i, FD_NET0 + i);
        arg(a, "-device");
        arg(a, "virtio-net-device,netdev=net%zu,mac=%02x:%02x:%02x:%02x:%02x:%02x", i, m[0], m[1],
            m[2], m[3], m[4], m[5]);
    }
    return a->r;
}

/* ---- the jail ----------------------------------------------------------- */

struct jail {
    const char *root; /* where the tmpfs root is built (the state directory, in our namespace) */
    const char *kernel, *initrd;
    bool kvm;
    int qmp, agent, fs, log, errfd;
    const struct capsa_vmm_nic *nics;
    size_t n_nics;
    char *const *argv;
};

/* Bind src onto dst (made first: a directory or an empty file), then make
 * the bind read-only unless it is a device. */
static int bind_into(const char *src, const char *dst, bool dir, bool dev, struct capsa_err *err)
{
    if (dir ? mkdir(dst, 0755) < 0 : mknod(dst, S_IFREG | 0644, 0) < 0)
        return capsa_err_set(err, errno, "vmm jail: mkdir/mknod %s", dst);
    if (mount(src, dst, NULL, MS_BIND | MS_REC, NULL) < 0)
        return capsa_err_set(err, errno, "vmm jail: bind %s", src);
    unsigned long fl = MS_REMOUNT | MS_BIND | MS_NOSUID | (dev ? MS_NOEXEC : MS_RDONLY | MS_NODEV);
    if (mount(NULL, dst, NULL, fl, NULL) < 0)
        return capsa_err_set(err, errno, "vmm jail: remount %s", dst);
    return 0;
}

/* /lib, /lib64, /bin, /sbin as the host has them: a symlink (merged /usr,
 * Debian 12) is copied, a directory bound read-only, a missing one skipped. */
static int host_top(const char *name, struct capsa_err *err)
{
    char host[64], target[PATH_MAX];
    snprintf(host, sizeof(host), "/%s", name);
    struct stat st;
    if (lstat(host, &st) < 0)
        return errno == ENOENT ? 0 : capsa_err_set(err, errno, "vmm jail: %s", host);
    if (S_ISDIR(st.st_mode))
        return bind_into(host, name, true, false, err);
    if (!S_ISLNK(st.st_mode))
        return 0;
    ssize_t n = readlink(host, target, sizeof(target) - 1);
    if (n < 0)
        return capsa_err_set(err, errno, "vmm jail: readlink %s", host);
    target[n] = '\0';
    if (symlink(target, name) < 0)
        return capsa_err_set(err, errno, "vmm jail: symlink %s", name);
    return 0;
}

static int build_root(const struct jail *j, struct capsa_err *err)
{
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        return capsa_err_set(err, errno, "vmm jail: make / private");
    if (mount("tmpfs", j->root, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0755,size=64k") <
        0)
        return capsa_err_set(err, errno, "vmm jail: tmpfs on %s", j->root);
    if (chdir(j->root) < 0)
        return capsa_err_set(err, errno, "vmm jail: chdir %s", j->root);
    static const char *const dirs[] = {"dev", "etc", "vm"};
    for (size_t i = 0; i < ARRAY_SIZE(dirs); i++)
        if (mkdir(dirs[i], 0755) < 0)
            return capsa_err_set(err, errno, "vmm jail: mkdir %s", dirs[i]);
    int r = bind_into("/usr", "usr", true, false, err);
    static const char *const tops[] = {"lib", "lib64", "bin", "sbin"};
    for (size_t i = 0; r == 0 && i < ARRAY_SIZE(tops); i++)
        r = host_top(tops[i], err);
    if (r == 0 && access("/etc/ld.so.cache", R_OK) == 0)
        r = bind_into("/etc/ld.so.cache", "etc/ld.so.cache", false, false, err);
    if (r == 0)
        r = bind_into("/dev/null", "dev/null", false, true, err);
    if (r == 0)
        r = bind_into("/dev/urandom", "dev/urandom", false, true, err);
    if (r == 0 && j->kvm)
        r = bind_into("/dev/kvm", "dev/kvm", false, true, err);
    if (r == 0)
        r = bind_into(j->kernel, "vm/kernel", false, false, err);
    if (r == 0)
        r = bind_into(j->initrd, "vm/initrd", false, false, err);
    if (r < 0)
        return r;
    if (mount(NULL, ".", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
              NULL) < 0)
        return capsa_err_set(err, errno, "vmm jail: make its root read-only");
    /* pivot_root(".", "."): the old root ends up on top of the new one and
     * is detached at once (pivot_root(2), NOTES). */
    if (capsa_pivot_root(".", ".") < 0)
        return capsa_err_set(err, errno, "vmm jail: pivot_root");
    if (umount2(".", MNT_DETACH) < 0)
        return capsa_err_set(err, errno, "vmm jail: detach the old root");
    if (chdir("/") < 0)
        return capsa_err_set(err, errno, "vmm jail: chdir /");
    return 0;
}

/* Place the inherited fds: 0 /dev/null, 1 and 2 the console log, then the
 * QMP listener, the agent listener, the virtiofsd connection and the TAPs;
 * every other fd is closed at exec. */
static int place_fds(const struct jail *j, int *errfd, struct capsa_err *err)
{
    enum {
        FIXED = 4
    };
    int hi[FIXED + CAPSA_VMM_NIC_MAX];
    int src[FIXED + CAPSA_VMM_NIC_MAX] = {j->log, j->qmp, j->agent, j->fs};
    size_t n = FIXED + j->n_nics;
    for (size_t i = 0; i < j->n_nics; i++)
        src[FIXED + i] = j->nics[i].tap_fd;
    int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (nul < 0)
        return capsa_err_set(err, errno, "vmm jail: /dev/null");
    /* Above every target first, so no dup2 below clobbers a source. */
    for (size_t i = 0; i < n; i++)
        if ((hi[i] = fcntl(src[i], F_DUPFD_CLOEXEC, 32)) < 0)
            return capsa_err_set(err, errno, "vmm jail: dup");
    int e = fcntl(*errfd, F_DUPFD_CLOEXEC, 32);
    if (e < 0)
        return capsa_err_set(err, errno, "vmm jail: dup");
    *errfd = e;
    if (dup2(nul, 0) < 0 || dup2(hi[0], 1) < 0 || dup2(hi[0], 2) < 0 || dup2(hi[1], FD_QMP) < 0 ||
        dup2(hi[2], FD_AGENT) < 0 || dup2(hi[3], FD_FS) < 0)
        return capsa_err_set(err, errno, "vmm jail: dup2");
    for (size_t i = 0; i < j->n_nics; i++)
        if (dup2(hi[FIXED + i], (int)(FD_NET0 + i)) < 0)
            return capsa_err_set(err, errno, "vmm jail: dup2");
    if (capsa_close_range((unsigned)(FD_NET0 + j->n_nics), ~0U, CLOSE_RANGE_CLOEXEC) < 0)
        return capsa_err_set(err, errno, "vmm jail: close_range");
    return 0;
}

/* No capability now or after exec, for good: an empty bounding set,
 * SECBIT_NOROOT (uid 0 gains nothing at exec), no ambient set, then an
 * empty capability set and no_new_privs. */
static int drop_privileges(struct capsa_err *err)
{
    unsigned long bits = SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |
                         SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED |
                         SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;
    if (prctl(PR_SET_SECUREBITS, bits, 0, 0, 0) < 0)
        return capsa_err_set(err, errno, "vmm jail: securebits");
    int last = capsa_caps_last_cap();
    for (int c = 0; c <= last; c++)
        if (prctl(PR_CAPBSET_DROP, (unsigned long)c, 0, 0, 0) < 0 && errno != EINVAL)
            return capsa_err_set(err, errno, "vmm jail: drop capability %d from the bounding set",
                                 c);
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
        return capsa_err_set(err, errno, "vmm jail: clear ambient capabilities");
    struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct d[2];
    memset(d, 0, sizeof(d));
    if (syscall(SYS_capset, &h, d) < 0)
        return capsa_err_set(err, errno, "vmm jail: capset");
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return capsa_err_set(err, errno, "vmm jail: no_new_privs");
    return 0;
}

/* In the child: build the jail and exec QEMU; on failure the error goes to
 * errfd and the child exits. */
__attribute__((noreturn)) static void jail_exec(struct jail *j)
{
    struct capsa_err err = {0};
    int errfd = j->errfd;
    static char path_env[] = "PATH=/usr/bin";
    char *const envp[] = {path_env, NULL};
    if (setsid() < 0)
        capsa_err_set(&err, errno, "vmm jail: setsid");
    else if (build_root(j, &err) == 0 && place_fds(j, &errfd, &err) == 0 &&
             drop_privileges(&err) == 0) {
        execve(j->argv[0], j->argv, envp);
        capsa_err_set(&err, errno, "vmm jail: exec %s", j->argv[0]);
    }
    (void)capsa_write_all(errfd, &err, sizeof(err));
    _exit(127);
}

/* Start f(arg) in a child (in new namespaces when flags say so); its pid in
 * *pid. Before it execs, the child reports a failure through a pipe, which
 * this reads: 0 means it exec'd. */
static int spawn(uint64_t flags, void (*f)(void *, int), void *arg, pid_t *pid,
                 struct capsa_err *err)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return capsa_err_set(err, errno, "vmm: pipe");
    struct clone_args ca = {.flags = flags, .exit_signal = SIGCHLD};
    pid_t c = capsa_clone3(&ca);
    if (c < 0) {
        int e = errno;
        close(p[0]);
        close(p[1]);
        return capsa_err_set(err, e, "vmm: clone3");
    }
    if (c == 0) {
        close(p[0]);
        f(arg, p[1]);
        _exit(127);
    }
    close(p[1]);
    *pid = c;
    struct capsa_err child;
    ssize_t n = capsa_read_all(p[0], &child, sizeof(child));
    close(p[0]);
    if (n == 0)
        return 0;
    if (n == (ssize_t)sizeof(child)) {
        child.msg[sizeof(child.msg) - 1] = '\0';
        *err = child;
        return capsa_err_ret(err);
    }
    return capsa_err_setx(err, EIO, "vmm: the child failed before exec");
}

static void qemu_child(void *arg, int errfd)
{
    struct jail *j = arg;
    j->errfd = errfd;
    jail_exec(j);
}

struct fsd {
    const char *path, *share;
    int listen_fd, log;
};

static void fsd_child(void *arg, int errfd)
{
    const struct fsd *f = arg;
    struct capsa_err err = {0};
    char src[PATH_MAX + 64];
    snprintf(src, sizeof(src), "source=%s,sandbox=namespace,cache=auto,xattr,log_level=warn",
             f->share);
    char *const argv[] = {(char *)f->path, (char *)"--fd=3", (char *)"-o", src, NULL};
    static char *const envp[] = {NULL};
    int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
    int l = fcntl(f->listen_fd, F_DUPFD_CLOEXEC, 16), g = fcntl(f->log, F_DUPFD_CLOEXEC, 16);
    if (setsid() < 0 || nul < 0 || l < 0 || g < 0 || dup2(nul, 0) < 0 || dup2(g, 1) < 0 ||
        dup2(g, 2) < 0 || dup2(l, 3) < 0 || capsa_close_range(4, ~0U, CLOSE_RANGE_CLOEXEC) < 0) {
        capsa_err_set(&err, errno, "virtiofsd: setting up its fds");
    } else {
        execve(f->path, argv, envp);
        capsa_err_set(&err, errno, "virtiofsd: exec %s", f->path);
    }
    (void)capsa_write_all(errfd, &err, sizeof(err));
    _exit(127);
}

/* ---- QMP ------------------------------------------------------------------ */

/* Read one line (up to \n) into buf; -EIO at EOF. */
static int read_line(int fd, char *buf, size_t len, struct capsa_err *err)
{
    size_t n = 0;
    for (;;) {
        char c;
        ssize_t r = read(fd, &c, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return capsa_err_set(err, errno, "QMP: read");
        if (r == 0)
            return capsa_err_setx(err, EIO, "QMP: the VMM closed the connection");
        if (c == '\n') {
            buf[n] = '\0';
            return 0;
        }
        if (n + 1 < len)
            buf[n++] = c;
    }
}

/* Send one command and wait for its answer, skipping events. */
static int qmp_exec(int fd, const char *cmd, struct capsa_err *err)
{
    char line[4096];
    snprintf(line, sizeof(line), "{\"execute\":\"%s\"}\n", cmd);
    int r = capsa_write_all(fd, line, strlen(line));
    if (r < 0)
        return capsa_err_set(err, -r, "QMP: %s", cmd);
    for (;;) {
        r = read_line(fd, line, sizeof(line), err);
        if (r < 0)
            return r;
        if (strncmp(line, "{\"return\"", 9) == 0)
            return 0;
        if (strncmp(line, "{\"error\"", 8) == 0)
            return capsa_err_setx(err, EIO, "QMP: %s: %.200s", cmd, line);
    }
}

/* Connect to the VM's QMP socket, negotiate, and run cmd (NULL: none). */
static int qmp_run(const char *state_dir, const char *cmd, struct capsa_err *err)
{
    char p[PATH_MAX], line[4096];
    cleanup_close int fd = -1;
    int r = capsa_vm_state_path(state_dir, CAPSA_VM_QMP_SOCK, p, sizeof(p), err);
    if (r == 0)
        r = capsa_vm_connect(p, &fd, err);
    if (r == 0)
        r = read_line(fd, line, sizeof(line), err);
    if (r == 0 && strncmp(line, "{\"QMP\"", 6) != 0)
        r = capsa_err_setx(err, EPROTO, "QMP: unexpected greeting %.100s", line);
    if (r == 0)
        r = qmp_exec(fd, "qmp_capabilities", err);
    if (r == 0 && cmd)
        r = qmp_exec(fd, cmd, err);
    return r;
}

static int qemu_pause(const struct capsa_vm *vm, struct capsa_err *err)
{
    int r = qmp_run(vm->state_dir, "stop", err);
    return r < 0 ? capsa_err_wrap(err, "pause the VM (QEMU pid %d)", (int)vm->vmm_pid) : 0;
}

static int qemu_resume(const struct capsa_vm *vm, struct capsa_err *err)
{
    int r = qmp_run(vm->state_dir, "cont", err);
    return r < 0 ? capsa_err_wrap(err, "resume the VM (QEMU pid %d)", (int)vm->vmm_pid) : 0;
}

/* ---- lifecycle ------------------------------------------------------------ */

static int qemu_kill(const struct capsa_vm *vm, int sig, struct capsa_err *err)
{
    if (vm->vmm_pid <= 0)
        return capsa_err_setx(err, ESRCH, "the VM's QEMU is not running");
    int pfd = capsa_pidfd_open(vm->vmm_pid, 0);
    if (pfd < 0)
        return capsa_err_set(err, errno, "signal QEMU (pid %d)", (int)vm->vmm_pid);
    int r = capsa_pidfd_send_signal(pfd, sig, 0);
    int e = errno;
    close(pfd);
    return r < 0 ? capsa_err_set(err, e, "signal QEMU (pid %d)", (int)vm->vmm_pid) : 0;
}

static int qemu_wait(struct capsa_vm *vm, int *status, struct capsa_err *err)
{
    if (vm->vmm_pid <= 0)
        return capsa_err_setx(err, ECHILD, "the VM's QEMU was already waited for");
    for (;;) {
        pid_t r = waitpid(vm->vmm_pid, status, 0);
        if (r == vm->vmm_pid)
            break;
        if (r < 0 && errno != EINTR)
            return capsa_err_set(err, errno, "wait for QEMU (pid %d)", (int)vm->vmm_pid);
    }
    vm->vmm_pid = 0;
    return 0;
}

/* Kill pid (ours or not) and wait until it is gone. */
static void end_process(pid_t *pid)
{
    if (*pid <= 0)
        return;
    int saved = errno;
    int pfd = capsa_pidfd_open(*pid, 0);
    if (pfd >= 0) {
        (void)capsa_pidfd_send_signal(pfd, SIGKILL, 0);
        /* Our child: reap it. Not ours (a later capsa process): wait on the
         * pidfd until it has exited. */
        pid_t r;
        while ((r = waitpid(*pid, NULL, 0)) < 0 && errno == EINTR)
            ;
        if (r < 0) {
            struct pollfd p = {.fd = pfd, .events = POLLIN};
            while (poll(&p, 1, -1) < 0 && errno == EINTR)
                ;
        }
        close(pfd);
    } else {
        while (waitpid(*pid, NULL, WNOHANG) < 0 && errno == EINTR)
            ;
    }
    *pid = 0;
    errno = saved;
}

static void qemu_cleanup(struct capsa_vm *vm)
{
    end_process(&vm->vmm_pid);
    end_process(&vm->fsd_pid);
    static const char *const files[] = {CAPSA_VM_AGENT_SOCK, CAPSA_VM_QMP_SOCK, FS_SOCK,
                                        CAPSA_VM_CONSOLE};
    char p[PATH_MAX];
    struct capsa_err ignored;
    for (size_t i = 0; vm->state_dir[0] && i < ARRAY_SIZE(files); i++)
        if (capsa_vm_state_path(vm->state_dir, files[i], p, sizeof(p), &ignored) == 0)
            (void)unlink(p);
}

static int check_file(const char *what, const char *path, mode_t type, int amode,
                      struct capsa_err *err)
{
    struct stat st;
    if (path == NULL || path[0] != '/')
        return capsa_err_setx(err, EINVAL, "%s: %s", what,
                              path ? "not an absolute path" : "not given");
    if (stat(path, &st) < 0)
        return capsa_err_set(err, errno, "%s %s", what, path);
    if ((st.st_mode & S_IFMT) != type)
        return capsa_err_setx(err, EINVAL, "%s %s: not a %s", what, path,
                              type == S_IFDIR ? "directory" : "regular file");
    if (access(path, amode) < 0)
        return capsa_err_set(err, errno, "%s %s", what, path);
    return 0;
}

static int check_config(const struct capsa_vmm_config *cfg, const char *qemu, const char *fsd,
                        struct capsa_err *err)
{
    int r = check_file("vm state directory", cfg->state_dir, S_IFDIR, W_OK, err);
    if (r == 0)
        r = check_file("guest kernel", cfg->kernel, S_IFREG, R_OK, err);
    if (r == 0)
        r = check_file("vm initramfs", cfg->initramfs, S_IFREG, R_OK, err);
    if (r == 0)
        r = check_file("vm shared directory", cfg->share_dir, S_IFDIR, R_OK, err);
    if (r == 0)
        r = opt_safe("vm shared directory", cfg->share_dir, false, err);
    if (r == 0 && (cfg->mem_mib < 64 || cfg->mem_mib > (1u << 20)))
        r = capsa_err_setx(err, EINVAL, "vm memory: %u MiB is out of range (64 MiB..1 TiB)",
                           cfg->mem_mib);
    if (r == 0 && cfg->n_nics > CAPSA_VMM_NIC_MAX)
        r = capsa_err_setx(err, EINVAL, "vm NICs: %zu, at most %d", cfg->n_nics, CAPSA_VMM_NIC_MAX);
    if (r == 0 && (cfg->vcpus < 1 || cfg->vcpus > 255))
        r = capsa_err_setx(err, EINVAL, "vm vCPUs: %u is out of range (1..255)", cfg->vcpus);
    if (r == 0)
        r = check_file("QEMU (qemu-system-x86 package)", qemu, S_IFREG, X_OK, err);
    /* It runs inside the jail, which has only /usr of the host. */
    if (r == 0 && strncmp(qemu, "/usr/", 5) != 0)
        r = capsa_err_setx(err, EINVAL, "QEMU %s: must be under /usr (the jail has only /usr)",
                           qemu);
    if (r == 0)
        r = check_file("virtiofsd (qemu-system-common package)", fsd, S_IFREG, X_OK, err);
    return r;
}

/* The last lines of the console log, for an error when QEMU died early. */
static void log_tail(const char *state_dir, char *out, size_t len)
{
    char p[PATH_MAX];
    struct capsa_err ignored;
    cleanup_free char *buf = NULL;
    size_t n = 0;
    out[0] = '\0';
    if (capsa_vm_state_path(state_dir, CAPSA_VM_CONSOLE, p, sizeof(p), &ignored) < 0 ||
        capsa_read_file_at(AT_FDCWD, p, 1u << 20, &buf, &n, &ignored) < 0)
        return;
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    const char *s = n > 300 ? buf + n - 300 : buf;
    snprintf(out, len, "%s", s);
    for (char *c = out; *c; c++)
        if (*c == '\n' || *c == '\r')
            *c = ' ';
}

static int qemu_boot(const struct capsa_vmm_config *cfg, struct capsa_vm *vm, struct capsa_err *err)
{
    memset(vm, 0, sizeof(*vm));
    vm->ops = &capsa_vmm_qemu;
    const char *qemu = cfg->vmm_path ? cfg->vmm_path : QEMU_DEFAULT;
    const char *fsdp = cfg->fsd_path ? cfg->fsd_path : VIRTIOFSD_DEFAULT;

    /* KVM first: without it (and without consent to TCG) nothing starts. */
    struct capsa_err kerr = {0};
    bool kvm = cfg->kvm >= 0 ? cfg->kvm > 0 : capsa_vmm_kvm_available(&kerr) == 1;
    if (!kvm && !cfg->allow_tcg)
        return capsa_err_setx(err, ENODEV,
                              "the vm level needs KVM, and /dev/kvm is not usable here%s%s; "
                              "software emulation (TCG) is no security boundary, so it runs "
                              "only when allowed explicitly (--allow-tcg)",
                              kerr.msg[0] ? ": " : "", kerr.msg);
    vm->tcg = !kvm;
    int r = check_config(cfg, qemu, fsdp, err);
    if (r < 0)
        return r;
    if (snprintf(vm->state_dir, sizeof(vm->state_dir), "%s", cfg->state_dir) >=
        (int)sizeof(vm->state_dir))
        return capsa_err_setx(err, ENAMETOOLONG, "vm state directory: path too long");

    struct argv a = {0};
    r = qemu_argv(cfg, qemu, kvm, &a, err);
    char log_path[PATH_MAX], qmp_path[PATH_MAX], agent_path[PATH_MAX], fs_path[PATH_MAX];
    if (r == 0)
        r = capsa_vm_state_path(cfg->state_dir, CAPSA_VM_CONSOLE, log_path, sizeof(log_path), err);
    if (r == 0)
        r = capsa_vm_state_path(cfg->state_dir, CAPSA_VM_QMP_SOCK, qmp_path, sizeof(qmp_path), err);
    if (r == 0)
        r = capsa_vm_state_path(cfg->state_dir, CAPSA_VM_AGENT_SOCK, agent_path, sizeof(agent_path),
                                err);
    if (r == 0)
        r = capsa_vm_state_path(cfg->state_dir, FS_SOCK, fs_path, sizeof(fs_path), err);
    if (r < 0) {
        argv_free(&a);
        return r;
    }

    cleanup_close int log = -1, qmp = -1, agent = -1, fs_listen = -1, fs = -1;
    log = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (log < 0)
        r = capsa_err_set(err, errno, "vm console log %s", log_path);
    if (r == 0)
        r = capsa_vm_listen(qmp_path, &qmp, err);
    if (r == 0)
        r = capsa_vm_listen(agent_path, &agent, err);
    /* virtiofsd accepts on a socket we bind; we connect (the connection
     * waits in its backlog) and hand our end to QEMU, then remove the path:
     * no one else can reach virtiofsd, and QEMU needs no path. */
    if (r == 0)
        r = capsa_vm_listen(fs_path, &fs_listen, err);
    if (r == 0) {
        struct fsd f = {.path = fsdp, .share = cfg->share_dir, .listen_fd = fs_listen, .log = log};
        r = spawn(0, fsd_child, &f, &vm->fsd_pid, err);
    }
    if (r == 0)
        r = capsa_vm_connect(fs_path, &fs, err);
    if (r == 0) {
        (void)unlink(fs_path);
        capsa_close(&fs_listen);
        struct jail j = {.root = cfg->state_dir,
                         .kernel = cfg->kernel,
                         .initrd = cfg->initramfs,
                         .kvm = kvm,
                         .qmp = qmp,
                         .agent = agent,
                         .fs = fs,
                         .log = log,
                         .errfd = -1,
                         .nics = cfg->nics,
                         .n_nics = cfg->n_nics,
                         .argv = a.v};
        r = spawn(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS |
                      CLONE_NEWCGROUP,
                  qemu_child, &j, &vm->vmm_pid, err);
    }
    argv_free(&a);
    /* QEMU answers on QMP once its machine is built and its devices are
     * connected (virtiofsd included): then it is up. */
    if (r == 0) {
        capsa_close(&qmp);
        capsa_close(&agent);
        capsa_close(&fs);
        r = qmp_run(cfg->state_dir, NULL, err);
        if (r < 0) {
            char tail[320];
            log_tail(cfg->state_dir, tail, sizeof(tail));
            r = capsa_err_wrap(err, "QEMU did not come up%s%s%s", tail[0] ? " (console: " : "",
                               tail, tail[0] ? ")" : "");
        }
    }
    if (r < 0)
        qemu_cleanup(vm);
    return r;
}

const struct capsa_vmm_ops capsa_vmm_qemu = {
    .name = "qemu",
    .boot = qemu_boot,
    .pause = qemu_pause,
    .resume = qemu_resume,
    .kill = qemu_kill,
    .wait = qemu_wait,
    .cleanup = qemu_cleanup,
};
