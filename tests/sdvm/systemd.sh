#!/bin/bash
# systemd.sh - a container runtime's systemd cgroup driver (--systemd-cgroup), checked from
# systemd's side. TAP. Runs as root inside the sdvm guest (tests/sdvm/run.sh), where systemd is
# PID 1 on a pure cgroup v2 hierarchy:
#
#   tests/sdvm/run.sh tests/sdvm/systemd.sh                          # build/capsa
#   tests/sdvm/run.sh --runtime /usr/sbin/runc tests/sdvm/systemd.sh # reference runtimes
#   tests/sdvm/run.sh --runtime /usr/bin/crun tests/sdvm/systemd.sh
#
# The contract (runc's): linux.cgroupsPath "SLICE:PREFIX:NAME" puts the container in a transient
# scope unit PREFIX-NAME.scope, Delegate=yes, in SLICE (a nested slice a-b.slice lives at
# /a.slice/a-b.slice and systemd makes it when missing); linux.resources become the unit's
# properties (MemoryMax, TasksMax, CPUQuotaPerSecUSec, CPUWeight, AllowedCPUs) and the cgroup's
# files; update, pause/resume, kill --all, events --stats act on that cgroup; delete removes the
# unit and its cgroup; a bad cgroupsPath fails and leaves nothing; org.systemd.property.*
# annotations become unit properties; rootless, the user's own manager (user@1000.service) makes
# the scope in the user's slice. Then podman
# (cgroup_manager = "systemd") and containerd (SystemdCgroup = true, through CRI) with RUNTIME.
#
# The script was validated against Debian 12's reference runtimes, runc 1.1.5 and crun 1.8.1: both
# pass every check, with one exception. crun hands systemd only CPUWeight (its cgroup-systemd.c,
# append_resources) and writes every other limit to the cgroup files alone, so systemd's
# MemoryMax, TasksMax, CPUQuotaPerSecUSec and AllowedCPUs stay at their defaults (and a
# `systemctl set-property` writes those defaults back into the files). The checks of those
# properties are runc's contract, which capsa follows; they are marked `contract` below and
# reported as SKIP when RUNTIME is crun (unless SDVM_CRUN_CONTRACT=1: then crun fails them), so
# runc alone verifies them.
# The bundles made here carry the annotation run.oci.systemd.subgroup="": crun otherwise puts the
# container's processes in a child cgroup of the scope (…/container), where runc and capsa use the
# scope itself; runc and capsa have no such annotation and ignore it (OCI: unknown annotations are
# ignored). podman and containerd do not set it: their checks accept either place.
# Environment (from run.sh): RUNTIME, SDVM_ROOTFS, SDVM_OCI_BUSYBOX, SDVM_OCI_PAUSE, SDVM_CRI;
# SDVM_CRUN_CONTRACT (run.sh --env).
# shellcheck disable=SC2016 # single-quoted $ belongs to command lines run inside the containers
set -uo pipefail

RUNTIME=${RUNTIME:?RUNTIME is not set}
RT=("$RUNTIME" --systemd-cgroup)
W=$(mktemp -d /var/tmp/sdvm.XXXXXX)
CG=/sys/fs/cgroup

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
# check NAME EXPECTED ACTUAL [diagnostics...]
check() {
    if [ "$2" = "$3" ]; then
        ok "$1"
    else
        notok "$1" "expected: $(printf %q "$2")" "actual:   $(printf %q "$3")" "${@:4}"
    fi
}
skip() {
    n=$((n + 1))
    echo "ok $n - $1 # SKIP $2"
}
# contract NAME EXPECTED ACTUAL...: a check of runc's contract that crun 1.8.1 does not meet (a
# limit that must be a systemd unit property); SKIP for crun, a plain check for any other runtime.
REF_CRUN=
case "$("$RUNTIME" --version 2>/dev/null | head -n1)" in "crun version"*) REF_CRUN=1 ;; esac
[ "${SDVM_CRUN_CONTRACT:-}" = 1 ] && REF_CRUN=
contract() {
    if [ -n "$REF_CRUN" ]; then
        skip "$1" "crun sets only CPUWeight as a unit property (runc contract, verified with runc)"
    else
        check "$@"
    fi
}
# wait_for CMD...: poll CMD 0.1 s apart until it succeeds; 60 s turn a hang into a failure.
wait_for() {
    local end=$((SECONDS + 60))
    until "$@" >/dev/null 2>&1; do
        [ "$SECONDS" -lt "$end" ] || return 1
        sleep 0.1
    done
}
# prop UNIT NAME...: the unit's properties as systemctl show prints them, one NAME=VALUE a line.
prop() {
    local u=$1 p args=()
    shift
    for p in "$@"; do args+=(-p "$p"); done
    # systemctl show prints the properties in its own order; sort both sides alike.
    systemctl show "${args[@]}" "$u" 2>&1 | LC_ALL=C sort
}
props() { # NAME=VALUE...: the same lines, sorted, for the expected side
    printf '%s\n' "$@" | LC_ALL=C sort
}
loadstate() { systemctl show -p LoadState --value "$1" 2>&1; }
# gone UNIT CGROUP: "gone" when systemd no longer knows UNIT (LoadState not-found, systemctl
# status exits 4: "no such unit") and CGROUP does not exist.
gone() {
    local s rc out=
    s=$(loadstate "$1")
    [ "$s" = not-found ] || out="LoadState=$s ActiveState=$(systemctl show -p ActiveState --value "$1" 2>&1)"
    systemctl status "$1" >/dev/null 2>&1
    rc=$?
    [ "$rc" = 4 ] || out="$out systemctl-status-exit=$rc"
    [ -e "$CG$2" ] && out="$out cgroup $2 left: procs [$(tr '\n' ' ' <"$CG$2/cgroup.procs" 2>&1)]"
    echo "${out:-gone}"
}
wait_gone() { # UNIT CGROUP: systemd stops a scope asynchronously; give it a moment
    local end=$((SECONDS + 30))
    while [ "$(gone "$1" "$2")" != gone ] && [ "$SECONDS" -lt "$end" ]; do sleep 0.1; done
    gone "$1" "$2"
}
rstate() { "${RT[@]}" state "$1" 2>/dev/null | jq -r .status 2>/dev/null; }
state_is() { [ "$(rstate "$1")" = "$2" ]; }
rpid() { "${RT[@]}" state "$1" 2>/dev/null | jq -r .pid 2>/dev/null; }
listed() { "${RT[@]}" list -q 2>/dev/null | grep -qx "$1"; }

cleanup() {
    local id
    for id in $("${RT[@]}" list -q 2>/dev/null); do
        "${RT[@]}" delete --force "$id" >/dev/null 2>&1
    done
    if [ -n "${PODMAN_CONF:-}" ]; then
        CONTAINERS_CONF=$PODMAN_CONF podman rm -a -f -t 0 >/dev/null 2>&1
    fi
    systemctl stop containerd >/dev/null 2>&1
    rm -rf "$W"
}
trap cleanup EXIT

echo "# runtime: $RUNTIME ($("$RUNTIME" --version 2>&1 | head -n1))"
echo "# systemd: $(systemctl --version | head -n1); kernel $(uname -r)"

# ---- the guest ----------------------------------------------------------------------------------
check "the guest: PID 1 is systemd" systemd "$(cat /proc/1/comm)"
check "the guest: /sys/fs/cgroup is cgroup2 only (no v1 hierarchy in /proc/self/cgroup)" \
    "cgroup2fs 0::/system.slice/sdvm.service" "$(stat -fc %T $CG) $(cat /proc/self/cgroup)"
st=$(systemctl is-system-running 2>&1)
case "$st" in
running | degraded) ok "the guest: systemd is up ($st)" ;;
*) notok "the guest: systemd is up" "is-system-running: $st" ;;
esac

# ---- bundles ------------------------------------------------------------------------------------
cp -a "$SDVM_ROOTFS" "$W/rootfs" || {
    echo "Bail out! no container rootfs at $SDVM_ROOTFS"
    exit 1
}
# bundle NAME CGROUPSPATH [JQ_FILTER [ARGS_JSON]]: $W/NAME with config.json from `RUNTIME spec`,
# no terminal, the shared rootfs, the given cgroupsPath and resources.
bundle() {
    local b=$W/$1 filter=${3:-.} argv=${4:-'["sleep","1000"]'}
    mkdir -p "$b"
    (cd "$b" && rm -f config.json && "$RUNTIME" spec >/dev/null 2>&1) || return 1
    jq --arg cp "$2" --arg root "$W/rootfs" --argjson args "$argv" \
        ".process.terminal = false | .process.args = \$args | .root.path = \$root |
         .linux.cgroupsPath = \$cp | .annotations[\"run.oci.systemd.subgroup\"] = \"\" |
         $filter" "$b/config.json" >"$b/config.new" &&
        mv "$b/config.new" "$b/config.json"
}
# rrun ID BUNDLE: run -d, stdio off (the container must not hold the caller's pipes).
rrun() { "${RT[@]}" run -d --bundle "$W/$2" "$1" </dev/null >"$W/$1.out" 2>&1; }

# ---- a container in system.slice, with resources ------------------------------------------------
U=capsa-t1.scope
P=/system.slice/capsa-t1.scope
bundle t1 system.slice:capsa:t1 \
    '.linux.resources += {memory: {limit: 67108864}, pids: {limit: 100},
                          cpu: {shares: 512, quota: 50000, period: 100000, cpus: "0"}}'
if rrun t1 t1 && wait_for state_is t1 running; then
    ok "run -d with cgroupsPath system.slice:capsa:t1"
else
    notok "run -d with cgroupsPath system.slice:capsa:t1" "$(cat "$W/t1.out")" "state: $(rstate t1)"
fi
pid=$(rpid t1)
check "unit $U: loaded, active, in system.slice, at $P" \
    "$(props LoadState=loaded ActiveState=active Slice=system.slice ControlGroup="$P")" \
    "$(prop $U LoadState ActiveState Slice ControlGroup)"
check "unit $U: Delegate=yes" yes "$(systemctl show -p Delegate --value $U 2>&1)"
check "unit $U: the container's init is in it (/proc/PID/cgroup, cgroup.procs)" \
    "0::$P $pid" "$(cat "/proc/$pid/cgroup" 2>&1) $(cat "$CG$P/cgroup.procs" 2>&1)"
out=$(systemd-cgls --no-pager "$CG$P" 2>&1)
if [[ $out == *"$pid sleep 1000"* ]]; then
    ok "systemd-cgls shows the container's process in the scope"
else
    notok "systemd-cgls shows the container's process in the scope" "$out"
fi
check "unit $U: TasksCurrent=1 (systemd accounts the container)" 1 \
    "$(systemctl show -p TasksCurrent --value $U 2>&1)"
# runc's conversion of cpu.shares to cgroup v2's weight: 1 + ((512 - 2) * 9999) / 262142 = 20.
check "unit $U: CPUWeight=20 from linux.resources.cpu.shares 512" 20 \
    "$(systemctl show -p CPUWeight --value $U 2>&1)"
contract "unit $U: MemoryMax, TasksMax, CPUQuotaPerSecUSec, AllowedCPUs from linux.resources" \
    "$(props MemoryMax=67108864 TasksMax=100 CPUQuotaPerSecUSec=500ms AllowedCPUs=0)" \
    "$(prop $U MemoryMax TasksMax CPUQuotaPerSecUSec AllowedCPUs)"
check "cgroup $P: memory.max, pids.max, cpu.max, cpu.weight, cpuset.cpus" \
    "67108864 100 50000 100000 20 0" \
    "$(cat $CG$P/memory.max $CG$P/pids.max $CG$P/cpu.max $CG$P/cpu.weight $CG$P/cpuset.cpus 2>&1 | tr '\n' ' ' | sed 's/ $//')"

out=$("${RT[@]}" update --memory 134217728 t1 2>&1)
check "update --memory 134217728: exit 0" 0 "$?" "$out"
check "update: memory.max follows" 134217728 "$(cat $CG$P/memory.max 2>&1)"
contract "update: MemoryMax follows" 134217728 "$(systemctl show -p MemoryMax --value $U 2>&1)"
# systemd writes a unit's cgroup files from its own properties whenever it realizes the unit's
# cgroup again, e.g. after set-property: limits systemd does not know about are lost then.
out=$(systemctl set-property --runtime $U CPUWeight=30 2>&1)
check "systemctl set-property --runtime $U CPUWeight=30: exit 0, cpu.weight 30" "0 30" \
    "$? $(wait_for grep -qx 30 $CG$P/cpu.weight; cat $CG$P/cpu.weight 2>&1)" "$out"
contract "after set-property the limits stay (memory.max, pids.max, cpu.max, cpuset.cpus)" \
    "134217728 100 50000 100000 0" \
    "$(cat $CG$P/memory.max $CG$P/pids.max $CG$P/cpu.max $CG$P/cpuset.cpus 2>&1 | tr '\n' ' ' | sed 's/ $//')"

out=$("${RT[@]}" pause t1 2>&1)
check "pause: exit 0, state paused" "0 paused" "$? $(rstate t1)" "$out"
check "pause: cgroup.freeze 1, cgroup.events frozen 1" "1 frozen 1" \
    "$(cat $CG$P/cgroup.freeze 2>&1) $(grep frozen $CG$P/cgroup.events 2>&1)"
check "pause: the unit stays active" active "$(systemctl show -p ActiveState --value $U 2>&1)"
out=$("${RT[@]}" resume t1 2>&1)
check "resume: exit 0, state running" "0 running" "$? $(rstate t1)" "$out"
check "resume: cgroup.freeze 0, cgroup.events frozen 0" "0 frozen 0" \
    "$(cat $CG$P/cgroup.freeze 2>&1) $(grep frozen $CG$P/cgroup.events 2>&1)"

if "$RUNTIME" events --help >/dev/null 2>&1; then
    out=$("${RT[@]}" events --stats t1 2>&1)
    got=$(jq -r '"\(.type) \(.id) \(.data.pids.current) \(.data.pids.limit) \(.data.memory.usage.limit)"' \
        <<<"$out" 2>&1)
    check "events --stats: pids and memory of the scope's cgroup" \
        "stats t1 1 100 134217728" "$got" "$out"
else
    skip "events --stats: pids and memory of the scope's cgroup" "$RUNTIME has no events command"
fi

# A second process through exec lands in the same unit.
"${RT[@]}" exec -d --pid-file "$W/e1.pid" t1 sleep 999 </dev/null >"$W/e1.out" 2>&1
check "exec -d: exit 0, the exec'd process is in $P" "0 0::$P" \
    "$? $(cat "/proc/$(cat "$W/e1.pid" 2>&1)/cgroup" 2>&1)" "$(cat "$W/e1.out")"
check "exec -d: unit $U counts it (TasksCurrent=2)" 2 "$(systemctl show -p TasksCurrent --value $U 2>&1)"

out=$("${RT[@]}" kill --all t1 KILL 2>&1)
check "kill --all KILL: exit 0" 0 "$?" "$out"
if wait_for state_is t1 stopped; then ok "kill --all: the container stops"; else notok "kill --all: the container stops" "state $(rstate t1)"; fi
check "kill --all: no process left in $P" "" "$(cat $CG$P/cgroup.procs 2>/dev/null)"
out=$("${RT[@]}" delete t1 2>&1)
check "delete: exit 0" 0 "$?" "$out"
check "delete: unit $U and cgroup $P are gone" gone "$(wait_gone $U $P)"
if listed t1; then notok "delete: t1 no longer listed" "$("${RT[@]}" list 2>&1)"; else ok "delete: t1 no longer listed"; fi

# ---- create + start, delete --force -------------------------------------------------------------
U=capsa-t2.scope
P=/system.slice/capsa-t2.scope
bundle t2 system.slice:capsa:t2
# create's stdio goes to a file: the container's init keeps what it inherits open until start.
"${RT[@]}" create --bundle "$W/t2" t2 </dev/null >"$W/t2.out" 2>&1
check "create: exit 0, state created" "0 created" "$? $(rstate t2)" "$(cat "$W/t2.out")"
check "create: unit $U active with the container's init in it" \
    "active 0::$P" "$(systemctl show -p ActiveState --value $U 2>&1) $(cat "/proc/$(rpid t2)/cgroup" 2>&1)"
out=$("${RT[@]}" start t2 2>&1)
check "start: exit 0, state running" "0 running" "$? $(rstate t2)" "$out"
check "start: the process runs in $P" "0::$P" "$(cat "/proc/$(rpid t2)/cgroup" 2>&1)"
out=$("${RT[@]}" delete --force t2 2>&1)
check "delete --force of a running container: exit 0" 0 "$?" "$out"
check "delete --force: unit $U and cgroup $P are gone" gone "$(wait_gone $U $P)"
if listed t2; then notok "delete --force: t2 no longer listed"; else ok "delete --force: t2 no longer listed"; fi

# ---- the container's process exits on its own ---------------------------------------------------
U=capsa-t3.scope
P=/system.slice/capsa-t3.scope
bundle t3 system.slice:capsa:t3 . '["sh","-c","sleep 1; exit 3"]'
if rrun t3 t3 && wait_for state_is t3 stopped; then
    ok "a container whose process exits: state stopped"
else
    notok "a container whose process exits: state stopped" "$(cat "$W/t3.out")" "state: $(rstate t3)"
fi
out=$("${RT[@]}" delete t3 2>&1)
check "delete after the process exited: exit 0" 0 "$?" "$out"
check "delete after the process exited: unit $U and cgroup $P are gone" gone "$(wait_gone $U $P)"

# ---- two containers in one nested slice ---------------------------------------------------------
S=sdvmtest-pair.slice
SP=/sdvmtest.slice/sdvmtest-pair.slice
bundle ta $S:capsa:ta
bundle tb $S:capsa:tb
rrun ta ta && rrun tb tb
if wait_for state_is ta running && wait_for state_is tb running; then
    ok "two containers in $S run"
else
    notok "two containers in $S run" "$(cat "$W/ta.out" "$W/tb.out")"
fi
check "slice $S: made by systemd at $SP" \
    "$(props ActiveState=active ControlGroup=$SP Slice=sdvmtest.slice)" "$(prop $S ActiveState ControlGroup Slice)"
check "both scopes in $S, at $SP/capsa-ta.scope and $SP/capsa-tb.scope" \
    "$(props ActiveState=active ControlGroup=$SP/capsa-ta.scope Slice=$S ActiveState=active ControlGroup=$SP/capsa-tb.scope Slice=$S)" \
    "$( (prop capsa-ta.scope ActiveState ControlGroup Slice; prop capsa-tb.scope ActiveState ControlGroup Slice) | LC_ALL=C sort)"
check "each init in its own scope" "0::$SP/capsa-ta.scope 0::$SP/capsa-tb.scope" \
    "$(cat "/proc/$(rpid ta)/cgroup" 2>&1) $(cat "/proc/$(rpid tb)/cgroup" 2>&1)"
check "systemctl list-units lists both under the prefix" "capsa-ta.scope capsa-tb.scope" \
    "$(systemctl list-units --plain --no-legend 'capsa-t*.scope' 2>&1 | awk '{print $1}' | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//')"
"${RT[@]}" delete --force ta >/dev/null 2>&1
check "deleting one leaves the other running" "gone active" \
    "$(wait_gone capsa-ta.scope $SP/capsa-ta.scope) $(systemctl show -p ActiveState --value capsa-tb.scope 2>&1)"
"${RT[@]}" delete --force tb >/dev/null 2>&1
check "deleting the other: its unit and cgroup are gone" gone "$(wait_gone capsa-tb.scope $SP/capsa-tb.scope)"

# ---- unit properties from org.systemd.property.* annotations ------------------------------------
# runc's documented example, and a Sec name converted to USec (TimeoutStopSec -> TimeoutStopUSec
# would clash with the first: RuntimeMaxSec -> RuntimeMaxUSec).
U=capsa-t4.scope
bundle t4 system.slice:capsa:t4 \
    '.annotations += {"org.systemd.property.TimeoutStopUSec": "uint64 123456789",
                      "org.systemd.property.CollectMode": "'"'inactive-or-failed'"'",
                      "org.systemd.property.RuntimeMaxSec": "uint64 7200"}'
if rrun t4 t4 && wait_for state_is t4 running; then
    ok "org.systemd.property.* annotations: the container runs"
else
    notok "org.systemd.property.* annotations: the container runs" "$(cat "$W/t4.out")"
fi
check "unit $U: TimeoutStopUSec, CollectMode, RuntimeMaxUSec from the annotations" \
    "$(props "TimeoutStopUSec=2min 3.456789s" CollectMode=inactive-or-failed RuntimeMaxUSec=2h)" \
    "$(prop $U TimeoutStopUSec CollectMode RuntimeMaxUSec)"
"${RT[@]}" delete --force t4 >/dev/null 2>&1
check "delete: unit $U gone" gone "$(wait_gone $U /system.slice/$U)"

# ---- rootless: the user's own manager (user@UID.service) ----------------------------------------
# As rootless podman runs it: the runtime runs as the user, from inside the user manager's tree
# (podman puts conmon in a user scope; a process may only be moved between cgroups of a tree its
# user owns), and --systemd-cgroup reaches the user manager on $XDG_RUNTIME_DIR/systemd/private.
# The image keeps logind masked for a quick boot; the user manager needs it (pam_systemd).
RU=1000
RUSER=sdvmuser
as_user() { setpriv --reuid $RU --regid $RU --init-groups env XDG_RUNTIME_DIR=/run/user/$RU HOME=/home/$RUSER "$@"; }
URT=(as_user systemd-run --user --scope --quiet "$RUNTIME" --root "/run/user/$RU/rt" --systemd-cgroup)
uprop() { # UNIT NAME...: as prop, from the user's manager
    local u=$1 p args=()
    shift
    for p in "$@"; do args+=(-p "$p"); done
    as_user systemctl --user show "${args[@]}" "$u" 2>&1 | LC_ALL=C sort
}
if useradd -m -u $RU $RUSER >/dev/null 2>&1 && systemctl unmask systemd-logind.service >/dev/null 2>&1 &&
    systemctl start systemd-logind.service && systemctl start user@$RU.service &&
    [ -S /run/user/$RU/systemd/private ]; then
    ok "rootless: user@$RU.service runs (the user's manager)"
else
    notok "rootless: user@$RU.service runs" "$(systemctl status --no-pager user@$RU.service 2>&1 | tail -n 5)"
fi
check "rootless: features says systemdUser" true "$("$RUNTIME" features 2>/dev/null | jq -r .linux.cgroup.systemdUser)"
UB=/home/$RUSER/u1
UP=/user.slice/user-$RU.slice/user@$RU.service/user.slice/capsa-u1.scope
mkdir -p "$UB" && cp -a "$SDVM_ROOTFS" "$UB/rootfs" && chown -R $RU:$RU /home/$RUSER
(cd "$UB" && as_user "$RUNTIME" spec --rootless >/dev/null 2>&1) &&
    jq '.process.terminal = false | .process.args = ["sleep", "1000"] |
        .linux.cgroupsPath = "user.slice:capsa:u1" |
        .linux.resources = {memory: {limit: 67108864}, pids: {limit: 50}}' "$UB/config.json" >"$W/u1.json" &&
    cp "$W/u1.json" "$UB/config.json"
if "${URT[@]}" run -d --bundle "$UB" u1 </dev/null >"$W/u1.out" 2>&1 &&
    wait_for test "$(as_user "$RUNTIME" --root /run/user/$RU/rt state u1 2>/dev/null | jq -r .status)" = running; then
    ok "rootless: run -d as uid $RU with --systemd-cgroup"
else
    notok "rootless: run -d as uid $RU with --systemd-cgroup" "$(cat "$W/u1.out")"
fi
upid=$(as_user "$RUNTIME" --root /run/user/$RU/rt state u1 2>/dev/null | jq -r .pid)
check "rootless: unit capsa-u1.scope active in the user manager, in its user.slice, Delegate=yes" \
    "$(props ActiveState=active Delegate=yes Slice=user.slice ControlGroup=$UP)" \
    "$(uprop capsa-u1.scope ActiveState Delegate Slice ControlGroup)"
check "rootless: the container's process is in $UP" "0::$UP" "$(cat "/proc/$upid/cgroup" 2>&1)"
contract "rootless: MemoryMax, TasksMax of the user's unit" "$(props MemoryMax=67108864 TasksMax=50)" \
    "$(uprop capsa-u1.scope MemoryMax TasksMax)"
check "rootless: memory.max, pids.max in the cgroup" "67108864 50" \
    "$(cat $CG$UP/memory.max $CG$UP/pids.max 2>&1 | tr '\n' ' ' | sed 's/ $//')"
out=$("${URT[@]}" update --memory 33554432 u1 2>&1)
check "rootless: update --memory: exit 0, memory.max" "0 33554432" "$? $(cat $CG$UP/memory.max 2>&1)" "$out"
out=$("${URT[@]}" delete --force u1 2>&1)
check "rootless: delete --force: exit 0, unit and cgroup gone" "0 inactive gone" \
    "$? $(as_user systemctl --user is-active capsa-u1.scope 2>/dev/null) $([ -d "$CG$UP" ] && echo left || echo gone)" "$out"

# ---- a bad cgroupsPath: the create fails and leaves nothing -------------------------------------
bad() { # ID CGROUPSPATH
    bundle "$1" "$2"
    "${RT[@]}" create --bundle "$W/$1" "$1" </dev/null >"$W/$1.out" 2>&1
    rc=$?
    out=$(cat "$W/$1.out")
    if [ "$rc" != 0 ]; then
        ok "cgroupsPath \"$2\": create fails"
    else
        notok "cgroupsPath \"$2\": create fails" "exit 0; state $(rstate "$1")"
        "${RT[@]}" delete --force "$1" >/dev/null 2>&1
    fi
    echo "#   ($rc) $(head -c 300 <<<"$out" | tr '\n' ' ')"
    check "cgroupsPath \"$2\": no unit left (systemctl list-units --all 'capsa-*')" "" \
        "$(systemctl list-units --all --plain --no-legend 'capsa-*' 2>&1)"
    if listed "$1"; then
        notok "cgroupsPath \"$2\": no state left ($RUNTIME list)" "$("${RT[@]}" list 2>&1)"
        "${RT[@]}" delete --force "$1" >/dev/null 2>&1
    else
        ok "cgroupsPath \"$2\": no state left ($RUNTIME list)"
    fi
}
bad tx1 nocolons
bad tx2 notaslice:capsa:tx2
# A property value that is not GVariant text: refused before any unit is made.
bundle tx3 system.slice:capsa:tx3 '.annotations += {"org.systemd.property.CollectMode": "not gvariant"}'
"${RT[@]}" create --bundle "$W/tx3" tx3 </dev/null >"$W/tx3.out" 2>&1
check "a bad org.systemd.property.* value: create fails, no unit, no state" "1 no-unit no-state" \
    "$? $(systemctl list-units --all --plain --no-legend 'capsa-tx3*' 2>&1 | grep -q . && echo unit || echo no-unit) $(listed tx3 && echo state || echo no-state)" \
    "$(cat "$W/tx3.out")"
"${RT[@]}" delete --force tx3 >/dev/null 2>&1

# ---- podman, cgroup_manager = "systemd" ---------------------------------------------------------
rtname=${RUNTIME##*/}
PODMAN_CONF=$W/containers.conf
cat >"$PODMAN_CONF" <<EOF
[containers]
log_driver = "k8s-file"

[engine]
cgroup_manager = "systemd"
events_logger = "file"
events_logfile_path = "$W/podman-events.log"
runtime = "$rtname"
runtime_supports_json = ["crun", "runc", "capsa"]

[engine.runtimes]
$rtname = ["$RUNTIME"]
EOF
export CONTAINERS_CONF=$PODMAN_CONF
IMG=localhost/sdvm-busybox:latest
if tar -C "$W/rootfs" -cf "$W/rootfs.tar" . &&
    podman import --change 'CMD ["/bin/sh"]' "$W/rootfs.tar" "$IMG" >"$W/import.out" 2>&1; then
    ok "podman: image imported from the busybox rootfs ($(podman --version))"
    out=$(podman run --rm --network none "$IMG" cat /proc/self/cgroup 2>&1)
    if [[ $out =~ ^0::/(machine.slice/libpod-[0-9a-f]{64}\.scope)?(/container)?$ ]] || [ "$out" = 0::/ ]; then
        ok "podman run --rm: a container runs"
    else
        notok "podman run --rm: a container runs" "$out"
    fi
    echo "#   its /proc/self/cgroup: $out"
    if id=$(podman run -d --name p1 --network none --memory 64m "$IMG" sleep 1000 2>"$W/p1.err"); then
        ok "podman run -d --memory 64m"
        U=libpod-$id.scope
        P=/machine.slice/$U
        check "podman: unit $U active in machine.slice, at $P" \
            "$(props LoadState=loaded ActiveState=active Slice=machine.slice ControlGroup="$P")" \
            "$(prop "$U" LoadState ActiveState Slice ControlGroup)"
        contract "podman: MemoryMax=67108864 (systemctl show)" 67108864 \
            "$(systemctl show -p MemoryMax --value "$U" 2>&1)"
        pid=$(podman inspect --format '{{.State.Pid}}' p1 2>&1)
        out=$(cat "/proc/$pid/cgroup" 2>&1)
        # crun puts the process in a child cgroup of the scope (…/container), runc in the scope.
        if [ "$out" = "0::$P" ] || [ "$out" = "0::$P/container" ]; then
            ok "podman: the container's process is in $P"
        else
            notok "podman: the container's process is in $P" "$out"
        fi
        check "podman: memory.max of the container's cgroup is 67108864" 67108864 \
            "$(cat "$CG${out#0::}/memory.max" 2>&1)"
        out=$(podman rm -f -t 0 p1 2>&1)
        check "podman rm -f: exit 0" 0 "$?" "$out"
        check "podman rm -f: unit $U and cgroup $P are gone" gone "$(wait_gone "$U" "$P")"
    else
        notok "podman run -d --memory 64m" "$(cat "$W/p1.err")"
    fi
else
    notok "podman: image imported from the busybox rootfs" "$(cat "$W/import.out")"
fi
unset CONTAINERS_CONF

# ---- containerd, SystemdCgroup = true, through CRI ----------------------------------------------
if [ -z "${SDVM_CRI:-}" ] || [ -z "${SDVM_OCI_BUSYBOX:-}" ] || [ -z "${SDVM_OCI_PAUSE:-}" ]; then
    # Not a skip: the test command installs what they need (scripts/deps.sh --test).
    notok "containerd/CRI: run.sh could not build the CRI client or the OCI images" \
        "SDVM_CRI=${SDVM_CRI:-} SDVM_OCI_BUSYBOX=${SDVM_OCI_BUSYBOX:-} SDVM_OCI_PAUSE=${SDVM_OCI_PAUSE:-}"
else
    mkdir -p /etc/containerd
    cat >/etc/containerd/config.toml <<EOF
version = 2
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "localhost/capsa-pause:1"
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "sdvm"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.sdvm]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.sdvm.options]
        BinaryName = "$RUNTIME"
        SystemdCgroup = true
EOF
    CTR=(ctr -n k8s.io)
    if systemctl start containerd && wait_for ctr version &&
        "${CTR[@]}" images import "$SDVM_OCI_BUSYBOX" >"$W/ctr.out" 2>&1 &&
        "${CTR[@]}" images import "$SDVM_OCI_PAUSE" >>"$W/ctr.out" 2>&1; then
        ok "containerd: started by systemd with SystemdCgroup = true, images imported ($(containerd --version | awk '{print $3}'))"
    else
        notok "containerd: started by systemd with SystemdCgroup = true, images imported" \
            "$(cat "$W/ctr.out" 2>&1)" "$(journalctl -u containerd --no-pager | tail -n 20)"
    fi
    # A kubelet with the systemd cgroup driver gives a BestEffort pod the parent
    # kubepods-besteffort-pod<uid>.slice: /kubepods.slice/kubepods-besteffort.slice/… in cgroupfs.
    S=kubepods-besteffort-podsdvm1.slice
    SP=/kubepods.slice/kubepods-besteffort.slice/$S
    if pod=$("$SDVM_CRI" runp -hostnet -cgparent "$S" sdvmpod 2>&1); then
        ok "CRI: RunPodSandbox with cgroup_parent $S"
        check "CRI: the sandbox's unit cri-containerd-<pod>.scope is active in $S, at $SP" \
            "$(props ActiveState=active Slice=$S ControlGroup="$SP/cri-containerd-$pod.scope")" \
            "$(prop "cri-containerd-$pod.scope" ActiveState Slice ControlGroup)"
        if cid=$("$SDVM_CRI" create -hostnet -cgparent "$S" -mem 67108864 "$pod" c1 localhost/capsa-busybox:1 \
            sleep 1000 2>&1) && out=$("$SDVM_CRI" start "$cid" 2>&1); then
            ok "CRI: CreateContainer (memory_limit_in_bytes 64 MiB) + StartContainer"
            U=cri-containerd-$cid.scope
            P=$SP/$U
            check "CRI: the container's unit $U is active in $S, at $P" \
                "$(props ActiveState=active Slice=$S ControlGroup="$P")" \
                "$(prop "$U" ActiveState Slice ControlGroup)"
            contract "CRI: MemoryMax=67108864 (systemctl show)" 67108864 \
                "$(systemctl show -p MemoryMax --value "$U" 2>&1)"
            pid=$("${CTR[@]}" task ls 2>/dev/null | awk -v id="$cid" '$1 == id {print $2}')
            out=$(cat "/proc/$pid/cgroup" 2>&1)
            # As with podman: crun uses a child cgroup of the scope (…/container), runc the scope.
            if [ "$out" = "0::$P" ] || [ "$out" = "0::$P/container" ]; then
                ok "CRI: the container's process is in $P"
            else
                notok "CRI: the container's process is in $P" "pid $pid: $out"
            fi
            check "CRI: memory.max of the container's cgroup is 67108864" 67108864 \
                "$(cat "$CG${out#0::}/memory.max" 2>&1)"
            out=$("$SDVM_CRI" exec "$cid" cat /proc/self/cgroup 2>&1)
            echo "#   ExecSync /proc/self/cgroup: $out"
            "$SDVM_CRI" stop "$cid" 0 >/dev/null 2>&1
            out=$("$SDVM_CRI" rm "$cid" 2>&1)
            check "CRI: StopContainer + RemoveContainer" 0 "$?" "$out"
            check "CRI: the container's unit and cgroup are gone" gone "$(wait_gone "$U" "$P")"
        else
            notok "CRI: CreateContainer (memory_limit_in_bytes 64 MiB) + StartContainer" "$cid" "${out:-}" \
                "$(journalctl -u containerd --no-pager | grep -i error | tail -n 5)"
        fi
        "$SDVM_CRI" stopp "$pod" >/dev/null 2>&1
        out=$("$SDVM_CRI" rmp "$pod" 2>&1)
        check "CRI: StopPodSandbox + RemovePodSandbox" 0 "$?" "$out"
        check "CRI: the sandbox's unit and cgroup are gone" gone \
            "$(wait_gone "cri-containerd-$pod.scope" "$SP/cri-containerd-$pod.scope")"
    else
        notok "CRI: RunPodSandbox with cgroup_parent $S" "$pod" \
            "$(journalctl -u containerd --no-pager | grep -i error | tail -n 5)"
    fi
    systemctl stop containerd
fi

echo "1..$n"
[ "$failed" = 0 ]
