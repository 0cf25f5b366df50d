import { spawn } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { wharfArgs } from "@wharf/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// A pipeline's top-level `timeout:` lowers the operator's WHARF_BUILD_TIMEOUT and never raises it:
// `wharf run` as a user runs it, on the local executor.
const PIPELINE = (timeout: string) => `timeout: ${timeout}
build:
  slow:
    container:
      image: busybox
      cmds:
        - echo started
        - sleep 600
`;

let dir: string;
beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "wharf-pipeline-timeout-"));
});
afterAll(async () => {
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

async function wharfRun(timeout: string, env: Record<string, string>) {
  const src = await fs.mkdtemp(path.join(dir, "src-"));
  await fs.writeFile(path.join(src, ".wharf-ci.yml"), PIPELINE(timeout));
  return new Promise<{ code: number | null; stdout: string }>((resolve, reject) => {
    const child = spawn(process.execPath, wharfArgs(["run", src]), {
      env: { ...process.env, WHARF_LOG_LEVEL: "error", NO_COLOR: "1", ...env },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let stdout = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout }));
  });
}

describe("the pipeline's timeout", () => {
  it("fails the build once it ran that long, below the operator's limit", async () => {
    const r = await wharfRun("2s", { WHARF_BUILD_TIMEOUT: "1h" });
    expect(r.code, r.stdout).not.toBe(0);
    expect(r.stdout).toContain("started");
    expect(r.stdout).toContain("build timed out after 2s");
    expect(r.stdout).not.toContain("is above this worker's limit");
  }, 120_000);

  it("is capped at the operator's limit, with a warning line", async () => {
    const r = await wharfRun("2h", { WHARF_BUILD_TIMEOUT: "2s" });
    expect(r.code, r.stdout).not.toBe(0);
    expect(r.stdout).toContain(
      "warning: the pipeline's timeout 2h is above this worker's limit 2s (WHARF_BUILD_TIMEOUT): the build stops after 2s",
    );
    expect(r.stdout).toContain("build timed out after 2s");
  }, 120_000);
});
