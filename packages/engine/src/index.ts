export {
  type BuildVerdict,
  type BuildVerdictInput,
  deriveBuildStatus,
  type FinishedStep,
} from "./build-status.js";
export { forEachLine, LineSplitter, MAX_LINE_BYTES } from "./line-splitter.js";
export { InvalidPlanError } from "./plan-checks.js";
export {
  BUILD_STEP_ID,
  type BuildRecorder,
  isTerminal,
  type StepStatus,
  type TerminalStatus,
} from "./recorder.js";
export {
  type BuildResult,
  DEFAULT_STOP_GRACE_MS,
  type RunBuildOptions,
  runBuild,
} from "./run-build.js";
export type { StepResult } from "./run-step.js";
export { STEP_ENV, stepEnv } from "./step-context.js";
