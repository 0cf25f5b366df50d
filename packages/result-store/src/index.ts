export {
  ArtifactNotFoundError,
  BuildFinishedError,
  ResultStoreArgumentError,
  ResultStoreClosedError,
  ResultStoreCorruptError,
  ResultStoreError,
  ResultStoreWriteError,
} from "./errors.js";
export { DEFAULT_MAX_LINE_BYTES, LineEncoder, SECRET_MASK } from "./line-encoder.js";
export type { ProgressLine } from "./progress-lines.js";
export {
  type FollowLogsOptions,
  type FollowOptions,
  ResultStore,
  type ResultStoreOptions,
} from "./result-store.js";
export {
  type ArtifactEvent,
  type BuildSummary,
  FINAL_STATUSES,
  isStepStatus,
  type LogEntry,
  type LogRecordBatch,
  STEP_STATUSES,
  type StatusEvent,
  type StepDeclaration,
  type StepStatus,
  type StepSummary,
} from "./types.js";
