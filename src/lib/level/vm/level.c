/* level.c - the vm level's table entry: the workload runs in a virtual
 * machine, the VMM in the native container.
 *
 * create, runtime side (host_prepare): choose the guest kernel, get the
 * initramfs around the guest agent, boot the VM (vmm.h) on the container's
 * rootfs, move the VMM and its virtio-fs daemon into the container's cgroup
 * (whose memory limit grows by the VMM's overhead), greet the agent and send
 * it CREATE with config.json as read: `create` returns once the agent has
 * created the inner container (LightVM's split toolstack). The agent channel
 * goes to the init as its level fd, the exec socket (<state>/exec.sock) as
 * its second.
 *
 * The host-side init is a stand-in for the guest's workload (standin.c): it
 * sends START, relays its stdio and signals, serves the exec socket, and on
 * EXIT exits with the workload's status. Its pid is the container's, its
 * root the bundle rootfs (which only virtiofsd serves to the guest), and
 * the config's confinement applies to it as to a native workload. When it
 * dies, the channel closes and the agent powers the guest off; `delete`
 * kills the cgroup, QEMU and virtiofsd with it.
 *
 * exec: the runtime connects to the exec socket and writes the process as
 * JSON (host_prepare); the exec'd process is a stand-in too, in the
 * container like a native exec'd process, that has the agent run the
 * process and relays it. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <sched.h>
#include <sys/auxv.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "level/vm/image.h"
#include "level/vm/nic.h"
#include "level/vm/proto.h"
#include "level/vm/share.h"
#include "level/vm/standin.h"
#include "level/vm/vm.h"
#include "level/vm/vmm.h"
#include "linux/cgroup.h"
#include "linux/ns.h"
#include "linux/process.h"
#include "sys/sys.h"
#include "util/util.h"

#define REQ_CREATE 1u
#define REQ_NET    2u

/* What create keeps for host_created (h->priv): NET's NICs, the spare. */
struct vm_create {
    struct capsa_vm_net n;
    int spare_nl, spare_index;
    uint8_t spare_mac[6];
};

/* ---- create, runtime side ---------------------------------------------- */

static int vm_validate(const struct capsa_spec *spec, struct capsa_err *err)
{
    /* A pod member joins its sandbox's namespaces (checked at
     * host_prepare) and lives in its VM. */
    if (capsa_spec_pod_sandbox(spec))
        return 0;
    /* A network namespace to join is checked at host_prepare (it must be
     * empty: no network reaches the guest yet); any other is refused. */
    for (size_t i = 0; i < spec->linux_cfg.n_namespaces; i++) {
        const struct capsa_namespace *ns = &spec->linux_cfg.namespaces[i];
        if (ns->path != NULL && ns->type != CAPSA_NS_NET)
            return capsa_err_setx(err, ENOTSUP,
                                  "linux.namespaces: the vm level cannot join a namespace "
                                  "(%s): the container's namespaces are the guest's",
                                  ns->path);
    }
    struct capsa_vm_size sz;
    return capsa_vm_size_of(spec, &sz, err);
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

/* The error, then the end of the guest's console (what the guest said
 * before it failed), in err: as much of both as the message holds. */
static void console_tail(const char *state_dir, struct capsa_err *err)
{
    char path[PATH_MAX + 16], buf[640];
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
    const char *from = buf;
    if (off > 0 && strchr(buf, '\n') != NULL)
        from = strchr(buf, '\n') + 1; /* whole lines only */
    char msg[sizeof err->msg];
    /* Truncated when long: the error comes first, so only the console's
     * end is lost. */
    if (snprintf(msg, sizeof msg, "%s\nthe guest's console (%s) ends with:\n%s", err->msg, path,
                 from) < 0)
        return;
    memcpy(err->msg, msg, sizeof msg);
}

/* The VMM and virtiofsd into the container's cgroup, a second fence around
 * them; its memory limit (the guest's RAM) grows by the VMM's overhead, its
 * pids limit is lifted (the guest applies it). */
static int vm_to_cgroup(const struct capsa_level_host *h, const struct capsa_vm *vm,
                        const struct capsa_vm_size *sz, struct capsa_err *err)
{
    if (h->cgroup == NULL)
        return 0;
    struct capsa_cgroup *cg = NULL;
    int r = capsa_cgroup_decode(h->cgroup, &cg, err);
    const struct capsa_memory *mem = &h->spec->linux_cfg.resources.memory;
    /* linux.resources.pids limits the guest's processes (the agent applies
     * it in the guest); on the host it would count QEMU's threads. */
    if (r == 0 && h->spec->linux_cfg.resources.has_pids) {
        struct capsa_resources res = {0};
        res.has_pids = true;
        res.pids_limit = -1;
        r = capsa_cgroup_apply(cg, &res, NULL, NULL, err);
    }
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
static int guest_config(const struct capsa_level_host *h, const char *sandbox, char **out,
                        size_t *len, struct capsa_err *err)
{
    const char *member = sandbox ? h->id : NULL;
    json_error_t je;
    json_t *root = json_loadb(h->config_raw, h->config_len, 0, &je);
    if (root == NULL)
        return capsa_err_setx(err, EINVAL, "vm: config.json: %s", je.text);
    json_t *ann = json_object_get(root, "annotations");
    if (json_is_object(ann)) {
        (void)json_object_del(ann, CAPSA_LEVEL_ANNOTATION);
        (void)json_object_del(ann, CAPSA_VM_POD_ANNOTATION);
    }
    /* Hooks run on the host (the core runs them for the stand-in): their
     * paths name the host's programs (Docker's is /proc/<dockerd>/exe). */
    (void)json_object_del(root, "hooks");
    /* The rootfs and the bind mounts' sources, where the share has them. */
    char p[PATH_MAX];
    int bad = capsa_vm_share_guest_path(member, SIZE_MAX, p, sizeof p) < 0 ||
              json_object_set_new(json_object_get(root, "root"), "path", json_string(p)) < 0;
    json_t *mounts = json_object_get(root, "mounts");
    for (size_t m = 0; !bad && m < h->spec->n_mounts; m++)
        if (capsa_vm_share_has(&h->spec->mounts[m]))
            bad = capsa_vm_share_guest_path(member, m, p, sizeof p) < 0 ||
                  json_object_set_new(json_array_get(mounts, m), "source", json_string(p)) < 0;
    if (bad) {
        json_decref(root);
        return capsa_err_setx(err, EINVAL, "vm: the guest's config: root or mounts");
    }
    /* A pod member's namespace paths are the sandbox's (host_prepare
     * checked): the agent names the sandbox's in the guest instead. */
    if (sandbox) {
        if (!json_is_object(ann))
            (void)json_object_set_new(root, "annotations", ann = json_object());
        bad = json_object_set_new(ann, CAPSA_VM_POD_ANNOTATION, json_string(sandbox)) < 0;
    }
    /* The engine's network namespace is a new one in the guest (a path
     * would name nothing there); the agent moves the NICs wired to the
     * engine's interfaces into it (nic.h). */
    json_t *nss = sandbox ? NULL : json_object_get(json_object_get(root, "linux"), "namespaces");
    size_t i;
    json_t *ns;
    json_array_foreach (nss, i, ns) {
        const char *type = json_string_value(json_object_get(ns, "type"));
        if (type && strcmp(type, "network") == 0)
            (void)json_object_del(ns, "path");
    }
    *out = bad ? NULL : json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (*out == NULL)
        return capsa_err_set(err, ENOMEM, "vm: the guest's config");
    *len = strlen(*out);
    return 0;
}

/* CREATE of the container (h->id) with the guest's config (guest_config;
 * sandbox: a pod member's), and the agent's answer. */
static int create_in_guest(const struct capsa_level_host *h, const char *sandbox, int fd,
                           struct capsa_vm_reader *rd, struct capsa_err *err)
{
    char *cfg = NULL;
    size_t cfglen = 0;
    int r = guest_config(h, sandbox, &cfg, &cfglen, err);
    if (r < 0)
        return r;
    struct capsa_vm_msg create = {.type = CAPSA_VM_CREATE,
                                  .id = REQ_CREATE,
                                  .cid = h->id,
                                  .proc = CAPSA_VM_STANDIN_INIT,
                                  .data = (const uint8_t *)cfg,
                                  .len = (uint32_t)cfglen,
                                  .bundle = CAPSA_VM_GUEST_BUNDLE},
                        m;
    if ((r = capsa_vm_send(fd, &create, err)) == 0)
        r = capsa_vm_recv_reply(fd, rd, REQ_CREATE, "CREATE", &m, err);
    free(cfg);
    return r;
}

/* HELLO both ways, then CREATE. */
static int agent_create(const struct capsa_level_host *h, int ch, struct capsa_err *err)
{
    struct capsa_vm_reader rd = {0};
    struct capsa_vm_msg m;
    int r = capsa_vm_recv(ch, &rd, &m, err);
    if (r < 0)
        r = capsa_err_wrap(err, "vm: waiting for the guest agent's HELLO");
    else if (m.type != CAPSA_VM_HELLO || m.magic != CAPSA_VM_MAGIC || m.version != CAPSA_VM_VERSION)
        r = capsa_err_setx(err, EPROTO,
                           "vm: the guest agent sent %s (version %u) where HELLO version %u "
                           "was due",
                           capsa_vm_type_name(m.type), m.version, CAPSA_VM_VERSION);
    if (r == 0) {
        /* The host's wall clock, for the guest's (the agent sets it). */
        char info[64];
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        snprintf(info, sizeof info, "capsa time=%lld.%09ld", (long long)now.tv_sec, now.tv_nsec);
        struct capsa_vm_msg hello = {.type = CAPSA_VM_HELLO,
                                     .magic = CAPSA_VM_MAGIC,
                                     .version = CAPSA_VM_VERSION,
                                     .info = info};
        if ((r = capsa_vm_send(ch, &hello, err)) == 0)
            r = create_in_guest(h, NULL, ch, &rd, err);
    }
    /* The agent says nothing more before START: no byte is left in rd. */
    capsa_vm_reader_free(&rd);
    return r;
}

/* NET for the created container: the NICs wired, for the agent to move
 * into its namespace and set up. */
static int agent_net(const char *id, const struct capsa_vm_net *net, int ch, struct capsa_err *err)
{
    char text[CAPSA_VM_NET_TEXT_MAX];
    int r = capsa_vm_net_encode(net, text, sizeof text, err);
    if (r < 0)
        return r;
    struct capsa_vm_msg nm = {.type = CAPSA_VM_NET,
                              .id = REQ_NET,
                              .cid = id,
                              .data = (const uint8_t *)text,
                              .len = (uint32_t)strlen(text)};
    struct capsa_vm_reader rd = {0};
    struct capsa_vm_msg m;
    if ((r = capsa_vm_send(ch, &nm, err)) == 0)
        r = capsa_vm_recv_reply(ch, &rd, REQ_NET, "NET", &m, err);
    capsa_vm_reader_free(&rd);
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

/* ---- CRI pods ---------------------------------------------------------- */

/* <state>/POD_RECORD of a pod member: the sandbox's state directory (whose
 * exec socket serves it, whose share has its files). */
#define POD_RECORD "pod"
/* <state>/INIT_RECORD of a VM's container: its init (the stand-in), pid and
 * start time, whose namespaces a pod member's config must name. */
#define INIT_RECORD "init"

/* The sandbox's state directory a member's record names (empty: none). */
static int pod_read(int dirfd, char *out, size_t len)
{
    out[0] = '\0';
    cleanup_close int fd = openat(dirfd, POD_RECORD, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : -errno;
    ssize_t n = read(fd, out, len - 1);
    if (n <= 0 || out[0] != '/' || out[n - 1] != '\n') {
        out[0] = '\0';
        return -EINVAL;
    }
    out[n - 1] = '\0';
    return 0;
}

/* The exec socket that serves the container: its own, or a pod member's
 * sandbox's. */
static int exec_sock(int dirfd, char *out, size_t len, struct capsa_err *err)
{
    char state[PATH_MAX];
    if (pod_read(dirfd, state, sizeof state) < 0)
        return capsa_err_setx(err, EINVAL, "vm: the state's %s record", POD_RECORD);
    if (state[0] == '\0') {
        int r = state_dir_path(dirfd, state, sizeof state, err);
        if (r < 0)
            return r;
    }
    return capsa_vm_state_path(state, CAPSA_VM_EXEC_SOCK, out, len, err);
}

/* Each namespace the member's config joins must be the sandbox's init's
 * (the guest has the sandbox's and no other). */
static int pod_check_ns(const struct capsa_spec *spec, int sd, const char *sandbox,
                        struct capsa_err *err)
{
    pid_t pid = 0;
    unsigned long long start = 0, now = 0;
    if (capsa_proc_record_read(sd, INIT_RECORD, &pid, &start) < 0)
        return capsa_err_setx(err, ENOENT,
                              "vm: the pod's sandbox %s has no init record: it is no vm-level "
                              "container created by this capsa",
                              sandbox);
    for (size_t i = 0; i < spec->linux_cfg.n_namespaces; i++) {
        const struct capsa_namespace *ns = &spec->linux_cfg.namespaces[i];
        if (ns->path == NULL)
            continue;
        char p[64];
        snprintf(p, sizeof p, "/proc/%d/ns/%s", (int)pid, capsa_ns_proc_name(ns->type));
        struct stat a, b;
        if (stat(p, &b) < 0 || capsa_proc_start_time(pid, &now, NULL) < 0 || now != start)
            return capsa_err_setx(err, ESRCH, "vm: the pod's sandbox %s is not running", sandbox);
        if (stat(ns->path, &a) < 0)
            return capsa_err_set(err, errno, "linux.namespaces[%zu].path %s", i, ns->path);
        if (a.st_dev != b.st_dev || a.st_ino != b.st_ino)
            return capsa_err_setx(err, EINVAL,
                                  "linux.namespaces[%zu].path %s: not the namespace of the pod's "
                                  "sandbox %s (at the vm level a pod's containers share its VM, "
                                  "and only its namespaces)",
                                  i, ns->path, sandbox);
    }
    return 0;
}

/* A member's CREATE, through the sandbox's exec socket (whose stand-in
 * routes it to the agent): the connection is then the member's channel,
 * which its init's stand-in owns. */
static int member_create(struct capsa_level_host *h, const char *sandbox, const char *sstate,
                         int *out, struct capsa_err *err)
{
    char sock[PATH_MAX];
    cleanup_close int fd = -1;
    int r = capsa_vm_state_path(sstate, CAPSA_VM_EXEC_SOCK, sock, sizeof sock, err);
    if (r == 0 && (r = capsa_vm_connect(sock, &fd, err)) < 0)
        r = capsa_err_wrap(err, "vm: the pod's sandbox %s (its init serves its VM)", sandbox);
    if (r == 0) {
        struct capsa_vm_reader rd = {0};
        r = create_in_guest(h, sandbox, fd, &rd, err);
        capsa_vm_reader_free(&rd);
    }
    if (r == 0)
        *out = steal_fd(fd);
    return r;
}

/* delete (and a failed create) of a member: its container in the guest
 * goes, then its binds in the sandbox's share. */
static void pod_unrecord(int dirfd)
{
    char sstate[PATH_MAX], self[PATH_MAX], sock[PATH_MAX];
    struct capsa_err e = {0};
    if (pod_read(dirfd, sstate, sizeof sstate) < 0 || sstate[0] == '\0' ||
        state_dir_path(dirfd, self, sizeof self, &e) < 0)
        return;
    const char *id = strrchr(self, '/') ? strrchr(self, '/') + 1 : self;
    cleanup_close int fd = -1;
    if (capsa_vm_state_path(sstate, CAPSA_VM_EXEC_SOCK, sock, sizeof sock, &e) == 0 &&
        capsa_vm_connect(sock, &fd, &e) == 0) {
        struct capsa_vm_msg del = {
            .type = CAPSA_VM_DELETE, .id = 1, .cid = id, .flags = CAPSA_VM_DEL_FORCE};
        struct capsa_vm_reader rd = {0};
        struct capsa_vm_msg m;
        if (capsa_vm_send(fd, &del, &e) == 0)
            (void)capsa_vm_recv_reply(fd, &rd, 1, "DELETE", &m, &e);
        capsa_vm_reader_free(&rd);
    }
    cleanup_close int sd = open(sstate, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sd >= 0)
        capsa_vm_share_member_remove(sd, id);
    (void)unlinkat(dirfd, POD_RECORD, 0);
}

/* create of a pod member: no VM of its own; its files join the sandbox's
 * share, its container the sandbox's guest. */
static int member_prepare(struct capsa_level_host *h, const char *sandbox, struct capsa_err *err)
{
    if (!capsa_id_valid(sandbox) || strcmp(sandbox, h->id) == 0)
        return capsa_err_setx(err, EINVAL,
                              "annotations: the pod's sandbox id \"%.64s\" names no other "
                              "container",
                              sandbox);
    char self[PATH_MAX], sstate[PATH_MAX];
    int r = state_dir_path(h->state_dirfd, self, sizeof self, err);
    if (r < 0)
        return r;
    char *slash = strrchr(self, '/');
    if (slash == NULL || (size_t)snprintf(sstate, sizeof sstate, "%.*s/%s", (int)(slash - self),
                                          self, sandbox) >= sizeof sstate)
        return capsa_err_setx(err, ENAMETOOLONG, "vm: the pod's sandbox %s", sandbox);
    cleanup_close int sd = open(sstate, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sd < 0)
        return capsa_err_set(err, errno,
                             "vm: the pod's sandbox %s (the CRI sandbox-id annotation): no such "
                             "container in this runtime root",
                             sandbox);
    /* Its init serves the VM once started; before, a CREATE would wait.
     * (exec.fifo: the core's, there from create until start.) */
    if (faccessat(sd, "exec.fifo", F_OK, AT_SYMLINK_NOFOLLOW) == 0)
        return capsa_err_setx(err, EBUSY,
                              "vm: the pod's sandbox %s is created but not started: its VM "
                              "takes the pod's containers once it runs",
                              sandbox);
    if ((r = pod_check_ns(h->spec, sd, sandbox, err)) < 0)
        return r;
    char rec[PATH_MAX + 2];
    int n = snprintf(rec, sizeof rec, "%s\n", sstate);
    cleanup_close int fd = openat(h->state_dirfd, POD_RECORD,
                                  O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 || n < 0 || (size_t)n >= sizeof rec || capsa_write_all(fd, rec, (size_t)n) < 0)
        return capsa_err_set(err, errno ? errno : EIO, "vm: the state's %s record", POD_RECORD);
    r = capsa_vm_share_member(sd, sandbox, h->id, h->spec, h->bundle, h->rootfs, err);
    int ch = -1;
    if (r == 0)
        r = member_create(h, sandbox, sstate, &ch, err);
    if (r < 0) {
        pod_unrecord(h->state_dirfd);
        return r;
    }
    h->child_fd = ch;
    return 0;
}

/* ---- exec, runtime side ----------------------------------------------- */

/* The process to run, as JSON, for the stand-in to send (h->priv). */
static int exec_prepare(struct capsa_level_host *h, struct capsa_err *err)
{
    if (h->created)
        return capsa_err_setx(err, EBUSY,
                              "exec: container %s is created but not started: at the vm level "
                              "the guest serves exec once `start` has run",
                              h->id);
    char sock[PATH_MAX];
    char *json = NULL;
    int fd = -1;
    int r = exec_sock(h->state_dirfd, sock, sizeof sock, err);
    if (r == 0 && (r = capsa_vm_connect(sock, &fd, err)) < 0)
        r = capsa_err_wrap(err, "exec: the container's init (its stand-in serves exec)");
    if (r == 0)
        r = capsa_process_to_json(h->spec->process, &json, err);
    if (r < 0) {
        capsa_close(&fd);
        return r;
    }
    h->child_fd = fd;
    h->priv = json;
    return 0;
}

static void vm_host_release(struct capsa_level_host *h)
{
    if (!h->exec && h->priv) {
        struct vm_create *vc = h->priv;
        capsa_close(&vc->spare_nl);
    }
    free(h->priv);
    h->priv = NULL;
}

/* create, once the hooks have run: the spare NIC is wired to what a hook
 * put in the init's new network namespace, and the agent gets NET. */
static int vm_host_created(struct capsa_level_host *h, pid_t pid, struct capsa_err *err)
{
    if (capsa_spec_pod_sandbox(h->spec))
        return 0;
    /* The init, whose namespaces a pod member names (pod_check_ns). */
    int r = capsa_proc_record_write(h->state_dirfd, INIT_RECORD, pid, err);
    struct vm_create *vc = h->priv;
    if (r < 0 || vc == NULL)
        return r;
    if (vc->spare_nl >= 0) {
        char p[64];
        snprintf(p, sizeof p, "/proc/%d/ns/net", (int)pid);
        cleanup_close int ns = open(p, O_RDONLY | O_CLOEXEC);
        if (ns < 0)
            r = capsa_err_set(err, errno, "vm: the container's network namespace %s", p);
        else
            r = capsa_vm_net_wire_spare(ns, "vm: the container's network namespace", vc->spare_nl,
                                        vc->spare_index, vc->spare_mac, &vc->n, err);
        capsa_close(&vc->spare_nl);
    }
    if (r == 0 && vc->n.n_nics > 0 && (r = agent_net(h->id, &vc->n, h->child_fd, err)) < 0)
        r = capsa_err_wrap(err, "vm: the guest's network");
    return r;
}

/* The engine's network namespace, wired to TAPs for the guest (nic.h). */
struct net {
    int nsfd; /* the namespace, while the TAPs may need unwiring */
    const char *path;
    struct capsa_vm_net n;
    int taps[CAPSA_VM_NIC_MAX];
    struct capsa_vmm_nic nics[CAPSA_VM_NIC_MAX]; /* what the VMM gets */
    size_t n_vmm;
    /* A new namespace that a hook may give an interface: a spare TAP
     * (taps[0]) in a namespace of its own, reached by spare_nl. */
    int spare_nl, spare_index;
    uint8_t spare_mac[6];
};

static int net_wire(const struct capsa_spec *spec, struct net *net, struct capsa_err *err)
{
    memset(net, 0, sizeof *net);
    net->nsfd = net->spare_nl = -1;
    for (size_t i = 0; i < CAPSA_VM_NIC_MAX; i++)
        net->taps[i] = -1;
    const struct capsa_namespace *ns = capsa_spec_namespace(spec, CAPSA_NS_NET);
    if (ns == NULL)
        return 0;
    /* A new namespace is empty unless a hook puts an interface there
     * (Docker's prestart hook does, after the VM has booted): then the VM
     * gets a spare NIC, wired in host_created. */
    if (ns->path == NULL) {
        if (spec->hooks.n_prestart == 0 && spec->hooks.n_create_runtime == 0)
            return 0;
        int r = capsa_vm_net_spare(&net->taps[0], &net->spare_nl, &net->spare_index, net->spare_mac,
                                   err);
        if (r < 0)
            return r;
        net->nics[0].tap_fd = net->taps[0];
        memcpy(net->nics[0].mac, net->spare_mac, 6);
        net->n_vmm = 1;
        return 0;
    }
    net->path = ns->path;
    net->nsfd = open(ns->path, O_RDONLY | O_CLOEXEC);
    if (net->nsfd < 0)
        return capsa_err_set(err, errno, "linux.namespaces: network namespace %s", ns->path);
    int r = capsa_vm_net_wire(net->nsfd, ns->path, &net->n, net->taps, err);
    if (r < 0) {
        capsa_close(&net->nsfd);
        return r;
    }
    for (size_t i = 0; i < net->n.n_nics; i++) {
        net->nics[i].tap_fd = net->taps[i];
        memcpy(net->nics[i].mac, net->n.nics[i].mac, 6);
    }
    net->n_vmm = net->n.n_nics;
    return 0;
}

/* Our copies of the TAPs go (the VMM holds its own); after a failure the
 * TAPs go with them and the engine's interfaces lose their redirect. */
static void net_release(struct net *net, bool failed)
{
    for (size_t i = 0; i < CAPSA_VM_NIC_MAX; i++)
        capsa_close(&net->taps[i]);
    if (failed && net->nsfd >= 0 && net->n.n_nics > 0)
        capsa_vm_net_unwire(net->nsfd, &net->n);
    capsa_close(&net->nsfd);
    capsa_close(&net->spare_nl);
}

/* After the boot: what host_created needs, in h->priv. */
static int net_keep(struct capsa_level_host *h, struct net *net, struct capsa_err *err)
{
    if (net->n.n_nics == 0 && net->spare_nl < 0)
        return 0;
    struct vm_create *vc = calloc(1, sizeof *vc);
    if (vc == NULL)
        return capsa_err_set(err, ENOMEM, "vm: create");
    vc->n = net->n;
    vc->spare_nl = net->spare_nl;
    vc->spare_index = net->spare_index;
    memcpy(vc->spare_mac, net->spare_mac, 6);
    net->spare_nl = -1;
    h->priv = vc;
    return 0;
}

static int boot_and_create(struct capsa_level_host *h, const struct capsa_vm_size *szp,
                           const char *agent, const char *state, const struct net *net,
                           struct capsa_err *err);

/* <state>/NET_RECORD: which namespace (device and inode, then its path)
 * and which of its interfaces were wired, for delete to unwire them. */
#define NET_RECORD "net"

static int net_record(int dirfd, const struct net *net, struct capsa_err *err)
{
    if (net->n.n_nics == 0)
        return 0;
    struct stat st;
    if (fstat(net->nsfd, &st) < 0)
        return capsa_err_set(err, errno, "network namespace %s", net->path);
    char buf[PATH_MAX + 128];
    int n = snprintf(buf, sizeof buf, "%ju %ju\n%s\n", (uintmax_t)st.st_dev, (uintmax_t)st.st_ino,
                     net->path);
    for (size_t i = 0; n > 0 && (size_t)n < sizeof buf && i < net->n.n_nics; i++)
        n += snprintf(buf + n, sizeof buf - (size_t)n, "%s\n", net->n.nics[i].name);
    if (n < 0 || (size_t)n >= sizeof buf || strchr(net->path, '\n'))
        return capsa_err_setx(err, ENAMETOOLONG, "network namespace %s: its record", net->path);
    cleanup_close int fd =
        openat(dirfd, NET_RECORD, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 || capsa_write_all(fd, buf, (size_t)n) < 0)
        return capsa_err_set(err, errno, "vm: the state's %s", NET_RECORD);
    return 0;
}

/* delete: the engine's interfaces lose their redirect to the VM's (gone)
 * TAPs, when the recorded namespace is still the one at its path. */
static void net_unrecord(int dirfd)
{
    char buf[PATH_MAX + 128];
    cleanup_close int fd = openat(dirfd, NET_RECORD, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    ssize_t len = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
    if (len <= 0)
        return;
    buf[len] = '\0';
    char *save = NULL, *line = strtok_r(buf, "\n", &save);
    char *path = strtok_r(NULL, "\n", &save);
    char *end = NULL;
    if (line == NULL || path == NULL)
        return;
    uintmax_t dev = strtoumax(line, &end, 10);
    if (end == line || *end != ' ')
        return;
    line = end + 1;
    uintmax_t ino = strtoumax(line, &end, 10);
    if (end == line || *end != '\0')
        return;
    struct capsa_vm_net n;
    memset(&n, 0, sizeof n);
    for (char *name; n.n_nics < CAPSA_VM_NIC_MAX && (name = strtok_r(NULL, "\n", &save));)
        if (strlen(name) < IF_NAMESIZE)
            memcpy(n.nics[n.n_nics++].name, name, strlen(name) + 1);
    cleanup_close int ns = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (ns >= 0 && fstat(ns, &st) == 0 && (uintmax_t)st.st_dev == dev &&
        (uintmax_t)st.st_ino == ino)
        capsa_vm_net_unwire(ns, &n);
    (void)unlinkat(dirfd, NET_RECORD, 0);
}

static int vm_host_prepare(struct capsa_level_host *h, struct capsa_err *err)
{
    if (h->exec)
        return exec_prepare(h, err);
    const char *sandbox = capsa_spec_pod_sandbox(h->spec);
    if (sandbox)
        return member_prepare(h, sandbox, err);
    /* Refused before anything starts: no KVM is no boundary. */
    struct capsa_err kerr = {0};
    if (!h->allow_tcg && capsa_vmm_kvm_available(&kerr) != 1)
        return capsa_err_setx(err, ENODEV,
                              "vm: the vm level needs KVM, and %s; software emulation (TCG) is "
                              "no security boundary and is used only when allowed (--allow-tcg, "
                              "or allow_tcg = true in the configuration file)",
                              kerr.msg[0] ? kerr.msg : "/dev/kvm is not usable");
    struct capsa_vm_size sz;
    int r = capsa_vm_size_of(h->spec, &sz, err);
    if (r < 0)
        return r;
    char agent[PATH_MAX], state[PATH_MAX];
    if ((r = agent_path(agent, sizeof agent, err)) < 0 ||
        (r = state_dir_path(h->state_dirfd, state, sizeof state, err)) < 0)
        return r;
    struct net net;
    if ((r = net_wire(h->spec, &net, err)) < 0)
        return r;
    if ((r = net_record(h->state_dirfd, &net, err)) == 0 &&
        (r = boot_and_create(h, &sz, agent, state, &net, err)) == 0)
        r = net_keep(h, &net, err);
    if (r < 0)
        (void)unlinkat(h->state_dirfd, NET_RECORD, 0);
    net_release(&net, r < 0);
    return r;
}

static int boot_and_create(struct capsa_level_host *h, const struct capsa_vm_size *szp,
                           const char *agent, const char *state, const struct net *net,
                           struct capsa_err *err)
{
    struct capsa_vm_size sz = *szp;
    int r;
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
    char share[PATH_MAX];
    if ((r = capsa_vm_share_make(h->spec, h->bundle, h->rootfs, state, share, sizeof share, err)) <
        0) {
        free(initrd);
        return r;
    }
    struct capsa_vmm_config cfg = {.kernel = k.path,
                                   .initramfs = initrd,
                                   .mem_mib = sz.mem_mib,
                                   .vcpus = sz.vcpus,
                                   .share_dir = share,
                                   .state_dir = state,
                                   .allow_tcg = h->allow_tcg,
                                   .kvm = -1,
                                   .nics = net->nics,
                                   .n_nics = net->n_vmm};
    struct capsa_vm vm;
    r = capsa_vmm_qemu.boot(&cfg, &vm, err);
    free(initrd);
    if (r < 0) {
        capsa_vm_share_drop(state);
        capsa_vm_share_remove(h->state_dirfd);
        return capsa_err_wrap(err, "vm: boot");
    }
    int ch = -1, lfd = -1;
    char sock[PATH_MAX];
    if ((r = vm_to_cgroup(h, &vm, &sz, err)) == 0 &&
        (vm.fsd_pid <= 0 || (r = capsa_proc_record_write(h->state_dirfd, CAPSA_VM_FSD_RECORD,
                                                         vm.fsd_pid, err)) == 0) &&
        (r = capsa_vm_channel_connect(&vm, &ch, err)) == 0 && (r = agent_create(h, ch, err)) == 0)
        r = capsa_proc_start_time(vm.vmm_pid, &h->helper_start, NULL);
    /* The exec socket, which the init's stand-in serves (standin.c). */
    if (r == 0 && (r = capsa_vm_state_path(state, CAPSA_VM_EXEC_SOCK, sock, sizeof sock, err)) == 0)
        r = capsa_vm_listen(sock, &lfd, err);
    /* The guest has mounted the share (before its HELLO), so virtiofsd
     * has its copy: the host's goes, whatever happened. */
    capsa_vm_share_drop(state);
    if (r < 0) {
        console_tail(state, err);
        capsa_close(&ch);
        vm.ops->cleanup(&vm);
        capsa_vm_share_remove(h->state_dirfd);
        return r;
    }
    h->helper_pid = vm.vmm_pid;
    h->child_fd = ch;
    h->child_aux_fd = lfd;
    return 0;
}

/* ---- kill --all, update, stats: asked through the exec socket ---------- */

/* Request m through the exec socket, the data of its OK in *data (heap,
 * NUL-terminated; NULL for none wanted). 1: nobody serves the socket (the
 * init's stand-in is gone). */
static int ask(int dirfd, struct capsa_vm_msg *m, char **data, struct capsa_err *err)
{
    char sock[PATH_MAX];
    int r = exec_sock(dirfd, sock, sizeof sock, err);
    if (r < 0)
        return r;
    cleanup_close int fd = -1;
    struct capsa_err cerr = {0};
    if (capsa_vm_connect(sock, &fd, &cerr) < 0) {
        if (cerr.errnum == ECONNREFUSED || cerr.errnum == ENOENT)
            return 1;
        *err = cerr;
        return -cerr.errnum;
    }
    const char *what = capsa_vm_type_name(m->type);
    struct capsa_vm_reader rd = {0};
    struct capsa_vm_msg reply;
    m->id = 1;
    r = capsa_vm_send(fd, m, err);
    if (r == 0)
        r = capsa_vm_recv_reply(fd, &rd, 1, what, &reply, err);
    if (r == 0 && data) {
        *data = malloc((size_t)reply.len + 1);
        if (*data == NULL)
            r = capsa_err_set(err, ENOMEM, "vm: %s", what);
        else {
            if (reply.len > 0)
                memcpy(*data, reply.data, reply.len);
            (*data)[reply.len] = '\0';
            /* The guest's text (stats JSON, ps's listing) reaches a terminal. */
            capsa_vm_clean_text(*data, reply.len);
        }
    }
    capsa_vm_reader_free(&rd);
    return r;
}

static int vm_kill_all(int dirfd, const char *id, int sig, struct capsa_err *err)
{
    struct capsa_vm_msg m = {
        .type = CAPSA_VM_SIGNAL, .cid = id, .proc = CAPSA_VM_PROC_ALL, .signo = (uint32_t)sig};
    return ask(dirfd, &m, NULL, err);
}

static int vm_update(int dirfd, const char *id, const char *resources, struct capsa_err *err)
{
    struct capsa_vm_msg m = {.type = CAPSA_VM_UPDATE,
                             .cid = id,
                             .data = (const uint8_t *)resources,
                             .len = (uint32_t)strlen(resources)};
    int r = ask(dirfd, &m, NULL, err);
    return r < 0 ? capsa_err_wrap(err, "in the guest") : r;
}

static int vm_ooms(int dirfd, const char *id, uint64_t *ooms, struct capsa_err *err)
{
    struct capsa_vm_msg m = {.type = CAPSA_VM_OOMS, .cid = id};
    char *data = NULL;
    int r = ask(dirfd, &m, &data, err);
    if (r == 0 && data) {
        char *end = NULL;
        errno = 0;
        unsigned long long n = strtoull(data, &end, 10);
        if (errno != 0 || end == data || *end != '\0')
            r = capsa_err_setx(err, EPROTO, "vm: OOMS: \"%.32s\" is no count", data);
        else
            *ooms = n;
    }
    free(data);
    return r;
}

/* A pod member's container is in its sandbox's VM, which freezing the
 * member's host cgroup (its stand-in) does not stop: PAUSE/RESUME in the
 * guest. The VM's own container stops with the host cgroup (QEMU's). */
static int vm_freeze(int dirfd, const char *id, bool frozen, struct capsa_err *err)
{
    char sstate[PATH_MAX];
    if (pod_read(dirfd, sstate, sizeof sstate) < 0 || sstate[0] == '\0')
        return 0;
    struct capsa_vm_msg m = {.type = frozen ? CAPSA_VM_PAUSE : CAPSA_VM_RESUME, .cid = id};
    int r = ask(dirfd, &m, NULL, err);
    return r < 0 ? capsa_err_wrap(err, "in the guest") : 0;
}

static int vm_ps(int dirfd, const char *id, char **table, struct capsa_err *err)
{
    struct capsa_vm_msg m = {.type = CAPSA_VM_PS, .cid = id};
    *table = NULL;
    return ask(dirfd, &m, table, err);
}

static int vm_stats(int dirfd, const char *id, char **json_out, struct capsa_err *err)
{
    struct capsa_vm_msg m = {.type = CAPSA_VM_STATS, .cid = id};
    *json_out = NULL;
    return ask(dirfd, &m, json_out, err);
}

/* ---- the stand-ins (standin.c) ----------------------------------------- */

static int vm_child_prepare(struct capsa_level_child *c, bool *execs, struct capsa_err *err)
{
    *execs = false;
    if (c->level_fd < 0 || (c->exec && c->priv == NULL))
        return capsa_err_setx(err, EBADF, "vm: no agent channel");
    return 0;
}

/* Close [first, last] (close_range, else one by one: the container's
 * seccomp profile may refuse close_range). */
static void close_span(unsigned first, unsigned last)
{
    if (first > last || capsa_close_range(first, last, 0) == 0)
        return;
    struct rlimit rl;
    unsigned max = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (1u << 20)
                       ? (unsigned)rl.rlim_cur
                       : (1u << 20);
    for (unsigned fd = first; fd <= last && fd < max; fd++)
        (void)close((int)fd);
}

/* A stand-in never executes anything, so close-on-exec does not empty it:
 * every fd it inherited from the runtime (the state directory, the
 * runtime's sockets) goes now, but stdio, the channel and the exec
 * socket's listener. */
static void keep_only(int a, int b)
{
    int keep[2] = {a < b ? a : b, a < b ? b : a};
    unsigned next = 3;
    for (size_t i = 0; i < 2; i++) {
        if (keep[i] < 0 || (unsigned)keep[i] < next)
            continue;
        close_span(next, (unsigned)keep[i] - 1);
        next = (unsigned)keep[i] + 1;
    }
    close_span(next, ~0U);
}

static int vm_child_start(struct capsa_level_child *c, struct capsa_err *err)
{
    keep_only(c->level_fd, c->exec ? -1 : c->aux_fd);
    if (c->exec)
        return capsa_vm_standin_exec(c->id, c->level_fd, c->priv, c->p->terminal, err);
    return capsa_vm_standin_init(c->id, c->level_fd, c->aux_fd, err);
}

static void vm_host_stop(int state_dirfd, pid_t pid, unsigned long long start)
{
    if (pid > 0)
        capsa_proc_kill_if_same(pid, start);
    if (state_dirfd < 0)
        return;
    net_unrecord(state_dirfd);
    pod_unrecord(state_dirfd);
    capsa_vm_share_remove(state_dirfd);
    (void)unlinkat(state_dirfd, INIT_RECORD, 0);
}

const struct capsa_level capsa_level_vm = {
    .name = "vm",
    .summary = "the workload in a virtual machine (KVM; QEMU microvm, a guest agent)",
    .rank = 3,
    .validate = vm_validate,
    .host_prepare = vm_host_prepare,
    .host_release = vm_host_release,
    .host_created = vm_host_created,
    .host_stop = vm_host_stop,
    .child_prepare = vm_child_prepare,
    .child_start = vm_child_start,
    .kill_all = vm_kill_all,
    .update = vm_update,
    .stats = vm_stats,
    .ooms = vm_ooms,
    .ps = vm_ps,
    .freeze = vm_freeze,
};
