import type { TerminalStatus } from "./recorder.js";

/** How one step ended, as the build status derivation sees it. */
export interface FinishedStep {
  stage: string;
  name: string;
  status: TerminalStatus;
  /** True when the step never ran because of its stage's run-if (not a failure, not a cancel). */
  skipped: boolean;
}

export interface BuildVerdictInput {
  steps: FinishedStep[];
  /** A cancel from outside (AbortSignal) stopped a step or kept one from running. */
  cancelled: boolean;
  /** A reason the build failed that is not a step's own failure (executor fault, build timeout). */
  fault: string | null;
}

export interface BuildVerdict {
  status: TerminalStatus;
  message: string;
}

/**
 * The one place the build status is decided, from the final state of every step,
 * after all of them have ended. Precedence:
 *   1. a fault of the build (executor broken, build timeout) → FAILED
 *   2. any step FAILED → FAILED (a failure is a fact about the code, even if the build
 *      was cancelled afterwards)
 *   3. cancelled from outside, or a step CANCELLED that was not skipped → CANCELLED
 *   4. otherwise SUCCESS (steps skipped by run-if do not count; no steps at all is a success)
 */
export function deriveBuildStatus(input: BuildVerdictInput): BuildVerdict {
  if (input.fault !== null) return { status: "FAILED", message: input.fault };
  const failed = input.steps.filter((s) => s.status === "FAILED");
  if (failed.length > 0) {
    const names = failed.map((s) => `${s.stage}/${s.name}`).join(", ");
    return { status: "FAILED", message: `${failed.length === 1 ? "step" : "steps"} failed: ${names}` };
  }
  if (input.cancelled) return { status: "CANCELLED", message: "build cancelled" };
  if (input.steps.some((s) => s.status === "CANCELLED" && !s.skipped)) {
    return { status: "CANCELLED", message: "build cancelled" };
  }
  const ran = input.steps.filter((s) => !s.skipped).length;
  return { status: "SUCCESS", message: `build succeeded (${ran} of ${input.steps.length} steps ran)` };
}
