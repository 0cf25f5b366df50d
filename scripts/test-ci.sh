#!/usr/bin/env bash
# The full check: lint, typecheck, every test (unit, Docker, Postgres, e2e),
# then one plain totals line.
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf test-output && mkdir -p test-output
pnpm exec biome check .
pnpm exec tsc -p tsconfig.json
set +e
pnpm exec vitest run --reporter=default --reporter=json --outputFile.json=test-output/vitest.json
code=$?
reports=(test-output/vitest.json)

# The Docker platform again (packages/docker), on Podman's Docker API: the executor's conformance
# suite, the provisioner's worker containers and the aggregator's discovery of them. Required in
# CI; skipped locally when no Podman service answers.
PODMAN_SOCKET="${WHARF_PODMAN_SOCKET:-/run/wharf-podman.sock}"
if curl -sf --unix-socket "$PODMAN_SOCKET" http://podman/_ping >/dev/null 2>&1; then
  echo "== the Docker backend on Podman ($PODMAN_SOCKET)"
  DOCKER_HOST="unix://$PODMAN_SOCKET" WHARF_TEST_IMAGES=0 pnpm exec vitest run packages/docker \
    --reporter=default --reporter=json --outputFile.json=test-output/vitest-podman.json
  [ $? = 0 ] || code=1
  reports+=(test-output/vitest-podman.json)
elif [ -n "${CI:-}" ]; then
  echo "no Podman service answers on $PODMAN_SOCKET (scripts/setup.sh starts one)"
  code=1
fi

# The cri executor on Debian's containerd (scripts/cri: its own socket, root and state under
# /tmp/wharf-cri, a bridge with no route off it, images built from busybox-static), started for
# this run and stopped after it. Required in CI; locally only with WHARF_CRI_REAL=1 (root).
# test/cri-real/docker-chain.test.ts runs the wharf/worker image as the docker backend's worker:
# the first vitest run above built it (its global setup does when Docker answers).
if [ -n "${CI:-}" ] || [ "${WHARF_CRI_REAL:-}" = 1 ]; then
  echo "== the cri executor on containerd (scripts/cri)"
  if endpoint=$(bash scripts/cri/up.sh 2>test-output/cri-up.log); then
    WHARF_CRI_TEST_ENDPOINT="$endpoint" pnpm exec vitest run --config test/cri-real/vitest.config.ts \
      --reporter=default --reporter=json --outputFile.json=test-output/vitest-cri.json
    [ $? = 0 ] || code=1
    reports+=(test-output/vitest-cri.json)
  else
    echo "containerd did not start (scripts/cri/up.sh):"
    tail -n 30 test-output/cri-up.log
    code=1
  fi
  bash scripts/cri/down.sh >test-output/cri-down.log 2>&1 || echo "scripts/cri/down.sh failed (test-output/cri-down.log)"
fi

# The Kubernetes tier on a real v1.20.2 control plane and kubelet (scripts/kube, see
# deploy/kubernetes/REAL-CLUSTER.md): built once per machine (~10 min cold, kept in
# /var/cache/wharf-kubernetes), started for this run and stopped after it. Required in CI;
# locally only with WHARF_KUBE_REAL=1 (it needs root and the ports and bridge it names).
if [ -n "${CI:-}" ] || [ "${WHARF_KUBE_REAL:-}" = 1 ]; then
  echo "== Kubernetes v1.20.2 on this machine (scripts/kube)"
  if bash scripts/kube/build.sh >test-output/kube-build.log 2>&1 \
    && kubeconfig=$(bash scripts/kube/up.sh 2>test-output/kube-up.log); then
    WHARF_KUBE_REAL_KUBECONFIG="$kubeconfig" pnpm exec vitest run --config test/kube-real/vitest.config.ts \
      --reporter=default --reporter=json --outputFile.json=test-output/vitest-kube.json
    [ $? = 0 ] || code=1
    reports+=(test-output/vitest-kube.json)
  else
    echo "the Kubernetes cluster was not built or did not start:"
    tail -n 30 test-output/kube-build.log test-output/kube-up.log 2>/dev/null
    code=1
  fi
  bash scripts/kube/down.sh >test-output/kube-down.log 2>&1 || echo "scripts/kube/down.sh failed (test-output/kube-down.log)"
fi

node scripts/test-summary.mjs "${reports[@]}"
summary=$?
[ "$code" = 0 ] && [ "$summary" = 0 ]
