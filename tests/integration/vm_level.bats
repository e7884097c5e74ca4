#!/usr/bin/env bats
# vm_level.bats - the vm isolation level through the CLI: capsa.isolation=vm (or --isolation vm)
# runs the container's workload in a QEMU microvm whose guest agent builds the container inside
# it. Under TCG here (--allow-tcg, or allow_tcg = true in $CAPSA_CONFIG): the machine has no
# /dev/kvm. Each boot takes seconds, so the file boots two VMs: one `run`, one
# create/start/kill/delete. Effects are checked from the host: the output relayed from the
# guest, a file the guest wrote in the shared rootfs, the QEMU and virtiofsd processes in the
# container's cgroup, and nothing left after delete. capsa-specific.

load helpers

# The reason the file cannot run here, or nothing.
vm_missing() {
    [ -x /usr/bin/qemu-system-x86_64 ] || { echo "needs qemu-system-x86"; return; }
    [ -x /usr/lib/qemu/virtiofsd ] || { echo "needs virtiofsd (qemu-system-common)"; return; }
    [ -x "$REPO/build/capsa-agent" ] || { echo "needs $REPO/build/capsa-agent (make)"; return; }
    compgen -G '/boot/vmlinuz-*-cloud-amd64' >/dev/null || { echo "needs linux-image-cloud-amd64"; return; }
    # The sanitizer build re-executes itself through its protected copy, so it cannot find
    # capsa-agent next to the path it was started as; the release pass covers the level.
    if readelf -d "$CAPSA" 2>/dev/null | grep -q 'NEEDED.*libasan'; then
        echo "the ASan build of capsa cannot find capsa-agent next to itself (covered by the release pass)"
    fi
}

setup() {
    setup_common
    local why
    why=$(vm_missing)
    [ -z "$why" ] || skip "$why"
    cg_setup vmlevel
    # The guest writes into its rootfs.
    update_config '.root.readonly = false'
    CID=vml$$r$RANDOM
}

teardown() {
    cg_teardown
}

# The processes of this test's VMs: QEMU and virtiofsd carry the state directory in their
# arguments (a zombie has none: it is gone).
vm_procs() {
    pgrep -f "$CAPSA_ROOT/" || true
}

no_vm_procs() {
    [ -z "$(vm_procs)" ]
}

@test "vm level: run prints the guest's output, under the guest's kernel, exits with its status, writes the shared rootfs and volumes" {
    update_config '.annotations["capsa.isolation"] = "vm"'
    # A bind-mounted directory and a read-only bind-mounted file, as engines give (volumes,
    # /etc/hosts): both reach the guest; the read-only one stays read-only there.
    local vol=$BATS_TEST_TMPDIR/vol
    mkdir -p "$vol"
    echo host-file >"$BATS_TEST_TMPDIR/ro.txt"
    update_config ".mounts += [{\"destination\": \"/vol\", \"type\": \"bind\", \"source\": \"$vol\", \"options\": [\"rbind\", \"rw\"]}, {\"destination\": \"/etc/ro.txt\", \"type\": \"bind\", \"source\": \"$BATS_TEST_TMPDIR/ro.txt\", \"options\": [\"bind\", \"ro\"]}]"
    update_config '.process.args = ["sh", "-c", "echo hi; uname -r; echo from-guest >/guest.txt; echo in-vol >/vol/v.txt; cat /etc/ro.txt; echo changed >/etc/ro.txt || echo ro-refused; exit 3"]'
    # Hooks are host programs (Docker's prestart hook is /proc/<dockerd>/exe): they run on the
    # host, once, never in the guest (whose agent has no such path).
    update_config ".hooks.prestart = [{\"path\": \"/bin/sh\", \"args\": [\"sh\", \"-c\", \"echo ran >>$BATS_TEST_TMPDIR/hook.log\"]}]"
    run capsa --allow-tcg run --bundle "$BUNDLE" "$CID" </dev/null
    [ "$status" -eq 3 ] || fail_now "status $status: $output"
    [ "${lines[0]}" = hi ] || fail_now "no hi first: $output"
    # The guest's kernel, not the host's.
    [ -n "${lines[1]}" ] || fail_now "no uname -r line: $output"
    [ "${lines[1]}" != "$(uname -r)" ] || fail_now "uname -r is the host's: $output"
    # The file the guest wrote is in the host's rootfs (the virtio-fs share), and in the volume.
    [ "$(cat "$ROOTFS/guest.txt")" = from-guest ]
    [ "$(cat "$vol/v.txt")" = in-vol ] || fail_now "the volume: $(ls -la "$vol")"
    [[ "$output" == *host-file*ro-refused* ]] || fail_now "the read-only file: $output"
    [ "$(cat "$BATS_TEST_TMPDIR/ro.txt")" = host-file ]
    [ "$(cat "$BATS_TEST_TMPDIR/hook.log")" = ran ] || fail_now "the hook ran $(wc -l <"$BATS_TEST_TMPDIR/hook.log") times"
    # The share's binds were the host's only while the guest mounted them.
    run ! grep -F "$CAPSA_ROOT/" /proc/self/mountinfo
    # run deleted the container: no VMM, no virtiofsd, no state, no cgroup.
    wait_for no_vm_procs || fail_now "left running: $(vm_procs)"
    [ -z "$(ls -A "$CAPSA_ROOT")" ] || fail_now "state left: $(ls -A "$CAPSA_ROOT")"
    [ ! -e "$(cgfile pids "")" ] || fail_now "cgroup left: $(cgfile pids "")"
}

@test "vm level: without KVM and without --allow-tcg, create fails naming why and leaves nothing" {
    if kvm_usable; then skip "this host has a usable KVM"; fi
    update_config '.annotations["capsa.isolation"] = "vm"'
    run ctr_create "$CID"
    [ "$status" -ne 0 ]
    [[ "$output" == *"needs KVM"* ]] || fail_now "no reason given: $output"
    [[ "$output" == *"--allow-tcg"* ]] || fail_now "no way out named: $output"
    assert_nothing_left "$CID"
    [ -z "$(vm_procs)" ] || fail_now "left running: $(vm_procs)"
    [ ! -e "$(cgfile pids "")" ] || fail_now "cgroup left: $(cgfile pids "")"
}

# Whether a guest process's command line contains $1 (ps in the guest, through exec).
guest_has() {
    capsa exec "$CID" ps -o args </dev/null | grep -v grep | grep -qF -- "$1"
}

# exec into the running VM, each effect checked on the host side: output and status, stdin,
# stderr apart, a terminal, concurrent execs, signals relayed, and a detached process whose
# host stand-in is killed takes its guest process along.
# shellcheck disable=SC2154 # stderr is set by bats' run --separate-stderr
vm_exec_checks() {
    run --separate-stderr capsa exec "$CID" sh -c 'echo out; echo err >&2; uname -r; exit 5'
    [ "$status" -eq 5 ] || fail_now "exec status $status: $output $stderr"
    [ "${lines[0]}" = out ] || fail_now "exec stdout: $output"
    [ "${lines[1]}" != "$(uname -r)" ] || fail_now "exec ran on the host's kernel: $output"
    [ "$stderr" = err ] || fail_now "exec stderr: $stderr"
    # stdin, 2 MiB of it, comes back byte for byte.
    head -c 2097152 /dev/urandom >"$BATS_TEST_TMPDIR/in"
    capsa exec "$CID" cat <"$BATS_TEST_TMPDIR/in" >"$BATS_TEST_TMPDIR/back"
    cmp "$BATS_TEST_TMPDIR/in" "$BATS_TEST_TMPDIR/back" || fail_now "stdin came back changed"
    # A terminal: the guest process's stdin is a tty, and its status comes back.
    run script -qec "$CAPSA --root $CAPSA_ROOT exec -t $CID sh -c '[ -t 0 ] && tty; exit 4'" /dev/null < <(sleep 5)
    [ "$status" -eq 4 ] || fail_now "exec -t status $status: $output"
    [[ "$output" == *"/dev/pts/"* ]] || fail_now "exec -t: no terminal: $output"
    # Two at once, the slower one started first: each gets its own output.
    capsa exec "$CID" sh -c 'sleep 2; echo slow' >"$BATS_TEST_TMPDIR/slow" </dev/null &
    local slow=$!
    [ "$(capsa exec "$CID" echo fast </dev/null)" = fast ]
    wait "$slow"
    [ "$(cat "$BATS_TEST_TMPDIR/slow")" = slow ]
    # A signal to the host process reaches the guest's.
    # (The binary itself, not the capsa function: $! must be the runtime's pid.)
    "$CAPSA" --root "$CAPSA_ROOT" exec "$CID" \
        sh -c 'trap "exit 9" TERM; echo ready; while :; do sleep 1; done' \
        >"$BATS_TEST_TMPDIR/trap" </dev/null &
    local trapped=$!
    wait_for grep -q ready "$BATS_TEST_TMPDIR/trap"
    kill -TERM "$trapped"
    local st=0
    wait "$trapped" || st=$?
    [ "$st" -eq 9 ] || fail_now "TERM to exec: status $st"
    # Detached, with a pid file: that pid is the host stand-in; killing it kills the guest's.
    capsa exec -d --pid-file "$BATS_TEST_TMPDIR/epid" "$CID" sleep 777 </dev/null
    local standin
    standin=$(cat "$BATS_TEST_TMPDIR/epid")
    kill -0 "$standin"
    wait_for guest_has "sleep 777"
    kill -KILL "$standin"
    wait_for eval '! guest_has "sleep 777"' || fail_now "the guest's process outlived its stand-in"
}

# pause/resume stop and continue the VM (its processes freeze with the host cgroup); update
# and events --stats act on the guest's cgroup, not the host's; kill --all reaches the guest's
# processes (the guest init, with no handler, ignores it as a pid namespace's init does).
vm_resource_checks() {
    capsa exec -d --pid-file "$BATS_TEST_TMPDIR/cpid" "$CID" \
        sh -c 'i=0; while :; do i=$((i+1)); echo $i >/n; sleep 0.2; done' </dev/null
    wait_for test -s "$ROOTFS/n"
    # ps lists the guest's processes (the counter's command line, with the guest's pids), not
    # the host's (QEMU, the stand-ins); --format json gives the same pids.
    run -0 capsa ps "$CID"
    [[ "$output" == "PID CMD"* ]] || fail_now "ps: $output"
    [[ "$output" != *qemu* ]] || fail_now "ps listed the host's processes: $output"
    local counter_pid
    counter_pid=$(awk '/i=\$\(\(i\+1\)\)/ {print $1; exit}' <<<"$output")
    [ -n "$counter_pid" ] || fail_now "ps: no counter in $output"
    run -0 capsa ps --format json "$CID"
    [ "$(jq --argjson p "$counter_pid" 'any(.[]; . == $p)' <<<"$output")" = true ] ||
        fail_now "ps --format json: $output (counter $counter_pid)"
    run capsa ps "$CID" -o pid
    [ "$status" -ne 0 ] || fail_now "ps -o succeeded: $output"
    [[ "$output" == *"not supported"* ]] || fail_now "ps -o: $output"
    capsa pause "$CID"
    [ "$(container_status "$CID")" = paused ]
    [ "$(cat "$(cgfile freezer freezer.state)" 2>/dev/null)" = FROZEN ] ||
        [ "$(cat "$CG/unified$CGPATH/cgroup.freeze" 2>/dev/null)" = 1 ] || fail_now "not frozen"
    local a
    a=$(cat "$ROOTFS/n")
    sleep 1.5
    [ "$(cat "$ROOTFS/n")" = "$a" ] || fail_now "the guest ran while paused"
    run capsa exec "$CID" true
    [ "$status" -ne 0 ] || fail_now "exec into a paused VM succeeded"
    capsa resume "$CID"
    [ "$(container_status "$CID")" = running ]
    wait_for bash -c "[ \$(cat $ROOTFS/n) -gt $a ]" || fail_now "no progress after resume"
    # update: the guest's limit changes; the host cgroup's (the VM's fence) does not.
    [ "$(cat "$(cgfile pids pids.max)")" = max ] || fail_now "host pids.max $(cat "$(cgfile pids pids.max)")"
    run -0 capsa events --stats "$CID"
    [ "$(jq -r .data.pids.limit <<<"$output")" = 64 ] || fail_now "the guest's limit: $output"
    local host_max
    host_max=$(cat "$(cgfile pids pids.max)")
    capsa update --pids-limit 42 "$CID"
    run -0 capsa events --stats "$CID"
    [ "$(jq -r .data.pids.limit <<<"$output")" = 42 ] || fail_now "stats: $output"
    [ "$(jq -r .id <<<"$output")" = "$CID" ] || fail_now "stats: $output"
    [ "$(cat "$(cgfile pids pids.max)")" = "$host_max" ] || fail_now "the host's pids.max changed"
    # The guest's pids, not the host's (QEMU has more threads than the guest has processes).
    [ "$(jq -r .data.pids.current <<<"$output")" -lt "$(cat "$(cgfile pids pids.current)")" ] ||
        fail_now "stats counted the host's tasks: $output"
    # An update the guest refuses (a CPU the one-vCPU guest does not have) fails, naming the
    # guest, and leaves the host cgroup's fence as it was.
    local host_mem
    host_mem=$(cat "$(cgfile memory memory.limit_in_bytes)")
    run capsa update --cpuset-cpus 7 --memory 100m "$CID"
    [ "$status" -ne 0 ] || fail_now "update to a CPU the guest lacks succeeded"
    [[ "$output" == *"in the guest"* ]] || fail_now "update error: $output"
    [ "$(cat "$(cgfile memory memory.limit_in_bytes)")" = "$host_mem" ] ||
        fail_now "the host's memory fence changed: $(cat "$(cgfile memory memory.limit_in_bytes)")"
    # An OOM kill in the guest is an oom event on the host: a process that fills the guest
    # container's memory (128 MiB, the guest's RAM as well) is killed there, its exec ends with
    # 137, and `events` (which took its baseline before its first stats line) reports it.
    local ev=$BATS_TEST_TMPDIR/events
    capsa events --interval 1s "$CID" >"$ev" 2>&1 &
    local evpid=$!
    wait_for grep -q '"type":"stats"' "$ev" || fail_now "no stats from events: $(cat "$ev")"
    run ! grep -q '"type":"oom"' "$ev"
    run capsa exec "$CID" tail /dev/zero
    [ "$status" -eq 137 ] || fail_now "the memory hog ended with $status: $output"
    wait_for grep -q '"type":"oom"' "$ev" || fail_now "no oom event: $(cat "$ev")"
    kill "$evpid"
    [ "$(container_status "$CID")" = running ] || fail_now "the container died of the OOM"
    # kill --all USR1: the counter dies of it (its host stand-in exits), the init stays.
    local counter
    counter=$(cat "$BATS_TEST_TMPDIR/cpid")
    capsa kill --all "$CID" USR1
    wait_for pid_gone "$counter" || fail_now "the counter outlived kill --all USR1"
    [ "$(container_status "$CID")" = running ] || fail_now "the guest's init died of kill --all USR1"
}

# The exec socket (served by the init's stand-in) refuses what only the runtime's own create,
# start and delete may ask, and a signal to a process that is not the connection's; a
# malformed frame ends that connection only.
vm_exec_socket_checks() {
    local sock=$CAPSA_ROOT/$CID/exec.sock
    [ -S "$sock" ] || fail_now "no exec socket at $sock"
    [ "$(stat -c %a "$sock")" = 600 ] || fail_now "exec socket mode $(stat -c %a "$sock")"
    run -0 python3 - "$sock" "$CID" <<'PY'
import socket, struct, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
cid = sys.argv[2].encode() + b"\0"
def frame(t, i, payload=b""):
    return struct.pack("<IBI", 5 + len(payload), t, i) + payload
def reply():
    n = struct.unpack("<I", s.recv(4, socket.MSG_WAITALL))[0]
    b = s.recv(n, socket.MSG_WAITALL)
    t, i = struct.unpack("<BI", b[:5])
    e = struct.unpack("<I", b[5:9])[0] if t == 3 else 0
    return "%d/%d/%d" % (t, i, e)
out = []
s.sendall(frame(5, 7, struct.pack("<I", len(cid)) + cid)); out.append(reply())   # START
s.sendall(frame(18, 8)); out.append(reply())                                      # SHUTDOWN
s.sendall(frame(10, 9, struct.pack("<I", len(cid)) + cid + struct.pack("<II", 1, 9)))  # SIGNAL init
out.append(reply())
s.sendall(b"\xff\xff\xff\xff garbage")
out.append("closed" if s.recv(1) == b"" else "open")
print(" ".join(out))
PY
    # ERROR (3) to each, EPERM (1) twice, then ESRCH (3); the garbage closes the connection.
    [ "$output" = "3/7/1 3/8/1 3/9/3 closed" ] || fail_now "exec socket: $output"
    [ "$(container_status "$CID")" = running ] || fail_now "the container did not survive"
    [ "$(capsa exec "$CID" echo still </dev/null)" = still ]
}

@test "vm level: create/start/state/exec/kill/delete (--isolation vm, allow_tcg from the config file); nothing left" {
    echo "allow_tcg = true" >"$BATS_TEST_TMPDIR/capsa.conf"
    export CAPSA_CONFIG=$BATS_TEST_TMPDIR/capsa.conf
    # sh is PID 1 of the guest container's pid namespace: only a trapped TERM reaches it.
    update_config ".process.args = [\"sh\", \"-c\", \"trap 'exit 7' TERM; echo $MARK; while :; do sleep 1; done\"]"
    # 128 MiB of guest RAM: the host cgroup holds that plus the VMM's stated overhead (192 MiB).
    update_config '.linux.resources.memory = {"limit": 134217728}'
    # The pids limit is the guest's to apply; on the host it would count QEMU's threads.
    update_config '.linux.resources.pids = {"limit": 64}'
    # A prestart hook: an interface could arrive through it, so the VM boots with a spare NIC
    # (nothing arrives: it stays unwired), whose netlink socket the runtime holds until the
    # hooks have run.
    update_config '.hooks.prestart = [{"path": "/bin/true"}]'
    local out=$BATS_TEST_TMPDIR/$CID.out
    capsa --isolation vm create --bundle "$BUNDLE" "$CID" </dev/null >"$out" 2>&1 ||
        fail_now "create: $(cat "$out")"
    [ "$(container_status "$CID")" = created ]
    local helper
    helper=$(jq -r .helperPid "$CAPSA_ROOT/$CID/state.json")
    [ "$(jq -r .isolation "$CAPSA_ROOT/$CID/state.json")" = vm ]
    # The VMM runs, in the container's cgroup, with virtiofsd.
    kill -0 "$helper"
    grep -qx "$helper" "$(cgfile pids cgroup.procs)" || fail_now "qemu $helper not in the cgroup"
    [ "$(wc -l <"$(cgfile pids cgroup.procs)")" -ge 3 ] # the init, QEMU, virtiofsd
    [ "$(cat "$(cgfile memory memory.limit_in_bytes)")" -eq $(((128 + 192) * 1048576)) ]
    # Before start the guest serves no exec: refused, naming why.
    run capsa exec "$CID" true
    [ "$status" -ne 0 ]
    [[ "$output" == *"not started"* ]] || fail_now "exec before start: $output"
    capsa --isolation vm start "$CID"
    [ "$(container_status "$CID")" = running ]
    local pid
    pid=$(container_pid "$CID")
    # The stand-in runs nothing else, so close-on-exec never emptied it: it holds stdio, the
    # agent channel and the exec socket's listener (two sockets), its own signalfd and epoll,
    # and nothing of the runtime's (no directory, no netlink socket, no third socket).
    local fds f
    fds=$(for f in /proc/"$pid"/fd/*; do
        [ "${f##*/}" -gt 2 ] && readlink "$f" | sed 's/:\[[0-9]*\]$//'
    done | sort | uniq -c | awk '{printf "%s=%s ", $2, $1}')
    [[ "$fds" =~ ^(anon_inode:\[eventpoll\]=1\ )?(anon_inode:\[signalfd\]=1\ )?socket=2\ $ ]] ||
        fail_now "the stand-in's fds beyond stdio: $fds"
    # The workload runs in the guest: its marker is on no host process.
    wait_for grep -q "$MARK" "$out"
    run ! pgrep -f "$MARK"
    vm_exec_checks
    vm_exec_socket_checks
    vm_resource_checks
    # An exec'd process outlives nothing: killing the container ends it (137, as a pid
    # namespace's processes are killed).
    capsa exec "$CID" sleep 1000 </dev/null &
    local epid=$!
    wait_for guest_has "sleep 1000"
    # kill reaches the guest's workload through the stand-in init.
    capsa kill "$CID" TERM
    wait_for status_is "$CID" stopped
    pid_gone "$pid"
    local est=0
    wait "$epid" || est=$?
    [ "$est" -eq 137 ] || fail_now "exec'd process ended with $est, not 137"
    capsa delete "$CID"
    wait_for no_vm_procs || fail_now "left running: $(vm_procs)"
    pid_gone "$helper"
    [ ! -e "$CAPSA_ROOT/$CID" ]
    [ ! -e "$(cgfile pids "")" ] || fail_now "cgroup left: $(cgfile pids "")"
}

@test "vm level: an agent that dies, sends a malformed frame or the wrong version fails create clearly, leaving nothing; a VM that dies stops the container" {
    update_config '.annotations["capsa.isolation"] = "vm"'
    # A capsa whose capsa-agent (next to it) is build/helpers/vmping, which misbehaves as
    # share/vmbad.txt says.
    [ -x "$REPO/build/helpers/vmping" ] || fail_now "no build/helpers/vmping (make)"
    local bin=$BATS_TEST_TMPDIR/bin
    mkdir -p "$bin"
    cp "$CAPSA" "$bin/capsa"
    cp "$REPO/build/helpers/vmping" "$bin/capsa-agent"
    local mode want
    for mode in die garbage hello99; do
        case $mode in
        die) want="the agent channel closed" ;;
        garbage) want="frame length 4294967295 exceeds" ;;
        hello99) want="version 99" ;;
        esac
        echo "$mode" >"$ROOTFS/vmbad.txt"
        run "$bin/capsa" --root "$CAPSA_ROOT" --allow-tcg create --bundle "$BUNDLE" "$CID" </dev/null
        [ "$status" -ne 0 ] || fail_now "$mode: create succeeded"
        [[ "$output" == *"$want"* ]] || fail_now "$mode: no clear error: $output"
        [[ "$output" == *"the guest's console"* ]] || fail_now "$mode: no console tail: $output"
        assert_nothing_left "$CID"
        wait_for no_vm_procs || fail_now "$mode: left running: $(vm_procs)"
        [ ! -e "$(cgfile pids "")" ] || fail_now "$mode: cgroup left: $(cgfile pids "")"
    done
    rm "$ROOTFS/vmbad.txt"
    # The real agent; then the VM dies under the running container: it stops, delete cleans.
    update_config '.process.args = ["sleep", "1000"]'
    capsa --allow-tcg run -d --bundle "$BUNDLE" "$CID" </dev/null
    local qemu
    qemu=$(jq -r .helperPid "$CAPSA_ROOT/$CID/state.json")
    kill -KILL "$qemu"
    wait_for status_is "$CID" stopped || fail_now "still $(container_status "$CID") without its VM"
    capsa delete "$CID"
    wait_for no_vm_procs || fail_now "left running: $(vm_procs)"
    assert_nothing_left "$CID"
}

@test "vm level: an empty network namespace (--network none) gives the guest only lo, also under a long state root" {
    update_config '.annotations["capsa.isolation"] = "vm"'
    local ns=capsavm$$
    ip netns add "$ns"
    defer "ip netns del $ns"
    update_config ".linux.namespaces = [.linux.namespaces[] | if .type == \"network\" then .path = \"/run/netns/$ns\" else . end]"
    update_config '.process.args = ["cat", "/proc/net/dev"]'
    # Under a state root and with an id as long as engines' (Docker's is 64 hex digits under
    # /run/docker/runtime-runc/moby): the state directory's sockets are longer than a socket
    # address holds, and still work.
    local long lid
    long=$CAPSA_ROOT/$(printf 'r%.0s' {1..40})
    lid=$(printf '%064d' 0 | tr 0 a)
    run -0 "$CAPSA" --root "$long" --allow-tcg run --bundle "$BUNDLE" "$lid" </dev/null
    [[ "$output" == *"lo:"* ]] || fail_now "no lo in the guest: $output"
    [ "$(grep -c ':' <<<"$output")" -eq 1 ] || fail_now "the guest has more than lo: $output"
    wait_for no_vm_procs || fail_now "left running: $(vm_procs)"
    [ -z "$(ls -A "$long")" ] || fail_now "state left: $(ls -A "$long")"
    rmdir "$long"
}

# http_get NETNS ADDR PORT: the body of GET / from ADDR:PORT, asked from inside NETNS (bash's
# /dev/tcp: no client program needed).
http_get() {
    ip netns exec "$1" timeout 10 bash -c \
        "exec 3<>/dev/tcp/$2/$3 && printf 'GET / HTTP/1.0\r\n\r\n' >&3 && cat <&3" 2>/dev/null
}

# The engine's side of the namespace: its links (without counters) and eth0's qdiscs.
ns_view() {
    ip -n "$1" -o link show | sed 's/ qlen.*//'
    tc -n "$1" qdisc show dev eth0
}

@test "vm level: an engine's network namespace: the guest takes its interface's MAC, address and routes and answers for it; delete leaves the namespace as it was" {
    update_config '.annotations["capsa.isolation"] = "vm"'
    # The engine's namespace (eth0 10.213.7.2/24, default route via .1) and a client namespace
    # on the other end of the veth, as a bridge would be.
    local ns=capsavn$$ cli=capsavc$$
    ip netns add "$ns"
    defer "ip netns del $ns"
    ip netns add "$cli"
    defer "ip netns del $cli"
    ip -n "$ns" link add eth0 type veth peer name peer0 netns "$cli"
    ip -n "$ns" addr add 10.213.7.2/24 dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" route add default via 10.213.7.1
    ip -n "$cli" addr add 10.213.7.1/24 dev peer0
    ip -n "$cli" link set peer0 up
    local before mac
    before=$(ns_view "$ns")
    mac=$(ip netns exec "$ns" cat /sys/class/net/eth0/address)
    update_config ".linux.namespaces = [.linux.namespaces[] | if .type == \"network\" then .path = \"/run/netns/$ns\" else . end]"
    update_config '.process.args = ["sh", "-c", "mkdir -p /www && echo \"guest $(uname -r)\" >/www/index.html && exec httpd -f -p 8080 -h /www"]'
    capsa --allow-tcg run -d --bundle "$BUNDLE" "$CID" </dev/null
    # The guest answers for the engine's address: the page it wrote, under its own kernel.
    wait_for http_get "$cli" 10.213.7.2 8080 || fail_now "no answer from 10.213.7.2:8080"
    run -0 http_get "$cli" 10.213.7.2 8080
    local rel
    rel=$(sed -n 's/^guest //p' <<<"$output")
    [ -n "$rel" ] && [ "$rel" != "$(uname -r)" ] || fail_now "not the guest's page: $output"
    # The guest's NIC is the engine's interface: name, MAC, address, default route.
    run -0 capsa exec "$CID" cat /sys/class/net/eth0/address
    [ "$output" = "$mac" ] || fail_now "guest MAC $output, engine's $mac"
    run -0 capsa exec "$CID" ip -o -4 addr show dev eth0
    [[ "$output" == *"inet 10.213.7.2/24"* ]] || fail_now "guest address: $output"
    run -0 capsa exec "$CID" ip route show default
    [[ "$output" == *"default via 10.213.7.1 dev eth0"* ]] || fail_now "guest route: $output"
    # On the host the engine's interface is redirected to the VM's TAP, and nothing else moved.
    run -0 tc -n "$ns" filter show dev eth0 ingress
    [[ "$output" == *"capsa-tap0"* ]] || fail_now "no redirect to the TAP: $output"
    capsa kill "$CID" KILL
    wait_for status_is "$CID" stopped
    capsa delete "$CID"
    wait_for no_vm_procs || fail_now "left running: $(vm_procs)"
    assert_nothing_left "$CID"
    run -0 ns_view "$ns"
    [ "$output" = "$before" ] || fail_now "the namespace changed: before: $before, after: $output"
    # A namespace some other VM's TAP is wired to is refused, naming it; nothing is left.
    ip -n "$ns" tuntap add capsa-tap0 mode tap
    before=$(ns_view "$ns")
    run capsa --allow-tcg run --bundle "$BUNDLE" "$CID" </dev/null
    [ "$status" -ne 0 ] || fail_now "run succeeded on a wired namespace"
    [[ "$output" == *"capsa-tap0 is already wired"* ]] || fail_now "no clear error: $output"
    assert_nothing_left "$CID"
    [ -z "$(vm_procs)" ] || fail_now "left running: $(vm_procs)"
    run -0 ns_view "$ns"
    [ "$output" = "$before" ] || fail_now "the namespace changed: before: $before, after: $output"
}

# beat_after FILE N: FILE holds a number other than N.
beat_after() {
    local b
    b=$(cat "$1")
    [ -n "$b" ] && [ "$b" != "$2" ]
}

# The mount points of a VM's virtiofsd (its sandbox's mount namespace), relative to the share.
fsd_mounts() {
    awk '{print $5}' "/proc/$(cut -d' ' -f1 "$CAPSA_ROOT/$1/fsd")/mountinfo" | sort
}

@test "vm level: a CRI pod: the sandbox's VM runs a member, which shares its network, IPC and UTS namespaces and has its own rootfs; pause reaches it; member delete leaves the sandbox serving; refusals leave nothing" {
    local sb=$CID mid=${CID}m bad=${CID}x
    update_config ".annotations[\"capsa.isolation\"] = \"vm\"
        | .annotations[\"io.kubernetes.cri.container-type\"] = \"sandbox\"
        | .annotations[\"io.kubernetes.cri.sandbox-id\"] = \"$sb\""
    update_config '.process.args = ["sh", "-c", "mkdir -p /www && echo \"pod $(uname -r)\" >/www/i && exec httpd -f -p 127.0.0.1:8080 -h /www"]'
    capsa --allow-tcg create --bundle "$BUNDLE" "$sb" </dev/null >/dev/null 2>&1
    local spid qemu
    spid=$(capsa state "$sb" | jq -r .pid)
    qemu=$(jq -r .helperPid "$CAPSA_ROOT/$sb/state.json")
    # The member, as containerd's CRI gives it: the sandbox's network, IPC and UTS namespaces by
    # path, a pid and mount namespace of its own, a rootfs and a volume of its own. It does not
    # ask for the vm level: a pod's containers take their sandbox's.
    local mb=$BATS_TEST_TMPDIR/member vol=$BATS_TEST_TMPDIR/mvol
    mkdir -p "$mb" "$vol"
    cp -a "$ROOTFS" "$mb/rootfs"
    jq --arg p "$spid" --arg sb "$sb" --arg vol "$vol" '
        .annotations["io.kubernetes.cri.container-type"] = "container"
        | .annotations["io.kubernetes.cri.sandbox-id"] = $sb
        | del(.annotations["capsa.isolation"])
        | .linux.cgroupsPath += "m"
        | .mounts += [{"destination": "/vol", "type": "bind", "source": $vol, "options": ["rbind", "rw"]}]
        | .process.args = ["sh", "-c", "while :; do echo $((n = n + 1)) >/beat; sleep 0.2; done"]
        | .linux.namespaces = [.linux.namespaces[] | if .type == "network" or .type == "ipc" or .type == "uts"
            then .path = "/proc/\($p)/ns/" + ({"network": "net", "ipc": "ipc", "uts": "uts"}[.type]) else . end]' \
        "$BUNDLE/config.json" >"$mb/config.json"
    local vmms
    vmms=$(pgrep -c -x qemu-system-x86)
    # Before the sandbox runs, its VM takes no member: refused, nothing left.
    run capsa --allow-tcg create --bundle "$mb" "$mid" </dev/null
    [ "$status" -ne 0 ] && [[ "$output" == *"sandbox $sb is created but not started"* ]] ||
        fail_now "member of a sandbox not started: $status $output"
    [ ! -e "$CAPSA_ROOT/$mid" ] && [ -z "$(ls -A "$CAPSA_ROOT/$sb/share/c")" ] || fail_now "the refused member left state"
    capsa start "$sb"
    capsa --allow-tcg run -d --bundle "$mb" "$mid" </dev/null
    # At the sandbox's level, with no second VM: no helper, no QEMU started for it.
    [ "$(jq -r .isolation "$CAPSA_ROOT/$mid/state.json")" = vm ] || fail_now "the member is not at the vm level"
    [ "$(jq -r '.helperPid // 0' "$CAPSA_ROOT/$mid/state.json")" = 0 ] || fail_now "the member has a VMM"
    [ "$(pgrep -c -x qemu-system-x86)" = "$vmms" ] || fail_now "a VMM started for the member"
    # The member reaches the sandbox's server on localhost, under the same guest kernel.
    run -0 capsa exec "$mid" sh -c 'wget -qO- http://127.0.0.1:8080/i; uname -r'
    local rel=${lines[1]}
    [ "${lines[0]}" = "pod $rel" ] && [ "$rel" != "$(uname -r)" ] || fail_now "not the sandbox's page from the guest: $output"
    # Namespaces as a pod's: network, IPC and UTS the sandbox's; mount and pid its own.
    local n sbns mns
    for n in net ipc uts mnt pid; do
        sbns=$(capsa exec "$sb" readlink /proc/self/ns/$n)
        mns=$(capsa exec "$mid" readlink /proc/self/ns/$n)
        case $n in
        net | ipc | uts) [ "$sbns" = "$mns" ] || fail_now "$n: sandbox $sbns, member $mns" ;;
        *) [ "$sbns" != "$mns" ] || fail_now "$n shared: $mns" ;;
        esac
    done
    # Its own files: what it writes lands in its rootfs and volume on the host, not the sandbox's.
    capsa exec "$mid" sh -c 'echo m >/m.txt && echo v >/vol/v.txt'
    [ "$(cat "$mb/rootfs/m.txt")" = m ] && [ "$(cat "$vol/v.txt")" = v ] || fail_now "member's files not on the host"
    [ ! -e "$ROOTFS/m.txt" ] || fail_now "the member wrote the sandbox's rootfs"
    run -0 fsd_mounts "$sb"
    [[ "$output" == *"/c/$mid/rootfs"* ]] || fail_now "no member bind in virtiofsd: $output"
    # The share's own directories (where the host makes the members') are read-only to the guest.
    run -0 awk '$5 == "/" {print $6}' "/proc/$(cut -d' ' -f1 "$CAPSA_ROOT/$sb/fsd")/mountinfo"
    [[ "$output" == ro,* ]] || fail_now "the share's top is not read-only: $output"
    # pause stops the member's processes in the guest (its host cgroup holds only its stand-in);
    # resume lets them go on.
    wait_for test -s "$mb/rootfs/beat"
    capsa pause "$mid"
    [ "$(capsa state "$mid" | jq -r .status)" = paused ] || fail_now "not paused"
    local beat
    beat=$(cat "$mb/rootfs/beat")
    sleep 1
    [ "$(cat "$mb/rootfs/beat")" = "$beat" ] || fail_now "the member ran while paused"
    capsa resume "$mid"
    wait_for beat_after "$mb/rootfs/beat" "$beat" || fail_now "the member did not go on after resume"
    # A member naming a namespace that is not the sandbox's is refused, naming it; nothing left.
    local fns=capsapod$$
    ip netns add "$fns"
    defer "ip netns del $fns"
    jq --arg ns "/run/netns/$fns" '.linux.cgroupsPath += "x"
        | .linux.namespaces = [.linux.namespaces[] | if .type == "network" then .path = $ns else . end]' \
        "$mb/config.json" >"$BATS_TEST_TMPDIR/bad.json"
    mkdir -p "$BATS_TEST_TMPDIR/badb"
    cp "$BATS_TEST_TMPDIR/bad.json" "$BATS_TEST_TMPDIR/badb/config.json"
    ln -s "$mb/rootfs" "$BATS_TEST_TMPDIR/badb/rootfs"
    run capsa --allow-tcg create --bundle "$BATS_TEST_TMPDIR/badb" "$bad" </dev/null
    [ "$status" -ne 0 ] && [[ "$output" == *"/run/netns/$fns: not the namespace of the pod's sandbox $sb"* ]] ||
        fail_now "foreign namespace: $status $output"
    [ ! -e "$CAPSA_ROOT/$bad" ] && [ ! -e "$CAPSA_ROOT/$sb/share/c/$bad" ] || fail_now "the refused member left state"
    # A member of a sandbox that does not exist is refused, naming it.
    jq '.annotations["io.kubernetes.cri.sandbox-id"] = "nosuchpod" | .annotations["capsa.isolation"] = "vm"' "$BATS_TEST_TMPDIR/bad.json" >"$BATS_TEST_TMPDIR/badb/config.json"
    run capsa --allow-tcg create --bundle "$BATS_TEST_TMPDIR/badb" "$bad" </dev/null
    [ "$status" -ne 0 ] && [[ "$output" == *"pod's sandbox nosuchpod"* ]] || fail_now "missing sandbox: $status $output"
    [ ! -e "$CAPSA_ROOT/$bad" ] || fail_now "the refused member left state"
    # The member's end: killed, deleted; its binds leave the VM's share, the sandbox still serves.
    capsa kill "$mid" KILL
    wait_for status_is "$mid" stopped
    capsa delete "$mid"
    [ ! -e "$CAPSA_ROOT/$mid" ] || fail_now "member state left"
    run -0 fsd_mounts "$sb"
    [[ "$output" != *"/c/"* ]] || fail_now "member binds left in virtiofsd: $output"
    [ -z "$(ls -A "$CAPSA_ROOT/$sb/share/c")" ] || fail_now "left in the share: $(ls -A "$CAPSA_ROOT/$sb/share/c")"
    run -0 capsa exec "$sb" wget -qO- http://127.0.0.1:8080/i
    [ "$output" = "pod $rel" ] || fail_now "the sandbox stopped serving: $output"
    capsa delete -f "$sb"
    wait_for no_vm_procs || fail_now "left running: $(vm_procs)"
    # (a zombie waiting for the host's init to reap it is gone)
    [ "$(cat "/proc/$qemu/comm" 2>/dev/null)" != qemu-system-x86 ] ||
        grep -q '^State:.*Z' "/proc/$qemu/status" || fail_now "QEMU left"
    assert_nothing_left "$sb"
}

@test "vm level: features lists it; an unknown level's error names it" {
    run capsa features
    [ "$status" -eq 0 ]
    [[ "$(jq -r '.annotations["io.github.capsa.isolation"]' <<<"$output")" == *vm* ]] ||
        fail_now "features: $output"
    update_config '.annotations["capsa.isolation"] = "nope"'
    run ctr_create "$CID"
    [ "$status" -ne 0 ]
    [[ "$output" == *"native, interpose, unikernel, vm"* ]] || fail_now "$output"
}

@test "vm level: allow_tcg in \$CAPSA_CONFIG takes true or false, and an error names a bad value" {
    update_config '.annotations["capsa.isolation"] = "vm"'
    printf 'allow_tcg = maybe\n' >"$BATS_TEST_TMPDIR/capsa.conf"
    CAPSA_CONFIG=$BATS_TEST_TMPDIR/capsa.conf run ctr_create "$CID"
    [ "$status" -ne 0 ]
    [[ "$output" == *"$BATS_TEST_TMPDIR/capsa.conf"*allow_tcg*maybe* ]] || fail_now "$output"
    assert_nothing_left "$CID"
    if kvm_usable; then skip "this host has a usable KVM"; fi
    printf 'allow_tcg = false\n' >"$BATS_TEST_TMPDIR/capsa.conf"
    CAPSA_CONFIG=$BATS_TEST_TMPDIR/capsa.conf run ctr_create "$CID"
    [ "$status" -ne 0 ]
    [[ "$output" == *"needs KVM"* ]] || fail_now "$output"
    assert_nothing_left "$CID"
}
