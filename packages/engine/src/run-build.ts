import { createLogger, type Logger } from "@wharf/config";
import type { BuildSpec, Executor, Plan, PlanStage } from "@wharf/executor";
import { ArtifactScratch } from "./artifacts.js";
import { deriveBuildStatus } from "./build-status.js";
import { MAX_LINE_BYTES } from "./line-splitter.js";
import { checkDuration, checkPlan, InvalidPlanError } from "./plan-checks.js";
import { BUILD_STEP_ID, type BuildRecorder, type TerminalStatus } from "./recorder.js";
import { runIfSkipReason, runStage } from "./run-stage.js";
import type { StepOutcome, StepResult } from "./run-step.js";
import { errorMessage, type StepRunContext, stepEnv } from "./step-context.js";
import { StepTracker } from "./step-tracker.js";
import { formatDuration, type StopReason, stopMessage, stopReasonOf } from "./stop-reason.js";

export interface RunBuildOptions {
  executor: Executor;
  recorder: BuildRecorder;
  build: BuildSpec;
  /** Cancels the build: running steps are stopped (grace, then kill) and end CANCELLED. */
  signal?: AbortSignal;
  /**
   * The operator's limit (WHARF_BUILD_TIMEOUT): the build fails after this long, running steps
   * stopped and FAILED. The plan's own `timeoutMs` may lower it; a higher one is capped to it,
   * with a warning line in the build log.
   */
  buildTimeoutMs?: number;
  /** How long a stopped step gets between the graceful signal and the kill. Default 3000. */
  stopGraceMs?: number;
  /** Where artifacts are staged before the recorder copies them in. Default: the OS temp dir. */
  artifactsTmpDir?: string;
  /** Longest output line before it is split. Default `MAX_LINE_BYTES` (64 KiB). */
  maxLineBytes?: number;
  log?: Logger;
}

export interface BuildResult {
  status: TerminalStatus;
  steps: StepResult[];
  message: string;
}

export const DEFAULT_STOP_GRACE_MS = 3000;

/**
 * The build's limit: the pipeline's `timeout` where it is at most the operator's, else the
 * operator's, saying so with a warning line (the pipeline cannot buy itself more time).
 */
export function effectiveTimeout(
  pipelineMs: number | undefined,
  operatorMs: number | undefined,
  warn: (line: string) => void,
): number | undefined {
  if (pipelineMs === undefined) return operatorMs;
  if (operatorMs === undefined || pipelineMs <= operatorMs) return pipelineMs;
  warn(
    `warning: the pipeline's timeout ${formatDuration(pipelineMs)} is above this worker's limit ` +
      `${formatDuration(operatorMs)} (WHARF_BUILD_TIMEOUT): the build stops after ${formatDuration(operatorMs)}`,
  );
  return operatorMs;
}

/**
 * Runs `plan` on `options.executor`: stages in order, the steps of a stage in parallel,
 * everything recorded in `options.recorder`. Resolves with the build's result once every
 * step ended and the executor cleaned up (`destroy` of every started step, then
 * `destroyBuild`, also after a failure or cancel). Rejects only with `InvalidPlanError`
 * (nothing started) or when the recorder itself throws (after cleaning up).
 */
export async function runBuild(plan: Plan, options: RunBuildOptions): Promise<BuildResult> {
  checkPlan(plan);
  const stopGraceMs = options.stopGraceMs ?? DEFAULT_STOP_GRACE_MS;
  if (!Number.isFinite(stopGraceMs) || stopGraceMs < 0) {
    throw new InvalidPlanError(`stopGraceMs must be >= 0, got ${stopGraceMs}`);
  }
  if (options.buildTimeoutMs !== undefined) checkDuration("buildTimeoutMs", options.buildTimeoutMs);
  if (plan.timeoutMs !== undefined) checkDuration("plan timeoutMs", plan.timeoutMs);
  const { executor, recorder, build } = options;
  const log = options.log ?? createLogger("engine");

  const steps = plan.stages.flatMap((stage) => stage.steps);
  recorder.setSteps(steps.map((s) => ({ stepId: s.id, stage: s.stage, name: s.name })));
  let buildRunning = false;
  const trackers = new Map(
    steps.map((step) => [
      step.id,
      new StepTracker(step, recorder, (_tracker, status) => {
        // The build is RUNNING from the moment its first step is being scheduled.
        if (status === "SCHEDULING" && !buildRunning) {
          buildRunning = true;
          recorder.appendStatus(BUILD_STEP_ID, "RUNNING");
        }
      }),
    ]),
  );
  for (const tracker of trackers.values()) tracker.announce();
  const buildTimeoutMs = effectiveTimeout(plan.timeoutMs, options.buildTimeoutMs, (line) =>
    recorder.appendLog(BUILD_STEP_ID, line),
  );

  const abort = new AbortController();
  const onCancel = (): void => abort.abort({ kind: "cancel" } satisfies StopReason);
  options.signal?.addEventListener("abort", onCancel, { once: true });
  if (options.signal?.aborted) onCancel();
  const timer =
    buildTimeoutMs === undefined
      ? undefined
      : setTimeout(
          () => abort.abort({ kind: "build-timeout", timeoutMs: buildTimeoutMs } satisfies StopReason),
          buildTimeoutMs,
        );

  const background = new Set<Promise<void>>();
  const artifacts = new ArtifactScratch(options.artifactsTmpDir);
  const outcomes: StepOutcome[] = [];
  let fault: string | null = null;
  const contextFor = (stepId: number, signal: AbortSignal): StepRunContext => {
    const tracker = trackers.get(stepId)!;
    return {
      executor,
      build,
      recorder,
      tracker,
      env: stepEnv(build, tracker.step),
      signal,
      stopGraceMs,
      maxLineBytes: options.maxLineBytes ?? MAX_LINE_BYTES,
      artifacts,
      log,
      background,
    };
  };

  try {
    if (!abort.signal.aborted) {
      try {
        await executor.setupBuild(build);
      } catch (err) {
        fault = `executor failed: setting up the build: ${errorMessage(err)}`;
        log.error({ err, buildRef: build.buildRef }, "setting up the build failed");
        recorder.appendLog(BUILD_STEP_ID, fault);
      }
    }
    for (const stage of plan.stages) {
      const notRun = notRunReason(stage, abort.signal, fault, outcomes);
      if (notRun !== null) {
        outcomes.push(...stage.steps.map((s) => endUnrun(trackers.get(s.id)!, notRun)));
        continue;
      }
      const stageOutcomes = await runStage(stage, abort.signal, contextFor);
      outcomes.push(...stageOutcomes);
      fault ??= stageOutcomes.find((o) => o.fault !== null)?.fault ?? null;
    }
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener("abort", onCancel);
    await Promise.allSettled([...background]);
    try {
      await executor.destroyBuild(build);
    } catch (err) {
      log.error({ err, buildRef: build.buildRef }, "destroying the build failed");
      recorder.appendLog(BUILD_STEP_ID, `warning: cleaning up the build failed: ${errorMessage(err)}`);
    }
    await artifacts
      .remove()
      .catch((err: unknown) => log.warn({ err }, "removing the artifact scratch dir failed"));
  }

  // A cancel or timeout counts only if it stopped a step or kept one from running: one that
  // arrives after the last step ended changes nothing.
  const stops = outcomes.map((o) => o.stoppedBy?.kind);
  const timeout = outcomes.find((o) => o.stoppedBy?.kind === "build-timeout")?.stoppedBy;
  if (timeout) fault ??= stopMessage(timeout);
  const verdict = deriveBuildStatus({ steps: outcomes, cancelled: stops.includes("cancel"), fault });
  recorder.appendStatus(BUILD_STEP_ID, verdict.status);
  return {
    status: verdict.status,
    message: verdict.message,
    steps: outcomes.map(({ stepId, stage, name, status, exitCode, attempts, durationMs }) => ({
      stepId,
      stage,
      name,
      status,
      exitCode,
      attempts,
      durationMs,
    })),
  };
}

type NotRun = { message: string; skipped: boolean; stoppedBy: StopReason | null };

/** Why a stage's steps will not run at all, or null when the stage runs. */
function notRunReason(
  stage: PlanStage,
  signal: AbortSignal,
  fault: string | null,
  outcomes: StepOutcome[],
): NotRun | null {
  // Nothing more runs once the build is cancelled, timed out or its executor broke,
  // not even run-if=always stages: the point of a cancel is to stop promptly.
  if (signal.aborted) {
    const reason = stopReasonOf(signal);
    const what = reason.kind === "build-timeout" ? "the build timed out" : "the build was cancelled";
    return { message: `cancelled: ${what} before this stage started`, skipped: false, stoppedBy: reason };
  }
  if (fault !== null) return { message: `cancelled: ${fault}`, skipped: false, stoppedBy: null };
  const skip = runIfSkipReason(
    stage,
    outcomes.some((o) => o.status === "FAILED"),
  );
  return skip === null ? null : { message: skip, skipped: true, stoppedBy: null };
}

function endUnrun(tracker: StepTracker, why: NotRun): StepOutcome {
  tracker.log(why.message);
  tracker.finish("CANCELLED", { exitCode: null, attempts: 0 });
  const { step } = tracker;
  return {
    stepId: step.id,
    stage: step.stage,
    name: step.name,
    status: "CANCELLED",
    exitCode: null,
    attempts: 0,
    durationMs: 0,
    skipped: why.skipped,
    fault: null,
    stoppedBy: why.stoppedBy,
  };
}
