/* test_vm_net.c - the vm level's NET payload (src/lib/level/vm/nic.c): what
 * the host writes of the engine's interfaces parses back to the same
 * network in the guest, and the parser refuses what the kernel would not
 * take or the host never writes, naming the line. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "level/vm/nic.h"

static void test_round_trip(void **state)
{
    (void)state;
    struct capsa_vm_net n;
    memset(&n, 0, sizeof n);
    n.n_nics = 1;
    struct capsa_vm_nic *c = &n.nics[0];
    memcpy(c->name, "eth0", 5);
    memcpy(c->mac, (uint8_t[6]){0x7e, 0x2e, 0xcd, 0xb4, 0xea, 0x80}, 6);
    memcpy(c->devmac, (uint8_t[6]){0x02, 0x11, 0x22, 0x33, 0x44, 0x55}, 6);
    c->mtu = 1500;
    c->n_addrs = 2;
    c->addrs[0].family = AF_INET;
    c->addrs[0].prefix = 16;
    assert_int_equal(inet_pton(AF_INET, "10.88.0.5", c->addrs[0].a), 1);
    c->addrs[1].family = AF_INET6;
    c->addrs[1].prefix = 64;
    assert_int_equal(inet_pton(AF_INET6, "fd00::5", c->addrs[1].a), 1);
    n.n_routes = 2;
    n.routes[0].dst.family = AF_INET;
    n.routes[0].has_gw = true;
    n.routes[0].gw.family = AF_INET;
    assert_int_equal(inet_pton(AF_INET, "10.88.0.1", n.routes[0].gw.a), 1);
    n.routes[1].dst.family = AF_INET;
    n.routes[1].dst.prefix = 8;
    n.routes[1].dst.a[0] = 10;
    n.routes[1].metric = 7;

    char text[CAPSA_VM_NET_TEXT_MAX];
    struct capsa_err err = {0};
    assert_int_equal(capsa_vm_net_encode(&n, text, sizeof text, &err), 0);
    assert_string_equal(text, "nic eth0 7e:2e:cd:b4:ea:80 1500 02:11:22:33:44:55\n"
                              "addr 0 10.88.0.5/16\n"
                              "addr 0 fd00::5/64\n"
                              "route 0 0.0.0.0/0 10.88.0.1 0\n"
                              "route 0 10.0.0.0/8 - 7\n");
    struct capsa_vm_net back;
    assert_int_equal(capsa_vm_net_parse(text, strlen(text), &back, &err), 0);
    assert_int_equal(back.n_nics, 1);
    assert_string_equal(back.nics[0].name, "eth0");
    assert_memory_equal(back.nics[0].mac, c->mac, 6);
    assert_memory_equal(back.nics[0].devmac, c->devmac, 6);
    assert_int_equal(back.nics[0].mtu, 1500);
    assert_int_equal(back.nics[0].n_addrs, 2);
    assert_memory_equal(&back.nics[0].addrs[1], &c->addrs[1], sizeof c->addrs[1]);
    assert_int_equal(back.n_routes, 2);
    assert_true(back.routes[0].has_gw);
    assert_memory_equal(back.routes[0].gw.a, n.routes[0].gw.a, 4);
    assert_false(back.routes[1].has_gw);
    assert_int_equal(back.routes[1].dst.prefix, 8);
    assert_int_equal(back.routes[1].metric, 7);

    /* Too small a buffer is an error, never a cut text. */
    assert_int_equal(capsa_vm_net_encode(&n, text, 20, &err), -ENOBUFS);
}

static void test_refused(void **state)
{
    (void)state;
    /* Each: what is wrong, then the text. */
    static const char *const bad[][2] = {
        {"lo is the guest's own", "nic lo 02:00:00:00:00:01 1500 02:aa:00:00:00:01\n"},
        {"not an interface name", "nic a/b 02:00:00:00:00:01 1500 02:aa:00:00:00:01\n"},
        {"16 characters", "nic eth0123456789012 02:00:00:00:00:01 1500 02:aa:00:00:00:01\n"},
        {"five bytes", "nic eth0 02:00:00:00:00 1500 02:aa:00:00:00:01\n"},
        {"not hex", "nic eth0 02:00:00:00:00:0G 1500 02:aa:00:00:00:01\n"},
        {"below IPv4's least MTU", "nic eth0 02:00:00:00:00:01 67 02:aa:00:00:00:01\n"},
        {"a leading zero", "nic eth0 02:00:00:00:00:01 01500 02:aa:00:00:00:01\n"},
        {"a multicast MAC", "nic eth0 03:00:00:00:00:01 1500 02:aa:00:00:00:01\n"},
        {"no device MAC", "nic eth0 02:00:00:00:00:01 1500\n"},
        {"one name twice", "nic eth0 02:00:00:00:00:01 1500 02:aa:00:00:00:01\nnic eth0 "
                           "02:00:00:00:00:02 1500 02:aa:00:00:00:02\n"},
        {"one device for two NICs", "nic eth0 02:00:00:00:00:01 1500 02:aa:00:00:00:01\nnic eth1 "
                                    "02:00:00:00:00:02 1500 02:aa:00:00:00:01\n"},
        {"no nic 0", "addr 0 10.0.0.1/8\n"},
        {"a prefix too long",
         "nic eth0 02:00:00:00:00:01 1500 02:aa:00:00:00:01\naddr 0 10.0.0.1/33\n"},
        {"no prefix", "nic eth0 02:00:00:00:00:01 1500 02:aa:00:00:00:01\naddr 0 10.0.0.1\n"},
        {"no nic 1", "nic eth0 02:00:00:00:00:01 1500 02:aa:00:00:00:01\nroute 1 0.0.0.0/0 - 0\n"},
        {"families differ",
         "nic eth0 02:00:00:00:00:01 1500 02:aa:00:00:00:01\nroute 0 0.0.0.0/0 fd00::1 0\n"},
        {"a gateway with a prefix",
         "nic eth0 02:00:00:00:00:01 1500 02:aa:00:00:00:01\nroute 0 0.0.0.0/0 10.0.0.1/8 0\n"},
        {"not terminated", "nic eth0 02:00:00:00:00:01 1500 02:aa:00:00:00:01"},
        {"an unknown line", "nic eth0 02:00:00:00:00:01 1500 02:aa:00:00:00:01\nbogus\n"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct capsa_vm_net n;
        struct capsa_err err = {0};
        int r = capsa_vm_net_parse(bad[i][1], strlen(bad[i][1]), &n, &err);
        if (r != -EINVAL)
            fail_msg("accepted (%s): %s", bad[i][0], bad[i][1]);
        assert_non_null(strstr(err.msg, "vm network"));
        assert_int_equal(n.n_nics, 0);
    }
    /* A NUL inside, and five NICs (four at most). */
    struct capsa_vm_net n;
    struct capsa_err err = {0};
    assert_int_equal(capsa_vm_net_parse("nic eth0\0", 9, &n, &err), -EINVAL);
    char many[512] = "";
    for (int i = 0; i < 5; i++)
        snprintf(many + strlen(many), sizeof many - strlen(many),
                 "nic eth%d 02:00:00:00:00:0%d 1500 02:aa:00:00:00:0%d\n", i, i, i);
    assert_int_equal(capsa_vm_net_parse(many, strlen(many), &n, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "line 5"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
