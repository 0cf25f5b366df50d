#!/usr/bin/env bash
# Starts a one-node Kubernetes v1.20.2 on this machine from the binaries of scripts/kube/build.sh:
# etcd, kube-apiserver, kube-controller-manager, kube-scheduler, our own containerd (own config and
# socket) and a kubelet, all in the background with their state and logs under $WHARF_KUBE_DIR
# (default /tmp/wharf-kube). Waits until node "localhost" is Ready and a busybox pod (a locally
# imported image) ran and exited 0, then prints the admin kubeconfig's path on stdout.
# scripts/kube/down.sh stops it all and removes the state.
#
# Nothing leaves this machine: the API server, etcd and kubelet listen on 127.0.0.1; pods live on
# the bridge $BRIDGE (198.18.0.0/24, no default route, no masquerading, forwarding off the
# bridge dropped); containerd's registry mirrors and its HTTP(S) proxy are a dead loopback port;
# the `kubernetes` Service address 198.18.0.1:443 is the bridge's own address, proxied to the API
# server by scripts/kube/apiserver-proxy.mjs.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=env.sh
. "$HERE/env.sh"

for t in kube-apiserver kube-controller-manager kube-scheduler kubelet; do
  [ -x "$KUBE_BIN/$t" ] || { echo "no $KUBE_BIN/$t: run scripts/kube/build.sh first" >&2; exit 1; }
done
for t in etcd containerd containerd-shim-runc-v2 runc ctr openssl ip node /usr/lib/cni/bridge /usr/lib/cni/host-local /usr/lib/cni/loopback /bin/busybox; do
  command -v "$t" >/dev/null || { echo "missing $t (scripts/kube/build.sh installs it)" >&2; exit 1; }
done
if [ -e "$DATA/pids" ] && ls "$DATA/pids"/*.pid >/dev/null 2>&1; then
  echo "$DATA holds a running cluster's state: run scripts/kube/down.sh first" >&2; exit 1
fi

mkdir -p "$DATA"/{pki,logs,pids,etcd,containerd,cni/net.d,cni/ipam,kubelet,images}
PKI="$DATA/pki"
start_time=$(date +%s)
touch "$DATA/started"   # down.sh removes the kubelet's pod logs newer than this

# --- certificates (openssl) -------------------------------------------------------------
cert() { # name subject ext-lines...
  local name=$1 subj=$2; shift 2
  openssl ecparam -name prime256v1 -genkey -noout -out "$PKI/$name.key" 2>/dev/null
  openssl req -new -key "$PKI/$name.key" -subj "$subj" -out "$PKI/$name.csr" 2>/dev/null
  printf '%s\n' "$@" >"$PKI/$name.ext"
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
    -days 3650 -sha256 -extfile "$PKI/$name.ext" -out "$PKI/$name.crt" 2>/dev/null
  rm -f "$PKI/$name.csr" "$PKI/$name.ext"
}
if [ ! -e "$PKI/ca.crt" ]; then
  log "certificates ($PKI)"
  openssl ecparam -name prime256v1 -genkey -noout -out "$PKI/ca.key" 2>/dev/null
  openssl req -x509 -new -key "$PKI/ca.key" -subj "/CN=wharf-kube-ca" -days 3650 -sha256 \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
    -out "$PKI/ca.crt" 2>/dev/null
  client=("basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" "extendedKeyUsage=clientAuth")
  server=("basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" "extendedKeyUsage=serverAuth")
  cert apiserver "/CN=kube-apiserver" "${server[@]}" \
    "subjectAltName=IP:127.0.0.1,IP:$BRIDGE_IP,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
  cert kubelet-serving "/CN=localhost" "${server[@]}" "subjectAltName=IP:127.0.0.1,DNS:localhost"
  cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" "${client[@]}"
  cert admin "/O=system:masters/CN=wharf-admin" "${client[@]}"
  cert controller-manager "/CN=system:kube-controller-manager" "${client[@]}"
  cert scheduler "/CN=system:kube-scheduler" "${client[@]}"
  cert kubelet "/O=system:nodes/CN=system:node:$NODE_NAME" "${client[@]}"
  openssl genrsa -out "$PKI/sa.key" 2048 2>/dev/null
  openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
fi
kubeconfig() { # file cert-name
  cat >"$1" <<KC
apiVersion: v1
kind: Config
clusters:
- name: wharf-kube
  cluster:
    server: https://127.0.0.1:$API_PORT
    certificate-authority-data: $(base64 -w0 "$PKI/ca.crt")
users:
- name: $2
  user:
    client-certificate-data: $(base64 -w0 "$PKI/$2.crt")
    client-key-data: $(base64 -w0 "$PKI/$2.key")
contexts:
- name: wharf-kube
  context: { cluster: wharf-kube, user: $2 }
current-context: wharf-kube
KC
  chmod 600 "$1"
}
kubeconfig "$KUBECONFIG_ADMIN" admin
kubeconfig "$DATA/controller-manager.kubeconfig" controller-manager
kubeconfig "$DATA/scheduler.kubeconfig" scheduler
kubeconfig "$DATA/kubelet.kubeconfig" kubelet

# --- helpers -------------------------------------------------------------------------------
# Each process: own session (setsid), log in $DATA/logs, pid in $DATA/pids. No proxy for any of
# them except to loopback (NO_PROXY), so a client that would dial out dials a dead port instead.
NETENV=(HTTP_PROXY=$DEAD HTTPS_PROXY=$DEAD http_proxy=$DEAD https_proxy=$DEAD
  NO_PROXY=127.0.0.1,localhost,$POD_SUBNET no_proxy=127.0.0.1,localhost,$POD_SUBNET AWS_EC2_METADATA_DISABLED=true)
spawn() { # name command...
  local name=$1; shift
  env "${NETENV[@]}" setsid "$@" >"$DATA/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$DATA/pids/$name.pid"
}
alive() { kill -0 "$(cat "$DATA/pids/$1.pid")" 2>/dev/null; }
wait_for() { # name seconds command...: until command succeeds; fails (with the log's tail) if the process died
  local name=$1 secs=$2; shift 2
  local end=$(( $(date +%s) + secs ))
  until "$@" >/dev/null 2>&1; do
    if ! alive "$name"; then echo "$name exited; its log ($DATA/logs/$name.log):" >&2; tail -n 30 "$DATA/logs/$name.log" >&2; exit 1; fi
    if [ "$(date +%s)" -ge "$end" ]; then echo "$name: not ready after ${secs}s; its log:" >&2; tail -n 30 "$DATA/logs/$name.log" >&2; exit 1; fi
    sleep 0.5
  done
}
fail() { echo "$*" >&2; exit 1; }
trap 'echo "up.sh failed: logs in $DATA/logs; scripts/kube/down.sh removes everything" >&2' ERR

# --- network: our bridge, nothing routed off it ----------------------------------------------
if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
  ip link add "$BRIDGE" type bridge
fi
ip addr replace "$BRIDGE_IP/24" dev "$BRIDGE"
ip link set "$BRIDGE" up
echo "$BRIDGE" >"$DATA/bridge"
if command -v iptables >/dev/null && iptables -L FORWARD -n >/dev/null 2>&1; then
  # Pods have no default route anyway; this also drops anything the host would forward for them.
  iptables -C FORWARD -i "$BRIDGE" ! -o "$BRIDGE" -j DROP 2>/dev/null || iptables -I FORWARD -i "$BRIDGE" ! -o "$BRIDGE" -j DROP
  iptables -C FORWARD -o "$BRIDGE" ! -i "$BRIDGE" -j DROP 2>/dev/null || iptables -I FORWARD -o "$BRIDGE" ! -i "$BRIDGE" -j DROP
  echo yes >"$DATA/iptables"
fi
cat >"$DATA/cni/net.d/10-wharf.conflist" <<CNI
{
  "cniVersion": "0.4.0",
  "name": "wharf",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$BRIDGE",
      "isGateway": false,
      "isDefaultGateway": false,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{ "subnet": "$POD_SUBNET", "rangeStart": "$POD_RANGE_START", "rangeEnd": "198.18.0.254" }]],
        "dataDir": "$DATA/cni/ipam"
      }
    }
  ]
}
CNI
# Pods' resolv.conf: their own loopback, no DNS server off this machine.
printf 'nameserver 127.0.0.1\noptions ndots:1\n' >"$DATA/resolv.conf"

# --- etcd ----------------------------------------------------------------------------------
log "etcd (127.0.0.1:$ETCD_PORT)"
spawn etcd etcd --name wharf --data-dir "$DATA/etcd" \
  --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls "http://127.0.0.1:$((ETCD_PORT + 10))" --initial-advertise-peer-urls "http://127.0.0.1:$((ETCD_PORT + 10))" \
  --initial-cluster "wharf=http://127.0.0.1:$((ETCD_PORT + 10))" --initial-cluster-state new \
  --enable-v2=false --quota-backend-bytes=1073741824 --logger=zap
wait_for etcd 60 curl -sf "http://127.0.0.1:$ETCD_PORT/health"

# --- kube-apiserver ------------------------------------------------------------------------
log "kube-apiserver (https://127.0.0.1:$API_PORT)"
spawn kube-apiserver "$KUBE_BIN/kube-apiserver" \
  --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
  --bind-address=127.0.0.1 --secure-port="$API_PORT" --insecure-port=0 \
  --advertise-address="$BRIDGE_IP" --endpoint-reconciler-type=none \
  --service-cluster-ip-range="$SERVICE_RANGE" \
  --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction \
  --client-ca-file="$PKI/ca.crt" --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
  --kubelet-client-certificate="$PKI/apiserver-kubelet-client.crt" --kubelet-client-key="$PKI/apiserver-kubelet-client.key" \
  --kubelet-preferred-address-types=Hostname \
  --service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --allow-privileged=true --profiling=false --v=1
wait_for kube-apiserver 120 curl -sf --cacert "$PKI/ca.crt" "https://127.0.0.1:$API_PORT/readyz"

log "kubernetes Service proxy ($BRIDGE_IP:443 -> 127.0.0.1:$API_PORT)"
spawn apiserver-proxy node "$HERE/apiserver-proxy.mjs" "$BRIDGE_IP" 443 127.0.0.1 "$API_PORT"
wait_for apiserver-proxy 20 curl -sf --cacert "$PKI/ca.crt" --resolve "kubernetes.default.svc:443:$BRIDGE_IP" https://kubernetes.default.svc/readyz

# --- storage: the in-tree hostPath provisioner ------------------------------------------------
# kube-controller-manager --enable-hostpath-provisioner makes a PV for every claim of a
# StorageClass with provisioner kubernetes.io/host-path (the default one, made below once the
# API answers): a directory /tmp/hostpath_pv/<uid> (a path fixed in the plugin), removed when
# its claim is deleted (reclaim Delete; the deleter refuses anything not under /tmp/). The
# controller-manager makes and removes those directories itself, so it works on one node only.
# /tmp/hostpath_pv is a link into $DATA, so the volumes' data goes with the cluster's state.
HOSTPATH_LINK=/tmp/hostpath_pv
mkdir -p "$DATA/hostpath_pv"
if [ -L "$HOSTPATH_LINK" ]; then
  rm -f "$HOSTPATH_LINK"
elif [ -d "$HOSTPATH_LINK" ]; then
  rmdir "$HOSTPATH_LINK" 2>/dev/null || fail "$HOSTPATH_LINK exists and is not empty (another hostPath provisioner's volumes?): remove it first"
fi
ln -s "$DATA/hostpath_pv" "$HOSTPATH_LINK"
echo "$HOSTPATH_LINK" >"$DATA/hostpath_link"
# Recycling (reclaim policy Recycle) runs a pod that empties the volume; its default image
# (busybox:1.27) cannot be pulled here, so it is ours.
cat >"$DATA/pv-recycler.yaml" <<YAML
apiVersion: v1
kind: Pod
metadata: { generateName: pv-recycler-, namespace: default }
spec:
  activeDeadlineSeconds: 60
  restartPolicy: Never
  volumes: [{ name: vol }]
  containers:
    - name: pv-recycler
      image: $BUSYBOX_IMAGE
      imagePullPolicy: Never
      command: ["/bin/sh", "-c", "test -e /scrub && rm -rf /scrub/..?* /scrub/.[!.]* /scrub/* && test -z \"\$(ls -A /scrub)\" || exit 1"]
      volumeMounts: [{ name: vol, mountPath: /scrub }]
YAML

# --- controller-manager, scheduler -----------------------------------------------------------
log "kube-controller-manager, kube-scheduler"
spawn kube-controller-manager "$KUBE_BIN/kube-controller-manager" \
  --kubeconfig="$DATA/controller-manager.kubeconfig" \
  --authentication-kubeconfig="$DATA/controller-manager.kubeconfig" --authorization-kubeconfig="$DATA/controller-manager.kubeconfig" \
  --bind-address=127.0.0.1 --secure-port=0 --port=0 \
  --use-service-account-credentials=true \
  --service-account-private-key-file="$PKI/sa.key" --root-ca-file="$PKI/ca.crt" \
  --cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key" \
  --controllers='*,-cloud-node-lifecycle,-service,-route' \
  --enable-hostpath-provisioner=true --pv-recycler-pod-template-filepath-hostpath="$DATA/pv-recycler.yaml" \
  --leader-elect=false --profiling=false --v=1
spawn kube-scheduler "$KUBE_BIN/kube-scheduler" \
  --kubeconfig="$DATA/scheduler.kubeconfig" \
  --authentication-kubeconfig="$DATA/scheduler.kubeconfig" --authorization-kubeconfig="$DATA/scheduler.kubeconfig" \
  --bind-address=127.0.0.1 --secure-port=0 --port=0 --leader-elect=false --profiling=false --v=1

# --- containerd -------------------------------------------------------------------------------
log "containerd ($SOCK)"
CD="$DATA/containerd"
mkdir -p "$CD/root" "$CD/state" "$CD/opt"
# shellcheck source=../lib/containerd-config.sh
. "$HERE/../lib/containerd-config.sh"
containerd_config "$CD/root" "$CD/state" "$SOCK" "$CD/opt" "$DATA/cni/net.d" "$PAUSE_IMAGE" "$DEAD" >"$CD/config.toml"
spawn containerd containerd --config "$CD/config.toml"
wait_for containerd 60 ctr -a "$SOCK" version

# --- images: pause (sandbox) and busybox, made here from busybox-static, imported locally ---------
# make_image: scripts/lib/busybox-image.sh (scripts/cri/up.sh builds its images the same way)
. "$HERE/../lib/busybox-image.sh"
log "images $PAUSE_IMAGE, $BUSYBOX_IMAGE, $STANDIN_IMAGE"
make_image "$PAUSE_IMAGE" '["/bin/sleep"]' '["2147483647"]' "$DATA/images/pause.tar"
make_image "$BUSYBOX_IMAGE" 'null' '["/bin/sh"]' "$DATA/images/busybox.tar"
make_image "$STANDIN_IMAGE" 'null' '["/bin/sh"]' "$DATA/images/standin.tar" standin
for i in pause busybox standin; do
  ctr -a "$SOCK" -n k8s.io images import "$DATA/images/$i.tar" >/dev/null
done
ctr -a "$SOCK" -n k8s.io images label "$PAUSE_IMAGE" io.cri-containerd.pinned=pinned >/dev/null 2>&1 || true

# --- kubelet -------------------------------------------------------------------------------------
for s in "${KUBELET_SYSCTLS[@]}"; do
  v=$(sysctl -n "$s" 2>/dev/null) && echo "$s=$v"
done >"$DATA/sysctl.saved"
cat >"$DATA/kubelet.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 127.0.0.1
port: $KUBELET_PORT
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $KUBELET_HEALTHZ_PORT
tlsCertFile: $PKI/kubelet-serving.crt
tlsPrivateKeyFile: $PKI/kubelet-serving.key
authentication:
  anonymous: { enabled: false }
  webhook: { enabled: false }
  x509: { clientCAFile: $PKI/ca.crt }
authorization: { mode: AlwaysAllow }
cgroupDriver: cgroupfs
failSwapOn: false
makeIPTablesUtilChains: false
oomScoreAdj: 0
clusterDomain: cluster.local
resolvConf: $DATA/resolv.conf
volumePluginDir: $DATA/kubelet/volume-plugins
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: { memory.available: "50Mi", nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%" }
serializeImagePulls: false
maxPods: 60
YAML
log "kubelet (node $NODE_NAME, 127.0.0.1:$KUBELET_PORT)"
spawn kubelet "$KUBE_BIN/kubelet" \
  --config="$DATA/kubelet.yaml" --kubeconfig="$DATA/kubelet.kubeconfig" \
  --container-runtime=remote --container-runtime-endpoint="unix://$SOCK" --image-service-endpoint="unix://$SOCK" \
  --runtime-request-timeout=5m \
  --hostname-override="$NODE_NAME" --node-ip="$BRIDGE_IP" \
  --root-dir="$DATA/kubelet" --cert-dir="$PKI/kubelet-certs" \
  --pod-infra-container-image="$PAUSE_IMAGE" --v=1
K() { "$KUBECTL" --kubeconfig "$KUBECONFIG_ADMIN" "$@"; }
wait_for kubelet 180 bash -c "'$KUBECTL' --kubeconfig '$KUBECONFIG_ADMIN' get node '$NODE_NAME' -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status}' | grep -qx True"
log "node $NODE_NAME Ready"

# --- the default StorageClass ----------------------------------------------------------------------
K apply -f - >/dev/null <<YAML
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: wharf-hostpath
  annotations: { storageclass.kubernetes.io/is-default-class: "true" }
provisioner: kubernetes.io/host-path
reclaimPolicy: Delete
volumeBindingMode: Immediate
YAML
log "default StorageClass wharf-hostpath (kubernetes.io/host-path under $HOSTPATH_LINK -> $DATA/hostpath_pv)"

# --- a pod that runs and exits 0 -----------------------------------------------------------------
wait_for kube-controller-manager 120 bash -c "'$KUBECTL' --kubeconfig '$KUBECONFIG_ADMIN' -n default get serviceaccount default"
K -n default delete pod wharf-kube-smoke --ignore-not-found >/dev/null
K apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata: { name: wharf-kube-smoke, namespace: default }
spec:
  restartPolicy: Never
  containers:
    - name: smoke
      image: $BUSYBOX_IMAGE
      imagePullPolicy: Never
      command:
        - sh
        - -c
        - |
          set -e
          echo "pod ip: \$(hostname -i 2>/dev/null || true)"
          test -s /var/run/secrets/kubernetes.io/serviceaccount/token
          test "\$KUBERNETES_SERVICE_HOST" = "$BRIDGE_IP"
          # the API server through the kubernetes Service address (our bridge)
          test "\$(wget -q -O- --no-check-certificate "https://\$KUBERNETES_SERVICE_HOST:\$KUBERNETES_SERVICE_PORT/readyz")" = ok
          echo smoke-ok
YAML
end=$(( $(date +%s) + 120 ))
while :; do
  phase=$(K -n default get pod wharf-kube-smoke -o jsonpath='{.status.phase}' 2>/dev/null || true)
  case "$phase" in
    Succeeded) break ;;
    Failed) K -n default logs wharf-kube-smoke >&2 || true; K -n default describe pod wharf-kube-smoke >&2; fail "smoke pod failed" ;;
  esac
  [ "$(date +%s)" -lt "$end" ] || { K -n default describe pod wharf-kube-smoke >&2; fail "smoke pod not done after 120s (phase '$phase')"; }
  sleep 1
done
K -n default logs wharf-kube-smoke | grep -qx smoke-ok || fail "smoke pod: no smoke-ok in its log"
K -n default delete pod wharf-kube-smoke --wait=false >/dev/null
log "smoke pod ran and exited 0; cluster up in $(( $(date +%s) - start_time ))s"
trap - ERR
echo "$KUBECONFIG_ADMIN"
