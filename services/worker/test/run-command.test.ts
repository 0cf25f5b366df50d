import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { wharfArgs } from "@wharf/testkit";
import { afterAll, describe, expect, it } from "vitest";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");

interface Exit {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `wharf run` as a user runs it: a real child process. */
function wharfRun(args: string[], onStdout?: (text: string, kill: () => void) => void): Promise<Exit> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, wharfArgs(["run", ...args]), {
      cwd: repo,
      env: { ...process.env, WHARF_LOG_LEVEL: "error", NO_COLOR: "1" },
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

// `wharf run` keeps nothing: its scratch data dir goes when it ends, whatever the result.
const scratchDirs = () => readdirSync(os.tmpdir()).filter((n) => n.startsWith("wharf-run-"));
const scratchBefore = new Set(scratchDirs());
afterAll(() => {
  expect(scratchDirs().filter((n) => !scratchBefore.has(n))).toEqual([]);
});

describe("wharf run", () => {
  it("exits 0 for a successful build and prints prefixed logs and a summary", async () => {
    const r = await wharfRun(["examples/hello"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("[build/count] tick 3");
    expect(r.stdout).toMatch(/build \d+: SUCCESS/);
  });

  it("exits 1 when the build fails", async () => {
    const r = await wharfRun(["examples/parallel"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/broken\s+FAILED\s+3/);
  });

  it("exits 2 for an invalid file, printing positioned errors", async () => {
    const r = await wharfRun(["examples/invalid"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^\d+:\d+ \S+: /m);
  });

  it("exits 2 for an unknown stage", async () => {
    const r = await wharfRun(["examples/hello", "--stage", "nope"]);
    expect(r.code).toBe(2);
  });

  it("exits 130 on Ctrl-C and marks the running step cancelled", async () => {
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
