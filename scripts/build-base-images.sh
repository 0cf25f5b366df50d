#!/usr/bin/env bash
# Makes the two base images the wharf images are built on here, from Debian packages and this
# machine's node (no image registry is reachable): WHARF_BASE_IMAGE (glibc, libstdc++ and node,
# nothing else: no shell, no package manager) for the provisioner and aggregator, and
# WHARF_WORKER_BASE_IMAGE (the same plus git, ssh and a shell) for the worker. Both have user
# `node` (1000:1000), as the official node images do. Skips an image that exists.
set -euo pipefail
BASE="${WHARF_BASE_IMAGE:-wharf-base/runtime:bookworm}"
WORKER_BASE="${WHARF_WORKER_BASE_IMAGE:-wharf-base/worker:bookworm}"
NODE_BIN="$(command -v node)"

# Docs, manuals, locales and dpkg's own records are not needed to run anything.
slim=(
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*'
  --dpkgopt='path-exclude=/usr/share/info/*' --dpkgopt='path-exclude=/usr/share/locale/*'
  --dpkgopt='path-exclude=/usr/share/lintian/*'
)
# Packages are only extracted (no maintainer scripts, so no dpkg or shell is needed inside);
# finish() writes what their scripts would have (users, the CA bundle: this machine's), then
# puts node, stripped of its debug symbols, at /usr/local/bin/node.
finish() {
  local root="$1"
  printf 'root:x:0:0:root:/root:/bin/sh\nnode:x:1000:1000:node:/home/node:/bin/sh\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnode:x:1000:\n' >"$root/etc/group"
  mkdir -p "$root/home/node" "$root/tmp" "$root/etc/ssl/certs" "$root/usr/local/bin"
  chown 1000:1000 "$root/home/node"
  chmod 1777 "$root/tmp"
  cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
  strip -o "$root/usr/local/bin/node" "$NODE_BIN"
  rm -rf "$root/var/cache/apt" "$root/var/lib/apt/lists" "$root/var/log"/*
}

command -v mmdebstrap >/dev/null || { echo "mmdebstrap is missing (scripts/setup.sh installs it)"; exit 1; }
command -v strip >/dev/null || { echo "strip is missing (binutils)"; exit 1; }

make_base() {
  local image="$1" packages="$2" drop="${3:-}"
  if docker image inspect "$image" >/dev/null 2>&1; then return; fi
  echo "build-base-images: $image ($packages)"
  local root
  root="$(mktemp -d)"
  mmdebstrap --quiet --variant=extract --include="$packages" "${slim[@]}" bookworm "$root"
  finish "$root"
  for d in $drop; do rm -rf "${root:?}/$d"; done
  tar -C "$root" -c . | docker import -c 'ENV PATH=/usr/local/bin:/usr/bin:/bin' -c 'USER 1000:1000' - "$image" >/dev/null
  rm -rf "$root"
}

make_base "$BASE" "base-files,libc6,libgcc-s1,libstdc++6"
# git's Perl scripts (svn, send-email, the web UI) are not used to clone and check out: without
# Perl's 50 MB of modules the worker image stays under its size budget.
make_base "$WORKER_BASE" "base-files,libc6,libgcc-s1,libstdc++6,dash,coreutils,tar,git,openssh-client" \
  "usr/share/perl usr/lib/x86_64-linux-gnu/perl usr/share/gitweb"
