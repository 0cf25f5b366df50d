import { spawn } from "node:child_process";
import fs from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { CREATED_BY_EXECUTOR, LABEL_CREATED_BY } from "@wharf/executor";
import { CriExecutor } from "@wharf/executor-cri";
import { wharfArgs } from "@wharf/testkit";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { CRI_DIR, CRI_ENDPOINT, mountsUnder } from "./cri-runtime.js";

/**
 * `wharf run --backend cri` (the built CLI, as a user runs it) on examples/ against the real
 * containerd: the worker's executor factory, WHARF_CRI_ENDPOINT and the bundled .proto.
 * Needs packages/cli/dist (`pnpm build`; the root test run builds it first).
 */
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const runtime = new CriExecutor({ endpoint: CRI_ENDPOINT ?? "unix:///nonexistent" });

function wharfRun(args: string[], onStdout?: (text: string, kill: () => void) => void) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, wharfArgs(["run", "--backend", "cri", ...args]), {
      cwd: repo,
      env: { ...process.env, WHARF_CRI_ENDPOINT: CRI_ENDPOINT, WHARF_LOG_LEVEL: "error", NO_COLOR: "1" },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
      onStdout?.(stdout, () => child.kill("SIGINT"));
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

describe.skipIf(!CRI_ENDPOINT)("wharf run --backend cri (WHARF_CRI_TEST_ENDPOINT)", () => {
  afterEach(async () => {
    // Whatever the build's end, the runtime keeps none of wharf's sandboxes, containers or mounts.
    expect(await runtime.findLeftovers({ [LABEL_CREATED_BY]: CREATED_BY_EXECUTOR })).toEqual({
      sandboxes: [],
      containers: [],
      buildRefs: [],
    });
    expect(await mountsUnder(CRI_DIR)).toEqual([]);
    // Nor the builds' workspaces and log files (the default work root, which `runtime` has too).
    expect(await fs.readdir(runtime.workRoot).catch(() => [])).toEqual([]);
  });
  afterAll(async () => {
    runtime.close();
    // The default work root, if the builds left it empty (rmdir refuses anything else).
    await fs.rmdir(runtime.workRoot).catch(() => undefined);
  });

  it("runs examples/hello: parallel steps in the step image, logs relayed, exit 0", async () => {
    const r = await wharfRun(["examples/hello"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("[build/count] tick 3");
    expect(r.stdout).toMatch(/\[build\/greet\] hello from \S* on /);
    expect(r.stdout).toMatch(/build \d+: SUCCESS/);
  });

  it("exits 1 when a step fails", async () => {
    const r = await wharfRun(["examples/parallel"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/broken\s+FAILED\s+3/);
  });

  it("exits 130 on Ctrl-C, the running step cancelled", async () => {
    let sent = false;
    const r = await wharfRun(["examples/parallel", "--stage", "test"], (out, kill) => {
      if (!sent && out.includes("fast done")) {
        sent = true;
        kill();
      }
    });
    expect(r.code).toBe(130);
    expect(r.stdout).toMatch(/CANCELLED/);
  });
});
