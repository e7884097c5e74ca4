/* fuzz_vm_net.c - libFuzzer target: the vm level's NET payload
 * (level/vm/nic.c), which the guest agent parses before it configures the
 * guest's NICs. Whatever parses must encode, and the encoding must parse
 * to the same network and encode to the same text again (one canonical
 * form); what does not parse leaves an error message and an empty result. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "fuzz.h"
#include "level/vm/nic.h"

static char text1[CAPSA_VM_NET_TEXT_MAX * 2], text2[CAPSA_VM_NET_TEXT_MAX * 2];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > FUZZ_MAX_INPUT)
        return -1;
    struct capsa_err err = {0};
    struct capsa_vm_net a, b;
    int r = capsa_vm_net_parse((const char *)data, size, &a, &err);
    if (r < 0) {
        FUZZ_CHECK(r == -EINVAL);
        FUZZ_CHECK(err.msg[0] != '\0');
        FUZZ_CHECK(a.n_nics == 0 && a.n_routes == 0);
        return 0;
    }
    FUZZ_CHECK(a.n_nics <= CAPSA_VM_NIC_MAX && a.n_routes <= CAPSA_VM_ROUTE_MAX);
    for (size_t i = 0; i < a.n_routes; i++)
        FUZZ_CHECK(a.routes[i].nic < a.n_nics);
    r = capsa_vm_net_encode(&a, text1, sizeof text1, &err);
    FUZZ_CHECK(r == 0);
    if (r < 0)
        return 0;
    r = capsa_vm_net_parse(text1, strlen(text1), &b, &err);
    FUZZ_CHECK(r == 0);
    if (r < 0)
        return 0;
    FUZZ_CHECK(capsa_vm_net_encode(&b, text2, sizeof text2, &err) == 0);
    FUZZ_CHECK(strcmp(text1, text2) == 0);
    return 0;
}
