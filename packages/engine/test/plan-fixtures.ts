import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BuildSpec, Plan, PlanStage, PlanStep, RunIf } from "@wharf/executor";
import { afterEach, expect } from "vitest";
import { type RunBuildOptions, runBuild } from "../src/index.js";
import { FakeExecutor, MemoryRecorder } from "../testing/index.js";

let nextId = 1;

/** A container step for the FakeExecutor; ids count up per test file, reset by `resetIds`. */
export function step(
  name: string,
  cmds: string[],
  extra: Partial<Pick<PlanStep, "timeoutMs" | "retries" | "artifacts">> = {},
): Omit<PlanStep, "stage"> {
  return {
    id: nextId++,
    name,
    type: "container",
    spec: { image: "busybox", cmds, shell: "/bin/sh", os: "linux" },
    retries: extra.retries ?? 0,
    timeoutMs: extra.timeoutMs,
    artifacts: extra.artifacts ?? [],
  } as Omit<PlanStep, "stage">;
}

export function stage(name: string, steps: Omit<PlanStep, "stage">[], runIf: RunIf = "success"): PlanStage {
  return { name, runIf, steps: steps.map((s) => ({ ...s, stage: name }) as PlanStep) };
}

export function plan(...stages: PlanStage[]): Plan {
  nextId = 1;
  return { stages, environment: null, secrets: [] };
}

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A build spec with a fresh workspace dir, removed after the test. */
export function buildSpec(env: Record<string, string> = {}): BuildSpec {
  const sourceDir = mkdtempSync(join(tmpdir(), "wharf-engine-test-"));
  dirs.push(sourceDir);
  return { buildRef: "42", sourceDir, labels: { "wharf.build": "42" }, env };
}

/** Runs `p` on a FakeExecutor and a MemoryRecorder. */
export async function runFake(p: Plan, options: Partial<RunBuildOptions> = {}) {
  const executor = (options.executor as FakeExecutor | undefined) ?? new FakeExecutor();
  const recorder = (options.recorder as MemoryRecorder | undefined) ?? new MemoryRecorder();
  const build = options.build ?? buildSpec();
  const result = await runBuild(p, { stopGraceMs: 200, ...options, executor, recorder, build });
  return { result, executor, recorder, build };
}

/** The id of the step called `name` in `p`. */
export function idOf(p: Plan, name: string): number {
  const found = p.stages.flatMap((s) => s.steps).find((s) => s.name === name);
  if (!found) throw new Error(`no step "${name}" in plan`);
  return found.id;
}

export const FULL_SUCCESS = ["PENDING", "SCHEDULING", "INITIALIZING", "RUNNING", "SUCCESS"];

const ORDER = ["PENDING", "SCHEDULING", "INITIALIZING", "RUNNING"];

/** Every step's statuses move only forward and end in exactly one terminal status. */
export function expectForwardStatuses(recorder: MemoryRecorder): void {
  for (const { stepId } of recorder.steps) {
    const statuses = recorder.statusesOf(stepId);
    const last = statuses.at(-1);
    expect(["SUCCESS", "FAILED", "CANCELLED"], `step ${stepId}: ${statuses}`).toContain(last);
    const before = statuses.slice(0, -1).map((s) => ORDER.indexOf(s));
    expect(before[0], `step ${stepId} starts PENDING`).toBe(0);
    for (let i = 1; i < before.length; i++) expect(before[i]!).toBeGreaterThan(before[i - 1]!);
  }
}

/** Polls `condition` every 5 ms until true; fails after `timeoutMs`. */
export async function waitFor(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
