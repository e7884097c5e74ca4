#!/usr/bin/env bats
# cli.bats - --version, --help, spec, features, --log/--log-format, unknown commands.

load helpers

@test "--version prints a version" {
    run "$CAPSA" --version
    [ "$status" -eq 0 ]
    [[ "$output" == *version* ]]
}

@test "--help lists the commands" {
    run "$CAPSA" --help
    [ "$status" -eq 0 ]
    for c in create start state kill delete run list spec; do
        [[ "$output" == *"$c"* ]] || fail_now "help misses $c"
    done
}

@test "spec writes a config that run accepts" {
    setup_bundle
    rm -f "$BUNDLE/config.json"
    run "$CAPSA" spec --bundle "$BUNDLE"
    [ "$status" -eq 0 ]
    jq -e '.ociVersion and .process and .root.path == "rootfs"' "$BUNDLE/config.json"
    update_config '.process.terminal = false | .process.args = ["sh", "-c", "echo spec-ok"]'
    run capsa run --bundle "$BUNDLE" c1
    [ "$status" -eq 0 ]
    [ "$output" = spec-ok ]
}

# capsa-specific: runc refuses to overwrite config.json, crun 1.8 overwrites it.
@test "spec refuses to overwrite an existing config.json" {
    requires_capsa
    d=$BATS_TEST_TMPDIR/b
    mkdir -p "$d"
    echo '{"mine": true}' >"$d/config.json"
    run "$CAPSA" spec --bundle "$d"
    [ "$status" -ne 0 ]
    [ "$(jq -r .mine "$d/config.json")" = true ]
}

@test "spec --rootless writes a user namespace with mappings" {
    d=$BATS_TEST_TMPDIR/b
    mkdir -p "$d"
    run "$CAPSA" spec --rootless --bundle "$d"
    [ "$status" -eq 0 ]
    jq -e '.linux.namespaces | map(.type) | index("user")' "$d/config.json"
}

# capsa-specific only because crun 1.8 has no `features` command (runc 1.1 neither).
@test "features prints valid JSON" {
    requires_capsa
    run "$CAPSA" features
    [ "$status" -eq 0 ]
    jq -e '.ociVersionMin and .ociVersionMax' <<<"$output"
    jq -e '.hooks | index("prestart")' <<<"$output"
    jq -e '.mountOptions | index("ro")' <<<"$output"
    jq -e '.linux.namespaces | index("pid") and index("mount")' <<<"$output"
}

@test "--log with --log-format json writes JSON error lines" {
    log=$BATS_TEST_TMPDIR/log.json
    run "$CAPSA" --root "$CAPSA_ROOT" --log "$log" --log-format json state nosuch
    [ "$status" -ne 0 ]
    [ -s "$log" ]
    # Every line is a JSON object; at least one is an error with a message and a time.
    while IFS= read -r line; do
        jq -e . >/dev/null <<<"$line" || fail_now "not JSON: $line"
    done <"$log"
    jq -se 'map(select(.level == "error" and (.msg | length > 0) and .time)) | length > 0' "$log"
}

@test "unknown command fails" {
    run "$CAPSA" --root "$CAPSA_ROOT" no-such-command
    [ "$status" -ne 0 ]
}

@test "state of an unknown container fails" {
    run "$CAPSA" --root "$CAPSA_ROOT" state nosuch
    [ "$status" -ne 0 ]
}

@test "list --format json prints the absolute rootfs and the annotations" {
    setup_bundle
    # A relative root.path with a detour: runc prints it resolved against the bundle.
    update_config '.root.path = "./rootfs/../rootfs" | .annotations = {"org.example.k": "v1", "x": "y"}'
    run_bg_container c1 "sleep 1000; : $MARK"
    run capsa list --format json
    [ "$status" -eq 0 ]
    [ "$(jq -r 'length' <<<"$output")" = 1 ]
    [ "$(jq -r '.[0].id' <<<"$output")" = c1 ]
    [ "$(jq -r '.[0].rootfs' <<<"$output")" = "$(realpath "$ROOTFS")" ]
    [ "$(jq -r '.[0].annotations["org.example.k"]' <<<"$output")" = v1 ]
    [ "$(jq -r '.[0].annotations.x' <<<"$output")" = y ]
    [ "$(jq -r '.[0].pid' <<<"$output")" = "$PID" ]
    [ "$(jq -r '.[0].status' <<<"$output")" = running ]
    # The same fields as state.
    diff <(capsa state c1 | jq -S .) <(jq -S '.[0]' <<<"$output")
}

@test "duplicate key in config.json: reported at the second occurrence, with its path" {
    requires_capsa
    setup_bundle
    update_config '.process.cwd = "/"'
    line=$(grep -n '^    "cwd"' "$BUNDLE/config.json" | cut -d: -f1)
    [ -n "$line" ]
    sed -i "${line}a\\    \"cwd\": \"/tmp\"," "$BUNDLE/config.json"
    run capsa create --bundle "$BUNDLE" c1
    [ "$status" -ne 0 ]
    [[ "$output" == *"config.json:$((line + 1)):5: process.cwd: duplicate key"* ]] ||
        fail_now "unexpected: $output"
    assert_nothing_left c1
}

@test "--systemd-cgroup without systemd fails clearly and leaves nothing" {
    # This host has no systemd as PID 1 (tests/sdvm runs the driver under a real one).
    [ ! -S /run/systemd/private ] || skip "systemd runs here"
    setup_bundle
    update_config ".process.args = [\"sh\", \"-c\", \"sleep 1000; : $MARK\"]"
    run "$CAPSA" --root "$CAPSA_ROOT" --systemd-cgroup create --bundle "$BUNDLE" c1
    [ "$status" -ne 0 ]
    [[ "$output" == *"systemd is not running here"*"/run/systemd/private"* ]] ||
        fail_now "unexpected: $output"
    assert_nothing_left c1
}

@test "--systemd-cgroup refuses a cgroupsPath that is not slice:prefix:name, naming it" {
    setup_bundle
    update_config ".process.args = [\"sh\", \"-c\", \"sleep 1000; : $MARK\"]"
    local p
    for p in nocolons a:b 'a--b.slice:p:n' 'x.slice:p:n.slice' 'system.slice:p:a b'; do
        update_config ".linux.cgroupsPath = \"$p\""
        run "$CAPSA" --root "$CAPSA_ROOT" --systemd-cgroup create --bundle "$BUNDLE" c1
        [ "$status" -ne 0 ] || fail_now "$p was accepted"
        [[ "$output" == *"linux.cgroupsPath \"$p\""* ]] || fail_now "$p: $output"
        assert_nothing_left c1
    done
}

@test "--rootless accepts true, false and auto and refuses other values" {
    for v in true false auto; do
        run "$CAPSA" --root "$CAPSA_ROOT" --rootless "$v" list -q
        [ "$status" -eq 0 ] || fail_now "--rootless $v: $output"
    done
    run "$CAPSA" --root "$CAPSA_ROOT" --rootless maybe list -q
    [ "$status" -ne 0 ]
    [[ "$output" == *rootless* ]]
}

@test "spec --bundle DIR writes DIR/config.json and nothing in the cwd" {
    d=$BATS_TEST_TMPDIR/specdir
    cwd=$BATS_TEST_TMPDIR/cwd
    mkdir -p "$d" "$cwd"
    (cd "$cwd" && "$CAPSA" spec --bundle "$d")
    jq -e '.ociVersion and .root.path == "rootfs"' "$d/config.json"
    [ -z "$(ls -A "$cwd")" ]
}

@test "--version names the commit of the checkout" {
    requires_capsa
    git -C "$REPO" rev-parse --git-dir >/dev/null 2>&1 || skip "not a git checkout"
    rev=$(git -C "$REPO" rev-parse --short HEAD)
    run "$CAPSA" --version
    [ "$status" -eq 0 ]
    [[ "$output" == *"commit: $rev"* ]] || fail_now "--version: $output, HEAD is $rev"
}
