import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { BuildSpec } from "@wharf/executor";
import { runExecutorConformance } from "@wharf/executor/testing";
import { CriExecutor } from "@wharf/executor-cri";
import { afterAll, describe } from "vitest";
import { assertCriBuildGone, CRI_ENDPOINT, CRI_IMAGE } from "./cri-runtime.js";

/**
 * The executor conformance suite (packages/executor/testing/conformance.ts) on CriExecutor
 * against a real containerd (scripts/cri/up.sh): a pod sandbox per build, step containers from
 * a locally imported busybox, the workspace a bind-mounted host directory, output from the
 * runtime's log files; after every build no sandbox, container, directory or mount is left.
 */
// Made by the first setup (never when the suite is skipped), removed after it.
const workRoot = path.join(os.tmpdir(), `wharf-cri-conf-${process.pid}`);
const executor = new CriExecutor({ endpoint: CRI_ENDPOINT ?? "unix:///nonexistent", workRoot });

describe.skipIf(!CRI_ENDPOINT)("on a real containerd (WHARF_CRI_TEST_ENDPOINT)", () => {
  afterAll(async () => {
    executor.close();
    await fs.rm(workRoot, { recursive: true, force: true });
  });

  runExecutorConformance({
    name: "cri (containerd)",
    create: () => executor,
    image: CRI_IMAGE,
    assertBuildGone: (build: BuildSpec) => assertCriBuildGone(executor, build),
  });
});
