import { CREATED_BY_EXECUTOR, WHARF_LABELS } from "@wharf/proto/labels";
import type { BuildSpec } from "./executor.js";
import type { PlanStep } from "./plan.js";

/** Label keys every backend puts on what it creates, so leftovers can be found after a crash (see WHARF_LABELS). */
export const LABEL_BUILD_REF = WHARF_LABELS.buildId;
export const LABEL_STEP_ID = WHARF_LABELS.stepId;
export const LABEL_STEP_NAME = WHARF_LABELS.stepName;
export const LABEL_CREATED_BY = WHARF_LABELS.createdBy;
export { CREATED_BY_EXECUTOR };

/** The build's own labels plus the build ref; for build-wide resources (volume, PVC). */
export function buildLabels(build: Pick<BuildSpec, "buildRef" | "labels">): Record<string, string> {
  return { ...build.labels, [LABEL_BUILD_REF]: build.buildRef, [LABEL_CREATED_BY]: CREATED_BY_EXECUTOR };
}

/** Labels of one step's container or pod. */
export function stepLabels(build: BuildSpec, step: PlanStep): Record<string, string> {
  return { ...buildLabels(build), [LABEL_STEP_ID]: String(step.id), [LABEL_STEP_NAME]: step.name };
}
