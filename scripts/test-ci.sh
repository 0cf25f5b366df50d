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
node scripts/test-summary.mjs test-output/vitest.json
summary=$?
[ "$code" = 0 ] && [ "$summary" = 0 ]
