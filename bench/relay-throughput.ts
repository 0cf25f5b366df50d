/**
 * Relay throughput: 1M 80-byte lines of one step, from a worker's ResultStore
 * through the worker's gRPC server, the Aggregator (checkpoints in a real
 * PostgreSQL) and wharf-api's CreateLogStream (the wharf-api double), measured
 * in lines/s against raw grpc-js batched streaming of the same store in the
 * same run; plus live latency (p50/p99) at 1k lines/s. Writes the
 * "relay throughput" section of BENCHMARKS.md.
 *
 *   pnpm exec tsx bench/relay-throughput.ts [lines]     (default 1000000)
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createLogger } from "@wharf/config";
import { openDatabase } from "@wharf/db";
import { Aggregator, type LiveWorker, migrateRelay, WharfApiClient, WorkerConnection } from "@wharf/relay";
import { ResultStore } from "@wharf/result-store";
import { startPostgres, startWharfApiDouble } from "@wharf/testkit";
import { startWorkerRpcServer } from "@wharf/worker-rpc";

const LINES = Number(process.argv[2] ?? 1_000_000);
const LINE = "x".repeat(70);
const TIME_LIMIT_MS = 5 * 60_000;
const log = createLogger("bench", "silent");

async function withWorker<T>(
  buildRef: string,
  fn: (store: ResultStore, address: string) => Promise<T>,
): Promise<T> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "bench-relay-"));
  const store = await ResultStore.open(dir, { buildRef });
  const server = await startWorkerRpcServer({ store, host: "127.0.0.1", port: 0, shutdownGraceMs: 0 });
  try {
    return await fn(store, `127.0.0.1:${server.port}`);
  } finally {
    await server.close();
    await store.close();
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/** Exactly 80 bytes per line: a 10-digit counter and 70 filler bytes. */
function fill(store: ResultStore, from: number, n: number): void {
  for (let i = from; i < from + n; i++) store.appendLog(1, `${String(i).padStart(10, "0")}${LINE}`);
}

async function rawGrpc(address: string): Promise<number> {
  const conn = new WorkerConnection(address);
  const start = performance.now();
  let n = 0;
  for await (const batch of conn.streamLogBatches(0, 1000)) n += batch.lines.length;
  const ms = performance.now() - start;
  conn.close();
  if (n !== LINES) throw new Error(`raw stream gave ${n} lines, want ${LINES}`);
  return (n / ms) * 1000;
}

type Relayed = { linesPerSec: number; ms: number; rssMb: number };

async function relayEndToEnd(
  dbUrl: string,
  address: string,
  buildRef: string,
  batchLines: number,
): Promise<Relayed> {
  const api = await startWharfApiDouble();
  const db = await openDatabase({ url: dbUrl });
  await migrateRelay(db);
  const client = new WharfApiClient({ url: api.url });
  const worker: LiveWorker = { workerId: `bench-${buildRef}`, buildRef, address, status: "running" };
  const agg = new Aggregator({
    db,
    api: client,
    log,
    directory: { kind: "bench", list: async () => [worker], remove: async () => {} },
    discoveryIntervalMs: 50,
    tuning: { logBatchLines: batchLines },
  });
  let peakRss = 0;
  const start = performance.now();
  agg.start();
  const deadline = Date.now() + TIME_LIMIT_MS;
  while (api.logs.length < LINES) {
    if (Date.now() > deadline) throw new Error(`relay did not finish in ${TIME_LIMIT_MS} ms`);
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
    await new Promise((r) => setTimeout(r, 20));
  }
  const ms = performance.now() - start;
  await agg.stop();
  client.close();
  await db.close();
  const ids = api.logs.map((l) => l.workerLogId);
  if (!ids.every((id, i) => id === i + 1)) throw new Error("lines arrived out of order or duplicated");
  await api.close();
  return { linesPerSec: (LINES / ms) * 1000, ms, rssMb: peakRss / 2 ** 20 };
}

async function liveLatency(dbUrl: string): Promise<{ p50: number; p99: number; max: number; n: number }> {
  return withWorker("900001", async (store, address) => {
    const api = await startWharfApiDouble();
    const db = await openDatabase({ url: dbUrl });
    const client = new WharfApiClient({ url: api.url });
    const worker: LiveWorker = { workerId: "bench-live", buildRef: "900001", address, status: "running" };
    const agg = new Aggregator({
      db,
      api: client,
      log,
      directory: { kind: "bench", list: async () => [worker], remove: async () => {} },
      discoveryIntervalMs: 50,
    });
    agg.start();
    // 1k lines/s for 5 s, in 10-line bursts every 10 ms.
    const total = 5000;
    for (let i = 0; i < total; i += 10) {
      for (let j = 0; j < 10; j++) store.appendLog(1, `live ${i + j}`, Date.now());
      await new Promise((r) => setTimeout(r, 10));
    }
    const deadline = Date.now() + 30_000;
    while (api.logs.length < total && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await agg.stop();
    client.close();
    await db.close();
    const latencies = api.logs.map((l) => l.receivedAt - l.timestamp.getTime()).sort((a, b) => a - b);
    await api.close();
    const at = (q: number) =>
      latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
    return { p50: at(0.5), p99: at(0.99), max: latencies.at(-1) ?? NaN, n: latencies.length };
  });
}

const pg = await startPostgres();
try {
  const results = await withWorker("900000", async (store, address) => {
    const fillStart = performance.now();
    fill(store, 1, LINES);
    await store.finish("SUCCESS");
    const fillMs = performance.now() - fillStart;
    const raw = await rawGrpc(address);
    const relayed = [];
    for (const batch of [2000, 5000]) {
      relayed.push({ batch, ...(await relayEndToEnd(pg.url, address, "900000", batch)) });
      // A fresh checkpoint table for the next run: drop what the previous one wrote.
      const db = await openDatabase({ url: pg.url });
      await db.query("DELETE FROM relay_checkpoint");
      await db.query("DELETE FROM relay_lease");
      await db.close();
    }
    return { fillMs, raw, relayed };
  });
  const live = await liveLatency(pg.url);
  const section = [
    "## relay throughput",
    "",
    `\`pnpm exec tsx bench/relay-throughput.ts\` — ${LINES.toLocaleString("en")} lines of 80 bytes from one step,`,
    "stored in a ResultStore (written before the clock starts), served by the worker's gRPC server on 127.0.0.1,",
    "relayed by one Aggregator (checkpoints in a local PostgreSQL) to the wharf-api double's `CreateLogStream`",
    "(gRPC h2c, one message per line, as wharf-api's protocol has it). One process, one run.",
    "",
    "| path | lines/s | vs raw |",
    "| --- | ---: | ---: |",
    `| raw grpc-js: \`StreamLogBatches\` (1000 lines/message) read by a client, nothing else | ${fmt(results.raw)} | 1.00× |`,
    ...results.relayed.map(
      (r) =>
        `| end to end: worker → aggregator → wharf-api, ${r.batch} lines per CreateLogStream call | ${fmt(r.linesPerSec)} | ${(r.linesPerSec / results.raw).toFixed(2)}× |`,
    ),
    "",
    `Live latency at 1k lines/s (5,000 lines, line timestamp → stored at the double): p50 ${live.p50} ms,`,
    `p99 ${live.p99} ms, max ${live.max} ms (${live.n} lines). Peak RSS of the whole bench process (store, worker`,
    `server, aggregator and a double holding every line) during the relay: ${results.relayed.map((r) => `${Math.round(r.rssMb)} MB`).join(" / ")}.`,
    "",
    "Where the time goes: wharf-api's protocol is one gRPC message per line, and the double (a grpc-js server",
    "decoding and recording each message) shares the 2 cores with the worker, the aggregator and Postgres.",
    "The aggregator writes each batch as one run of length-prefixed frames over HTTP/2 (grpc-js's per-message",
    "writes alone capped the relay near 20k lines/s); checkpointing is one UPDATE per batch. The goals",
    "(≥ 500k lines/s, ≥ 0.4× raw) are not met in this setup; the 200-worker RSS run is not part of this bench yet.",
    "",
    `Measured ${new Date().toISOString().slice(0, 10)} on Node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model.trim() ?? "cpu"},`,
    `load average ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(" ")}. Filling the store took ${Math.round(results.fillMs)} ms (not counted).`,
    "",
  ].join("\n");
  process.stdout.write(`${section}\n`);
  const file = path.resolve(fileURLToPath(import.meta.url), "../../BENCHMARKS.md");
  const current = existsSync(file) ? readFileSync(file, "utf8") : "# Benchmarks\n";
  writeFileSync(file, replaceSection(current, "## relay throughput", section));
} finally {
  await pg.stop();
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString("en");
}

/** Replaces our section (up to the next `## `), or appends it; other sections stay as they are. */
function replaceSection(doc: string, heading: string, section: string): string {
  const lines = doc.split("\n");
  const start = lines.findIndex((l) => l.trim() === heading);
  if (start === -1) return `${doc.replace(/\n*$/, "\n\n")}${section}`;
  let end = lines.findIndex((l, i) => i > start && l.startsWith("## "));
  if (end === -1) end = lines.length;
  return [...lines.slice(0, start), ...section.trimEnd().split("\n"), "", ...lines.slice(end)].join("\n");
}
