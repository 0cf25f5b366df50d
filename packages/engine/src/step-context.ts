import type { Logger } from "@wharf/config";
import type { BuildSpec, Executor } from "@wharf/executor";
import type { ArtifactScratch } from "./artifacts.js";
import type { BuildRecorder } from "./recorder.js";
import type { StepTracker } from "./step-tracker.js";

/** Everything running one step needs; built by the build for each step. */
export interface StepRunContext {
  executor: Executor;
  build: BuildSpec;
  recorder: BuildRecorder;
  tracker: StepTracker;
  /** The full environment of the step (build env plus the engine's WHARF_* variables). */
  env: Record<string, string>;
  /** Aborted (with a `StopReason`) when the step must stop: cancel, build timeout, a sibling failed. */
  signal: AbortSignal;
  stopGraceMs: number;
  maxLineBytes: number;
  artifacts: ArtifactScratch;
  log: Logger;
  /**
   * Clean-up still running when the step already ended (a step whose start completed
   * after it was cancelled). The build waits for these before `destroyBuild`.
   */
  background: Set<Promise<void>>;
}

/**
 * The variables the engine gives every step on top of the build's env, wharf-cmd's names: a
 * contract with the pipelines' scripts, listed in docs/settings.md from here.
 */
export const STEP_ENV = {
  ci: "CI",
  buildId: "WHARF_BUILD_REF",
  stage: "WHARF_STAGE_NAME",
  step: "WHARF_STEP_NAME",
  stepId: "WHARF_STEP_ID",
} as const;

/** The environment every step gets: the build's env, then the engine's variables (which win). */
export function stepEnv(
  build: BuildSpec,
  step: { id: number; name: string; stage: string },
): Record<string, string> {
  return {
    ...build.env,
    [STEP_ENV.ci]: "true",
    [STEP_ENV.buildId]: build.buildRef,
    [STEP_ENV.stage]: step.stage,
    [STEP_ENV.step]: step.name,
    [STEP_ENV.stepId]: String(step.id),
  };
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
