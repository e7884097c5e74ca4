/* vmm.h - the vm level's VMM backend interface: what the level asks of a
 * virtual machine monitor (boot a guest from a kernel and an initramfs with
 * one shared directory and one agent channel; pause, resume, kill, wait,
 * clean up), and the one backend so far, QEMU's microvm machine (qemu.c).
 * A second backend (our own minimal KVM VMM) fills the same ops table.
 *
 * struct capsa_vm is plain data (pids and paths under the state directory),
 * so a later capsa process can rebuild it from the container's state and
 * pause, resume or kill the VM; only the process that booted it can wait
 * for it (it is the VMM's parent). */
#ifndef CAPSA_LEVEL_VM_VMM_H
#define CAPSA_LEVEL_VM_VMM_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "spec/spec.h"
#include "util/err.h"

/* The virtio-fs tag of the container's rootfs and the virtio-serial port
 * name of the agent channel (the guest agent looks for both). */
#define CAPSA_VM_SHARE_TAG    "capsa-rootfs"
#define CAPSA_VM_CHANNEL_NAME "capsa.agent"

/* Files a backend keeps in the state directory while the VM runs. */
#define CAPSA_VM_AGENT_SOCK "agent.sock"  /* the agent channel: connect to it */
#define CAPSA_VM_QMP_SOCK   "qmp.sock"    /* the VMM's control socket */
#define CAPSA_VM_CONSOLE    "console.log" /* the guest console and the VMM's stderr */

/* <dir>/<name> into out; ENAMETOOLONG when it does not fit. */
int capsa_vm_state_path(const char *dir, const char *name, char *out, size_t len,
                        struct capsa_err *err);
/* A listening unix socket at path (mode 0600; a stale one is replaced), or
 * a connection to one; CLOEXEC. */
int capsa_vm_listen(const char *path, int *out, struct capsa_err *err);
int capsa_vm_connect(const char *path, int *out, struct capsa_err *err);

/* A NIC of the guest: a TAP's fd (the VMM gets a copy; the caller keeps
 * and closes its own) and the MAC the guest's device has. */
struct capsa_vmm_nic {
    int tap_fd;
    uint8_t mac[6];
};
#define CAPSA_VMM_NIC_MAX 4

struct capsa_vmm_config {
    const char *kernel;        /* bzImage (kernel.c chooses it) */
    const char *initramfs;     /* cpio (initramfs.c builds it) */
    const char *cmdline_extra; /* appended to the kernel command line; may be NULL */
    unsigned mem_mib;          /* guest RAM, >= 64 */
    unsigned vcpus;            /* >= 1 */
    const char *share_dir;     /* the one host directory the guest sees (the rootfs) */
    const char *share_tag;     /* its virtio-fs tag; NULL: CAPSA_VM_SHARE_TAG */
    const char *state_dir;     /* existing, private (0700) directory for the files above */
    bool allow_tcg;            /* boot without KVM, in software (TCG): no security boundary */
    int kvm;                   /* 1: /dev/kvm usable, 0: not, -1: let the backend probe */
    const char *vmm_path;      /* NULL: the backend's default binary */
    const char *fsd_path;      /* NULL: the backend's default virtio-fs daemon */
    const struct capsa_vmm_nic *nics; /* virtio-net devices, in order */
    size_t n_nics;                    /* <= CAPSA_VMM_NIC_MAX */
};

struct capsa_vmm_ops;

struct capsa_vm {
    const struct capsa_vmm_ops *ops;
    pid_t vmm_pid; /* the VMM process (QEMU) */
    pid_t fsd_pid; /* the virtio-fs daemon, 0 when none */
    bool tcg;      /* booted without KVM */
    char state_dir[PATH_MAX];
};

struct capsa_vmm_ops {
    const char *name;
    /* Start the VM described by cfg. On success vm holds the running VM and
     * the agent channel listens at <state_dir>/CAPSA_VM_AGENT_SOCK; on
     * failure nothing started is left running and no file is left in the
     * state directory. No KVM and no allow_tcg: -ENODEV before anything
     * starts. */
    int (*boot)(const struct capsa_vmm_config *cfg, struct capsa_vm *vm, struct capsa_err *err);
    /* Stop / continue the guest's vCPUs (QMP "stop" / "cont"). */
    int (*pause)(const struct capsa_vm *vm, struct capsa_err *err);
    int (*resume)(const struct capsa_vm *vm, struct capsa_err *err);
    /* Signal the VMM (SIGKILL: the guest dies with it). */
    int (*kill)(const struct capsa_vm *vm, int sig, struct capsa_err *err);
    /* Wait for the VMM to exit (the booting process only); *status as waitpid's. */
    int (*wait)(struct capsa_vm *vm, int *status, struct capsa_err *err);
    /* Kill whatever of the VM still runs, reap it when it is our child, and
     * remove the backend's files from the state directory. Idempotent. */
    void (*cleanup)(struct capsa_vm *vm);
};

/* The QEMU microvm backend (qemu.c). */
extern const struct capsa_vmm_ops capsa_vmm_qemu;

/* 1 when /dev/kvm opens read-write, else 0 (and why, in err when not NULL). */
int capsa_vmm_kvm_available(struct capsa_err *err);

/* Connect to the VM's agent channel (a stream socket; the guest's port sees
 * the host side open while it is connected). The fd (O_CLOEXEC) in *fd. */
int capsa_vm_channel_connect(const struct capsa_vm *vm, int *fd, struct capsa_err *err);

/* ---- sizing (size.c) ---------------------------------------------------- */

/* Guest RAM when linux.resources.memory.limit is not set. */
#define CAPSA_VM_DEFAULT_MEM_MIB 256
/* The least guest RAM the default guest kernel and agent boot in. */
#define CAPSA_VM_MIN_MEM_MIB 64
/* What the VMM and virtiofsd take on the host beyond guest RAM: QEMU's own
 * RSS measured here at 180-210 MB for a 128 MiB guest under TCG (page
 * tables, TCG translation cache, device state), less under KVM; virtiofsd a
 * few MB. A host cgroup holding the VM needs the guest's RAM plus this. */
#define CAPSA_VM_OVERHEAD_MIB 192

struct capsa_vm_size {
    unsigned mem_mib;        /* guest RAM */
    unsigned vcpus;          /* guest CPUs */
    uint64_t host_mem_bytes; /* guest RAM + CAPSA_VM_OVERHEAD_MIB: the host-side limit */
};

/* The VM's size from linux.resources (res may be NULL): guest RAM is the
 * memory limit (rounded up to a MiB; CAPSA_VM_DEFAULT_MEM_MIB without one;
 * below CAPSA_VM_MIN_MEM_MIB refused, naming the field); vCPUs are the CPU
 * quota over its period rounded up, or the number of CPUs in cpu.cpus,
 * the smaller when both are set, else 1 (at most 255). */
int capsa_vm_size_from(const struct capsa_resources *res, struct capsa_vm_size *out,
                       struct capsa_err *err);

/* The VM's size for the container of spec: capsa_vm_size_from its
 * linux.resources, and for a CRI pod's sandbox the pod's own resources as
 * containerd passes them (io.kubernetes.cri.sandbox-memory: guest RAM is
 * CAPSA_VM_DEFAULT_MEM_MIB, for the guest kernel and agent, plus that;
 * sandbox-cpu-quota and -period: the vCPUs), since the pod's containers
 * share the VM. A malformed annotation is refused, naming it. */
int capsa_vm_size_of(const struct capsa_spec *spec, struct capsa_vm_size *out,
                     struct capsa_err *err);

#endif
