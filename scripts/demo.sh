#!/bin/bash
# demo.sh - on a fresh Debian 12 machine (as root): install build packages, build capsa, make a
# busybox rootfs and run one container, printing its exit code. Everything is offline except
# Debian's apt archive.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

"$repo/scripts/deps.sh"
make -j"$(nproc 2>/dev/null || echo 2)"

bundle=$repo/build/demo/bundle
rm -rf "$bundle"
mkdir -p "$bundle"
"$repo/scripts/mkrootfs.sh" "$bundle/rootfs"
build/capsa spec --bundle "$bundle"
jq '.process.terminal = false
    | .process.args = ["sh", "-c", "echo hello from capsa; hostname; id; ls /"]
    | .hostname = "capsa-demo"' "$bundle/config.json" >"$bundle/config.json.new"
mv "$bundle/config.json.new" "$bundle/config.json"

rc=0
build/capsa run --bundle "$bundle" "demo-$$" || rc=$?
echo "container exited with code $rc"
exit "$rc"
