import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { freePort, startWharfApiDouble, type WharfApiDouble } from "@wharf/testkit";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Aggregator, type AggregatorOptions, WharfApiClient } from "../src/index.js";
import { shortError } from "../src/worker-relay.js";
import {
  ListedWorkers,
  quietLog,
  startTestWorker,
  type TestWorker,
  useRelayDatabase,
  waitFor,
  writeLines,
} from "./support.js";

// Real gRPC workers (ResultStore + the worker's server on 127.0.0.1), real
// Postgres, and the wharf-api double speaking the real protocol.
const relayDb = useRelayDatabase("relay_agg");

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

let nextBuildId = 100;
async function worker(): Promise<TestWorker> {
  const w = await startTestWorker(nextBuildId++);
  cleanups.push(() => w.close());
  return w;
}

function aggregator(extra: Partial<AggregatorOptions> = {}): Aggregator {
  const client = new WharfApiClient({ url: api.url, token: "api-token", requestTimeoutMs: 5_000 });
  const agg = new Aggregator({
    db: relayDb.db,
    directory,
    api: client,
    log: quietLog,
    leaseTtlMs: 3_000,
    discoveryIntervalMs: 100,
    workerLostGraceMs: 1_500,
    tuning: { retryBaseDelayMs: 20, retryMaxDelayMs: 300, logBatchLines: 500 },
    ...extra,
  });
  agg.start();
  cleanups.push(async () => {
    await agg.stop();
    client.close();
  });
  return agg;
}

const buildId = (w: TestWorker) => w.buildId;

/** Step 1 of `w` records a small artifact file `name`. */
async function addTextArtifact(w: TestWorker, name: string): Promise<void> {
  const file = path.join(await fs.mkdtemp(path.join(os.tmpdir(), "relay-art-")), name);
  cleanups.push(() => fs.rm(path.dirname(file), { recursive: true, force: true }));
  await fs.writeFile(file, "artifact bytes");
  await w.store.addArtifact(1, name, file);
}
const ids = (w: TestWorker) => api.logsFor(buildId(w)).map((l) => l.workerLogId);
const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

describe("Aggregator", () => {
  it("relays every line once and in order, the build status forward only, artifacts byte-identical", async () => {
    const w = await worker();
    w.store.appendStatus(0, "RUNNING");
    w.store.appendStatus(1, "RUNNING");
    writeLines(w.store, 1, 1500);
    directory.add(w);
    aggregator();
    await waitFor("first lines", () => ids(w).length > 0);
    // Step-level statuses wobble; the build's must not.
    w.store.appendStatus(1, "SUCCESS");
    w.store.appendStatus(2, "RUNNING");
    w.store.appendStatus(2, "FAILED");
    writeLines(w.store, 1501, 2500);
    const file = path.join(await fs.mkdtemp(path.join(os.tmpdir(), "relay-art-")), "app.bin");
    cleanups.push(() => fs.rm(path.dirname(file), { recursive: true, force: true }));
    const bytes = Buffer.from(Array.from({ length: 200_000 }, (_, i) => (i * 7) % 256));
    await fs.writeFile(file, bytes);
    await w.store.addArtifact(2, "app.bin", file);
    await w.store.finish("SUCCESS");

    await w.released;
    await waitFor("worker removed", () => directory.removed.includes(w.workerId));
    expect(ids(w)).toEqual(range(4000));
    expect(api.logsFor(buildId(w))[3999]?.message).toBe("line 4000");
    expect(api.statusesFor(buildId(w))).toEqual(["Running", "Completed"]);
    expect(api.artifacts).toHaveLength(1);
    expect(api.artifacts[0]?.fileName).toBe("app.bin");
    expect(api.artifacts[0]?.bytes.equals(bytes)).toBe(true);
  });

  it("delivers everything after wharf-api was down, failing and slow, without duplicates", async () => {
    const w = await worker();
    w.store.appendStatus(0, "RUNNING");
    writeLines(w.store, 1, 1000);
    directory.add(w);
    aggregator();
    await waitFor("first lines", () => ids(w).length >= 1000);
    await api.goDown();
    writeLines(w.store, 1001, 3000);
    // Give the relay time to hit the outage (bounded, condition-free on purpose: nothing to observe while down).
    await new Promise((r) => setTimeout(r, 500));
    await api.comeUp();
    api.failNext(3);
    api.setDelayMs(20);
    writeLines(w.store, 4001, 1000);
    await w.store.finish("FAILED", "step 2 exited with 1");
    await w.released;
    expect(ids(w)).toEqual(range(5000));
    expect(api.statusesFor(buildId(w))).toEqual(["Running", "Failed"]);
  });

  it("reopens a lagging worker's stream with smaller messages once many more workers are relayed", async () => {
    const first = await worker();
    writeLines(first.store, 1, 20_000);
    await first.store.finish("SUCCESS");
    // The others are made ready first and listed at once: making them while the first one is
    // relayed would let a loaded machine finish it before they come.
    const others = await Promise.all(Array.from({ length: 9 }, () => worker()));
    for (const w of others) {
      writeLines(w.store, 1, 100);
      await w.store.finish("SUCCESS");
    }
    directory.add(first);
    api.setDelayMs(30); // slow calls: the first worker is still behind when the others come
    aggregator();
    await waitFor("first lines", () => ids(first).length > 0);
    for (const w of others) directory.add(w);
    await first.released;
    for (const w of others) await w.released;
    // Opened alone with the largest messages, then reopened with at most half of that.
    const [opened, ...reopened] = first.logStreamBytes;
    expect(opened).toBe(256 * 1024);
    expect(reopened.length).toBeGreaterThan(0);
    expect(Math.min(...reopened)).toBeLessThanOrEqual((opened ?? 0) / 2);
    expect(ids(first)).toEqual(range(20_000));
    for (const w of others) expect(ids(w)).toEqual(range(100));
  });

  it("skips what wharf-api stored of a batch that was cut midway", async () => {
    const w = await worker();
    writeLines(w.store, 1, 3000);
    await w.store.finish("SUCCESS");
    // Pretend a previous holder died after wharf-api stored the first 700 lines of a batch.
    const client = new WharfApiClient({ url: api.url, token: "api-token" });
    await client.sendLogBatch(
      range(700).map((n) => ({
        buildId: buildId(w),
        workerLogId: n,
        workerStepId: (n % 3) + 1,
        timestamp: new Date(),
        message: `line ${n}`,
      })),
    );
    client.close();
    directory.add(w);
    aggregator();
    await w.released;
    expect(ids(w)).toEqual(range(3000));
  });

  it("two aggregators on one Postgres: each worker once; a stopped replica's workers are taken over", async () => {
    const workers = await Promise.all([worker(), worker(), worker(), worker()]);
    for (const w of workers) {
      w.store.appendStatus(0, "RUNNING");
      writeLines(w.store, 1, 500);
      directory.add(w);
    }
    const a = aggregator({ holder: "replica-a" });
    const b = aggregator({ holder: "replica-b" });
    await waitFor("all workers taken", () => a.relaying.length + b.relaying.length === 4);
    expect(new Set([...a.relaying, ...b.relaying]).size).toBe(4);
    // One replica stops the way a crashed one does: its leases are left to expire.
    const [victim, survivor] = a.relaying.length > 0 ? [a, b] : [b, a];
    const taken = victim.relaying;
    await victim.stop({ releaseLeases: false });
    for (const w of workers) writeLines(w.store, 501, 500);
    for (const w of workers) await w.store.finish("SUCCESS");
    await Promise.all(workers.map((w) => w.released));
    for (const w of workers) expect(ids(w)).toEqual(range(1000));
    for (const w of workers) expect(api.statusesFor(buildId(w))).toEqual(["Running", "Completed"]);
    await waitFor("all workers removed", () => workers.every((w) => directory.removed.includes(w.workerId)));
    await waitFor("survivor idle", () => survivor.relaying.length === 0);
    expect(taken.length).toBeGreaterThan(0);
  });

  it("finishes the build against a wharf-api without the routes that count artifacts and lines", async () => {
    await api.close();
    api = await startWharfApiDouble({
      token: "api-token",
      without: ["GET /api/build/{id}/artifacts", "GET /api/build/{id}/log"],
    });
    const w = await worker();
    w.store.appendStatus(0, "RUNNING");
    writeLines(w.store, 1, 300);
    await addTextArtifact(w, "out.txt");
    await w.store.finish("SUCCESS");
    directory.add(w);
    aggregator();
    await waitFor("worker removed", () => directory.removed.includes(w.workerId));
    expect(ids(w)).toEqual(range(300));
    expect(api.artifacts.map((a) => a.fileName)).toEqual(["out.txt"]);
    expect(api.statusesFor(buildId(w))).toEqual(["Running", "Completed"]);
    // The provisioner is told how it ended: it may not have seen the result before the release.
    expect(directory.outcomes.get(w.workerId)).toBe("Success");
  });

  it("a permanent refusal ends the build's relay loudly: no endless retry, a line in its log, Failed, worker removed", async () => {
    // A wharf-api (or a proxy in front of it) without the artifact upload answers 404 for good.
    await api.close();
    api = await startWharfApiDouble({ token: "api-token", without: ["POST /api/build/{id}/artifact"] });
    const counted: string[] = [];
    const w = await worker();
    w.store.appendStatus(0, "RUNNING");
    writeLines(w.store, 1, 200);
    await addTextArtifact(w, "out.txt");
    await w.store.finish("SUCCESS");
    directory.add(w);
    const agg = aggregator({ metrics: { count: (c) => void counted.push(c) } });
    await waitFor("worker removed", () => directory.removed.includes(w.workerId));
    await waitFor("relay over", () => agg.relaying.length === 0);
    const lines = api.logsFor(buildId(w));
    expect(lines.slice(0, 200).map((l) => l.workerLogId)).toEqual(range(200));
    expect(lines).toHaveLength(201);
    expect(lines[200]?.message).toMatch(
      /^\[wharf\] wharf-api refused the artifact out\.txt \(POST .*HTTP 404/,
    );
    expect(api.statusesFor(buildId(w))).toEqual(["Running", "Failed"]);
    expect(directory.outcomes.get(w.workerId)).toBe("Failed");
    expect(counted.filter((c) => c === "relays_refused")).toHaveLength(1);
    expect(counted).not.toContain("delivery_retries");
    // Released: the worker let go of its results, and the relay is not taken up again.
    await w.released;
    await new Promise((r) => setTimeout(r, 500));
    expect(api.logsFor(buildId(w))).toHaveLength(201);
  });

  it("a worker that failed to start: the directory's diagnosis reaches the build log line by line, Failed", async () => {
    const id = nextBuildId++;
    const workerId = `nostart-${id}`;
    directory.workers.set(workerId, {
      workerId,
      buildId: id,
      address: null,
      status: "failed",
      message: "Init:Error\nclone log (exit 128):\nfatal: repository '/srv/git/app' not exported",
    });
    aggregator();
    await waitFor("build failed", () => api.statusesFor(id).includes("Failed"));
    expect(api.logsFor(id).map((l) => [l.workerLogId, l.message])).toEqual([
      [
        1,
        `[wharf] worker ${workerId} failed to start: Init:Error. The build is marked Failed. ` +
          "Log lines up to 0 were delivered; anything the worker wrote after that is lost.",
      ],
      [2, "[wharf]   clone log (exit 128):"],
      [3, "[wharf]   fatal: repository '/srv/git/app' not exported"],
    ]);
    await waitFor("worker removed", () => directory.removed.includes(workerId));
  });

  it("a build cancelled before its worker started gets a line and Failed, not Scheduling for good", async () => {
    const id = nextBuildId++;
    const workerId = `queued-${id}`;
    directory.workers.set(workerId, { workerId, buildId: id, address: null, status: "starting" });
    const agg = aggregator();
    await new Promise((r) => setTimeout(r, 400)); // listed, without an address: nothing to relay yet
    expect(agg.relaying).toEqual([]);
    expect(api.logsFor(id)).toEqual([]);
    directory.workers.delete(workerId); // wharf-api's cancel: DELETE /api/worker/{id}
    await waitFor("build failed", () => api.statusesFor(id).includes("Failed"));
    expect(api.logsFor(id).map((l) => l.message)).toEqual([
      `[wharf] worker ${workerId} failed to start: it was removed before it started (the build was cancelled). ` +
        "The build is marked Failed. Log lines up to 0 were delivered; anything the worker wrote after that is lost.",
    ]);
    expect(api.statusesFor(id)).toEqual(["Failed"]);
  });

  it("tells a developer why a worker was lost without gRPC's notes or this aggregator's addresses", () => {
    const err = Object.assign(new Error("14 UNAVAILABLE: x"), {
      details:
        "No connection established. Last error: connect ECONNREFUSED 127.0.0.1:46789 (2026-12-03T10:00:00.000Z). " +
        "Resolution note: connection to [::1]:5010 failed",
    });
    expect(shortError(err)).toBe("No connection established. Last error: connect ECONNREFUSED the worker.");
  });

  it("a quick build whose worker refused the first connection (still starting) is relayed, not lost", async () => {
    // The provisioner may report a fast build finished before the aggregator's first connection
    // got through: that worker is starting, not gone, and keeps serving until released.
    const port = await freePort();
    const id = nextBuildId++;
    const workerId = `late-${id}`;
    directory.workers.set(workerId, {
      workerId,
      buildId: id,
      address: `127.0.0.1:${port}`,
      status: "finished",
    });
    aggregator();
    await new Promise((r) => setTimeout(r, 400)); // the relay's first dial was refused
    const w = await startTestWorker(id, { port });
    cleanups.push(() => w.close());
    w.store.appendStatus(0, "RUNNING");
    writeLines(w.store, 1, 50);
    await w.store.finish("SUCCESS");
    await waitFor("build completed", () => api.statusesFor(id).includes("Completed"));
    expect(api.logsFor(id).map((l) => l.workerLogId)).toEqual(range(50));
    expect(api.statusesFor(id)).toEqual(["Running", "Completed"]);
  });

  it("a worker killed mid-build: lines up to the kill, one diagnostic line, build Failed once", async () => {
    const w = await worker();
    w.store.appendStatus(0, "RUNNING");
    writeLines(w.store, 1, 800);
    directory.add(w);
    aggregator();
    await waitFor("lines before the kill", () => ids(w).length === 800);
    await w.kill();
    await waitFor("build failed", () => api.statusesFor(buildId(w)).includes("Failed"));
    const lines = api.logsFor(buildId(w));
    expect(lines.slice(0, 800).map((l) => l.workerLogId)).toEqual(range(800));
    expect(lines).toHaveLength(801);
    expect(lines[800]?.workerLogId).toBe(801);
    expect(lines[800]?.message).toMatch(/stopped answering/);
    expect(api.statusesFor(buildId(w))).toEqual(["Running", "Failed"]);
    await waitFor("worker removed", () => directory.removed.includes(w.workerId));
  });
});
