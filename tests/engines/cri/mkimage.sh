#!/bin/bash
# mkimage.sh ROOTFS NAME OUT.tar [ENTRYPOINT_JSON [CMD_JSON]] - pack a rootfs directory into an
# OCI image archive (oci-layout, index.json, blobs/sha256/*) that `ctr images import` accepts.
# One gzip layer, a config with the given entrypoint/cmd (JSON arrays), a manifest, and an index
# whose manifest carries the org.opencontainers.image.ref.name / io.containerd.image.name
# annotations so the import tags it NAME. Deterministic: sorted entries, fixed mtimes and owners
# taken from the rootfs (numeric), so the same rootfs gives the same digests.
set -euo pipefail
if [ $# -lt 3 ]; then
    echo "usage: $0 ROOTFS NAME OUT.tar [ENTRYPOINT_JSON [CMD_JSON]]" >&2
    exit 2
fi
rootfs=$1 name=$2 out=$3
entrypoint=${4:-null} cmd=${5:-'["sh"]'}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/blobs/sha256"

blob() { # FILE -> moves it to blobs/sha256/<digest>, prints the digest
    local d
    d=$(sha256sum "$1" | cut -d' ' -f1)
    mv "$1" "$work/blobs/sha256/$d"
    echo "$d"
}

tar --sort=name --mtime=@0 --numeric-owner --format=posix \
    --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
    -C "$rootfs" -cf "$work/layer.tar" .
diff_id=$(sha256sum "$work/layer.tar" | cut -d' ' -f1)
gzip -n -9 "$work/layer.tar"
layer_size=$(stat -c %s "$work/layer.tar.gz")
layer=$(blob "$work/layer.tar.gz")

jq -n --arg diff "sha256:$diff_id" --argjson ep "$entrypoint" --argjson cmd "$cmd" '{
    created: "1970-01-01T00:00:00Z", architecture: "amd64", os: "linux",
    config: {Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
             Entrypoint: $ep, Cmd: $cmd, WorkingDir: "/"},
    rootfs: {type: "layers", diff_ids: [$diff]},
    history: [{created: "1970-01-01T00:00:00Z", created_by: "tests/engines/cri/mkimage.sh"}]
}' >"$work/config.json"
config_size=$(stat -c %s "$work/config.json")
config=$(blob "$work/config.json")

jq -n --arg c "sha256:$config" --argjson cs "$config_size" --arg l "sha256:$layer" \
    --argjson ls "$layer_size" '{
    schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $c, size: $cs},
    layers: [{mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: $l, size: $ls}]
}' >"$work/manifest.json"
manifest_size=$(stat -c %s "$work/manifest.json")
manifest=$(blob "$work/manifest.json")

jq -n --arg m "sha256:$manifest" --argjson ms "$manifest_size" --arg name "$name" '{
    schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json",
    manifests: [{mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $m, size: $ms,
                 platform: {architecture: "amd64", os: "linux"},
                 annotations: {"io.containerd.image.name": $name,
                               "org.opencontainers.image.ref.name": $name}}]
}' >"$work/index.json"
echo '{"imageLayoutVersion":"1.0.0"}' >"$work/oci-layout"
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$work" \
    -cf "$out" oci-layout index.json blobs
