#!/usr/bin/env bash
# Installs what wharf needs on a fresh Debian machine (idempotent): pnpm, git,
# Docker engine, busybox (for the local test image), PostgreSQL server binaries,
# Chromium (for the log page's browser test), Podman (the Docker backend is also
# tested on Podman's Docker API), containerd and runc (the cri executor's tests), then the workspace's packages. Starts dockerd and
# a Podman API service (socket $WHARF_PODMAN_SOCKET) when they are not running.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"

if ! command -v pnpm >/dev/null 2>&1; then
  npm install -g pnpm@10.34.9
fi

need=()
command -v git >/dev/null 2>&1 || need+=(git)
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
command -v busybox >/dev/null 2>&1 || need+=(busybox-static)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
[ -x /usr/bin/chromium ] || need+=(chromium)
# Builds the glibc base image the Docker-backend tests run workers in.
command -v mmdebstrap >/dev/null 2>&1 || need+=(mmdebstrap)
command -v podman >/dev/null 2>&1 || need+=(podman)
# Podman's --init binary (the executor runs steps with an init).
[ -x /usr/libexec/podman/catatonit ] || need+=(catatonit)
# A real registry on 127.0.0.1 (with htpasswd auth) for the push tests.
[ -x /usr/bin/docker-registry ] || need+=(docker-registry)
command -v htpasswd >/dev/null 2>&1 || need+=(apache2-utils)
# The cri executor's tests: Debian's containerd (its CRI plugin), runc and the CNI plugins,
# started per test run by scripts/cri/up.sh on a private socket.
command -v containerd >/dev/null 2>&1 || need+=(containerd)
command -v runc >/dev/null 2>&1 || need+=(runc)
[ -x /usr/lib/cni/bridge ] || need+=(containernetworking-plugins)
if [ "${#need[@]}" -gt 0 ]; then
  echo "setup: installing ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

# Start a Docker engine when none answers. No bridge/iptables: this machine's
# containers use host or no networking.
if ! docker version >/dev/null 2>&1; then
  echo "setup: starting dockerd"
  $SUDO sh -c 'nohup dockerd --bridge=none --iptables=false >/tmp/wharf-dockerd.log 2>&1 &'
  for _ in $(seq 1 60); do
    docker version >/dev/null 2>&1 && break
    sleep 0.5
  done
  docker version >/dev/null 2>&1 || { echo "setup: dockerd did not start, see /tmp/wharf-dockerd.log"; exit 1; }
fi

# Podman's Docker-compatible API on its own socket. Its default ulimits fail on this
# kind of machine; these are what the containers need.
PODMAN_SOCKET="${WHARF_PODMAN_SOCKET:-/run/wharf-podman.sock}"
if ! grep -q '^default_ulimits' /etc/containers/containers.conf 2>/dev/null; then
  $SUDO mkdir -p /etc/containers
  printf '[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]\n' |
    $SUDO tee /etc/containers/containers.conf >/dev/null
fi
if ! curl -sf --unix-socket "$PODMAN_SOCKET" http://podman/_ping >/dev/null 2>&1; then
  echo "setup: starting podman system service on $PODMAN_SOCKET"
  $SUDO sh -c "nohup podman system service --time=0 unix://$PODMAN_SOCKET >/tmp/wharf-podman.log 2>&1 &"
  for _ in $(seq 1 60); do
    curl -sf --unix-socket "$PODMAN_SOCKET" http://podman/_ping >/dev/null 2>&1 && break
    sleep 0.5
  done
  curl -sf --unix-socket "$PODMAN_SOCKET" http://podman/_ping >/dev/null 2>&1 ||
    { echo "setup: podman did not start, see /tmp/wharf-podman.log"; exit 1; }
fi

pnpm install --frozen-lockfile --reporter=append-only | tail -n 3

# The compiled JavaScript every wharf process runs (packages/cli/dist).
pnpm build
