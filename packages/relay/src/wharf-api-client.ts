import * as grpc from "@grpc/grpc-js";
import { loadApiProto } from "@wharf/proto";
import { multipartFileBody } from "./multipart-body.js";

/** Build status names as wharf-api v5 knows them. */
export type ApiBuildStatus = "Scheduling" | "Running" | "Completed" | "Failed";

/** One line as wharf-api's CreateLogStream takes it. */
export interface ApiLogLine {
  buildId: number;
  workerLogId: number;
  workerStepId: number;
  timestamp: Date;
  message: string;
}

/** The fields of wharf-api's response.Build the watchdog reads. */
export interface ApiBuild {
  buildId: number;
  statusId: number;
  status: ApiBuildStatus;
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
}

/** A request wharf-api refused or did not answer; `status` is the HTTP status when there was one. */
export class WharfApiError extends Error {
  override readonly name = "WharfApiError";
  constructor(
    message: string,
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

type BuildsClient = grpc.Client & {
  CreateLogStream(
    md: grpc.Metadata,
    opts: grpc.CallOptions,
    cb: (err: grpc.ServiceError | null, res?: { linesInserted: number }) => void,
  ): grpc.ClientWritableStream<unknown>;
};

/** The part of wharf-api the aggregator and watchdog use, over its real protocols. */
export class WharfApiClient {
  private readonly builds: BuildsClient;
  private readonly base: string;
  private readonly timeoutMs: number;

  constructor(private readonly opts: WharfApiClientOptions) {
    this.base = opts.url.replace(/\/+$/, "");
    this.timeoutMs = opts.requestTimeoutMs ?? 60_000;
    const address = opts.grpcAddress ?? new URL(this.base).host;
    const Builds = loadApiProto().Builds;
    this.builds = new Builds(address, grpc.credentials.createInsecure(), {
      "grpc.keepalive_time_ms": 30_000,
      // Our own retry loop backs off; the channel should reconnect as soon as we ask again.
      "grpc.initial_reconnect_backoff_ms": 100,
      "grpc.max_reconnect_backoff_ms": 2_000,
    }) as unknown as BuildsClient;
  }

  /**
   * Sends `lines` on one CreateLogStream call and resolves with wharf-api's
   * `lines_inserted` once it closed the stream: only then are the lines stored.
   */
  async sendLogBatch(lines: readonly ApiLogLine[], signal?: AbortSignal): Promise<number> {
    const md = new grpc.Metadata();
    if (this.opts.token) md.set("authorization", `Bearer ${this.opts.token}`);
    let call: grpc.ClientWritableStream<unknown> | undefined;
    const done = new Promise<number>((resolve, reject) => {
      call = this.builds.CreateLogStream(md, { deadline: Date.now() + this.timeoutMs }, (err, res) => {
        if (err)
          reject(new WharfApiError(`CreateLogStream: ${err.code} ${err.details}`, undefined, { cause: err }));
        else resolve(res?.linesInserted ?? 0);
      });
    });
    done.catch(() => {}); // awaited below; this only keeps an early failure from counting as unhandled
    const stream = call as unknown as grpc.ClientWritableStream<unknown>;
    const onAbort = () => stream.cancel();
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      for (const line of lines) {
        const ok = stream.write({
          buildId: line.buildId,
          workerLogId: line.workerLogId,
          workerStepId: line.workerStepId,
          timestamp: toTimestamp(line.timestamp),
          message: line.message,
        });
        // Respect HTTP/2 flow control rather than queueing the whole batch in memory.
        if (!ok) await Promise.race([new Promise((r) => stream.once("drain", r)), done]);
      }
      stream.end();
      return await done;
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
  }

  /** PUT /api/build/{buildId}/status */
  async setBuildStatus(
    buildId: number,
    update: { status: ApiBuildStatus; message?: string; timestamp?: Date },
    signal?: AbortSignal,
  ): Promise<void> {
    await this.request("PUT", `/api/build/${buildId}/status`, signal, {
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
    buildId: number,
    fileName: string,
    source: AsyncIterable<Uint8Array>,
    signal?: AbortSignal,
  ): Promise<void> {
    const form = multipartFileBody("files", fileName, source);
    await this.request("POST", `/api/build/${buildId}/artifact`, signal, {
      headers: { "content-type": form.contentType },
      body: form.body as unknown as RequestInit["body"],
      duplex: "half",
    } as RequestInit);
  }

  /** GET /api/build?limit=0&statusId=0&statusId=1: the builds wharf-api thinks are Scheduling or Running. */
  async listActiveBuilds(signal?: AbortSignal): Promise<ApiBuild[]> {
    const res = await this.request("GET", "/api/build?limit=0&statusId=0&statusId=1", signal);
    const body = (await res.json()) as { list?: ApiBuild[] | null };
    return body.list ?? [];
  }

  /** GET /api/build/{buildId}; undefined when wharf-api does not know the build. */
  async getBuild(buildId: number, signal?: AbortSignal): Promise<ApiBuild | undefined> {
    try {
      const res = await this.request("GET", `/api/build/${buildId}`, signal);
      return (await res.json()) as ApiBuild;
    } catch (err) {
      if (err instanceof WharfApiError && err.status === 404) return undefined;
      throw err;
    }
  }

  /** How many artifacts wharf-api holds for a build (GET /api/build/{buildId}/artifacts). */
  async countBuildArtifacts(buildId: number, signal?: AbortSignal): Promise<number> {
    const res = await this.request("GET", `/api/build/${buildId}/artifacts`, signal);
    const body = (await res.json()) as unknown[] | { list?: unknown[] } | null;
    return (Array.isArray(body) ? body : (body?.list ?? [])).length;
  }

  /** How many log lines wharf-api holds for a build (GET /api/build/{buildId}/log). */
  async countBuildLogs(buildId: number, signal?: AbortSignal): Promise<number> {
    const res = await this.request("GET", `/api/build/${buildId}/log`, signal);
    const body = (await res.json()) as unknown[] | null;
    return body?.length ?? 0;
  }

  close(): void {
    this.builds.close();
  }

  private async request(
    method: string,
    path: string,
    signal: AbortSignal | undefined,
    init: RequestInit = {},
  ) {
    const timeout = AbortSignal.timeout(this.timeoutMs);
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

function toTimestamp(d: Date): { seconds: number; nanos: number } {
  const ms = d.getTime();
  const seconds = Math.floor(ms / 1000);
  return { seconds, nanos: (ms - seconds * 1000) * 1e6 };
}
