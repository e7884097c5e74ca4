/* level.c - the vm level's table entry: the workload runs in a virtual
 * machine, the VMM in the native container.
 *
 * create, runtime side (host_prepare): choose the guest kernel, get the
 * initramfs around the guest agent, boot the VM (vmm.h) on the container's
 * rootfs, move the VMM and its virtio-fs daemon into the container's cgroup
 * (whose memory limit grows by the VMM's overhead), greet the agent and send
 * it CREATE with config.json as read: `create` returns once the agent has
 * created the inner container (LightVM's split toolstack). The agent channel
 * goes to the init as its level fd.
 *
 * The host-side init is a stand-in for the guest's workload (child_start):
 * it sends START, relays its stdio, forwards the signals it gets (what
 * `capsa kill` sends) as SIGNAL, and on EXIT exits with the workload's
 * status. Its pid is the container's, its root the bundle rootfs (which only
 * virtiofsd serves to the guest), and the config's confinement applies to
 * it as to a native workload. When it dies, the channel closes and the agent
 * powers the guest off; `delete` kills the cgroup, QEMU and virtiofsd with
 * it. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <jansson.h>

#include "level/vm/image.h"
#include "level/vm/proto.h"
#include "level/vm/vm.h"
#include "level/vm/vmm.h"
#include "linux/cgroup.h"
#include "linux/process.h"
#include "sys/sys.h"
#include "util/util.h"

#define REQ_CREATE   1u
#define REQ_START    2u
#define REQ_SHUTDOWN 3u
#define REQ_SIGNAL   4u
#define WORKLOAD     1u /* the process id of the container's init in the guest */

/* ---- the channel ------------------------------------------------------- */

static int send_msg(int fd, const struct capsa_vm_msg *m, struct capsa_err *err)
{
    struct capsa_vm_buf b = {0};
    int r = capsa_vm_encode(m, &b, err);
    if (r == 0 && (r = capsa_write_all(fd, b.data + b.off, capsa_vm_buf_pending(&b))) < 0)
        r = capsa_err_set(err, -r, "vm: write %s to the agent channel",
                          capsa_vm_type_name(m->type));
    capsa_vm_buf_free(&b);
    return r;
}

/* Read into rd until a frame is complete; -EPIPE when the channel closed. */
static int fill(int fd, struct capsa_vm_reader *rd, struct capsa_err *err)
{
    uint8_t buf[16384];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return capsa_err_set(err, errno, "vm: read the agent channel");
        if (n == 0)
            return capsa_err_setx(err, EPIPE, "vm: the agent channel closed");
        return capsa_vm_reader_feed(rd, buf, (size_t)n, err);
    }
}

static int recv_msg(int fd, struct capsa_vm_reader *rd, struct capsa_vm_msg *m,
                    struct capsa_err *err)
{
    for (;;) {
        int r = capsa_vm_reader_next(rd, m, NULL, err);
        if (r != 0)
            return r < 0 ? r : 0;
        if ((r = fill(fd, rd, err)) < 0)
            return r;
    }
}

/* The answer to request id: OK (its pid in *pid), or the agent's ERROR. */
static int recv_reply(int fd, struct capsa_vm_reader *rd, uint32_t id, const char *what,
                      struct capsa_err *err)
{
    struct capsa_vm_msg m;
    int r = recv_msg(fd, rd, &m, err);
    if (r < 0)
        return capsa_err_wrap(err, "vm: waiting for the agent's answer to %s", what);
    if (m.type == CAPSA_VM_ERROR)
        return capsa_err_setx(err, m.errnum ? (int)m.errnum : EIO, "vm: the guest agent: %s: %s",
                              what, m.message);
    if (m.type != CAPSA_VM_OK || m.id != id)
        return capsa_err_setx(err, EPROTO, "vm: the guest agent answered %s with %s (id %u)", what,
                              capsa_vm_type_name(m.type), m.id);
    return 0;
}

/* ---- create, runtime side ---------------------------------------------- */

static int vm_validate(const struct capsa_spec *spec, struct capsa_err *err)
{
    /* The agent mounts the share at <its bundle>/rootfs. */
    const char *rp = spec->root_path;
    if (rp == NULL ||
        (strcmp(rp, "rootfs") != 0 && strcmp(rp, "rootfs/") != 0 && strcmp(rp, "./rootfs") != 0))
        return capsa_err_setx(err, EINVAL,
                              "root.path: the vm level needs the rootfs at \"rootfs\" in the "
                              "bundle, not \"%s\"",
                              rp ? rp : "(none)");
    for (size_t i = 0; i < spec->linux_cfg.n_namespaces; i++)
        if (spec->linux_cfg.namespaces[i].path != NULL)
            return capsa_err_setx(err, ENOTSUP,
                                  "linux.namespaces: the vm level cannot join a namespace "
                                  "(%s): the container's namespaces are the guest's",
                                  spec->linux_cfg.namespaces[i].path);
    struct capsa_vm_size sz;
    return capsa_vm_size_from(&spec->linux_cfg.resources, &sz, err);
}

/* capsa-agent next to our own binary (the path we were executed as:
 * /proc/self/exe names the protected copy, selfexe.h), else the installed
 * one. */
static int agent_path(char *out, size_t len, struct capsa_err *err)
{
    const char *execfn = (const char *)getauxval(AT_EXECFN);
    char self[PATH_MAX];
    if (execfn != NULL && realpath(execfn, self) != NULL) {
        char *slash = strrchr(self, '/');
        if (slash) {
            *slash = '\0';
            if ((size_t)snprintf(out, len, "%s/capsa-agent", self) < len && access(out, X_OK) == 0)
                return 0;
        }
    }
    snprintf(out, len, "%s", CAPSA_VM_AGENT_DEFAULT);
    if (access(out, X_OK) < 0)
        return capsa_err_set(err, errno,
                             "vm: the guest agent: neither capsa-agent next to capsa nor %s",
                             CAPSA_VM_AGENT_DEFAULT);
    return 0;
}

/* The last lines of the guest's console, for an error. */
static void console_tail(const char *state_dir, struct capsa_err *err)
{
    char path[PATH_MAX + 16], buf[1024];
    snprintf(path, sizeof path, "%s/%s", state_dir, CAPSA_VM_CONSOLE);
    cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0)
        return;
    off_t off = st.st_size > (off_t)sizeof buf - 1 ? st.st_size - (off_t)sizeof buf + 1 : 0;
    ssize_t n = pread(fd, buf, sizeof buf - 1, off);
    if (n <= 0)
        return;
    buf[n] = '\0';
    capsa_err_wrap(err, "the guest's console (%s) ends with:\n%s\n", path, buf);
}

/* The VMM and virtiofsd into the container's cgroup, a second fence around
 * them; its memory limit (the guest's RAM) grows by the VMM's overhead. */
static int vm_to_cgroup(const struct capsa_level_host *h, const struct capsa_vm *vm,
                        const struct capsa_vm_size *sz, struct capsa_err *err)
{
    if (h->cgroup == NULL)
        return 0;
    struct capsa_cgroup *cg = NULL;
    int r = capsa_cgroup_decode(h->cgroup, &cg, err);
    const struct capsa_memory *mem = &h->spec->linux_cfg.resources.memory;
    if (r == 0 && mem->has_limit && mem->limit > 0) {
        struct capsa_resources res = {0};
        res.has_memory = true;
        res.memory.has_limit = true;
        res.memory.limit = (int64_t)sz->host_mem_bytes;
        if (mem->has_swap && mem->swap > 0) {
            res.memory.has_swap = true;
            res.memory.swap = mem->swap + (int64_t)CAPSA_VM_OVERHEAD_MIB * 1024 * 1024;
        }
        r = capsa_cgroup_apply(cg, &res, NULL, NULL, err);
    }
    if (r == 0)
        r = capsa_cgroup_enter(cg, vm->vmm_pid, true, true, err);
    if (r == 0 && vm->fsd_pid > 0)
        r = capsa_cgroup_enter(cg, vm->fsd_pid, true, true, err);
    capsa_cgroup_free(cg);
    return r < 0 ? capsa_err_wrap(err, "vm: the VMM into the container's cgroup") : 0;
}

/* The config the guest gets: the one read, less the annotation that chose
 * this level (in the guest, the container runs natively: the VM is the
 * level). *out is heap memory. */
static int guest_config(const struct capsa_level_host *h, char **out, size_t *len,
                        struct capsa_err *err)
{
    json_error_t je;
    json_t *root = json_loadb(h->config_raw, h->config_len, 0, &je);
    if (root == NULL)
        return capsa_err_setx(err, EINVAL, "vm: config.json: %s", je.text);
    json_t *ann = json_object_get(root, "annotations");
    if (json_is_object(ann))
        (void)json_object_del(ann, CAPSA_LEVEL_ANNOTATION);
    *out = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (*out == NULL)
        return capsa_err_set(err, ENOMEM, "vm: the guest's config");
    *len = strlen(*out);
    return 0;
}

/* HELLO both ways, then CREATE with the config as read (guest_config). */
static int agent_create(const struct capsa_level_host *h, int ch, struct capsa_err *err)
{
    char *cfg = NULL;
    size_t cfglen = 0;
    int r = guest_config(h, &cfg, &cfglen, err);
    if (r < 0)
        return r;
    struct capsa_vm_reader rd = {0};
    struct capsa_vm_msg m;
    r = recv_msg(ch, &rd, &m, err);
    if (r < 0)
        r = capsa_err_wrap(err, "vm: waiting for the guest agent's HELLO");
    else if (m.type != CAPSA_VM_HELLO || m.magic != CAPSA_VM_MAGIC || m.version != CAPSA_VM_VERSION)
        r = capsa_err_setx(err, EPROTO,
                           "vm: the guest agent sent %s (version %u) where HELLO version %u "
                           "was due",
                           capsa_vm_type_name(m.type), m.version, CAPSA_VM_VERSION);
    if (r == 0) {
        struct capsa_vm_msg hello = {.type = CAPSA_VM_HELLO,
                                     .magic = CAPSA_VM_MAGIC,
                                     .version = CAPSA_VM_VERSION,
                                     .info = "capsa"};
        struct capsa_vm_msg create = {.type = CAPSA_VM_CREATE,
                                      .id = REQ_CREATE,
                                      .cid = h->id,
                                      .proc = WORKLOAD,
                                      .data = (const uint8_t *)cfg,
                                      .len = (uint32_t)cfglen,
                                      .bundle = CAPSA_VM_GUEST_BUNDLE};
        if ((r = send_msg(ch, &hello, err)) == 0 && (r = send_msg(ch, &create, err)) == 0)
            r = recv_reply(ch, &rd, REQ_CREATE, "CREATE", err);
    }
    /* The agent says nothing more before START: no byte is left in rd. */
    capsa_vm_reader_free(&rd);
    free(cfg);
    return r;
}

static int state_dir_path(int dirfd, char *out, size_t len, struct capsa_err *err)
{
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", dirfd);
    ssize_t n = readlink(link, out, len - 1);
    if (n < 0 || (size_t)n >= len - 1)
        return capsa_err_set(err, n < 0 ? errno : ENAMETOOLONG, "vm: the state directory's path");
    out[n] = '\0';
    return 0;
}

static int vm_host_prepare(struct capsa_level_host *h, struct capsa_err *err)
{
    if (h->exec)
        return 0; /* refused by vm_exec_allowed */
    /* Refused before anything starts: no KVM is no boundary. */
    struct capsa_err kerr = {0};
    if (!h->allow_tcg && capsa_vmm_kvm_available(&kerr) != 1)
        return capsa_err_setx(err, ENODEV,
                              "vm: the vm level needs KVM, and %s; software emulation (TCG) is "
                              "no security boundary and is used only when allowed (--allow-tcg, "
                              "or allow_tcg = true in the configuration file)",
                              kerr.msg[0] ? kerr.msg : "/dev/kvm is not usable");
    struct capsa_vm_size sz;
    int r = capsa_vm_size_from(&h->spec->linux_cfg.resources, &sz, err);
    if (r < 0)
        return r;
    char agent[PATH_MAX], state[PATH_MAX];
    if ((r = agent_path(agent, sizeof agent, err)) < 0 ||
        (r = state_dir_path(h->state_dirfd, state, sizeof state, err)) < 0)
        return r;
    struct capsa_vm_kernel k;
    if (capsa_vm_kernel_find(NULL, NULL, NULL, &k, err) < 0)
        return capsa_err_wrap(err, "vm: the guest kernel");
    static const char *const wanted[] = CAPSA_VM_MODULES;
    struct capsa_vm_modules mods;
    if (capsa_vm_modules_resolve(&k, wanted, &mods, err) < 0)
        return capsa_err_wrap(err, "vm: the guest kernel's modules");
    char *initrd = NULL;
    r = capsa_vm_initramfs_get(NULL, agent, &mods, &initrd, NULL, err);
    capsa_vm_modules_free(&mods);
    if (r < 0)
        return capsa_err_wrap(err, "vm: the initramfs");
    struct capsa_vmm_config cfg = {.kernel = k.path,
                                   .initramfs = initrd,
                                   .mem_mib = sz.mem_mib,
                                   .vcpus = sz.vcpus,
                                   .share_dir = h->rootfs,
                                   .state_dir = state,
                                   .allow_tcg = h->allow_tcg,
                                   .kvm = -1};
    struct capsa_vm vm;
    r = capsa_vmm_qemu.boot(&cfg, &vm, err);
    free(initrd);
    if (r < 0)
        return capsa_err_wrap(err, "vm: boot");
    int ch = -1;
    if ((r = vm_to_cgroup(h, &vm, &sz, err)) == 0 &&
        (r = capsa_vm_channel_connect(&vm, &ch, err)) == 0 && (r = agent_create(h, ch, err)) == 0)
        r = capsa_proc_start_time(vm.vmm_pid, &h->helper_start, NULL);
    if (r < 0) {
        console_tail(state, err);
        capsa_close(&ch);
        vm.ops->cleanup(&vm);
        return r;
    }
    h->helper_pid = vm.vmm_pid;
    h->child_fd = ch;
    return 0;
}

/* ---- the init: a stand-in for the guest's workload --------------------- */

static int vm_child_prepare(struct capsa_level_child *c, bool *execs, struct capsa_err *err)
{
    *execs = false;
    if (c->level_fd < 0)
        return capsa_err_setx(err, EBADF, "vm: no agent channel");
    return 0;
}

static const int forwarded[] = {SIGHUP,  SIGINT,  SIGQUIT, SIGUSR1, SIGUSR2,
                                SIGTERM, SIGALRM, SIGCONT, SIGTSTP, SIGWINCH};

struct relay {
    int ch;
    const char *id;
    struct capsa_vm_reader rd;
    bool stdin_open, tty, exited;
    uint32_t how, code;
};

static int send_resize(struct relay *x, struct capsa_err *err)
{
    struct winsize ws;
    if (!x->tty || ioctl(0, TIOCGWINSZ, &ws) < 0)
        return 0;
    struct capsa_vm_msg m = {
        .type = CAPSA_VM_RESIZE, .id = WORKLOAD, .rows = ws.ws_row, .cols = ws.ws_col};
    return send_msg(x->ch, &m, err);
}

static int on_signal(struct relay *x, int sfd, struct capsa_err *err)
{
    struct signalfd_siginfo si;
    ssize_t n = read(sfd, &si, sizeof si);
    if (n != (ssize_t)sizeof si)
        return 0;
    if ((int)si.ssi_signo == SIGWINCH)
        return send_resize(x, err);
    struct capsa_vm_msg m = {.type = CAPSA_VM_SIGNAL,
                             .id = REQ_SIGNAL,
                             .cid = x->id,
                             .proc = WORKLOAD,
                             .signo = si.ssi_signo};
    return send_msg(x->ch, &m, err);
}

static int on_stdin(struct relay *x, struct capsa_err *err)
{
    uint8_t buf[16384];
    ssize_t n = read(0, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return 0;
    if (n <= 0)
        x->stdin_open = false;
    struct capsa_vm_msg m = {
        .type = CAPSA_VM_STDIN, .id = WORKLOAD, .data = buf, .len = n > 0 ? (uint32_t)n : 0};
    return send_msg(x->ch, &m, err);
}

/* The frames the channel has for us: output, EXIT, answers (ignored). */
static int on_channel(struct relay *x, struct capsa_err *err)
{
    int r = fill(x->ch, &x->rd, err);
    struct capsa_vm_msg m;
    while (r == 0 && (r = capsa_vm_reader_next(&x->rd, &m, NULL, err)) > 0) {
        r = 0;
        if ((m.type == CAPSA_VM_STDOUT || m.type == CAPSA_VM_STDERR) && m.len > 0)
            (void)capsa_write_all(m.type == CAPSA_VM_STDOUT ? 1 : 2, m.data, m.len);
        else if (m.type == CAPSA_VM_EXIT && m.id == WORKLOAD) {
            x->exited = true;
            x->how = m.how;
            x->code = m.code;
        } else if (m.type == CAPSA_VM_ERROR && m.id != REQ_SIGNAL)
            r = capsa_err_setx(err, m.errnum ? (int)m.errnum : EIO, "vm: the guest agent: %s",
                               m.message);
    }
    return r;
}

/* After EXIT: SHUTDOWN, and wait for the channel to close (the guest has
 * synced its share and powered off). */
static void shutdown_guest(struct relay *x)
{
    struct capsa_err e = {0};
    struct capsa_vm_msg m = {.type = CAPSA_VM_SHUTDOWN, .id = REQ_SHUTDOWN};
    if (send_msg(x->ch, &m, &e) < 0)
        return;
    struct capsa_vm_msg in;
    while (recv_msg(x->ch, &x->rd, &in, &e) == 0)
        ;
}

static int vm_child_start(struct capsa_level_child *c, struct capsa_err *err)
{
    struct relay x = {.ch = c->level_fd, .id = c->id, .stdin_open = true, .tty = isatty(0) == 1};
    sigset_t set;
    sigemptyset(&set);
    for (size_t i = 0; i < ARRAY_SIZE(forwarded); i++)
        sigaddset(&set, forwarded[i]);
    (void)signal(SIGPIPE, SIG_IGN);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
        return capsa_err_set(err, errno, "vm: block signals");
    cleanup_close int sfd = signalfd(-1, &set, SFD_CLOEXEC);
    if (sfd < 0)
        return capsa_err_set(err, errno, "vm: signalfd");
    if (x.tty) {
        /* The guest's pty does the line discipline. */
        struct termios t;
        if (tcgetattr(0, &t) == 0) {
            cfmakeraw(&t);
            (void)tcsetattr(0, TCSANOW, &t);
        }
    }
    struct capsa_vm_msg start = {.type = CAPSA_VM_START, .id = REQ_START, .cid = c->id};
    int r = send_msg(x.ch, &start, err);
    if (r == 0)
        r = recv_reply(x.ch, &x.rd, REQ_START, "START", err);
    if (r == 0)
        r = send_resize(&x, err);
    while (r == 0 && !x.exited) {
        struct pollfd p[3] = {{.fd = x.ch, .events = POLLIN},
                              {.fd = sfd, .events = POLLIN},
                              {.fd = x.stdin_open ? 0 : -1, .events = POLLIN}};
        if (poll(p, 3, -1) < 0) {
            if (errno == EINTR)
                continue;
            r = capsa_err_set(err, errno, "vm: poll");
            break;
        }
        if (p[0].revents)
            r = on_channel(&x, err);
        if (r == 0 && p[1].revents)
            r = on_signal(&x, sfd, err);
        if (r == 0 && p[2].revents)
            r = on_stdin(&x, err);
    }
    if (r < 0) {
        capsa_vm_reader_free(&x.rd);
        return r;
    }
    shutdown_guest(&x);
    capsa_vm_reader_free(&x.rd);
    if (x.how == CAPSA_VM_SIGNALED) {
        /* Die of it where we can; as PID 1 of our pid namespace the kernel
         * ignores it, and 128+N says the same to `run` and engines. */
        int sig = (int)x.code;
        (void)signal(sig, SIG_DFL);
        sigset_t one;
        sigemptyset(&one);
        sigaddset(&one, sig);
        sigprocmask(SIG_UNBLOCK, &one, NULL);
        kill(getpid(), sig);
        _exit(128 + (sig & 0x7f));
    }
    _exit((int)(x.code & 0xff));
}

static int vm_exec_allowed(const char *id, struct capsa_err *err)
{
    return capsa_err_setx(err, ENOTSUP,
                          "exec: container %s runs at the vm isolation level, where exec is not "
                          "implemented yet",
                          id);
}

const struct capsa_level capsa_level_vm = {
    .name = "vm",
    .summary = "the workload in a virtual machine (KVM; QEMU microvm, a guest agent)",
    .rank = 3,
    .validate = vm_validate,
    .host_prepare = vm_host_prepare,
    .host_stop = capsa_proc_kill_if_same,
    .child_prepare = vm_child_prepare,
    .child_start = vm_child_start,
    .exec_allowed = vm_exec_allowed,
};
