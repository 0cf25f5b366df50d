/**
 * The separate processes of the relay benchmarks, so each service has its own
 * event loop (and its own RSS) as in production: workers (ResultStores served
 * over gRPC on 127.0.0.1), the wharf-api double, and one aggregator (or a bare
 * reader of the workers' log streams, the raw baseline). The bench process
 * only starts them, hands out addresses and asks for counts over IPC.
 *
 * This file is both the parent-side API and, run as `relay-bench-processes.ts
 * <role>`, the child. `WHARF_BENCH_PROF=<dir>` writes a CPU profile per child.
 */
import { type ChildProcess, fork } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import * as grpc from "@grpc/grpc-js";
import { createLogger } from "@wharf/config";
import { openDatabase } from "@wharf/db";
import { loadWorkerProto } from "@wharf/proto";
import {
  Aggregator,
  type LiveWorker,
  migrateRelay,
  type RelayTuning,
  WharfApiClient,
  WorkerConnection,
} from "@wharf/relay";
import { ResultStore } from "@wharf/result-store";
import { startWharfApiDouble } from "@wharf/testkit";
import { startWorkerRpcServer } from "@wharf/worker-rpc";

type Handlers = Record<string, (...args: never[]) => unknown>;
type Request = { id: number; method: string; args: unknown[] };
type Reply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: string };

/** One child process and its methods, called over IPC. */
export class BenchProcess {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  private exited: Error | undefined;

  private constructor(
    readonly role: string,
    private readonly child: ChildProcess,
  ) {
    child.on("message", (m: Reply) => {
      const w = this.waiting.get(m.id);
      if (!w) return;
      this.waiting.delete(m.id);
      if (m.ok) w.resolve(m.value);
      else w.reject(new Error(`${role}: ${m.error}`));
    });
    child.on("exit", (code, sig) => {
      this.exited = new Error(`${role} process exited (${code ?? sig})`);
      for (const w of this.waiting.values()) w.reject(this.exited);
      this.waiting.clear();
    });
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  static async start(role: "workers" | "double" | "aggregator"): Promise<BenchProcess> {
    const prof = process.env.WHARF_BENCH_PROF;
    const child = fork(fileURLToPath(import.meta.url), [role], {
      execArgv: ["--import", "tsx", ...(prof ? ["--cpu-prof", "--cpu-prof-dir", prof] : [])],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    const p = new BenchProcess(role, child);
    await p.call("ping");
    return p;
  }

  call<T = unknown>(method: string, ...args: unknown[]): Promise<T> {
    if (this.exited) return Promise.reject(this.exited);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.child.send({ id, method, args } satisfies Request);
    });
  }

  /** Asks the child to clean up and exit (so a CPU profile gets written); kills it after 10 s. */
  async stop(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
    await this.call("shutdown").catch(() => {});
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 10_000);
    await gone;
    clearTimeout(timer);
  }

  /** Peak and current resident set size of the child (Linux /proc), in bytes. */
  async rss(): Promise<{ peak: number; now: number }> {
    const status = await fs.readFile(`/proc/${this.pid}/status`, "utf8");
    const kb = (key: string) =>
      Number(status.match(new RegExp(`^${key}:\\s+(\\d+) kB`, "m"))?.[1] ?? 0) * 1024;
    return { peak: kb("VmHWM"), now: kb("VmRSS") };
  }
}

/** Starts the processes `fn` needs and always stops them (profiles are written on a clean exit). */
export async function withBenchProcesses<T>(
  roles: ("workers" | "double" | "aggregator")[],
  fn: (...p: BenchProcess[]) => Promise<T>,
): Promise<T> {
  const started: BenchProcess[] = [];
  try {
    for (const role of roles) started.push(await BenchProcess.start(role));
    return await fn(...started);
  } finally {
    for (const p of started.reverse()) await p.stop();
  }
}

/**
 * Replaces the section under `heading` (up to the next `## `) in BENCHMARKS.md, or appends it;
 * other sections stay as they are. WHARF_BENCH_DRY=1 only prints.
 */
export function writeBenchmarkSection(heading: string, section: string): void {
  process.stdout.write(`${section}\n`);
  if (process.env.WHARF_BENCH_DRY) return;
  const file = path.resolve(fileURLToPath(import.meta.url), "../../BENCHMARKS.md");
  const doc = existsSync(file) ? readFileSync(file, "utf8") : "# Benchmarks\n";
  const lines = doc.split("\n");
  const start = lines.findIndex((l) => l.trim() === heading);
  if (start === -1) {
    writeFileSync(file, `${doc.replace(/\n*$/, "\n\n")}${section.trimEnd()}\n`);
    return;
  }
  let end = lines.findIndex((l, i) => i > start && l.startsWith("## "));
  if (end === -1) end = lines.length;
  const next = [...lines.slice(0, start), ...section.trimEnd().split("\n"), "", ...lines.slice(end)];
  writeFileSync(file, `${next.join("\n").trimEnd()}\n`);
}

/** The machine and its load, for the "Measured …" line. */
export function machineLine(): string {
  const cpu = os.cpus()[0]?.model.trim() ?? "cpu";
  const load = os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(" ");
  return `Measured ${new Date().toISOString().slice(0, 10)} on Node ${process.version}, ${os.cpus().length} × ${cpu}, load average ${load}`;
}

export function fmt(n: number): string {
  return Math.round(n).toLocaleString("en");
}

// ---------------------------------------------------------------- children

const LINE_FILLER = "x".repeat(70);

/** Exactly 80 bytes: a 10-digit counter and 70 filler bytes. */
export function benchLine(n: number): string {
  return `${String(n).padStart(10, "0")}${LINE_FILLER}`;
}

function workersRole(): Handlers {
  const workers: { store: ResultStore; close(): Promise<void>; address: string; dir: string }[] = [];
  return {
    /** Starts `count` workers; returns their gRPC addresses. */
    async open(count: number, buildRefBase: number) {
      for (let i = 0; i < count; i++) {
        const dir = await fs.mkdtemp(path.join(os.tmpdir(), "bench-worker-"));
        const store = await ResultStore.open(dir, { buildRef: String(buildRefBase + i) });
        const server = await startWorkerRpcServer({ store, host: "127.0.0.1", port: 0, shutdownGraceMs: 0 });
        workers.push({ store, dir, address: `127.0.0.1:${server.port}`, close: () => server.close() });
      }
      return workers.map((w) => w.address);
    },
    /** Writes `lines` 80-byte lines into every worker's store (step 1) and finishes the builds. */
    async fill(lines: number) {
      for (const w of workers) {
        for (let i = 1; i <= lines; i++) w.store.appendLog(1, benchLine(i));
        await w.store.finish("SUCCESS");
      }
    },
    /** Writes `total` lines into worker 0 at `perTick` lines every `tickMs`, stamped with Date.now(). */
    async live(total: number, perTick: number, tickMs: number) {
      const w = workers[0];
      if (!w) throw new Error("no worker open");
      const start = performance.now();
      for (let i = 0; i < total; i += perTick) {
        for (let j = 0; j < perTick; j++) w.store.appendLog(1, `live ${i + j}`, Date.now());
        // Paced from the start, so a late tick does not slow the rate down.
        const due = start + ((i + perTick) / perTick) * tickMs;
        await new Promise((r) => setTimeout(r, Math.max(0, due - performance.now())));
      }
      await w.store.finish("SUCCESS");
    },
    async shutdown() {
      for (const w of workers) {
        await w.close();
        await w.store.close();
        await fs.rm(w.dir, { recursive: true, force: true });
      }
    },
  };
}

function doubleRole(): Handlers {
  let api: Awaited<ReturnType<typeof startWharfApiDouble>> | undefined;
  const need = () => {
    if (!api) throw new Error("double not started");
    return api;
  };
  return {
    async open() {
      api = await startWharfApiDouble();
      return { url: api.url, grpcAddress: api.grpcAddress };
    },
    count: () => need().logs.length,
    /** Every build got worker_log_id 1..lines exactly once, in order; returns the number of bad builds. */
    check(buildIds: number[], lines: number) {
      const next = new Map(buildIds.map((b) => [b, 1]));
      const bad = new Set<number>();
      for (const l of need().logs) {
        const want = next.get(l.buildId);
        if (want === undefined || l.workerLogId !== want) bad.add(l.buildId);
        else next.set(l.buildId, want + 1);
      }
      for (const [b, n] of next) if (n !== lines + 1) bad.add(b);
      return bad.size;
    },
    /** Arrival minus line timestamp for every stored line, sorted (ms). */
    latencies: () =>
      need()
        .logs.map((l) => l.receivedAt - l.timestamp.getTime())
        .sort((a, b) => a - b),
    async shutdown() {
      await api?.close();
    },
  };
}

export interface AggregatorRun {
  dbUrl: string;
  apiUrl: string;
  workers: LiveWorker[];
  tuning?: Partial<RelayTuning>;
}

function aggregatorRole(): Handlers {
  const log = createLogger("bench", "silent");
  return {
    /**
     * Reads every worker's StreamLogBatches to the end, nothing else; returns lines read.
     * "grpc-js": a plain grpc-js client with @wharf/proto's loader (the raw baseline);
     * "relay": the aggregator's own WorkerConnection (its hand-written decoder).
     */
    async read(addresses: string[], batchLines: number, via: "grpc-js" | "relay") {
      let n = 0;
      await Promise.all(
        addresses.map(async (address) => {
          const conn =
            via === "relay"
              ? new WorkerConnection(address)
              : new (loadWorkerProto().WorkerExtras)(address, grpc.credentials.createInsecure());
          if (conn instanceof WorkerConnection) {
            for await (const batch of conn.streamLogBatches(0, batchLines)) n += batch.length;
          } else {
            const stream = (
              conn as unknown as { StreamLogBatches(req: object): AsyncIterable<{ lines: unknown[] }> }
            ).StreamLogBatches({ afterLogId: 0, maxBatchLines: batchLines });
            for await (const batch of stream) n += batch.lines.length;
          }
          conn.close();
        }),
      );
      return n;
    },
    /** Relays the workers until the aggregator removed every one of them (all delivered and released). */
    async relay(run: AggregatorRun, timeoutMs: number) {
      const db = await openDatabase({ url: run.dbUrl });
      await migrateRelay(db);
      const api = new WharfApiClient({ url: run.apiUrl });
      const removed = new Set<string>();
      let allRemoved: () => void = () => {};
      const done = new Promise<void>((resolve) => {
        allRemoved = resolve;
      });
      const agg = new Aggregator({
        db,
        api,
        log,
        directory: {
          kind: "bench",
          list: async () => run.workers.filter((w) => !removed.has(w.workerId)),
          remove: async (id) => {
            removed.add(id);
            if (removed.size === run.workers.length) allRemoved();
          },
        },
        discoveryIntervalMs: 50,
        ...(run.tuning ? { tuning: run.tuning } : {}),
      });
      const start = performance.now();
      agg.start();
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`relay did not finish in ${timeoutMs} ms`)), timeoutMs);
      });
      try {
        await Promise.race([done, timeout]);
        return performance.now() - start;
      } finally {
        clearTimeout(timer);
        await agg.stop();
        api.close();
        await db.close();
      }
    },
    async shutdown() {},
  };
}

const roles: Record<string, () => Handlers> = {
  workers: workersRole,
  double: doubleRole,
  aggregator: aggregatorRole,
};

function serveRole(role: string): void {
  const make = roles[role];
  if (!make || !process.send) throw new Error(`unknown bench role ${role} (or no IPC channel)`);
  const handlers: Handlers = {
    ...make(),
    ping: () => "pong",
  };
  const reply = (r: Reply) => process.send?.(r);
  process.on("message", (m: Request) => {
    const fn = handlers[m.method] as ((...a: unknown[]) => unknown) | undefined;
    Promise.resolve()
      .then(() => {
        if (!fn) throw new Error(`no method ${m.method}`);
        return fn(...m.args);
      })
      .then(
        (value) => {
          reply({ id: m.id, ok: true, value });
          // Exit normally (not process.exit from a signal) so --cpu-prof writes its profile.
          if (m.method === "shutdown") process.disconnect();
        },
        (err: unknown) => reply({ id: m.id, ok: false, error: String((err as Error)?.stack ?? err) }),
      );
  });
  // The parent died: do not linger.
  process.on("disconnect", () => setTimeout(() => process.exit(0), 2000).unref());
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  serveRole(process.argv[2] ?? "");
}
