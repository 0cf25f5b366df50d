import type { PlanStage } from "@wharf/executor";
import { runStep, type StepOutcome } from "./run-step.js";
import type { StepRunContext } from "./step-context.js";
import type { StopReason } from "./stop-reason.js";

/**
 * Why a stage does not run given whether the build has failed so far, or null when it
 * runs. run-if: success → only while nothing failed; fail → only after a failure;
 * always → always.
 */
export function runIfSkipReason(stage: PlanStage, buildFailed: boolean): string | null {
  if (stage.runIf === "success" && buildFailed) return "skipped: run-if=success and the build failed";
  if (stage.runIf === "fail" && !buildFailed) return "skipped: run-if=fail and the build has not failed";
  return null;
}

/**
 * Runs all steps of a stage at once. The first step that fails aborts the others
 * (they end CANCELLED); the build's own signal (cancel, build timeout) reaches every
 * step through the same combined signal. Resolves once every step has ended.
 */
export async function runStage(
  stage: PlanStage,
  buildSignal: AbortSignal,
  contextFor: (stepId: number, signal: AbortSignal) => StepRunContext,
): Promise<StepOutcome[]> {
  const siblings = new AbortController();
  const signal = AbortSignal.any([buildSignal, siblings.signal]);
  const cancelSiblings = (stepName: string): void => {
    if (siblings.signal.aborted) return;
    siblings.abort({ kind: "sibling-failed", stepName } satisfies StopReason);
  };
  const runs = stage.steps.map(async (step) => {
    try {
      const outcome = await runStep(contextFor(step.id, signal));
      if (outcome.status === "FAILED") cancelSiblings(step.name);
      return outcome;
    } catch (err) {
      cancelSiblings(step.name);
      throw err;
    }
  });
  const settled = await Promise.allSettled(runs);
  const broken = settled.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (broken) throw broken.reason;
  return settled.map((r) => (r as PromiseFulfilledResult<StepOutcome>).value);
}
