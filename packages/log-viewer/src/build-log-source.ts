import type { BuildId } from "@wharf/proto/build-id";
import type { BuildSummary, LogEntry, ProgressLine, StatusEvent } from "@wharf/result-store";

/**
 * Where a build's log and step statuses come from, whether the build still runs on a worker or
 * is long finished. Ids are the worker's: `logId` dense from 1, `eventId` dense from 1.
 *
 * `follow` yields every line after `afterLogId` in id order, in batches, then waits for live lines;
 * it ends (normally) only once the build is finished and every line was yielded. `followStatus`
 * does the same for status events. Aborting `signal` ends either quietly. `summary` is the build
 * as it is now. Unknown builds are a `BuildNotFoundError`; a source that cannot be reached at the
 * moment throws `LogSourceUnavailableError`.
 */
export interface BuildLogSource {
  follow(buildId: BuildId, afterLogId: number, signal: AbortSignal): AsyncIterable<LogEntry[]>;
  followStatus(buildId: BuildId, afterEventId: number, signal: AbortSignal): AsyncIterable<StatusEvent>;
  summary(buildId: BuildId, signal?: AbortSignal): Promise<BuildSummary>;
  /**
   * Optional fast path of `GET …/logs?format=records` (log-records.ts): the records of every
   * line up to `untilLogId`, as bytes or text; it must not wait for live lines. Without it the
   * records are made from `follow`'s batches.
   */
  records?(buildId: BuildId, untilLogId: number, signal: AbortSignal): AsyncIterable<Uint8Array | string>;
  /**
   * Optional: steps' unfinished progress lines while the build runs (ProgressLine), ending
   * quietly when the build is finished or the source cannot say (history has none).
   */
  followProgress?(buildId: BuildId, signal: AbortSignal): AsyncIterable<ProgressLine>;
}

/** Where a live build's worker serves gRPC. */
export interface ResolvedWorker {
  /** host:port of the worker's gRPC (`wharf.worker.v1`). */
  address: string;
  /** Bearer token the worker wants (WHARF_WORKER_TOKEN), if any. */
  token?: string;
}

/**
 * Finds the worker of a build. Returns null when the build has no reachable worker (still queued,
 * or released after everything was delivered to wharf-api): the caller then reads history instead.
 */
export type ResolveWorker = (buildId: BuildId, signal?: AbortSignal) => Promise<ResolvedWorker | null>;

export class BuildNotFoundError extends Error {
  override readonly name = "BuildNotFoundError";
  constructor(
    readonly buildId: BuildId,
    options?: { cause?: unknown },
  ) {
    super(`build "${buildId}" is not known`, options);
  }
}

export class LogSourceUnavailableError extends Error {
  override readonly name = "LogSourceUnavailableError";
}

/** Aborts after `ms` unless `signal` aborts first; for bounded waits that must stop with the caller. */
export async function pause(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
