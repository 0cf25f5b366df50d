# Sourced, not run: containerd_config prints the config.toml of a private containerd whose CRI
# plugin (runtime.v1) serves on SOCK, with runc, overlayfs and CNI plugins from Debian, and no
# pull that can leave this machine (every registry mirror is DEAD, a dead loopback port; the
# process's HTTP(S)_PROXY, the same port, catches a registry's own host tried after its
# mirrors). Used by scripts/kube/up.sh (the real cluster's node) and scripts/cri/up.sh (the CRI
# executor's tests).
#   containerd_config ROOT STATE SOCK OPT_DIR CNI_CONF_DIR PAUSE_IMAGE DEAD [EXTRA_TOML]
containerd_config() { # root state sock opt cni-conf pause dead [extra]
  cat <<TOML
version = 2
root = "$1"
state = "$2"
oom_score = 0
disabled_plugins = ["io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing",
  "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper"]

[grpc]
  address = "$3"
[ttrpc]
  address = "$3.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "$4"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$6"
  restrict_oom_score_adj = true
  disable_apparmor = true
  enable_selinux = false
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$5"
    max_conf_num = 1
  [plugins."io.containerd.grpc.v1.cri".registry.mirrors."docker.io"]
    endpoint = ["$7"]
  [plugins."io.containerd.grpc.v1.cri".registry.mirrors."*"]
    endpoint = ["$7"]
${8:-}
TOML
}
