/**
 * Per-step overhead of the cri executor against containerd itself, in one run: the same
 * one-line step (`echo hi` in busybox) as
 *   - `ctr run --rm` of the image (containerd's own client: container, task, wait, delete);
 *   - raw CRI calls (CreateContainer, StartContainer, ContainerStatus until exited, RemoveContainer)
 *     in an existing sandbox, with no output read;
 *   - the cri executor: startStep → stdout read to the end → wait → destroy, in a set-up build.
 * Rounds interleave the three; medians. The build's own setup (sandbox, workspace copy) and
 * teardown are timed apart: they are per build, not per step. Writes the "cri step overhead"
 * section of BENCHMARKS.md.
 *
 *   WHARF_CRI_ENDPOINT=$(bash scripts/cri/up.sh) pnpm exec tsx bench/cri-step-overhead.ts [rounds]
 */
import { execFile } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import type { PlanStep } from "@wharf/executor";
import { containerStep, finish } from "@wharf/executor/testing";
import { CriExecutor } from "@wharf/executor-cri";
import { writeBenchmarkSection } from "./benchmarks-file.js";
import { machineLine } from "./relay-bench-processes.js";

const run = promisify(execFile);
const ROUNDS = Number(process.argv[2] ?? 15);
const WARMUP = 2;
const GOAL = 1.1;
const endpoint = process.env.WHARF_CRI_ENDPOINT;
if (!endpoint?.startsWith("unix://"))
  throw new Error("set WHARF_CRI_ENDPOINT to the runtime's unix:// socket");
const socket = endpoint.slice("unix://".length);
const image = process.env.WHARF_CRI_BENCH_IMAGE ?? "docker.io/wharf-test/busybox:latest";

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
};
const range = (xs: number[]) => `${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)}`;

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

let n = 0;
async function ctrRun(): Promise<void> {
  n += 1;
  const { stdout } = await run(
    "ctr",
    [
      "-a",
      socket,
      "-n",
      "k8s.io",
      "run",
      "--rm",
      image,
      `wharf-bench-${process.pid}-${n}`,
      "/bin/sh",
      "-c",
      "echo hi",
    ],
    { timeout: 60_000 },
  );
  if (stdout !== "hi\n") throw new Error(`ctr run printed ${JSON.stringify(stdout)}`);
}

const executor = new CriExecutor({ endpoint });
const sourceDir = await fs.mkdtemp(path.join(os.tmpdir(), "wharf-bench-src-"));
const build = { buildRef: `bench-${process.pid}`, sourceDir, labels: {}, env: {} };
const step: PlanStep = containerStep(1, ["echo hi"], { image });

async function executorStep(): Promise<void> {
  const proc = await executor.startStep(build, step, {});
  const r = await finish(proc);
  await proc.destroy();
  if (r.stdout !== "hi\n" || r.code !== 0) throw new Error(`step gave ${JSON.stringify(r)}`);
}

/** The same container through the CRI with nothing around it: the floor of what the executor can do. */
async function rawCri(sandboxId: string, sandbox: unknown): Promise<void> {
  n += 1;
  const cri = executor.cri;
  const id = await cri.createContainer(
    sandboxId,
    {
      metadata: { name: `raw-${n}`, attempt: 0 },
      image: { image },
      command: ["/bin/sh", "-c", "echo hi"],
      args: [],
      workingDir: "/",
      envs: [],
      mounts: [],
      labels: {},
      logPath: `raw-${n}.log`,
      linux: { securityContext: { namespaceOptions: { network: 0, pid: 0, ipc: 0 } } },
    },
    sandbox as never,
  );
  await cri.startContainer(id);
  for (let i = 0; i < 10_000 && (await cri.containerStatus(id)).state !== 2; i++)
    await new Promise((r) => setTimeout(r, 5));
  await cri.removeContainer(id);
}

try {
  await executor.ping();
  const setups: number[] = [];
  const teardowns: number[] = [];
  const times = { ctr: [] as number[], raw: [] as number[], executor: [] as number[] };
  setups.push(await timed(() => executor.setupBuild(build)));
  const state = (
    executor as unknown as { builds: Map<string, { sandboxId: string; sandbox: unknown }> }
  ).builds.get(build.buildRef);
  if (!state) throw new Error("no sandbox");
  for (let round = 0; round < ROUNDS + WARMUP; round++) {
    const ctr = await timed(ctrRun);
    const raw = await timed(() => rawCri(state.sandboxId, state.sandbox));
    const exe = await timed(executorStep);
    if (round < WARMUP) continue;
    times.ctr.push(ctr);
    times.raw.push(raw);
    times.executor.push(exe);
  }
  teardowns.push(await timed(() => executor.destroyBuild(build)));
  for (let i = 0; i < 4; i++) {
    const b = { ...build, buildRef: `${build.buildRef}-${i}` };
    setups.push(await timed(() => executor.setupBuild(b)));
    teardowns.push(await timed(() => executor.destroyBuild(b)));
  }
  const base = median(times.ctr);
  const ratio = median(times.executor) / base;
  const row = (what: string, xs: number[]) =>
    `| ${what} | ${median(xs).toFixed(0)} | ${range(xs)} | ${(median(xs) / base).toFixed(2)}× |`;
  const section = [
    "## cri step overhead",
    "",
    "`WHARF_CRI_ENDPOINT=$(bash scripts/cri/up.sh) pnpm exec tsx bench/cri-step-overhead.ts` — one step",
    "`echo hi` in busybox on Debian's containerd 1.6 (scripts/cri: overlayfs, runc), three ways in each round,",
    `${ROUNDS} rounds after ${WARMUP} warm-ups, interleaved; wall ms from asking to the container removed.`,
    "",
    "| per step | median ms | range | vs `ctr run --rm` |",
    "| --- | ---: | ---: | ---: |",
    row("`ctr run --rm` of the image (baseline; a new ctr process each time)", times.ctr),
    row("raw CRI calls in the build's sandbox (create, start, status until exited, remove)", times.raw),
    row("cri executor: startStep, stdout read to the end, wait, destroy", times.executor),
    "",
    `Per build, not per step: setupBuild (orphan check, workspace copy, RunPodSandbox) median ${median(setups).toFixed(0)} ms,`,
    `destroyBuild (StopPodSandbox, RemovePodSandbox, directories) median ${median(teardowns).toFixed(0)} ms (${setups.length} builds).`,
    "",
    `Goal ≤ ${GOAL.toFixed(2)}× \`ctr run --rm\` per step: ${ratio <= GOAL ? "met" : "not met"} (${ratio.toFixed(2)}×).`,
    `${machineLine()}.`,
    "",
  ].join("\n");
  writeBenchmarkSection(section);
  process.stdout.write(section);
} finally {
  executor.close();
  await fs.rm(sourceDir, { recursive: true, force: true });
}
