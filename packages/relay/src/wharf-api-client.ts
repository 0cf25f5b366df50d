import { type ApiLogLine, LogStreamError, LogStreamSender } from "./log-stream-sender.js";

export type { ApiLogLine };

import type { BuildId } from "@wharf/proto/build-id";
import { type WharfApiBuildStatus, wharfApiPath, wharfApiStatusId } from "@wharf/proto/wharf-api";
import type { WorkerLogLines } from "@wharf/worker-rpc";
import { multipartFileBody } from "./multipart-body.js";
import { type SendFence, sendBudgetMs } from "./send-fence.js";

/** The fields of wharf-api's response.Build the watchdog reads. */
export interface ApiBuild {
  buildId: BuildId;
  statusId: number;
  status: WharfApiBuildStatus;
  /** What the build list shows; older wharf-api versions may leave them out. */
  gitBranch?: string;
  projectId?: number;
}

export interface WharfApiClientOptions {
  /** wharf-api's HTTP base, e.g. http://wharf-api:8080 */
  url: string;
  /** host:port of wharf-api's gRPC (h2c); defaults to the host:port of `url`. */
  grpcAddress?: string;
  /** Sent as `Authorization: Bearer …` on HTTP and gRPC. */
  token?: string;
  /** Upper bound for one request or one log batch (default 60 s). */
  requestTimeoutMs?: number;
  /** CreateLogStream calls in flight at once (default 16); more wait their turn. */
  maxConcurrentLogStreams?: number;
}

/**
 * HTTP answers that say the same request will never succeed: a bad request, a route or
 * build wharf-api does not have, a body too large. 401/403 are not among them: a wrong
 * token is the operator's to fix, and the data waits on the worker meanwhile.
 */
const PERMANENT_HTTP = new Set([400, 404, 405, 410, 413, 414, 415, 422, 501]);
/** gRPC codes of the same kind: INVALID_ARGUMENT, NOT_FOUND, FAILED_PRECONDITION, OUT_OF_RANGE, UNIMPLEMENTED. */
const PERMANENT_GRPC = new Set([3, 5, 9, 11, 12]);

/** A request wharf-api refused or did not answer; `status` is the HTTP status when there was one. */
export class WharfApiError extends Error {
  override readonly name = "WharfApiError";
  constructor(
    message: string,
    readonly status?: number,
    options?: { cause?: unknown; grpcStatus?: number },
  ) {
    super(message, options);
    this.grpcStatus = options?.grpcStatus;
  }

  /** The gRPC status of a CreateLogStream call wharf-api answered. */
  readonly grpcStatus: number | undefined;

  /** wharf-api answered, and would answer the same however often it is asked. */
  get permanent(): boolean {
    return (
      (this.status !== undefined && PERMANENT_HTTP.has(this.status)) ||
      (this.grpcStatus !== undefined && PERMANENT_GRPC.has(this.grpcStatus))
    );
  }
}

/**
 * A CreateLogStream call's deadline grows by this per line on top of the request timeout: a
 * 40000-line call to a wharf-api storing 1000 lines/s is slow, not stuck, and cutting it would
 * only send it again.
 */
const LOG_CALL_MS_PER_LINE = 1;

/** The part of wharf-api the aggregator and watchdog use, over its real protocols. */
export class WharfApiClient {
  private readonly logStream: LogStreamSender;
  private readonly base: string;
  private readonly timeoutMs: number;

  constructor(private readonly opts: WharfApiClientOptions) {
    this.base = opts.url.replace(/\/+$/, "");
    this.timeoutMs = opts.requestTimeoutMs ?? 60_000;
    this.logStream = new LogStreamSender(
      opts.grpcAddress ?? new URL(this.base).host,
      opts.token,
      opts.maxConcurrentLogStreams,
    );
  }

  /**
   * Sends `lines` on one CreateLogStream call and resolves with wharf-api's
   * `lines_inserted` once it closed the stream: only then are the lines stored.
   */
  async sendLogBatch(lines: readonly ApiLogLine[], signal?: AbortSignal, fence?: SendFence): Promise<number> {
    try {
      return await this.logStream.send(lines, this.logCallTimeout(lines.length), signal, fence);
    } catch (err) {
      throw logStreamFailure(err);
    }
  }

  /** `sendLogBatch` for lines as a worker streamed them (no per-line copy on the way). */
  async sendWorkerLogs(
    buildId: BuildId,
    lines: WorkerLogLines,
    signal?: AbortSignal,
    fence?: SendFence,
  ): Promise<number> {
    try {
      return await this.logStream.sendWorkerLines(
        buildId,
        lines,
        this.logCallTimeout(lines.length),
        signal,
        fence,
      );
    } catch (err) {
      throw logStreamFailure(err);
    }
  }

  private logCallTimeout(lines: number): number {
    return this.timeoutMs + lines * LOG_CALL_MS_PER_LINE;
  }

  /** PUT /api/build/{buildId}/status */
  async setBuildStatus(
    buildId: BuildId,
    update: { status: WharfApiBuildStatus; message?: string; timestamp?: Date },
    signal?: AbortSignal,
    fence?: SendFence,
  ): Promise<void> {
    await this.request("PUT", wharfApiPath("buildStatus", { buildId }), signal, fence, {
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        status: update.status,
        message: update.message ?? "",
        timestamp: (update.timestamp ?? new Date()).toISOString(),
      }),
    });
  }

  /** POST /api/build/{buildId}/artifact, multipart field `files`, streamed from `source`. */
  async uploadArtifact(
    buildId: BuildId,
    fileName: string,
    source: AsyncIterable<Uint8Array>,
    signal?: AbortSignal,
    fence?: SendFence,
  ): Promise<void> {
    const form = multipartFileBody("files", fileName, fence ? fencedChunks(source, fence) : source);
    await this.request("POST", wharfApiPath("artifactUpload", { buildId }), signal, fence, {
      headers: { "content-type": form.contentType },
      body: form.body as unknown as RequestInit["body"],
      duplex: "half",
    } as RequestInit);
  }

  /** GET /api/build?limit=0&statusId=0&statusId=1: the builds wharf-api thinks are Scheduling or Running. */
  async listActiveBuilds(signal?: AbortSignal): Promise<ApiBuild[]> {
    const res = await this.request(
      "GET",
      `${wharfApiPath("builds")}?limit=0&statusId=${wharfApiStatusId("Scheduling")}&statusId=${wharfApiStatusId("Running")}`,
      signal,
      undefined,
    );
    const body = (await res.json()) as { list?: ApiBuild[] | null };
    return body.list ?? [];
  }

  /** GET /api/build/{buildId}; undefined when wharf-api does not know the build. */
  async getBuild(buildId: BuildId, signal?: AbortSignal): Promise<ApiBuild | undefined> {
    try {
      const res = await this.request("GET", wharfApiPath("build", { buildId }), signal, undefined);
      return (await res.json()) as ApiBuild;
    } catch (err) {
      if (err instanceof WharfApiError && err.status === 404) return undefined;
      throw err;
    }
  }

  /**
   * How many artifacts wharf-api holds for a build (GET /api/build/{buildId}/artifacts);
   * undefined when it cannot say (see `countOrUnknown`).
   */
  async countBuildArtifacts(buildId: BuildId, signal?: AbortSignal): Promise<number | undefined> {
    return countOrUnknown(async () => {
      const res = await this.request("GET", wharfApiPath("artifacts", { buildId }), signal, undefined);
      const body = (await res.json()) as unknown[] | { list?: unknown[] } | null;
      return (Array.isArray(body) ? body : (body?.list ?? [])).length;
    });
  }

  /** How many log lines wharf-api holds for a build (GET /api/build/{buildId}/log); undefined likewise. */
  async countBuildLogs(buildId: BuildId, signal?: AbortSignal): Promise<number | undefined> {
    return countOrUnknown(async () => {
      const res = await this.request("GET", wharfApiPath("buildLog", { buildId }), signal, undefined);
      const body = (await res.json()) as unknown[] | null;
      return body?.length ?? 0;
    });
  }

  close(): void {
    this.logStream.close();
  }

  private async request(
    method: string,
    path: string,
    signal: AbortSignal | undefined,
    fence: SendFence | undefined,
    init: RequestInit = {},
  ) {
    // Fenced sends end with the lease: a body still streaming then is cut, never completed.
    const timeout = AbortSignal.timeout(Math.min(this.timeoutMs, sendBudgetMs(fence, `${method} ${path}`)));
    const headers = new Headers(init.headers);
    if (this.opts.token) headers.set("authorization", `Bearer ${this.opts.token}`);
    let res: Response;
    try {
      res = await fetch(`${this.base}${path}`, {
        ...init,
        method,
        headers,
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
    } catch (err) {
      throw new WharfApiError(`${method} ${path}: ${(err as Error).message}`, undefined, { cause: err });
    }
    if (!res.ok) {
      const text = await res.text().catch(() => "");
      throw new WharfApiError(`${method} ${path}: HTTP ${res.status} ${text.slice(0, 200)}`, res.status);
    }
    return res;
  }
}

/** A CreateLogStream failure as a WharfApiError, keeping wharf-api's gRPC status. */
function logStreamFailure(err: unknown): WharfApiError {
  const grpcStatus = err instanceof LogStreamError ? err.grpcStatus : undefined;
  return new WharfApiError((err as Error).message, undefined, {
    cause: err,
    ...(grpcStatus !== undefined ? { grpcStatus } : {}),
  });
}

/** `source`, stopping before any chunk the fence no longer allows to leave. */
async function* fencedChunks(
  source: AsyncIterable<Uint8Array>,
  fence: SendFence,
): AsyncGenerator<Uint8Array> {
  for await (const chunk of source) {
    sendBudgetMs(fence, "artifact upload");
    yield chunk;
  }
}

/**
 * The counts only reconcile a call cut midway; a wharf-api that lacks the route (older
 * versions: 404, 405, 501) answers the same forever, so retrying it would hold the build's
 * relay for good. Such an answer is "unknown", and the caller does without.
 */
async function countOrUnknown(count: () => Promise<number>): Promise<number | undefined> {
  try {
    return await count();
  } catch (err) {
    if (err instanceof WharfApiError && [404, 405, 501].includes(err.status ?? 0)) return undefined;
    throw err;
  }
}
