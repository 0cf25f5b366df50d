import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs/promises";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createTestDatabase, type TestDatabase } from "@wharf/db";
import { workerTokenFor } from "@wharf/proto";
import { ResultStore } from "@wharf/result-store";
import { freePort, startWharfApiDouble, type WharfApiDouble, waitFor, wharfArgs } from "@wharf/testkit";
import { startWorkerRpcServer, type WorkerRpcServer } from "@wharf/worker-rpc";
import { afterAll, afterEach, beforeAll, expect, inject, it } from "vitest";

// The aggregator as a real process (kill -9 and restart), real Postgres, a real
// worker gRPC server, the wharf-api double, and a stand-in for the
// provisioner's GET/DELETE /api/worker contract.
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");

let testDb: TestDatabase;
beforeAll(async () => {
  testDb = await createTestDatabase(inject("pgUrl"), "agg_proc");
});
afterAll(async () => {
  await testDb.drop();
});

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

// The provisioner's worker JSON: the build id is a number under its wire name `buildRef`.
type Listed = { workerId: string; buildRef: number; status: string; address: string | null };
async function startProvisionerStandIn(workers: Listed[], removed: string[]) {
  const server = http.createServer((req, res) => {
    if (req.headers.authorization !== "Bearer prov-token") return void res.writeHead(401).end();
    if (req.method === "GET" && req.url === "/api/worker") {
      res.writeHead(200, { "content-type": "application/json" });
      return void res.end(JSON.stringify(workers));
    }
    // DELETE /api/worker/{id}[?outcome=…]
    const del = req.method === "DELETE" ? req.url?.match(/^\/api\/worker\/([^?]+)/) : null;
    if (del?.[1]) {
      removed.push(decodeURIComponent(del[1]));
      workers.splice(0, workers.length, ...workers.filter((w) => w.workerId !== del[1]));
      return void res.writeHead(204).end();
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  cleanups.push(() => new Promise((r) => server.close(r)));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

function spawnAggregator(env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, wharfArgs(["aggregator", "serve"]), {
    cwd: repo,
    env: { ...process.env, ...env, WHARF_LOG_LEVEL: "warn" },
    stdio: ["ignore", "ignore", "inherit"],
  });
  cleanups.push(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
  return child;
}

let api: WharfApiDouble;
it("kill -9 mid-stream and restart: every line exactly once, in order; health, readiness and metrics", async () => {
  api = await startWharfApiDouble({ token: "api-token" });
  cleanups.push(() => api.close());
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "agg-proc-"));
  cleanups.push(() => fs.rm(dir, { recursive: true, force: true }));
  const store = await ResultStore.open(dir, { buildRef: "42" });
  cleanups.push(() => store.close().catch(() => {}));
  let released = false;
  const server: WorkerRpcServer = await startWorkerRpcServer({
    store,
    host: "127.0.0.1",
    port: 0,
    // The worker's own token, derived from the key the aggregator is given (WHARF_WORKER_TOKEN).
    token: workerTokenFor("worker-key", "w42"),
    onRelease: () => {
      released = true;
    },
    shutdownGraceMs: 0,
  });
  cleanups.push(() => server.close());
  const workers: Listed[] = [
    { workerId: "w42", buildRef: 42, status: "Running", address: `127.0.0.1:${server.port}` },
  ];
  const removed: string[] = [];
  const provisionerUrl = await startProvisionerStandIn(workers, removed);
  const port = await freePort();
  const env = {
    WHARF_API_URL: api.url,
    WHARF_API_TOKEN: "api-token",
    DATABASE_URL: testDb.url,
    WHARF_PROVISIONER_URL: provisionerUrl,
    WHARF_PROVISIONER_TOKEN: "prov-token",
    WHARF_WORKER_TOKEN: "worker-key",
    WHARF_AGGREGATOR_HOST: "127.0.0.1",
    WHARF_AGGREGATOR_PORT: String(port),
    WHARF_LEASE_TTL: "2s",
    WHARF_DISCOVERY_INTERVAL: "200ms",
    WHARF_LOG_BATCH_LINES: "200",
  };

  store.appendStatus(0, "RUNNING");
  const total = 30_000;
  let written = 0;
  const writeSome = (n: number) => {
    for (let i = 0; i < n && written < total; i++) store.appendLog((written % 3) + 1, `line ${++written}`);
  };
  writeSome(25_000);
  const first = spawnAggregator(env);
  await waitFor("delivery under way", () => api.logsFor(42).length >= 2_000);
  first.kill("SIGKILL");
  await new Promise((r) => first.once("exit", r));
  const deliveredBeforeKill = api.logsFor(42).length;
  expect(deliveredBeforeKill).toBeLessThan(total);

  writeSome(total);
  await store.finish("SUCCESS");
  spawnAggregator(env);
  const base = `http://127.0.0.1:${port}`;
  await waitFor("health", () =>
    fetch(`${base}/healthz`).then(
      (r) => r.ok,
      () => false,
    ),
  );
  await waitFor("ready", async () => (await fetch(`${base}/readyz`)).status === 200);
  await waitFor("worker released and removed", () => released && removed.includes("w42"), 60_000);

  const ids = api.logsFor(42).map((l) => l.workerLogId);
  expect(ids.length).toBe(total);
  expect(ids.every((id, i) => id === i + 1)).toBe(true);
  expect(api.statusesFor(42)).toEqual(["Running", "Completed"]);
  // The worker is gone: the aggregator's log download now comes from wharf-api's copy.
  const text = await (await fetch(`${base}/api/builds/42/logs?format=text`)).text();
  const lines = text.split("\n").filter((l) => l.includes("line "));
  expect(lines).toHaveLength(total);
  expect(lines[0]).toMatch(/ line 1$/);
  expect(lines.at(-1)).toMatch(new RegExp(` line ${total}$`));
  const metrics = await (await fetch(`${base}/metrics`)).text();
  expect(metrics).toMatch(/wharf_aggregator_log_lines_delivered_total \d+/);
  expect(metrics).toMatch(/wharf_aggregator_workers_finished_total 1/);
}, 120_000);
