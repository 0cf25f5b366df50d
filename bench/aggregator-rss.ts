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
  "Where the memory goes: the idle aggregator process is already ~150 MB (Node, tsx's loader thread, grpc-js,",
  "pg, protobufjs). Heap sampling at the peak found ~75–120 MB of live data, nearly all decoded worker lines:",
  "each lagging worker holds what grpc-js read ahead (16 `StreamLogBatches` messages) plus the batch being",
  "delivered. The rest is V8 letting garbage pile up under a high allocation rate (heap ~260 MB, ~200 MB used)",
  "and ~100 MB of buffers (HTTP/2 chunks, encoded frames). At the start of this work the same bench peaked",
  "at 586 MB (the worker proto parsed per connection, two-pass protobuf decoding, an object and a Date per",
  "line, 1000-line worker messages). Still to do for ≤ 300 MB: a process-wide budget of lines held across",
  "workers (less read-ahead each when many lag), or reading `StreamLogBatches` over raw HTTP/2 with explicit",
  "demand instead of grpc-js's 16-message read-ahead; a V8 heap cap (`--max-old-space-size`) on the",
  "aggregator process would also trade GC time for RSS.",
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

const pg = await startPostgres();
try {
  const result = await withBenchProcesses(
    ["workers", "double", "aggregator"],
    async (workers, double, agg) => {
      const addresses = await workers.call<string[]>("open", WORKERS, BUILD_BASE);
      const fillStart = performance.now();
      await workers.call("fill", LINES);
      const fillMs = performance.now() - fillStart;
      const api = await double.call<{ url: string }>("open");
      const run: AggregatorRun = {
        dbUrl: pg.url,
        apiUrl: api.url,
        workers: addresses.map((address, i) => ({
          workerId: `rss-${i}`,
          buildRef: String(BUILD_BASE + i),
          address,
          status: "running",
        })),
      };
      const idle = await agg.rss();
      const relayed = agg.call<number>("relay", run, TIME_LIMIT_MS);
      const sampledPeak = await sampleRss(agg, relayed);
      const ms = await relayed;
      const rss = await agg.rss();
      const atPeak = await agg.call<NodeJS.MemoryUsage>("memoryAtPeak");
      const bad = await double.call<number>(
        "check",
        run.workers.map((w) => Number(w.buildRef)),
        LINES,
      );
      if (bad !== 0) throw new Error(`${bad} builds got lines out of order, duplicated or missing`);
      return {
        fillMs,
        ms,
        idleMb: idle.now / 2 ** 20,
        peakMb: rss.peak / 2 ** 20,
        sampledPeakMb: sampledPeak / 2 ** 20,
        atPeak,
      };
    },
  );
  const total = WORKERS * LINES;
  const met = result.peakMb <= GOAL_MB ? "met" : "not met";
  publishSection(
    [
      "## aggregator RSS",
      "",
      `\`pnpm exec tsx bench/aggregator-rss.ts\` — ${WORKERS} workers (ResultStore + worker gRPC server on 127.0.0.1,`,
      `all in one child process), each with a finished build of ${fmt(LINES)} lines of 80 bytes, relayed at once by one`,
      "Aggregator in its own process (checkpoints in a local PostgreSQL) into the wharf-api double (a third process).",
      "Every worker is behind from the start, the worst case for the aggregator's buffers.",
      "",
      "| aggregator process | value |",
      "| --- | ---: |",
      `| RSS before the relay (started, idle) | ${Math.round(result.idleMb)} MB |`,
      `| peak RSS (VmHWM) | ${Math.round(result.peakMb)} MB |`,
      `| ${WORKERS} workers relayed and released | ${(result.ms / 1000).toFixed(1)} s |`,
      `| lines delivered (${fmt(total)} in all) | ${fmt((total / result.ms) * 1000)} lines/s |`,
      `| at the highest RSS sampled in-process: V8 heap used / total | ${mb(result.atPeak.heapUsed)} / ${mb(result.atPeak.heapTotal)} MB |`,
      `| at the highest RSS sampled in-process: buffers (arrayBuffers) / external | ${mb(result.atPeak.arrayBuffers)} / ${mb(result.atPeak.external)} MB |`,
      "",
      `Goal peak RSS ≤ ${GOAL_MB} MB: ${met}. Every build's lines arrived once and in order.`,
      "",
      ...MEMORY_NOTES,
      "",
      `${machineLine()}. Filling the stores took ${Math.round(result.fillMs)} ms (not counted).`,
      "",
    ].join("\n"),
  );
} finally {
  await pg.stop();
}
