#!/bin/bash
# bench/interpose.sh - the interpose level side by side with the native level and gVisor (runsc):
# system call costs inside the container (bench/ipmicro.c), a tar -x of a few thousand files,
# `run` of /bin/true, and the supervisor's memory; prints Markdown with medians and ratios to
# native (see bench/README.md, "bench/interpose.sh"). Run as root.
#
# usage: bench/interpose.sh [--reps N] [--quick] [--only SCEN[,SCEN..]] [--levels L[,L..]]
#                           [--files N] [--budget MS] [--out FILE] [--no-build]
#   --reps N     counted reps per scenario (default 10), after 1 warm-up rep; order rotated per rep
#   --quick      smoke run: 3 reps, 100 ms per microbenchmark op, 600 files
#   --files N    files in the tar archive (default 3000)
#   --budget MS  time per microbenchmark op and container (default 300)
#   --no-build   use the existing build/capsa
#   scenarios: micro tar run rss            (default: all)
#   levels:    native interpose runsc       (default: all; runsc only when installed)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bdir=$repo/build/bench
ALL_SCENARIOS="micro tar run rss"
OPS=(getppid read4k fstat openclose stat connect)

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
}
die() {
    echo "interpose.sh: $*" >&2
    exit 1
}
note() { echo "note: $*" >&2; }

reps=10 quick=0 only=$ALL_SCENARIOS levels="native interpose runsc" outfile="" build=1 reps_set=0
nfiles=3000 budget=300 files_set=0 budget_set=0
while [ $# -gt 0 ]; do
    case $1 in
    --reps) [ $# -ge 2 ] || usage; reps=$2; reps_set=1; shift 2 ;;
    --quick) quick=1; shift ;;
    --no-build) build=0; shift ;;
    --only) [ $# -ge 2 ] || usage; only=${2//,/ }; shift 2 ;;
    --levels) [ $# -ge 2 ] || usage; levels=${2//,/ }; shift 2 ;;
    --files) [ $# -ge 2 ] || usage; nfiles=$2; files_set=1; shift 2 ;;
    --budget) [ $# -ge 2 ] || usage; budget=$2; budget_set=1; shift 2 ;;
    --out) [ $# -ge 2 ] || usage; outfile=$2; shift 2 ;;
    -h | --help) usage ;;
    *) echo "interpose.sh: unknown option $1" >&2; usage ;;
    esac
done
if [ $quick = 1 ]; then
    [ $reps_set = 1 ] || reps=3
    [ $files_set = 1 ] || nfiles=600
    [ $budget_set = 1 ] || budget=100
fi
for v in reps nfiles budget; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "--${v/nfiles/files}: not a positive number: ${!v}"
done
for s in $only; do
    [[ " $ALL_SCENARIOS " == *" $s "* ]] || die "--only: unknown scenario $s (known: $ALL_SCENARIOS)"
done
for l in $levels; do
    case $l in native | interpose | runsc) ;; *) die "--levels: unknown level $l" ;; esac
done
[ "$(id -u)" = 0 ] || die "must run as root"
for t in jq gcc unshare mount umount make tar; do
    command -v "$t" >/dev/null || die "missing tool: $t"
done
if [ -n "$outfile" ]; then
    case $outfile in /*) ;; *) outfile=$PWD/$outfile ;; esac
fi

# A private mount namespace: the state roots' tmpfs (below) stays invisible to the host.
if [ "${CAPSA_BENCH_IN_NS:-}" != 1 ]; then
    args=(--reps "$reps" --only "${only// /,}" --levels "${levels// /,}" --files "$nfiles" --budget "$budget")
    [ $build = 1 ] || args+=(--no-build)
    [ -n "$outfile" ] && args+=(--out "$outfile")
    CAPSA_BENCH_IN_NS=1 exec unshare -m --propagation private "$0" "${args[@]}"
fi

work=$(mktemp -d /tmp/capsa-ipbench.XXXXXX)
states=$(mktemp -d /run/capsa-ipbench.XXXXXX)
states_mounted=0
declare -A RT=() # level -> runtime command (words)
# rt LEVEL ARGS...: the level's runtime with its state root and ARGS.
rt() {
    local -a cmd
    read -ra cmd <<<"${RT[$1]}"
    "${cmd[@]}" --root "$states/$1" "${@:2}"
}
cleanup() {
    local rc=$? l id
    set +e
    for l in "${!RT[@]}"; do
        [ -d "$states/$l" ] || continue
        for id in $(rt "$l" list 2>/dev/null | awk -v p="$prefix" 'index($1, p) == 1 { print $1 }'); do
            rt "$l" delete --force "$id" >/dev/null 2>&1 ||
                echo "interpose.sh: could not delete $l container $id" >&2
        done
    done
    [ "$states_mounted" = 0 ] || umount "$states"
    rm -rf "$work" "$states"
    exit "$rc"
}
prefix=ib$$x$RANDOM
trap cleanup EXIT
trap 'exit 130' INT TERM
state_note=
if [ "$(stat -f -c %T "$states")" != tmpfs ]; then
    mount -t tmpfs -o mode=0700,size=64m capsa-ipbench-states "$states" ||
        die "could not mount a tmpfs on $states"
    states_mounted=1
    state_note="/run is $(stat -f -c %T /run) here: the state roots are on a tmpfs mounted for the benchmark"
    note "$state_note"
fi

# 1. Build: capsa, the timer (bench/driver.c) and the microbenchmark (bench/ipmicro.c).
echo "building capsa, bench/driver, bench/ipmicro ..." >&2
if [ $build = 1 ]; then
    make -C "$repo" -j2 build/capsa >"$work/make.log" 2>&1 || {
        grep -E 'error|Error' "$work/make.log" | tail -n 10 >&2
        die "make build/capsa failed (errors above; --no-build uses the existing binary)"
    }
fi
mkdir -p "$bdir" "$work/bin"
for p in driver ipmicro; do
    gcc -std=gnu11 -D_GNU_SOURCE -O2 -static -Wall -Wextra -Werror -o "$bdir/$p" "$repo/bench/$p.c" ||
        die "building bench/$p.c failed"
done
DRIVER=$bdir/driver
# a private copy: other builds may replace build/capsa during the run
cp "$repo/build/capsa" "$work/bin/capsa"
CAPSA=$work/bin/capsa

# 2. Levels: capsa at native and at interpose, runsc (ptrace platform: no /dev/kvm here; no
# network stack of its own, which needs a network namespace path in the spec).
sel=()
for l in $levels; do
    case $l in
    native | interpose) RT[$l]=$CAPSA ;;
    runsc)
        if ! command -v runsc >/dev/null; then
            note "runsc not installed (apt-get install runsc): skipped"
            continue
        fi
        RT[$l]="$(command -v runsc) --network=none --platform=ptrace"
        ;;
    esac
    sel+=("$l")
    mkdir -p "$states/$l"
done
[ ${#sel[@]} -gt 0 ] || die "no level to measure"

# 3. Rootfs: busybox, ipmicro, a 64 KiB data file, an archive of NFILES small files (ustar, in
# directories of 100), and one bundle per level and workload.
rootfs=$work/rootfs
"$repo/scripts/mkrootfs.sh" "$rootfs" >/dev/null
install -m 0755 "$bdir/ipmicro" "$rootfs/bin/ipmicro"
head -c 65536 /dev/urandom >"$rootfs/etc/ipmicro.dat"
mkdir -p "$work/tree"
for ((i = 0; i < nfiles; i++)); do
    d=$work/tree/d$((i / 100))
    [ $((i % 100)) != 0 ] || mkdir -p "$d"
    head -c $((100 + (i * 37) % 900)) "$rootfs/etc/ipmicro.dat" >"$d/f$i"
done
tar --format=ustar -C "$work/tree" -cf "$rootfs/ipmicro.tar" . || die "tar -c failed"
rm -rf "$work/tree"
(cd "$work" && "$CAPSA" spec) || die "capsa spec failed"
mkbundle() { # NAME LEVEL ARGS_JSON
    local ann='{}'
    [ "$2" != interpose ] || ann='{"capsa.isolation": "interpose"}'
    mkdir -p "$work/b-$1-$2"
    jq --arg root "$rootfs" --argjson args "$3" --argjson ann "$ann" \
        '.ociVersion = "1.0.2-dev" | .process.terminal = false | .process.args = $args |
         .root.path = $root | .root.readonly = false | .annotations = $ann' \
        "$work/config.json" >"$work/b-$1-$2/config.json" || die "jq failed for bundle $1-$2"
}
ops_json=$(printf '"%s",' "${OPS[@]}")
for l in "${sel[@]}"; do
    mkbundle micro "$l" "[\"/bin/ipmicro\",\"-t\",\"$budget\",${ops_json%,}]"
    mkbundle tar "$l" '["/bin/ipmicro","-d","/tmp/ipmicro.x","tar","rmtree"]'
    mkbundle true "$l" '["/bin/true"]'
    mkbundle sleep "$l" '["/bin/sleep","100000"]'
done

seqno=0
declare -A FAILS=()
# container LEVEL BUNDLE: run it to completion, its stdout to $work/out; 0 when it exited 0.
container() {
    local l=$1 b=$2 id
    seqno=$((seqno + 1))
    id=$prefix-$b-$l-$seqno
    if rt "$l" run --bundle "$work/b-$b-$l" "$id" </dev/null >"$work/out" 2>"$work/err"; then
        return 0
    fi
    FAILS[$b:$l]=$((${FAILS[$b:$l]:-0} + 1))
    echo "interpose.sh: $b at $l failed:" >&2
    tail -n 4 "$work/err" | sed 's/^/    /' >&2
    rt "$l" delete --force "$id" >/dev/null 2>&1 || true
    return 1
}
# sample SCEN LEVEL REP: appends "REP LEVEL KEY VALUE" lines to $work/res.SCEN.
sample() {
    local scen=$1 l=$2 rep=$3 res=$work/res.$1
    case $scen in
    micro | tar)
        rm -rf "$rootfs/tmp/ipmicro.x"
        container "$l" "$scen" || return 0
        [ "$rep" = warm ] ||
            awk -v r="$rep" -v l="$l" '$1 == "ipmicro" { sub("ns_per_op=", "", $3); print r, l, $2, $3 }' \
                "$work/out" >>"$res"
        ;;
    run)
        seqno=$((seqno + 1))
        local id=$prefix-true-$l-$seqno w c cmd
        read -ra cmd <<<"${RT[$l]}"
        if "$DRIVER" -o "$work/one" -- "${cmd[@]}" --root "$states/$l" run --bundle "$work/b-true-$l" "$id" \
            </dev/null >"$work/err" 2>&1; then
            if [ "$rep" != warm ]; then
                read -r w c _ <"$work/one"
                printf '%s %s wall %s\n%s %s cpu %s\n' "$rep" "$l" "$w" "$rep" "$l" "$c" >>"$res"
            fi
        else
            FAILS[run:$l]=$((${FAILS[run:$l]:-0} + 1))
            echo "interpose.sh: run at $l failed:" >&2
            tail -n 4 "$work/err" | sed 's/^/    /' >&2
            rt "$l" delete --force "$id" >/dev/null 2>&1 || true
        fi
        rm -f "$work/one"
        ;;
    esac
}
scenario() { # SCEN: 1 warm-up rep, then $reps reps, levels rotated
    local scen=$1 i k n=${#sel[@]}
    : >"$work/res.$scen"
    echo "scenario $scen: ${sel[*]}, 1 warm-up + $reps reps ..." >&2
    for ((i = -1; i < reps; i++)); do
        for ((k = 0; k < n; k++)); do
            if ((i < 0)); then
                sample "$scen" "${sel[$(((i + 1 + k) % n))]}" warm
            else
                sample "$scen" "${sel[$(((i + 1 + k) % n))]}" "$i"
            fi
        done
    done
}

# rss: a `sleep` container per level, the resident memory of what the level adds to the workload
# (interpose: the capsa-interpose supervisor; runsc: the Sentry (runsc-sandbox) and the gofer), from
# /proc while it runs: idle, then after an `exec` of ipmicro's calls.
declare -A RSS=()
mem_of() { # PID...: "VmRSS Rss Pss Pss_Anon Pss_File Private_Dirty" in KiB, summed
    local p
    for p in "$@"; do
        awk '/^VmRSS:/ { print "VmRSS", $2 }' "/proc/$p/status"
        awk '/^(Rss|Pss|Pss_Anon|Pss_File|Private_Dirty):/ { sub(":", "", $1); print $1, $2 }' \
            "/proc/$p/smaps_rollup"
    done | awk '{ v[$1] += $2 } END { print v["VmRSS"] + 0, v["Rss"] + 0, v["Pss"] + 0, v["Pss_Anon"] + 0, v["Pss_File"] + 0, v["Private_Dirty"] + 0 }'
}
level_pids() { # LEVEL ID: the processes the level adds
    local l=$1 id=$2 p
    case $l in
    interpose) jq -r '.helperPid' "$states/interpose/$id/state.json" ;;
    runsc)
        for p in /proc/[0-9]*; do
            tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -qE "^runsc-(sandbox|gofer) --root=$states/runsc " &&
                echo "${p#/proc/}"
        done
        ;;
    esac
}
rss_level() { # LEVEL
    local l=$1 id=$prefix-rss-$1 pids
    if ! rt "$l" run --detach --bundle "$work/b-sleep-$l" "$id" </dev/null >"$work/err" 2>&1; then
        echo "interpose.sh: rss: the sleep container at $l failed:" >&2
        tail -n 4 "$work/err" | sed 's/^/    /' >&2
        return 0
    fi
    sleep 0.5
    mapfile -t pids < <(level_pids "$l" "$id" | sort -un)
    if [ ${#pids[@]} -gt 0 ]; then
        RSS[$l:idle]="$(mem_of "${pids[@]}") ${#pids[@]}"
        rt "$l" exec "$id" /bin/ipmicro -t 50 "${OPS[@]}" >/dev/null 2>"$work/err" ||
            note "rss: exec of ipmicro at $l failed: $(tail -n 1 "$work/err")"
        mapfile -t pids < <(level_pids "$l" "$id" | sort -un)
        RSS[$l:busy]="$(mem_of "${pids[@]}") ${#pids[@]}"
    fi
    rt "$l" delete --force "$id" >/dev/null 2>&1 || true
}

has() { [[ " $only " == *" $1 "* ]]; }
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
t_start=$SECONDS
has micro && scenario micro
has tar && scenario tar
has run && scenario run
if has rss; then
    for l in "${sel[@]}"; do [ "$l" = native ] || rss_level "$l"; done
fi
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# 4. Report.
# stats FILE LEVEL KEY SCALE: "median min max n" of the values, divided by SCALE.
stats() {
    awk -v l="$2" -v k="$3" -v s="$4" '$2 == l && $3 == k { print $4 / s }' "$1" | sort -g |
        awk '{ v[NR] = $1 } END {
            if (NR == 0) { print "- - - 0"; exit }
            m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
            printf "%.2f %.2f %.2f %d\n", m, v[1], v[NR], NR }'
}
# ratio FILE KEY A B: median of per-rep ratios A/B ("-" without pairs); diff: of A-B / SCALE.
ratio() {
    awk -v k="$2" -v a="$3" -v b="$4" -v d="${5:-}" '
        $3 != k { next } $2 == a { va[$1] = $4 } $2 == b { vb[$1] = $4 }
        END { for (r in va) if ((r in vb) && vb[r] > 0) print (d == "" ? va[r] / vb[r] : (va[r] - vb[r]) / d) }' "$1" |
        sort -g | awk -v d="${5:-}" '{ v[NR] = $1 } END {
            if (NR == 0) { print "-"; exit }
            m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
            printf (d == "" ? "%.2f\n" : "%.2f\n"), m }'
}
on() { [[ " ${sel[*]} " == *" $1 "* ]]; }
# table FILE SCALE UNIT KEYS...: one row per key: medians per level, ratios to native, interpose/runsc
table() {
    local f=$1 scale=$2 unit=$3 k l med min max n hdr sep row
    shift 3
    hdr="| |" sep="|---|"
    for l in "${sel[@]}"; do hdr+=" $l $unit |" sep+="---|"; done
    on native && on interpose && hdr+=" interpose/native |" sep+="---|"
    on native && on runsc && hdr+=" runsc/native |" sep+="---|"
    on interpose && on runsc && hdr+=" interpose/runsc |" sep+="---|"
    printf '%s\n%s\n' "$hdr" "$sep"
    for k in "$@"; do
        row="| $k |"
        for l in "${sel[@]}"; do
            read -r med min max n < <(stats "$f" "$l" "$k" "$scale")
            row+=" $med ($min-$max, n=$n) |"
        done
        on native && on interpose && row+=" $(ratio "$f" "$k" interpose native) |"
        on native && on runsc && row+=" $(ratio "$f" "$k" runsc native) |"
        on interpose && on runsc && row+=" $(ratio "$f" "$k" interpose runsc) |"
        echo "$row"
    done
    echo
}
report() {
    local l
    echo "## interpose benchmark ($(date -u '+%Y-%m-%d %H:%M UTC'))"
    echo
    echo "- kernel $(uname -r), $(nproc) CPUs, $(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
    echo "- load average before: $load_before, after: $load_after; benchmark took $((SECONDS - t_start)) s"
    echo "- git commit: $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$repo" diff --quiet HEAD -- src include bench 2>/dev/null || echo ' (+ uncommitted changes)')"
    echo "- capsa: $("$CAPSA" --version 2>&1 | head -2 | paste -sd' ')"
    on runsc && echo "- runsc: $(runsc --version 2>&1 | head -1) (${RT[runsc]#* })"
    echo "- reps: $reps after 1 warm-up, levels rotated per rep; microbenchmark: ${budget} ms per op per container; tar: $nfiles files"
    [ -z "$state_note" ] || echo "- $state_note"
    for k in "${!FAILS[@]}"; do echo "- FAILED samples: $k x${FAILS[$k]} (not counted)"; done
    echo
    if has micro && [ -s "$work/res.micro" ]; then
        echo '### System calls inside the container (bench/ipmicro.c, ns per operation; ratios: medians of per-rep pairs)'
        echo
        table "$work/res.micro" 1 ns "${OPS[@]}"
    fi
    if has tar && [ -s "$work/res.tar" ]; then
        echo "### \`tar -x\` of $nfiles files (busybox tar, ustar archive in the rootfs) and \`rm -rf\` of the tree (ms)"
        echo
        table "$work/res.tar" 1000000 ms tar rmtree
    fi
    if has run && [ -s "$work/res.run" ]; then
        echo "### \`run\` of /bin/true (ms, bench/driver: fork to wait4, and user+sys of the tree)"
        echo
        table "$work/res.run" 1000000 ms wall cpu
        on native && on interpose && echo "interpose - native (median of per-rep differences): wall $(ratio "$work/res.run" wall interpose native 1000000) ms, cpu $(ratio "$work/res.run" cpu interpose native 1000000) ms"
        on native && on runsc && echo "runsc - native: wall $(ratio "$work/res.run" wall runsc native 1000000) ms"
        echo
    fi
    if has rss && [ ${#RSS[@]} -gt 0 ]; then
        echo "### Memory the level adds to a running \`sleep\` container (KiB, /proc/PID/status and smaps_rollup)"
        echo
        echo '| level | when | processes | VmRSS | Rss | Pss | Pss_Anon | Pss_File | Private_Dirty |'
        echo '|---|---|---|---|---|---|---|---|---|'
        for l in interpose runsc; do
            for w in idle busy; do
                [ -n "${RSS[$l:$w]:-}" ] || continue
                read -r vr r p pa pf pd np <<<"${RSS[$l:$w]}"
                echo "| $l | $w | $np | $vr | $r | $p | $pa | $pf | $pd |"
            done
        done
        echo
        echo "(interpose: the capsa-interpose supervisor; runsc: runsc-sandbox (the Sentry) and runsc-gofer, not the ptrace platform's stub processes, which hold the workload's own memory. busy: after an exec of ipmicro's loops.)"
        echo
    fi
    echo "Ratios are medians of per-rep pair ratios (samples of the same rep); on a shared VM quote"
    echo "ratios, not absolute times, and never use these numbers as test thresholds."
}
if [ -n "$outfile" ]; then
    report | tee "$outfile"
else
    report
fi
