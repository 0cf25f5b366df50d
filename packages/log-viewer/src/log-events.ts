import type {
  BuildSummary,
  LogEntry,
  ProgressLine,
  StatusEvent,
  StepStatus,
  StepSummary,
} from "@wharf/result-store";

/**
 * A step as the page and `wharf logs` see it: the worker's summary of it, and when the aggregator
 * kept its step table (BuildRecordStore in @wharf/relay), its start and end (epoch ms; null
 * while it has none). A live build's times also follow from its status events.
 */
export interface ViewerStep extends StepSummary {
  startedAt?: number | null;
  finishedAt?: number | null;
}

/**
 * The Server-Sent Events of `GET /api/builds/:buildRef/logs?follow=true`, in the order a stream
 * sends them. Every `data` is one line of JSON.
 *
 * - `summary` (first): the build as it is when the stream starts; sent again when a status event
 *   names a step the last one did not list (the worker names its steps only once it planned
 *   the build, after the clone).
 * - `log`, with `id: <logId of its last line>`: a batch of consecutive lines. The id is what a
 *   reconnecting EventSource sends back as `Last-Event-ID`, so it resumes after that line.
 * - `status`: a step (stepId > 0) or the build (stepId 0) changed status; a following stream
 *   sends every status event from the build's first, so a client can time each step. No `id`,
 *   so the browser's last event id stays the last log line's.
 * - `progress`: a step's unfinished line that a carriage return redrew (a progress bar before
 *   its newline; ProgressLine): shown after line `afterLogId` until the step's next line
 *   arrives or one with an empty `message` says it is gone. Live only, no id.
 * - `problem`: the source failed mid-stream; the server closes and the client reconnects.
 * - `end`: nothing more comes on this connection. With `finished: true` the build is over and
 *   every line was sent; the client should close instead of reconnecting.
 * Comments (`: heartbeat`) keep idle connections open through proxies.
 */
export type LogStreamEvent =
  | { event: "summary"; data: ViewerSummary }
  | { event: "log"; id: number; data: LogEntry[] }
  | { event: "status"; data: StatusEvent }
  | { event: "progress"; data: ProgressLine }
  | { event: "problem"; data: { message: string } }
  | { event: "end"; data: StreamEnd };

export type ViewerSummary = Pick<
  BuildSummary,
  "buildRef" | "status" | "finished" | "message" | "lastLogId" | "lastEventId"
> & {
  steps: ViewerStep[];
  /** The build's start and end (epoch ms) when the aggregator recorded them. */
  startedAt?: number | null;
  finishedAt?: number | null;
};

export interface StreamEnd {
  status: StepStatus;
  finished: boolean;
  message: string;
  lastLogId: number;
}

export const LOG_STREAM_EVENTS = ["summary", "log", "status", "progress", "problem", "end"] as const;

export function viewerSummary(
  s: BuildSummary & Pick<ViewerSummary, "startedAt" | "finishedAt">,
): ViewerSummary {
  return {
    ...(s.startedAt !== undefined ? { startedAt: s.startedAt, finishedAt: s.finishedAt ?? null } : {}),
    buildRef: s.buildRef,
    status: s.status,
    finished: s.finished,
    message: s.message,
    steps: s.steps as ViewerStep[],
    lastLogId: s.lastLogId,
    lastEventId: s.lastEventId,
  };
}
