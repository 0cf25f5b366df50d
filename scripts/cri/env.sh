# Shared settings of scripts/cri/{up,down}.sh (sourced, not run): a containerd of our own, for
# the CRI executor's tests, apart from the system's and from scripts/kube's.
DATA="${WHARF_CRI_DIR:-/tmp/wharf-cri}"
SOCK="$DATA/containerd.sock"
DEAD=http://127.0.0.1:9                 # where registry pulls and proxied traffic go: nowhere
PAUSE_IMAGE=wharf.local/pause:1          # the sandbox image, in containerd's config
# The step image of the tests and of examples/ (`wharf-test/busybox:latest`, as the runtime names it).
BUSYBOX_IMAGE=docker.io/wharf-test/busybox:latest
BRIDGE="${WHARF_CRI_BRIDGE:-wharfcri0}"
POD_SUBNET=198.18.2.0/24                # scripts/kube uses 198.18.0.0/24
# A registry the tests may start (Debian's docker-registry, htpasswd auth) for authenticated pulls:
# containerd reaches it over plain HTTP. up.sh writes it to $DATA/test-registry for the tests.
TEST_REGISTRY="127.0.0.1:${WHARF_CRI_TEST_REGISTRY_PORT:-5055}"
log() { echo "== $(date +%T) $*" >&2; }
