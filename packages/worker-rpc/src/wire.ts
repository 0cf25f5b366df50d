import {
  NO_EXIT_CODE,
  StepStatusCode,
  type StepStatusCodeValue,
  timestampMs,
  timestampNanos,
  timestampSeconds,
  type WireArtifactEvent,
  type WireBuildSummary,
  type WireLogLine,
  type WireProgressLine,
  type WireStatusEvent,
  type WireStepSummary,
  type WireTimestamp,
} from "@wharf/proto";
import type {
  ArtifactEvent,
  BuildSummary,
  LogEntry,
  ProgressLine,
  StatusEvent,
  StepStatus,
  StepSummary,
} from "@wharf/result-store";

/*
 * Conversions between the store's types and wharf.worker.v1 messages as @wharf/proto's loader shapes
 * them (camelCase fields, uint64 as numbers, enums as numbers).
 */

export type {
  WireArtifactEvent,
  WireBuildSummary,
  WireLogLine,
  WireProgressLine,
  WireStatusEvent,
  WireStepSummary,
  WireTimestamp,
};

/** An artifact event as the wire carries it: the proto has no timestamp for artifacts. */
export type WorkerArtifactEvent = Omit<ArtifactEvent, "timestamp">;

export { NO_EXIT_CODE };

export function statusToWire(status: StepStatus): StepStatusCodeValue {
  return StepStatusCode[status];
}

const statusByNumber = new Map<number, StepStatus>(
  (Object.entries(StepStatusCode) as [string, number][])
    .filter(([name]) => name !== "UNSPECIFIED")
    .map(([name, n]) => [n, name as StepStatus]),
);

/** Undefined for STATUS_UNSPECIFIED and numbers this version does not know. */
export function statusFromWire(n: number): StepStatus | undefined {
  return statusByNumber.get(n);
}

export function timestampToWire(ms: number): WireTimestamp {
  const seconds = timestampSeconds(ms);
  return { seconds, nanos: timestampNanos(ms, seconds) };
}

export function timestampFromWire(ts: WireTimestamp | null | undefined): number {
  if (!ts) return 0;
  return timestampMs(Number(ts.seconds), ts.nanos);
}

export function logLineToWire(l: LogEntry): WireLogLine {
  return { logId: l.logId, stepId: l.stepId, timestamp: timestampToWire(l.timestamp), message: l.message };
}

export function progressLineToWire(p: ProgressLine): WireProgressLine {
  return { ...p, timestamp: timestampToWire(p.timestamp) };
}

export function progressLineFromWire(p: WireProgressLine): ProgressLine {
  return {
    stepId: Number(p.stepId),
    afterLogId: Number(p.afterLogId),
    timestamp: timestampFromWire(p.timestamp),
    message: p.message ?? "",
  };
}

export function logLineFromWire(l: WireLogLine): LogEntry {
  return {
    logId: Number(l.logId),
    stepId: Number(l.stepId),
    timestamp: timestampFromWire(l.timestamp),
    message: l.message,
  };
}

export function statusEventToWire(e: StatusEvent): WireStatusEvent {
  return {
    eventId: e.eventId,
    stepId: e.stepId,
    status: statusToWire(e.status),
    timestamp: timestampToWire(e.timestamp),
  };
}

export function artifactEventToWire(e: ArtifactEvent): WireArtifactEvent {
  return { artifactId: e.artifactId, stepId: e.stepId, name: e.name, size: e.size, sha256: e.sha256 };
}

export function artifactEventFromWire(e: WireArtifactEvent): WorkerArtifactEvent {
  return {
    artifactId: Number(e.artifactId),
    stepId: Number(e.stepId),
    name: e.name,
    size: Number(e.size),
    sha256: e.sha256,
  };
}

export function summaryToWire(s: BuildSummary): WireBuildSummary {
  return {
    buildRef: s.buildRef,
    status: statusToWire(s.status),
    finished: s.finished,
    lastLogId: s.lastLogId,
    lastEventId: s.lastEventId,
    lastArtifactId: s.lastArtifactId,
    message: s.message,
    steps: s.steps.map((step) => ({
      stepId: step.stepId,
      stage: step.stage,
      name: step.name,
      status: statusToWire(step.status),
      exitCode: step.exitCode ?? NO_EXIT_CODE,
      attempts: step.attempts,
    })),
  };
}

/** Inverse of summaryToWire; `toStatus` decides what an unknown status number becomes. */
export function summaryFromWire(s: WireBuildSummary, toStatus: (n: number) => StepStatus): BuildSummary {
  return {
    buildRef: s.buildRef,
    status: toStatus(s.status),
    finished: s.finished,
    message: s.message,
    lastLogId: Number(s.lastLogId),
    lastEventId: Number(s.lastEventId),
    lastArtifactId: Number(s.lastArtifactId),
    steps: (s.steps ?? []).map(
      (step): StepSummary => ({
        stepId: Number(step.stepId),
        stage: step.stage,
        name: step.name,
        status: toStatus(step.status),
        exitCode: step.exitCode === NO_EXIT_CODE ? null : step.exitCode,
        attempts: step.attempts,
      }),
    ),
  };
}
