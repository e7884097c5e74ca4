/* serve.c - the agent's one loop: frames from the host, the stdio of the
 * processes it relays, SIGCHLD; requests served through the public library
 * API (include/capsa/capsa.h) as the CLI serves its commands.
 *
 * stdio: the library gives a container process the caller's fds 0, 1, 2
 * (create and exec alike). The agent keeps its own stdio on /dev/null and
 * logs to a separate fd, so around each create and exec it puts the
 * process's pipe ends on 0, 1, 2 and takes them off again. A process with a
 * terminal gets a pty, whose master the library hands to a console socket:
 * the agent listens on one of its own, and the connection waits in the
 * backlog until the call returns and the agent accepts it.
 *
 * Every container process is the agent's child (the library clones with
 * CLONE_PARENT), so the agent reaps it and reports EXIT; before EXIT it
 * sends what the process left in its pipes and an EOF frame for each
 * stream, so that the host sees all the output first. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "level/vm/nic.h"
#include "util/err.h"
#include "util/util.h"

#define READ_CHUNK (64u << 10)
/* Output pipes are not read while more than this waits for the channel. */
#define OUT_HIGH (4u << 20)
#define OUT_LOW  (1u << 20)
/* Host data for a process's stdin that it has not read yet, at most. */
#define STDIN_MAX (16u << 20)

/* --- the channel --- */

static void send_msg(struct agent *a, const struct capsa_vm_msg *m)
{
    struct capsa_err err = {0};
    if (capsa_vm_encode(m, &a->out, &err) < 0)
        agent_log(a, "%s: %s", capsa_vm_type_name(m->type), err.msg);
}

static void reply_ok(struct agent *a, uint32_t id, uint32_t pid, const char *data)
{
    struct capsa_vm_msg m = {.type = CAPSA_VM_OK, .id = id, .pid = pid};
    if (data) {
        m.data = (const uint8_t *)data;
        m.len = (uint32_t)strnlen(data, CAPSA_VM_DATA_MAX);
    }
    send_msg(a, &m);
}

static void reply_err(struct agent *a, uint32_t id, const struct capsa_err *e)
{
    struct capsa_vm_msg m = {.type = CAPSA_VM_ERROR,
                             .id = id,
                             .errnum = (uint32_t)(e->errnum > 0 ? e->errnum : EINVAL),
                             .message = e->msg[0] ? e->msg : "failed"};
    send_msg(a, &m);
}

static void watch_set(struct agent *a, int fd, struct watch *w, uint32_t events, bool *on)
{
    struct epoll_event ev = {.events = events, .data.ptr = w};
    if (epoll_ctl(a->epfd, *on ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev) < 0)
        agent_log(a, "epoll_ctl fd %d: %s", fd, strerror(errno));
    else
        *on = true;
}

static void unwatch(struct agent *a, int fd)
{
    if (fd >= 0)
        epoll_ctl(a->epfd, EPOLL_CTL_DEL, fd, NULL);
}

/* Output fds are read only while the channel keeps up. */
static void out_events(struct agent *a, bool paused)
{
    if (a->paused_out == paused)
        return;
    a->paused_out = paused;
    for (struct agent_proc *p = a->procs; p; p = p->next) {
        struct epoll_event ev = {.events = paused ? 0 : EPOLLIN};
        if (p->out_fd >= 0) {
            ev.data.ptr = &p->w_out;
            epoll_ctl(a->epfd, EPOLL_CTL_MOD, p->out_fd, &ev);
        }
        if (p->err_fd >= 0) {
            ev.data.ptr = &p->w_err;
            epoll_ctl(a->epfd, EPOLL_CTL_MOD, p->err_fd, &ev);
        }
    }
}

/* Write what the channel takes now; watch it for more room otherwise. */
static void flush_out(struct agent *a)
{
    while (capsa_vm_buf_pending(&a->out) > 0) {
        ssize_t n = write(a->chan, a->out.data + a->out.off, capsa_vm_buf_pending(&a->out));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            break;
        if (n <= 0) {
            agent_log(a, "channel write: %s", n < 0 ? strerror(errno) : "closed");
            a->quit = true;
            a->out.off = a->out.len = 0;
            break;
        }
        capsa_vm_buf_consume(&a->out, (size_t)n);
    }
    bool want = capsa_vm_buf_pending(&a->out) > 0;
    watch_set(a, a->chan, &a->w_chan, EPOLLIN | (want ? EPOLLOUT : 0), &a->out_watched);
    size_t pending = capsa_vm_buf_pending(&a->out);
    if (pending > OUT_HIGH)
        out_events(a, true);
    else if (pending < OUT_LOW)
        out_events(a, false);
}

/* At the end: everything queued, written out whatever it takes. */
static void flush_blocking(struct agent *a)
{
    int fl = fcntl(a->chan, F_GETFL);
    if (fl >= 0)
        fcntl(a->chan, F_SETFL, fl & ~O_NONBLOCK);
    if (capsa_vm_buf_pending(&a->out) > 0)
        (void)capsa_write_all(a->chan, a->out.data + a->out.off, capsa_vm_buf_pending(&a->out));
    a->out.off = a->out.len = 0;
}

/* --- processes --- */

static struct agent_proc *find_proc(struct agent *a, uint32_t proc)
{
    for (struct agent_proc *p = a->procs; p; p = p->next)
        if (p->proc == proc)
            return p;
    return NULL;
}

static void proc_free(struct agent *a, struct agent_proc *p)
{
    for (struct agent_proc **pp = &a->procs; *pp; pp = &(*pp)->next) {
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    }
    unwatch(a, p->in_fd);
    unwatch(a, p->out_fd);
    unwatch(a, p->err_fd);
    capsa_close(&p->in_fd);
    capsa_close(&p->out_fd);
    capsa_close(&p->err_fd);
    capsa_vm_buf_free(&p->in_q);
    free(p);
}

/* Read one chunk of fd *fdp into a STDOUT/STDERR frame; EOF (or EIO: a pty
 * whose last slave closed) sends the empty frame and closes the fd.
 * Returns whether more may come now. */
static bool relay_out(struct agent *a, struct agent_proc *p, int *fdp, uint8_t type)
{
    static uint8_t buf[READ_CHUNK];
    ssize_t n = read(*fdp, buf, sizeof buf);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return false;
    struct capsa_vm_msg m = {.type = type, .id = p->proc};
    if (n > 0) {
        m.data = buf;
        m.len = (uint32_t)n;
        send_msg(a, &m);
        return true;
    }
    send_msg(a, &m); /* EOF */
    unwatch(a, *fdp);
    if (p->tty && p->in_fd >= 0) {
        unwatch(a, p->in_fd);
        capsa_close(&p->in_fd);
    }
    capsa_close(fdp);
    return false;
}

/* Write the stdin queue; on EOF from the host, close (a pty gets its EOF
 * character instead: closing the master would hang the terminal up). */
static void relay_in(struct agent *a, struct agent_proc *p)
{
    while (p->in_fd >= 0 && capsa_vm_buf_pending(&p->in_q) > 0) {
        ssize_t n = write(p->in_fd, p->in_q.data + p->in_q.off, capsa_vm_buf_pending(&p->in_q));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            break;
        if (n < 0) { /* EPIPE: the process closed its stdin */
            unwatch(a, p->in_fd);
            capsa_close(&p->in_fd);
            break;
        }
        capsa_vm_buf_consume(&p->in_q, (size_t)n);
    }
    if (p->in_fd < 0) {
        p->in_q.off = p->in_q.len = 0;
        return;
    }
    bool more = capsa_vm_buf_pending(&p->in_q) > 0;
    if (!more && p->in_eof) {
        if (p->tty) {
            char eof = 4;
            struct termios t;
            if (tcgetattr(p->in_fd, &t) == 0)
                eof = (char)t.c_cc[VEOF];
            if (write(p->in_fd, &eof, 1) < 0)
                agent_log(a, "process %u: stdin EOF: %s", p->proc, strerror(errno));
            p->in_eof = false;
        } else {
            unwatch(a, p->in_fd);
            capsa_close(&p->in_fd);
            return;
        }
    }
    /* The watch is made on first need and kept (modified) afterwards. */
    if (more || p->in_watched)
        watch_set(a, p->in_fd, &p->w_in, more ? EPOLLOUT : 0, &p->in_watched);
}

/* What a reaped process left in a pipe (bounded: another process may hold
 * the write end and go on writing), then EOF, whoever else holds it. */
static void drain_close(struct agent *a, struct agent_proc *p, int *fdp, uint8_t type)
{
    for (int i = 0; i < 16 && *fdp >= 0 && relay_out(a, p, fdp, type); i++)
        ;
    if (*fdp < 0)
        return;
    struct capsa_vm_msg m = {.type = type, .id = p->proc};
    send_msg(a, &m);
    unwatch(a, *fdp);
    capsa_close(fdp);
}

/* The process is reaped: what it left in its pipes, EOF, then EXIT. */
static void proc_exited(struct agent *a, struct agent_proc *p, int status)
{
    drain_close(a, p, &p->out_fd, CAPSA_VM_STDOUT);
    drain_close(a, p, &p->err_fd, CAPSA_VM_STDERR);
    struct capsa_vm_msg m = {.type = CAPSA_VM_EXIT, .id = p->proc};
    if (WIFSIGNALED(status)) {
        m.how = CAPSA_VM_SIGNALED;
        m.code = (uint32_t)WTERMSIG(status);
    } else {
        m.how = CAPSA_VM_EXITED;
        m.code = (uint32_t)WEXITSTATUS(status);
    }
    send_msg(a, &m);
    proc_free(a, p);
}

static void reap(struct agent *a)
{
    struct signalfd_siginfo si;
    while (read(a->sfd, &si, sizeof si) == (ssize_t)sizeof si) {
        if (si.ssi_signo != SIGCHLD) {
            /* PID 1: the power-off signals (ctrl-alt-del, ACPI via init). */
            agent_log(a, "signal %u: shutting down", si.ssi_signo);
            a->quit = true;
        }
    }
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        for (struct agent_proc *p = a->procs; p; p = p->next) {
            if (p->pid == pid) {
                proc_exited(a, p, status);
                break;
            }
        }
    }
}

/* --- stdio of a new process --- */

struct stdio_plan {
    bool tty;
    int child[3];  /* what goes on the process's 0, 1, 2 */
    int ours[3];   /* stdin write end, stdout and stderr read ends */
    int listen_fd; /* tty: the console socket */
    char sock[108];
};

static void plan_release(struct stdio_plan *s)
{
    for (int i = 0; i < 3; i++) {
        capsa_close(&s->child[i]);
        capsa_close(&s->ours[i]);
    }
    capsa_close(&s->listen_fd);
    if (s->sock[0])
        unlink(s->sock);
    s->sock[0] = '\0';
}

static int plan_make(const struct agent *a, uint32_t proc, bool tty, struct stdio_plan *s,
                     struct capsa_err *err)
{
    *s = (struct stdio_plan){
        .tty = tty, .child = {-1, -1, -1}, .ours = {-1, -1, -1}, .listen_fd = -1};
    if (!tty) {
        for (int i = 0; i < 3; i++) {
            int p[2];
            if (pipe2(p, O_CLOEXEC) < 0)
                return capsa_err_set(err, errno, "pipe");
            s->child[i] = i == 0 ? p[0] : p[1];
            s->ours[i] = i == 0 ? p[1] : p[0];
            int fl = fcntl(s->ours[i], F_GETFL);
            if (fl < 0 || fcntl(s->ours[i], F_SETFL, fl | O_NONBLOCK) < 0)
                return capsa_err_set(err, errno, "fcntl O_NONBLOCK");
        }
        return 0;
    }
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int n = snprintf(s->sock, sizeof s->sock, "%s/tty-%u.sock", a->conf.work, proc);
    if (n < 0 || (size_t)n >= sizeof s->sock || (size_t)n >= sizeof sa.sun_path) {
        s->sock[0] = '\0';
        return capsa_err_setx(err, ENAMETOOLONG, "console socket in %s: path too long",
                              a->conf.work);
    }
    memcpy(sa.sun_path, s->sock, (size_t)n + 1);
    unlink(s->sock);
    s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (s->listen_fd < 0)
        return capsa_err_set(err, errno, "socket");
    if (bind(s->listen_fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(s->listen_fd, 1) < 0)
        return capsa_err_set(err, errno, "console socket %s", s->sock);
    /* The process's own stdio is the pty: 0, 1, 2 stay /dev/null. */
    return 0;
}

/* fds 0, 1, 2 of the agent: the process's ends during the call, /dev/null
 * otherwise. */
static void stdio_swap(const struct stdio_plan *s, bool in)
{
    int null = -1;
    if (!in || s->tty)
        null = open("/dev/null", O_RDWR | O_CLOEXEC);
    for (int i = 0; i < 3; i++) {
        int src = (in && !s->tty) ? s->child[i] : null;
        if (src >= 0)
            dup2(src, i);
    }
    if (null >= 0)
        close(null);
}

/* The pty master the library sent to our console socket. */
static int recv_master(struct stdio_plan *s, struct capsa_err *err)
{
    cleanup_close int c = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (c < 0)
        return capsa_err_set(err, errno, "console socket: no connection");
    char b[256];
    struct iovec iov = {.iov_base = b, .iov_len = sizeof b};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
    ssize_t n = recvmsg(c, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    struct cmsghdr *cm = n < 0 ? NULL : CMSG_FIRSTHDR(&msg);
    if (cm == NULL || cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS ||
        cm->cmsg_len != CMSG_LEN(sizeof(int)))
        return capsa_err_setx(err, EPROTO, "console socket: no pty received");
    int fd;
    memcpy(&fd, CMSG_DATA(cm), sizeof fd);
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    s->ours[1] = fd;
    s->ours[0] = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (s->ours[0] < 0)
        return capsa_err_set(err, errno, "dup pty master");
    return 0;
}

static int read_pid(const char *path, pid_t *pid, struct capsa_err *err)
{
    cleanup_free char *s = NULL;
    size_t len = 0;
    int r = capsa_read_file_at(AT_FDCWD, path, 64, &s, &len, err);
    if (r < 0)
        return r;
    s[strcspn(s, "\n")] = '\0';
    int64_t v = 0;
    if (capsa_parse_int64(s, 1, INT32_MAX, &v) < 0)
        return capsa_err_setx(err, EINVAL, "pid file %s: \"%s\"", path, s);
    *pid = (pid_t)v;
    return 0;
}

/* Register the new process with the fds of the plan (taken over). */
static void proc_add(struct agent *a, uint32_t proc, const char *cid, pid_t pid, bool init,
                     struct stdio_plan *s)
{
    struct agent_proc *p = calloc(1, sizeof *p);
    if (p == NULL) {
        agent_log(a, "out of memory: process %u not relayed", proc);
        return;
    }
    p->proc = proc;
    snprintf(p->cid, sizeof p->cid, "%s", cid);
    p->pid = pid;
    p->init = init;
    p->tty = s->tty;
    p->in_fd = steal_fd(s->ours[0]);
    p->out_fd = steal_fd(s->ours[1]);
    p->err_fd = steal_fd(s->ours[2]);
    p->w_in = (struct watch){W_STDIN, p};
    p->w_out = (struct watch){W_STDOUT, p};
    p->w_err = (struct watch){W_STDERR, p};
    p->next = a->procs;
    a->procs = p;
    bool on = false;
    if (p->out_fd >= 0)
        watch_set(a, p->out_fd, &p->w_out, a->paused_out ? 0 : EPOLLIN, &on);
    on = false;
    if (p->err_fd >= 0)
        watch_set(a, p->err_fd, &p->w_err, a->paused_out ? 0 : EPOLLIN, &on);
}

/* --- requests --- */

static int check_cid(const char *cid, struct capsa_err *err)
{
    if (!capsa_id_valid(cid))
        return capsa_err_setx(err, EINVAL, "container id \"%s\": invalid", cid);
    return 0;
}

/* Whether the JSON object at data (or its member "process", when process
 * is true) has "terminal": true. The library checks the rest. */
static int json_terminal(const uint8_t *data, uint32_t len, bool process, bool *tty,
                         struct capsa_err *err)
{
    json_error_t jerr;
    json_t *root = json_loadb((const char *)data, len, 0, &jerr);
    if (root == NULL)
        return capsa_err_setx(err, EINVAL, "%s: line %d: %s", process ? "config" : "process",
                              jerr.line, jerr.text);
    json_t *p = process ? json_object_get(root, "process") : root;
    *tty = json_is_true(json_object_get(p, "terminal"));
    json_decref(root);
    return 0;
}

static int write_tmp(const struct agent *a, const char *what, uint32_t proc, const uint8_t *data,
                     uint32_t len, char *path, size_t plen, struct capsa_err *err)
{
    if ((size_t)snprintf(path, plen, "%s/%s-%u.json", a->conf.work, what, proc) >= plen)
        return capsa_err_setx(err, ENAMETOOLONG, "%s/%s-%u.json", a->conf.work, what, proc);
    cleanup_close int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return capsa_err_set(err, errno, "create %s", path);
    int r = capsa_write_all(fd, data, len);
    if (r < 0)
        return capsa_err_set(err, -r, "write %s", path);
    return 0;
}

/* What CREATE and EXEC share: the request checked, its JSON (config or
 * process) in a file for the library, the pid file's path, the stdio plan.
 * launch_end reads back what the library made of it. */
struct launch {
    bool tty;
    char json[4096], pidf[4096];
    struct stdio_plan s;
};

static int launch_begin(struct agent *a, const struct capsa_vm_msg *m, const char *what,
                        bool is_config, bool tty_flag, struct launch *l, struct capsa_err *err)
{
    /* Empty, so that launch_end and plan_release are right whatever fails. */
    *l = (struct launch){.s = {.child = {-1, -1, -1}, .ours = {-1, -1, -1}, .listen_fd = -1}};
    int r = check_cid(m->cid, err);
    if (r < 0)
        return r;
    if (find_proc(a, m->proc))
        return capsa_err_setx(err, EEXIST, "process id %u is in use", m->proc);
    l->tty = false;
    if ((r = json_terminal(m->data, m->len, is_config, &l->tty, err)) < 0)
        return r;
    l->tty = l->tty || tty_flag;
    if ((r = write_tmp(a, what, m->proc, m->data, m->len, l->json, sizeof l->json, err)) < 0)
        return r;
    snprintf(l->pidf, sizeof l->pidf, "%s/pid-%u", a->conf.work, m->proc);
    unlink(l->pidf);
    return plan_make(a, m->proc, l->tty, &l->s, err);
}

/* After the library call (its result r): the pty's master for a tty, the
 * pid; the files are gone either way. */
static int launch_end(struct launch *l, int r, pid_t *pid, struct capsa_err *err)
{
    if (l->json[0] != '\0')
        unlink(l->json);
    *pid = 0;
    if (r == 0 && l->tty)
        r = recv_master(&l->s, err);
    if (r == 0)
        r = read_pid(l->pidf, pid, err);
    if (l->pidf[0] != '\0')
        unlink(l->pidf);
    return r;
}

/* A CRI pod member's config (CAPSA_VM_POD_ANNOTATION names its sandbox, a
 * container of this guest): each namespace it joins by path is the
 * sandbox's init's (the host checked the paths against the sandbox's
 * stand-in's). *out: the config to use (heap), NULL when not a member's. */
static int pod_config(const struct agent *a, const uint8_t *data, uint32_t len, char **out,
                      struct capsa_err *err)
{
    static const char *const names[][2] = {
        {"pid", "pid"}, {"network", "net"}, {"mount", "mnt"},     {"ipc", "ipc"},
        {"uts", "uts"}, {"user", "user"},   {"cgroup", "cgroup"}, {"time", "time"},
    };
    *out = NULL;
    json_error_t je;
    json_t *root = json_loadb((const char *)data, len, 0, &je);
    if (root == NULL)
        return 0; /* json_terminal says what is wrong */
    const char *sb = json_string_value(
        json_object_get(json_object_get(root, "annotations"), CAPSA_VM_POD_ANNOTATION));
    const struct agent_proc *p = sb ? a->procs : NULL;
    while (p && !(p->init && strcmp(p->cid, sb) == 0))
        p = p->next;
    if (p == NULL) {
        json_decref(root);
        return sb ? capsa_err_setx(err, ENOENT,
                                   "the pod's sandbox %.200s has no init in this guest", sb)
                  : 0;
    }
    int r = 0;
    json_t *nss = json_object_get(json_object_get(root, "linux"), "namespaces");
    size_t i;
    json_t *ns;
    json_array_foreach (nss, i, ns) {
        const char *type = json_string_value(json_object_get(ns, "type"));
        if (json_object_get(ns, "path") == NULL || type == NULL)
            continue;
        const char *name = NULL;
        for (size_t k = 0; k < sizeof names / sizeof names[0] && !name; k++)
            if (strcmp(type, names[k][0]) == 0)
                name = names[k][1];
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/ns/%s", (int)p->pid, name ? name : "");
        if (name == NULL || json_object_set_new(ns, "path", json_string(path)) < 0) {
            r = capsa_err_setx(err, EINVAL, "linux.namespaces[%zu]: type \"%.32s\"", i, type);
            break;
        }
    }
    if (r == 0 && (*out = json_dumps(root, JSON_COMPACT)) == NULL)
        r = capsa_err_set(err, ENOMEM, "config");
    json_decref(root);
    return r;
}

static int do_create(struct agent *a, const struct capsa_vm_msg *in, struct capsa_err *err)
{
    cleanup_free char *cfg = NULL;
    int r = pod_config(a, in->data, in->len, &cfg, err);
    if (r < 0)
        return r;
    struct capsa_vm_msg pm = *in;
    if (cfg) {
        pm.data = (const uint8_t *)cfg;
        pm.len = (uint32_t)strlen(cfg);
    }
    const struct capsa_vm_msg *m = &pm;
    struct launch l;
    r = launch_begin(a, m, "config", true, false, &l, err);
    bool created = false;
    if (r == 0) {
        struct capsa_create_opts o = {.bundle = m->bundle,
                                      .config = l.json,
                                      .pid_file = l.pidf,
                                      .console_socket = l.tty ? l.s.sock : NULL};
        stdio_swap(&l.s, true);
        r = capsa_container_create(&a->ctx, m->cid, &o, err);
        stdio_swap(&l.s, false);
        created = r == 0;
    }
    pid_t pid;
    if ((r = launch_end(&l, r, &pid, err)) < 0) {
        plan_release(&l.s);
        struct capsa_err e2 = {0};
        /* Created, but not relayable: nothing of it stays. */
        if (created)
            (void)capsa_container_delete(&a->ctx, m->cid, true, &e2);
        return r;
    }
    proc_add(a, m->proc, m->cid, pid, true, &l.s);
    plan_release(&l.s);
    char(*n)[256] = realloc(a->cids, (a->n_cids + 1) * sizeof *a->cids);
    if (n) {
        a->cids = n;
        snprintf(a->cids[a->n_cids++], sizeof *a->cids, "%s", m->cid);
    }
    return (int)pid;
}

static int do_exec(struct agent *a, const struct capsa_vm_msg *m, struct capsa_err *err)
{
    struct launch l;
    int r = launch_begin(a, m, "process", false, (m->flags & CAPSA_VM_EXEC_TTY) != 0, &l, err);
    if (r == 0) {
        struct capsa_exec_opts o = {.process_file = l.json,
                                    .tty = l.tty,
                                    .console_socket = l.tty ? l.s.sock : NULL,
                                    .detach = true,
                                    .pid_file = l.pidf};
        int code = 0;
        stdio_swap(&l.s, true);
        r = capsa_container_exec(&a->ctx, m->cid, &o, &code, err);
        stdio_swap(&l.s, false);
    }
    pid_t pid;
    if ((r = launch_end(&l, r, &pid, err)) < 0) {
        plan_release(&l.s);
        return r;
    }
    proc_add(a, m->proc, m->cid, pid, false, &l.s);
    plan_release(&l.s);
    return (int)pid;
}

static int do_signal(struct agent *a, const struct capsa_vm_msg *m, struct capsa_err *err)
{
    int r = check_cid(m->cid, err);
    if (r < 0)
        return r;
    if (m->signo >= 65)
        return capsa_err_setx(err, EINVAL, "signal %u: out of range", m->signo);
    if (m->proc == CAPSA_VM_PROC_ALL)
        return capsa_container_kill(&a->ctx, m->cid, (int)m->signo, true, err);
    struct agent_proc *p = find_proc(a, m->proc);
    if (p == NULL || strcmp(p->cid, m->cid) != 0)
        return capsa_err_setx(err, ESRCH, "container %s: no process %u", m->cid, m->proc);
    if (p->init)
        return capsa_container_kill(&a->ctx, m->cid, (int)m->signo, false, err);
    /* Our child, not yet reaped: its pid cannot have been reused. */
    if (kill(p->pid, (int)m->signo) < 0)
        return capsa_err_set(err, errno, "kill process %u", m->proc);
    return 0;
}

static void forget_cid(struct agent *a, const char *cid)
{
    for (size_t i = 0; i < a->n_cids; i++) {
        if (strcmp(a->cids[i], cid) == 0) {
            memmove(&a->cids[i], &a->cids[i + 1], (a->n_cids - i - 1) * sizeof *a->cids);
            a->n_cids--;
            return;
        }
    }
}

static void on_stdin(struct agent *a, const struct capsa_vm_msg *m)
{
    struct agent_proc *p = find_proc(a, m->id);
    if (p == NULL || p->in_fd < 0)
        return; /* gone already: it may have exited as the data crossed */
    if (m->len == 0) {
        p->in_eof = true;
    } else {
        /* A process that never reads would let the queue grow without end. */
        struct capsa_err err = {0};
        if (capsa_vm_buf_pending(&p->in_q) + m->len > STDIN_MAX) {
            agent_log(a, "process %u: stdin backlog over %u bytes, data dropped", p->proc,
                      STDIN_MAX);
            return;
        }
        if (capsa_vm_buf_append(&p->in_q, m->data, m->len, &err) < 0) {
            agent_log(a, "process %u: stdin: %s", p->proc, err.msg);
            return;
        }
    }
    relay_in(a, p);
}

static void on_resize(struct agent *a, const struct capsa_vm_msg *m)
{
    struct agent_proc *p = find_proc(a, m->id);
    if (p == NULL || !p->tty || p->out_fd < 0)
        return;
    struct winsize ws = {.ws_row = (unsigned short)m->rows, .ws_col = (unsigned short)m->cols};
    if (ioctl(p->out_fd, TIOCSWINSZ, &ws) < 0)
        agent_log(a, "process %u: resize: %s", p->proc, strerror(errno));
}

/* NET: the NICs the host wired for a created container: moved into its
 * network namespace, given the engine's interfaces' names, MACs,
 * addresses and routes. Only as PID 1 of a guest: an agent run on the host
 * for tests must not touch the host's network. */
static int do_net(struct agent *a, const struct capsa_vm_msg *m, struct capsa_err *err)
{
    if (!a->conf.init)
        return capsa_err_setx(err, ENOTSUP, "NET: this agent is not a guest's init");
    int r = check_cid(m->cid, err);
    const struct agent_proc *p = a->procs;
    while (r == 0 && p && !(p->init && strcmp(p->cid, m->cid) == 0))
        p = p->next;
    if (r == 0 && p == NULL)
        r = capsa_err_setx(err, ENOENT, "NET: container %s has no init here", m->cid);
    struct capsa_vm_net n;
    if (r == 0)
        r = capsa_vm_net_parse((const char *)m->data, m->len, &n, err);
    return r < 0 ? r : capsa_vm_net_apply_in(&n, p->pid, err);
}

/* PS: the container's processes in the guest, "PID CMD" and a line each,
 * the command line from /proc (NULs as spaces, at most 200 bytes). */
static int ps_table(struct agent *a, const char *cid, char **out, struct capsa_err *err)
{
    int *pids = NULL;
    size_t n = 0;
    int r = capsa_container_pids(&a->ctx, cid, &pids, &n, err);
    if (r < 0)
        return r;
    size_t cap = 16 + n * 224, len = 0;
    char *t = malloc(cap);
    if (t == NULL) {
        free(pids);
        return capsa_err_set(err, ENOMEM, "PS");
    }
    len = (size_t)snprintf(t, cap, "PID CMD\n");
    for (size_t i = 0; i < n; i++) {
        char path[64], cmd[201];
        snprintf(path, sizeof path, "/proc/%d/cmdline", pids[i]);
        ssize_t got = -1;
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            got = read(fd, cmd, sizeof cmd - 1);
            close(fd);
        }
        if (got <= 0)
            continue; /* gone, or a zombie */
        while (got > 0 && cmd[got - 1] == '\0')
            got--;
        for (ssize_t k = 0; k < got; k++)
            if ((unsigned char)cmd[k] < ' ' || cmd[k] == 0x7f)
                cmd[k] = ' ';
        cmd[got] = '\0';
        len += (size_t)snprintf(t + len, cap - len, "%d %s\n", pids[i], cmd);
    }
    free(pids);
    *out = t;
    return 0;
}

/* A protocol violation: say so and stop (the stream may be out of step). */
/* The host's HELLO info may carry its wall clock, "time=SEC.NSEC" (docs/
 * vm-protocol.md): as PID 1 the agent sets the guest's from it. Under TCG
 * the guest starts from the microvm's RTC, whole seconds off the host's,
 * which the share's host-stamped file times show; under KVM kvmclock
 * agrees already, and setting it again is harmless. */
static void set_clock(struct agent *a, const char *info)
{
    const char *t = info ? strstr(info, "time=") : NULL;
    if (!a->conf.init || t == NULL)
        return;
    char *end = NULL;
    errno = 0;
    long long sec = strtoll(t + 5, &end, 10);
    long nsec = 0;
    if (errno == 0 && end && *end == '.') {
        char *nend = NULL;
        nsec = strtol(end + 1, &nend, 10);
        if (nend != end + 10 || nsec < 0 || nsec > 999999999)
            return;
    } else {
        return;
    }
    if (sec <= 0)
        return;
    struct timespec ts = {.tv_sec = (time_t)sec, .tv_nsec = nsec};
    if (clock_settime(CLOCK_REALTIME, &ts) < 0)
        agent_log(a, "warning: setting the clock from the host's: %s", strerror(errno));
}

static void proto_fail(struct agent *a, uint32_t id, const struct capsa_err *e)
{
    agent_log(a, "%s", e->msg);
    reply_err(a, id, e);
    a->quit = true;
}

static void handle(struct agent *a, const struct capsa_vm_msg *m)
{
    struct capsa_err err = {0};
    if (m->type != CAPSA_VM_HELLO && !a->hello) {
        capsa_err_setx(&err, EPROTO, "vm protocol: %s before HELLO", capsa_vm_type_name(m->type));
        proto_fail(a, m->id, &err);
        return;
    }
    int r = 0;
    char *json = NULL;
    switch ((enum capsa_vm_type)m->type) {
    case CAPSA_VM_HELLO:
        if (m->magic != CAPSA_VM_MAGIC || m->version != CAPSA_VM_VERSION) {
            capsa_err_setx(&err, EPROTONOSUPPORT,
                           "vm protocol: HELLO magic %#x version %u, this agent speaks %#x "
                           "version %u",
                           m->magic, m->version, CAPSA_VM_MAGIC, CAPSA_VM_VERSION);
            proto_fail(a, m->id, &err);
            return;
        }
        a->hello = true;
        set_clock(a, m->info);
        return;
    case CAPSA_VM_STDIN:
        on_stdin(a, m);
        return;
    case CAPSA_VM_RESIZE:
        on_resize(a, m);
        return;
    case CAPSA_VM_CREATE:
        r = do_create(a, m, &err);
        break;
    case CAPSA_VM_EXEC:
        r = do_exec(a, m, &err);
        break;
    case CAPSA_VM_START:
        if ((r = check_cid(m->cid, &err)) == 0)
            r = capsa_container_start(&a->ctx, m->cid, &err);
        break;
    case CAPSA_VM_SIGNAL:
        r = do_signal(a, m, &err);
        break;
    case CAPSA_VM_STATS:
        if ((r = check_cid(m->cid, &err)) == 0)
            r = capsa_container_stats(&a->ctx, m->cid, &json, &err);
        break;
    case CAPSA_VM_UPDATE:
        if ((r = check_cid(m->cid, &err)) == 0)
            r = capsa_container_update(&a->ctx, m->cid, (const char *)m->data, m->len, NULL, 0,
                                       &err);
        break;
    case CAPSA_VM_PAUSE:
        if ((r = check_cid(m->cid, &err)) == 0)
            r = capsa_container_pause(&a->ctx, m->cid, &err);
        break;
    case CAPSA_VM_RESUME:
        if ((r = check_cid(m->cid, &err)) == 0)
            r = capsa_container_resume(&a->ctx, m->cid, &err);
        break;
    case CAPSA_VM_DELETE:
        if ((r = check_cid(m->cid, &err)) == 0)
            r = capsa_container_delete(&a->ctx, m->cid, (m->flags & CAPSA_VM_DEL_FORCE) != 0, &err);
        if (r == 0)
            forget_cid(a, m->cid);
        break;
    case CAPSA_VM_SHUTDOWN:
        a->quit = true;
        break;
    case CAPSA_VM_NET:
        r = do_net(a, m, &err);
        break;
    case CAPSA_VM_PS:
        if ((r = check_cid(m->cid, &err)) == 0)
            r = ps_table(a, m->cid, &json, &err);
        break;
    case CAPSA_VM_OOMS: {
        uint64_t n = 0;
        if ((r = check_cid(m->cid, &err)) == 0 &&
            (r = capsa_container_ooms(&a->ctx, m->cid, &n, &err)) == 0 &&
            asprintf(&json, "%llu", (unsigned long long)n) < 0) {
            json = NULL;
            r = capsa_err_set(&err, ENOMEM, "OOMS");
        }
        break;
    }
    case CAPSA_VM_OK:
    case CAPSA_VM_ERROR:
    case CAPSA_VM_STDOUT:
    case CAPSA_VM_STDERR:
    case CAPSA_VM_EXIT:
        capsa_err_setx(&err, EPROTO, "vm protocol: %s is sent by the agent, not to it",
                       capsa_vm_type_name(m->type));
        proto_fail(a, m->id, &err);
        return;
    }
    if (r < 0)
        reply_err(a, m->id, &err);
    else
        reply_ok(a, m->id, (uint32_t)r, json);
    free(json);
}

static void on_channel(struct agent *a)
{
    static uint8_t buf[READ_CHUNK];
    ssize_t n = read(a->chan, buf, sizeof buf);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        agent_log(a, "channel %s", n < 0 ? strerror(errno) : "closed by the host");
        a->quit = true;
        return;
    }
    struct capsa_err err = {0};
    if (capsa_vm_reader_feed(&a->rd, buf, (size_t)n, &err) < 0) {
        proto_fail(a, 0, &err);
        return;
    }
    while (!a->quit) {
        struct capsa_vm_msg m;
        uint32_t id = 0;
        int r = capsa_vm_reader_next(&a->rd, &m, &id, &err);
        if (r == 0)
            break;
        if (r < 0) {
            proto_fail(a, id, &err);
            break;
        }
        handle(a, &m);
    }
}

int agent_serve(struct agent *a, struct capsa_err *err)
{
    char rel[128] = "unknown";
    (void)guest_kernel_release(rel, sizeof rel);
    struct capsa_vm_msg hello = {
        .type = CAPSA_VM_HELLO, .magic = CAPSA_VM_MAGIC, .version = CAPSA_VM_VERSION, .info = rel};
    send_msg(a, &hello);
    a->w_chan = (struct watch){W_CHANNEL, NULL};
    a->w_sig = (struct watch){W_SIGNAL, NULL};
    bool on = false;
    watch_set(a, a->sfd, &a->w_sig, EPOLLIN, &on);
    flush_out(a);
    while (!a->quit) {
        struct epoll_event ev[32];
        int n = epoll_wait(a->epfd, ev, 32, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return capsa_err_set(err, errno, "epoll_wait");
        }
        for (int i = 0; i < n && !a->quit; i++) {
            struct watch *w = ev[i].data.ptr;
            switch (w->kind) {
            case W_CHANNEL:
                if (ev[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                    on_channel(a);
                break;
            case W_SIGNAL:
                reap(a);
                /* Processes may be gone: what else epoll returned this
                 * round may point at freed memory. */
                i = n;
                break;
            case W_STDIN:
                relay_in(a, w->p);
                break;
            case W_STDOUT:
                (void)relay_out(a, w->p, &w->p->out_fd, CAPSA_VM_STDOUT);
                break;
            case W_STDERR:
                (void)relay_out(a, w->p, &w->p->err_fd, CAPSA_VM_STDERR);
                break;
            }
        }
        flush_out(a);
    }
    return 0;
}

void agent_cleanup(struct agent *a)
{
    for (size_t i = 0; i < a->n_cids; i++) {
        struct capsa_err err = {0};
        if (capsa_container_delete(&a->ctx, a->cids[i], true, &err) < 0)
            agent_log(a, "delete %s: %s", a->cids[i], err.msg);
    }
    free(a->cids);
    a->cids = NULL;
    a->n_cids = 0;
    /* The processes are dead or dying: reap what is there, report it. */
    reap(a);
    while (a->procs)
        proc_free(a, a->procs);
    flush_blocking(a);
}
