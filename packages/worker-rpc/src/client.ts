import type * as grpc from "@grpc/grpc-js";
import { status as GrpcStatus } from "@grpc/grpc-js";
import type { BuildSummary, LogEntry, ProgressLine, StatusEvent, StepStatus } from "@wharf/result-store";
import type { ServingStatus } from "./health-service.js";
import { decodeLogBatch } from "./log-batch-decoder.js";
import {
  artifactEventFromWire,
  logLineFromWire,
  progressLineFromWire,
  statusFromWire,
  summaryFromWire,
  timestampFromWire,
  type WorkerArtifactEvent,
} from "./wire.js";
import { WorkerConnection } from "./worker-connection.js";

/** A failed call to a worker; `code` is the gRPC status (UNAVAILABLE: retry later, resume by id). */
export class WorkerRpcError extends Error {
  override readonly name = "WorkerRpcError";
  constructor(
    readonly code: grpc.status,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

const READER_WINDOW_BYTES = 1024 * 1024;

export interface WorkerClientOptions {
  token?: string;
  /** Deadline of unary calls (default 30 s); streams have none. */
  callTimeoutMs?: number;
}

export interface StreamOptions {
  /** Aborting cancels the call and ends the iteration quietly. */
  signal?: AbortSignal;
}

export type HealthStatus = ServingStatus;

/** A typed client of one worker. Streams are async iterables that end when the build is over. */
export interface WorkerClient {
  streamLogBatches(
    afterLogId: number,
    opts?: StreamOptions & { maxBatchLines?: number },
  ): AsyncIterable<LogEntry[]>;
  /**
   * StreamLogBatches' messages as they came (serialized StreamLogBatchesResponse), for readers
   * that copy lines on without turning them into strings (the log viewer's records).
   */
  streamLogBatchesRaw(
    afterLogId: number,
    opts?: StreamOptions & { maxBatchLines?: number },
  ): AsyncIterable<Buffer>;
  /** The wharf-cmd compatible one-line-per-message stream. */
  streamLogs(afterLogId: number, opts?: StreamOptions): AsyncIterable<LogEntry>;
  streamStatus(afterEventId: number, opts?: StreamOptions): AsyncIterable<StatusEvent>;
  /** Steps' unfinished progress lines: the current ones, then changes, until the build is finished. */
  streamProgress(opts?: StreamOptions): AsyncIterable<ProgressLine>;
  streamArtifacts(afterArtifactId: number, opts?: StreamOptions): AsyncIterable<WorkerArtifactEvent>;
  /** The artifact's bytes in chunks of at most 64 KiB. */
  downloadArtifact(artifactId: number, opts?: StreamOptions): AsyncIterable<Buffer>;
  summary(): Promise<BuildSummary>;
  cancel(reason?: string): Promise<void>;
  release(): Promise<void>;
  /** grpc.health.v1 Check of `service` ("" = the whole server). */
  health(service?: string): Promise<HealthStatus>;
  close(): void;
}

/** Wire statuses this version does not know are a protocol error, not something to guess. */
function knownStatus(n: number): StepStatus {
  const status = statusFromWire(n);
  if (!status) throw new WorkerRpcError(GrpcStatus.INTERNAL, `worker sent unknown status ${n}`);
  return status;
}

function toWorkerRpcError(err: unknown): WorkerRpcError {
  if (err instanceof WorkerRpcError) return err;
  const e = err as Partial<grpc.ServiceError>;
  return new WorkerRpcError(e.code ?? GrpcStatus.UNKNOWN, e.details || e.message || String(err), {
    cause: err,
  });
}

async function rpc<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw toWorkerRpcError(err);
  }
}

/** Iterates a server stream as values, cancelling the call when the consumer stops or `signal` aborts. */
async function* values<W, T>(
  open: () => grpc.ClientReadableStream<W>,
  map: (message: W) => T,
  signal?: AbortSignal,
): AsyncGenerator<T> {
  if (signal?.aborted) return;
  const call = open();
  const onAbort = () => call.cancel();
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    for await (const message of call) yield map(message as W);
  } catch (err) {
    if (signal?.aborted && (err as grpc.ServiceError).code === GrpcStatus.CANCELLED) return;
    throw toWorkerRpcError(err);
  } finally {
    signal?.removeEventListener("abort", onAbort);
    // Stops the server-side stream when the consumer breaks out early.
    call.cancel();
  }
}

/**
 * Connects (lazily) to a worker at `address` (host:port): the values of a WorkerConnection
 * (which keeps log lines as wire bytes for the relay) decoded for readers such as `wharf logs`,
 * with failures as WorkerRpcError.
 */
export function createWorkerClient(address: string, opts: WorkerClientOptions = {}): WorkerClient {
  const connection = new WorkerConnection(address, {
    token: opts.token,
    callTimeoutMs: opts.callTimeoutMs ?? 30_000,
    // HTTP/2's default 64 KiB window made a 1 MiB log batch (the worker's largest) wait for ~16
    // window updates: reading a 200,000-line log in 10,000-line batches cost ~2.5× the CPU
    // (worker and reader in one process, 120–150 ms against 45). A reader that stops reading
    // still stops the worker there.
    flowControlWindowBytes: READER_WINDOW_BYTES,
  });
  return {
    streamLogBatches: (afterLogId, o = {}) =>
      // Decoded by hand straight into LogEntry (log-batch-decoder.ts says why).
      values(
        () => connection.streamLogBatchesWith(afterLogId, o.maxBatchLines ?? 0, decodeLogBatch),
        (lines) => lines,
        o.signal,
      ),
    streamLogBatchesRaw: (afterLogId, o = {}) =>
      values(
        () => connection.streamLogBatchesWith(afterLogId, o.maxBatchLines ?? 0, (buf) => buf),
        (buf) => buf,
        o.signal,
      ),
    streamProgress: (o = {}) => values(() => connection.streamProgress(), progressLineFromWire, o.signal),
    streamLogs: (afterLogId, o = {}) =>
      values(() => connection.streamLogs(afterLogId), logLineFromWire, o.signal),
    streamStatus: (afterEventId, o = {}) =>
      values(
        () => connection.streamStatusEvents(afterEventId),
        (m) => ({
          eventId: Number(m.eventId),
          stepId: Number(m.stepId),
          status: knownStatus(m.status),
          timestamp: timestampFromWire(m.timestamp),
        }),
        o.signal,
      ),
    streamArtifacts: (afterArtifactId, o = {}) =>
      values(() => connection.streamArtifactEvents(afterArtifactId), artifactEventFromWire, o.signal),
    downloadArtifact: async function* (artifactId, o = {}) {
      try {
        for await (const chunk of connection.downloadArtifact(artifactId, o.signal)) yield Buffer.from(chunk);
      } catch (err) {
        if (o.signal?.aborted && (err as grpc.ServiceError).code === GrpcStatus.CANCELLED) return;
        throw toWorkerRpcError(err);
      }
    },
    summary: async () => summaryFromWire(await rpc(() => connection.summary(undefined, false)), knownStatus),
    cancel: (reason = "") => rpc(() => connection.cancel(reason)),
    release: () => rpc(() => connection.release()),
    health: (service = "") => rpc(() => connection.health(service)),
    close: () => connection.close(),
  };
}
