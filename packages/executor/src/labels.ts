import type { PlanStep } from "@wharf/wharfyml";
import type { BuildSpec } from "./executor.js";

/** Label keys every backend puts on what it creates, so leftovers can be found after a crash. */
export const LABEL_BUILD_REF = "wharf.iver.com/build-ref";
export const LABEL_STEP_ID = "wharf.iver.com/step-id";
export const LABEL_STEP_NAME = "wharf.iver.com/step-name";
/**
 * Marks what an executor created. The worker's own container or pod carries the same
 * build-ref label (the provisioner puts it there), so cleanup by build ref alone would
 * remove the worker itself; cleanup always matches this label too.
 */
export const LABEL_CREATED_BY = "wharf.iver.com/created-by";
export const CREATED_BY_EXECUTOR = "wharf-executor";

/** The build's own labels plus the build ref; for build-wide resources (volume, PVC). */
export function buildLabels(build: BuildSpec): Record<string, string> {
  return { ...build.labels, [LABEL_BUILD_REF]: build.buildRef, [LABEL_CREATED_BY]: CREATED_BY_EXECUTOR };
}

/** Labels of one step's container or pod. */
export function stepLabels(build: BuildSpec, step: PlanStep): Record<string, string> {
  return { ...buildLabels(build), [LABEL_STEP_ID]: String(step.id), [LABEL_STEP_NAME]: step.name };
}
