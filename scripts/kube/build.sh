#!/usr/bin/env bash
# Builds kube-apiserver, kube-controller-manager, kube-scheduler and kubelet v1.20.2 from
# Debian bookworm's source package "kubernetes" (the upstream tree with vendor/) with
# Debian's Go, into $WHARF_KUBE_CACHE/bin (default /var/cache/wharf-kubernetes/bin).
# Idempotent: installs only missing packages, fetches the source once, skips when the
# binaries report the right version. Nothing here is written into the repository.
#
# Patches applied to the tree (each is a fact of running 1.20 on a new Go, or of this network):
#  - vendor/github.com/modern-go/reflect2 and vendor/github.com/json-iterator/go are replaced by
#    Debian's golang-github-modern-go-reflect2-dev / golang-github-json-iterator-go-dev (the
#    vendored reflect2 reads Go's map internals as of Go 1.17: under Go >= 1.18 the API server
#    crashes in map iteration);
#  - the kubelet links no in-tree aws/azure/gcp credential provider (cmd/kubelet/app/plugins.go and
#    cmd/kubelet/app/options/globalflags.go import them) and no cadvisor cloud-info probe
#    (pkg/kubelet/cadvisor/cadvisor_linux.go): they ask a cloud metadata address (169.254.169.254,
#    metadata.google.internal) when the machine looks like a cloud VM, and no traffic may leave this
#    machine. `go list -deps ./cmd/kubelet` is checked for them after patching.
# Compiles run under nice/ionice with GOFLAGS=-p=1 (set WHARF_KUBE_BUILD_JOBS to change -p).
# usage: scripts/kube/build.sh [--force]   --force: go through packages, source and patches even when
# the binaries are there (it rebuilds only what is missing; delete $WHARF_KUBE_CACHE/bin to rebuild).
# See deploy/kubernetes/REAL-CLUSTER.md.
set -euo pipefail

VERSION=v1.20.2
PATCH_LEVEL=2   # bump when the patches below change: binaries of another level are rebuilt
CACHE="${WHARF_KUBE_CACHE:-/var/cache/wharf-kubernetes}"
BIN="$CACHE/bin"
SRC="$CACHE/src"                       # apt-get source unpacks here
GOPATH_DIR="$CACHE/gopath"             # GOPATH-mode build: $GOPATH/src/k8s.io/kubernetes
export GOCACHE="$CACHE/gocache"
TARGETS=(kube-apiserver kube-controller-manager kube-scheduler kubelet)
NICE=(nice -n 19 ionice -c3)

log() { echo "== $*" >&2; }

have_all() {
  local t
  [ "$(cat "$BIN/.patch-level" 2>/dev/null)" = "$PATCH_LEVEL" ] || return 1
  for t in "${TARGETS[@]}"; do
    [ -x "$BIN/$t" ] || return 1
    "$BIN/$t" --version 2>/dev/null | grep -q "$VERSION" || return 1
  done
}

if have_all && [ "${1:-}" != "--force" ]; then
  log "binaries $VERSION present in $BIN"
  exit 0
fi

# --- packages --------------------------------------------------------------------------
# Build: Go, rsync (make generated_files), the two replacement libraries, dpkg-dev (apt-get source).
# Run (scripts/kube/up.sh): etcd, containerd, runc, CNI plugins, openssl, busybox-static.
PKGS=(golang-go rsync make dpkg-dev golang-github-modern-go-reflect2-dev golang-github-json-iterator-go-dev
  etcd-server containerd runc containernetworking-plugins openssl busybox-static iproute2 curl)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

SRCLIST=/etc/apt/sources.list.d/wharf-deb-src.sources
need_update=0
if ! grep -rqs "^Types:.*deb-src" /etc/apt/sources.list.d/ && ! grep -rqs "^deb-src .*bookworm main" /etc/apt/sources.list.d/ /etc/apt/sources.list 2>/dev/null; then
  log "adding a deb-src entry for bookworm main ($SRCLIST)"
  cat >"$SRCLIST" <<'SRCS'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRCS
  need_update=1
fi
if [ "${#missing[@]}" -gt 0 ] || [ "$need_update" = 1 ] || ! apt-cache showsrc kubernetes >/dev/null 2>&1; then
  log "apt-get update"
  apt-get update -qq
fi
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# containerd's packaged service (if any) is not ours; up.sh runs its own instance.

# --- source --------------------------------------------------------------------------
mkdir -p "$SRC" "$BIN" "$GOPATH_DIR/src/k8s.io"
# bookworm's source is named 1.20.5+really1.20.2 (upstream v1.20.2 plus Debian's patches).
find_tree() { find "$SRC" -maxdepth 1 -type d -name 'kubernetes-*really1.20.2' | head -n1; }
tree=$(find_tree)
if [ -z "$tree" ]; then
  log "apt-get source kubernetes (into $SRC)"
  (cd "$SRC" && apt-get source -qq kubernetes)
  tree=$(find_tree)
  [ -n "$tree" ] || { echo "source package kubernetes is not 1.20.2: $(ls "$SRC")" >&2; exit 1; }
fi
K="$GOPATH_DIR/src/k8s.io/kubernetes"
if [ ! -e "$K/.wharf-prepared" ]; then
  log "copying the tree to $K"
  rm -rf "$K"
  cp -a "$tree" "$K"
  # Debian's own packaging patches (debian/patches) are applied by apt-get source already.
  # 1. reflect2 + json-iterator from Debian's packages.
  for d in github.com/modern-go/reflect2 github.com/json-iterator/go; do
    [ -d "/usr/share/gocode/src/$d" ] || { echo "missing /usr/share/gocode/src/$d" >&2; exit 1; }
    rm -rf "$K/vendor/$d"
    mkdir -p "$K/vendor/$d"
    cp -a "/usr/share/gocode/src/$d/." "$K/vendor/$d/"
    find "$K/vendor/$d" -name '*_test.go' -delete
  done
  touch "$K/.wharf-prepared"
fi
# 2. no cloud credential providers or cloud-info probes in the kubelet (idempotent deletions of
#    blank imports; in providerless builds nothing else refers to them).
sed -i -E '/"k8s\.io\/kubernetes\/pkg\/credentialprovider\/(aws|azure|gcp)"/d' \
  "$K/cmd/kubelet/app/plugins.go" "$K/cmd/kubelet/app/options/globalflags.go"
sed -i -E '/"github\.com\/google\/cadvisor\/utils\/cloudinfo\/(aws|azure|gce)"/d' "$K/pkg/kubelet/cadvisor/cadvisor_linux.go"
# --- build ---------------------------------------------------------------------------
GO=$(command -v go || true)
[ -n "$GO" ] || GO=/usr/lib/go/bin/go
export GOPATH="$GOPATH_DIR" GO111MODULE=off CGO_ENABLED=0 GOFLAGS="-p=${WHARF_KUBE_BUILD_JOBS:-1}" GOPROXY=off GOTOOLCHAIN=local
export PATH="$(dirname "$GO"):$PATH"
log "go: $("$GO" version)"

cd "$K"
if [ ! -e "$K/.wharf-generated" ]; then
  log "make generated_files (niced)"
  "${NICE[@]}" make generated_files KUBE_VERBOSE=0 >"$CACHE/generated_files.log" 2>&1 || {
    tail -n 40 "$CACHE/generated_files.log" >&2; exit 1; }
  touch "$K/.wharf-generated"
fi

# Version stamping as hack/lib/version.sh would do it, without git.
LDFLAGS="-s -w"
for pkg in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
  LDFLAGS+=" -X k8s.io/kubernetes/vendor/$pkg.gitVersion=$VERSION"
  LDFLAGS+=" -X k8s.io/kubernetes/vendor/$pkg.gitMajor=1 -X k8s.io/kubernetes/vendor/$pkg.gitMinor=20"
  LDFLAGS+=" -X k8s.io/kubernetes/vendor/$pkg.gitTreeState=clean"
  LDFLAGS+=" -X k8s.io/kubernetes/vendor/$pkg.buildDate=1970-01-01T00:00:00Z"
done
leaks=$("$GO" list -tags providerless -deps ./cmd/kubelet | grep -E 'credentialprovider/(aws|azure|gcp)$|cadvisor/utils/cloudinfo/|aws-sdk-go/aws/ec2metadata|cloud\.google\.com/go/compute/metadata' || true)
[ -z "$leaks" ] || { echo "the kubelet would still link: $leaks" >&2; exit 1; }

[ "$(cat "$BIN/.patch-level" 2>/dev/null)" = "$PATCH_LEVEL" ] || rm -f "${TARGETS[@]/#/$BIN/}"
for t in "${TARGETS[@]}"; do
  if [ -x "$BIN/$t" ] && "$BIN/$t" --version 2>/dev/null | grep -q "$VERSION"; then continue; fi
  log "go build $t (niced)"
  start=$(date +%s)
  "${NICE[@]}" "$GO" build -tags providerless -trimpath -ldflags "$LDFLAGS" -o "$BIN/$t.new" "./cmd/$t"
  mv "$BIN/$t.new" "$BIN/$t"
  log "$t built in $(( $(date +%s) - start ))s ($(du -h "$BIN/$t" | cut -f1))"
done
echo "$PATCH_LEVEL" >"$BIN/.patch-level"
for t in "${TARGETS[@]}"; do "$BIN/$t" --version; done
log "done: $BIN"
