/**
 * Aggregator memory with many workers: 200 workers (ResultStores served over
 * gRPC on 127.0.0.1, all in one child process), each holding a finished build
 * with a bounded log, relayed at once by one Aggregator in its own process
 * (checkpoints in a real PostgreSQL) into the wharf-api double (a third
 * process). All workers are discovered together and all are behind, the
 * worst case for the aggregator's buffers. Reports the aggregator process's
 * peak RSS (VmHWM from /proc) and the total time. Writes the "aggregator RSS"
 * section of BENCHMARKS.md.
 *
 *   pnpm exec tsx bench/aggregator-rss.ts [workers] [lines per worker]   (default 200 5000)
 */
import { openDatabase } from "@wharf/db";
import { startPostgres } from "@wharf/testkit";
import {
  type AggregatorRun,
  type BenchProcess,
  fmt,
  machineLine,
  publishSection,
  withBenchProcesses,
} from "./relay-bench-processes.js";

const WORKERS = Number(process.argv[2] ?? 200);
const LINES = Number(process.argv[3] ?? 5000);
const BUILD_BASE = 920_000;
const TIME_LIMIT_MS = 5 * 60_000;
const GOAL_MB = 300;

const MEMORY_NOTES = [
  "What bounds it: the aggregator keeps worker lines as the wire bytes of the worker's messages (no string or",
  "object per line); grpc-js reads 16 messages ahead on every stream, so each relay asks its worker for messages",
  "of at most `readAheadBytes` (32 MiB) / (33 × workers relayed) bytes (StreamLogBatches `max_batch_bytes`:",
  "~5 KB each with 200 workers, 256 KiB with one), and at most 16 CreateLogStream calls are in flight at once.",
  "The idle process no longer loads PGlite (~45 MB) when it runs on Postgres, nor dockerode when it does not",
  "discover through Docker, and the bench's aggregator child loads only what an aggregator loads. What is left",
  "of the idle figure is Node, tsx's loader thread (~38 MB: the services run TypeScript from source), grpc-js,",
  "pg and protobufjs. At the start of this work the same bench peaked at 586 MB; before this round, 473 MB.",
];

const mb = (bytes: number) => Math.round(bytes / 2 ** 20);

/** Samples the process's RSS every 100 ms until `until` settles; returns the highest sample. */
async function sampleRss(p: BenchProcess, until: Promise<unknown>): Promise<number> {
  let highest = 0;
  let settled = false;
  void until.finally(() => {
    settled = true;
  });
  while (!settled) {
    highest = Math.max(highest, (await p.rss()).now);
    await new Promise((r) => setTimeout(r, 100));
  }
  return highest;
}

const SLOW_API_MS = 50;

type Measured = { ms: number; idleMb: number; peakMb: number; atPeak: NodeJS.MemoryUsage };

/** One relay of every worker from nothing, into a double that holds each call `delayMs`. */
async function measure(dbUrl: string, addresses: string[], delayMs: number): Promise<Measured> {
  const db = await openDatabase({ url: dbUrl });
  await db.query("DELETE FROM relay_checkpoint").catch(() => {});
  await db.query("DELETE FROM relay_lease").catch(() => {});
  await db.close();
  return withBenchProcesses(["double", "aggregator"], async (double, agg) => {
    const api = await double.call<{ url: string }>("open", delayMs);
    const run: AggregatorRun = {
      dbUrl,
      apiUrl: api.url,
      workers: addresses.map((address, i) => ({
        workerId: `rss-${i}`,
        buildId: BUILD_BASE + i,
        address,
        status: "running",
      })),
    };
    const idle = await agg.rss();
    const relayed = agg.call<number>("relay", run, TIME_LIMIT_MS);
    await sampleRss(agg, relayed);
    const ms = await relayed;
    const rss = await agg.rss();
    const atPeak = await agg.call<NodeJS.MemoryUsage>("memoryAtPeak");
    const bad = await double.call<number>(
      "check",
      run.workers.map((w) => w.buildId),
      LINES,
    );
    if (bad !== 0) throw new Error(`${bad} builds got lines out of order, duplicated or missing`);
    return { ms, idleMb: idle.now / 2 ** 20, peakMb: rss.peak / 2 ** 20, atPeak };
  });
}

const pg = await startPostgres();
try {
  const { fillMs, fast, slow } = await withBenchProcesses(["workers"], async (workers) => {
    const addresses = await workers.call<string[]>("open", WORKERS, BUILD_BASE);
    const fillStart = performance.now();
    await workers.call("fill", LINES);
    const fillMs = performance.now() - fillStart;
    return {
      fillMs,
      fast: await measure(pg.url, addresses, 0),
      slow: await measure(pg.url, addresses, SLOW_API_MS),
    };
  });
  const total = WORKERS * LINES;
  const worst = Math.max(fast.peakMb, slow.peakMb);
  const met = worst <= GOAL_MB ? "met" : "not met";
  const row = (label: string, f: (m: Measured) => string) => `| ${label} | ${f(fast)} | ${f(slow)} |`;
  publishSection(
    [
      "## aggregator RSS",
      "",
      `\`pnpm exec tsx bench/aggregator-rss.ts\` — ${WORKERS} workers (ResultStore + worker gRPC server on 127.0.0.1,`,
      `all in one child process), each with a finished build of ${fmt(LINES)} lines of 80 bytes, relayed at once by one`,
      "Aggregator in its own process (checkpoints in a local PostgreSQL) into the wharf-api double (a third process).",
      "Every worker is behind from the start, the worst case for the aggregator's buffers; then the same again with",
      `a slow wharf-api, which holds every call and request ${SLOW_API_MS} ms, so lines wait in the aggregator.`,
      "",
      `| aggregator process | wharf-api answering at once | wharf-api holding each call ${SLOW_API_MS} ms |`,
      "| --- | ---: | ---: |",
      row("RSS before the relay (started, idle)", (m) => `${Math.round(m.idleMb)} MB`),
      row("peak RSS (VmHWM)", (m) => `${Math.round(m.peakMb)} MB`),
      row(`${WORKERS} workers relayed and released`, (m) => `${(m.ms / 1000).toFixed(1)} s`),
      row(`lines delivered (${fmt(total)} in all)`, (m) => `${fmt((total / m.ms) * 1000)} lines/s`),
      row(
        "at the highest RSS sampled: V8 heap used / total",
        (m) => `${mb(m.atPeak.heapUsed)} / ${mb(m.atPeak.heapTotal)} MB`,
      ),
      row(
        "at the highest RSS sampled: buffers (arrayBuffers) / external",
        (m) => `${mb(m.atPeak.arrayBuffers)} / ${mb(m.atPeak.external)} MB`,
      ),
      "",
      `Goal peak RSS ≤ ${GOAL_MB} MB: ${met} (${Math.round(worst)} MB at most). Every build's lines arrived once and in order.`,
      "",
      ...MEMORY_NOTES,
      "",
      `${machineLine()}. Filling the stores took ${Math.round(fillMs)} ms (not counted).`,
      "",
    ].join("\n"),
  );
} finally {
  await pg.stop();
}
