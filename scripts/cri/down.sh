#!/usr/bin/env bash
# Stops the containerd of scripts/cri/up.sh (by its recorded pid), kills what still runs in it,
# unmounts and removes $WHARF_CRI_DIR (default /tmp/wharf-cri). Safe to run twice.
set -uo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=env.sh
. "$HERE/env.sh"

[ -d "$DATA" ] || { log "nothing at $DATA"; exit 0; }
if [ -S "$SOCK" ]; then
  for c in $(ctr -a "$SOCK" -n k8s.io tasks ls -q 2>/dev/null); do ctr -a "$SOCK" -n k8s.io tasks kill -s SIGKILL "$c" >/dev/null 2>&1; done
  sleep 0.5
  for c in $(ctr -a "$SOCK" -n k8s.io containers ls -q 2>/dev/null); do
    ctr -a "$SOCK" -n k8s.io tasks delete -f "$c" >/dev/null 2>&1
    ctr -a "$SOCK" -n k8s.io containers delete "$c" >/dev/null 2>&1
  done
fi
if [ -s "$DATA/containerd.pid" ]; then
  pid=$(cat "$DATA/containerd.pid")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  fi
fi
# Shims of our containerd (their command line names our socket) that outlived it.
for p in /proc/[0-9]*; do
  if { tr "\0" " " <"$p/cmdline"; } 2>/dev/null | grep -q -- "-address $SOCK "; then kill -KILL "${p#/proc/}" 2>/dev/null; fi
done
sleep 0.3
# Mounts under the state directory (overlay rootfs, shm, netns), deepest first.
findmnt -rn -o TARGET | grep -F "$DATA/" | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
ip link show "$BRIDGE" >/dev/null 2>&1 && ip link del "$BRIDGE"
rm -rf "$DATA"
log "removed $DATA"
