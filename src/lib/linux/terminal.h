/* terminal.h - pseudo-terminals for process.terminal: creating the pty inside
 * the container, handing the master to the console socket (SCM_RIGHTS, as runc
 * does) and relaying a pty in the foreground for `capsa run`. */
#ifndef CAPSA_LINUX_TERMINAL_H
#define CAPSA_LINUX_TERMINAL_H

#include <stdbool.h>
#include <stdint.h>

#include "util/err.h"

/* In the container init after pivot_root: open /dev/ptmx (must be a char
 * device of the container's devpts instance), unlock it, open the slave,
 * bind-mount the slave over /dev/console (created if missing), set the
 * window size if given (0 = leave), make the slave the controlling terminal
 * (setsid + TIOCSCTTY) and stdin/stdout/stderr. Returns the master fd
 * (O_CLOEXEC) or -errno. */
int capsa_terminal_setup_console(uint32_t height, uint32_t width, struct capsa_err *err);

/* For `exec --tty`: the same pty, without touching /dev/console (as runc).
 * Returns the master fd (O_CLOEXEC) or -errno. */
int capsa_terminal_open_exec_pty(uint32_t height, uint32_t width, struct capsa_err *err);

/* Send fd over the unix stream socket at path (connecting first), as runc:
 * one byte of data naming the pty, the fd in SCM_RIGHTS. Paths longer than
 * sun_path are reached through /proc/self/fd/<dirfd>/<name>. */
int capsa_console_socket_send(const char *path, int fd, struct capsa_err *err);

/* Send / receive one fd over a connected unix socket with SCM_RIGHTS. */
int capsa_fd_send(int sock, int fd, struct capsa_err *err);
int capsa_fd_recv(int sock, int *fd_out, struct capsa_err *err);

/* Foreground relay for `capsa run` with a terminal: put our stdin in raw mode
 * if it is a tty (restored on return), copy stdin -> master and master ->
 * stdout, propagate SIGWINCH window size changes to the master, until the
 * master reports EOF/EIO or stop_fd (e.g. a pidfd / signalfd) becomes
 * readable. stop_fd may be -1. */
int capsa_terminal_relay(int master, int stop_fd, struct capsa_err *err);

#endif
