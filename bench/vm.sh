#!/bin/bash
# bench/vm.sh - the vm level's costs (issue 14's figures), next to the native level on the same
# machine in the same run: `create` (to the guest agent ready and the guest's container made),
# `start` to the workload's first output seen on the host, `exec` of /bin/true, `delete`, and the
# host memory of one VM beyond its guest RAM (QEMU's and virtiofsd's resident memory other than
# the guest's pages). Prints Markdown with medians; says whether the VM ran under KVM or TCG
# (software emulation: functional figures only, never to be read as KVM ones). Run as root.
#
# usage: bench/vm.sh [--reps N] [--mem MIB] [--out FILE] [--no-build]
#   --reps N     counted reps (default 5), after 1 warm-up rep (which also builds the initramfs)
#   --mem MIB    guest RAM, as linux.resources.memory.limit (default 256)
#   --no-build   use the existing build/capsa and build/capsa-agent
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
die() {
    echo "vm.sh: $*" >&2
    exit 1
}
usage() {
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
}

reps=5 mem=256 outfile="" build=1
while [ $# -gt 0 ]; do
    case $1 in
    --reps) [ $# -ge 2 ] || usage; reps=$2; shift 2 ;;
    --mem) [ $# -ge 2 ] || usage; mem=$2; shift 2 ;;
    --out) [ $# -ge 2 ] || usage; outfile=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    -h | --help) usage ;;
    *) echo "vm.sh: unknown option $1" >&2; usage ;;
    esac
done
[[ $reps =~ ^[1-9][0-9]*$ ]] || die "--reps: not a positive number: $reps"
if ! [[ $mem =~ ^[1-9][0-9]*$ ]] || [ "$mem" -lt 64 ]; then die "--mem: at least 64 (MiB): $mem"; fi
[ "$(id -u)" = 0 ] || die "run as root"
[ -n "$outfile" ] && exec >"$outfile"
[ $build = 0 ] || make -C "$repo" -s >/dev/null || die "make failed"
capsa=$repo/build/capsa
if [ ! -x "$capsa" ] || [ ! -x "$repo/build/capsa-agent" ]; then
    die "no build/capsa or build/capsa-agent"
fi
command -v jq >/dev/null || die "needs jq"

work=$(mktemp -d /tmp/capsa-vmbench.XXXXXX)
root=$work/state
cleanup() {
    for id in $("$capsa" --root "$root" list -q 2>/dev/null); do
        "$capsa" --root "$root" delete -f "$id" >/dev/null 2>&1 || true
    done
    rm -rf "$work"
}
trap cleanup EXIT
rt() { "$capsa" --root "$root" --allow-tcg "$@"; }

accel=TCG
[ -c /dev/kvm ] && accel=KVM

# One rootfs, one bundle per level; the workload prints a line and waits.
"$repo/scripts/mkrootfs.sh" "$work/rootfs" >/dev/null
(cd "$work" && "$capsa" spec)
for level in native vm; do
    mkdir -p "$work/b-$level"
    ln -s ../rootfs "$work/b-$level/rootfs"
    jq --arg level "$level" --argjson mem $((mem * 1048576)) '
        .process.terminal = false | .process.args = ["sh", "-c", "echo up; exec sleep 100000"]
        | .annotations["capsa.isolation"] = $level | .linux.resources.memory = {"limit": $mem}
        ' "$work/config.json" >"$work/b-$level/config.json"
done

now_ns() { date +%s%N; }
ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b - a) / 1e6 }'; }

# rep LEVEL: one create / start-to-output / exec / delete; appends "create start exec delete"
# (ms) to $work/LEVEL.times; for vm, the VMM's memory to $work/mem.
rep() {
    local level=$1 id=b$$-$RANDOM out t0 t1 t2 t3 t4 t5 t6
    out=$work/out-$id
    : >"$out"
    t0=$(now_ns)
    rt create --bundle "$work/b-$level" "$id" </dev/null >"$out" 2>&1 || die "create ($level): $(cat "$out")"
    t1=$(now_ns)
    rt start "$id" || die "start ($level)"
    until grep -q '^up$' "$out"; do sleep 0.001; done
    t2=$(now_ns)
    t3=$(now_ns)
    rt exec "$id" /bin/true </dev/null || die "exec ($level)"
    t4=$(now_ns)
    if [ "$level" = vm ]; then
        local qemu pid fsd_rss=0
        qemu=$(jq -r .helperPid "$root/$id/state.json")
        # Guest RAM is a shared memfd (RssShmem); QEMU's own memory is the rest.
        awk '
            /^RssAnon:/ { anon = $2 } /^RssFile:/ { file = $2 } /^RssShmem:/ { shm = $2 }
            END { print anon, file, shm }' "/proc/$qemu/status" >"$work/memq"
        # virtiofsd (a parent and its sandboxed child) is in the container's cgroup.
        for pid in $(rt ps --format json "$id" | jq -r '.[]'); do
            [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = virtiofsd ] || continue
            fsd_rss=$((fsd_rss + $(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status")))
        done
        echo "$(cat "$work/memq") $fsd_rss" >>"$work/mem"
    fi
    t5=$(now_ns)
    rt delete -f "$id" >/dev/null || die "delete ($level)"
    t6=$(now_ns)
    echo "$(ms "$t0" "$t1") $(ms "$t1" "$t2") $(ms "$t3" "$t4") $(ms "$t5" "$t6")" >>"$work/$level.times"
}

for level in native vm; do
    rep "$level" # warm-up (and the initramfs cache)
    : >"$work/$level.times"
done
: >"$work/mem"
for ((i = 0; i < reps; i++)); do
    rep native
    rep vm
done

median() { # FILE COLUMN
    awk -v c="$2" '{ print $c }' "$1" | sort -n | awk '{ v[NR] = $1 }
        END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

kernel=$(basename "$(find /boot -maxdepth 1 -name 'vmlinuz-*-cloud-amd64' | sort -V | tail -1)")
echo "### vm level: $accel ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'))"
echo
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$repo" rev-parse --short HEAD), $reps reps," \
    "guest RAM $mem MiB, guest kernel ${kernel#vmlinuz-}."
[ "$accel" = KVM ] || echo "Under TCG (software emulation): functional figures, not KVM ones."
echo
echo "| step (ms, median) | native | vm | vm / native |"
echo "|---|---|---|---|"
col=1
for step in "create (vm: to the agent ready, the guest's container made)" \
    "start to the workload's first output on the host" "exec /bin/true" "delete -f"; do
    n=$(median "$work/native.times" $col)
    v=$(median "$work/vm.times" $col)
    r=$(awk -v v="$v" -v n="$n" 'BEGIN { if (n > 0) printf "%.1f", v / n; else printf "-" }')
    echo "| $step | $n | $v | ${r}x |"
    col=$((col + 1))
done
echo
echo "| host memory of one VM (KiB, median) | |"
echo "|---|---|"
echo "| QEMU RssAnon (its own heap, TCG translation cache, device state) | $(median "$work/mem" 1) |"
echo "| QEMU RssFile (binary, libraries, ROMs) | $(median "$work/mem" 2) |"
echo "| QEMU RssShmem (guest pages touched, of $((mem * 1024))) | $(median "$work/mem" 3) |"
echo "| virtiofsd VmRSS (both processes) | $(median "$work/mem" 4) |"
