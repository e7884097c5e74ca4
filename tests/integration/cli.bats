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
