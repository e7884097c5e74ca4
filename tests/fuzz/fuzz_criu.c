/* fuzz_criu.c - libFuzzer target: the CRIU RPC reader (linux/criu.c), which
 * reads what `criu swrk` sends back. The input is used twice: parsed as one
 * reply (the strings handed out must be terminated, a refusal must leave a
 * cleared reply and a message), and played as criu's side of a whole call:
 * the input is the one packet that follows the request on a socketpair whose
 * far end then stops sending, so the client must end with a reply or an
 * error (a NOTIFY is acknowledged, then the hang-up is an error), never hang
 * or read out of bounds. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz.h"
#include "linux/criu.h"

static int on_notify(void *opaque, const char *script, int pid, int fd, struct capsa_err *err)
{
    (void)opaque;
    (void)pid;
    (void)err;
    FUZZ_CHECK(memchr(script, '\0', 64) != NULL);
    if (fd >= 0)
        close(fd);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > CAPSA_CRIU_MAX_MSG)
        return 0;
    struct capsa_criu_resp resp;
    struct capsa_err err = {0};
    int r = capsa_criu_parse(data, size, &resp, &err);
    FUZZ_CHECK(r == 0 || r == -EBADMSG);
    FUZZ_CHECK(memchr(err.msg, '\0', sizeof err.msg) != NULL);
    FUZZ_CHECK(memchr(resp.script, '\0', sizeof resp.script) != NULL);
    FUZZ_CHECK(memchr(resp.errmsg, '\0', sizeof resp.errmsg) != NULL);
    if (r < 0)
        FUZZ_CHECK(!resp.success && resp.type == 0 && err.msg[0] != '\0');

    int sv[2];
    if (size == 0 || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        return 0;
    /* criu's side: the reply is queued, then it stops sending (it can
     * still receive the request and an acknowledgement). */
    if (send(sv[1], data, size, MSG_NOSIGNAL) != (ssize_t)size || shutdown(sv[1], SHUT_WR) < 0) {
        close(sv[0]);
        close(sv[1]);
        return 0;
    }
    struct capsa_criu c = {.pid = -1, .sock = sv[0], .path = "fuzz"};
    struct capsa_criu_req req;
    capsa_criu_req_init(&req, CAPSA_CRIU_RESTORE);
    memset(&err, 0, sizeof err);
    r = capsa_criu_call(&c, &req, on_notify, NULL, &resp, &err);
    FUZZ_CHECK(r == 0 || r == -EBADMSG || r == -EPIPE || r == -EPROTO);
    if (r == 0)
        FUZZ_CHECK(resp.type == CAPSA_CRIU_RESTORE ||
                   (resp.type == CAPSA_CRIU_NOTIFY && !resp.success));
    capsa_criu_end(&c, NULL);
    close(sv[1]);
    return 0;
}
