/*
 * wharf.worker.v1 messages as @wharf/proto's loader shapes them (camelCase fields, uint64 and int64
 * as numbers, enums as numbers): what the worker's server sends and every client of it reads.
 */

export interface WireTimestamp {
  seconds: number;
  nanos: number;
}

export interface WireLogLine {
  logId: number;
  stepId: number;
  timestamp: WireTimestamp | null;
  message: string;
}

export interface WireStatusEvent {
  eventId: number;
  stepId: number;
  status: number;
  timestamp: WireTimestamp | null;
}

/** StreamProgressResponse: a step's unfinished progress line ("" once its next line came). */
export interface WireProgressLine {
  stepId: number;
  afterLogId: number;
  timestamp: WireTimestamp | null;
  message: string;
}

export interface WireArtifactEvent {
  artifactId: number;
  stepId: number;
  name: string;
  size: number;
  sha256: string;
}

export interface WireStepSummary {
  stepId: number;
  stage: string;
  name: string;
  status: number;
  exitCode: number;
  attempts: number;
}

export interface WireBuildSummary {
  buildRef: string;
  status: number;
  finished: boolean;
  lastLogId: number;
  lastEventId: number;
  lastArtifactId: number;
  steps: WireStepSummary[];
  message: string;
}
