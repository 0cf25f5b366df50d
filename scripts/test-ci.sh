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

# The Docker backend again, on Podman's Docker API: the executor's conformance suite and the
# provisioner's worker containers. Required in CI; skipped locally when no Podman service answers.
PODMAN_SOCKET="${WHARF_PODMAN_SOCKET:-/run/wharf-podman.sock}"
if curl -sf --unix-socket "$PODMAN_SOCKET" http://podman/_ping >/dev/null 2>&1; then
  echo "== the Docker backend on Podman ($PODMAN_SOCKET)"
  DOCKER_HOST="unix://$PODMAN_SOCKET" WHARF_TEST_IMAGES=0 pnpm exec vitest run packages/executor-docker \
    packages/provisioner/test/docker-backend.test.ts \
    --reporter=default --reporter=json --outputFile.json=test-output/vitest-podman.json
  [ $? = 0 ] || code=1
  reports+=(test-output/vitest-podman.json)
elif [ -n "${CI:-}" ]; then
  echo "no Podman service answers on $PODMAN_SOCKET (scripts/setup.sh starts one)"
  code=1
fi

node scripts/test-summary.mjs "${reports[@]}"
summary=$?
[ "$code" = 0 ] && [ "$summary" = 0 ]
