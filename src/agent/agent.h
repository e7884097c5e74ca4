/* agent.h - capsa-agent, the vm level's guest agent (docs/vm-protocol.md).
 *
 * PID 1 of the guest's initramfs (guest.c: mounts, modules, the channel,
 * power-off), or, for tests, a process on the host given its channel as an
 * fd (--channel-fd N --no-init). It serves the protocol of
 * level/vm/proto.h over that channel in one epoll loop (serve.c) and builds
 * the containers with the public library API, the same calls the CLI makes. */
#ifndef CAPSA_AGENT_AGENT_H
#define CAPSA_AGENT_AGENT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "capsa/capsa.h"
#include "level/vm/proto.h"

/* Settings: command line, else /capsa-agent.conf (KEY = VALUE lines, the
 * long option names), else these defaults. */
struct agent_conf {
    bool init;            /* PID 1 duties (--no-init clears it) */
    int channel_fd;       /* --channel-fd N, else -1: find the port */
    char channel[256];    /* --channel PATH: a device to open instead */
    char port_name[64];   /* --port-name (capsa.agent) */
    char root[256];       /* --root: the library's state root (/run/capsa) */
    char work[256];       /* --work: the agent's files (/run/capsa-agent) */
    char rootfs_tag[64];  /* --rootfs-tag (capsa-rootfs); empty: mount nothing */
    char rootfs_dir[256]; /* --rootfs-dir (/run/capsa/bundle/rootfs) */
    char modules[256];    /* --modules (/modules.order) */
    bool debug;           /* --debug: library debug lines to the log */
};

/* Where a watched fd belongs: epoll's data points at one of these. */
enum watch_kind {
    W_CHANNEL,
    W_SIGNAL,
    W_STDIN,
    W_STDOUT,
    W_STDERR
};
struct agent_proc;
struct watch {
    enum watch_kind kind;
    struct agent_proc *p;
};

/* A process whose stdio the agent relays: a container's init or an exec'd
 * process, known to the host by the id it chose (proc). */
struct agent_proc {
    struct agent_proc *next;
    uint32_t proc;
    char cid[256];
    pid_t pid;
    bool init;
    bool tty;
    int in_fd;                /* stdin pipe's write end, or the pty master (== out_fd) */
    int out_fd;               /* stdout pipe's read end, or the pty master */
    int err_fd;               /* stderr pipe's read end (-1 with a pty) */
    bool in_eof;              /* the host closed stdin: close in_fd once in_q is written */
    struct capsa_vm_buf in_q; /* host data not yet written to in_fd */
    struct watch w_in, w_out, w_err;
    bool in_watched;
};

struct agent {
    struct agent_conf conf;
    struct capsa_ctx ctx;
    int log_fd;
    int epfd;
    int sfd; /* signalfd: SIGCHLD (and, as PID 1, the power-off signals) */
    int chan;
    struct watch w_chan, w_sig;
    struct capsa_vm_reader rd;
    struct capsa_vm_buf out; /* frames not yet written to the channel */
    bool out_watched;
    bool hello;      /* the host's HELLO arrived */
    bool paused_out; /* output reading held back: the channel is behind */
    bool quit;       /* leave the loop (channel closed, SHUTDOWN, protocol error) */
    struct agent_proc *procs;
    char (*cids)[256]; /* containers created through this agent */
    size_t n_cids;
};

void agent_log(const struct agent *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* guest.c: PID 1's duties. */
int guest_setup(const struct agent_conf *c, const struct agent *a, struct capsa_err *err);
int guest_find_port(const char *name, char *path, size_t len, struct capsa_err *err);
int guest_kernel_release(char *buf, size_t len);
__attribute__((noreturn)) void guest_power_off(const struct agent *a);

/* serve.c: the loop. Returns when the agent should stop (*why set). */
int agent_serve(struct agent *a, struct capsa_err *err);
/* Kill and delete every container this agent created; close its processes. */
void agent_cleanup(struct agent *a);

#endif
