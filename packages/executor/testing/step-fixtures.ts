import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Readable } from "node:stream";
import type { BuildSpec, Executor, PlanStep, StepProcess } from "@wharf/executor";

/** Shared by the executor test suites: builds, steps and output readers that every backend understands. */

let buildCounter = 0;

/** A source directory with `files` (path → content; a leading "+x " makes it executable) and a unique build ref. */
export async function makeBuild(
  files: Record<string, string> = {},
  extra: Partial<BuildSpec> = {},
): Promise<BuildSpec> {
  const sourceDir = await fs.mkdtemp(path.join(os.tmpdir(), "wharf-src-"));
  for (const [rel, text] of Object.entries(files)) {
    const file = path.join(sourceDir, rel);
    await fs.mkdir(path.dirname(file), { recursive: true });
    const executable = text.startsWith("+x ");
    await fs.writeFile(file, executable ? text.slice(3) : text, { mode: executable ? 0o755 : 0o644 });
  }
  buildCounter += 1;
  return {
    buildRef: `t${process.pid}-${Date.now().toString(36)}-${buildCounter}`,
    sourceDir,
    labels: {},
    env: {},
    ...extra,
  };
}

/** Removes the build's temp source directory (the executor's own resources go with destroyBuild). */
export async function removeSource(build: BuildSpec): Promise<void> {
  await fs.rm(build.sourceDir, { recursive: true, force: true });
}

/**
 * Sets up a build with `files` on `executor`, runs `body`, always destroys the build and its
 * source, then checks with `assertGone` (when given) that the backend kept nothing of it.
 */
export async function withExecutorBuild(
  executor: Executor,
  files: Record<string, string>,
  body: (build: BuildSpec) => Promise<void>,
  opts: { extra?: Partial<BuildSpec>; assertGone?: (build: BuildSpec) => Promise<void> } = {},
): Promise<void> {
  const build = await makeBuild(files, opts.extra);
  try {
    await executor.setupBuild(build);
    await body(build);
  } finally {
    await executor.destroyBuild(build);
    await removeSource(build);
  }
  await opts.assertGone?.(build);
}

export function containerStep(
  id: number,
  cmds: string[],
  opts: { image?: string; shell?: string; name?: string } = {},
): PlanStep {
  return {
    id,
    name: opts.name ?? `step-${id}`,
    stage: "test",
    retries: 0,
    artifacts: [],
    type: "container",
    spec: { image: opts.image ?? "unset:latest", cmds, shell: opts.shell ?? "/bin/sh", os: "linux" },
  };
}

/** Accumulates a stream's text as it arrives, so a test can wait for a line while the rest keeps flowing. */
export class OutputCollector {
  text = "";
  private readonly ended: Promise<void>;

  constructor(stream: Readable) {
    stream.setEncoding("utf8");
    stream.on("data", (chunk: string) => {
      this.text += chunk;
    });
    this.ended = new Promise((resolve, reject) => {
      stream.once("end", resolve);
      stream.once("error", reject);
    });
  }

  /** Resolves once `needle` was received; rejects after `timeoutMs` (a bound, not an assertion on speed). */
  async waitFor(needle: string, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.text.includes(needle)) {
      if (Date.now() > deadline) throw new Error(`"${needle}" not received; got: ${this.text.slice(-500)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async all(): Promise<string> {
    await this.ended;
    return this.text;
  }
}

export interface StepResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Reads both streams of a started step to the end, waits for its exit code. Does not destroy it. */
export async function finish(proc: StepProcess): Promise<StepResult> {
  const out = new OutputCollector(proc.stdout);
  const err = new OutputCollector(proc.stderr);
  const [code, stdout, stderr] = await Promise.all([proc.wait(), out.all(), err.all()]);
  return { code, stdout, stderr };
}

/** Starts, finishes and destroys one step. */
export async function runStep(
  executor: Executor,
  build: BuildSpec,
  step: PlanStep,
  env: Record<string, string> = {},
): Promise<StepResult> {
  const proc = await executor.startStep(build, step, env);
  try {
    return await finish(proc);
  } finally {
    await proc.destroy();
  }
}
