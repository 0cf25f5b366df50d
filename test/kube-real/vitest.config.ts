import { defineConfig } from "vitest/config";

// The real-cluster tests alone, without the root config's global setup (no wharf build, images
// or Postgres: they need none):
//   WHARF_KUBE_REAL_KUBECONFIG=$(scripts/kube/up.sh) pnpm exec vitest run --config test/kube-real/vitest.config.ts
// In the root run they are collected too, and skipped without WHARF_KUBE_REAL_KUBECONFIG.
export default defineConfig({
  test: {
    root: new URL("../..", import.meta.url).pathname,
    include: ["test/kube-real/**/*.test.ts"],
    pool: "forks",
    testTimeout: 240_000,
    hookTimeout: 60_000,
  },
});
