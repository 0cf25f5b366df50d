#!/usr/bin/env bash
# Installs what wharf needs on a fresh Debian machine (idempotent): pnpm, git,
# Docker engine, busybox (for the local test image), PostgreSQL server binaries,
# Chromium (for the log page's browser test), then the workspace's packages.
# Starts dockerd when it is not running.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"

if ! command -v pnpm >/dev/null 2>&1; then
  npm install -g pnpm@10.34.9
fi

need=()
command -v git >/dev/null 2>&1 || need+=(git)
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
command -v busybox >/dev/null 2>&1 || need+=(busybox-static)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
[ -x /usr/bin/chromium ] || need+=(chromium)
# Builds the glibc base image the Docker-backend tests run workers in.
command -v mmdebstrap >/dev/null 2>&1 || need+=(mmdebstrap)
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

pnpm install --frozen-lockfile --reporter=append-only | tail -n 3
