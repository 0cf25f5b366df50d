import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { workerEventsPath, workerTokenFor } from "@wharf/proto";
import { makePipelineRepo } from "@wharf/testkit";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { Worker } from "../src/index.js";
import { api, startTestProvisioner, type TestProvisioner, waitFor, wharfApiQuery } from "./fixture.js";
import { PIPELINE_HEADER } from "./git-repo.js";

// The worker tells the provisioner when it is ready and when its build ended. The probe here
// never answers and the safety-net poll is a minute away, so a row that goes Running and then
// Success within seconds got there by the real worker's own events.
const TOKEN = "events-token";
const KEY = "events-worker-key";
let tmp: string;
let repo: string;
let p: TestProvisioner;
let probes = 0;

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), "wharf-prov-events-"));
  repo = await makePipelineRepo(
    path.join(tmp, "repo"),
    `${PIPELINE_HEADER}\nbuild:\n  slow:\n    container:\n      image: x\n      cmds: ['echo started', 'echo done']\n`,
  );
  p = await startTestProvisioner({
    token: TOKEN,
    workerToken: KEY,
    dataDir: path.join(tmp, "data"),
    pollIntervalMs: 60_000,
    reportEvents: true,
    probe: async () => {
      probes++;
      return null;
    },
  });
});
afterAll(async () => {
  await p?.close();
  await fs.rm(tmp, { recursive: true, force: true });
});

async function workerOf(buildRef: number): Promise<Worker | undefined> {
  const res = await api(p.url, "GET", `/api/worker?buildRef=${buildRef}`, { token: TOKEN });
  return (res.json as Worker[])[0];
}

const histogramCount = async (name: string) => {
  const text = await p.provisioner.metrics.registry.metrics();
  const line = text.split("\n").find((l) => l.startsWith(`${name}_count{instance="test"}`));
  return line ? Number(line.split(" ").pop()) : 0;
};

it("a worker's ready and ended events move its row to Running, then to its result, without a probe", async () => {
  const res = await api(
    p.url,
    "POST",
    `/api/worker?${wharfApiQuery({ buildRef: 41, gitUrl: repo, token: TOKEN })}`,
  );
  expect(res.status).toBe(201);
  const worker = res.json as Worker;
  const done = await waitFor("Success", async () => {
    const w = await workerOf(41);
    return w?.status === "Success" ? w : undefined;
  });
  expect(done.finishedAt).not.toBeNull();
  // It went Running on the way (the start is measured only then) and was counted as queued.
  expect(await histogramCount("wharf_worker_start_seconds")).toBe(1);
  expect(await histogramCount("wharf_queue_wait_seconds")).toBe(1);
  // Started with the events URL, the worker was never probed (the safety net comes after 30 s).
  expect(probes).toBe(0);
  expect((await api(p.url, "DELETE", `/api/worker/${worker.workerId}`, { token: TOKEN })).status).toBe(204);
}, 60_000);

it("takes an event only with the worker's own token, and only for a live worker", async () => {
  const res = await api(
    p.url,
    "POST",
    `/api/worker?${wharfApiQuery({ buildRef: 42, gitUrl: repo, token: TOKEN })}`,
  );
  const { workerId } = res.json as Worker;
  const post = (id: string, token: string | undefined, body: unknown) =>
    api(p.url, "POST", workerEventsPath(id), { ...(token ? { token } : {}), body });
  // The provisioner's token is not the worker's, nor is another worker's.
  expect((await post(workerId, TOKEN, { event: "ready" })).status).toBe(401);
  expect((await post(workerId, workerTokenFor(KEY, "other"), { event: "ready" })).status).toBe(401);
  expect((await post(workerId, undefined, { event: "ready" })).status).toBe(401);
  expect(
    (await post(workerId, workerTokenFor(KEY, workerId), { event: "ended", status: "Weird", message: "" }))
      .status,
  ).toBe(400);
  expect((await post("nobody", workerTokenFor(KEY, "nobody"), { event: "ready" })).status).toBe(404);
  await waitFor("started", async () => (await workerOf(42))?.address);
  expect((await api(p.url, "DELETE", `/api/worker/${workerId}`, { token: TOKEN })).status).toBe(204);
  // Deleted: its late events change nothing.
  expect((await post(workerId, workerTokenFor(KEY, workerId), { event: "ready" })).status).toBe(404);
}, 60_000);

it("a worker whose events cannot reach the provisioner is probed after a few seconds, not left unprobed", async () => {
  const q = await startTestProvisioner({
    token: TOKEN,
    dataDir: path.join(tmp, "data-unreachable"),
    pollIntervalMs: 200,
  });
  try {
    // Port 9 (discard) on loopback: nothing listens, every event fails.
    q.provisioner.reportEventsTo("http://127.0.0.1:9");
    const res = await api(
      q.url,
      "POST",
      `/api/worker?${wharfApiQuery({ buildRef: 51, gitUrl: repo, token: TOKEN })}`,
    );
    expect(res.status).toBe(201);
    // Within the first-event wait plus a few rounds, far below the 30 s between probes of a
    // worker that tells its events.
    const done = await waitFor(
      "build 51 ended by probes",
      async () => {
        const r = await api(q.url, "GET", "/api/worker?buildRef=51", { token: TOKEN });
        const w = (r.json as Worker[])[0];
        return w?.status === "Success" ? w : undefined;
      },
      20_000,
    );
    expect(done.startedAt).not.toBeNull();
  } finally {
    // Its build ended, so the fixture's close leaves the worker (waiting for a Release) alone.
    for (const w of await q.backend.list()) await q.backend.delete(w.workerId);
    await q.close();
  }
});
