import type { BuildId } from "@wharf/proto/build-id";
import type { BuildSummary } from "@wharf/result-store";
import type { BuildLogSource } from "./build-log-source.js";
import { type LogStreamEvent, viewerSummary } from "./log-events.js";

export interface LogEventStreamOptions {
  source: BuildLogSource;
  buildId: BuildId;
  /** The build when the request came (fetched first so an unknown build is a 404, not a stream). */
  summary: BuildSummary;
  afterLogId: number;
  /** false: send the lines there are now, then `end`; true: stay until the build is finished. */
  follow: boolean;
  /** Aborted when the client goes away. */
  signal: AbortSignal;
  /** Writes one event; resolves once the connection takes more (back-pressure). */
  send(event: LogStreamEvent): Promise<void>;
}

/** How long the step statuses may lag behind the last line before `end` goes out anyway. */
const STATUS_SETTLE_MS = 5000;

/**
 * Sends a build's events (see LogStreamEvent) until the build is finished, the snapshot is
 * complete (no follow) or the client leaves. Failures of the source after the first event become
 * a `problem` event, so the client reconnects and resumes by `Last-Event-ID`.
 */
export async function streamLogEvents(o: LogEventStreamOptions): Promise<void> {
  const { source, buildId, summary, signal, send } = o;
  const inner = new AbortController();
  const stop = () => inner.abort();
  signal.addEventListener("abort", stop, { once: true });
  let statusFailure: unknown;
  let statusLoop: Promise<void> = Promise.resolve();
  let progressLoop: Promise<void> = Promise.resolve();
  try {
    await send({ event: "summary", data: viewerSummary(summary) });
    const known = new Set(summary.steps.map((s) => s.stepId));
    if (o.follow) {
      statusLoop = (async () => {
        try {
          // From the first event: the page times each step from them (they are a few per step).
          for await (const data of source.followStatus(buildId, 0, inner.signal)) {
            if (data.stepId !== 0 && !known.has(data.stepId)) {
              const fresh = await source.summary(buildId, inner.signal);
              for (const s of fresh.steps) known.add(s.stepId);
              await send({ event: "summary", data: viewerSummary(fresh) });
            }
            await send({ event: "status", data });
          }
        } catch (err) {
          statusFailure = err;
          inner.abort();
        }
      })();
    }
    if (o.follow && source.followProgress && !summary.finished) {
      const follow = source.followProgress.bind(source);
      // Best effort and live only: a failure here costs the progress lines, not the stream.
      progressLoop = (async () => {
        try {
          for await (const data of follow(buildId, inner.signal)) await send({ event: "progress", data });
        } catch {}
      })();
    }
    const until = o.follow ? Number.POSITIVE_INFINITY : summary.lastLogId;
    if (o.afterLogId < until) {
      for await (const batch of source.follow(buildId, o.afterLogId, inner.signal)) {
        const lines = o.follow ? batch : batch.filter((l) => l.logId <= until);
        const last = lines[lines.length - 1];
        if (last) await send({ event: "log", id: last.logId, data: lines });
        if (!last || last.logId >= until) break;
      }
    }
    if (statusFailure) throw statusFailure;
    if (signal.aborted) return;
    if (!o.follow) {
      const { status, finished, message, lastLogId } = summary;
      await send({ event: "end", data: { status, finished, message, lastLogId } });
      return;
    }
    // The log ended, so the build is finished; let the last status events arrive first.
    await Promise.race([statusLoop, new Promise((r) => setTimeout(r, STATUS_SETTLE_MS).unref())]);
    if (statusFailure) throw statusFailure;
    const final = await source.summary(buildId, signal);
    // A build that ran while this stream read history (or past its status events) may still
    // owe the client its step list.
    if (final.steps.some((s) => !known.has(s.stepId)))
      await send({ event: "summary", data: viewerSummary(final) });
    await send({
      event: "end",
      data: { status: final.status, finished: true, message: final.message, lastLogId: final.lastLogId },
    });
  } catch (err) {
    if (signal.aborted) return;
    await send({ event: "problem", data: { message: (err as Error).message ?? String(err) } });
  } finally {
    signal.removeEventListener("abort", stop);
    inner.abort();
    await statusLoop;
    await progressLoop;
  }
}
