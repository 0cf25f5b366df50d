# Shared settings of scripts/kube/{up,down}.sh (sourced, not run).
# Everything listens on loopback or on our own bridge (198.18.0.0/24, no route off it).
WHARF_KUBE_CACHE="${WHARF_KUBE_CACHE:-/var/cache/wharf-kubernetes}"
KUBE_BIN="${WHARF_KUBE_BIN:-$WHARF_KUBE_CACHE/bin}"
DATA="${WHARF_KUBE_DIR:-/tmp/wharf-kube}"
API_PORT="${WHARF_KUBE_API_PORT:-6443}"
ETCD_PORT="${WHARF_KUBE_ETCD_PORT:-23790}"       # peer port: +10
KUBELET_PORT="${WHARF_KUBE_KUBELET_PORT:-10250}"
KUBELET_HEALTHZ_PORT="${WHARF_KUBE_KUBELET_HEALTHZ_PORT:-10248}"
BRIDGE="${WHARF_KUBE_BRIDGE:-wharfkube0}"
BRIDGE_IP=198.18.0.1                             # the node's IP, the `kubernetes` Service's IP
POD_SUBNET=198.18.0.0/24
POD_RANGE_START=198.18.0.64
SERVICE_RANGE=198.18.0.0/26                      # first address = 198.18.0.1 = the bridge
DEAD=http://127.0.0.1:9                          # where registry pulls and proxied traffic go: nowhere
PAUSE_IMAGE=wharf.local/pause:1
BUSYBOX_IMAGE=wharf.local/busybox:1
STANDIN_IMAGE=wharf.local/worker-standin:1      # busybox + a stand-in `git` (test/kube-real)
NODE_NAME=localhost
SOCK="$DATA/containerd/containerd.sock"
KUBECONFIG_ADMIN="$DATA/admin.kubeconfig"
# kubelet's kernel settings (it sets them at start); up.sh saves them, down.sh restores them.
KUBELET_SYSCTLS=(vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops kernel.keys.root_maxkeys kernel.keys.root_maxbytes)
if [ -x "$KUBE_BIN/kubectl" ]; then KUBECTL="$KUBE_BIN/kubectl"; else KUBECTL="${KUBECTL:-kubectl}"; fi
log() { echo "== $(date +%T) $*" >&2; }
