/* standin.h - the host-side stand-ins for the guest's processes and their
 * use of the agent channel (standin.c). */
#ifndef CAPSA_LEVEL_VM_STANDIN_H
#define CAPSA_LEVEL_VM_STANDIN_H

#include <stdbool.h>
#include <stdint.h>

#include "level/vm/proto.h"

/* The container's init in the guest: its process id on the agent channel.
 * An exec stand-in uses the same id on its connection. */
#define CAPSA_VM_STANDIN_INIT 1u

/* The exec socket in the state directory, served by the init's stand-in. */
#define CAPSA_VM_EXEC_SOCK "exec.sock"

/* One frame to fd (blocking). */
int capsa_vm_send(int fd, const struct capsa_vm_msg *m, struct capsa_err *err);
/* The next frame from fd through rd; -EPIPE when fd closed first. */
int capsa_vm_recv(int fd, struct capsa_vm_reader *rd, struct capsa_vm_msg *m,
                  struct capsa_err *err);
/* The next frame, which must be OK to request id (what names the request
 * in errors); the agent's ERROR is an error carrying its errno. */
int capsa_vm_recv_reply(int fd, struct capsa_vm_reader *rd, uint32_t id, const char *what,
                        struct capsa_vm_msg *m, struct capsa_err *err);

/* The init's stand-in, after `start`: START the guest's init and relay it
 * (stdio 0-2, the forwarded signals), serving the exec socket listen_fd;
 * on its EXIT, SHUTDOWN the guest and exit as it did. listen_fd -1: a CRI
 * pod member, whose channel is a connection to its sandbox's exec socket:
 * no SHUTDOWN, and a channel that closes is the VM gone (exit as killed).
 * Returns only on error. */
int capsa_vm_standin_init(const char *id, int ch, int listen_fd, struct capsa_err *err);

/* An exec stand-in: EXEC process_json over conn (a connection to the exec
 * socket) and relay the process; exits as it did (as if SIGKILLed when the
 * container's init, and with it the guest, went first). Returns only on
 * error. */
int capsa_vm_standin_exec(const char *id, int conn, const char *process_json, bool tty,
                          struct capsa_err *err);

#endif
