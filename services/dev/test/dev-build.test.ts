import { spawn } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { wharfArgs } from "@wharf/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
let dataDir: string;

beforeAll(async () => {
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), "wharf-dev-build-"));
});
afterAll(async () => {
  await fs.rm(dataDir, { recursive: true, force: true });
});

/** `wharf build` exactly as README's first command runs it: a real process, nothing running before. */
function wharfBuild(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, wharfArgs(["build", ...args]), {
      cwd: repo,
      env: {
        ...process.env,
        WHARF_DATA_DIR: dataDir,
        // No `wharf up` answers here, so the command starts its own stack on free ports.
        WHARF_API_URL: "http://127.0.0.1:9",
        NO_COLOR: "1",
      },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

describe("wharf build (dev sink → provisioner → worker → aggregator → dev sink)", () => {
  it("runs examples/hello through all three services and prints the relayed log", async () => {
    const r = await wharfBuild(["examples/hello"]);
    expect(r.stderr).toContain("started");
    expect(r.code).toBe(0);
    const lines = r.stdout.split("\n");
    expect(lines.filter((l) => /tick \d/.test(l)).map((l) => l.replace(/^\[step \d+\] /, ""))).toEqual([
      "tick 1",
      "tick 2",
      "tick 3",
    ]);
    expect(r.stdout).toMatch(/build \d+: Completed/);
  }, 90_000);

  it("exits 1 with the build Failed when a step fails", async () => {
    const r = await wharfBuild(["examples/parallel"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("about to fail");
    expect(r.stdout).toMatch(/build \d+: Failed/);
  }, 90_000);
});
