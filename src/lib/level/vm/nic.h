/* nic.h - the vm level's network: the engine's interface, given to the
 * guest (docs/vm.md "Network").
 *
 * When the engine hands the container a network namespace with an
 * interface in it (podman/netavark or CNI, containerd's CRI), the host side
 * puts a TAP next to that interface and joins the two with tc: what arrives
 * on the interface leaves through the TAP into the VM, what the VM sends
 * leaves through the interface (ingress qdiscs, a u32 match-all filter and
 * a mirred egress redirect each way, as Kata does). The VM's NIC gets the
 * interface's MAC, and the guest agent gives it the interface's name, MTU,
 * addresses and routes: the guest answers for the container's address, so
 * the engine's port forwarding and bridge work unchanged.
 *
 * What crosses to the guest is a struct capsa_vm_net, written as text
 * (capsa_vm_net_encode, sent as the NET message) and read back by
 * capsa_vm_net_parse in the agent, which never trusts it further than the
 * host that booted it (it configures only the guest's own NICs). */
#ifndef CAPSA_LEVEL_VM_NIC_H
#define CAPSA_LEVEL_VM_NIC_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/err.h"

#define CAPSA_VM_NIC_MAX      4  /* interfaces wired into one VM */
#define CAPSA_VM_ADDR_MAX     8  /* addresses per interface */
#define CAPSA_VM_ROUTE_MAX    16 /* routes in all */
#define CAPSA_VM_NET_TEXT_MAX 4096
/* The TAPs' names in the engine's namespace: prefix + index. */
#define CAPSA_VM_TAP_PREFIX "capsa-tap"

struct capsa_vm_ip {
    uint8_t family; /* AF_INET or AF_INET6 */
    uint8_t prefix; /* prefix length */
    uint8_t a[16];  /* 4 bytes for AF_INET */
};

struct capsa_vm_nic {
    char name[IF_NAMESIZE];
    uint8_t mac[6];    /* the engine's interface's: the guest's NIC takes it */
    uint8_t devmac[6]; /* the VM's device's at boot, by which the agent finds it */
    uint32_t mtu;
    size_t n_addrs;
    struct capsa_vm_ip addrs[CAPSA_VM_ADDR_MAX];
};

struct capsa_vm_route {
    uint8_t nic;            /* index into nics */
    struct capsa_vm_ip dst; /* prefix 0: the default route */
    bool has_gw;
    struct capsa_vm_ip gw; /* same family as dst */
    uint32_t metric;
};

struct capsa_vm_net {
    size_t n_nics;
    struct capsa_vm_nic nics[CAPSA_VM_NIC_MAX];
    size_t n_routes;
    struct capsa_vm_route routes[CAPSA_VM_ROUTE_MAX];
};

/* As text, one line each:
 *   nic NAME MAC MTU DEVMAC
 *   addr NIC ADDRESS/PREFIX
 *   route NIC DEST/PREFIX GATEWAY|- METRIC
 * (NIC: the index of a nic line). -ENOBUFS when it does not fit in len. */
int capsa_vm_net_encode(const struct capsa_vm_net *n, char *buf, size_t len, struct capsa_err *err);
/* Parse what encode writes (len bytes, not NUL-terminated); anything else
 * is -EINVAL naming the line. */
int capsa_vm_net_parse(const char *text, size_t len, struct capsa_vm_net *n, struct capsa_err *err);

/* Host side: look into the network namespace netns_fd (netns_path names
 * it in errors). Every interface there but lo that is up and an Ethernet
 * one gets a TAP (CAPSA_VM_TAP_PREFIX<i>, not persistent: it goes with its
 * last fd) wired to it with tc; taps[i] (CLOEXEC) is its fd for the VMM and
 * n what the guest is to set. No interface: n->n_nics == 0 and nothing is
 * made. A TAP of ours already there (another vm container on this
 * namespace) is -EBUSY. On failure nothing made is left. */
int capsa_vm_net_wire(int netns_fd, const char *netns_path, struct capsa_vm_net *n, int *taps,
                      struct capsa_err *err);

/* For a new network namespace that gets its interface only later (Docker's,
 * from its prestart hook, after the VM has booted): a spare TAP, made in a
 * network namespace of its own, for the VMM at boot (*tap), with a random
 * locally administered MAC for the VM's device (mac). *nl is a netlink
 * socket of that namespace and *index the TAP's index there, for
 * capsa_vm_net_wire_spare. */
int capsa_vm_net_spare(int *tap, int *nl, int *index, uint8_t mac[6], struct capsa_err *err);
/* Later, once the namespace netns_fd has its interface: look into it as
 * capsa_vm_net_wire does (one interface at most), move the spare TAP there
 * and wire it to the interface; n says it, the spare's mac as its devmac.
 * No interface: n->n_nics == 0 and the spare stays where it is (what names
 * the namespace in errors). */
int capsa_vm_net_wire_spare(int netns_fd, const char *what, int spare_nl, int spare_index,
                            const uint8_t mac[6], struct capsa_vm_net *n, struct capsa_err *err);

/* Undo capsa_vm_net_wire's qdiscs on the engine's interfaces of n (the
 * TAPs go with their fds); best effort, after a failed create. */
void capsa_vm_net_unwire(int netns_fd, const struct capsa_vm_net *n);

/* Guest side (the agent, in the container's network namespace): lo up, then
 * each NIC found by its MAC renamed, given its MTU and brought up, its
 * addresses and the routes added. */
int capsa_vm_net_apply(const struct capsa_vm_net *n, struct capsa_err *err);
/* The same inside the network namespace of process pid (a container's
 * init): the NICs are moved there first, then set up by a child that joins
 * it. */
int capsa_vm_net_apply_in(const struct capsa_vm_net *n, pid_t pid, struct capsa_err *err);

#endif
