#!/usr/bin/env bash
# Imports images from this machine's Docker engine into the running cluster's containerd
# (namespace k8s.io), where the kubelet finds them: `docker save | ctr images import -`.
# Nothing is pulled: an image must be in Docker already (e.g. scripts/build-images.sh).
#   scripts/kube/import-image.sh wharf/worker:0.1.0 [image...]
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=env.sh
. "$HERE/env.sh"
[ "$#" -gt 0 ] || { echo "usage: $0 image [image...]" >&2; exit 2; }
[ -S "$SOCK" ] || { echo "no cluster containerd at $SOCK: run scripts/kube/up.sh first" >&2; exit 1; }
for image in "$@"; do
  docker image inspect "$image" >/dev/null || { echo "no image $image in Docker" >&2; exit 1; }
  docker save "$image" | ctr -a "$SOCK" -n k8s.io images import - >/dev/null
  log "imported $image"
done
