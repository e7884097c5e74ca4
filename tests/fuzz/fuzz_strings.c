/* fuzz_strings.c - libFuzzer target: the small string parsers that take text
 * from the command line or the config one value at a time: signal names
 * (`capsa kill`), capability and rlimit names, integers, cgroup numbers and
 * hugepage sizes, mount propagation names, a mount options array (the
 * input split at newlines, as the options of one config mount), and the
 * GVariant text of an org.systemd.property.* annotation (linux/sdprop.c),
 * encoded as D-Bus when it parses. */
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "capsa/capsa.h"
#include "fuzz.h"
#include "linux/cgroup_internal.h"
#include "linux/devices.h"
#include "linux/sdprop.h"
#include "spec/spec.h"
#include "util/util.h"

#define MAX_OPTS 64

static void mount_options(char *text)
{
    char *opts[MAX_OPTS];
    size_t n = 0;
    for (char *p = text; p != NULL && n < MAX_OPTS;) {
        char *nl = strchr(p, '\n');
        if (nl != NULL)
            *nl = '\0';
        opts[n++] = p;
        p = nl != NULL ? nl + 1 : NULL;
    }
    struct capsa_err err = {0};
    struct capsa_mount_opts o;
    memset(&o, 0, sizeof o);
    if (capsa_mount_opts_parse(opts, n, &o, &err) == 0) {
        FUZZ_CHECK(o.n_data <= n);
        char *joined = NULL;
        if (capsa_mount_opts_data(&o, &joined, &err) == 0)
            free(joined);
        capsa_mount_opts_release(&o);
    } else {
        FUZZ_CHECK(err.msg[0] != '\0');
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return -1;
    char *s = fuzz_strndup(data, size);
    if (s == NULL)
        return 0;
    int sig = 0;
    if (capsa_signal_parse(s, &sig) == 0)
        FUZZ_CHECK(sig >= 0 && sig <= SIGRTMAX);
    int cap = capsa_cap_from_name(s);
    if (cap >= 0)
        FUZZ_CHECK(strcmp(capsa_cap_name(cap), s) == 0);
    int loose = capsa_cap_parse_name(s, true);
    FUZZ_CHECK(loose == CAPSA_CAP_UNKNOWN || capsa_cap_name(loose) != NULL);
    FUZZ_CHECK(cap < 0 || loose == cap);
    (void)capsa_rlimit_from_name(s);
    int64_t i64 = 0;
    if (capsa_parse_int64(s, -1000, 1000, &i64) == 0)
        FUZZ_CHECK(i64 >= -1000 && i64 <= 1000);
    uint64_t u64 = 0;
    (void)capsa_cg_parse_u64(s, &u64);
    char buf[32];
    if (capsa_cg_hugepage_size(s, buf, sizeof buf) == 0)
        FUZZ_CHECK(memchr(buf, '\0', sizeof buf) != NULL);
    uint64_t prop = 0;
    bool rec = false;
    (void)capsa_mount_propagation_parse(s, &prop, &rec);
    (void)capsa_id_valid(s);
    struct capsa_err err = {0};
    struct capsa_kv ann = {.key = (char *)"org.systemd.property.TimeoutStopSec", .value = s};
    struct capsa_dbus_buf b = {0};
    int r = capsa_sdprop_append(&ann, 1, &b, &err);
    FUZZ_CHECK(r == 0 ? b.len > 0 || b.err != 0 : err.msg[0] != '\0');
    capsa_dbus_buf_free(&b);
    ann.key = (char *)"org.systemd.property.CollectMode";
    struct capsa_sdprop prop2;
    if (capsa_sdprop_parse(ann.key, s, &prop2, &err) == 0) {
        FUZZ_CHECK(prop2.sig[0] != '\0');
        FUZZ_CHECK(strcmp(prop2.sig, "as") != 0 || prop2.n == 0 || prop2.strv != NULL);
        capsa_sdprop_free(&prop2);
    }
    mount_options(s);
    free(s);
    return 0;
}
