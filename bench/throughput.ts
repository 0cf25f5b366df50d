/**
 * Issue 16's throughput figure: N one-step `echo` builds posted to the provisioner at once
 * (WHARF_MAX_WORKERS=8, local backend), relayed by the aggregator to the wharf-api double.
 * Provisioner and aggregator run as production runs them (the compiled `wharf … serve`, each
 * its own process), on a real Postgres; a worker process per build. Measured: builds per
 * minute (first POST → last Completed at wharf-api), CPU seconds per build summed over every
 * process (each process tree from /proc/<pid>/stat: its own time, its reaped children's, and
 * its live descendants'), and that every build arrived Completed exactly once with its line.
 * Baseline in the same run: the same N builds by hand, `git clone --depth 1` + `sh -c`, 8 at
 * a time. Fails after 10 minutes.
 *
 *   pnpm build && pnpm exec tsx bench/throughput.ts [builds]     (default 200)
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import fs from "node:fs";
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { createTestDatabase } from "@wharf/db";
import {
  BUSYBOX_IMAGE,
  freePort,
  makePipelineRepo,
  startPostgres,
  startWharfApiDouble,
  waitFor,
  wharfArgs,
} from "@wharf/testkit";
import { writeBenchmarkSection } from "./benchmarks-file.js";

const run = promisify(execFile);
const BUILDS = Number(process.argv[2] ?? 200);
const MAX_WORKERS = 8;
const DEADLINE_MS = 10 * 60_000;
const TOKEN = "bench-token";
const INSTANCE = "bench";
const REF_BASE = 10_000;
const TICKS = Number((await run("getconf", ["CLK_TCK"])).stdout.trim()) || 100;
const LINE = "one line of output";
const pipeline = `build:\n  hello:\n    container:\n      image: ${BUSYBOX_IMAGE}\n      cmds: ['echo ${LINE}']\n`;

/** utime+stime of the process itself, and cutime+cstime of its children it reaped, in seconds. */
function procTimes(pid: number): { own: number; reaped: number; ppid: number } | undefined {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // Fields after the command (which may hold spaces), counted from field 3 (state).
  const f = text.slice(text.lastIndexOf(")") + 2).split(" ");
  const n = (i: number) => Number(f[i - 3]);
  return { own: (n(14) + n(15)) / TICKS, reaped: (n(16) + n(17)) / TICKS, ppid: n(4) };
}

function children(): Map<number, number[]> {
  const out = new Map<number, number[]>();
  for (const name of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const t = procTimes(Number(name));
    if (!t) continue;
    const list = out.get(t.ppid) ?? [];
    list.push(Number(name));
    out.set(t.ppid, list);
  }
  return out;
}

/** CPU seconds of a process tree: its own, its reaped children's, and each live descendant's tree. */
function treeCpu(pid: number, kids = children()): { own: number; descendants: number } {
  const t = procTimes(pid);
  if (!t) return { own: 0, descendants: 0 };
  let descendants = t.reaped;
  for (const c of kids.get(pid) ?? []) {
    const sub = treeCpu(c, kids);
    descendants += sub.own + sub.descendants;
  }
  return { own: t.own, descendants };
}

/** The postmaster of the cluster listening on `port` (its command line holds `-p <port>`). */
function postmasterPid(port: number): number {
  for (const name of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const argv = fs.readFileSync(`/proc/${name}/cmdline`, "utf8").split("\0");
      const at = argv.indexOf("-p");
      if (path.basename(argv[0] ?? "") === "postgres" && argv[at + 1] === String(port)) return Number(name);
    } catch {
      // gone meanwhile
    }
  }
  throw new Error(`no postmaster on port ${port}`);
}

interface Service {
  child: ChildProcess;
  url: string;
  stop(): Promise<void>;
}

async function startService(
  kind: "provisioner" | "aggregator",
  env: Record<string, string>,
): Promise<Service> {
  const port = await freePort();
  const upper = kind.toUpperCase();
  const child = spawn(process.execPath, wharfArgs([kind, "serve"]), {
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: process.env.HOME ?? "/tmp",
      WHARF_LOG_LEVEL: "warn",
      [`WHARF_${upper}_HOST`]: "127.0.0.1",
      [`WHARF_${upper}_PORT`]: String(port),
      ...env,
    },
    stdio: ["ignore", "inherit", "inherit"],
  });
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const url = `http://127.0.0.1:${port}`;
  await waitFor(
    `${kind} answering`,
    async () => {
      if (child.exitCode !== null) throw new Error(`${kind} exited ${child.exitCode}`);
      return fetch(`${url}/healthz`).then(
        (r) => r.ok,
        () => false,
      );
    },
    30_000,
  );
  return {
    child,
    url,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Mean of a histogram from a /metrics text (sum / count over every label set). */
function histogramMean(text: string, name: string): number {
  const total = (suffix: string) =>
    text
      .split("\n")
      .filter((l) => l.startsWith(`${name}_${suffix}`))
      .reduce((s, l) => s + Number(l.split(" ").pop()), 0);
  return total("sum") / total("count");
}

/** The same work by hand, 8 at a time: clone, run the command. CPU of those children. */
async function baseline(tmp: string, repo: string): Promise<{ perMin: number; cpuPerBuild: number }> {
  const before = procTimes(process.pid)?.reaped ?? 0;
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: MAX_WORKERS }, async () => {
      while (next < BUILDS) {
        const dir = path.join(tmp, `clone-${next++}`);
        await run("git", ["clone", "-q", "--depth", "1", "--branch", "master", `file://${repo}`, dir]);
        await run("sh", ["-c", `echo ${LINE}`], { cwd: dir });
        await fsp.rm(dir, { recursive: true, force: true });
      }
    }),
  );
  const ms = performance.now() - started;
  const cpu = (procTimes(process.pid)?.reaped ?? 0) - before;
  return { perMin: (BUILDS / ms) * 60_000, cpuPerBuild: cpu / BUILDS };
}

const tmp = await fsp.mkdtemp(path.join(os.tmpdir(), "wharf-bench-throughput-"));
const pg = await startPostgres();
const services: Service[] = [];
try {
  const repo = await makePipelineRepo(path.join(tmp, "repo"), pipeline);
  const raw = await baseline(tmp, repo);
  console.log(`baseline: ${raw.perMin.toFixed(0)} builds/min, ${raw.cpuPerBuild.toFixed(3)} CPU s per build`);

  const db = await createTestDatabase(pg.url, "bench_throughput");
  const api = await startWharfApiDouble();
  const provisioner = await startService("provisioner", {
    DATABASE_URL: db.url,
    WHARF_DATA_DIR: path.join(tmp, "provisioner"),
    WHARF_PROVISIONER_TOKEN: TOKEN,
    WHARF_PROVISIONER_TRIGGER_RATE: "0",
    WHARF_MAX_WORKERS: String(MAX_WORKERS),
  });
  services.push(provisioner);
  const aggregator = await startService("aggregator", {
    DATABASE_URL: db.url,
    WHARF_DATA_DIR: path.join(tmp, "aggregator"),
    WHARF_API_URL: api.url,
    WHARF_INSTANCE: INSTANCE,
    WHARF_DISCOVERY: "provisioner",
    WHARF_PROVISIONER_URL: provisioner.url,
    WHARF_PROVISIONER_TOKEN: TOKEN,
  });
  services.push(aggregator);
  const postmaster = postmasterPid(pg.port);
  const refs = Array.from({ length: BUILDS }, (_, i) => REF_BASE + i);
  for (const ref of refs) api.setBuild(ref, "Scheduling");

  const cpu = () => {
    const kids = children();
    const p = treeCpu(provisioner.child.pid as number, kids);
    const a = treeCpu(aggregator.child.pid as number, kids);
    const g = treeCpu(postmaster, kids);
    return {
      provisioner: p.own,
      workers: p.descendants,
      aggregator: a.own + a.descendants,
      postgres: g.own + g.descendants,
      bench: procTimes(process.pid)?.own ?? 0,
    };
  };
  const cpuBefore = cpu();
  const started = performance.now();
  const answers = await Promise.all(
    refs.map((ref) =>
      fetch(
        `${provisioner.url}/api/worker?${new URLSearchParams({
          BUILD_REF: String(ref),
          GIT_FULLURL: repo,
          GIT_BRANCH: "master",
          WHARF_INSTANCE: INSTANCE,
          token: TOKEN,
        })}`,
        { method: "POST" },
      ).then((r) => r.status),
    ),
  );
  const postedMs = performance.now() - started;
  if (answers.some((s) => s !== 201)) throw new Error(`POST answers: ${answers.filter((s) => s !== 201)}`);
  const pending = new Set(refs);
  const completedAt: number[] = [];
  while (pending.size > 0) {
    if (performance.now() - started > DEADLINE_MS)
      throw new Error(`${pending.size} of ${BUILDS} builds not Completed after 10 min`);
    for (const ref of pending) {
      const statuses = api.statusesFor(ref);
      // A Failed build never completes: say why (the aggregator's diagnostic is in its log) now.
      if (statuses.includes("Failed"))
        throw new Error(
          `build ${ref} Failed:\n${api
            .logsFor(ref)
            .map((l) => l.message)
            .join("\n")}`,
        );
      if (statuses.includes("Completed")) {
        pending.delete(ref);
        completedAt.push(performance.now() - started);
      }
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const lastMs = performance.now() - started;
  // Every worker released and removed (its process gone, reaped by the provisioner).
  await waitFor(
    "every worker removed",
    async () => {
      const res = await fetch(`${provisioner.url}/api/worker`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      return ((await res.json()) as unknown[]).length === 0;
    },
    DEADLINE_MS,
    200,
  );
  const cpuAfter = cpu();

  // Nothing lost, nothing twice: each build Completed exactly once, with its line, nothing Failed.
  const wrong: string[] = [];
  for (const ref of refs) {
    const statuses = api.statusesFor(ref);
    const completed = statuses.filter((s) => s === "Completed").length;
    const lines = api.logsFor(ref).map((l) => l.message);
    if (completed !== 1 || statuses.includes("Failed") || lines.filter((m) => m === LINE).length !== 1)
      wrong.push(`${ref}: ${statuses.join(",")} / ${lines.length} lines`);
  }
  if (wrong.length) throw new Error(`builds delivered wrongly:\n${wrong.join("\n")}`);

  const provisionerMetrics = await (
    await fetch(`${provisioner.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })
  ).text();
  const aggregatorMetrics = await (await fetch(`${aggregator.url}/metrics`)).text();
  const used = Object.fromEntries(
    Object.entries(cpuAfter).map(([k, v]) => [k, (v - cpuBefore[k as keyof typeof cpuBefore]) / BUILDS]),
  ) as typeof cpuAfter;
  const total = Object.values(used).reduce((s, v) => s + v, 0);
  const others = total - used.workers;
  const perMin = (BUILDS / lastMs) * 60_000;
  const sorted = [...completedAt].sort((a, b) => a - b);
  const q = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? Number.NaN;
  const ms = (s: number) => (s * 1000).toFixed(0);
  const cpuRow = (name: string, v: number) =>
    `| ${name} | ${v.toFixed(3)} | ${((v / total) * 100).toFixed(0)} % |`;
  const load = os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(" ");

  const section = `## throughput (issue 16)

\`pnpm build && pnpm exec tsx bench/throughput.ts\` — ${BUILDS} one-step \`echo\` builds posted at once to the
provisioner (\`WHARF_MAX_WORKERS=${MAX_WORKERS}\`, local backend), relayed by the aggregator to the wharf-api
double: provisioner and aggregator each in its own process as production runs them (the compiled
\`wharf … serve\`, default settings, log level warn), real Postgres, a worker process per build.
Timed from the first POST to the last Completed at wharf-api; CPU from \`/proc/<pid>/stat\` of each
process tree (own, reaped children's and live descendants' time) from before the POSTs until every
worker was removed. Baseline in the same run: the same ${BUILDS} builds by hand, \`git clone --depth 1\` +
\`sh -c\`, ${MAX_WORKERS} at a time.

| path | builds/min | CPU s per build |
| --- | ---: | ---: |
| by hand: git clone + sh -c, ${MAX_WORKERS} at a time (baseline) | ${raw.perMin.toFixed(0)} | ${raw.cpuPerBuild.toFixed(3)} |
| wharf, local backend | ${perMin.toFixed(0)} | ${total.toFixed(3)} |

${BUILDS} of ${BUILDS} builds Completed exactly once at wharf-api, each with its one line; none Failed.
All ${BUILDS} POSTs answered in ${postedMs.toFixed(0)} ms; builds Completed after: p50 ${(q(0.5) / 1000).toFixed(1)} s,
p95 ${(q(0.95) / 1000).toFixed(1)} s, last ${(lastMs / 1000).toFixed(1)} s.

| CPU per build by process | s | share |
| --- | ---: | ---: |
${cpuRow("workers (`wharf worker serve`, with their git and step processes)", used.workers)}
${cpuRow("provisioner", used.provisioner)}
${cpuRow("aggregator", used.aggregator)}
${cpuRow("Postgres (every backend)", used.postgres)}
${cpuRow("wharf-api double (and this bench's polling)", used.bench)}

Means from the services' own histograms: queue wait ${ms(histogramMean(provisionerMetrics, "wharf_queue_wait_seconds"))} ms,
worker start (claim → ready) ${ms(histogramMean(provisionerMetrics, "wharf_worker_start_seconds"))} ms,
trigger → first line at wharf-api ${ms(histogramMean(aggregatorMetrics, "wharf_build_first_line_seconds"))} ms (the queue wait included).

Where the time goes: each build is a worker process, and its start is most of its cost. A worker
alone (\`wharf worker serve\` of this build from a directory, nothing relaying it) takes ~0.35–0.40 CPU s
against ~0.08 s for \`node -e 0\`: mostly compiling and running the bundle's modules (gRPC, the
result store, engine and executor), then the result store's fsyncs; git and the step's shell are
a few ms. ${MAX_WORKERS} workers starting at once on 2 cores share them, so a worker's start (claim → ready)
takes seconds here, not the ~0.3 s of one alone, and the queue wait is the backlog of ${BUILDS} builds
drained ${MAX_WORKERS} at a time. Provisioner, aggregator, Postgres and the double together cost
${((others / used.workers) * 100).toFixed(0)} % of what the workers cost per build.

Goal (issue 16): ≥ 120 builds/min local.
Measured ${new Date().toISOString().slice(0, 10)} on Node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model.split(" ")[0] ?? "cpu"}, load ${load}.
`;
  writeBenchmarkSection(section);
  console.log(section);
  for (const s of services.splice(0).reverse()) await s.stop();
  await api.close();
  await db.drop();
} finally {
  // Local workers outlive their provisioner: a failed run removes them through it first.
  const provisionerUrl = services[0]?.url;
  if (provisionerUrl) {
    const auth = { authorization: `Bearer ${TOKEN}` };
    const left = (await (await fetch(`${provisionerUrl}/api/worker`, { headers: auth })).json()) as {
      workerId: string;
    }[];
    await Promise.all(
      left.map((w) =>
        fetch(`${provisionerUrl}/api/worker/${w.workerId}`, { method: "DELETE", headers: auth }),
      ),
    );
  }
  for (const s of services.reverse()) await s.stop();
  await pg.stop();
  await fsp.rm(tmp, { recursive: true, force: true });
}
