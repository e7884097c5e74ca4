#!/usr/bin/env bats
# interpose_compat.bats - brokered calls at the interpose level answer as the kernel does at the
# native level: each test runs the same commands at both levels and compares what the container
# printed (busybox's messages carry the errno), and checks the files from the host. The cases come
# from what bench/interpose.sh and tests/compat/cpython.sh found (docs/interpose.md,
# "Compatibility, measured"). capsa-specific.

load helpers

setup() {
    setup_common
    requires_capsa
    setup_bundle
    update_config '.root.readonly = false'
}

teardown() {
    teardown_common
}

# at_level LEVEL NAME: run the bundle at LEVEL to completion; its output (stdout and stderr) in
# $output, its exit status in $status.
at_level() {
    update_config ".annotations = {\"capsa.isolation\": \"$1\"}"
    status=0
    output=$(capsa run --bundle "$BUNDLE" "$2" 2>&1) || status=$?
}

@test "interpose: entry calls on a last component . or .. answer as at the native level" {
    # mkdir, rmdir, unlink, link, mknod with "d/.", "d/..", "/." as the name they make or remove:
    # the kernel refuses each (EEXIST, EINVAL, ENOTEMPTY, EISDIR); the interpose level said EINVAL
    # to all of them ("X/." is not a canonical path for the policy).
    update_config '.process.args = ["/bin/sh", "-c", "cd /tmp && mkdir -p d/e && for p in d/. d/.. /. d/e/..; do mkdir $p; rmdir $p; unlink $p; link d/e $p; mknod $p p; echo \"$p done\"; done 2>&1; ls -a /tmp/d"]'
    at_level native n1
    [ "$status" -eq 0 ]
    native=$output
    [[ $native == *"File exists"* ]] || fail_now "unexpected native output: $native"
    rm -rf "$ROOTFS/tmp/d"
    at_level interpose i1
    [ "$status" -eq 0 ]
    [ "$output" = "$native" ]
    # nothing was made or removed
    [ "$(ls -A "$ROOTFS/tmp/d")" = e ]
    [ "$(ls -A "$ROOTFS/tmp/d/e")" = "" ]
}

@test "interpose: busybox tar extracts an archive whose first entry is ./" {
    mkdir -p "$BATS_TEST_TMPDIR/src/sub"
    echo one >"$BATS_TEST_TMPDIR/src/a"
    echo two >"$BATS_TEST_TMPDIR/src/sub/b"
    tar --format=ustar -C "$BATS_TEST_TMPDIR/src" -cf "$ROOTFS/x.tar" .
    tar -tf "$ROOTFS/x.tar" | grep -qx './' || fail_now "the archive has no ./ entry"
    out=$(add_host_dir /out)
    update_config '.process.args = ["/bin/tar", "-xf", "/x.tar", "-C", "/out"]'
    at_level interpose t1
    echo "$output"
    [ "$status" -eq 0 ]
    [ "$(cat "$out/a")" = one ]
    [ "$(cat "$out/sub/b")" = two ]
}

@test "interpose: a path with a trailing slash is created, refused or removed as at the native level" {
    # A trailing "/" asks for a directory: mkdir and rmdir act on "d2/", creating anything else
    # there is ENOENT (EISDIR for open with O_CREAT, the shell's >), unlink of a file ENOTDIR.
    # The interpose level dropped the slash and created the file "missing" for `> missing/`
    # (CPython's shutil.copyfile to a directory that does not exist).
    update_config '.process.args = ["/bin/sh", "-c", "cd /tmp && mkdir d && touch f && for p in missing/ f/ d/ d2/; do mknod $p p; link f $p; unlink $p; mkdir $p; rmdir $p; echo > $p; echo \"$p done\"; done 2>&1; ls -A /tmp"]'
    at_level native n1
    [ "$status" -eq 0 ]
    native=$output
    [[ $native == *"Is a directory"* ]] || fail_now "unexpected native output: $native"
    rm -rf "$ROOTFS/tmp/d" "$ROOTFS/tmp/f"
    at_level interpose i1
    [ "$status" -eq 0 ]
    [ "$output" = "$native" ]
    # "d/" was empty, so rmdir removed it; nothing named "missing" or "d2" is left
    [ "$(ls -A "$ROOTFS/tmp")" = f ]
}

@test "interpose: O_PATH opens of a directory and a file work; of a symlink EOPNOTSUPP, glibc's answer for chmod of one" {
    # The kernel cannot install an O_PATH file in another process (seccomp's ADDFD refuses
    # them): the interpose level said EMFILE to every O_PATH open, so chmod(follow_symlinks=False)
    # of CPython (glibc's fchmodat with AT_SYMLINK_NOFOLLOW opens O_PATH) failed even on a file.
    [ -x "$ROOTFS/bin/ipfile" ] || fail_now "no ipfile in the test rootfs (make helpers)"
    update_config '.process.args = ["/bin/sh", "-c", "mkdir -p /tmp/o && /bin/ipfile /tmp/o | grep -v ^fstat-"]'
    at_level native n1
    [ "$status" -eq 0 ]
    native=$output
    at_level interpose i1
    [ "$status" -eq 0 ]
    echo "native: $native"
    echo "interpose: $output"
    # Natively every case works but chmod of the symlink (glibc: EOPNOTSUPP).
    [ "$(grep -c ' ok' <<<"$native")" -eq 4 ]
    grep -qx 'chmod-nofollow-l EOPNOTSUPP' <<<"$native"
    # The same at the interpose level, but for the O_PATH open of the symlink itself.
    [ "$(grep -v '^opath-symlink ' <<<"$output")" = "$(grep -v '^opath-symlink ' <<<"$native")" ]
    grep -qx 'opath-symlink EOPNOTSUPP' <<<"$output"
    # the chmod reached the file
    [ "$(stat -c %a "$ROOTFS/tmp/o/f")" = 600 ]
}

@test "interpose: fstat of a file, a deleted file, a pipe, a socket and a closed fd answers as at the native level" {
    # glibc's fstat is newfstatat(fd, "", AT_EMPTY_PATH), brokered; the supervisor serves it from
    # the caller's fd reopened through its procfs, without the caller's identity.
    [ -x "$ROOTFS/bin/ipfile" ] || fail_now "no ipfile in the test rootfs (make helpers)"
    update_config '.process.args = ["/bin/sh", "-c", "mkdir -p /tmp/o && /bin/ipfile /tmp/o | grep ^fstat-"]'
    at_level native n1
    [ "$status" -eq 0 ]
    native=$output
    [ "$(grep -c '^fstat-' <<<"$native")" -eq 5 ]
    grep -qx 'fstat-deleted ok file size 5 links 0' <<<"$native"
    grep -qx 'fstat-closed EBADF' <<<"$native"
    at_level interpose i1
    [ "$status" -eq 0 ]
    [ "$output" = "$native" ]
}
