/**
 * The separate processes of the relay benchmarks, so each service has its own
 * event loop (and its own RSS) as in production: workers (ResultStores served
 * over gRPC on 127.0.0.1), the wharf-api double, and one aggregator (or a bare
 * reader of the workers' log streams, the raw baseline). The bench process
 * only starts them, hands out addresses and asks for counts over IPC.
 *
 * This file is both the parent-side API and, run as `relay-bench-processes.ts
 * <role>`, the child, which loads only its role's module (relay-roles/).
 * `WHARF_BENCH_PROF=<dir>` writes a CPU profile per child.
 */
import { type ChildProcess, fork } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import { fileURLToPath, pathToFileURL } from "node:url";
import { writeBenchmarkSection } from "./benchmarks-file.js";
import type { Handlers } from "./relay-roles/bench-role.js";

export type { AggregatorRun } from "./relay-roles/bench-role.js";

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

/** Prints the section and puts it into BENCHMARKS.md; WHARF_BENCH_DRY=1 only prints. */
export function publishSection(section: string): void {
  process.stdout.write(`${section}\n`);
  if (!process.env.WHARF_BENCH_DRY) writeBenchmarkSection(section);
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

const roles: Record<string, () => Promise<Handlers>> = {
  workers: async () => (await import("./relay-roles/workers-role.js")).workersRole(),
  double: async () => (await import("./relay-roles/double-role.js")).doubleRole(),
  aggregator: async () => (await import("./relay-roles/aggregator-role.js")).aggregatorRole(),
};

function serveRole(role: string): void {
  const make = roles[role];
  if (!make || !process.send) throw new Error(`unknown bench role ${role} (or no IPC channel)`);
  // Listening at once, answering once the role's module is loaded: no early message is missed.
  const handlers: Promise<Handlers> = make().then((h) => ({
    ...h,
    ping: () => "pong",
    cpu: () => process.cpuUsage(),
  }));
  const reply = (r: Reply) => process.send?.(r);
  process.on("message", (m: Request) => {
    handlers
      .then((all) => {
        const fn = all[m.method] as ((...a: unknown[]) => unknown) | undefined;
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
