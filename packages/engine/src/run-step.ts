import { collectArtifacts } from "./artifacts.js";
import type { TerminalStatus } from "./recorder.js";
import { type AttemptResult, runAttempt } from "./run-attempt.js";
import { restoreStepCache, saveStepCache } from "./step-caches.js";
import type { StepRunContext } from "./step-context.js";
import { formatDuration, type StopReason, stopMessage, stopReasonOf } from "./stop-reason.js";

/** How a step ended, as the build's result reports it. */
export interface StepResult {
  stepId: number;
  stage: string;
  name: string;
  status: TerminalStatus;
  exitCode: number | null;
  attempts: number;
  durationMs: number;
}

/** How a step ended, for the stage and the build: its result plus why it ended so. */
export interface StepOutcome extends StepResult {
  /** Never ran because of its stage's run-if. */
  skipped: boolean;
  /** Set when the executor or the recording (not the step) failed: the build then fails and stops. */
  fault: string | null;
  /** Set when the engine stopped (or never started) the step: cancel, build timeout, failed sibling. */
  stoppedBy: StopReason | null;
}

/**
 * Runs one step to its end: up to `1 + retries` attempts (a failure is retried; a cancel
 * and a start failure the executor marks permanent are not), each bounded by the step's
 * timeout; then collects its artifacts if it succeeded.
 */
export async function runStep(ctx: StepRunContext): Promise<StepOutcome> {
  const { tracker, signal } = ctx;
  const { step } = tracker;
  const startedAt = performance.now();
  const maxAttempts = 1 + step.retries;
  let attempts = 0;
  let result: AttemptResult | undefined;
  tracker.advance("SCHEDULING");
  if (!signal.aborted) await restoreStepCache(ctx);
  while (result === undefined || (isRetryable(result) && attempts < maxAttempts)) {
    if (signal.aborted) {
      result = { kind: "stopped", reason: stopReasonOf(signal), exitCode: exitCodeOf(result) };
      tracker.log(describe(result)!);
      break;
    }
    attempts++;
    if (maxAttempts > 1) tracker.log(`attempt ${attempts} of ${maxAttempts}`);
    tracker.advance("INITIALIZING");
    result = await runAttempt(ctx);
    const line = describe(result);
    if (line !== null) tracker.log(line);
    if (result.kind === "start-failed" && result.permanent && attempts < maxAttempts)
      tracker.log("not retried: the step cannot start as written");
  }
  let status = statusOf(result);
  if (status === "SUCCESS" && step.type === "container" && step.artifacts.length > 0) {
    if (!(await collectArtifacts(ctx))) status = "FAILED";
  }
  if (status === "SUCCESS" && !signal.aborted) await saveStepCache(ctx);
  const exitCode = exitCodeOf(result);
  tracker.finish(status, { exitCode, attempts });
  return {
    stepId: step.id,
    stage: step.stage,
    name: step.name,
    status,
    exitCode,
    attempts,
    durationMs: Math.round(performance.now() - startedAt),
    skipped: false,
    fault: result.kind === "fault" ? result.message : null,
    stoppedBy: result.kind === "stopped" ? result.reason : null,
  };
}

function isRetryable(result: AttemptResult): boolean {
  return (
    (result.kind === "start-failed" && !result.permanent) ||
    result.kind === "timed-out" ||
    (result.kind === "exited" && result.exitCode !== 0)
  );
}

function statusOf(result: AttemptResult): TerminalStatus {
  switch (result.kind) {
    case "exited":
      return result.exitCode === 0 ? "SUCCESS" : "FAILED";
    case "stopped":
      // A build timeout is a failure of the build; a cancel (from outside or by a
      // failed sibling) is not a failure of this step.
      return result.reason.kind === "build-timeout" ? "FAILED" : "CANCELLED";
    default:
      return "FAILED";
  }
}

function exitCodeOf(result: AttemptResult | undefined): number | null {
  if (result === undefined) return null;
  return "exitCode" in result ? result.exitCode : null;
}

/** The log line an attempt's end gets, or null for a plain success. */
function describe(result: AttemptResult): string | null {
  switch (result.kind) {
    case "exited":
      return result.exitCode === 0 ? null : `exited with code ${result.exitCode}`;
    case "timed-out":
      return `timed out after ${formatDuration(result.timeoutMs)}`;
    case "stopped":
      return stopMessage(result.reason);
    case "start-failed":
      return result.message;
    case "fault":
      return result.message;
  }
}
