#!/usr/bin/env bash
# Stops what scripts/kube/up.sh started (by the pids it recorded), kills the pods' containers,
# unmounts and removes the state directory ($WHARF_KUBE_DIR, default /tmp/wharf-kube), the
# bridge, our iptables rules and the kubelet's cgroups, and restores the kernel settings the
# kubelet changed. Safe to run twice, or after a failed up.sh.
set -uo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=env.sh
. "$HERE/env.sh"

stop() { # name: TERM, up to 15 s, then KILL
  local f="$DATA/pids/$1.pid" pid i
  [ -e "$f" ] || return 0
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null
    for i in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  fi
  rm -f "$f"
}

[ -d "$DATA" ] || { log "nothing at $DATA"; exit 0; }
log "stopping kubelet and the control plane"
stop kubelet
# The pods' containers: kill every task of our containerd (namespace k8s.io), then containerd.
if [ -S "$SOCK" ] && command -v ctr >/dev/null; then
  for c in $(ctr -a "$SOCK" -n k8s.io tasks ls -q 2>/dev/null); do ctr -a "$SOCK" -n k8s.io tasks kill -s SIGKILL "$c" >/dev/null 2>&1; done
  sleep 1
  for c in $(ctr -a "$SOCK" -n k8s.io containers ls -q 2>/dev/null); do
    ctr -a "$SOCK" -n k8s.io tasks delete -f "$c" >/dev/null 2>&1
    ctr -a "$SOCK" -n k8s.io containers delete "$c" >/dev/null 2>&1
  done
fi
for n in kube-scheduler kube-controller-manager apiserver-proxy kube-apiserver containerd etcd; do stop "$n"; done
# Shims of our containerd (their command line names our socket) that outlived it.
for p in /proc/[0-9]*; do
  if { tr "\0" " " <"$p/cmdline"; } 2>/dev/null | grep -q -- "-address $SOCK "; then kill -KILL "${p#/proc/}" 2>/dev/null; fi
done
sleep 0.5
# Mounts under the state directory (overlay rootfs, shm, netns, secrets' tmpfs), deepest first.
findmnt -rn -o TARGET | grep -F "$DATA/" | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
# The kubelet's cgroups (cgroupfs driver): kubepods under each controller, deepest first.
for root in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/kubepods /sys/fs/cgroup/*/kubepods.slice; do
  [ -d "$root" ] && find "$root" -depth -type d -exec rmdir {} \; 2>/dev/null
done
if [ -e "$DATA/iptables" ]; then
  while iptables -D FORWARD -i "$BRIDGE" ! -o "$BRIDGE" -j DROP 2>/dev/null; do :; done
  while iptables -D FORWARD -o "$BRIDGE" ! -i "$BRIDGE" -j DROP 2>/dev/null; do :; done
fi
ip link show "$BRIDGE" >/dev/null 2>&1 && ip link del "$BRIDGE"
if [ -s "$DATA/sysctl.saved" ]; then
  while IFS= read -r kv; do sysctl -qw "$kv" >/dev/null 2>&1; done <"$DATA/sysctl.saved"
fi
# The kubelet keeps pod logs under /var/log/pods (a fixed path): remove those made since up.sh
# started (the only kubelet here is ours), and the links to them in /var/log/containers.
if [ -e "$DATA/started" ] && [ -d /var/log/pods ]; then
  find /var/log/pods -mindepth 1 -maxdepth 1 -newer "$DATA/started" -exec rm -rf {} +
  find /var/log/containers -maxdepth 1 -xtype l -delete 2>/dev/null
fi
# The hostPath provisioner's /tmp/hostpath_pv, a link into $DATA (up.sh).
if [ -s "$DATA/hostpath_link" ]; then
  link=$(cat "$DATA/hostpath_link")
  [ -L "$link" ] && [ "$(readlink "$link")" = "$DATA/hostpath_pv" ] && rm -f "$link"
fi
rm -rf "$DATA"
log "removed $DATA"
