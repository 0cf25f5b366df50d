import type { Plan } from "@wharf/executor";

/** The plan or the options given to `runBuild` cannot be run; nothing was started. */
export class InvalidPlanError extends Error {
  override readonly name = "InvalidPlanError";
}

const RUN_IFS = new Set(["success", "fail", "always"]);

/** Checks what the engine relies on; plans from `@wharf/wharfyml` always pass. */
export function checkPlan(plan: Plan): void {
  if (!plan || !Array.isArray(plan.stages)) throw new InvalidPlanError("plan.stages must be an array");
  const ids = new Set<number>();
  for (const stage of plan.stages) {
    if (!RUN_IFS.has(stage.runIf)) {
      throw new InvalidPlanError(`stage "${stage.name}": run-if must be success, fail or always`);
    }
    if (!Array.isArray(stage.steps))
      throw new InvalidPlanError(`stage "${stage.name}": steps must be an array`);
    for (const step of stage.steps) {
      const where = `stage "${stage.name}", step "${step.name}"`;
      if (!Number.isInteger(step.id) || step.id < 1) {
        throw new InvalidPlanError(`${where}: id must be a positive integer, got ${step.id}`);
      }
      if (ids.has(step.id)) throw new InvalidPlanError(`${where}: duplicate step id ${step.id}`);
      ids.add(step.id);
      if (step.stage !== stage.name) {
        throw new InvalidPlanError(`${where}: step.stage is "${step.stage}", not the stage it is in`);
      }
      if (!Number.isInteger(step.retries) || step.retries < 0) {
        throw new InvalidPlanError(`${where}: retries must be an integer >= 0, got ${step.retries}`);
      }
      if (step.timeoutMs !== undefined) checkDuration(`${where}: timeoutMs`, step.timeoutMs);
      if (!Array.isArray(step.artifacts)) throw new InvalidPlanError(`${where}: artifacts must be an array`);
    }
  }
}

/** A positive, finite number of milliseconds that fits a timer. */
export function checkDuration(what: string, ms: number): void {
  if (typeof ms !== "number" || !Number.isFinite(ms) || ms <= 0 || ms > 2 ** 31 - 1) {
    throw new InvalidPlanError(`${what} must be a positive number of milliseconds below 2^31, got ${ms}`);
  }
}
