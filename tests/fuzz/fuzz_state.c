/* fuzz_state.c - libFuzzer target: <root>/<id>/state.json. The runtime wrote
 * it, but it lives in a directory other root processes can write, and every
 * later command (start, kill, delete, state) trusts what it reads there, so it
 * is parsed as untrusted input. A parsed state must also survive the trip
 * through capsa_state_to_json (what `capsa state` prints and hooks receive)
 * and its cgroup field through capsa_cgroup_decode. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/state.h"
#include "fuzz.h"
#include "linux/cgroup.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > FUZZ_MAX_INPUT)
        return -1;
    struct capsa_err err = {0};
    struct capsa_state st;
    if (capsa_state_parse((const char *)data, size, &st, &err) < 0) {
        FUZZ_CHECK(err.msg[0] != '\0');
        /* On failure the struct is cleared: nothing to free, nothing left. */
        FUZZ_CHECK(st.id == NULL && st.cgroup == NULL && st.annotations == NULL);
        return 0;
    }
    FUZZ_CHECK(st.id != NULL);
    FUZZ_CHECK(strlen(capsa_status_name(st.saved)) > 0);
    for (int full = 0; full <= 1; full++) {
        char *json = NULL;
        if (capsa_state_to_json(&st, st.saved, full != 0, &json, &err) == 0) {
            FUZZ_CHECK(json != NULL);
            free(json);
        }
    }
    if (st.cgroup != NULL) {
        struct capsa_cgroup *cg = NULL;
        if (capsa_cgroup_decode(st.cgroup, &cg, &err) == 0)
            capsa_cgroup_free(cg);
    }
    capsa_state_clear(&st);
    return 0;
}
