import type { BuildId } from "@wharf/proto/build-id";
import type { BuildSummary, LogEntry, ProgressLine, StatusEvent } from "@wharf/result-store";
import type { BuildLogSource } from "./build-log-source.js";
import type { ViewerStep } from "./log-events.js";
import { recordsOf } from "./log-records.js";

/** A build's step table and times (epoch ms) as the aggregator kept them. */
export interface RecordedBuildTable {
  steps: ViewerStep[];
  startedAt: number | null;
  finishedAt: number | null;
}

/** The aggregator's record of a build, or null when it kept none. */
export type RecordedSteps = (buildId: BuildId) => Promise<RecordedBuildTable | null>;

/**
 * A source whose summaries carry the step table the aggregator keeps in its database: the
 * only step list there is once the worker is released (wharf-api knows no steps), and the
 * steps' start and end times while the worker lives (its summary has none), and the build's
 * own start and end. Lines and status events come from `inner` unchanged.
 */
export class RecordedStepsSource implements BuildLogSource {
  constructor(
    private readonly inner: BuildLogSource,
    private readonly recorded: RecordedSteps,
  ) {}

  follow(buildId: BuildId, afterLogId: number, signal: AbortSignal): AsyncIterable<LogEntry[]> {
    return this.inner.follow(buildId, afterLogId, signal);
  }

  followStatus(buildId: BuildId, afterEventId: number, signal: AbortSignal): AsyncIterable<StatusEvent> {
    return this.inner.followStatus(buildId, afterEventId, signal);
  }

  followProgress(buildId: BuildId, signal: AbortSignal): AsyncIterable<ProgressLine> {
    return this.inner.followProgress?.(buildId, signal) ?? (async function* () {})();
  }

  records(buildId: BuildId, untilLogId: number, signal: AbortSignal): AsyncIterable<Uint8Array | string> {
    return recordsOf(this.inner, { buildId, lastLogId: untilLogId }, signal);
  }

  async summary(buildId: BuildId, signal?: AbortSignal): Promise<BuildSummary> {
    const summary = await this.inner.summary(buildId, signal);
    // Without its table the page still has the lines: a database hiccup must not cost those.
    const table = await this.recorded(buildId).catch(() => null);
    if (!table) return summary;
    const times = { startedAt: table.startedAt, finishedAt: table.finishedAt };
    const recorded = table.steps;
    if (summary.steps.length === 0) return { ...summary, ...times, steps: recorded } as BuildSummary;
    const byId = new Map(recorded.map((s) => [s.stepId, s]));
    const steps: ViewerStep[] = summary.steps.map((s) => {
      const r = byId.get(s.stepId);
      return r ? { ...s, startedAt: r.startedAt ?? null, finishedAt: r.finishedAt ?? null } : s;
    });
    return { ...summary, ...times, steps } as BuildSummary;
  }
}
