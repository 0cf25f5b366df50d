/**
 * Start-up of the compiled `wharf` (what users and every spawned worker run), against `node -e 0`
 * in the same run, the 20-step `wharf run --backend docker` against twenty raw `docker run --rm`,
 * and the three images' sizes. Writes its section of BENCHMARKS.md.
 *
 *   pnpm exec tsx bench/startup.ts [rounds]     (default 15; needs /usr/bin/time and Docker,
 *                                                and the images of scripts/build-images.sh)
 */
import { execFile, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import fs from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { BUSYBOX_IMAGE, ensureBusyboxImage, freePort, wharfArgs, wharfImage } from "@wharf/testkit";
import { writeBenchmarkSection } from "./benchmarks-file.js";

const run = promisify(execFile);
const ROUNDS = Number(process.argv[2] ?? 15);
const repoRoot = path.resolve(import.meta.dirname, "..");
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

/** Wall ms and peak RSS (MB) of one run, from GNU time. */
async function timed(cmd: string, args: string[]): Promise<{ ms: number; rssMb: number }> {
  const started = performance.now();
  const { stderr } = await run("/usr/bin/time", ["-f", "WHARF_RSS_KB=%M", cmd, ...args], {
    cwd: repoRoot,
    env: { ...process.env, WHARF_LOG_LEVEL: "silent" },
  }).catch((err: { stderr: string; code: number }) => {
    if (typeof err.code === "number" && err.code <= 2) return err; // lint of an invalid file exits 1
    throw err;
  });
  const ms = performance.now() - started;
  const kb = Number(/WHARF_RSS_KB=(\d+)/.exec(stderr)?.[1]);
  return { ms, rssMb: kb / 1024 };
}

/** The commands interleaved round by round, so load on the machine falls on all of them alike. */
async function startupTable(commands: [string, string, string[]][]) {
  const samples = new Map<string, { ms: number[]; rss: number[] }>();
  for (const [label] of commands) samples.set(label, { ms: [], rss: [] });
  for (let i = 0; i < ROUNDS + 2; i++) {
    for (const [label, cmd, args] of commands) {
      const r = await timed(cmd, args);
      if (i < 2) continue; // warm-ups: the page cache holds the chunks from here on
      samples.get(label)?.ms.push(r.ms);
      samples.get(label)?.rss.push(r.rssMb);
    }
  }
  return commands.map(([label]) => {
    const s = samples.get(label) as { ms: number[]; rss: number[] };
    return { label, ms: median(s.ms), rssMb: Math.max(...s.rss) };
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** A worker from spawn until its gRPC port accepts a health check, and its RSS once idle. */
async function workerStart(): Promise<{ readyMs: number; idleRssMb: number }> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "wharf-bench-worker-"));
  await fs.mkdir(path.join(dir, "src"));
  await fs.writeFile(
    path.join(dir, "src/.wharf-ci.yml"),
    "build:\n  hello:\n    container:\n      image: x\n      cmds: ['echo hello']\n",
  );
  const { createWorkerClient } = await import("@wharf/worker-rpc");
  const port = await freePort();
  // Made before the clock starts: building the client (and its proto) is the bench's cost, not
  // the worker's; it dials only with the first call.
  const client = createWorkerClient(`127.0.0.1:${port}`);
  const started = performance.now();
  const child = spawn(process.execPath, wharfArgs(["worker", "serve"]), {
    cwd: repoRoot,
    stdio: "ignore",
    env: {
      ...process.env,
      WHARF_LOG_LEVEL: "warn",
      WHARF_BUILD_REF: "1",
      WHARF_SOURCE_DIR: path.join(dir, "src"),
      WHARF_DATA_DIR: path.join(dir, "data"),
      WHARF_EXECUTOR: "local",
      WHARF_WORKER_HOST: "127.0.0.1",
      WHARF_WORKER_PORT: String(port),
      // As deployed: health and metrics over HTTP too (they load once gRPC serves).
      WHARF_WORKER_HTTP_PORT: "0",
    },
  });
  // Poll with plain TCP connects (a gRPC channel backs off for a second after a refusal), then
  // the first health check on the open port.
  for (let i = 0; i < 5000 && !(await accepts(port)); i++) await new Promise((r) => setTimeout(r, 1));
  await client.health();
  const readyMs = performance.now() - started;
  client.close();
  // Idle: the build is over, results are served, nothing has connected for a while.
  await new Promise((r) => setTimeout(r, 3000));
  const status = readFileSync(`/proc/${child.pid}/status`, "utf8");
  const idleRssMb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]) / 1024;
  child.kill("SIGKILL");
  await fs.rm(dir, { recursive: true, force: true });
  return { readyMs, idleRssMb };
}

/** Twenty one-step stages one after another through `wharf run --backend docker`, and raw. */
async function twentySteps(): Promise<{ wharfMs: number; rawMs: number }> {
  await ensureBusyboxImage();
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "wharf-bench-20-"));
  const stages = Array.from(
    { length: 20 },
    (_, i) => `s${i}:\n  step:\n    container:\n      image: ${BUSYBOX_IMAGE}\n      cmds: ['echo ${i}']\n`,
  );
  await fs.writeFile(path.join(dir, ".wharf-ci.yml"), stages.join(""));
  const wharf: number[] = [];
  const raw: number[] = [];
  for (let round = 0; round < 5; round++) {
    let t = performance.now();
    await run(process.execPath, wharfArgs(["run", "--backend", "docker", dir]), {
      env: { ...process.env, WHARF_LOG_LEVEL: "silent" },
    });
    wharf.push(performance.now() - t);
    t = performance.now();
    for (let i = 0; i < 20; i++) {
      await run("docker", ["run", "--rm", "--network", "none", BUSYBOX_IMAGE, "sh", "-c", `echo ${i}`]);
    }
    raw.push(performance.now() - t);
  }
  await fs.rm(dir, { recursive: true, force: true });
  return { wharfMs: median(wharf), rawMs: median(raw) };
}

async function imageSize(image: string): Promise<number> {
  const { stdout } = await run("docker", ["image", "inspect", "-f", "{{.Size}}", image]);
  return Number(stdout.trim()) / 1e6;
}

const entry = wharfArgs([]);
const table = await startupTable([
  ["`node -e 0` (baseline)", process.execPath, ["-e", "0"]],
  ["`wharf --help`", process.execPath, wharfArgs(["--help"])],
  ["`wharf --version`", process.execPath, wharfArgs(["--version"])],
  ["`wharf lint examples/hello`", process.execPath, wharfArgs(["lint", "examples/hello"])],
  ["`wharf plan examples/parallel`", process.execPath, wharfArgs(["plan", "examples/parallel"])],
]);
const base = table[0] as { ms: number; rssMb: number };
const workers = [];
for (let i = 0; i < 7; i++) workers.push(await workerStart());
const steps = await twentySteps();
const sizes = await Promise.all(
  (["worker", "provisioner", "aggregator"] as const).map(
    async (s) => [s, await imageSize(wharfImage(s))] as const,
  ),
);
const load = os.loadavg().map((l) => l.toFixed(1));
const section = `## start-up, images and the 20-step run

\`pnpm exec tsx bench/startup.ts\` — the compiled CLI (\`${path.relative(repoRoot, entry[entry.length - 1] ?? "")}\`,
what \`wharf\` and every spawned worker run) against \`node -e 0\` in the same run: ${ROUNDS} rounds after 2 warm-ups,
the commands interleaved; median wall time, peak RSS (GNU time) of all rounds.

| command | median wall ms | vs node -e 0 | peak RSS MB | goal |
| --- | ---: | ---: | ---: | --- |
${table
  .map((r, i) => {
    const goal = ["", "≤ 2× wall, ≤ 60 MB", "", "≤ 3× wall", ""][i] ?? "";
    return `| ${r.label} | ${r.ms.toFixed(0)} | ${(r.ms / base.ms).toFixed(2)}× | ${r.rssMb.toFixed(0)} | ${goal} |`;
  })
  .join("\n")}

| worker (\`wharf worker serve\`, local executor, one \`echo\` step, HTTP health/metrics on), 7 starts | median | goal |
| --- | ---: | --- |
| spawn → gRPC health check answers | ${median(workers.map((w) => w.readyMs)).toFixed(0)} ms | ≤ 300 ms |
| RSS once idle (build over, 3 s later) | ${median(workers.map((w) => w.idleRssMb)).toFixed(0)} MB | ≤ 70 MB |

| 20 one-step stages (busybox \`echo\`), median of 5 | ms | ratio | goal |
| --- | ---: | ---: | --- |
| twenty raw \`docker run --rm\` one after another (baseline) | ${steps.rawMs.toFixed(0)} | 1.00× | |
| \`wharf run --backend docker\`, whole command | ${steps.wharfMs.toFixed(0)} | ${(steps.wharfMs / steps.rawMs).toFixed(2)}× | ≤ 1.10× |

| image (\`scripts/build-images.sh\`, Debian-made bases) | size MB | goal |
| --- | ---: | --- |
${sizes.map(([s, mb]) => `| \`${wharfImage(s)}\` | ${mb.toFixed(0)} | ${s === "worker" ? "≤ 250" : "≤ 200"} |`).join("\n")}

Measured ${new Date().toISOString().slice(0, 10)} on Node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model.split(" ").slice(0, 2).join(" ")}, load ${load.join(" ")}.
`;
writeBenchmarkSection(section);
process.stdout.write(section);
