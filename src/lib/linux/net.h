/* net.h - the network set-up a runtime owes a bare network namespace: its
 * loopback interface up, as runc and crun do (an engine without a network
 * plugin, `ctr run`, any bare OCI user relies on 127.0.0.1 working). */
#ifndef CAPSA_LINUX_NET_H
#define CAPSA_LINUX_NET_H

#include "spec/spec.h"
#include "util/err.h"

/* In the container init, inside its namespaces: when the spec asks for a
 * NEW network namespace (a "network" entry without a path), bring "lo" up
 * (SIOCSIFFLAGS, flags read first and kept). A joined namespace (podman,
 * CNI) belongs to whoever made it and is left alone; without a network
 * namespace the host's is not ours to touch. */
int capsa_net_setup(const struct capsa_spec *spec, struct capsa_err *err);

#endif
