/**
 * Relay throughput: 1M 80-byte lines of one step, from a worker's ResultStore
 * through the worker's gRPC server, the Aggregator (checkpoints in a real
 * PostgreSQL) and wharf-api's CreateLogStream (the wharf-api double), measured
 * in lines/s against raw grpc-js batched streaming of the same store in the
 * same run; plus live latency (p50/p99) at 1k lines/s. Worker, double and
 * aggregator (or the raw reader) each run in their own process, as the
 * services do. Writes the "relay throughput" section of BENCHMARKS.md.
 *
 *   pnpm exec tsx bench/relay-throughput.ts [lines] [rounds]     (default 1000000 3)
 *
 * WHARF_BENCH_PROF=<dir> writes a CPU profile per process; WHARF_BENCH_DRY=1 only prints.
 */
import { openDatabase } from "@wharf/db";
import { defaultRelayTuning, type RelayTuning } from "@wharf/relay";
import { startPostgres } from "@wharf/testkit";
import {
  type AggregatorRun,
  type BenchProcess,
  fmt,
  machineLine,
  publishSection,
  withBenchProcesses,
} from "./relay-bench-processes.js";

const LINES = Number(process.argv[2] ?? 1_000_000);
const ROUNDS = Number(process.argv[3] ?? 3);
const BUILD_ID = 900000;
const TIME_LIMIT_MS = 5 * 60_000;
/** Every path reads worker messages of this many lines, the relay's default. */
const MESSAGE_LINES = defaultRelayTuning.workerBatchLines;

/** CPU time (user + system) each process spent per line while the lines were relayed, in µs. */
type CpuPerLine = { worker: number; aggregator: number; double: number };

type Path = {
  label: string;
  run(
    dbUrl: string,
    address: string,
    workers: BenchProcess,
  ): Promise<{ linesPerSec: number; rssMb?: number; cpu?: CpuPerLine }>;
};

async function cpuMicros(p: BenchProcess): Promise<number> {
  const u = await p.call<NodeJS.CpuUsage>("cpu");
  return u.user + u.system;
}

const read = (via: "grpc-js" | "relay") => async (_db: string, address: string) =>
  withBenchProcesses(["aggregator"], async (reader) => {
    const start = performance.now();
    const n = await reader.call<number>("read", [address], MESSAGE_LINES, via);
    const ms = performance.now() - start;
    if (n !== LINES) throw new Error(`${via} read gave ${n} lines, want ${LINES}`);
    return { linesPerSec: (n / ms) * 1000 };
  });

const relay =
  (tuning: Partial<RelayTuning>) => async (dbUrl: string, address: string, workers: BenchProcess) => {
    // Every run starts from nothing: no checkpoint, no lease.
    const db = await openDatabase({ url: dbUrl });
    await db.query("DELETE FROM relay_checkpoint").catch(() => {});
    await db.query("DELETE FROM relay_lease").catch(() => {});
    await db.close();
    return withBenchProcesses(["double", "aggregator"], async (double, agg) => {
      const api = await double.call<{ url: string }>("open");
      const run: AggregatorRun = {
        dbUrl,
        apiUrl: api.url,
        workers: [{ workerId: `bench-${BUILD_ID}`, buildId: BUILD_ID, address, status: "running" }],
        tuning,
      };
      const procs = [workers, agg, double];
      const before = await Promise.all(procs.map(cpuMicros));
      // Until the aggregator removed the worker: every line acknowledged, checkpointed, worker released.
      const ms = await agg.call<number>("relay", run, TIME_LIMIT_MS);
      const [worker, aggregator, wharfApi] = (await Promise.all(procs.map(cpuMicros))).map(
        (after, i) => (after - (before[i] ?? 0)) / LINES,
      );
      const bad = await double.call<number>("check", [BUILD_ID], LINES);
      if (bad !== 0) throw new Error("lines arrived out of order, duplicated or missing");
      return {
        linesPerSec: (LINES / ms) * 1000,
        rssMb: (await agg.rss()).peak / 2 ** 20,
        cpu: { worker: worker ?? NaN, aggregator: aggregator ?? NaN, double: wharfApi ?? NaN },
      };
    });
  };

const PATHS: Path[] = [
  {
    label: `raw grpc-js: \`StreamLogBatches\` (${MESSAGE_LINES} lines/message) read by a plain grpc-js client, nothing else`,
    run: read("grpc-js"),
  },
  { label: "the aggregator's worker reader alone (`WorkerConnection`, its own decoder)", run: read("relay") },
  {
    label: `end to end: worker → aggregator → wharf-api, default tuning (≤ ${defaultRelayTuning.logBatchLines} lines per call, ${MESSAGE_LINES}-line worker messages)`,
    run: relay({}),
  },
  {
    label: "end to end, the earlier defaults (≤ 5000 lines per call, 1000-line worker messages)",
    run: relay({ logBatchLines: 5000, workerBatchLines: 1000 }),
  },
];

async function liveLatency(
  dbUrl: string,
): Promise<{ p50: number; p99: number; max: number; n: number; firstLineMs: number }> {
  return withBenchProcesses(["workers", "double", "aggregator"], async (workers, double, agg) => {
    const [address] = await workers.call<string[]>("open", 1, 900001);
    const api = await double.call<{ url: string }>("open");
    const run: AggregatorRun = {
      dbUrl,
      apiUrl: api.url,
      workers: [{ workerId: "bench-live", buildId: 900001, address: address ?? "", status: "running" }],
    };
    const relayed = agg.call<number>("relay", run, 60_000);
    // Live means the relay already follows the build: one line first, and the clock starts once it arrived
    // (else the aggregator's start-up — discovery, lease, first connection — counts as the first lines' latency).
    const warmStart = performance.now();
    await workers.call("appendOne", "warm-up");
    for (let tries = 0; (await double.call<number>("count")) < 1; tries++) {
      if (tries > 1000) throw new Error("the warm-up line never arrived");
      await new Promise((r) => setTimeout(r, 10));
    }
    const firstLineMs = Math.round(performance.now() - warmStart);
    // 1k lines/s for 5 s, in 10-line bursts every 10 ms; the build finishes after the last.
    await workers.call("live", 5000, 10, 10);
    await relayed;
    const latencies = await double.call<number[]>("latencies", 1);
    const at = (q: number) =>
      latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
    return { p50: at(0.5), p99: at(0.99), max: latencies.at(-1) ?? NaN, n: latencies.length, firstLineMs };
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

const pg = await startPostgres();
try {
  const measured = await withBenchProcesses(["workers"], async (workers) => {
    const [address] = await workers.call<string[]>("open", 1, BUILD_ID);
    if (!address) throw new Error("no worker address");
    const fillStart = performance.now();
    await workers.call("fill", LINES);
    const fillMs = performance.now() - fillStart;
    const samples = PATHS.map(() => ({
      rates: [] as number[],
      rss: [] as number[],
      cpu: [] as CpuPerLine[],
    }));
    // Rounds interleave the paths, so load from elsewhere on the machine hits them alike.
    for (let round = 0; round < ROUNDS; round++) {
      for (const [i, p] of PATHS.entries()) {
        const r = await p.run(pg.url, address, workers);
        samples[i]?.rates.push(r.linesPerSec);
        if (r.rssMb !== undefined) samples[i]?.rss.push(r.rssMb);
        if (r.cpu) samples[i]?.cpu.push(r.cpu);
        process.stderr.write(`round ${round + 1}: ${fmt(r.linesPerSec)} lines/s — ${p.label}\n`);
      }
    }
    return { fillMs, samples };
  });
  const live = await liveLatency(pg.url);
  const raw = median(measured.samples[0]?.rates ?? []);
  const e2e = median(measured.samples[2]?.rates ?? []);
  const e2eCpuSamples = measured.samples[2]?.cpu ?? [];
  const e2eCpu = median(e2eCpuSamples.map((c) => c.worker + c.aggregator + c.double)).toFixed(1);
  const rows = PATHS.map((p, i) => {
    const s = measured.samples[i] ?? { rates: [], rss: [], cpu: [] };
    const m = median(s.rates);
    const spread = `${fmt(Math.min(...s.rates))}–${fmt(Math.max(...s.rates))}`;
    const rss = s.rss.length ? `${Math.round(Math.max(...s.rss))} MB` : "";
    const cpuOf = (k: keyof CpuPerLine) => median(s.cpu.map((c) => c[k])).toFixed(2);
    const cpu = s.cpu.length ? `${cpuOf("worker")} / ${cpuOf("aggregator")} / ${cpuOf("double")}` : "";
    return `| ${p.label} | ${fmt(m)} | ${spread} | ${(m / raw).toFixed(2)}× | ${rss} | ${cpu} |`;
  });
  publishSection(
    [
      "## relay throughput",
      "",
      `\`pnpm exec tsx bench/relay-throughput.ts\` — ${fmt(LINES)} lines of 80 bytes from one step,`,
      "stored in a ResultStore (written before the clock starts), served by the worker's gRPC server on 127.0.0.1,",
      "relayed by one Aggregator (checkpoints in a local PostgreSQL) to the wharf-api double's `CreateLogStream`",
      "(gRPC h2c, one message per line, as wharf-api's protocol has it). Worker, double and aggregator (or reader)",
      `each run in their own process. ${ROUNDS} rounds, the paths interleaved; median, range, and the aggregator's`,
      "peak RSS. End to end is timed until the aggregator removed the worker (all acknowledged and checkpointed).",
      "",
      "| path | lines/s (median) | range | vs raw | aggregator peak RSS | CPU µs per line: worker / aggregator / double |",
      "| --- | ---: | ---: | ---: | ---: | ---: |",
      ...rows,
      "",
      `Live latency at 1k lines/s (5,000 lines, line timestamp at the worker → stored at the double), once the relay`,
      `follows the build: p50 ${live.p50} ms, p99 ${live.p99} ms, max ${live.max} ms (${live.n} lines). The one line written`,
      `as the aggregator started relaying took ${live.firstLineMs} ms (discovery, lease, checkpoint, first connections);`,
      "until this round that start-up was inside the 5,000 lines and made their p99 (50–130 ms from run to run).",
      "",
      `Goals: ≥ 500k lines/s end to end ${e2e >= 500_000 ? "met" : "not met"}; ≥ 0.4× raw ${e2e / raw >= 0.4 ? "met" : "not met"} ` +
        `(default tuning ${(e2e / raw).toFixed(2)}×); live p99 ≤ 100 ms ${live.p99 <= 100 ? "met" : "not met"}.`,
      "",
      "The double here is the tests' wharf-api protocol server (`startWharfApiServer`: CreateLogStream read by hand",
      "on node:http2, the HTTP routes) over a sink that checks each line's order as it arrives instead of keeping a",
      "million line objects in its heap (that measured V8's collector, not the relay; wharf-api keeps lines in Postgres).",
      "",
      "Where the time goes: the CPU column is each process's user + system time while the lines were relayed, per",
      `line. Worker, aggregator, double and Postgres share 2 cores, so their sum per line bounds the rate: at ${e2eCpu} µs`,
      "per line (Postgres not counted), while 500k lines/s on 2 cores allows 4 µs per line in all, and only if every",
      "process were busy all the time, which a pipeline of four processes handing batches along is not. Raw grpc-js",
      `streaming alone (nothing decoded into the relay, nothing sent on) gave ${fmt(raw)} lines/s in this run. What got the end-to-end rate from 100k to`,
      "the figure above (all measured with this bench): the worker encodes `StreamLogBatches` by hand from its",
      "store (no protobufjs object per line) and checksums on read only the records an earlier process left on disk,",
      "not those it appended itself (0.83 → 0.56 µs of worker CPU per line); the aggregator keeps worker lines as wire bytes and re-frames each as",
      "a CreateLogStreamRequest with one copy and its field numbers moved up in place (no string, object or Date per",
      `line); larger worker messages (${MESSAGE_LINES} lines, the byte budget of \`readAheadBytes\` still bounding memory) and`,
      `calls of up to ${defaultRelayTuning.logBatchLines} lines (every call ends in a pause for wharf-api's answer and the checkpoint, so`,
      "fewer calls leave fewer pauses); the double reads CreateLogStream by hand instead of through grpc-js and a",
      "proxy hop. Tried and dropped: writing a batch's checkpoint while the next batch is sent (the next batch then",
      "started with fewer lines, so there were more calls and more CPU per line, and it was slower), and copying",
      "short lines byte by byte instead of `Buffer#copy` (slower). A checkpoint stays one fenced UPDATE per",
      "acknowledged call, and calls are not pipelined: a second call in flight could be stored out of order.",
      "",
      `${machineLine()}. Filling the store took ${Math.round(measured.fillMs)} ms (not counted).`,
      "",
    ].join("\n"),
  );
} finally {
  await pg.stop();
}
