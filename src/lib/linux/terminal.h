/* terminal.h - pseudo-terminals for process.terminal: creating the pty inside
 * the container, handing the master to the console socket (SCM_RIGHTS, as runc
 * does) and relaying a pty in the foreground for `capsa run`. */
#ifndef CAPSA_LINUX_TERMINAL_H
#define CAPSA_LINUX_TERMINAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/err.h"

/* In the container init after pivot_root: open /dev/ptmx (must be a char
 * device of the container's devpts instance), unlock it, open the slave,
 * bind-mount the slave over /dev/console (created if missing), set the
 * window size if given (0 = leave), make the slave the controlling terminal
 * (setsid + TIOCSCTTY) and stdin/stdout/stderr, owned by uid owner (the
 * process user, as runc). Returns the master fd (O_CLOEXEC) or -errno. */
int capsa_terminal_setup_console(uint32_t height, uint32_t width, uid_t owner,
                                 struct capsa_err *err);

/* For `exec --tty`: the same pty, without touching /dev/console (as runc).
 * Returns the master fd (O_CLOEXEC) or -errno. */
int capsa_terminal_open_exec_pty(uint32_t height, uint32_t width, uid_t owner,
                                 struct capsa_err *err);

/* Make the terminal on fd (the process's stdin once the pty slave is its
 * stdio: after capsa_terminal_setup_console, or exec's own pty) owned by
 * uid, as runc does before the user switch: a process running as a non-root
 * uid can then use its terminal as its own (chmod it, reopen /dev/tty after
 * a setuid child...). Only the owner changes: the group stays the devpts
 * gid ("tty"). Nothing when fd is not a terminal or already uid's; EPERM
 * (the current owner is not mapped in our user namespace) and EROFS are
 * ignored, as in runc. Call inside the container, before the user switch. */
int capsa_terminal_set_owner(int fd, uid_t uid, struct capsa_err *err);

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
