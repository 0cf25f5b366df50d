# Sourced, not run: make_image builds an OCI image archive from this machine's busybox-static,
# with no registry and no Docker, for `ctr images import`. Used by scripts/kube/up.sh (pause,
# busybox and the worker stand-in of the real cluster) and scripts/cri/up.sh (the CRI tests'
# sandbox and step images).
#   make_image NAME ENTRYPOINT-JSON CMD-JSON OUT.tar [standin]
make_image() { # name entrypoint-json cmd-json out.tar [standin]
  local name=$1 ep=$2 cmd=$3 out=$4 w
  w=$(mktemp -d)
  mkdir -p "$w/rootfs/bin" "$w/rootfs/tmp" "$w/rootfs/etc" "$w/oci/blobs/sha256"
  cp /bin/busybox "$w/rootfs/bin/busybox"
  # Every applet busybox has (sh, tar, head, ... : the kubernetes executor's workspace pod
  # runs `sh -c 'head -c N | tar -x ...'` and `tar -c`).
  for a in $(/bin/busybox --list); do
    [ "$a" = busybox ] || ln -s busybox "$w/rootfs/bin/$a"
  done
  if [ "${5:-}" = standin ]; then
    # For worker pods in tests: the clone init container runs `git ... clone ... -- URL DEST`;
    # this one only makes DEST (no network, no repository).
    printf '#!/bin/sh\n# stand-in for git clone: makes the destination (the last argument)\nfor a; do dest=$a; done\nmkdir -p "$dest" && echo "stand-in clone into $dest"\n' >"$w/rootfs/bin/git"
    chmod 755 "$w/rootfs/bin/git"
  fi
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$w/rootfs/etc/passwd"
  printf 'root:x:0:\nnobody:x:65534:\n' >"$w/rootfs/etc/group"
  chmod 1777 "$w/rootfs/tmp"
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -cf "$w/layer.tar" -C "$w/rootfs" .
  local ld ls cfg cd cs man md ms
  ld=$(sha256sum "$w/layer.tar" | cut -d' ' -f1); ls=$(stat -c %s "$w/layer.tar")
  mv "$w/layer.tar" "$w/oci/blobs/sha256/$ld"
  cfg="{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Env\":[\"PATH=/bin\"],\"Entrypoint\":$ep,\"Cmd\":$cmd,\"WorkingDir\":\"/\"},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:$ld\"]}}"
  printf '%s' "$cfg" >"$w/cfg"; cd=$(sha256sum "$w/cfg" | cut -d' ' -f1); cs=$(stat -c %s "$w/cfg"); mv "$w/cfg" "$w/oci/blobs/sha256/$cd"
  man="{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"sha256:$cd\",\"size\":$cs},\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"sha256:$ld\",\"size\":$ls}]}"
  printf '%s' "$man" >"$w/man"; md=$(sha256sum "$w/man" | cut -d' ' -f1); ms=$(stat -c %s "$w/man"); mv "$w/man" "$w/oci/blobs/sha256/$md"
  printf '{"imageLayoutVersion":"1.0.0"}' >"$w/oci/oci-layout"
  printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}]}' \
    "$md" "$ms" "$name" "${name##*:}" >"$w/oci/index.json"
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -cf "$out" -C "$w/oci" .
  rm -rf "$w"
}
