#!/bin/bash
# bench/run.sh - capsa's benchmark: interleaved timings of capsa, crun, runc and a "floor"
# (bench/floor.c) over the scenarios run, lifecycle, seq100, exec, rss, plus static facts and
# single-stepped instruction counts (bench/icount.c); prints Markdown (see bench/README.md).
# Run as root.
#
# usage: bench/run.sh [--reps N] [--quick] [--only SCEN[,SCEN..]] [--runtimes RT[,RT..]] [--out FILE]
#                     [--no-build] [--icount-runc]
#   --reps N     counted reps per scenario (default 20; seq100: 3), after 2 warm-up reps (seq100: 1)
#   --quick      CI smoke run: 3 reps, seq100 = 1 rep of 20 containers, no instructions
#   --no-build   use the existing build/capsa (when the tree does not build right now)
#   --icount-runc also single-step runc in `instructions` (Go, many threads: many minutes)
#   scenarios: run lifecycle seq100 exec rss static instructions   (default: all)
#   runtimes:  capsa crun runc floor                                (default: all installed)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bdir=$repo/build/bench
ALL_SCENARIOS="run lifecycle seq100 exec rss static instructions unikernel"

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
}
die() {
    echo "run.sh: $*" >&2
    exit 1
}
note() { echo "note: $*" >&2; }

reps=20 seqreps=3 seqcount=100 quick=0 only=$ALL_SCENARIOS runtimes="capsa crun runc floor" outfile=
reps_set=0 build=1 icount_runc=0
while [ $# -gt 0 ]; do
    case $1 in
    --reps) [ $# -ge 2 ] || usage; reps=$2; reps_set=1; shift 2 ;;
    --quick) quick=1; shift ;;
    --no-build) build=0; shift ;;
    --icount-runc) icount_runc=1; shift ;;
    --only) [ $# -ge 2 ] || usage; only=${2//,/ }; shift 2 ;;
    --runtimes) [ $# -ge 2 ] || usage; runtimes=${2//,/ }; shift 2 ;;
    --out) [ $# -ge 2 ] || usage; outfile=$2; shift 2 ;;
    -h | --help) usage ;;
    *) echo "run.sh: unknown option $1" >&2; usage ;;
    esac
done
[[ $reps =~ ^[1-9][0-9]*$ ]] || die "--reps: not a positive number: $reps"
if [ $quick = 1 ]; then
    [ $reps_set = 1 ] || reps=3
    seqreps=1 seqcount=20
    only=$(for s in $only; do [ "$s" = instructions ] || echo "$s"; done | xargs)
fi
for s in $only; do
    [[ " $ALL_SCENARIOS " == *" $s "* ]] || die "--only: unknown scenario $s (known: $ALL_SCENARIOS)"
done
for r in $runtimes; do
    case $r in capsa | crun | runc | floor) ;; *) die "--runtimes: unknown runtime $r" ;; esac
done
[ "$(id -u)" = 0 ] || die "must run as root"
for t in jq gcc unshare mount umount make; do
    command -v "$t" >/dev/null || die "missing tool: $t"
done
if [ -n "$outfile" ]; then
    case $outfile in /*) ;; *) outfile=$PWD/$outfile ;; esac
fi

# Step 3 first: re-exec in a private mount namespace, so the cgroup2 unmount stays invisible to
# the host.
if [ "${CAPSA_BENCH_IN_NS:-}" != 1 ]; then
    args=(--reps "$reps" --only "${only// /,}" --runtimes "${runtimes// /,}")
    [ $quick = 1 ] && args+=(--quick)
    [ $build = 1 ] || args+=(--no-build)
    [ $icount_runc = 0 ] || args+=(--icount-runc)
    [ -n "$outfile" ] && args+=(--out "$outfile")
    CAPSA_BENCH_IN_NS=1 exec unshare -m --propagation private "$0" "${args[@]}"
fi
ns_note=
ctrls=
# (cgroupfs files report size 0, so read the file rather than test -s)
if [ "$(stat -f -c %T /sys/fs/cgroup/unified 2>/dev/null || true)" = cgroup2fs ]; then
    ctrls=$(cat /sys/fs/cgroup/unified/cgroup.controllers)
fi
if [ -n "$ctrls" ]; then
    umount /sys/fs/cgroup/unified || die "could not unmount /sys/fs/cgroup/unified"
    ns_note="/sys/fs/cgroup/unified (cgroup2, controllers: $ctrls) unmounted in the benchmark's private mount namespace (crun 1.8 refuses hybrid mode with v2 controllers)"
    note "$ns_note"
fi

work=$(mktemp -d /tmp/capsa-bench.XXXXXX)
# The runtimes' state roots on /run (tmpfs), where engines keep them (containerd, podman, CRI-O
# use /run/...): on a disk file system every state file is an inode allocation.
states=$(mktemp -d /run/capsa-bench.XXXXXX)
states_mounted=0
declare -A RT_BIN=() RT_PATH=()
cleanup() {
    local rc=$? r id
    set +e
    for r in "${!RT_BIN[@]}"; do
        if [ "$r" = floor ] || [ ! -d "$states/$r" ]; then continue; fi
        for id in $("${RT_BIN[$r]}" --root "$states/$r" list -q 2>/dev/null); do
            "${RT_BIN[$r]}" --root "$states/$r" delete --force "$id" >/dev/null 2>&1 ||
                echo "run.sh: could not delete $r container $id" >&2
        done
    done
    [ "$states_mounted" = 0 ] || umount "$states"
    rm -rf "$work" "$states"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# Where /run is not a tmpfs (some VMs without an init that mounts one keep it on the root disk),
# state files would cost every runtime journal writes and, on unlink, waits for the disk: give
# the state roots a tmpfs of their own, in our private mount namespace, as /run would be.
state_note=
if [ "$(stat -f -c %T "$states")" != tmpfs ]; then
    mount -t tmpfs -o mode=0700,size=64m capsa-bench-states "$states" ||
        die "could not mount a tmpfs on $states"
    states_mounted=1
    state_note="/run is $(stat -f -c %T /run) here: the runtimes' state roots are on a tmpfs mounted for the benchmark (in its private mount namespace)"
    note "$state_note"
fi

# 1. Build.
echo "building capsa, bench/driver, bench/floor, bench/icount ..." >&2
if [ $build = 1 ]; then
    make -C "$repo" -j2 build/capsa >"$work/make.log" 2>&1 || {
        grep -E 'error|Error' "$work/make.log" | tail -n 10 >&2
        die "make build/capsa failed (errors above; --no-build uses the existing binary)"
    }
fi
mkdir -p "$bdir"
for p in driver floor icount; do
    gcc -std=gnu11 -D_GNU_SOURCE -O2 -static -Wall -Wextra -Werror -o "$bdir/$p" "$repo/bench/$p.c" ||
        die "building bench/$p.c failed"
done
DRIVER=$bdir/driver

# 4. Runtimes.
sel=()
for r in $runtimes; do
    case $r in
    capsa) bin=$repo/build/capsa ;;
    crun) bin=/usr/bin/crun ;;
    runc) bin=/usr/sbin/runc ;;
    floor) bin=$bdir/floor ;;
    esac
    if [ ! -x "$bin" ]; then
        note "$r not installed ($bin): skipped"
        continue
    fi
    RT_PATH[$r]=$(readlink -f "$bin")
    if [ "$r" = capsa ]; then
        # a private copy: other people's builds may replace build/capsa during the run
        mkdir -p "$work/bin"
        cp "$bin" "$work/bin/capsa"
        bin=$work/bin/capsa
    fi
    RT_BIN[$r]=$bin
    sel+=("$r")
    [ "$r" = floor ] || mkdir -p "$states/$r"
done
[ ${#sel[@]} -gt 0 ] || die "no runtime to measure"

# 2. Bundles: one rootfs, one config per variant, the same configs for every runtime.
rootfs=$work/rootfs
"$repo/scripts/mkrootfs.sh" "$rootfs" >/dev/null
mkdir -p "$work/spec"
(cd "$work/spec" && "$repo/build/capsa" spec) || die "capsa spec failed"
base=$work/spec/config.json
mkbundle() { # NAME ARGS_JSON [EXTRA_JQ]
    mkdir -p "$work/b-$1"
    jq --arg root "$rootfs" --argjson args "$2" \
        ".ociVersion = \"1.0.2-dev\" | .process.terminal = false | .process.args = \$args | .root.path = \$root ${3:-}" \
        "$base" >"$work/b-$1/config.json" || die "jq failed for bundle $1"
}
mkbundle true '["/bin/true"]'
mkbundle sleep '["/bin/sleep","100000"]'
# unikernel: the hello example at the unikernel level against a static hello binary at the native
# level, both through capsa (issue 8's target: no slower).
uk_ok=0
if [[ " $only " == *" unikernel "* ]] && [ -n "${RT_BIN[capsa]:-}" ]; then
    if make -C "$repo" -s unikernels >&2 && [ -f "$repo/build/uk/hello.spt" ] &&
        printf '#include <unistd.h>\nint main(void){static const char m[]="Hello from a static binary\\n";return write(1,m,sizeof m-1)<0;}\n' >"$work/shello.c" &&
        gcc -O2 -static -o "$rootfs/shello" "$work/shello.c"; then
        cp "$repo/build/uk/hello.spt" "$rootfs/hello.spt"
        mkbundle nathello '["/shello"]'
        mkbundle ukhello '["/hello.spt"]'
        jq '.annotations = {"capsa.isolation": "unikernel"}' "$work/b-ukhello/config.json" \
            >"$work/uk.json" && mv "$work/uk.json" "$work/b-ukhello/config.json"
        RT_BIN[uk]=${RT_BIN[capsa]} RT_BIN[native]=${RT_BIN[capsa]}
        mkdir -p "$states/uk" "$states/native"
        uk_ok=1
    else
        note "unikernel: could not build the hello images; scenario skipped"
    fi
fi

# Container IDs: unique per invocation of this script.
prefix=cb$$x$RANDOM
seqno=0
# sample SCEN RT REP: one driver call; appends "REP RT wall_ns cpu_ns rss_kib" to $work/res.SCEN.
sample() {
    local scen=$1 r=$2 rep=$3 bin=${RT_BIN[$2]} st=$states/$2 id res=$work/one
    local count=1 steps=
    seqno=$((seqno + 1))
    id=$prefix-$scen-$r-$seqno
    rm -f "$res"
    case $scen:$r in
    run:floor) set -- -- "$bin" "$rootfs" /bin/true ;;
    run:*) set -- -- "$bin" --root "$st" run --bundle "$work/b-true" "$id" ;;
    seq100:floor) count=$seqcount; set -- -- "$bin" "$rootfs" /bin/true ;;
    seq100:*) count=$seqcount; set -- -- "$bin" --root "$st" run --bundle "$work/b-true" "$id-{i}" ;;
    lifecycle:*)
        steps=$work/steps.$r
        {
            printf 'run\t%s\t--root\t%s\tcreate\t--bundle\t%s\t%s\n' "$bin" "$st" "$work/b-true" "$id"
            printf 'run\t%s\t--root\t%s\tstart\t%s\n' "$bin" "$st" "$id"
            printf 'until\t"stopped"\t%s\t--root\t%s\tstate\t%s\n' "$bin" "$st" "$id"
            printf 'run\t%s\t--root\t%s\tdelete\t%s\n' "$bin" "$st" "$id"
        } >"$steps"
        set -- "$steps"
        ;;
    exec:*) set -- -- "$bin" --root "$st" exec "${EXEC_ID[$r]}" /bin/true ;;
    unikernel:uk) set -- -- "$bin" --root "$st" run --bundle "$work/b-ukhello" "$id" ;;
    unikernel:native) set -- -- "$bin" --root "$st" run --bundle "$work/b-nathello" "$id" ;;
    *) die "internal: scenario $scen for $r" ;;
    esac
    [ "$rep" != warm ] || [ "$scen" != seq100 ] || count=$(((count + 9) / 10))
    local ok=0
    "$DRIVER" -o "$res" -k "$count" "$@" </dev/null >"$work/last.log" 2>&1 || ok=$?
    cat "$work/last.log" >>"$work/log.$r"
    if [ $ok = 0 ]; then
        [ "$rep" = warm ] || echo "$rep $r $(cat "$res")" >>"$work/res.$scen"
        return 0
    fi
    FAILS[$scen:$r]=$((${FAILS[$scen:$r]:-0} + 1))
    echo "run.sh: $scen: $r failed (rep $rep):" >&2
    tail -n 4 "$work/last.log" | sed 's/^/    /' >&2
    # a failed run/lifecycle may leave its container behind
    [ "$r" = floor ] || "$bin" --root "$st" delete --force "$id" >/dev/null 2>&1 || true
    return 1
}

declare -A FAILS=() EXEC_ID=()
# scenario SCEN NREPS RUNTIMES...: warm-up reps then NREPS counted reps, interleaved and rotated.
scenario() {
    local scen=$1 nreps=$2 warm=2 i k n r
    shift 2
    local rts=("$@")
    n=${#rts[@]}
    [ "$n" -gt 0 ] || return 0
    [ "$scen" != seq100 ] || warm=1
    : >"$work/res.$scen"
    echo "scenario $scen: ${rts[*]}, $warm warm-up + $nreps reps ..." >&2
    for ((i = -warm; i < nreps; i++)); do
        for ((k = 0; k < n; k++)); do
            r=${rts[$(((i + warm + k) % n))]}
            if ((i < 0)); then
                sample "$scen" "$r" warm || true
            else
                sample "$scen" "$r" "$i" || true
            fi
        done
    done
}

has() { [[ " $only " == *" $1 "* ]]; }
with_floor=() no_floor=()
for r in "${sel[@]}"; do
    with_floor+=("$r")
    [ "$r" = floor ] || no_floor+=("$r")
done

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
t_start=$SECONDS
if has run || has rss; then scenario run "$reps" "${with_floor[@]}"; fi
has lifecycle && scenario lifecycle "$reps" "${no_floor[@]}"
has seq100 && scenario seq100 "$seqreps" "${with_floor[@]}"
if has exec && [ ${#no_floor[@]} -gt 0 ]; then
    ex_rts=()
    for r in "${no_floor[@]}"; do
        id=$prefix-sleep-$r
        if "${RT_BIN[$r]}" --root "$states/$r" create --bundle "$work/b-sleep" "$id" </dev/null >"$work/last.log" 2>&1 &&
            "${RT_BIN[$r]}" --root "$states/$r" start "$id" </dev/null >>"$work/last.log" 2>&1; then
            EXEC_ID[$r]=$id
            ex_rts+=("$r")
        else
            echo "run.sh: exec: could not start the sleep container for $r; skipped:" >&2
            tail -n 4 "$work/last.log" | sed 's/^/    /' >&2
        fi
    done
    scenario exec "$reps" "${ex_rts[@]}"
    for r in "${ex_rts[@]}"; do
        "${RT_BIN[$r]}" --root "$states/$r" delete --force "${EXEC_ID[$r]}" >/dev/null 2>&1 || true
    done
fi

[ "$uk_ok" = 1 ] && scenario unikernel "$reps" uk native

# instructions: one `run` per runtime under bench/icount, which single-steps every process and
# thread of the runtime and detaches the workload (the rootfs's /bin/true, i.e. busybox) at its
# execve; after one untimed warm-up `run` (page cache, dentries).
declare -A INSTR=()
if has instructions; then
    for r in "${sel[@]}"; do
        case $r in
        floor) continue ;;
        runc)
            if [ $icount_runc = 0 ]; then
                INSTR[$r]="n/a (too slow to single-step: Go, many threads; --icount-runc)"
                continue
            fi
            ;;
        esac
        bin=${RT_BIN[$r]} st=$states/$r
        "$bin" --root "$st" run --bundle "$work/b-true" "$prefix-icw-$r" </dev/null >"$work/last.log" 2>&1 ||
            note "instructions: warm-up run of $r failed: $(tail -n 1 "$work/last.log")"
        echo "instructions: single-stepping one $r run (~20 us per step: a minute or more) ..." >&2
        t0=$SECONDS
        if "$bdir/icount" -w "$rootfs/bin/true" -o "$work/ic.$r" -- \
            "$bin" --root "$st" run --bundle "$work/b-true" "$prefix-ic-$r" </dev/null >"$work/last.log" 2>&1 &&
            last=$(tail -n 1 "$work/ic.$r") && [[ $last =~ ^icount\ total\ ([0-9]+)\ processes\ ([0-9]+)\ threads\ ([0-9]+)$ ]]; then
            INSTR[$r]="${BASH_REMATCH[1]} ${BASH_REMATCH[2]} ${BASH_REMATCH[3]} $((SECONDS - t0))"
            sed 's/^/    /' "$work/ic.$r" >&2
        else
            echo "run.sh: instructions: $r failed under icount:" >&2
            cat "$work/ic.$r" "$work/last.log" 2>/dev/null | tail -n 8 | sed 's/^/    /' >&2
            INSTR[$r]="n/a (failed under icount: $(tail -n 1 "$work/last.log" | tr -d '|'))"
            "$bin" --root "$st" delete --force "$prefix-ic-$r" >/dev/null 2>&1 || true
        fi
    done
fi
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# 5. Report.
# stats COLUMN SCALE FILE RT: "median min max n" of a column of RT's rows, divided by SCALE.
stats() {
    awk -v c="$1" -v s="$2" -v rt="$4" '$2 == rt { print $c / s }' "$3" | sort -g |
        awk '{ v[NR] = $1 } END {
            if (NR == 0) { print "- - - 0"; exit }
            m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
            printf "%.2f %.2f %.2f %d\n", m, v[1], v[NR], NR }'
}
# ratios COLUMN FILE A B: "median n" of per-rep ratios A/B of a column.
ratios() {
    awk -v c="$1" -v a="$3" -v b="$4" '
        $2 == a { va[$1] = $c } $2 == b { vb[$1] = $c }
        END { for (k in va) if ((k in vb) && vb[k] > 0) print va[k] / vb[k] }' "$2" | sort -g |
        awk '{ v[NR] = $1 } END {
            if (NR == 0) { print "- 0"; exit }
            m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
            printf "%.3f %d\n", m, NR }'
}
ver() { # RT
    case $1 in
    capsa) "${RT_BIN[capsa]}" --version 2>&1 | head -2 | paste -sd" " ;;
    crun | runc) "${RT_BIN[$1]}" --version 2>&1 | head -1 ;;
    floor) echo "bench/floor.c (static)" ;;
    esac
}
time_table() { # SCEN TITLE UNIT_DIV UNIT
    local f=$work/res.$1 r other
    [ -s "$f" ] || { printf '### %s\n\nno samples\n\n' "$2"; return 0; }
    printf '### %s\n\n' "$2"
    printf '| runtime | median %s | min | max | n | cpu median %s |\n|---|---|---|---|---|---|\n' "$4" "$4"
    for r in "${sel[@]}"; do
        grep -q " $r " "$f" || continue
        read -r med min max n < <(stats 3 "$3" "$f" "$r")
        read -r cmed _ < <(stats 4 "$3" "$f" "$r")
        printf '| %s | %s | %s | %s | %s | %s |\n' "$r" "$med" "$min" "$max" "$n" "$cmed"
    done
    local hdr=0
    if grep -q " capsa " "$f"; then
        for other in crun runc floor; do
            grep -q " $other " "$f" || continue
            [ $hdr = 1 ] || printf '\n| median of pair ratios | wall | cpu | pairs |\n|---|---|---|---|\n'
            hdr=1
            read -r rw n < <(ratios 3 "$f" capsa "$other")
            read -r rc _ < <(ratios 4 "$f" capsa "$other")
            printf '| capsa/%s | %s | %s | %s |\n' "$other" "$rw" "$rc" "$n"
        done
    fi
    printf '\n'
}
# shellcheck disable=SC2016 # the backquotes in titles are Markdown, not command substitution
report() {
    local r bin real libs n
    echo "## capsa benchmark ($(date -u '+%Y-%m-%d %H:%M UTC'))"
    echo
    echo "- kernel $(uname -r), $(nproc) CPUs, $(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
    echo "- load average before: $load_before, after: $load_after; benchmark took $((SECONDS - t_start)) s"
    echo "- git commit: $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$repo" diff --quiet HEAD -- src include 2>/dev/null || echo ' (+ uncommitted changes in src/ or include/)')"
    for r in "${sel[@]}"; do echo "- $r: $(ver "$r")"; done
    echo "- reps: $reps (seq100: $seqreps of $seqcount containers), warm-up reps first; order rotated per rep$([ $quick = 1 ] && echo '; --quick')"
    [ -z "$ns_note" ] || echo "- $ns_note"
    [ -z "$state_note" ] || echo "- $state_note"
    for k in "${!FAILS[@]}"; do echo "- FAILED samples: $k x${FAILS[$k]} (not counted)"; done
    echo
    has run && time_table run '`run` /bin/true (wall ms)' 1000000 ms
    has lifecycle && time_table lifecycle '`lifecycle`: create + start + state until stopped + delete (ms)' 1000000 ms
    has seq100 && time_table seq100 "\`seq100\`: $seqcount sequential \`run\`s in one sample (s)" 1000000000 s
    has exec && time_table exec '`exec` /bin/true into a running container (ms)' 1000000 ms
    if has rss && [ -s "$work/res.run" ]; then
        printf '### `rss`: peak RSS of `run` (KiB, ru_maxrss of the runtime and its waited-for descendants)\n\n'
        printf '| runtime | median KiB | min | max | n |\n|---|---|---|---|---|\n'
        for r in "${sel[@]}"; do
            grep -q " $r " "$work/res.run" || continue
            read -r med min max n < <(stats 5 1 "$work/res.run" "$r")
            printf '| %s | %.0f | %.0f | %.0f | %s |\n' "$r" "$med" "$min" "$max" "$n"
        done
        printf '\n'
    fi
    if has static; then
        printf '### static facts\n\n| runtime | binary | size (bytes) | shared libraries |\n|---|---|---|---|\n'
        for r in "${sel[@]}"; do
            real=${RT_PATH[$r]}
            if LC_ALL=C ldd "${RT_BIN[$r]}" >"$work/ldd" 2>&1 &&
                ! grep -qE 'statically linked|not a dynamic' "$work/ldd"; then
                libs=$(awk '$1 !~ /^linux-vdso/ { sub(".*/", "", $1); print $1 }' "$work/ldd" | sort)
                n=$(echo "$libs" | grep -c . || true)
                libs="$n: $(echo "$libs" | xargs | sed 's/ /, /g')"
            else
                libs=static
            fi
            printf '| %s | %s | %s | %s |\n' "$r" "$real" "$(stat -c %s "${RT_BIN[$r]}")" "$libs"
        done
        printf '\n'
    fi
    if has instructions && [ ${#INSTR[@]} -gt 0 ]; then
        printf '### `instructions`: user-space instructions of one `run` (bench/icount: single steps of all runtime processes and threads, workload excluded)\n\n'
        printf '| runtime | instructions | processes | threads | seconds traced |\n|---|---|---|---|---|\n'
        for r in "${sel[@]}"; do
            [ -n "${INSTR[$r]:-}" ] || continue
            if [[ ${INSTR[$r]} == n/a* ]]; then
                printf '| %s | %s | | | |\n' "$r" "${INSTR[$r]}"
            else
                read -r n p th secs <<<"${INSTR[$r]}"
                printf '| %s | %s | %s | %s | %s |\n' "$r" "$n" "$p" "$th" "$secs"
            fi
        done
        for other in crun runc; do
            [[ ${INSTR[capsa]:-n/a} != n/a* && ${INSTR[$other]:-n/a} != n/a* ]] || continue
            printf '\ncapsa/%s instructions: %s\n' "$other" \
                "$(awk -v a="${INSTR[capsa]%% *}" -v b="${INSTR[$other]%% *}" 'BEGIN { printf "%.3f", a / b }')"
        done
        printf '\n'
    fi
    if has unikernel && [ -s "$work/res.unikernel" ]; then
        printf '### `unikernel`: `capsa run` of the hello unikernel vs a static hello binary at the native level (ms)\n\n'
        printf '| level | median ms | min | max | n | cpu median ms |\n|---|---|---|---|---|---|\n'
        for r in uk native; do
            read -r med min max n < <(stats 3 1000000 "$work/res.unikernel" "$r")
            read -r cmed _ < <(stats 4 1000000 "$work/res.unikernel" "$r")
            printf '| %s | %s | %s | %s | %s | %s |\n' "$r" "$med" "$min" "$max" "$n" "$cmed"
        done
        read -r rw n < <(ratios 3 "$work/res.unikernel" uk native)
        read -r rc _ < <(ratios 4 "$work/res.unikernel" uk native)
        printf '\n| median of pair ratios | wall | cpu | pairs |\n|---|---|---|---|\n| unikernel/native | %s | %s | %s |\n\n' "$rw" "$rc" "$n"
    fi
    echo "Ratios are medians of per-rep pair ratios (samples of the same rep); on a shared VM quote"
    echo "ratios, not absolute times, and never use these numbers as test thresholds."
}
if [ -n "$outfile" ]; then
    report | tee "$outfile"
else
    report
fi
