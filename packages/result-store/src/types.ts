/** Lifecycle of a step (and of the build itself, step 0), in the order a step goes through it. */
export type StepStatus =
  | "PENDING"
  | "SCHEDULING"
  | "INITIALIZING"
  | "RUNNING"
  | "SUCCESS"
  | "FAILED"
  | "CANCELLED";

export const STEP_STATUSES: readonly StepStatus[] = [
  "PENDING",
  "SCHEDULING",
  "INITIALIZING",
  "RUNNING",
  "SUCCESS",
  "FAILED",
  "CANCELLED",
];

/** Statuses a build may finish with. */
export const FINAL_STATUSES: readonly StepStatus[] = ["SUCCESS", "FAILED", "CANCELLED"];

export function isStepStatus(value: unknown): value is StepStatus {
  return typeof value === "string" && (STEP_STATUSES as readonly string[]).includes(value);
}

/** One stored log line. `logId` is global to the build, dense, starting at 1. */
export interface LogEntry {
  logId: number;
  stepId: number;
  /** epoch ms */
  timestamp: number;
  message: string;
}

/**
 * Log records as they sit on disk, for readers that pass messages on without decoding them (see
 * ResultStore.followLogRecords). Record i has logId `firstLogId + i` (ids are dense), and its message
 * is the UTF-8 bytes `data[messageStarts[i], messageEnds[i])`. Every record's checksum was verified.
 * The store wrote each message from a JS string after LineEncoder (masked, escaped, split), so the
 * bytes are valid UTF-8 (a lone surrogate was written as U+FFFD): exactly what `message` decodes to.
 */
export interface LogRecordBatch {
  readonly count: number;
  readonly firstLogId: number;
  /** One per record, as the arrays below. */
  readonly stepIds: Uint32Array;
  /** epoch ms */
  readonly timestamps: Float64Array;
  /** The bytes read from disk: the records' messages in order, their headers between them. */
  readonly data: Buffer;
  readonly messageStarts: Uint32Array;
  readonly messageEnds: Uint32Array;
}

export interface StatusEvent {
  eventId: number;
  /** 0 = the build itself */
  stepId: number;
  status: StepStatus;
  timestamp: number;
}

export interface ArtifactEvent {
  artifactId: number;
  stepId: number;
  name: string;
  size: number;
  sha256: string;
  timestamp: number;
}

export interface StepSummary {
  stepId: number;
  stage: string;
  name: string;
  status: StepStatus;
  exitCode: number | null;
  attempts: number;
}

export interface BuildSummary {
  buildRef: string;
  status: StepStatus;
  finished: boolean;
  message: string;
  steps: StepSummary[];
  lastLogId: number;
  lastEventId: number;
  lastArtifactId: number;
}

/** What `setSteps` takes: the step's identity; status and results come later. */
export type StepDeclaration = Omit<StepSummary, "status" | "exitCode" | "attempts">;
