import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { wharfArgs } from "@wharf/testkit";
import { createWorkerClient, type WorkerClient } from "@wharf/worker-rpc";
import { afterEach, describe, expect, it } from "vitest";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const rootVersion = JSON.parse(readFileSync(path.join(repo, "package.json"), "utf8")).version;
const SLOW = "build:\n  slow:\n    container:\n      image: x\n      cmds: ['echo started', 'sleep 60']\n";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface ServedWorker {
  child: ChildProcess;
  client: WorkerClient;
  exited: Promise<number | null>;
}

/** `wharf worker serve` as a backend starts it: a real child process, the build of a slow pipeline. */
async function serve(releaseGrace: string): Promise<ServedWorker> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "wharf-serve-test-"));
  cleanups.push(() => fs.rm(dir, { recursive: true, force: true }));
  await fs.mkdir(path.join(dir, "src"));
  await fs.writeFile(path.join(dir, "src", ".wharf-ci.yml"), SLOW);
  const child = spawn(process.execPath, wharfArgs(["worker", "serve"]), {
    cwd: repo,
    env: {
      ...process.env,
      WHARF_LOG_LEVEL: "info",
      WHARF_LOG_FORMAT: "json",
      WHARF_BUILD_REF: "77",
      WHARF_SOURCE_DIR: path.join(dir, "src"),
      WHARF_DATA_DIR: path.join(dir, "data"),
      WHARF_WORKER_HOST: "127.0.0.1",
      WHARF_WORKER_PORT: "0",
      WHARF_WORKER_HTTP_PORT: "-1",
      WHARF_RELEASE_GRACE: releaseGrace,
    },
    stdio: ["ignore", "ignore", "pipe"],
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  cleanups.push(() => {
    if (child.exitCode === null) child.kill("SIGKILL");
  });
  const port = await new Promise<number>((resolve, reject) => {
    let err = "";
    child.stderr?.on("data", (d: Buffer) => {
      err += d.toString();
      const line = err.split("\n").find((l) => l.includes('"grpcPort":'));
      if (line) {
        // The compiled worker says which release and revision it is, as every service does at start.
        const serving = JSON.parse(line) as { grpcPort: number; version: string; revision: string };
        expect(serving.version).toBe(rootVersion);
        expect(serving.revision).toMatch(/^[0-9a-f]{12}(-dirty)?$/);
        resolve(serving.grpcPort);
      }
    });
    void exited.then((code) => reject(new Error(`worker exited ${code} before serving: ${err}`)));
  });
  const client = createWorkerClient(`127.0.0.1:${port}`);
  cleanups.push(() => client.close());
  for await (const batch of client.streamLogBatches(0)) {
    if (batch.some((l) => l.message === "started")) break;
  }
  return { child, client, exited };
}

describe("wharf worker serve, stopped by SIGTERM mid-build", () => {
  it("cancels the build, ignores a repeated SIGTERM, serves its log until Release, then exits 0", async () => {
    const w = await serve("60s");
    w.child.kill("SIGTERM");
    // What an aggregator does: read the log to its end, check the status, then Release.
    const lines: string[] = [];
    for await (const batch of w.client.streamLogBatches(0)) lines.push(...batch.map((l) => l.message));
    expect(lines).toContain("cancelling the build: the worker was told to stop (deleted or shut down)");
    expect((await w.client.summary()).status).toBe("CANCELLED");
    // A second SIGTERM (another provisioner replica deleting it too) must not kill it meanwhile.
    w.child.kill("SIGTERM");
    await new Promise((r) => setTimeout(r, 500));
    expect(w.child.exitCode).toBeNull();
    expect((await w.client.summary()).finished).toBe(true);
    await w.client.release();
    expect(await w.exited).toBe(0);
  }, 60_000);

  it("without a Release, exits 0 once WHARF_RELEASE_GRACE after the signal has passed", async () => {
    const w = await serve("2s");
    const signalled = Date.now();
    w.child.kill("SIGTERM");
    expect(await w.exited).toBe(0);
    // The wait counts from the signal, steps' stopping included: well before the 60 s sleep.
    expect(Date.now() - signalled).toBeGreaterThanOrEqual(1_900);
    expect(Date.now() - signalled).toBeLessThan(20_000);
  }, 60_000);
});
