import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { wharfArgs } from "@wharf/testkit";
import { createWorkerClient } from "@wharf/worker-rpc";
import { afterEach, describe, expect, it } from "vitest";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

/** `wharf run examples/hello --serve --port 0 [...extra]`: the child, its exit, the gRPC port and the stdout so far. */
function runServed(extra: string[] = []) {
  const child = spawn(
    process.execPath,
    wharfArgs(["run", "examples/hello", "--serve", "--port", "0", ...extra]),
    {
      cwd: repo,
      env: { ...process.env, WHARF_LOG_LEVEL: "error", NO_COLOR: "1" },
    },
  );
  cleanups.push(() => {
    if (child.exitCode === null) child.kill("SIGKILL");
  });
  const out = { stdout: "", stderr: "" };
  child.stdout.on("data", (d: Buffer) => {
    out.stdout += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const port = new Promise<number>((resolve, reject) => {
    child.stderr.on("data", (d: Buffer) => {
      out.stderr += d.toString();
      const m = /serving build results over gRPC on [^\s:]+:(\d+)/.exec(out.stderr);
      if (m) resolve(Number(m[1]));
    });
    void exited.then((code) => reject(new Error(`wharf run exited ${code} before serving: ${out.stderr}`)));
  });
  return { child, exited, port, out };
}

async function until(cond: () => boolean, what: string, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("wharf run --serve", () => {
  it("keeps serving after the build: a client connecting then gets every line and the final status; Ctrl-C exits with the build's code", async () => {
    const r = runServed();
    const port = await r.port;
    await until(() => r.out.stderr.includes("build finished; still serving"), "the build to finish");
    expect(r.out.stdout).toMatch(/build \d+: SUCCESS/);
    // Connects only now, after the build ended.
    const client = createWorkerClient(`127.0.0.1:${port}`);
    cleanups.push(() => client.close());
    const lines: string[] = [];
    for await (const batch of client.streamLogBatches(0)) lines.push(...batch.map((l) => l.message));
    for (const tick of ["tick 1", "tick 2", "tick 3"]) expect(lines).toContain(tick);
    // Every line the terminal showed for the steps, and no more.
    const printed = r.out.stdout
      .split("\n")
      .filter((l) => /^\[build\/(greet|count)\] /.test(l))
      .map((l) => l.replace(/^\[[^\]]+\] /, ""));
    expect(printed.length).toBeGreaterThan(0);
    for (const l of printed) expect(lines).toContain(l);
    const summary = await client.summary();
    expect(summary).toMatchObject({ status: "SUCCESS", finished: true });
    expect(r.child.exitCode).toBeNull();
    r.child.kill("SIGINT");
    expect(await r.exited).toBe(0);
  }, 60_000);

  it("--exit-after-build stops serving and exits when the build ends", async () => {
    const r = runServed(["--exit-after-build"]);
    await r.port;
    expect(await r.exited).toBe(0);
    expect(r.out.stderr).not.toContain("still serving");
  }, 60_000);
});
