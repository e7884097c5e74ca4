#!/bin/bash
# tests/engines/docker.sh [RUNTIME] - Debian 12's Docker (docker.io 20.10 + containerd 1.6) driving
# an OCI runtime (default: the repo's build/capsa) registered as `--runtime capsa`. Prints TAP.
#
# dockerd is started by hand (no systemd) with private data/exec roots, its own managed containerd,
# a unix socket in a temporary directory and a private network namespace, inside a private mount
# namespace whose /run and /etc/docker are fresh tmpfs mounts (containerd 1.6 puts its shim sockets
# in /run/containerd/s whatever its state dir, dockerd creates /run/docker/plugins and
# /etc/docker/key.json), so neither the host's Docker, its files nor its network is touched. The image is imported from the busybox rootfs that
# scripts/mkrootfs.sh builds (no registry is reachable). Everything is torn down on exit.
#
# Environment: CAPSA_DOCKER_KEEP=1 keeps the work directory (logs) after the run;
# CAPSA_DOCKER_TRACE=1 puts a wrapper in front of the runtime that logs every argv to trace.log.
# Single quotes hand $-expressions to the container's shell; cleanup runs from a trap.
# shellcheck disable=SC2016,SC2317
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
runtime=${1:-$repo/build/capsa}
case "$runtime" in
/*) ;;
*) runtime=$(command -v "$runtime" || echo "$PWD/$runtime") ;;
esac

if [ "$(id -u)" -ne 0 ]; then
    echo "1..0 # SKIP docker engine tests need root"
    exit 0
fi
if [ ! -x "$runtime" ]; then
    echo "docker.sh: runtime $runtime is not executable (run make first)" >&2
    exit 1
fi

# --- packages ---------------------------------------------------------------------------------
if [ ! -x /usr/sbin/dockerd ] || [ ! -x /usr/bin/docker ] || ! command -v iptables >/dev/null ||
    ! command -v containerd-shim-runc-v2 >/dev/null || ! command -v ps >/dev/null ||
    ! command -v jq >/dev/null; then
    echo "# installing docker.io from Debian" >&2
    # policy-rc.d already keeps Debian's init scripts from starting a system dockerd here.
    if ! DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 ||
        ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io iptables procps jq >&2; then
        echo "docker.sh: cannot install docker.io" >&2
        exit 1
    fi
fi

# --- private mount namespace ------------------------------------------------------------------
# Re-run in a private mount namespace (the daemon's network namespace comes below). Mounts made
# there vanish with it, so nothing the daemon writes under /run or /etc/docker reaches the host.
if [ -z "${CAPSA_DOCKER_INNER:-}" ]; then
    export CAPSA_DOCKER_INNER=1
    exec unshare -m --propagation private bash "${BASH_SOURCE[0]}" "$runtime"
fi
mount -t tmpfs -o mode=0755 tmpfs /run || exit 1
# dockerd 20.10 writes its trust key to /etc/docker/key.json (no option moves it). An existing
# /etc/docker gets a tmpfs over it; a missing one cannot be a mount point without creating it on
# the host, so then /etc as a whole becomes a copy-on-write overlay whose upper layer is a tmpfs.
if [ -d /etc/docker ]; then
    mount -t tmpfs -o mode=0755 tmpfs /etc/docker || exit 1
else
    etcrw=$(mktemp -d /tmp/capsa-docker-etc.XXXXXX) || exit 1
    mount -t tmpfs -o mode=0755 tmpfs "$etcrw" && mkdir "$etcrw/up" "$etcrw/work" &&
        mount -t overlay -o "lowerdir=/etc,upperdir=$etcrw/up,workdir=$etcrw/work" overlay /etc || exit 1
    # The overlay keeps the tmpfs alive; detach it so that its mount point can go at once.
    umount -l "$etcrw" && rmdir "$etcrw"
fi
# crun 1.8 refuses to start while the v2 hierarchy at /sys/fs/cgroup/unified carries a controller
# (hugetlb here). For the crun comparison only, that mount is removed in this namespace; capsa must
# pass without it.
if [ "$(basename "$runtime")" = crun ] &&
    [ -n "$(cat /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null)" ]; then
    umount /sys/fs/cgroup/unified || exit 1
fi

# --- private daemon -------------------------------------------------------------------------
work=$(mktemp -d /var/tmp/capsa-docker.XXXXXX)
chmod 0711 "$work"
netns=capsa-docker-$$
cgparent=capsa-docker-$$
sock=$work/docker.sock
export DOCKER_CONFIG=$work/client DOCKER_HOST=unix://$sock
unset DOCKER_CONTEXT DOCKER_TLS_VERIFY DOCKER_CERT_PATH
dockerd_pid=

# Debian's client, not whatever newer `docker` is first in PATH. The bound only turns a hang into
# a failure; KILL follows TERM because an attached `docker run` forwards TERM to the container
# (--sig-proxy) and goes on waiting when the runtime hangs.
dk() { timeout -k 10 120 /usr/bin/docker "$@"; }

cleanup() {
    local ids pid
    if [ -S "$sock" ]; then
        mapfile -t ids < <(dk ps -aq 2>/dev/null)
        [ "${#ids[@]}" -gt 0 ] && dk rm -f "${ids[@]}" >/dev/null 2>&1
    fi
    if [ -n "$dockerd_pid" ] && kill -0 "$dockerd_pid" 2>/dev/null; then
        kill -TERM "$dockerd_pid"
        for _ in $(seq 1 150); do
            kill -0 "$dockerd_pid" 2>/dev/null || break
            sleep 0.2
        done
        kill -0 "$dockerd_pid" 2>/dev/null && kill -KILL "$dockerd_pid"
        wait "$dockerd_pid" 2>/dev/null
    fi
    # The managed containerd and its shims run with their pid files/sockets under $work.
    grep -l "$work" /proc/[0-9]*/cmdline 2>/dev/null | cut -d/ -f3 | while read -r pid; do
        [ "$pid" = $$ ] || kill -KILL "$pid" 2>/dev/null
    done
    # Mounts made under the work directory (vfs layers, shm, netns files), deepest first.
    awk -v w="$work" 'index($2, w) == 1 { print $2 }' /proc/self/mounts | sort -r |
        while read -r m; do umount -l "$m" 2>/dev/null; done
    ip netns del "$netns" 2>/dev/null
    for d in /sys/fs/cgroup/*/"$cgparent"; do
        [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
    done
    if [ -n "${CAPSA_DOCKER_KEEP:-}" ]; then
        echo "# kept $work" >&2
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

rtpath=$runtime
if [ -n "${CAPSA_DOCKER_TRACE:-}" ]; then
    rtpath=$work/runtime-trace
    cat >"$rtpath" <<EOF
#!/bin/bash
echo "\$\$ \$*" >>$work/trace.log
exec $runtime "\$@"
EOF
    chmod 0755 "$rtpath"
fi
# capsa only: a second runtime entry whose containers run at the interpose isolation level. capsa
# takes its default level from the name it is started under (capsa-LEVEL), so the entry's path is
# a symlink named capsa-interpose (with tracing, a wrapper that starts capsa under that name).
iprt="" vmrt=""
if [ "$(basename "$runtime")" = capsa ]; then
    mkdir -p "$work/bin"
    iprt=$work/bin/capsa-interpose
    if [ -n "${CAPSA_DOCKER_TRACE:-}" ]; then
        printf '#!/bin/bash\necho "$$ $0 $*" >>%s/trace.log\nexec -a "$0" %s "$@"\n' "$work" "$runtime" >"$iprt"
        chmod 0755 "$iprt"
    else
        ln -s "$runtime" "$iprt"
    fi
    # A third, at the vm level (capsa-vm), given --allow-tcg: no /dev/kvm on these machines.
    vmrt=$work/bin/capsa-vm
    ln -s "$runtime" "$vmrt"
fi

ip netns add "$netns" || exit 1
ip netns exec "$netns" ip link set lo up

mkdir -p "$work/data" "$work/exec" "$work/client"
ipjson=
[ -n "$iprt" ] && ipjson=", \"capsa-interpose\": { \"path\": \"$iprt\" }"
[ -n "$vmrt" ] && ipjson="$ipjson, \"capsa-vm\": { \"path\": \"$vmrt\", \"runtimeArgs\": [\"--allow-tcg\"] }"
cat >"$work/daemon.json" <<EOF
{
  "data-root": "$work/data",
  "exec-root": "$work/exec",
  "pidfile": "$work/docker.pid",
  "hosts": ["unix://$sock"],
  "storage-driver": "vfs",
  "exec-opts": ["native.cgroupdriver=cgroupfs"],
  "cgroup-parent": "/$cgparent",
  "iptables": true,
  "ip-forward": true,
  "userland-proxy": false,
  "runtimes": { "capsa": { "path": "$rtpath" }$ipjson },
  "default-runtime": "capsa",
  "features": { "buildkit": false },
  "log-level": "debug"
}
EOF

# nsenter switches only the network namespace: `ip netns exec` would also remount /sys and hide
# the cgroup hierarchies from dockerd.
nsenter --net="/run/netns/$netns" /usr/sbin/dockerd --config-file "$work/daemon.json" \
    >"$work/dockerd.log" 2>&1 &
dockerd_pid=$!
up=
for _ in $(seq 1 600); do
    if [ -S "$sock" ] && dk version >/dev/null 2>&1; then
        up=1
        break
    fi
    kill -0 "$dockerd_pid" 2>/dev/null || break
    sleep 0.2
done
if [ -z "$up" ]; then
    echo "docker.sh: dockerd did not come up; its log:" >&2
    tail -30 "$work/dockerd.log" >&2
    exit 1
fi

"$repo/scripts/mkrootfs.sh" "$work/rootfs" >/dev/null || exit 1
if ! tar -C "$work/rootfs" -c . | dk import - capsa-test >/dev/null; then
    echo "docker.sh: docker import failed" >&2
    exit 1
fi

# --- TAP helpers ------------------------------------------------------------------------------
n=0
failed=0
ok() {
    n=$((n + 1))
    echo "ok $n - $1"
}
notok() {
    n=$((n + 1))
    failed=$((failed + 1))
    echo "not ok $n - $1"
    shift
    local l
    for l in "$@"; do printf '%s\n' "$l" | sed 's/^/#   /'; done
}
# check NAME EXPECTED ACTUAL: exact comparison.
check() {
    if [ "$2" = "$3" ]; then
        ok "$1"
    else
        notok "$1" "expected: $(printf '%q' "$2")" "got:      $(printf '%q' "$3")"
    fi
}
run() { dk run --runtime capsa "$@"; }
inspect() { dk inspect -f "$1" "$2" 2>&1; }
# wait_status ID STATUS: bounded poll of the container's state.
wait_status() {
    for _ in $(seq 1 600); do
        [ "$(inspect '{{.State.Status}}' "$1")" = "$2" ] && return 0
        sleep 0.2
    done
    return 1
}
# wait_log ID TEXT: bounded poll until the container printed TEXT.
wait_log() {
    for _ in $(seq 1 600); do
        dk logs "$1" 2>&1 | grep -qx "$2" && return 0
        sleep 0.2
    done
    return 1
}
nocr() { tr -d '\r'; }

# --- checks -----------------------------------------------------------------------------------
out=$(run --rm capsa-test echo hello 2>&1)
check "echo" "hello" "$out"

run --rm capsa-test sh -c 'exit 42' >/dev/null 2>&1
check "exit code 42 propagates" "42" "$?"

# A runtime error reaches docker through the JSON log (--log-format json) and names the missing
# program. docker 20.10 maps it to 127 only when the text has runc's lowercase form
# (`exec: "/nonexistent": stat /nonexistent: no such file or directory`), which capsa writes;
# crun says "No such file or directory" and gets 125, so comparison runs accept that.
out=$(run --rm capsa-test /nonexistent 2>&1)
rc=$?
if [ "$(basename "$runtime")" = capsa ]; then
    want_rc=127 want_text='exec: "/nonexistent": stat /nonexistent: no such file or directory'
else
    want_rc=125 want_text=/nonexistent
fi
if [ "$rc" = "$want_rc" ] && printf '%s\n' "$out" | grep -q 'OCI runtime create failed:' &&
    printf '%s\n' "$out" | grep -qF "$want_text"; then
    ok "runtime error for a missing program reaches docker ($want_rc)"
else
    notok "runtime error for a missing program reaches docker ($want_rc)" "rc $rc" "$out"
fi

out=$(printf 'line one\nline two\n' | run --rm -i capsa-test cat 2>&1)
check "stdin with -i" $'line one\nline two' "$out"

out=$(run --rm --user 1000:1001 capsa-test sh -c 'id -u; id -g' 2>&1)
check "--user 1000:1001" $'1000\n1001' "$out"

out=$(run --rm -e FOO=bar -e EMPTY= -w /tmp --hostname capsabox capsa-test \
    sh -c 'echo "$FOO|$EMPTY|$(pwd)|$(hostname)"' 2>&1)
check "-e, -w and --hostname" "bar||/tmp|capsabox" "$out"

out=$(run --rm --read-only capsa-test sh -c 'if touch /probe 2>/dev/null; then echo rw; else echo ro; fi' 2>&1)
check "--read-only rootfs" "ro" "$out"

# Detached container shared by the next checks.
cid=$(run -d capsa-test sh -c 'echo started; exec sleep 100000' 2>&1)
if wait_status "$cid" running && wait_log "$cid" started; then
    check "detached container is running" "running true" "$(inspect '{{.State.Status}} {{.State.Running}}' "$cid")"
else
    notok "detached container is running" "$cid" "$(inspect '{{.State.Status}} {{.State.Error}}' "$cid")"
fi
check "the container was started by the capsa runtime entry" "capsa" "$(inspect '{{.HostConfig.Runtime}}' "$cid")"

out=$(dk exec "$cid" sh -c 'echo from exec; exit 7' 2>&1)
rc=$?
check "docker exec output and exit code 7" $'from exec\n7' "$out"$'\n'"$rc"

out=$(dk exec -t "$cid" sh -c 'if [ -t 0 ] && [ -t 1 ]; then echo tty; fi; tty' 2>&1 | nocr)
check "docker exec -t gets a terminal" $'tty\n/dev/pts/0' "$out"

out=$(dk top "$cid" 2>&1)
if printf '%s\n' "$out" | grep -q 'sleep 100000$'; then
    ok "docker top lists the container's process"
else
    notok "docker top lists the container's process" "$out"
fi

dk rm -f "$cid" >/dev/null 2>&1

# pause/unpause: a counter writes into a bind-mounted host directory, so progress is visible
# from outside while the container is frozen.
mkdir -p "$work/pause"
cid=$(run -d -v "$work/pause:/out" capsa-test \
    sh -c 'i=0; while :; do i=$((i+1)); echo $i >/out/c.new; mv /out/c.new /out/c; usleep 50000; done' 2>&1)
cnt() { cat "$work/pause/c" 2>/dev/null; }
for _ in $(seq 1 600); do [ -n "$(cnt)" ] && break; sleep 0.2; done
if dk pause "$cid" >/dev/null 2>&1 && wait_status "$cid" paused; then
    a=$(cnt)
    sleep 1
    b=$(cnt)
    if [ -z "$a" ]; then
        # Both readings empty would compare equal: a counter that never ran proves nothing.
        notok "pause: no progress while paused" "the counter never started" "$(dk logs "$cid" 2>&1 | tail -5)"
    else
        check "pause: no progress while paused" "paused $a" "$(inspect '{{.State.Status}}' "$cid") $b"
    fi
    if dk unpause "$cid" >/dev/null 2>&1 && wait_status "$cid" running; then
        moved=
        for _ in $(seq 1 1200); do
            [ "$(cnt)" != "$b" ] && moved=1 && break
            sleep 0.1
        done
        check "unpause: progress resumes" "running 1" "$(inspect '{{.State.Status}}' "$cid") $moved"
    else
        notok "unpause: progress resumes" "$(inspect '{{.State.Status}}' "$cid")" "$(tail -5 "$work/dockerd.log")"
    fi
else
    notok "pause: no progress while paused" "$(inspect '{{.State.Status}}' "$cid")" "$(tail -5 "$work/dockerd.log")"
    notok "unpause: progress resumes" "pause failed"
fi
dk rm -f "$cid" >/dev/null 2>&1

# docker stop: SIGTERM reaches the trap of the container's init, which exits 3.
cid=$(run -d capsa-test sh -c 'trap "exit 3" TERM; echo trapped; while :; do sleep 1 & wait; done' 2>&1)
wait_log "$cid" trapped
dk stop -t 60 "$cid" >/dev/null 2>&1
check "docker stop: TERM trap exits 3" "exited 3" "$(inspect '{{.State.Status}} {{.State.ExitCode}}' "$cid")"
dk rm -f "$cid" >/dev/null 2>&1

cid=$(run -d capsa-test sleep 100000 2>&1)
wait_status "$cid" running
dk kill "$cid" >/dev/null 2>&1
wait_status "$cid" exited
check "docker kill: exit 137" "exited 137" "$(inspect '{{.State.Status}} {{.State.ExitCode}}' "$cid")"
dk rm -f "$cid" >/dev/null 2>&1

out=$(run --rm --memory 32m capsa-test cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>&1)
check "--memory 32m visible in the container" "33554432" "$out"

# OOM: busybox tail buffers /dev/zero (it has no newline) until the cgroup limit kills it.
cid=$(run -d --memory 32m --memory-swap 32m capsa-test tail /dev/zero 2>&1)
wait_status "$cid" exited
check "OOM kill: 137 and OOMKilled" "exited 137 true" \
    "$(inspect '{{.State.Status}} {{.State.ExitCode}} {{.State.OOMKilled}}' "$cid")"
dk rm -f "$cid" >/dev/null 2>&1

# A subshell forks sleeps until the limit stops it (busybox sh exits on "can't fork"): with the
# main shell that is 10 tasks; once the subshell is gone 9 remain. Read with builtins only (cat
# would need one more fork); the sleeps die with the pid namespace.
out=$(run --rm --pids-limit 10 capsa-test sh -c \
    'read m </sys/fs/cgroup/pids/pids.max; echo $m
     (for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14; do sleep 100 & done) 2>/dev/null
     read c </sys/fs/cgroup/pids/pids.current; echo $c' 2>&1)
check "--pids-limit 10 visible and enforced" $'10\n9' "$out"

out=$(run --rm --cpu-quota 50000 --cpu-period 100000 capsa-test \
    sh -c 'cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us' 2>&1)
check "--cpu-quota 50000" $'50000\n100000' "$out"

out=$(run --rm -t capsa-test sh -c 'if [ -t 0 ] && [ -t 1 ]; then echo tty; fi; tty' 2>&1 | nocr)
check "run -t gets a terminal" $'tty\n/dev/pts/0' "$out"

out=$(run --rm --network none capsa-test ls /sys/class/net 2>&1)
check "--network none: only lo" "lo" "$out"

cid=$(run -d capsa-test sleep 100000 2>&1)
wait_status "$cid" running
want=$(inspect '{{.NetworkSettings.IPAddress}}/{{.NetworkSettings.IPPrefixLen}}' "$cid")
got=$(dk exec "$cid" sh -c "ip -o -4 addr show dev eth0 | awk '{print \$4}'" 2>&1)
if [ "$want" != / ]; then
    check "default bridge: eth0 has the address docker assigned" "$want" "$got"
else
    notok "default bridge: eth0 has the address docker assigned" "no address in inspect" "$got"
fi
gw=$(inspect '{{.NetworkSettings.Gateway}}' "$cid")
out=$(dk exec "$cid" ping -c 1 -W 5 "$gw" 2>&1 | grep -c '1 packets received')
check "default bridge: the gateway $gw answers ping" "1" "$out"
if ip netns exec "$netns" iptables -t nat -S POSTROUTING 2>/dev/null | grep -q MASQUERADE; then
    ok "default bridge: dockerd set up NAT inside its netns"
else
    notok "default bridge: dockerd set up NAT inside its netns" "$(ip netns exec "$netns" iptables -t nat -S 2>&1)"
fi
dk rm -f "$cid" >/dev/null 2>&1

cid=$(run -d --memory 32m capsa-test sleep 100000 2>&1)
wait_status "$cid" running
out=$(dk update --memory 64m "$cid" 2>&1)
rc=$?
[ "$rc" = 0 ] || echo "# docker update: $out"
full=$(inspect '{{.Id}}' "$cid")
check "docker update --memory 64m: host cgroup has the new limit" "67108864" \
    "$(cat "/sys/fs/cgroup/memory/$cgparent/$full/memory.limit_in_bytes" 2>&1)"
got=$(dk exec "$cid" cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>&1)
check "docker update --memory 64m: visible in the container" "0 67108864" "$rc $got"
dk rm -f "$cid" >/dev/null 2>&1

# --- the interpose isolation level (capsa only) -------------------------------------------------
# Docker 20.10 cannot pass an OCI annotation (`docker run --annotation` and the API field behind
# it came with Docker 24), so the level is chosen by the runtime entry capsa-interpose alone, and
# no policy annotation (capsa.interpose.hidden) can be given. Its effect is shown by what the level
# does without a policy: /proc/meminfo is served from the container's memory limit, and no device
# node can be made (Docker grants CAP_MKNOD, so mknod works at the native level).
field() { # PID N: field N of /proc/PID/stat (after the comm, which may hold spaces)
    local s
    s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    awk -v n=$(($2 - 2)) '{ print $n }' <<<"${s##*) }"
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
# PROBE prints MemTotal and whether mknod of a character device worked.
PROBE='awk "/^MemTotal:/ { print \$2, \$3 }" /proc/meminfo; mknod /tmp/nd c 1 3 2>/dev/null && echo mknod ok || echo mknod refused'
if [ -n "$iprt" ]; then
    out=$(run --rm --memory 32m capsa-test sh -c "$PROBE" 2>&1)
    if [ "$(printf '%s\n' "$out" | tail -1)" = "mknod ok" ] && [ "$(printf '%s\n' "$out" | head -1)" != "32768 kB" ]; then
        ok "native level: host's MemTotal, mknod works"
    else
        notok "native level: host's MemTotal, mknod works" "$out"
    fi
    out=$(dk run --rm --runtime capsa-interpose capsa-test echo hello 2>&1)
    check "interpose (runtime capsa-interpose): echo" "hello" "$out"
    out=$(dk run --rm --runtime capsa-interpose --memory 32m capsa-test sh -c "$PROBE" 2>&1)
    check "interpose (runtime capsa-interpose): MemTotal is the memory limit, mknod refused" \
        $'32768 kB\nmknod refused' "$out"

    cid=$(dk run -d --runtime capsa-interpose --memory 32m capsa-test sleep 100000 2>&1)
    if wait_status "$cid" running; then
        full=$(inspect '{{.Id}}' "$cid")
        pid=$(inspect '{{.State.Pid}}' "$cid")
        check "interpose (runtime capsa-interpose): inspect names the runtime entry" "capsa-interpose" \
            "$(inspect '{{.HostConfig.Runtime}}' "$cid")"
        # dockerd 20.10 gives every runtime --root <exec-root>/runtime-runc/moby.
        st=$work/exec/runtime-runc/moby/$full/state.json
        check "interpose (runtime capsa-interpose): state.json says isolation interpose" "interpose" \
            "$(jq -r .isolation "$st" 2>&1)"
        hp=$(jq -r .helperPid "$st" 2>/dev/null)
        hstart=$(field "$hp" 22)
        shim=$(field "$pid" 4)
        # The supervisor is PID 1 of a pid namespace the container's is made in (init three
        # namespaces deep, the supervisor two); the shim, the subreaper of both, is their parent.
        check "interpose (runtime capsa-interpose): supervisor capsa-interpose (helperPid), child of the shim" \
            "capsa-interpose ppid=$shim depth=2 containerd-shim" \
            "$(cat "/proc/$hp/comm" 2>&1) ppid=$(field "$hp" 4) depth=$(nspid_depth "$hp") $(cat "/proc/$shim/comm" 2>&1)"
        check "interpose (runtime capsa-interpose): the container's init is nested in the supervisor's pid namespace" \
            "3" "$(nspid_depth "$pid")"
        check "interpose (runtime capsa-interpose): the supervisor holds nothing of the state root but its audit log" \
            "" "$(held "$hp" "$work/exec/runtime-runc/moby")"
        out=$(dk exec "$cid" sh -c 'echo in exec; exit 7' 2>&1)
        rc=$?
        check "interpose (runtime capsa-interpose): docker exec output and exit code 7" $'in exec\n7' "$out"$'\n'"$rc"
        out=$(dk exec "$cid" sh -c "$PROBE" 2>&1)
        check "interpose (runtime capsa-interpose): a docker exec'd process is brokered too" \
            $'32768 kB\nmknod refused' "$out"
        dk rm -f "$cid" >/dev/null 2>&1
        # No process with the supervisor's pid and start time may be left but a zombie (reported:
        # its parent should reap it); `delete` kills it without waiting, so poll.
        out=gone
        for _ in $(seq 1 600); do
            [ "$(field "$hp" 22)" != "$hstart" ] || [ "$(field "$hp" 3)" = Z ] && break
            sleep 0.2
        done
        if [ -z "$hstart" ]; then
            out="no supervisor seen while the container ran"
        elif [ "$(field "$hp" 22)" = "$hstart" ]; then
            if [ "$(field "$hp" 3)" = Z ]; then
                echo "# interpose: supervisor $hp is a zombie after rm, parent $(field "$hp" 4)"
            else
                out="still running: $(field "$hp" 3) $(cat "/proc/$hp/comm" 2>&1)"
            fi
        fi
        [ -e "$(dirname "$st")" ] && out="$out, $(dirname "$st") left"
        check "interpose (runtime capsa-interpose): after rm no supervisor and no state left" "gone" "$out"
    else
        notok "interpose (runtime capsa-interpose): detached container" "$cid" \
            "$(inspect '{{.State.Status}} {{.State.Error}}' "$cid")"
    fi
    dk rm -f "$cid" >/dev/null 2>&1
else
    echo "# skip: interpose isolation level (capsa only)"
fi

# --- the vm isolation level (capsa only) ----------------------------------------------------------
# The runtime entry capsa-vm (a symlink: the level comes from the name; --allow-tcg from the
# entry's runtimeArgs). With --network none first; then on the default bridge, whose interface
# dockerd's prestart hook puts in after the VM has booted (the VM's spare NIC is wired to it): a
# published port answers from the guest.
# shellcheck source=tests/engines/vm.bash
source "$repo/tests/engines/vm.bash"
if [ -n "$vmrt" ] && [ -z "$(vm_missing "$runtime")" ]; then
    mkdir -p "$work/vol"
    out=$(dk run --rm --runtime capsa-vm --network none -v "$work/vol:/vol" capsa-test \
        sh -c 'uname -r; echo from-guest >/vol/f; exit 3' 2>&1)
    rc=$?
    check "vm (runtime capsa-vm): exit code 3, a kernel not the host's" "3 guest" \
        "$rc $(guest_kernel "$out")"
    check "vm (runtime capsa-vm): a volume written in the guest" "from-guest" "$(cat "$work/vol/f" 2>&1)"
    cid=$(dk run -d --runtime capsa-vm --network none capsa-test sleep 1000 2>&1)
    if wait_status "$cid" running; then
        out=$(dk exec "$cid" sh -c 'uname -r; exit 7' 2>&1)
        rc=$?
        check "vm (runtime capsa-vm): docker exec runs in the guest, exit code 7" "7 guest" \
            "$rc $(guest_kernel "$out")"
        full=$(inspect '{{.Id}}' "$cid")
        st=$work/exec/runtime-runc/moby/$full/state.json
        check "vm (runtime capsa-vm): state.json says isolation vm" vm "$(jq -r .isolation "$st" 2>&1)"
        hp=$(jq -r .helperPid "$st" 2>/dev/null)
        check "vm (runtime capsa-vm): QEMU runs for it (helperPid)" "qemu-system-x86" \
            "$(cat "/proc/$hp/comm" 2>&1)"
        hstart=$(field "$hp" 22)
        dk rm -f "$cid" >/dev/null 2>&1
        out=gone
        # virtiofsd's command line names the container's state directory; QEMU is helperPid.
        for _ in $(seq 1 600); do
            [ -z "$(pgrep -f "/$full/")" ] && { [ "$(field "$hp" 22)" != "$hstart" ] ||
                [ "$(field "$hp" 3)" = Z ]; } && break
            sleep 0.2
        done
        [ -z "$(pgrep -f "/$full/")" ] || out="left: $(pgrep -af "/$full/")"
        [ "$(field "$hp" 22)" != "$hstart" ] || [ "$(field "$hp" 3)" = Z ] || out="$out, QEMU $hp left"
        check "vm (runtime capsa-vm): after rm no VM left" "gone" "$out"
    else
        notok "vm (runtime capsa-vm): detached container" "$cid" \
            "$(inspect '{{.State.Status}} {{.State.Error}}' "$cid")"
    fi
    dk rm -f "$cid" >/dev/null 2>&1
    # The default bridge: docker-proxy and the NAT rules forward 18082 to the container's
    # address, which the guest holds; the page names the guest's kernel.
    httpd='mkdir -p /www && echo "served by $(uname -r)" >/www/index.html && exec httpd -f -p 8080 -h /www'
    cid=$(dk run -d --runtime capsa-vm -p 18082:8080 capsa-test sh -c "$httpd" 2>&1)
    page=
    if wait_status "$cid" running; then
        for _ in $(seq 1 600); do
            page=$(nsenter --net="/run/netns/$netns" timeout 10 bash -c \
                "exec 3<>/dev/tcp/127.0.0.1/18082 && printf 'GET / HTTP/1.0\r\n\r\n' >&3 && cat <&3" \
                2>/dev/null | grep '^served by ')
            [ -n "$page" ] && break
            sleep 0.2
        done
    fi
    check "vm (runtime capsa-vm): default bridge, -p 18082:8080 answered by the guest" "guest" \
        "$(guest_kernel "${page#served by }")"
    full=$(inspect '{{.Id}}' "$cid")
    dk rm -f "$cid" >/dev/null 2>&1
    out=gone
    for _ in $(seq 1 600); do
        [ -z "$(pgrep -f "/$full/")" ] && break
        sleep 0.2
    done
    [ -z "$(pgrep -f "/$full/")" ] || out="left: $(pgrep -af "/$full/")"
    check "vm (runtime capsa-vm): after rm of the bridged container no VM left" "gone" "$out"
else
    echo "# skip: vm isolation level (capsa only; $(vm_missing "$runtime"))"
fi

echo "1..$n"
if [ "$failed" -ne 0 ]; then
    echo "# $failed of $n checks failed (runtime $runtime); dockerd log tail:"
    grep -iE 'level=(error|warning)' "$work/dockerd.log" | tail -15 | sed 's/^/#   /'
    exit 1
fi
exit 0
