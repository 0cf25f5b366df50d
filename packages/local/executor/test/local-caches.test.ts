import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { runCacheConformance } from "@wharf/executor/testing";
import { LocalExecutor } from "@wharf/executor-local";
import { afterAll } from "vitest";

const root = await fs.mkdtemp(path.join(os.tmpdir(), "wharf-local-caches-"));
afterAll(() => fs.rm(root, { recursive: true, force: true }));

let stores = 0;
runCacheConformance({
  name: "local",
  // A store of its own per executor: the budget test sees only its own caches.
  create: (maxBytes) =>
    new LocalExecutor({
      workspaceRoot: path.join(root, "workspaces"),
      cacheDir: path.join(root, `caches-${++stores}`),
      cacheMaxBytes: maxBytes,
    }),
  image: "ignored:latest",
  cleanup: async () => {},
});
