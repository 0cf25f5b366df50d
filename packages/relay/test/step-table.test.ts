import { startWharfApiDouble, type WharfApiDouble } from "@wharf/testkit";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Aggregator, BuildRecordStore, WharfApiClient } from "../src/index.js";
import {
  ListedWorkers,
  quietLog,
  startTestWorker,
  type TestWorker,
  useRelayDatabase,
  waitFor,
} from "./support.js";

// The step table the aggregator keeps for the build page: real gRPC workers, real Postgres,
// the wharf-api double.
const relayDb = useRelayDatabase("relay_steps");

let api: WharfApiDouble;
let directory: ListedWorkers;
const cleanups: (() => Promise<void> | void)[] = [];
beforeEach(async () => {
  api = await startWharfApiDouble({ token: "api-token" });
  directory = new ListedWorkers();
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await api.close();
});

let nextBuildId = 300;
async function worker(): Promise<TestWorker> {
  const w = await startTestWorker(nextBuildId++);
  cleanups.push(() => w.close());
  w.store.setSteps([
    { stepId: 1, stage: "test", name: "unit" },
    { stepId: 2, stage: "test", name: "broken" },
    { stepId: 3, stage: "package", name: "tarball" },
  ]);
  return w;
}

function aggregator(): void {
  const client = new WharfApiClient({ url: api.url, token: "api-token", requestTimeoutMs: 5_000 });
  const agg = new Aggregator({
    db: relayDb.db,
    directory,
    api: client,
    log: quietLog,
    leaseTtlMs: 3_000,
    discoveryIntervalMs: 100,
    workerLostGraceMs: 1_500,
    tuning: { retryBaseDelayMs: 20, retryMaxDelayMs: 300 },
  });
  agg.start();
  cleanups.push(async () => {
    await agg.stop();
    client.close();
  });
}

describe("the step table of a relayed build", () => {
  it("is kept live while relaying and stays complete once the worker is released", async () => {
    const store = new BuildRecordStore(relayDb.db);
    const w = await worker();
    const t0 = Date.UTC(2026, 0, 2, 3, 4, 5);
    w.store.appendStatus(0, "RUNNING", t0);
    w.store.appendStatus(1, "SCHEDULING", t0);
    w.store.appendStatus(1, "RUNNING", t0 + 1_000);
    w.store.appendLog(1, "hello");
    directory.add(w);
    aggregator();

    // Live: the running step has a start and no end; steps not begun are PENDING.
    await waitFor("the running step recorded", async () => {
      const r = await store.get(w.buildId);
      return r?.steps.find((s) => s.stepId === 1)?.status === "RUNNING";
    });
    const live = await store.get(w.buildId);
    expect(live?.build).toMatchObject({ status: "RUNNING", finished: false, startedAt: t0 });
    expect(live?.steps.map((s) => [s.stage, s.name, s.status])).toEqual([
      ["test", "unit", "RUNNING"],
      ["test", "broken", "PENDING"],
      ["package", "tarball", "PENDING"],
    ]);
    expect(live?.steps[0]).toMatchObject({ startedAt: t0 + 1_000, finishedAt: null });

    w.store.appendStatus(1, "SUCCESS", t0 + 3_000);
    w.store.recordStepResult(1, { exitCode: 0, attempts: 1 });
    // A retried step: its clock runs from its first start to its last end.
    w.store.appendStatus(2, "RUNNING", t0 + 1_000);
    w.store.appendStatus(2, "FAILED", t0 + 2_000);
    w.store.appendStatus(2, "RUNNING", t0 + 2_500);
    w.store.recordStepResult(2, { exitCode: 3, attempts: 2 });
    w.store.appendStatus(2, "FAILED", t0 + 4_000);
    w.store.appendStatus(3, "CANCELLED", t0 + 4_000);
    await w.store.finish("FAILED", "step broken failed");
    await w.released;
    await waitFor("the worker removed", () => directory.removed.includes(w.workerId));

    const done = await store.get(w.buildId);
    expect(done?.build).toMatchObject({
      buildId: w.buildId,
      workerId: w.workerId,
      status: "FAILED",
      finished: true,
      message: "step broken failed",
      startedAt: t0,
    });
    expect(done?.build.finishedAt).toBeGreaterThanOrEqual(t0 + 4_000);
    // The wharf-api double knows no branch or project of the build.
    expect(done?.build).toMatchObject({ branch: null, projectId: null });
    expect(done?.steps).toEqual([
      {
        stepId: 1,
        stage: "test",
        name: "unit",
        status: "SUCCESS",
        attempts: 1,
        exitCode: 0,
        startedAt: t0 + 1_000,
        finishedAt: t0 + 3_000,
      },
      {
        stepId: 2,
        stage: "test",
        name: "broken",
        status: "FAILED",
        attempts: 2,
        exitCode: 3,
        startedAt: t0 + 1_000,
        finishedAt: t0 + 4_000,
      },
      {
        stepId: 3,
        stage: "package",
        name: "tarball",
        status: "CANCELLED",
        attempts: 0,
        exitCode: null,
        startedAt: null,
        finishedAt: t0 + 4_000,
      },
    ]);
  });

  it("lists the newest builds first, filtered by status", async () => {
    const store = new BuildRecordStore(relayDb.db);
    const base = { workerId: "w", finished: false, message: "", startedAt: null, finishedAt: null };
    await store.save({ ...base, buildId: 7001, status: "SUCCESS", finished: true }, []);
    await store.save({ ...base, buildId: 7002, status: "RUNNING", branch: "main", projectId: 12 }, []);
    await store.save({ ...base, buildId: 7003, status: "FAILED", finished: true }, []);
    // A later save of an older build does not move it up.
    await store.save({ ...base, buildId: 7001, status: "SUCCESS", finished: true }, []);
    const refs = async (statuses?: ("SUCCESS" | "RUNNING" | "FAILED")[]) =>
      (await store.recent({ limit: 50, ...(statuses ? { statuses } : {}) }))
        .map((b) => b.buildId)
        .filter((id) => id > 7000 && id < 7010);
    expect(await refs()).toEqual([7003, 7002, 7001]);
    expect(await refs(["SUCCESS", "FAILED"])).toEqual([7003, 7001]);
    expect((await store.get(7002))?.build).toMatchObject({ branch: "main", projectId: 12 });
    expect(await store.recent({ limit: 1 })).toHaveLength(1);
    expect(await store.get(7999)).toBeNull();
  });
});
