/* test_vm_mux.c - unit tests for the exec socket's multiplexer in
 * level/vm/standin.c, with the test as the guest agent: a stand-in for the
 * init of container "sb" runs in a child on one end of a socket pair, and
 * clients connect to its exec socket. Checked: which container a request may
 * name (this one, a CRI pod member it knows, no other), a member known from
 * its CREATE until its DELETE (or its CREATE's failure), the member's init as
 * its connection's process (START, STDOUT and EXIT routed back under the
 * connection's ids), and the stand-in exiting as its own init did. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "level/vm/proto.h"
#include "level/vm/standin.h"
#include "level/vm/vmm.h"

static char tmpdir[64];

struct peer {
    int fd;
    struct capsa_vm_reader rd;
};

static void put(struct peer *p, const struct capsa_vm_msg *m)
{
    struct capsa_err e = {0};
    if (capsa_vm_send(p->fd, m, &e) < 0)
        fail_msg("send %s: %s", capsa_vm_type_name(m->type), e.msg);
}

/* The next frame (STDIN frames skipped: the stand-in's stdin is /dev/null,
 * whose EOF it relays). Pointers in *m live until the next call. */
static void get(struct peer *p, struct capsa_vm_msg *m)
{
    struct capsa_err e = {0};
    do {
        if (capsa_vm_recv(p->fd, &p->rd, m, &e) < 0)
            fail_msg("recv: %s", e.msg);
    } while (m->type == CAPSA_VM_STDIN);
}

static void expect_error(struct peer *c, uint32_t id, int errnum)
{
    struct capsa_vm_msg m;
    get(c, &m);
    assert_int_equal(m.type, CAPSA_VM_ERROR);
    assert_int_equal(m.id, id);
    assert_int_equal(m.errnum, errnum);
}

/* A request from client c that the stand-in passes on: the agent sees it
 * (type, container), answers OK (or ERROR errnum), and c gets the answer
 * under its own id. Returns the guest process id the agent saw. */
static uint32_t pass(struct peer *agent, struct peer *c, struct capsa_vm_msg *req, int errnum)
{
    uint32_t cid = req->id;
    put(c, req);
    struct capsa_vm_msg m;
    get(agent, &m);
    assert_int_equal(m.type, req->type);
    assert_string_equal(m.cid, req->cid);
    assert_true(m.id >= 0x10000u);
    uint32_t gproc = m.proc;
    struct capsa_vm_msg ans = {.type = errnum ? CAPSA_VM_ERROR : CAPSA_VM_OK, .id = m.id};
    if (errnum) {
        ans.errnum = (uint32_t)errnum;
        ans.message = "refused by the test";
    }
    put(agent, &ans);
    get(c, &m);
    assert_int_equal(m.type, ans.type);
    assert_int_equal(m.id, cid);
    return gproc;
}

static struct peer client(void)
{
    char path[128];
    snprintf(path, sizeof path, "%s/exec.sock", tmpdir);
    struct peer p = {.fd = -1};
    struct capsa_err e = {0};
    if (capsa_vm_connect(path, &p.fd, &e) < 0)
        fail_msg("connect: %s", e.msg);
    return p;
}

static void test_pod_members(void **state)
{
    (void)state;
    int sp[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
    char path[128];
    snprintf(path, sizeof path, "%s/exec.sock", tmpdir);
    int lfd = -1;
    struct capsa_err e = {0};
    assert_int_equal(capsa_vm_listen(path, &lfd, &e), 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        int nul = open("/dev/null", O_RDWR);
        if (nul < 0 || dup2(nul, 0) < 0 || dup2(nul, 1) < 0)
            _exit(90);
        close(sp[0]);
        (void)capsa_vm_standin_init("sb", sp[1], lfd, &e);
        _exit(91);
    }
    close(sp[1]);
    close(lfd);
    alarm(60); /* a routing bug must fail the test, not hang it */
    struct peer agent = {.fd = sp[0]};
    struct capsa_vm_msg m;
    /* The stand-in starts its own init. */
    get(&agent, &m);
    assert_int_equal(m.type, CAPSA_VM_START);
    assert_string_equal(m.cid, "sb");
    struct capsa_vm_msg ok = {.type = CAPSA_VM_OK, .id = m.id};
    put(&agent, &ok);

    struct peer c1 = client(), c2 = client(), c3 = client();
    const uint8_t cfg[] = "{}";
    /* Only this container, or a member, may be named. */
    struct capsa_vm_msg req = {.type = CAPSA_VM_STATS, .id = 5, .cid = "other"};
    put(&c2, &req);
    expect_error(&c2, 5, ENOENT);
    req = (struct capsa_vm_msg){.type = CAPSA_VM_CREATE,
                                .id = 6,
                                .cid = "sb",
                                .proc = 1,
                                .data = cfg,
                                .len = 2,
                                .bundle = "/b"};
    put(&c1, &req);
    expect_error(&c1, 6, EEXIST);
    req = (struct capsa_vm_msg){.type = CAPSA_VM_START, .id = 7, .cid = "m1"};
    put(&c1, &req);
    expect_error(&c1, 7, ENOENT);
    req = (struct capsa_vm_msg){.type = CAPSA_VM_START, .id = 8, .cid = "sb"};
    put(&c1, &req);
    expect_error(&c1, 8, EPERM);
    req = (struct capsa_vm_msg){.type = CAPSA_VM_SHUTDOWN, .id = 9};
    put(&c1, &req);
    expect_error(&c1, 9, EPERM);
    /* This container's own requests pass. */
    req = (struct capsa_vm_msg){.type = CAPSA_VM_STATS, .id = 10, .cid = "sb"};
    (void)pass(&agent, &c2, &req, 0);

    /* A member: CREATE makes its init c1's process. */
    req = (struct capsa_vm_msg){.type = CAPSA_VM_CREATE,
                                .id = 11,
                                .cid = "m1",
                                .proc = 1,
                                .data = cfg,
                                .len = 2,
                                .bundle = "/b"};
    uint32_t gproc = pass(&agent, &c1, &req, 0);
    assert_true(gproc != 0 && gproc != 1 && gproc != CAPSA_VM_PROC_ALL);
    /* Known now: another connection may ask for it, not create it again. */
    req = (struct capsa_vm_msg){.type = CAPSA_VM_STATS, .id = 12, .cid = "m1"};
    (void)pass(&agent, &c2, &req, 0);
    req = (struct capsa_vm_msg){.type = CAPSA_VM_CREATE,
                                .id = 13,
                                .cid = "m1",
                                .proc = 1,
                                .data = cfg,
                                .len = 2,
                                .bundle = "/b"};
    put(&c2, &req);
    expect_error(&c2, 13, EEXIST);
    req = (struct capsa_vm_msg){.type = CAPSA_VM_START, .id = 14, .cid = "m1"};
    (void)pass(&agent, &c1, &req, 0);
    /* Its output and exit reach c1 under c1's process id. */
    const uint8_t hi[] = "hi";
    struct capsa_vm_msg out = {.type = CAPSA_VM_STDOUT, .id = gproc, .data = hi, .len = 2};
    put(&agent, &out);
    get(&c1, &m);
    assert_int_equal(m.type, CAPSA_VM_STDOUT);
    assert_int_equal(m.id, 1);
    assert_int_equal(m.len, 2);
    assert_memory_equal(m.data, "hi", 2);
    struct capsa_vm_msg ex = {
        .type = CAPSA_VM_EXIT, .id = gproc, .how = CAPSA_VM_EXITED, .code = 4};
    put(&agent, &ex);
    get(&c1, &m);
    assert_int_equal(m.type, CAPSA_VM_EXIT);
    assert_int_equal(m.id, 1);
    assert_int_equal(m.code, 4);
    /* DELETE forgets it. */
    req = (struct capsa_vm_msg){.type = CAPSA_VM_DELETE, .id = 15, .cid = "m1"};
    (void)pass(&agent, &c2, &req, 0);
    req = (struct capsa_vm_msg){.type = CAPSA_VM_STATS, .id = 16, .cid = "m1"};
    put(&c2, &req);
    expect_error(&c2, 16, ENOENT);
    /* A CREATE the agent refuses leaves no member either. */
    req = (struct capsa_vm_msg){.type = CAPSA_VM_CREATE,
                                .id = 17,
                                .cid = "m2",
                                .proc = 1,
                                .data = cfg,
                                .len = 2,
                                .bundle = "/b"};
    (void)pass(&agent, &c3, &req, EINVAL);
    req = (struct capsa_vm_msg){.type = CAPSA_VM_STATS, .id = 18, .cid = "m2"};
    put(&c3, &req);
    expect_error(&c3, 18, ENOENT);

    /* The stand-in's own init exits 3: it shuts the guest down and exits 3. */
    ex = (struct capsa_vm_msg){.type = CAPSA_VM_EXIT, .id = 1, .how = CAPSA_VM_EXITED, .code = 3};
    put(&agent, &ex);
    get(&agent, &m);
    assert_int_equal(m.type, CAPSA_VM_SHUTDOWN);
    close(agent.fd);
    int st = 0;
    assert_int_equal(waitpid(child, &st, 0), child);
    alarm(0);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 3);
    struct peer *peers[] = {&agent, &c1, &c2, &c3};
    for (size_t i = 0; i < sizeof peers / sizeof peers[0]; i++) {
        if (peers[i] != &agent)
            close(peers[i]->fd);
        capsa_vm_reader_free(&peers[i]->rd);
    }
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/capsa-mux-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "%s/exec.sock", tmpdir);
    unlink(path);
    return rmdir(tmpdir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pod_members),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
