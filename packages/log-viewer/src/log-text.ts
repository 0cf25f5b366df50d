import { stripVTControlCharacters } from "node:util";
import type { BuildId } from "@wharf/proto/build-id";
import type { BuildSummary, LogEntry, StepSummary } from "@wharf/result-store";
import type { BuildLogSource } from "./build-log-source.js";

export interface LogTextOptions {
  /** Keep the SGR colour sequences (ESC[...m) instead of stripping them. */
  keepColours?: boolean;
  /** Only the lines of this step (its raw download). */
  stepId?: number;
}

/** "stage/step" for a step id, or "build" for lines of the build itself (step 0 or unknown steps). */
export function stepLabel(steps: readonly StepSummary[], stepId: number): string {
  const step = steps.find((s) => s.stepId === stepId);
  if (!step) return stepId === 0 ? "build" : `step ${stepId}`;
  return step.stage ? `${step.stage}/${step.name}` : step.name;
}

/** One line of the text download: `[stage/step] message`. */
export function logTextLine(
  line: LogEntry,
  steps: readonly StepSummary[],
  opts: LogTextOptions = {},
): string {
  // Lines hold no control characters but SGR sequences (the store escapes the rest as \xNN).
  const message = opts.keepColours ? line.message : stripVTControlCharacters(line.message);
  return `[${stepLabel(steps, line.stepId)}] ${message}\n`;
}

/**
 * The log as it is at `summary` time, as text (chunks of whole lines). Stops at the summary's
 * last line instead of waiting for live lines, so a download of a running build ends.
 */
export async function* logText(
  source: BuildLogSource,
  buildId: BuildId,
  summary: BuildSummary,
  signal: AbortSignal,
  opts: LogTextOptions = {},
): AsyncGenerator<string> {
  for await (const batch of linesUntilSummary(source, { buildId, lastLogId: summary.lastLogId }, signal)) {
    let chunk = "";
    for (const line of batch)
      if (opts.stepId === undefined || line.stepId === opts.stepId)
        chunk += logTextLine(line, summary.steps, opts);
    if (chunk) yield chunk;
  }
}

/** A build's log up to a line: the build, and its summary's last line when it was read. */
export interface LogCut {
  buildId: BuildId;
  lastLogId: number;
}

/** The build's lines up to the summary's last one, in batches; never waits for live lines. */
export async function* linesUntilSummary(
  source: BuildLogSource,
  summary: LogCut,
  signal: AbortSignal,
): AsyncGenerator<LogEntry[]> {
  if (summary.lastLogId === 0) return;
  const inner = new AbortController();
  const stop = () => inner.abort();
  signal.addEventListener("abort", stop, { once: true });
  try {
    for await (const batch of source.follow(summary.buildId, 0, inner.signal)) {
      const last = batch.at(-1)?.logId ?? 0;
      if (last <= summary.lastLogId) yield batch;
      else yield batch.filter((l) => l.logId <= summary.lastLogId);
      if (last >= summary.lastLogId) return;
    }
  } finally {
    signal.removeEventListener("abort", stop);
    inner.abort();
  }
}
