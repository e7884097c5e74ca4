#!/bin/bash
# tests/engines/podman.sh [RUNTIME] - podman (Debian 12's 4.3) driving an OCI runtime, TAP output.
#
# RUNTIME defaults to the repository's build/capsa; /usr/bin/crun (or runc) runs the same checks for
# comparison. Everything happens inside a private mount and network namespace: podman's storage,
# state and configuration live in a temporary directory under /var/tmp, /run and /dev/shm are fresh
# tmpfs mounts (podman's SHM locks, the runtime's state dir, /run/netns), and the bridge network's
# iptables rules land in the private network namespace, so the host is left untouched. The image is
# a busybox-static rootfs from scripts/mkrootfs.sh, tarred and `podman import`ed (no registry).
#
# Configuration the checks run under (what a user of this host would need too): cgroup_manager
# "cgroupfs" (no systemd here), events_logger "file", log_driver "k8s-file", default_ulimits within
# the host's hard limits (no CAP_SYS_RESOURCE to raise them), and the runtime's basename added to
# podman's runtime_supports_json list so that conmon passes --log-format=json.
# shellcheck disable=SC2016 # single-quoted $ belongs to command lines run inside the containers
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
self="$repo/tests/engines/podman.sh"
RUNTIME=${1:-${RUNTIME:-$repo/build/capsa}}
IMG=localhost/capsa-busybox:latest

if [ "${CAPSA_PODMAN_INNER:-}" != 1 ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "1..0 # SKIP podman engine test needs root"
        exit 0
    fi
    need=()
    for p in podman conmon containernetworking-plugins netavark iptables util-linux; do
        dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
    done
    if [ ${#need[@]} -gt 0 ]; then
        echo "# installing ${need[*]}" >&2
        if ! { apt-get update -qq >&2 &&
            DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
                "${need[@]}" >&2; }; then
            echo "Bail out! apt-get install ${need[*]} failed"
            exit 1
        fi
    fi
    if [ "$RUNTIME" = "$repo/build/capsa" ] && [ ! -x "$RUNTIME" ]; then
        make -C "$repo" -j2 build/capsa >&2 || {
            echo "Bail out! make build/capsa failed"
            exit 1
        }
    fi
    RUNTIME=$(readlink -f "$RUNTIME")
    if [ ! -x "$RUNTIME" ]; then
        echo "Bail out! runtime $RUNTIME is not executable"
        exit 1
    fi
    # Re-run inside a private mount + network namespace; everything podman leaves behind dies with it.
    exec unshare -m -n --propagation private env CAPSA_PODMAN_INNER=1 RUNTIME="$RUNTIME" \
        bash "$self" "$RUNTIME"
fi

# ---- inside the private namespaces ---------------------------------------------------------------

rtname=$(basename "$RUNTIME")
W=$(mktemp -d /var/tmp/capsa-podman.XXXXXX)
# conmon 2.1.6 records an OOM kill by creating a file named "oom" in its working directory, which
# it inherits from podman: work from W so that no such file lands in the caller's directory.
cd "$W" || exit 1
mount -t tmpfs -o mode=0755 tmpfs /run
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
ip link set lo up

if [ "$rtname" = crun ]; then
    # crun 1.8 refuses a hybrid host whose cgroup2 hierarchy has a controller (hugetlb here);
    # hide it for the comparison run only. capsa must work without this.
    umount /sys/fs/cgroup/unified 2>/dev/null || true
fi

cleanup() {
    podman rm -a -f -t 0 >/dev/null 2>&1
    # Kill anything still in this mount namespace (conmon, container processes), by pid.
    local me ns pid
    me=$(readlink /proc/self/ns/mnt)
    for pid in /proc/[0-9]*; do
        pid=${pid#/proc/}
        [ "$pid" = $$ ] || [ "$pid" = "$BASHPID" ] && continue
        ns=$(readlink "/proc/$pid/ns/mnt" 2>/dev/null) || continue
        [ "$ns" = "$me" ] && kill -9 "$pid" 2>/dev/null
    done
    # Unmount what podman mounted under the work dir (deepest first), then remove it.
    awk -v w="$W" '$5 == w || index($5, w "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r |
        while read -r m; do umount -l "$m" 2>/dev/null; done
    rm -rf "$W"
}
trap cleanup EXIT

mkdir -p "$W"/{root,runroot,tmp,net,out}
# podman runs the runtime with RLIMIT_NPROC lowered to 32768 (observed), and nothing here may raise
# a hard limit (no CAP_SYS_RESOURCE): the container's limits must stay within both.
nproc=$(ulimit -Hu)
[ "$nproc" = unlimited ] || [ "$nproc" -gt 32768 ] && nproc=32768
nofile=$(ulimit -Hn)
[ "$nofile" = unlimited ] || [ "$nofile" -gt 1048576 ] && nofile=1048576
cat >"$W/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$W/root"
runroot = "$W/runroot"
EOF
cat >"$W/containers.conf" <<EOF
[containers]
log_driver = "k8s-file"
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]

[network]
network_backend = "netavark"
network_config_dir = "$W/net"

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$W/events.log"
tmp_dir = "$W/tmp"
runtime = "$rtname"
runtime_supports_json = ["crun", "runc", "kata", "runsc", "youki", "krun", "capsa", "capsa-interpose"]

[engine.runtimes]
$rtname = ["$RUNTIME"]
EOF
if [ "$rtname" = capsa ]; then
    # A second runtime entry whose containers run at the interpose level: capsa takes its default
    # level from the name it is started under (capsa-LEVEL), so the entry is a symlink to it.
    mkdir -p "$W/bin"
    ln -s "$RUNTIME" "$W/bin/capsa-interpose"
    echo "capsa-interpose = [\"$W/bin/capsa-interpose\"]" >>"$W/containers.conf"
    # An entry that allows the vm level software emulation (this machine has no /dev/kvm): a
    # wrapper that executes capsa itself (capsa finds capsa-agent next to the path it is
    # executed as), with --allow-tcg; the level is chosen by the annotation.
    printf '#!/bin/sh\nexec %s --allow-tcg "$@"\n' "$RUNTIME" >"$W/bin/capsa-tcg"
    chmod 0755 "$W/bin/capsa-tcg"
    echo "capsa-tcg = [\"$W/bin/capsa-tcg\"]" >>"$W/containers.conf"
    sed -i 's/^runtime_supports_json = \[/&"capsa-tcg", /' "$W/containers.conf"
fi
export CONTAINERS_CONF="$W/containers.conf" CONTAINERS_STORAGE_CONF="$W/storage.conf"
export CONTAINERS_REGISTRIES_CONF="$W/registries.conf"
: >"$W/registries.conf"

# ---- TAP helpers ---------------------------------------------------------------------------------

n=0
failed=0
pass() {
    n=$((n + 1))
    echo "ok $n - $1"
}
fail() {
    n=$((n + 1))
    failed=$((failed + 1))
    echo "not ok $n - $1"
    shift
    local l
    for l in "$@"; do
        printf '%s\n' "$l" | sed 's/^/#   /'
    done
}
# expect NAME WANT_RC WANT_OUT CMD... : run CMD, compare its exit code and its exact stdout.
expect() {
    local name=$1 want_rc=$2 want_out=$3 out rc
    shift 3
    out=$("$@" 2>"$W/stderr")
    rc=$?
    if [ "$rc" = "$want_rc" ] && [ "$out" = "$want_out" ]; then
        pass "$name"
    else
        fail "$name" "command: $*" "want rc $want_rc, got $rc" "want: $(printf %q "$want_out")" \
            "got:  $(printf %q "$out")" "stderr: $(tail -5 "$W/stderr")"
    fi
}
# expect_match NAME WANT_RC REGEX CMD... : as expect, with an extended regex on the whole stdout.
expect_match() {
    local name=$1 want_rc=$2 re=$3 out rc
    shift 3
    out=$("$@" 2>"$W/stderr")
    rc=$?
    if [ "$rc" = "$want_rc" ] && [[ $out =~ $re ]]; then
        pass "$name"
    else
        fail "$name" "command: $*" "want rc $want_rc, got $rc" "want: /$re/" \
            "got:  $(printf %q "$out")" "stderr: $(tail -5 "$W/stderr")"
    fi
}
# in_tty CMD... : run CMD with a terminal as its stdin/stdout (util-linux script), strip the CRs.
in_tty() {
    local cmd
    cmd=$(printf '%q ' "$@")
    script -qefc "$cmd" /dev/null </dev/null | tr -d '\r'
    return "${PIPESTATUS[0]}"
}
# wait_for CMD... : poll CMD 0.1 s apart until it succeeds. The bound (120 s) only turns a hang
# into a failure; a slow machine must not fail a check.
wait_for() {
    local end=$((SECONDS + 120))
    until "$@" >/dev/null 2>&1; do
        [ "$SECONDS" -lt "$end" ] || return 1
        sleep 0.1
    done
}
state_is() { [ "$(podman inspect --format '{{.State.Status}}' "$1" 2>/dev/null)" = "$2" ]; }
logs_have() { podman logs "$1" 2>/dev/null | grep -qx "$2"; }

# ---- image ---------------------------------------------------------------------------------------

echo "# runtime: $RUNTIME ($("$RUNTIME" --version 2>&1 | head -1))"
echo "# podman: $(podman --version)"
if ! "$repo/scripts/mkrootfs.sh" "$W/rootfs" >"$W/mkrootfs.log" 2>&1 ||
    ! tar -C "$W/rootfs" -cf "$W/rootfs.tar" . ||
    ! podman import --change 'CMD ["/bin/sh"]' "$W/rootfs.tar" "$IMG" >"$W/import.log" 2>&1; then
    echo "Bail out! could not build and import the image: $(tail -3 "$W/mkrootfs.log" "$W/import.log")"
    exit 1
fi

# ---- checks --------------------------------------------------------------------------------------

expect "echo" 0 "hello" podman run --rm "$IMG" echo hello
expect "exit code 42 propagates" 42 "" podman run --rm "$IMG" sh -c 'exit 42'
# A runtime error reaches podman through the JSON log (conmon's --log-format=json, enabled by the
# runtime_supports_json entry): podman maps a missing program to 127 and prints the runtime's text.
if [ "$rtname" = capsa ]; then
    want='exec: "/nonexistent": stat /nonexistent: no such file or directory'
else
    want=/nonexistent
fi
out=$(podman run --rm "$IMG" /nonexistent 2>&1)
rc=$?
if [ "$rc" = 127 ] && [[ $out == *"$want"* ]]; then
    pass "missing program: 127 and the runtime's error text"
else
    fail "missing program: 127 and the runtime's error text" "want rc 127, got $rc" \
        "want text: $want" "got: $out"
fi
expect "stdin (-i)" 0 "hi" bash -c "echo hi | podman run --rm -i $IMG cat"
expect "--user 1000:1000" 0 "uid=1000(user) gid=1000(user) groups=1000(user)" \
    podman run --rm --user 1000:1000 "$IMG" id
expect "env (-e)" 0 "bar baz" podman run --rm -e FOO=bar -e BAR=baz "$IMG" sh -c 'echo $FOO $BAR'
expect "cwd (-w)" 0 "/home/user" podman run --rm -w /home/user "$IMG" pwd
expect "hostname (--hostname)" 0 "capsa-host" podman run --rm --hostname capsa-host "$IMG" hostname
# podman puts a tmpfs (with runc's "tmpcopyup" extension) over /tmp, /var/tmp and /run.
expect "--read-only rootfs refuses writes, /tmp stays writable" 0 "read-only tmp-ok" \
    podman run --rm --read-only "$IMG" sh -c \
    'if touch /probe 2>/dev/null; then r=writable; else r=read-only; fi; touch /tmp/x && echo $r tmp-ok'

# Detached container: state, exec, exec -t, top.
if podman run -d --name det "$IMG" sleep 1000 >/dev/null 2>"$W/stderr" && wait_for state_is det running; then
    pass "detached run, inspect says running"
else
    fail "detached run, inspect says running" "state: $(podman inspect --format '{{.State.Status}}' det 2>&1)" \
        "stderr: $(tail -5 "$W/stderr")"
fi
expect "exec output and exit code" 7 "inside" podman exec det sh -c 'echo inside; exit 7'
expect_match "exec -t gets a terminal" 0 '^/dev/pts/[0-9]+$' in_tty podman exec -t det tty
expect "exec -u 1000 -w /tmp" 0 "1000 /tmp" podman exec -u 1000 -w /tmp det sh -c 'echo $(id -u) $(pwd)'
expect_match "podman top" 0 $'^PID +COMMAND\n1 +sleep$' podman top det pid comm
podman rm -f -t 0 det >/dev/null 2>&1

# Pause: the counter (written to a host directory) makes no progress while the container is frozen.
mkdir -p "$W/out/pause"
podman run -d --name pz -v "$W/out/pause:/out" "$IMG" \
    sh -c 'i=0; while :; do i=$((i+1)); echo $i >/out/c.tmp; mv /out/c.tmp /out/c; sleep 0.05; done' \
    >/dev/null 2>"$W/stderr"
counter() { cat "$W/out/pause/c" 2>/dev/null; }
counter_past() { [ "$(counter)" -gt "$1" ] 2>/dev/null; }
if wait_for counter_past 2 && podman pause pz >/dev/null 2>"$W/stderr" && state_is pz paused; then
    c1=$(counter)
    sleep 1
    c2=$(counter)
    if [ "$c1" = "$c2" ]; then
        pass "pause freezes the container (counter stays at $c1)"
    else
        fail "pause freezes the container" "counter moved from $c1 to $c2 while paused"
    fi
    if podman unpause pz >/dev/null 2>"$W/stderr" && state_is pz running && wait_for counter_past "$c2"; then
        pass "unpause resumes it"
    else
        fail "unpause resumes it" "state: $(podman inspect --format '{{.State.Status}}' pz 2>&1)" \
            "counter: $(counter)" "stderr: $(tail -5 "$W/stderr")"
    fi
else
    fail "pause freezes the container" "state: $(podman inspect --format '{{.State.Status}}' pz 2>&1)" \
        "counter: $(counter)" "stderr: $(tail -5 "$W/stderr")"
    fail "unpause resumes it" "not reached"
fi
podman rm -f -t 0 pz >/dev/null 2>&1

# Stop: SIGTERM reaches a trap that exits 3, well within the grace period.
podman run -d --name st "$IMG" sh -c 'trap "exit 3" TERM; echo ready; while :; do sleep 0.1; done' \
    >/dev/null 2>"$W/stderr"
wait_for logs_have st ready
podman stop -t 60 st >/dev/null 2>"$W/stderr"
expect "stop: SIGTERM trap exits 3" 0 "3 exited" podman inspect --format '{{.State.ExitCode}} {{.State.Status}}' st
podman rm -f -t 0 st >/dev/null 2>&1

# Kill: SIGKILL by default, 137.
podman run -d --name kl "$IMG" sleep 1000 >/dev/null 2>"$W/stderr"
wait_for state_is kl running
podman kill kl >/dev/null 2>"$W/stderr"
expect "kill gives 137" 0 "137" podman wait kl
podman rm -f -t 0 kl >/dev/null 2>&1

# Memory limit: visible inside the container and enforced by the OOM killer.
expect "--memory 32m visible inside" 0 "33554432" \
    podman run --rm --memory 32m "$IMG" cat /sys/fs/cgroup/memory/memory.limit_in_bytes
expect "allocation past --memory 32m is OOM-killed (137)" 137 "" \
    podman run --rm --memory 32m "$IMG" dd if=/dev/zero of=/dev/null bs=128M count=1
# 137 could be any SIGKILL: conmon's OOM notification (memory.oom_control eventfd on v1) must mark
# the container OOMKilled too. podman 4.3 looks for conmon's "oom" file in the container's static
# dir but starts conmon in its own working directory, so OOMKilled stays false for every runtime
# unless conmon starts there: create, then `podman start -a` from that directory.
podman create --name oom --memory 32m "$IMG" dd if=/dev/zero of=/dev/null bs=128M count=1 \
    >/dev/null 2>"$W/stderr"
sdir=$(podman inspect --format '{{.StaticDir}}' oom 2>/dev/null)
if [ -d "$sdir" ]; then
    (cd "$sdir" && podman start -a oom >/dev/null 2>&1)
    expect "OOM kill: inspect says ExitCode 137, OOMKilled true" 0 "137 true" \
        podman inspect --format '{{.State.ExitCode}} {{.State.OOMKilled}}' oom
else
    fail "OOM kill: inspect says ExitCode 137, OOMKilled true" "create: $(tail -5 "$W/stderr")"
fi
podman rm -f -t 0 oom >/dev/null 2>&1

# Pids limit: visible and enforced (the fork past it fails).
expect "--pids-limit 10 visible inside" 0 "10" \
    podman run --rm --pids-limit 10 "$IMG" cat /sys/fs/cgroup/pids/pids.max
# sh plus four sleeps fill pids.max=5: the fifth background fork fails and the shell gives up.
expect_match "--pids-limit 5 refuses a sixth process" 2 "can't fork" \
    podman run --rm --pids-limit 5 "$IMG" sh -c 'for i in 1 2 3 4 5 6; do sleep 30 & done 2>&1; echo all forked'

# CPU quota.
expect "--cpu-quota/--cpu-period visible" 0 "50000 100000" \
    podman run --rm --cpu-quota 50000 --cpu-period 100000 "$IMG" \
    sh -c 'echo $(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us) $(cat /sys/fs/cgroup/cpu/cpu.cfs_period_us)'
expect "--cpus 1.5 visible" 0 "150000 100000" podman run --rm --cpus 1.5 "$IMG" \
    sh -c 'echo $(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us) $(cat /sys/fs/cgroup/cpu/cpu.cfs_period_us)'

# The same limits seen from the host, in the container's own cgroups (what the runtime applied,
# whatever the container's view of /sys/fs/cgroup is).
host_cg() { # NAME CONTROLLER FILE: print FILE of the container's CONTROLLER cgroup on the host
    local pid rel
    pid=$(podman inspect --format '{{.State.Pid}}' "$1") || return 1
    rel=$(awk -F: -v c="$2" '{ n = split($2, a, ","); for (i = 1; i <= n; i++) if (a[i] == c) print $3 }' \
        "/proc/$pid/cgroup")
    [ -n "$rel" ] && cat "/sys/fs/cgroup/$2$rel/$3"
}
if podman run -d --name lim --memory 32m --pids-limit 10 --cpu-quota 50000 --cpu-period 100000 \
    "$IMG" sleep 1000 >/dev/null 2>"$W/stderr" && wait_for state_is lim running; then
    expect "host cgroup: memory.limit_in_bytes" 0 "33554432" host_cg lim memory memory.limit_in_bytes
    expect "host cgroup: pids.max" 0 "10" host_cg lim pids pids.max
    expect "host cgroup: cpu.cfs_quota_us" 0 "50000" host_cg lim cpu cpu.cfs_quota_us
else
    fail "detached run with limits" "stderr: $(tail -5 "$W/stderr")"
fi
podman rm -f -t 0 lim >/dev/null 2>&1

# Terminal.
expect_match "-t gives a terminal" 0 '^/dev/pts/0$' in_tty podman run --rm -t "$IMG" tty
expect "-t terminal size comes through" 0 "30 100" \
    in_tty bash -c "stty rows 30 cols 100; podman run --rm -t $IMG stty size"

# http_get PORT: the body of GET / from the host's 127.0.0.1:PORT (netavark forwards published
# ports from it), by bash's /dev/tcp: no client program needed.
http_get() {
    timeout 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1 && printf 'GET / HTTP/1.0\r\n\r\n' >&3 &&
        cat <&3" 2>/dev/null | sed -n '/^\r\{0,1\}$/,$p' | sed 1d
}
# page_is PORT TEXT: GET / on PORT answers TEXT.
page_is() { [ "$(http_get "$1")" = "$2" ]; }
page_is_not() { [ "$(http_get "$1")" != "$2" ]; }
# A page that says where it is served from: the kernel the container runs on.
HTTPD='mkdir -p /www && echo "served by $(uname -r)" >/www/index.html && exec httpd -f -p 8080 -h /www'

# Networks: none has only lo; the default bridge (netavark) gives eth0 an address on its subnet.
expect "--network none: only lo" 0 "lo" podman run --rm --network none "$IMG" ls /sys/class/net
expect_match "default bridge network: eth0 with an address" 0 \
    $'^eth0 lo\ninet 10\\.88\\.[0-9]+\\.[0-9]+/16$' podman run --rm "$IMG" \
    sh -c 'echo $(ls /sys/class/net); ip -4 -o addr show dev eth0 | awk "{print \$3, \$4}"'
# The address inside is the one podman assigned, and the bridge's gateway answers.
if podman run -d --name br "$IMG" sleep 1000 >/dev/null 2>"$W/stderr" && wait_for state_is br running; then
    want=$(podman inspect --format '{{.NetworkSettings.IPAddress}}/{{.NetworkSettings.IPPrefixLen}}' br 2>&1)
    gw=$(podman inspect --format '{{.NetworkSettings.Gateway}}' br 2>&1)
    if [ "$want" != / ] && [ "${want#/}" = "$want" ]; then
        expect "default bridge: eth0 has the address podman inspect reports" 0 "$want" \
            podman exec br sh -c 'ip -o -4 addr show dev eth0 | awk "{print \$4}"'
    else
        fail "default bridge: eth0 has the address podman inspect reports" "inspect: $want"
    fi
    expect_match "default bridge: the gateway $gw answers ping" 0 '1 packets received' \
        podman exec br ping -c 1 -W 5 "$gw"
else
    fail "default bridge: detached container" "stderr: $(tail -5 "$W/stderr")"
fi
podman rm -f -t 0 br >/dev/null 2>&1

# `podman update` does not exist in podman 4.3 (it came in 4.4): nothing to check here.
echo "# skip: podman update (not in podman 4.3)"

# ---- the interpose isolation level (capsa only) --------------------------------------------------
# Chosen two ways: per container by the annotation capsa.isolation=interpose (podman copies
# --annotation into config.json), and for a whole runtime entry by its name (--runtime
# capsa-interpose, the symlink registered above). conmon never passes --root, so the container's
# state is capsa's default /run/capsa/<full id>/state.json (in this script's private /run).
# /etc/group comes with the image, /etc/hostname is a bind mount of podman's: both must vanish.
HIDE=capsa.interpose.hidden=/etc/hostname:/etc/group
PROBE='cat /etc/hostname /etc/group 2>&1 >/dev/null; echo $?'
GONE="cat: can't open '/etc/hostname': No such file or directory
cat: can't open '/etc/group': No such file or directory
1"
field() { # PID N: field N of /proc/PID/stat (after the comm, which may hold spaces)
    local s
    s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    awk -v n=$(($2 - 2)) '{ print $n }' <<<"${s##*) }"
}
sup_gone() { # PID START: no process PID started at START, or a zombie
    [ "$(field "$1" 22)" != "$2" ] || [ "$(field "$1" 3)" = Z ]
}
# held PID ROOT: what PID and its children (the supervisor's fetcher) hold open under ROOT, the
# runtime's state root, but the audit log: nothing, or the state directory's flock would outlive
# the command that took it and block every later one on the container.
held() {
    local p f t
    for p in "$1" $(pgrep -P "$1"); do
        for f in "/proc/$p/fd/"*; do
            t=$(readlink "$f") || continue
            case $t in "$2"/*/audit.jsonl) ;; "$2" | "$2"/*) echo "$p: $t" ;; esac
        done
    done
}
nspid_depth() { awk '/^NSpid:/ { print NF - 1 }' "/proc/$1/status" 2>/dev/null; }
# ip_checks LABEL FLAGS... : a container at the interpose level chosen by FLAGS.
ip_checks() {
    local l=$1 id pid conmon st hp hstart out
    shift
    expect "interpose ($l): echo" 0 "hello" podman run --rm "$@" "$IMG" echo hello
    expect "interpose ($l): hidden paths do not exist inside" 0 "$GONE" \
        podman run --rm "$@" --annotation "$HIDE" "$IMG" sh -c "$PROBE"
    if ! podman run -d --name ipc "$@" --annotation "$HIDE" "$IMG" sleep 1000 >/dev/null 2>"$W/stderr" ||
        ! wait_for state_is ipc running; then
        fail "interpose ($l): detached container" "stderr: $(tail -5 "$W/stderr")"
        podman rm -f -t 0 ipc >/dev/null 2>&1
        return
    fi
    id=$(podman inspect --format '{{.Id}}' ipc)
    pid=$(podman inspect --format '{{.State.Pid}}' ipc)
    conmon=$(podman inspect --format '{{.State.ConmonPid}}' ipc)
    st=/run/capsa/$id/state.json
    expect "interpose ($l): state.json says isolation interpose" 0 "interpose" jq -r .isolation "$st"
    hp=$(jq -r .helperPid "$st" 2>/dev/null)
    hstart=$(field "$hp" 22)
    # The supervisor is PID 1 of a pid namespace the container's is made in: the container's init
    # is three namespaces deep (host, supervisor's, its own), the supervisor two; conmon, the
    # subreaper of both, is their parent.
    out="$(cat "/proc/$hp/comm" 2>&1) ppid=$(field "$hp" 4) depth=$(nspid_depth "$hp")"
    expect "interpose ($l): supervisor capsa-interpose (helperPid), child of conmon" 0 \
        "capsa-interpose ppid=$conmon depth=2" echo "$out"
    expect "interpose ($l): the container's init is nested in the supervisor's pid namespace" 0 \
        "ppid=$conmon depth=3" echo "ppid=$(field "$pid" 4) depth=$(nspid_depth "$pid")"
    expect "interpose ($l): the supervisor holds nothing of the state root but its audit log" 0 "" \
        held "$hp" /run/capsa
    expect "interpose ($l): exec output" 0 "in exec" podman exec ipc echo in exec
    expect "interpose ($l): an exec'd process is brokered too (hidden paths)" 0 "$GONE" \
        podman exec ipc sh -c "$PROBE"
    podman rm -f -t 0 ipc >/dev/null 2>"$W/stderr"
    # The supervisor must be gone: no process with its pid and start time, or only a zombie
    # (reported: its parent should reap it). `delete` kills it without waiting, so poll.
    out=gone
    if [ -z "$hstart" ]; then
        out="no supervisor seen while the container ran"
    elif ! wait_for sup_gone "$hp" "$hstart"; then
        out="still running: $(field "$hp" 3) $(cat "/proc/$hp/comm" 2>&1)"
    elif [ "$(field "$hp" 22)" = "$hstart" ]; then
        echo "# interpose ($l): supervisor $hp is a zombie after rm, parent $(field "$hp" 4)"
    fi
    [ -e "/run/capsa/$id" ] && out="$out, /run/capsa/$id left"
    expect "interpose ($l): after rm no supervisor and no state left" 0 "gone" echo "$out"
}
if [ "$rtname" = capsa ]; then
    expect "native level: the hidden annotation alone changes nothing" 0 "0" \
        podman run --rm --annotation "$HIDE" "$IMG" sh -c "$PROBE"
    ip_checks "annotation" --annotation capsa.isolation=interpose
    ip_checks "runtime capsa-interpose" --runtime capsa-interpose
    expect "interpose (runtime capsa-interpose): inspect names the runtime entry" 0 "capsa-interpose" \
        bash -c "podman run --name ipr --runtime capsa-interpose $IMG true >/dev/null &&
            podman inspect --format '{{.OCIRuntime}}' ipr"
    podman rm -f -t 0 ipr >/dev/null 2>&1
    out=$(podman run --rm --runtime capsa-interpose --annotation capsa.isolation=native "$IMG" true 2>&1)
    rc=$?
    want='"native" is weaker than this runtime entry'"'"'s isolation level "interpose"'
    if [ "$rc" != 0 ] && [[ $out == *"$want"* ]]; then
        pass "interpose (runtime capsa-interpose): an annotation may not lower the level (rc $rc)"
    else
        fail "interpose (runtime capsa-interpose): an annotation may not lower the level" "rc $rc" \
            "want text: $want" "got: $out"
    fi
else
    echo "# skip: interpose isolation level (capsa only)"
fi

# A published port (-p) answers from the host: netavark's forwarding to the container's address.
if podman run -d --name web -p 18080:8080 "$IMG" sh -c "$HTTPD" >/dev/null 2>"$W/stderr" &&
    wait_for page_is 18080 "served by $(uname -r)"; then
    expect "-p 18080:8080: the host reaches the container's server" 0 "served by $(uname -r)" http_get 18080
else
    fail "-p 18080:8080: the host reaches the container's server" \
        "got: $(http_get 18080 | head -3); stderr: $(tail -3 "$W/stderr")"
fi
podman rm -f -t 0 web >/dev/null 2>&1

# ---- the vm isolation level (capsa only) ---------------------------------------------------------
# The annotation capsa.isolation=vm through the capsa-tcg entry (software emulation: no /dev/kvm
# here). Checked from the host: the guest's kernel, the exit code, a volume written in the guest,
# exec, the state and nothing left after rm (with --network none), and a published port on the
# default bridge network answered by the guest.
# (Functions, not bash -c: pgrep would find the bash -c whose command line holds the pattern.)
vm_procs() { pgrep -f "/run/capsa/$1/" || true; }
vm_gone() { [ -z "$(vm_procs "$1")" ]; }
# shellcheck source=tests/engines/vm.bash
source "$repo/tests/engines/vm.bash"
if [ "$rtname" = capsa ] && [ -z "$(vm_missing "$RUNTIME")" ]; then
    VM=(--runtime capsa-tcg --annotation capsa.isolation=vm --network none)
    mkdir -p "$W/vol"
    expect "vm: run, the guest's kernel, a volume, the exit code" 3 "hello 1 from-guest" \
        bash -c "podman run --rm ${VM[*]} -v $W/vol:/vol $IMG sh -c 'echo from-guest >/vol/f;
            [ \"\$(uname -r)\" != \"$(uname -r)\" ] && echo hello 1 \$(cat /vol/f); exit 3'"
    expect "vm: the file written in the guest is on the host" 0 "from-guest" cat "$W/vol/f"
    if ! podman run -d --name vmc "${VM[@]}" "$IMG" sleep 1000 >/dev/null 2>"$W/stderr" ||
        ! wait_for state_is vmc running; then
        fail "vm: detached container" "stderr: $(tail -5 "$W/stderr")"
    else
        id=$(podman inspect --format '{{.Id}}' vmc)
        expect "vm: state.json says isolation vm" 0 "vm" jq -r .isolation "/run/capsa/$id/state.json"
        expect "vm: exec runs in the guest" 0 "in-guest" \
            podman exec vmc sh -c "[ \"\$(uname -r)\" != \"$(uname -r)\" ] && echo in-guest"
        expect "vm: exec's exit code" 5 "" podman exec vmc sh -c 'exit 5'
        hp=$(jq -r .helperPid "/run/capsa/$id/state.json" 2>/dev/null)
        expect "vm: QEMU runs for it (helperPid)" 0 "qemu-system-x86" cat "/proc/$hp/comm"
        hstart=$(field "$hp" 22)
        podman rm -f -t 0 vmc >/dev/null 2>"$W/stderr"
        out=gone
        wait_for vm_gone "$id" || out="left: $(vm_procs "$id")"
        wait_for sup_gone "$hp" "$hstart" || out="$out, QEMU $hp left"
        [ -e "/run/capsa/$id" ] && out="$out, /run/capsa/$id left"
        expect "vm: after rm no VM and no state left" 0 "gone" echo "$out"
    fi
    podman rm -f -t 0 vmc >/dev/null 2>&1
    # The default bridge network: the guest takes the container's address, so the published port
    # reaches the server in the guest (its page names the guest's kernel, not the host's).
    VMNET=(--runtime capsa-tcg --annotation capsa.isolation=vm)
    if podman run -d --name vmweb -p 18081:8080 "${VMNET[@]}" "$IMG" sh -c "$HTTPD" \
        >/dev/null 2>"$W/stderr" && wait_for page_is_not 18081 "" && page=$(http_get 18081) &&
        [ -n "$page" ] && [ "$page" != "served by $(uname -r)" ]; then
        expect_match "vm: -p 18081:8080 on the bridge: the guest serves the host" 0 \
            '^served by [0-9]+\.[0-9]+' echo "$page"
    else
        fail "vm: -p 18081:8080 on the bridge: the guest serves the host" \
            "got: $(http_get 18081 | head -3); stderr: $(tail -3 "$W/stderr")"
    fi
    id=$(podman inspect --format '{{.Id}}' vmweb 2>/dev/null)
    podman rm -f -t 0 vmweb >/dev/null 2>&1
    out=gone
    [ -n "$id" ] && { wait_for vm_gone "$id" || out="left: $(vm_procs "$id")"; }
    expect "vm: after rm of the networked container no VM is left" 0 "gone" echo "$out"
else
    echo "# skip: vm isolation level (capsa only; $(vm_missing "$RUNTIME"))"
fi

echo "1..$n"
[ "$failed" = 0 ]
