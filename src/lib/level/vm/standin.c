/* standin.c - the host-side processes that stand in for the guest's: the
 * container's init (started by `start`) and each process of `exec`.
 *
 * A stand-in runs where the native level's process would (the container's
 * namespaces, cgroup and confinement, its pid the one engines wait for). It
 * relays its stdio to the guest process as STDIN/STDOUT/STDERR frames,
 * forwards the signals it gets as SIGNAL, the terminal's size as RESIZE, and
 * exits with the guest process's status (128+N for a signal, where it
 * cannot die of it itself).
 *
 * The init's stand-in owns the agent channel (one byte stream), so it also
 * multiplexes: it accepts connections on the exec socket (<state>/exec.sock,
 * made by `create`) from exec stand-ins and other runtime commands, which
 * speak the same protocol. Each connection may run one process: the
 * multiplexer gives it a guest process id of its own, gives each request an
 * id of its own, and routes the answers and the process's frames back. A
 * connection may send EXEC, STDIN, RESIZE, SIGNAL (to its process, or
 * CAPSA_VM_PROC_ALL), STATS, OOMS, PS, UPDATE, PAUSE and RESUME for this
 * container or a pod member; anything else is answered EPERM.
 *
 * CRI pods: the VM of a pod's sandbox also runs the pod's other containers
 * (members). A member's create connects here and sends CREATE for its own
 * id, whose init is then that connection's process; the connection goes to
 * the member's init stand-in, which sends START on it. The member's id is
 * known here from its CREATE until a DELETE of it succeeds; requests may name
 * this container or a member, no other. A connection
 * that closes while its process runs has that process killed (the host
 * process that stood for it is gone). Writes to connections are queued
 * (non-blocking); one that lets more than CONN_QUEUE_MAX bytes pile up is
 * dropped, so that a client that stops reading cannot stall the others. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include "level/vm/proto.h"
#include "level/vm/standin.h"
#include "util/util.h"

#define REQ_START    2u
#define REQ_SHUTDOWN 3u
#define REQ_SIGNAL   4u
#define REQ_EXEC     5u
#define REQ_ROUTED   0x10000u /* ids the multiplexer gives start here */

#define MAX_CONNS      64
#define MAX_ROUTES     256
#define MAX_MEMBERS    64
#define CONN_QUEUE_MAX (16u << 20)

/* ---- the channel ------------------------------------------------------- */

int capsa_vm_send(int fd, const struct capsa_vm_msg *m, struct capsa_err *err)
{
    struct capsa_vm_buf b = {0};
    int r = capsa_vm_encode(m, &b, err);
    if (r == 0 && (r = capsa_write_all(fd, b.data + b.off, capsa_vm_buf_pending(&b))) < 0)
        r = capsa_err_set(err, -r, "vm: write %s to the agent channel",
                          capsa_vm_type_name(m->type));
    capsa_vm_buf_free(&b);
    return r;
}

/* Read into rd what there is; -EPIPE when the channel closed. */
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

int capsa_vm_recv(int fd, struct capsa_vm_reader *rd, struct capsa_vm_msg *m, struct capsa_err *err)
{
    for (;;) {
        int r = capsa_vm_reader_next(rd, m, NULL, err);
        if (r != 0)
            return r < 0 ? r : 0;
        if ((r = fill(fd, rd, err)) < 0)
            return r;
    }
}

int capsa_vm_recv_reply(int fd, struct capsa_vm_reader *rd, uint32_t id, const char *what,
                        struct capsa_vm_msg *m, struct capsa_err *err)
{
    int r = capsa_vm_recv(fd, rd, m, err);
    if (r < 0)
        return capsa_err_wrap(err, "vm: waiting for the agent's answer to %s", what);
    if (m->type == CAPSA_VM_ERROR) {
        /* The guest's words reach a terminal: no escape sequence. */
        r = capsa_err_setx(err, m->errnum ? (int)m->errnum : EIO, "vm: the guest agent: %s: %s",
                           what, m->message);
        capsa_vm_clean_text(err->msg, sizeof err->msg);
        return r;
    }
    if (m->type != CAPSA_VM_OK || m->id != id)
        return capsa_err_setx(err, EPROTO, "vm: the guest agent answered %s with %s (id %u)", what,
                              capsa_vm_type_name(m->type), m->id);
    return 0;
}

/* ---- the multiplexer (the init's stand-in only) ------------------------ */

struct conn {
    int fd; /* -1: closed (a process may still run: gproc) */
    struct capsa_vm_reader rd;
    struct capsa_vm_buf out;
    uint32_t cproc; /* the connection's id for its process */
    uint32_t gproc; /* the guest's, 0: none */
};

struct route {
    uint32_t gid, cid; /* gid 0: free */
    int conn;          /* -1: nobody waits for it */
    bool exec;         /* EXEC or CREATE: the connection's process */
    uint8_t type;
    int member; /* CREATE, DELETE: the pod member's slot, else -1 */
};

struct member {
    bool used;
    char cid[256];
};

struct mux {
    int listen_fd;
    const char *id;
    int ch;
    struct conn conns[MAX_CONNS];
    struct route routes[MAX_ROUTES];
    struct member members[MAX_MEMBERS];
    uint32_t next_req, next_proc;
};

static int member_find(const struct mux *x, const char *cid)
{
    for (size_t i = 0; cid && i < MAX_MEMBERS; i++)
        if (x->members[i].used && strcmp(x->members[i].cid, cid) == 0)
            return (int)i;
    return -1;
}

static int member_add(struct mux *x, const char *cid)
{
    for (size_t i = 0; i < MAX_MEMBERS; i++) {
        struct member *mb = &x->members[i];
        if (!mb->used) {
            mb->used = true;
            snprintf(mb->cid, sizeof mb->cid, "%s", cid);
            return (int)i;
        }
    }
    return -1;
}

static void conn_free(struct conn *c)
{
    capsa_close(&c->fd);
    capsa_vm_reader_free(&c->rd);
    capsa_vm_buf_free(&c->out);
    *c = (struct conn){.fd = -1};
}

static void conn_drop(struct mux *x, struct conn *c);

/* Queue m for connection c (dropped when c is closed). */
static void conn_send(struct mux *x, struct conn *c, const struct capsa_vm_msg *m)
{
    struct capsa_err e = {0};
    if (c->fd < 0)
        return;
    /* No memory, or a client that does not read: drop it. */
    if (capsa_vm_encode(m, &c->out, &e) < 0 || capsa_vm_buf_pending(&c->out) > CONN_QUEUE_MAX)
        conn_drop(x, c);
}

static void conn_error(struct mux *x, struct conn *c, uint32_t id, int e, const char *msg)
{
    struct capsa_vm_msg m = {
        .type = CAPSA_VM_ERROR, .id = id, .errnum = (uint32_t)e, .message = msg};
    conn_send(x, c, &m);
}

static bool proc_in_use(const struct mux *x, uint32_t p)
{
    if (p == 0 || p == CAPSA_VM_STANDIN_INIT || p == CAPSA_VM_PROC_ALL)
        return true;
    for (size_t i = 0; i < MAX_CONNS; i++)
        if (x->conns[i].gproc == p)
            return true;
    return false;
}

static uint32_t new_proc(struct mux *x)
{
    while (proc_in_use(x, x->next_proc))
        x->next_proc++;
    return x->next_proc++;
}

/* A route for a request of connection ci (-1: nobody) with its id cid;
 * NULL when there are too many in flight. */
static struct route *new_route(struct mux *x, int ci, uint32_t cid, bool exec, uint8_t type,
                               int member)
{
    for (size_t i = 0; i < MAX_ROUTES; i++) {
        struct route *rt = &x->routes[i];
        if (rt->gid != 0)
            continue;
        if (x->next_req < REQ_ROUTED)
            x->next_req = REQ_ROUTED;
        *rt = (struct route){.gid = x->next_req++,
                             .cid = cid,
                             .conn = ci,
                             .exec = exec,
                             .type = type,
                             .member = member};
        return rt;
    }
    return NULL;
}

/* The connection's process is killed: a SIGNAL nobody waits for. */
static int kill_proc(struct mux *x, uint32_t gproc, struct capsa_err *err)
{
    struct route *rt = new_route(x, -1, 0, false, CAPSA_VM_SIGNAL, -1);
    if (rt == NULL)
        return 0; /* the guest powers off with the container anyway */
    struct capsa_vm_msg m = {
        .type = CAPSA_VM_SIGNAL, .id = rt->gid, .cid = x->id, .proc = gproc, .signo = SIGKILL};
    return capsa_vm_send(x->ch, &m, err);
}

/* The connection ends; a process it runs is killed, and its slot stays
 * taken until the process's EXIT. */
static void conn_drop(struct mux *x, struct conn *c)
{
    struct capsa_err e = {0};
    /* Nobody waits for its answers any more: a later connection in this
     * slot must not get them. */
    int ci = (int)(c - x->conns);
    for (size_t i = 0; i < MAX_ROUTES; i++)
        if (x->routes[i].gid != 0 && x->routes[i].conn == ci)
            x->routes[i].conn = -1;
    capsa_close(&c->fd);
    capsa_vm_buf_free(&c->out);
    if (c->gproc != 0)
        (void)kill_proc(x, c->gproc, &e); /* a dead channel ends the init anyway */
    else
        conn_free(c);
}

/* A frame from connection ci, rewritten for the agent. */
static int from_conn(struct mux *x, int ci, struct capsa_vm_msg *m, struct capsa_err *err)
{
    struct conn *c = &x->conns[ci];
    switch ((enum capsa_vm_type)m->type) {
    case CAPSA_VM_STDIN:
    case CAPSA_VM_RESIZE:
        if (c->gproc == 0 || m->id != c->cproc)
            return 0; /* the process is gone: dropped, as the agent does */
        m->id = c->gproc;
        return capsa_vm_send(x->ch, m, err);
    case CAPSA_VM_EXEC:
    case CAPSA_VM_SIGNAL:
    case CAPSA_VM_STATS:
    case CAPSA_VM_OOMS:
    case CAPSA_VM_PS:
    case CAPSA_VM_UPDATE:
    case CAPSA_VM_PAUSE:
    case CAPSA_VM_RESUME:
    case CAPSA_VM_CREATE:
    case CAPSA_VM_START:
    case CAPSA_VM_DELETE:
        break;
    case CAPSA_VM_HELLO:
    case CAPSA_VM_OK:
    case CAPSA_VM_ERROR:
    case CAPSA_VM_STDOUT:
    case CAPSA_VM_STDERR:
    case CAPSA_VM_EXIT:
    case CAPSA_VM_SHUTDOWN:
    case CAPSA_VM_NET:
    default:
        conn_error(x, c, m->id, EPERM, "not allowed through the exec socket");
        return 0;
    }
    /* Which container: this one, or a pod member (CREATE: a new one). */
    char why[320];
    bool own = m->cid != NULL && strcmp(m->cid, x->id) == 0;
    int mi = member_find(x, m->cid);
    bool exec = m->type == CAPSA_VM_EXEC || m->type == CAPSA_VM_CREATE;
    if (m->type == CAPSA_VM_CREATE) {
        if (own || mi >= 0 || m->cid == NULL || !capsa_id_valid(m->cid)) {
            snprintf(why, sizeof why, "container %.256s: %s in this VM", m->cid ? m->cid : "",
                     own || mi >= 0 ? "exists" : "invalid id");
            conn_error(x, c, m->id, own || mi >= 0 ? EEXIST : EINVAL, why);
            return 0;
        }
    } else if ((m->type == CAPSA_VM_START || m->type == CAPSA_VM_DELETE) ? mi < 0
                                                                         : (!own && mi < 0)) {
        snprintf(why, sizeof why, "no %scontainer %.256s in this VM", own ? "pod member " : "",
                 m->cid ? m->cid : "");
        conn_error(x, c, m->id, own ? EPERM : ENOENT, why);
        return 0;
    }
    if (exec && c->gproc != 0) {
        conn_error(x, c, m->id, EBUSY, "this connection already runs a process");
        return 0;
    }
    if (m->type == CAPSA_VM_SIGNAL) {
        if (m->proc == CAPSA_VM_PROC_ALL)
            ;
        else if (c->gproc != 0 && m->proc == c->cproc)
            m->proc = c->gproc;
        else {
            conn_error(x, c, m->id, ESRCH, "no such process on this connection");
            return 0;
        }
    }
    if (m->type == CAPSA_VM_CREATE && (mi = member_add(x, m->cid)) < 0) {
        conn_error(x, c, m->id, EAGAIN, "too many pod members in this VM");
        return 0;
    }
    struct route *rt =
        new_route(x, ci, m->id, exec, m->type,
                  m->type == CAPSA_VM_CREATE || m->type == CAPSA_VM_DELETE ? mi : -1);
    if (rt == NULL) {
        if (m->type == CAPSA_VM_CREATE)
            x->members[mi].used = false;
        conn_error(x, c, m->id, EAGAIN, "too many requests in flight");
        return 0;
    }
    if (exec) {
        c->cproc = m->proc;
        c->gproc = new_proc(x);
        m->proc = c->gproc;
    }
    m->id = rt->gid;
    return capsa_vm_send(x->ch, m, err);
}

/* What connection ci sent. An error is the agent channel's (fatal); the
 * connection closing or sending a malformed frame ends it alone. */
static int conn_read(struct mux *x, int ci, struct capsa_err *err)
{
    struct conn *c = &x->conns[ci];
    struct capsa_err e = {0};
    int r = fill(c->fd, &c->rd, &e);
    struct capsa_vm_msg m;
    while (r == 0 && (r = capsa_vm_reader_next(&c->rd, &m, NULL, &e)) > 0) {
        if (from_conn(x, ci, &m, err) < 0)
            return -EIO;
        r = 0;
    }
    if (r < 0)
        conn_drop(x, c);
    return 0;
}

static void conn_flush(struct mux *x, struct conn *c)
{
    while (c->fd >= 0 && capsa_vm_buf_pending(&c->out) > 0) {
        ssize_t n = send(c->fd, c->out.data + c->out.off, capsa_vm_buf_pending(&c->out),
                         MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0) {
            conn_drop(x, c);
            return;
        }
        capsa_vm_buf_consume(&c->out, (size_t)n);
    }
}

static void conn_accept(struct mux *x)
{
    int fd = accept4(x->listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0)
        return;
    for (size_t i = 0; i < MAX_CONNS; i++) {
        struct conn *c = &x->conns[i];
        if (c->fd < 0 && c->gproc == 0) {
            conn_free(c);
            c->fd = fd;
            return;
        }
    }
    close(fd); /* full: the client sees the channel close */
}

/* A frame from the agent that is not the init's: to whom it belongs. */
static void to_conn(struct mux *x, const struct capsa_vm_msg *in)
{
    struct capsa_vm_msg m = *in;
    if (m.type == CAPSA_VM_OK || m.type == CAPSA_VM_ERROR) {
        for (size_t i = 0; i < MAX_ROUTES; i++) {
            struct route *rt = &x->routes[i];
            if (rt->gid == 0 || rt->gid != m.id)
                continue;
            int ci = rt->conn;
            bool failed_exec = rt->exec && m.type == CAPSA_VM_ERROR;
            /* A member is known from its CREATE until its DELETE. */
            bool gone =
                rt->member >= 0 &&
                ((rt->type == CAPSA_VM_CREATE && m.type == CAPSA_VM_ERROR) ||
                 (rt->type == CAPSA_VM_DELETE && (m.type == CAPSA_VM_OK || m.errnum == ENOENT)));
            if (gone)
                x->members[rt->member].used = false;
            m.id = rt->cid;
            *rt = (struct route){0};
            if (ci < 0)
                return;
            struct conn *c = &x->conns[ci];
            if (failed_exec) {
                c->gproc = 0;
                if (c->fd < 0) {
                    conn_free(c);
                    return;
                }
            }
            conn_send(x, c, &m);
            return;
        }
        return;
    }
    if (m.type != CAPSA_VM_STDOUT && m.type != CAPSA_VM_STDERR && m.type != CAPSA_VM_EXIT)
        return;
    for (size_t i = 0; i < MAX_CONNS; i++) {
        struct conn *c = &x->conns[i];
        if (c->gproc == 0 || c->gproc != m.id)
            continue;
        m.id = c->cproc;
        conn_send(x, c, &m);
        if (m.type == CAPSA_VM_EXIT) {
            c->gproc = 0;
            if (c->fd < 0)
                conn_free(c);
        }
        return;
    }
}

static void mux_free(struct mux *x)
{
    for (size_t i = 0; i < MAX_CONNS; i++)
        conn_free(&x->conns[i]);
}

/* ---- the stand-in ------------------------------------------------------ */

static const int forwarded[] = {SIGHUP,  SIGINT,  SIGQUIT, SIGUSR1, SIGUSR2,
                                SIGTERM, SIGALRM, SIGCONT, SIGTSTP, SIGWINCH};

struct relay {
    int ch;
    const char *id;
    uint32_t proc;
    struct capsa_vm_reader rd;
    bool stdin_open, tty, exited;
    uint32_t how, code;
    struct mux *mux; /* the init's: the exec socket's connections */
};

static int send_resize(struct relay *x, struct capsa_err *err)
{
    struct winsize ws;
    if (!x->tty || ioctl(0, TIOCGWINSZ, &ws) < 0)
        return 0;
    struct capsa_vm_msg m = {
        .type = CAPSA_VM_RESIZE, .id = x->proc, .rows = ws.ws_row, .cols = ws.ws_col};
    return capsa_vm_send(x->ch, &m, err);
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
                             .proc = x->proc,
                             .signo = si.ssi_signo};
    return capsa_vm_send(x->ch, &m, err);
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
        .type = CAPSA_VM_STDIN, .id = x->proc, .data = buf, .len = n > 0 ? (uint32_t)n : 0};
    return capsa_vm_send(x->ch, &m, err);
}

/* The frames the channel has: our process's output and EXIT, answers to
 * our SIGNALs (an ERROR there is a process already gone), and with a
 * multiplexer, everybody else's. */
static int on_channel(struct relay *x, struct capsa_err *err)
{
    int r = fill(x->ch, &x->rd, err);
    struct capsa_vm_msg m;
    while (r == 0 && (r = capsa_vm_reader_next(&x->rd, &m, NULL, err)) > 0) {
        r = 0;
        bool ours_stream =
            m.id == x->proc &&
            (m.type == CAPSA_VM_STDOUT || m.type == CAPSA_VM_STDERR || m.type == CAPSA_VM_EXIT);
        bool ours_answer = (m.type == CAPSA_VM_OK || m.type == CAPSA_VM_ERROR) && m.id < REQ_ROUTED;
        if (ours_stream && m.type != CAPSA_VM_EXIT) {
            if (m.len > 0)
                (void)capsa_write_all(m.type == CAPSA_VM_STDOUT ? 1 : 2, m.data, m.len);
        } else if (ours_stream) {
            x->exited = true;
            x->how = m.how;
            x->code = m.code;
        } else if (ours_answer) {
            if (m.type == CAPSA_VM_ERROR && m.id != REQ_SIGNAL)
                r = capsa_err_setx(err, m.errnum ? (int)m.errnum : EIO, "vm: the guest agent: %s",
                                   m.message);
        } else if (x->mux) {
            to_conn(x->mux, &m);
        }
    }
    return r;
}

/* After EXIT: SHUTDOWN, and wait for the channel to close (the guest has
 * synced its share and powered off). */
static void shutdown_guest(struct relay *x)
{
    struct capsa_err e = {0};
    struct capsa_vm_msg m = {.type = CAPSA_VM_SHUTDOWN, .id = REQ_SHUTDOWN};
    if (capsa_vm_send(x->ch, &m, &e) < 0)
        return;
    struct capsa_vm_msg in;
    while (capsa_vm_recv(x->ch, &x->rd, &in, &e) == 0)
        ;
}

/* poll slots: channel, signals, stdin, the exec socket, connections. */
#define FIXED_SLOTS 4

static int relay_loop(struct relay *x, int sfd, struct capsa_err *err)
{
    int r = 0;
    struct mux *mx = x->mux;
    while (r == 0 && !x->exited) {
        struct pollfd p[FIXED_SLOTS + MAX_CONNS];
        p[0] = (struct pollfd){.fd = x->ch, .events = POLLIN};
        p[1] = (struct pollfd){.fd = sfd, .events = POLLIN};
        p[2] = (struct pollfd){.fd = x->stdin_open ? 0 : -1, .events = POLLIN};
        p[3] = (struct pollfd){.fd = mx ? mx->listen_fd : -1, .events = POLLIN};
        nfds_t n = FIXED_SLOTS;
        if (mx) {
            for (size_t i = 0; i < MAX_CONNS; i++) {
                const struct conn *c = &mx->conns[i];
                short ev = POLLIN | (capsa_vm_buf_pending(&c->out) > 0 ? POLLOUT : 0);
                p[n++] = (struct pollfd){.fd = c->fd, .events = ev};
            }
        }
        if (poll(p, n, -1) < 0) {
            if (errno == EINTR)
                continue;
            return capsa_err_set(err, errno, "vm: poll");
        }
        if (p[0].revents)
            r = on_channel(x, err);
        if (r == 0 && p[1].revents)
            r = on_signal(x, sfd, err);
        if (r == 0 && p[2].revents)
            r = on_stdin(x, err);
        if (r == 0 && mx && p[3].revents)
            conn_accept(mx);
        for (nfds_t i = FIXED_SLOTS; mx && r == 0 && i < n; i++) {
            struct conn *c = &mx->conns[i - FIXED_SLOTS];
            if (p[i].fd < 0 || p[i].fd != c->fd)
                continue;
            if (p[i].revents & POLLOUT)
                conn_flush(mx, c);
            if (c->fd >= 0 && (p[i].revents & (POLLIN | POLLHUP | POLLERR)))
                r = conn_read(mx, (int)(i - FIXED_SLOTS), err);
        }
    }
    return r;
}

/* The common start: signals to a signalfd, a terminal to raw mode (the
 * guest's pty does the line discipline). */
static int relay_begin(struct relay *x, int *sfd, struct capsa_err *err)
{
    sigset_t set;
    sigemptyset(&set);
    for (size_t i = 0; i < ARRAY_SIZE(forwarded); i++)
        sigaddset(&set, forwarded[i]);
    (void)signal(SIGPIPE, SIG_IGN);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
        return capsa_err_set(err, errno, "vm: block signals");
    *sfd = signalfd(-1, &set, SFD_CLOEXEC);
    if (*sfd < 0)
        return capsa_err_set(err, errno, "vm: signalfd");
    x->tty = isatty(0) == 1;
    if (x->tty) {
        struct termios t;
        if (tcgetattr(0, &t) == 0) {
            cfmakeraw(&t);
            (void)tcsetattr(0, TCSANOW, &t);
        }
    }
    return 0;
}

/* Exit as the guest process did: die of its signal where we can; as PID 1
 * of our pid namespace the kernel ignores it, and 128+N says the same to
 * `run` and to engines. */
__attribute__((noreturn)) static void exit_as(const struct relay *x)
{
    if (x->how == CAPSA_VM_SIGNALED) {
        int sig = (int)x->code;
        (void)signal(sig, SIG_DFL);
        sigset_t one;
        sigemptyset(&one);
        sigaddset(&one, sig);
        sigprocmask(SIG_UNBLOCK, &one, NULL);
        kill(getpid(), sig);
        _exit(128 + (sig & 0x7f));
    }
    _exit((int)(x->code & 0xff));
}

int capsa_vm_standin_init(const char *id, int ch, int listen_fd, struct capsa_err *err)
{
    struct mux mx = {.listen_fd = listen_fd, .id = id, .ch = ch, .next_proc = 2};
    for (size_t i = 0; i < MAX_CONNS; i++)
        mx.conns[i].fd = -1;
    struct relay x = {.ch = ch,
                      .id = id,
                      .proc = CAPSA_VM_STANDIN_INIT,
                      .stdin_open = true,
                      .mux = listen_fd >= 0 ? &mx : NULL};
    cleanup_close int sfd = -1;
    int r = relay_begin(&x, &sfd, err);
    struct capsa_vm_msg start = {.type = CAPSA_VM_START, .id = REQ_START, .cid = id}, reply;
    if (r == 0 && (r = capsa_vm_send(ch, &start, err)) == 0)
        r = capsa_vm_recv_reply(ch, &x.rd, REQ_START, "START", &reply, err);
    if (r == 0 && (r = send_resize(&x, err)) == 0)
        r = relay_loop(&x, sfd, err);
    mux_free(&mx);
    /* The VM's own container powers the guest off; a pod member (no exec
     * socket: its sandbox's serves it) leaves it to the sandbox, and dies
     * with the sandbox's VM as a process of a pid namespace does. */
    if (r == 0 && listen_fd >= 0)
        shutdown_guest(&x);
    capsa_vm_reader_free(&x.rd);
    if (r == -EPIPE && listen_fd < 0) {
        x.how = CAPSA_VM_SIGNALED;
        x.code = SIGKILL;
    } else if (r < 0) {
        return r;
    }
    exit_as(&x);
}

int capsa_vm_standin_exec(const char *id, int conn, const char *process_json, bool tty,
                          struct capsa_err *err)
{
    struct relay x = {.ch = conn, .id = id, .proc = CAPSA_VM_STANDIN_INIT, .stdin_open = true};
    cleanup_close int sfd = -1;
    int r = relay_begin(&x, &sfd, err);
    struct capsa_vm_msg exec = {.type = CAPSA_VM_EXEC,
                                .id = REQ_EXEC,
                                .cid = id,
                                .proc = x.proc,
                                .flags = tty ? CAPSA_VM_EXEC_TTY : 0,
                                .data = (const uint8_t *)process_json,
                                .len = (uint32_t)strlen(process_json)},
                        reply;
    if (r == 0 && (r = capsa_vm_send(conn, &exec, err)) == 0)
        r = capsa_vm_recv_reply(conn, &x.rd, REQ_EXEC, "EXEC", &reply, err);
    if (r == 0 && (r = send_resize(&x, err)) == 0)
        r = relay_loop(&x, sfd, err);
    capsa_vm_reader_free(&x.rd);
    if (r == -EPIPE) {
        /* The container's init is gone, and with it the guest: its
         * processes were killed, as a pid namespace's are. */
        x.how = CAPSA_VM_SIGNALED;
        x.code = SIGKILL;
    } else if (r < 0) {
        return r;
    }
    exit_as(&x);
}
