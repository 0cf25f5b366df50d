import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createLogger } from "@wharf/config";
import { createWorkerClient } from "@wharf/worker-rpc";
import { afterEach, describe, expect, it } from "vitest";
import { compileWorkerOptions, startWorker, startWorkerHttp } from "../src/index.js";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function repoWith(yml: string): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "wharf-worker-test-"));
  cleanups.push(() => fs.rm(dir, { recursive: true, force: true }));
  await fs.writeFile(path.join(dir, ".wharf-ci.yml"), yml);
  return dir;
}

async function start(dir: string, env: Record<string, string> = {}) {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), "wharf-worker-data-"));
  cleanups.push(() => fs.rm(dataDir, { recursive: true, force: true }));
  const opts = compileWorkerOptions(
    { WHARF_BUILD_REF: "42", WHARF_SOURCE_DIR: dir, WHARF_DATA_DIR: dataDir, ...env },
    { port: 0, host: "127.0.0.1" },
  );
  const worker = await startWorker(opts, createLogger("worker-test", "silent"));
  cleanups.push(() => worker.close());
  return worker;
}

describe("worker", () => {
  it("runs the build and serves every line over gRPC, then waits to be released", async () => {
    const dir = await repoWith(`
build:
  hello:
    container:
      image: wharf-test/busybox:latest
      cmds:
        - echo "hello from \${BUILD_REF}"
        - echo "secret is $WHARF_SECRET_TOKEN_TEST"
`);
    process.env.WHARF_SECRET_TOKEN_TEST = "hunter2";
    const worker = await start(dir);
    delete process.env.WHARF_SECRET_TOKEN_TEST;
    const client = createWorkerClient(`127.0.0.1:${worker.grpcPort}`);
    try {
      const lines: string[] = [];
      for await (const batch of client.streamLogBatches(0)) lines.push(...batch.map((l) => l.message));
      expect(lines).toContain("hello from 42");
      expect(lines.some((l) => l.includes("hunter2"))).toBe(false);
      const summary = await client.summary();
      expect(summary.finished).toBe(true);
      expect(summary.status).toBe("SUCCESS");
      const http = await startWorkerHttp(worker.store, "127.0.0.1", 0);
      cleanups.push(() => http.close());
      expect((await fetch(`http://127.0.0.1:${http.port}/healthz`)).status).toBe(200);
      expect((await fetch(`http://127.0.0.1:${http.port}/readyz?x=1`)).status).toBe(200);
      expect((await fetch(`http://127.0.0.1:${http.port}/nope`)).status).toBe(404);
      const post = await fetch(`http://127.0.0.1:${http.port}/healthz`, { method: "POST" });
      expect([post.status, post.headers.get("allow")]).toEqual([405, "GET, HEAD"]);
      const metrics = await (await fetch(`http://127.0.0.1:${http.port}/metrics`)).text();
      // wharf.worker.v1.Status SUCCESS = 5
      expect(metrics).toMatch(/^wharf_worker_build_status 5$/m);
      expect(metrics).toMatch(/^wharf_worker_log_lines [1-9]\d*$/m);
      let released = false;
      void worker.released.then(() => {
        released = true;
      });
      await client.release();
      await worker.released;
      expect(released).toBe(true);
    } finally {
      client.close();
    }
  });

  it("masks password inputs learnt only after the store was already served", async () => {
    const dir = await repoWith(`
inputs:
  - name: PW
    type: password
    default: pw-default-value
build:
  show:
    container:
      image: x
      cmds: ['echo "pw=\${PW}"']
`);
    const worker = await start(dir, { VARS: "PW: s3cr3t-from-vars" });
    await worker.finished;
    const lines: string[] = [];
    for await (const batch of worker.store.followLogs(0)) lines.push(...batch.map((l) => l.message));
    expect(lines).toContain("pw=***");
    expect(lines.join("\n")).not.toContain("s3cr3t-from-vars");
  });

  it("an invalid pipeline file fails the build with a positioned message in the log", async () => {
    const dir = await repoWith("build:\n  bad:\n    container:\n      image: 3\n");
    const worker = await start(dir);
    expect(await worker.finished).toBeNull();
    const summary = worker.store.summary();
    expect(summary.status).toBe("FAILED");
    const lines: string[] = [];
    for await (const batch of worker.store.followLogs(0)) lines.push(...batch.map((l) => l.message));
    expect(lines.join("\n")).toMatch(/build could not start/);
    expect(lines.join("\n")).toMatch(/\d+:\d+ /);
  });

  it("cancel over gRPC stops a running step and ends the build CANCELLED", async () => {
    const dir = await repoWith(
      "build:\n  slow:\n    container:\n      image: x\n      cmds: ['echo started', 'sleep 60']\n",
    );
    const worker = await start(dir);
    const client = createWorkerClient(`127.0.0.1:${worker.grpcPort}`);
    try {
      for await (const batch of client.streamLogBatches(0)) {
        if (batch.some((l) => l.message === "started")) break;
      }
      await client.cancel("test cancel");
      const result = await worker.finished;
      expect(result?.status).toBe("CANCELLED");
      expect(worker.store.summary().steps[0]?.status).toBe("CANCELLED");
    } finally {
      client.close();
    }
  });

  it("stop() cancels the build, says why in its log, and serves it until Release (at most the grace)", async () => {
    const slow =
      "build:\n  slow:\n    container:\n      image: x\n      cmds: ['echo started', 'sleep 60']\n";
    const worker = await start(await repoWith(slow));
    const client = createWorkerClient(`127.0.0.1:${worker.grpcPort}`);
    try {
      for await (const batch of client.streamLogBatches(0)) {
        if (batch.some((l) => l.message === "started")) break;
      }
      let stopped = false;
      const stopping = worker.stop("deleted by the test", 30_000).then(() => {
        stopped = true;
      });
      // What an aggregator does: read to the end, then Release.
      const lines: string[] = [];
      for await (const batch of client.streamLogBatches(0)) lines.push(...batch.map((l) => l.message));
      expect(lines).toContain("cancelling the build: deleted by the test");
      expect((await client.summary()).status).toBe("CANCELLED");
      expect(stopped).toBe(false);
      await client.release();
      await stopping;
    } finally {
      client.close();
    }
    // Without a Release, the grace ends it.
    const unreleased = await start(await repoWith(slow));
    const started = Date.now();
    await unreleased.stop("deleted by the test", 300);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290); // timers may fire a little early by Date.now()
    expect((await unreleased.finished)?.status).toBe("CANCELLED");
  });
});
