import { defineConfig } from "vitest/config";

// One vitest run covers every package; each test file runs in its own fork so
// child processes, sockets and temp dirs are cleaned up per file.
export default defineConfig({
  test: {
    include: [
      "packages/*/test/**/*.test.ts",
      "packages/{cri,docker,kubernetes,local}/*/test/**/*.test.ts",
      "services/*/test/**/*.test.ts",
      "test/**/*.test.ts",
    ],
    pool: "forks",
    testTimeout: 30_000,
    hookTimeout: 60_000,
    globalSetup: ["test/global-setup.ts"],
    reporters: ["default"],
  },
});
