/* vmping.c - a stand-in for the vm guest agent in tests: PID 1 of the
 * initramfs the vm level builds (tests/integration/vm_boot.bats). It mounts
 * /proc, /sys and /dev, loads the modules /modules.order lists
 * (finit_module), mounts the virtio-fs tag capsa-rootfs on /mnt, opens the
 * virtio-serial port named capsa.agent and writes one line:
 *   VMPING release=<uname -r> hello=<share/hello.txt> up=<...> dotdot=<...>
 * where up and dotdot are what reading the host path named in
 * share/probe.txt gave through the planted symlink share/up (-> /) and
 * through /mnt/../.. (the content's first line, or "error:<errno>"). Then it
 * waits for a line from the host, writes share/from-guest.txt and powers
 * the VM off. Any failure is printed on the console and powers off too. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

static void poweroff(void)
{
    sync();
    reboot(RB_POWER_OFF);
    for (;;)
        pause();
}

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "vmping: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, ": %s\n", strerror(errno));
    va_end(ap);
    poweroff();
}

/* The first line of path, or "error:<errno name>". */
static void first_line(const char *path, char *out, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(out, len, "error:%d", errno);
        return;
    }
    ssize_t n = read(fd, out, len - 1);
    close(fd);
    if (n < 0) {
        snprintf(out, len, "error:%d", errno);
        return;
    }
    out[n] = '\0';
    out[strcspn(out, "\n")] = '\0';
}

static void load_modules(void)
{
    FILE *f = fopen("/modules.order", "re");
    if (f == NULL)
        die("/modules.order");
    char line[512];
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = '\0';
        if (line[0] == '\0')
            continue;
        int fd = open(line, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            die("open %s", line);
        if (syscall(SYS_finit_module, fd, "", 0) < 0 && errno != EEXIST)
            die("finit_module %s", line);
        close(fd);
    }
    fclose(f);
}

/* /dev/vportNpM of the port named name: its name arrives from the host
 * after the driver probed, so look until it shows. */
static int open_port(const char *name)
{
    for (int tries = 0; tries < 3000; tries++) {
        DIR *d = opendir("/sys/class/virtio-ports");
        struct dirent *e;
        while (d && (e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            char p[512], got[128];
            snprintf(p, sizeof(p), "/sys/class/virtio-ports/%s/name", e->d_name);
            first_line(p, got, sizeof(got));
            if (strcmp(got, name) == 0) {
                snprintf(p, sizeof(p), "/dev/%s", e->d_name);
                closedir(d);
                int fd = open(p, O_RDWR | O_CLOEXEC);
                if (fd < 0)
                    die("open %s", p);
                return fd;
            }
        }
        if (d)
            closedir(d);
        usleep(10000);
    }
    errno = ENOENT;
    die("no virtio port named %s", name);
    return -1;
}

/* A broken guest agent for the host side's error paths (vm_level.bats),
 * when share/vmbad.txt (or share/rootfs/vmbad.txt) names one: "die" powers off before saying
 * anything, "garbage" sends a frame header claiming 4 GiB, "hello99" sends a well-formed HELLO of
 * protocol version 99. Then it waits for the host to hang up. */
static void bad_agent(int port)
{
    char mode[64];
    /* Under the vm level the share holds the rootfs in rootfs/. */
    first_line("/mnt/rootfs/vmbad.txt", mode, sizeof(mode));
    if (strncmp(mode, "error:", 6) == 0)
        first_line("/mnt/vmbad.txt", mode, sizeof(mode));
    if (strncmp(mode, "error:", 6) == 0)
        return; /* no such file: vmping as usual */
    if (strcmp(mode, "die") == 0)
        poweroff();
    if (strcmp(mode, "garbage") == 0) {
        static const unsigned char junk[] = {0xff, 0xff, 0xff, 0xff, 1, 0, 0, 0, 0};
        if (write(port, junk, sizeof(junk)) != (ssize_t)sizeof(junk))
            die("write to the port");
    } else if (strcmp(mode, "hello99") == 0) {
        /* u32 len, u8 HELLO, u32 id 0, u32 magic "CPSA", u32 version 99, str "x" */
        static const unsigned char hello[] = {19,   0,  0, 0, 1, 0, 0, 0, 0, 0x43, 0x50, 0x53,
                                              0x41, 99, 0, 0, 0, 2, 0, 0, 0, 'x',  0};
        if (write(port, hello, sizeof(hello)) != (ssize_t)sizeof(hello))
            die("write to the port");
    } else {
        fprintf(stderr, "vmping: unknown vmbad mode %s\n", mode);
        poweroff();
    }
    char c;
    while (read(port, &c, 1) == 1)
        ;
    poweroff();
}

int main(void)
{
    if (mount("proc", "/proc", "proc", 0, NULL) < 0 ||
        mount("sysfs", "/sys", "sysfs", 0, NULL) < 0 ||
        mount("devtmpfs", "/dev", "devtmpfs", 0, NULL) < 0)
        die("mount /proc, /sys, /dev");
    int con = open("/dev/console", O_WRONLY | O_CLOEXEC);
    if (con >= 0) {
        dup2(con, 1);
        dup2(con, 2);
    }
    load_modules();
    int port = open_port("capsa.agent");
    int tries = 0;
    while (mount("capsa-rootfs", "/mnt", "virtiofs", 0, NULL) < 0) {
        if (++tries > 3000)
            die("mount virtiofs capsa-rootfs");
        usleep(10000);
    }

    bad_agent(port);

    struct utsname u;
    uname(&u);
    char hello[256], probe[256], up[512], dotdot[512], p[1024];
    first_line("/mnt/hello.txt", hello, sizeof(hello));
    first_line("/mnt/probe.txt", probe, sizeof(probe));
    snprintf(p, sizeof(p), "/mnt/up%s", probe);
    first_line(p, up, sizeof(up));
    snprintf(p, sizeof(p), "/mnt/../../../..%s", probe);
    first_line(p, dotdot, sizeof(dotdot));
    char line[2048];
    int n = snprintf(line, sizeof(line), "VMPING release=%s hello=%s up=%s dotdot=%s\n", u.release,
                     hello, up, dotdot);
    if (write(port, line, (size_t)n) != n)
        die("write to the port");

    /* Wait for the host's go-ahead (a line) before finishing. */
    char c;
    while (read(port, &c, 1) == 1 && c != '\n')
        ;
    int fd = open("/mnt/from-guest.txt", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        die("create /mnt/from-guest.txt");
    const char msg[] = "written in the guest\n";
    if (write(fd, msg, sizeof(msg) - 1) != (ssize_t)sizeof(msg) - 1 || fsync(fd) < 0)
        die("write /mnt/from-guest.txt");
    close(fd);
    umount("/mnt");
    poweroff();
}
