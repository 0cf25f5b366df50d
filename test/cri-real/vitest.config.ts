import { defineConfig } from "vitest/config";

// The CRI executor against a real containerd, without the root config's global setup (no wharf
// build, images or Postgres; docker-chain.test.ts needs the wharf/worker image that the root run
// builds, or scripts/build-images.sh):
//   WHARF_CRI_TEST_ENDPOINT=$(scripts/cri/up.sh) pnpm exec vitest run --config test/cri-real/vitest.config.ts
// In the root run they are collected too, and skipped without WHARF_CRI_TEST_ENDPOINT. One file
// at a time: the tests count the runtime's sandboxes and mounts, which another file would change.
export default defineConfig({
  test: {
    root: new URL("../..", import.meta.url).pathname,
    include: ["test/cri-real/**/*.test.ts"],
    pool: "forks",
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
