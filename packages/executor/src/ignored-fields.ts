import type { StepProcess } from "./executor.js";
import type { PlanStep, StepType } from "./plan.js";

/** A field of a step type that an executor cannot honour, as the pipeline's author wrote it. */
export interface IgnoredField {
  type: StepType;
  /** The plan's name of the field (`ContainerSpec.secretName`, ...). */
  field: string;
  /** Its name in `.wharf-ci.yml`, for the warning. */
  yamlName: string;
  /** Why the executor cannot honour it, and what happens instead. */
  why: string;
}

function isSet(value: unknown): boolean {
  if (Array.isArray(value)) return value.length > 0;
  return value !== undefined && value !== null && value !== "" && value !== false;
}

/**
 * One sentence per field of `step` that is set and that the `executor` cannot honour: what a
 * pipeline written for another backend (wharf-cmd's Kubernetes) would silently lose. They go
 * into the step's build log (`StepProcess.warnings`), where the developer looks.
 */
export function ignoredFieldWarnings(
  step: PlanStep,
  executor: string,
  fields: readonly IgnoredField[],
): string[] {
  const spec = step.spec as unknown as Record<string, unknown>;
  return fields
    .filter((f) => f.type === step.type && isSet(spec[f.field]))
    .map((f) => `${f.yamlName} is ignored by the ${executor} executor: ${f.why}`);
}

/** `proc` with `warnings` for the build log; `proc` itself when there are none. */
export function withWarnings(proc: StepProcess, warnings: readonly string[]): StepProcess {
  if (warnings.length === 0) return proc;
  return {
    stdout: proc.stdout,
    stderr: proc.stderr,
    ...(proc.secrets ? { secrets: proc.secrets } : {}),
    warnings,
    wait: () => proc.wait(),
    stop: (graceMs) => proc.stop(graceMs),
    destroy: () => proc.destroy(),
  };
}
