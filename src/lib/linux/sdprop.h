/* sdprop.h - systemd unit properties from annotations, as runc takes them.
 *
 * With the systemd cgroup driver, an annotation "org.systemd.property.NAME"
 * sets the unit property NAME (after, and so over, the ones capsa sets) to
 * its value, written in GVariant's text format: "uint64 123456789",
 * "'inactive-or-failed'", "true", "@as ['a', 'b']". As runc does, a NAME
 * ending in "Sec" after a lowercase letter (TimeoutStopSec) is given to
 * systemd as NAME-with-USec (TimeoutStopUSec), the value converted from
 * seconds to microseconds.
 *
 * The subset of GVariant text understood: an optional type (a keyword:
 * boolean, byte, int32, uint32, int64, uint64, double, string; or "@" and a
 * signature among b y i u x t d s as) and a value: true/false, a decimal or
 * 0x-hexadecimal integer (an int32 without a type, as in GVariant), a number
 * with a fraction or exponent (double), a string in single or double quotes
 * with backslash escapes, or an array of strings in [ ]. Anything else is an
 * error naming the annotation. */
#ifndef CAPSA_LINUX_SDPROP_H
#define CAPSA_LINUX_SDPROP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "linux/dbus.h"
#include "spec/spec.h"
#include "util/err.h"

#define CAPSA_SDPROP_PREFIX "org.systemd.property."

struct capsa_sdprop {
    char name[64]; /* the property systemd gets (USec after a conversion) */
    char sig[3];   /* its D-Bus type: b y i u x t d s as */
    bool b;
    uint64_t u; /* y, u, t */
    int64_t i;  /* i, x */
    double d;
    char *s;
    char **strv; /* as: n strings */
    size_t n;
};

/* Parse one annotation (key with the prefix, value text). Pure. */
int capsa_sdprop_parse(const char *key, const char *text, struct capsa_sdprop *out,
                       struct capsa_err *err);
void capsa_sdprop_free(struct capsa_sdprop *p);

/* Append the properties of every org.systemd.property.* annotation in ann
 * to b, inside an open a(sv) array; other annotations are skipped. With b
 * NULL, only check them (create does, before anything is made). Pure. */
int capsa_sdprop_append(const struct capsa_kv *ann, size_t n, struct capsa_dbus_buf *b,
                        struct capsa_err *err);

#endif
