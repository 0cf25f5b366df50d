import { type BuildId, formatBuildId } from "@wharf/proto/build-id";
import type { LogEntry, ProgressLine, StatusEvent } from "@wharf/result-store";
import { EventSource } from "eventsource";
import type { StreamEnd, ViewerSummary } from "../log-events.js";

export interface BuildEventHandlers {
  summary?(s: ViewerSummary): void;
  log?(lines: LogEntry[]): void;
  status?(e: StatusEvent): void;
  /** A step's unfinished progress line changed ("" message: gone). */
  progress?(p: ProgressLine): void;
  /** The server reported a problem or the connection dropped; the client reconnects by itself. */
  reconnecting?(reason: string): void;
}

/** The aggregator refused the request (HTTP status) or could not be reached at all. */
export class BuildEventsError extends Error {
  override readonly name = "BuildEventsError";
  constructor(
    message: string,
    readonly httpStatus: number | undefined,
  ) {
    super(message);
  }
}

export interface FollowBuildEventsOptions {
  /** The aggregator's base URL. */
  baseUrl: string;
  buildId: BuildId;
  /** The aggregator's token (WHARF_AGGREGATOR_TOKEN), sent as a bearer. */
  token?: string;
  /** Stay until the build is finished (true) or read what there is now (false). */
  follow: boolean;
  afterLogId?: number;
  /** Connection attempts in a row that may fail before giving up (default 5). */
  maxFailures?: number;
  signal?: AbortSignal;
}

/**
 * Reads `GET /api/builds/:buildRef/logs` as Server-Sent Events with the `eventsource` client,
 * which reconnects with Last-Event-ID after a drop, so lines are neither lost nor repeated.
 * Resolves with the `end` event; rejects with BuildEventsError when the aggregator refuses or
 * stays unreachable.
 */
export function followBuildEvents(o: FollowBuildEventsOptions, on: BuildEventHandlers): Promise<StreamEnd> {
  const query = new URLSearchParams(o.follow ? { follow: "true" } : { format: "sse" });
  if (o.afterLogId) query.set("after", String(o.afterLogId));
  const url = `${o.baseUrl.replace(/\/+$/, "")}/api/builds/${formatBuildId(o.buildId)}/logs?${query}`;
  const maxFailures = o.maxFailures ?? 5;
  return new Promise((resolve, reject) => {
    const es = new EventSource(url, {
      fetch: (input, init) =>
        fetch(input, {
          ...init,
          headers: { ...init?.headers, ...(o.token ? { authorization: `Bearer ${o.token}` } : {}) },
        }),
    });
    let failures = 0;
    const finish = (fn: () => void) => {
      es.close();
      o.signal?.removeEventListener("abort", onAbort);
      fn();
    };
    const onAbort = () => finish(() => reject(new BuildEventsError("stopped", undefined)));
    o.signal?.addEventListener("abort", onAbort, { once: true });
    const parse = <T>(e: MessageEvent) => JSON.parse(e.data) as T;

    es.addEventListener("open", () => {
      failures = 0;
    });
    es.addEventListener("summary", (e) => on.summary?.(parse(e)));
    es.addEventListener("log", (e) => on.log?.(parse(e)));
    es.addEventListener("status", (e) => on.status?.(parse(e)));
    es.addEventListener("progress", (e) => on.progress?.(parse(e)));
    es.addEventListener("problem", (e) => on.reconnecting?.(parse<{ message: string }>(e).message));
    es.addEventListener("end", (e) => finish(() => resolve(parse<StreamEnd>(e))));
    es.addEventListener("error", (e) => {
      const { code, message } = e as unknown as { code?: number; message?: string };
      // A refused request (4xx/5xx) closes the source for good; network errors are retried.
      if (es.readyState === EventSource.CLOSED || ++failures >= maxFailures) {
        const why = code ? `HTTP ${code}` : (message ?? "connection failed");
        finish(() => reject(new BuildEventsError(`${url}: ${why}`, code)));
        return;
      }
      on.reconnecting?.(message ?? "connection lost");
    });
  });
}
