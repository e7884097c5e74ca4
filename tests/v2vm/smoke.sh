#!/bin/sh
# smoke.sh - guest script for tests/v2vm/run.sh: is this really a pure cgroup v2 host?
# Prints TAP; exits non-zero when a check fails.
# shellcheck disable=SC2016 # single-quoted $ belongs to the sh -c and awk programs
n=0
failed=0
ok() {
    n=$((n + 1))
    echo "ok $n - $1"
}
not_ok() {
    n=$((n + 1))
    failed=$((failed + 1))
    echo "not ok $n - $1"
}
check() { # check DESCRIPTION COMMAND...
    d=$1
    shift
    if "$@"; then ok "$d"; else not_ok "$d"; fi
}

cg=/sys/fs/cgroup
fstype=$(awk '$2 == "/sys/fs/cgroup" { print $3 }' /proc/mounts | tail -n1)
check "/sys/fs/cgroup is a cgroup2 mount (got '$fstype')" [ "$fstype" = cgroup2 ]
check "no cgroup v1 hierarchy is mounted" sh -c '! awk "\$3 == \"cgroup\"" /proc/mounts | grep -q .'
check "no v1 hierarchy is registered in /proc/cgroups" \
    sh -c 'awk "NR > 1 && \$2 != 0" /proc/cgroups | grep -q . && exit 1 || exit 0'
check "/proc/self/cgroup has the single v2 line 0::/" sh -c '[ "$(cat /proc/self/cgroup)" = "0::/" ]'

has_word() { # has_word FILE WORD
    tr ' ' '\n' <"$1" | grep -qx "$2"
}
for c in memory cpu pids io cpuset hugetlb; do
    check "controller $c is in cgroup.controllers" has_word $cg/cgroup.controllers $c
    check "controller $c is enabled in cgroup.subtree_control" has_word $cg/cgroup.subtree_control $c
done

child=$cg/v2vm-smoke
check "creating a child cgroup" mkdir $child
check "the child has memory.max" [ -f $child/memory.max ]
check "writing memory.max" sh -c "echo 33554432 >$child/memory.max"
check "memory.max reads back 33554432" [ "$(cat $child/memory.max 2>/dev/null)" = 33554432 ]
check "writing pids.max" sh -c "echo 7 >$child/pids.max && [ \"\$(cat $child/pids.max)\" = 7 ]"
check "writing cpu.max" sh -c "echo '50000 100000' >$child/cpu.max && [ \"\$(cat $child/cpu.max)\" = '50000 100000' ]"
check "the child has cgroup.freeze and cgroup.kill" test -f $child/cgroup.freeze -a -f $child/cgroup.kill
check "the child has io.weight" [ -f $child/io.weight ]
check "the child has memory.swap.max" [ -f $child/memory.swap.max ]

# A process moved into the child is charged there and the limit is enforced: 16 MiB, no swap.
echo 16777216 >$child/memory.max
echo 0 >$child/memory.swap.max 2>/dev/null
sh -c "echo \$\$ >$child/cgroup.procs && exec sh -c 'x=\$(yes | head -c 40000000); exit 0'"
rc=$?
check "a 40 MB allocation under memory.max=16M is killed (status $rc)" [ "$rc" -ne 0 ]
kills=$(sed -n 's/^oom_kill //p' $child/memory.events)
check "memory.events counts the OOM kill (oom_kill ${kills:-?})" [ "${kills:-0}" -gt 0 ]
# The pipeline's yes and head outlive the killed shell until SIGPIPE reaches them: poll.
t=50
while [ -n "$(cat $child/cgroup.procs)" ] && [ $t -gt 0 ]; do
    sleep 0.2
    t=$((t - 1))
done
check "the child is empty again" [ -z "$(cat $child/cgroup.procs)" ]
check "removing the child cgroup" rmdir $child

echo "1..$n"
[ "$failed" -eq 0 ]
