#!/usr/bin/env bash
# Starts Debian's containerd on a private socket, root and state under $WHARF_CRI_DIR (default
# /tmp/wharf-cri), with its CRI plugin serving runtime.v1, and imports the sandbox (pause) and
# busybox images built here from busybox-static. Prints the endpoint (unix://...sock) on stdout,
# for WHARF_CRI_TEST_ENDPOINT. scripts/cri/down.sh stops it and removes everything.
#
# Nothing leaves this machine: registry mirrors and the HTTP(S) proxy are a dead loopback port,
# and sandboxes sit on a bridge of their own ($BRIDGE, $POD_SUBNET) with no route off it.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=env.sh
. "$HERE/env.sh"
# shellcheck source=../lib/containerd-config.sh
. "$HERE/../lib/containerd-config.sh"

for t in containerd containerd-shim-runc-v2 runc ctr /usr/lib/cni/bridge /usr/lib/cni/host-local /usr/lib/cni/loopback /bin/busybox; do
  command -v "$t" >/dev/null || { echo "missing $t (apt-get install containerd runc containernetworking-plugins busybox-static)" >&2; exit 1; }
done
if [ -s "$DATA/containerd.pid" ] && kill -0 "$(cat "$DATA/containerd.pid")" 2>/dev/null; then
  echo "$DATA holds a running containerd: run scripts/cri/down.sh first" >&2; exit 1
fi
mkdir -p "$DATA"/{root,state,opt,cni,images,logs}

# The CRI plugin refuses sandboxes until a CNI network gives them an eth0 with an address (a
# loopback-only network is refused too): a bridge of our own with no address on the host side,
# no gateway, no masquerading and no route, so a build's steps reach each other and nothing else.
cat >"$DATA/cni/10-wharf-cri.conflist" <<JSON
{ "cniVersion": "0.4.0", "name": "wharf-cri", "plugins": [{
  "type": "bridge", "bridge": "$BRIDGE", "isGateway": false, "ipMasq": false, "hairpinMode": false,
  "ipam": { "type": "host-local", "subnet": "$POD_SUBNET", "dataDir": "$DATA/cni-ipam" } }] }
JSON

containerd_config "$DATA/root" "$DATA/state" "$SOCK" "$DATA/opt" "$DATA/cni" "$PAUSE_IMAGE" "$DEAD" \
  "  [plugins.\"io.containerd.grpc.v1.cri\".registry.mirrors.\"$TEST_REGISTRY\"]
    endpoint = [\"http://$TEST_REGISTRY\"]" >"$DATA/config.toml"
echo "$TEST_REGISTRY" >"$DATA/test-registry"

log "containerd ($SOCK)"
env HTTP_PROXY=$DEAD HTTPS_PROXY=$DEAD http_proxy=$DEAD https_proxy=$DEAD NO_PROXY= no_proxy= \
  setsid containerd --config "$DATA/config.toml" >"$DATA/logs/containerd.log" 2>&1 </dev/null &
echo $! >"$DATA/containerd.pid"
for _ in $(seq 1 120); do
  ctr -a "$SOCK" version >/dev/null 2>&1 && break
  kill -0 "$(cat "$DATA/containerd.pid")" 2>/dev/null || { tail -n 30 "$DATA/logs/containerd.log" >&2; exit 1; }
  sleep 0.5
done
ctr -a "$SOCK" version >/dev/null 2>&1 || { echo "containerd did not answer in 60 s" >&2; tail -n 30 "$DATA/logs/containerd.log" >&2; exit 1; }

# shellcheck source=../lib/busybox-image.sh
. "$HERE/../lib/busybox-image.sh"
log "images $PAUSE_IMAGE, $BUSYBOX_IMAGE"
make_image "$PAUSE_IMAGE" '["/bin/sleep"]' '["2147483647"]' "$DATA/images/pause.tar"
make_image "$BUSYBOX_IMAGE" 'null' '["/bin/sh"]' "$DATA/images/busybox.tar"
for i in pause busybox; do ctr -a "$SOCK" -n k8s.io images import "$DATA/images/$i.tar" >/dev/null; done
ctr -a "$SOCK" -n k8s.io images label "$PAUSE_IMAGE" io.cri-containerd.pinned=pinned >/dev/null 2>&1 || true
echo "unix://$SOCK"
