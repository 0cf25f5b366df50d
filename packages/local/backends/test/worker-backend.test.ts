import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Worker } from "@wharf/provisioner";
import {
  api,
  FAILING_PIPELINE,
  PASSING_PIPELINE,
  startTestProvisioner,
  type TestProvisioner,
  waitFor,
  wharfApiQuery,
} from "@wharf/provisioner/testing";
import { makePipelineRepo } from "@wharf/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// End to end with the real worker (`wharf worker serve`, local executor): each
// build is a child process that clones a local git repo and runs its pipeline.
const TOKEN = "e2e-token";
let tmp: string;
let passing: string;
let failing: string;
let p: TestProvisioner;

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), "wharf-prov-e2e-"));
  passing = await makePipelineRepo(path.join(tmp, "passing"), PASSING_PIPELINE);
  failing = await makePipelineRepo(path.join(tmp, "failing"), FAILING_PIPELINE);
  p = await startTestProvisioner({ token: TOKEN, maxWorkers: 1, dataDir: path.join(tmp, "data") });
});
afterAll(async () => {
  await p?.close();
  await fs.rm(tmp, { recursive: true, force: true });
});

async function workerOf(buildRef: number): Promise<Worker | undefined> {
  const res = await api(p.url, "GET", `/api/worker?buildRef=${buildRef}`, { token: TOKEN });
  return (res.json as Worker[])[0];
}

const finished = (buildRef: number) =>
  waitFor(
    `build ${buildRef} finished`,
    async () => {
      const w = await workerOf(buildRef);
      return w && ["Success", "Failed", "Cancelled"].includes(w.status) ? w : undefined;
    },
    60_000,
  );

describe("local backend with the real worker", () => {
  it("runs the build wharf-api asks for, queues the next one behind it, and reports both", async () => {
    const first = await api(
      p.url,
      "POST",
      `/api/worker?${wharfApiQuery({ buildRef: 1, gitUrl: passing, token: TOKEN })}`,
    );
    expect(first.status).toBe(201);
    // max 1: the second build waits in the queue while the first runs.
    const second = await api(
      p.url,
      "POST",
      `/api/worker?${wharfApiQuery({ buildRef: 2, gitUrl: failing, token: TOKEN })}`,
    );
    expect(second.status).toBe(201);
    expect((await workerOf(2))?.status).toBe("Queued");

    const done = await finished(1);
    expect(done).toMatchObject({ status: "Success", address: expect.stringMatching(/^127\.0\.0\.1:\d+$/) });
    expect(done.startedAt).not.toBeNull();
    expect(done.finishedAt).not.toBeNull();

    // The slot is free once the first build finished (its worker still serves results).
    const failed = await finished(2);
    expect(failed.status).toBe("Failed");
    expect(new Date(failed.startedAt as string).getTime()).toBeGreaterThanOrEqual(
      new Date(done.finishedAt as string).getTime(),
    );

    const missing = await api(p.url, "POST", "/api/worker/missing", {
      token: TOKEN,
      body: { buildRefs: [1, 2, 3] },
    });
    expect((missing.json as { results: unknown[] }).results).toEqual([
      expect.objectContaining({ buildRef: 1, live: false, reason: "finished", status: "Success" }),
      expect.objectContaining({ buildRef: 2, live: false, reason: "finished", status: "Failed" }),
      { buildRef: 3, live: false, reason: "never-seen" },
    ]);

    // The worker's stdout/stderr go to a file under the data dir (empty here: loggers are silent in tests).
    expect((await fs.stat(path.join(tmp, "data/workers", done.workerId, "worker.log"))).isFile()).toBe(true);

    // DELETE stops the worker process (it was waiting to be released) and removes it.
    expect((await api(p.url, "DELETE", `/api/worker/${done.workerId}`, { token: TOKEN })).status).toBe(204);
    expect((await p.backend.list()).map((w) => w.workerId)).not.toContain(done.workerId);
    await expect(fs.stat(path.join(tmp, "data/workers", done.workerId))).rejects.toThrow();
  });
});
