#!/usr/bin/env python3
"""vm_client.py - a test host for capsa-agent (tests/integration/vm_agent.bats).

    vm_client.py AGENT [AGENT ARGS...] -- STEP [STEP...]

Starts AGENT with one end of a socketpair as its channel (--channel-fd N is
added), answers its HELLO, then runs the steps in order, printing one line per
result for the test to check:

    create CID PROC BUNDLE     CREATE with BUNDLE/config.json   -> "ok CREATE pid=N"
    start CID | stats CID | pause CID | resume CID
    exec CID PROC JSON [tty]   EXEC of the process object JSON
    stdin PROC TEXT | eof PROC
    signal CID PROC|all SIGNO
    delete CID [force]
    wait PROC                  read until EXIT of PROC, then print
                               "out PROC <text>", "err PROC <text>", "exit PROC exited|signaled N"
    raw HEX                    send these bytes as they are
    closed                     read until the agent closes the channel ("closed")
    host CMD                   run CMD with sh on the host, $PID_<proc> set; prints
                               "host <status>"
    shutdown                   SHUTDOWN

An ERROR reply prints "error TYPE errno=N MESSAGE". At the end the channel is
closed, the agent waited for, and "agent exit N" printed. Waits are bounded by
$CAPSA_TEST_WAIT seconds (default 120) only to turn a hang into a failure.
Written for the tests alone; the protocol is in docs/vm-protocol.md.
"""
import os
import socket
import struct
import subprocess
import sys

MAGIC = 0x41535043
VERSION = 1
T = dict(HELLO=1, OK=2, ERROR=3, CREATE=4, START=5, EXEC=6, STDIN=7, STDOUT=8, STDERR=9,
         SIGNAL=10, EXIT=11, RESIZE=12, STATS=13, UPDATE=14, PAUSE=15, RESUME=16, DELETE=17,
         SHUTDOWN=18)
NAME = {v: k for k, v in T.items()}


def u32(v):
    return struct.pack('<I', v)


def s(text):
    b = text.encode() + b'\0'
    return u32(len(b)) + b


def blk(b):
    return u32(len(b)) + b


class Client:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b''
        self.next_id = 1
        self.out = {}
        self.err = {}
        self.exits = {}
        self.pids = {}
        self.is_closed = False

    def send(self, typ, ident, payload=b''):
        self.sock.sendall(struct.pack('<IBI', 5 + len(payload), typ, ident) + payload)

    def frame(self):
        """The next frame (type, id, payload), or None at EOF."""
        while True:
            if len(self.buf) >= 9:
                (n,) = struct.unpack_from('<I', self.buf)
                if len(self.buf) >= 4 + n:
                    typ, ident = struct.unpack_from('<BI', self.buf, 4)
                    payload = self.buf[9:4 + n]
                    self.buf = self.buf[4 + n:]
                    return typ, ident, payload
            data = self.sock.recv(65536)
            if not data:
                self.is_closed = True
                return None
            self.buf += data

    def stream(self, typ, ident, p):
        """Keep a stream frame; True if it was one."""
        if typ in (T['STDOUT'], T['STDERR']):
            (n,) = struct.unpack_from('<I', p)
            d = self.out if typ == T['STDOUT'] else self.err
            d.setdefault(ident, b'')
            d[ident] += p[4:4 + n]
            return True
        if typ == T['EXIT']:
            self.exits[ident] = struct.unpack_from('<II', p)
            return True
        return False

    def request(self, typ, payload):
        ident = self.next_id
        self.next_id += 1
        self.send(typ, ident, payload)
        while True:
            f = self.frame()
            if f is None:
                print('closed')
                return None
            rtyp, rid, p = f
            if self.stream(rtyp, rid, p):
                continue
            if rtyp == T['OK'] and rid == ident:
                pid, n = struct.unpack_from('<II', p)
                data = p[8:8 + n]
                print('ok %s pid=%d%s' % (NAME[typ], pid,
                                          (' ' + data.decode(errors='replace')) if data else ''))
                return pid
            if rtyp == T['ERROR']:
                errnum, n = struct.unpack_from('<II', p)
                msg = p[8:8 + n - 1].decode(errors='replace')
                print('error %s errno=%d %s' % (NAME.get(typ, typ), errnum, msg))
                return None
            print('unexpected %s id=%d' % (NAME.get(rtyp, rtyp), rid))
            return None

    def wait(self, proc):
        while proc not in self.exits:
            f = self.frame()
            if f is None:
                print('closed')
                return
            if not self.stream(*f):
                print('unexpected %s id=%d' % (NAME.get(f[0], f[0]), f[1]))
        how, code = self.exits[proc]
        for tag, d in (('out', self.out), ('err', self.err)):
            if d.get(proc):
                # A pty turns \n into \r\n.
                text = d[proc].decode(errors='replace').replace('\r\n', '\n')
                print('%s %d %s' % (tag, proc, text.rstrip('\n')))
        print('exit %d %s %d' % (proc, 'signaled' if how == 1 else 'exited', code))


def main(argv):
    sep = argv.index('--')
    agent, steps = argv[1:sep], argv[sep + 1:]
    ours, theirs = socket.socketpair()
    ours.settimeout(float(os.environ.get('CAPSA_TEST_WAIT', '120')))
    proc = subprocess.Popen(agent + ['--channel-fd', str(theirs.fileno())],
                            pass_fds=[theirs.fileno()])
    theirs.close()
    c = Client(ours)
    f = c.frame()
    if f is None or f[0] != T['HELLO']:
        print('no HELLO from the agent')
        return 1
    magic, version = struct.unpack_from('<II', f[2])
    print('hello version=%d magic=%s' % (version, 'ok' if magic == MAGIC else 'bad'))
    c.send(T['HELLO'], 0, u32(MAGIC) + u32(VERSION) + s('vm_client'))
    i = 0
    while i < len(steps):
        op = steps[i]
        i += 1

        def arg():
            nonlocal i
            i += 1
            return steps[i - 1]
        if op == 'create':
            cid, p, bundle = arg(), int(arg()), arg()
            with open(os.path.join(bundle, 'config.json'), 'rb') as fh:
                cfg = fh.read()
            pid = c.request(T['CREATE'], s(cid) + u32(p) + blk(cfg) + s(bundle))
            if pid:
                c.pids[p] = pid
        elif op == 'exec':
            cid, p, js = arg(), int(arg()), arg()
            flags = 0
            if i < len(steps) and steps[i] == 'tty':
                i += 1
                flags = 1
            pid = c.request(T['EXEC'], s(cid) + u32(p) + u32(flags) + blk(js.encode()))
            if pid:
                c.pids[p] = pid
        elif op in ('start', 'stats', 'pause', 'resume'):
            c.request(T[op.upper()], s(arg()))
        elif op == 'delete':
            cid = arg()
            force = 0
            if i < len(steps) and steps[i] == 'force':
                i += 1
                force = 1
            c.request(T['DELETE'], s(cid) + u32(force))
        elif op == 'signal':
            cid, p, sig = arg(), arg(), int(arg())
            p = 0xffffffff if p == 'all' else int(p)
            c.request(T['SIGNAL'], s(cid) + u32(p) + u32(sig))
        elif op == 'stdin':
            p, text = int(arg()), arg()
            c.send(T['STDIN'], p, blk(text.encode()))
        elif op == 'eof':
            c.send(T['STDIN'], int(arg()), blk(b''))
        elif op == 'wait':
            c.wait(int(arg()))
        elif op == 'raw':
            c.sock.sendall(bytes.fromhex(arg()))
        elif op == 'closed':
            while True:
                f = c.frame()
                if f is None:
                    break
                if f[0] == T['ERROR']:
                    errnum, n = struct.unpack_from('<II', f[2])
                    print('error id=%d errno=%d %s' % (f[1], errnum,
                                                       f[2][8:8 + n - 1].decode(errors='replace')))
                else:
                    c.stream(*f)
            print('closed')
        elif op == 'host':
            env = dict(os.environ)
            for p, pid in c.pids.items():
                env['PID_%d' % p] = str(pid)
            r = subprocess.run(['sh', '-c', arg()], env=env, check=False)
            print('host %d' % r.returncode)
        elif op == 'shutdown':
            c.request(T['SHUTDOWN'], b'')
        else:
            print('unknown step %s' % op)
            return 2
        sys.stdout.flush()
    ours.close()
    rc = proc.wait(timeout=float(os.environ.get('CAPSA_TEST_WAIT', '120')))
    print('agent exit %d' % rc)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
