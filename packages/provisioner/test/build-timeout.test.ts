import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { readWorkerEnv } from "@wharf/proto/worker-env";
import { makePipelineRepo } from "@wharf/testkit";
import { createWorkerClient } from "@wharf/worker-rpc";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Worker } from "../src/index.js";
import { api, startTestProvisioner, type TestProvisioner, waitFor, wharfApiQuery } from "./fixture.js";
import { SLEEPING_PIPELINE } from "./git-repo.js";

// The provisioner's build timeout (WHARF_BUILD_TIMEOUT, here 2 s) reaches the real worker child
// process through the worker env contract, and a build that outlasts it fails, saying so in its log.
let tmp: string;
let sleeping: string;
let p: TestProvisioner;

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), "wharf-prov-timeout-"));
  sleeping = await makePipelineRepo(path.join(tmp, "sleeping"), SLEEPING_PIPELINE);
  p = await startTestProvisioner({
    maxWorkers: 1,
    dataDir: path.join(tmp, "data"),
    local: { buildTimeoutMs: 2_000 },
  });
});
afterAll(async () => {
  await p?.close();
  await fs.rm(tmp, { recursive: true, force: true });
});

async function workerOf(buildRef: number): Promise<Worker | undefined> {
  const res = await api(p.url, "GET", `/api/worker?buildRef=${buildRef}`);
  return (res.json as Worker[])[0];
}

/** The environment the worker process really runs with (Linux: /proc/<pid>/environ). */
async function processEnv(workerId: string): Promise<Record<string, string>> {
  const state = JSON.parse(
    await fs.readFile(path.join(tmp, "data/workers", workerId, "worker.json"), "utf8"),
  );
  const environ = await fs.readFile(`/proc/${state.pid}/environ`, "utf8");
  return Object.fromEntries(
    environ
      .split("\0")
      .filter(Boolean)
      .map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]),
  );
}

describe("WHARF_BUILD_TIMEOUT on the local backend", () => {
  it("fails a build that runs longer, with the reason in its log", async () => {
    const res = await api(p.url, "POST", `/api/worker?${wharfApiQuery({ buildRef: 31, gitUrl: sleeping })}`);
    expect(res.status).toBe(201);
    const running = await waitFor("worker started", async () => {
      const w = await workerOf(31);
      return w?.address ? w : undefined;
    });
    expect(readWorkerEnv(await processEnv(running.workerId)).buildTimeoutMs).toBe(2_000);

    const done = await waitFor(
      "build 31 ended",
      async () => {
        const w = await workerOf(31);
        return w && ["Success", "Failed", "Cancelled"].includes(w.status) ? w : undefined;
      },
      60_000,
    );
    expect(done.status).toBe("Failed");
    expect(done.message).toMatch(/build timed out after 2s/);

    const client = createWorkerClient(done.address as string);
    try {
      const lines: string[] = [];
      for await (const entry of client.streamLogs(0)) lines.push(entry.message);
      // The step printed before the limit, then the engine stopped it and said why.
      expect(lines).toContain("started");
      expect(lines.some((l) => /build timed out after 2s/.test(l))).toBe(true);
    } finally {
      client.close();
    }
  }, 90_000);
});
