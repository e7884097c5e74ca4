#!/bin/sh
# ip-vfile.sh - guest script for tests/v2vm/run.sh: the interpose level's served /proc files on a
# pure cgroup v2 host. Runs the unit test binary given with --bin (its test_vsrc_real_v2 needs a
# pure v2 hierarchy, which this project's hybrid machines lack) and prints TAP:
#   make build/tests/test_ip_vfile
#   tests/v2vm/run.sh --bin build/tests/test_ip_vfile tests/v2vm/ip-vfile.sh
n=0
failed=0
check() { # check DESCRIPTION COMMAND...
    d=$1
    shift
    n=$((n + 1))
    if "$@"; then echo "ok $n - $d"; else
        failed=$((failed + 1))
        echo "not ok $n - $d"
    fi
}

out=/tmp/test_ip_vfile.out
test_ip_vfile >$out 2>&1
rc=$?
sed 's/^/# /' $out
check "test_ip_vfile passes (status $rc)" [ "$rc" -eq 0 ]
check "test_vsrc_real_v2 ran (not skipped)" grep -q '^\[       OK \] test_vsrc_real_v2$' $out
check "no cgroup left behind" sh -c '! ls -d /sys/fs/cgroup/capsa-vfile-test-* 2>/dev/null'

echo "1..$n"
[ "$failed" -eq 0 ]
