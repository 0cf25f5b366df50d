import { type BuildId, formatBuildId } from "@wharf/proto/build-id";
import {
  isWharfApiBuildStatus,
  type WharfApiBuildStatus,
  wharfApiPath,
  wharfApiStatusOf,
} from "@wharf/proto/wharf-api";
import type { BuildSummary, LogEntry, StatusEvent, StepStatus } from "@wharf/result-store";
import {
  type BuildLogSource,
  BuildNotFoundError,
  LogSourceUnavailableError,
  pause,
} from "./build-log-source.js";

/** A build's stored history as wharf-api holds it once the worker is gone. */
export interface BuildHistorySnapshot {
  /** Lines after the requested id, in id order. */
  lines: LogEntry[];
  summary: BuildSummary;
}

/** The read side a live source falls back to when a build has no worker (any more). */
export interface BuildHistory {
  read(buildId: BuildId, afterLogId: number, signal?: AbortSignal): Promise<BuildHistorySnapshot>;
  summary(buildId: BuildId, signal?: AbortSignal): Promise<BuildSummary>;
}

export interface WharfApiLogSourceOptions {
  /** wharf-api's base URL, e.g. http://wharf-api:8080 */
  url: string;
  /** Bearer token for wharf-api, if it wants one. */
  token?: string;
  /** How often `follow` asks again while wharf-api says the build is not finished (default 2 s). */
  pollIntervalMs?: number;
  /** Deadline of one request (default 30 s). */
  requestTimeoutMs?: number;
}

/**
 * One stored line of `GET /api/build/{buildId}/log` (wharf-api v5 `response.Log`). `workerLogId`
 * and `workerStepId` are the worker's ids the aggregator sent with the line; older wharf-api
 * versions leave them out, and then a line's position (1-based, ordered by `logId`) is its worker
 * log id, which holds because the aggregator delivers every line exactly once and in order.
 */
export interface WharfApiLogLine {
  logId: number;
  buildId: BuildId;
  message: string;
  /** RFC 3339 */
  timestamp: string;
  workerLogId?: number;
  workerStepId?: number;
}

const wharfStatuses: Record<WharfApiBuildStatus, { status: StepStatus; finished: boolean }> = {
  Scheduling: { status: "PENDING", finished: false },
  Running: { status: "RUNNING", finished: false },
  Completed: { status: "SUCCESS", finished: true },
  Failed: { status: "FAILED", finished: true },
};

/**
 * Reads finished (or worker-less) builds from wharf-api: `GET /api/build/{buildId}` for the status
 * and `GET /api/build/{buildId}/log` for the lines. wharf-api knows nothing of steps, so summaries
 * have no step list and there are no status events beyond the build's own status.
 */
export class WharfApiLogSource implements BuildLogSource, BuildHistory {
  private readonly baseUrl: string;
  private readonly pollIntervalMs: number;
  private readonly requestTimeoutMs: number;

  constructor(private readonly opts: WharfApiLogSourceOptions) {
    this.baseUrl = opts.url.replace(/\/+$/, "");
    this.pollIntervalMs = opts.pollIntervalMs ?? 2000;
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 30_000;
  }

  async summary(buildId: BuildId, signal?: AbortSignal): Promise<BuildSummary> {
    return (await this.read(buildId, Number.MAX_SAFE_INTEGER, signal)).summary;
  }

  async read(buildId: BuildId, afterLogId: number, signal?: AbortSignal): Promise<BuildHistorySnapshot> {
    const build = (await this.get(wharfApiPath("build", { buildId }), buildId, signal)) as {
      status?: string;
      statusId?: number;
    };
    const stored = (await this.get(
      wharfApiPath("buildLog", { buildId }),
      buildId,
      signal,
    )) as WharfApiLogLine[];
    if (!Array.isArray(stored))
      throw new LogSourceUnavailableError("wharf-api sent a log that is not a list");
    const all = [...stored]
      .sort((a, b) => a.logId - b.logId)
      .map(
        (line, i): LogEntry => ({
          logId: line.workerLogId && line.workerLogId > 0 ? line.workerLogId : i + 1,
          stepId: line.workerStepId ?? 0,
          timestamp: Date.parse(line.timestamp) || 0,
          message: line.message,
        }),
      );
    const word = isWharfApiBuildStatus(build.status) ? build.status : wharfApiStatusOf(build.statusId ?? -1);
    const { status, finished } = word ? wharfStatuses[word] : { status: "PENDING" as const, finished: false };
    const lastLogId = all.reduce((max, l) => Math.max(max, l.logId), 0);
    return {
      lines: all.filter((l) => l.logId > afterLogId),
      summary: {
        buildRef: formatBuildId(buildId),
        status,
        finished,
        message: "",
        steps: [],
        lastLogId,
        lastEventId: 0,
        lastArtifactId: 0,
      },
    };
  }

  async *follow(buildId: BuildId, afterLogId: number, signal: AbortSignal): AsyncIterable<LogEntry[]> {
    let after = afterLogId;
    while (!signal.aborted) {
      const { lines, summary } = await this.read(buildId, after, signal);
      if (lines.length > 0) {
        yield lines;
        after = lines[lines.length - 1]!.logId;
      }
      if (summary.finished) return;
      await pause(this.pollIntervalMs, signal);
    }
  }

  /** wharf-api keeps no step events: this yields none and ends once the build is finished. */
  async *followStatus(
    buildId: BuildId,
    _afterEventId: number,
    signal: AbortSignal,
  ): AsyncIterable<StatusEvent> {
    while (!signal.aborted && !(await this.summary(buildId, signal)).finished) {
      await pause(this.pollIntervalMs, signal);
    }
    yield* [];
  }

  private async get(path: string, buildId: BuildId, signal?: AbortSignal): Promise<unknown> {
    const timeout = AbortSignal.timeout(this.requestTimeoutMs);
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}${path}`, {
        headers: {
          accept: "application/json",
          ...(this.opts.token ? { authorization: `Bearer ${this.opts.token}` } : {}),
        },
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
    } catch (err) {
      throw new LogSourceUnavailableError(`wharf-api GET ${path}: ${(err as Error).message}`, { cause: err });
    }
    if (res.status === 404) {
      await res.body?.cancel();
      throw new BuildNotFoundError(buildId);
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new LogSourceUnavailableError(`wharf-api GET ${path}: HTTP ${res.status}`);
    }
    return res.json();
  }
}
