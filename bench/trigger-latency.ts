/**
 * Issue 16's figure: wharf-api's `POST /api/worker` → the build's first log line stored at
 * wharf-api, and → Completed, for a one-step `echo` build through the real services (provisioner
 * and aggregator in this process as `wharf up` runs them, real Postgres, the wharf-api double,
 * a real worker per build), against `git clone` + `sh -c` of the same repository and command in
 * the same run. Local backend always; the Docker backend (the wharf/worker image, the step in a
 * busybox container) when Docker answers and the images exist.
 *
 *   pnpm exec tsx bench/trigger-latency.ts [builds]     (default 7, after 2 warm-ups)
 */
import { execFile } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { compileOptions as aggregatorOptions, startAggregator } from "@wharf/aggregator-service";
import { createLogger } from "@wharf/config";
import { createTestDatabase } from "@wharf/db";
import { compileOptions as provisionerOptions, startProvisioner } from "@wharf/provisioner-service";
import {
  BUSYBOX_IMAGE,
  dockerAvailable,
  makePipelineRepo,
  startPostgres,
  startWharfApiDouble,
  type WharfApiDouble,
  waitFor,
  wharfImage,
} from "@wharf/testkit";
import { writeBenchmarkSection } from "./benchmarks-file.js";

const run = promisify(execFile);
const BUILDS = Number(process.argv[2] ?? 7);
const WARMUPS = 2;
const TOKEN = "bench-token";
const log = createLogger("bench", "silent");
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
const pipeline = `build:\n  hello:\n    container:\n      image: ${BUSYBOX_IMAGE}\n      cmds: ['echo first line']\n`;

interface Timing {
  firstLineMs: number;
  completedMs: number;
}

/** Sum and count of each build latency histogram, from the services' /metrics. */
type Phases = Record<(typeof PHASES)[number], { sum: number; count: number }>;
const PHASES = [
  "wharf_queue_wait_seconds",
  "wharf_worker_start_seconds",
  "wharf_build_first_line_seconds",
] as const;

async function phases(provisionerUrl: string, aggregatorUrl: string): Promise<Phases> {
  const auth = { headers: { authorization: `Bearer ${TOKEN}` } };
  const text =
    (await (await fetch(`${provisionerUrl}/metrics`, auth)).text()) +
    (await (await fetch(`${aggregatorUrl}/metrics`)).text());
  const total = (name: string) =>
    text
      .split("\n")
      .filter((l) => l.startsWith(name))
      .reduce((s, l) => s + Number(l.split(" ").pop()), 0);
  return Object.fromEntries(
    PHASES.map((p) => [p, { sum: total(`${p}_sum`), count: total(`${p}_count`) }]),
  ) as Phases;
}

/** Mean ms of each phase over the builds between two scrapes. */
function phaseMeans(before: Phases, after: Phases): Record<(typeof PHASES)[number], number> {
  return Object.fromEntries(
    PHASES.map((p) => [p, ((after[p].sum - before[p].sum) / (after[p].count - before[p].count)) * 1000]),
  ) as Record<(typeof PHASES)[number], number>;
}

/** One build: POST, then poll the double (5 ms) until its first line and its Completed arrived. */
async function timeBuild(
  api: WharfApiDouble,
  provisionerUrl: string,
  repo: string,
  ref: number,
): Promise<Timing> {
  api.setBuild(ref, "Scheduling");
  const q = new URLSearchParams({
    BUILD_REF: String(ref),
    GIT_FULLURL: repo,
    GIT_BRANCH: "master",
    WHARF_INSTANCE: "bench",
    token: TOKEN,
  });
  const started = Date.now();
  const res = await fetch(`${provisionerUrl}/api/worker?${q}`, { method: "POST" });
  if (res.status !== 201) throw new Error(`POST /api/worker: HTTP ${res.status} ${await res.text()}`);
  const deadline = started + 60_000;
  let firstLineMs: number | undefined;
  while (Date.now() < deadline) {
    const first = api.logsFor(ref)[0];
    if (first && firstLineMs === undefined) firstLineMs = first.receivedAt - started;
    if (api.statusesFor(ref).includes("Completed")) {
      return { firstLineMs: firstLineMs ?? Number.NaN, completedMs: Date.now() - started };
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`build ${ref} did not complete in 60 s`);
}

async function backendRun(
  pgUrl: string,
  tmp: string,
  repo: string,
  backend: Record<string, string>,
): Promise<{ timings: Timing[]; means: ReturnType<typeof phaseMeans> }> {
  const db = await createTestDatabase(pgUrl, "bench_trigger");
  const api = await startWharfApiDouble();
  const provisioner = await startProvisioner(
    provisionerOptions({
      DATABASE_URL: db.url,
      WHARF_DATA_DIR: path.join(tmp, `provisioner-${backend.WHARF_PROVISIONER_BACKEND}`),
      WHARF_PROVISIONER_HOST: "127.0.0.1",
      WHARF_PROVISIONER_PORT: "0",
      WHARF_PROVISIONER_TOKEN: TOKEN,
      WHARF_PROVISIONER_TRIGGER_RATE: "0",
      ...backend,
    }),
    { log },
  );
  const aggregator = await startAggregator(
    aggregatorOptions({
      DATABASE_URL: db.url,
      WHARF_API_URL: api.url,
      WHARF_INSTANCE: "bench",
      WHARF_DISCOVERY: "provisioner",
      WHARF_PROVISIONER_URL: provisioner.url,
      WHARF_PROVISIONER_TOKEN: TOKEN,
      WHARF_AGGREGATOR_HOST: "127.0.0.1",
      WHARF_AGGREGATOR_PORT: "0",
    }),
    log,
  );
  const timings: Timing[] = [];
  let before: Phases | undefined;
  try {
    for (let i = 0; i < WARMUPS + BUILDS; i++) {
      if (i === WARMUPS) before = await phases(provisioner.url, aggregator.url);
      const t = await timeBuild(api, provisioner.url, repo, 100 + i);
      if (i >= WARMUPS) timings.push(t);
    }
    const after = await phases(provisioner.url, aggregator.url);
    // The aggregator releases and removes the last worker after its Completed: wait for it, or
    // that worker would wait for a Release for good once the services are closed.
    await waitFor(
      "every worker removed",
      async () => {
        const res = await fetch(`${provisioner.url}/api/worker`, {
          headers: { authorization: `Bearer ${TOKEN}` },
        });
        return ((await res.json()) as unknown[]).length === 0;
      },
      60_000,
    );
    return { timings, means: phaseMeans(before as Phases, after) };
  } finally {
    await aggregator.close();
    await provisioner.close();
    await api.close();
    await db.drop();
  }
}

/** The same work by hand: clone the repository, run the step's command. */
async function baseline(tmp: string, repo: string): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < WARMUPS + BUILDS; i++) {
    const dir = path.join(tmp, `clone-${i}`);
    const started = performance.now();
    await run("git", ["clone", "-q", "--depth", "1", "--branch", "master", `file://${repo}`, dir]);
    await run("sh", ["-c", "echo first line"], { cwd: dir });
    if (i >= WARMUPS) out.push(performance.now() - started);
    await fs.rm(dir, { recursive: true, force: true });
  }
  return out;
}

const tmp = await fs.mkdtemp(path.join(os.tmpdir(), "wharf-bench-trigger-"));
const pg = await startPostgres();
try {
  const repo = await makePipelineRepo(path.join(tmp, "repo"), pipeline);
  const raw = median(await baseline(tmp, repo));
  const rows: string[] = [];
  const phaseRows: string[] = [];
  const row = (name: string, { timings: t, means }: Awaited<ReturnType<typeof backendRun>>) => {
    const f = (ms: number) => ms.toFixed(0);
    phaseRows.push(
      `| ${name.split(" (")[0]} | ${f(means.wharf_queue_wait_seconds)} | ${f(means.wharf_worker_start_seconds)} | ${f(means.wharf_build_first_line_seconds)} |`,
    );
    const first = median(t.map((x) => x.firstLineMs));
    const done = median(t.map((x) => x.completedMs));
    rows.push(
      `| ${name} | ${first.toFixed(0)} | ${(first / raw).toFixed(1)}× | ${done.toFixed(0)} | ${(done / raw).toFixed(1)}× |`,
    );
  };
  row("local backend (standby worker process, local executor)", await backendRun(pg.url, tmp, repo, {}));
  row(
    "local backend, no standby (a worker process started per build)",
    await backendRun(pg.url, tmp, repo, { WHARF_STANDBY_WORKERS: "0" }),
  );
  // WHARF_BENCH_LOCAL_ONLY=1: the local backend alone (quick comparisons).
  const images =
    process.env.WHARF_BENCH_LOCAL_ONLY !== "1" && (await dockerAvailable())
      ? await run("docker", ["image", "inspect", wharfImage("worker")]).then(
          () => true,
          () => false,
        )
      : false;
  if (images) {
    const worker = await fs.mkdtemp(path.join(tmp, "docker-"));
    await run("chown", ["-R", "1000:1000", tmp]);
    row(
      "Docker backend (wharf/worker container, step in a busybox container)",
      await backendRun(pg.url, worker, repo, {
        WHARF_PROVISIONER_BACKEND: "docker",
        WHARF_WORKER_IMAGE: wharfImage("worker"),
        WHARF_WORKER_BINDS: `${tmp}:${tmp}:ro`,
        WHARF_WORKER_NETWORK: "host",
      }),
    );
  }
  const section = `## trigger to first line (issue 16)

\`pnpm exec tsx bench/trigger-latency.ts\` — wharf-api's \`POST /api/worker\` → the first log line
stored at wharf-api (the double) and → Completed there, for a one-step \`echo\` build: provisioner
and aggregator in one process on real Postgres (default settings: 1 s safety-net polls), a real
worker per build; median of ${BUILDS} builds after ${WARMUPS} warm-ups, one at a time. Baseline in the
same run: \`git clone --depth 1\` of the same repository + \`sh -c\` of the same command, ${raw.toFixed(0)} ms.

| path | POST → first line ms | vs baseline | POST → Completed ms | vs baseline |
| --- | ---: | ---: | ---: | ---: |
${rows.join("\n")}

Where the time goes, from the services' own histograms (mean ms over the same builds; the worker
start runs from the claim to the worker's ready event, which local workers and Docker workers on the
host network tell; the first line from the POST to wharf-api's acknowledgement of it):

| path | POST → claim (queue wait) | claim → worker ready | POST → first line acknowledged |
| --- | ---: | ---: | ---: |
${phaseRows.join("\n")}

Locally a cold worker's start dominates: a Node process loading the worker's modules (~0.35 CPU s
on an idle core, see "throughput"), then, after it serves, the clone, the plan and the step. The
local backend therefore keeps a standby worker (\`WHARF_STANDBY_WORKERS\`, default 1): a
\`wharf worker serve --standby\` process started before the trigger, its modules (engine, executor,
clone and plan included) loaded, that takes the build's environment on stdin; another is started
as soon as one is taken, so builds one after another (as here) each find one. The aggregator dials
a worker the moment it is listed and waits for its gRPC to answer (one call waiting for the
connection, or the list saying Running at the worker's ready event); before it did, the three
streams' refused dials backed off (100, 200, 400 ms …) and the first line came 200–500 ms later.
The queue costs a few ms: the POST claims the slot itself. Inside a standby worker, from its
assignment (timestamps written by the services over 14 builds, 2026-12-03, other work sharing the
machine): the POST hands the build to the standby after 10–40 ms, which serves gRPC ~40 ms later
(the result store opened, the server bound; the .proto parsed ahead); the clone, begun beside the
server's start, is done ~100 ms after the assignment, the plan 30–60 ms later (git's facts of the
checkout: two git processes at once, five before), the workspace is the clone itself, moved
(copying it with its .git was 50–120 ms), the step's first line ~10 ms after its spawn; the
relay adds 20–40 ms (the stream from the worker, wharf-api's acknowledgement). The Docker backend
keeps a standby worker container the same way (started ahead for the instance of the last build:
the warm-ups here), which a build takes by renaming it and writing its environment to its stdin:
claim → ready is the standby's resuming, not a container's start and Node's load (0.33–0.42 s
before, 2026-12-03). Inside it (the engine's own event times, 2026-12-04, 3 builds): the build's
network is made 180–270 ms after the rename (the worker resumed, leftovers swept), its workspace
volume and helper beside it; the step's container is created ~0.4 s after the rename and started
~0.42 s later (a container's start on the build's own bridge network: its network namespace, the
bridge's endpoint and the engine's DNS, work of the engine, not wharf's), while the source is
copied into the workspace beside that start (the step's script waits for the copy on its stdin);
its line reaches wharf-api ~50 ms after. On this 2-core machine the engine's work for the two
containers is most of the Docker figure, and it grows with the load like the baseline does.

Goals (issue 16): first line ≤ 300 ms local, ≤ 800 ms Docker; Completed ≤ 500 ms local.
Measured ${new Date().toISOString().slice(0, 10)} on Node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model.split(" ")[0] ?? "cpu"}, load ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(" ")}.
`;
  writeBenchmarkSection(section);
  console.log(section);
} finally {
  await pg.stop();
  await fs.rm(tmp, { recursive: true, force: true });
}
