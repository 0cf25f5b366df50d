import * as grpc from "@grpc/grpc-js";
import { loadWorkerProto } from "@wharf/proto";
import type { BuildSummary, LogEntry, ProgressLine, StatusEvent, StepStatus } from "@wharf/result-store";
import { healthServiceDefinition } from "./health-service.js";
import { decodeLogBatch } from "./log-batch-decoder.js";
import {
  artifactEventFromWire,
  logLineFromWire,
  progressLineFromWire,
  statusFromWire,
  summaryFromWire,
  timestampFromWire,
  type WireArtifactEvent,
  type WireBuildSummary,
  type WireLogLine,
  type WireProgressLine,
  type WireStatusEvent,
  type WorkerArtifactEvent,
} from "./wire.js";

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

export interface WorkerClientOptions {
  token?: string;
  /** Deadline of unary calls (default 30 s); streams have none. */
  callTimeoutMs?: number;
}

export interface StreamOptions {
  /** Aborting cancels the call and ends the iteration quietly. */
  signal?: AbortSignal;
}

export type HealthStatus = "UNKNOWN" | "SERVING" | "NOT_SERVING" | "SERVICE_UNKNOWN";

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
  streamLogBatchesRaw(afterLogId: number, opts?: StreamOptions): AsyncIterable<Buffer>;
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

const LOG_BATCHES_PATH = "/wharf.worker.v1.WorkerExtras/StreamLogBatches";
const HEALTH_STATUSES: HealthStatus[] = ["UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN"];
const HealthClient = grpc.makeGenericClientConstructor(healthServiceDefinition, "Health");

type AnyClient = grpc.Client & Record<string, (...args: unknown[]) => unknown>;
type UnaryFn = (
  req: unknown,
  md: grpc.Metadata,
  opts: grpc.CallOptions,
  cb: (err: grpc.ServiceError | null, res: unknown) => void,
) => void;
type StreamFn = (req: unknown, md: grpc.Metadata) => grpc.ClientReadableStream<unknown>;

/** Wire statuses this version does not know are a protocol error, not something to guess. */
function knownStatus(n: number): StepStatus {
  const status = statusFromWire(n);
  if (!status) throw new WorkerRpcError(grpc.status.INTERNAL, `worker sent unknown status ${n}`);
  return status;
}

function toWorkerRpcError(err: unknown): WorkerRpcError {
  if (err instanceof WorkerRpcError) return err;
  const e = err as Partial<grpc.ServiceError>;
  return new WorkerRpcError(e.code ?? grpc.status.UNKNOWN, e.details || e.message || String(err), {
    cause: err,
  });
}

/** Connects (lazily) to a worker at `address` (host:port). */
export function createWorkerClient(address: string, opts: WorkerClientOptions = {}): WorkerClient {
  const proto = loadWorkerProto();
  const credentials = grpc.credentials.createInsecure();
  const channelOptions = { "grpc.max_receive_message_length": 16 * 1024 * 1024 };
  const worker = new proto.Worker(address, credentials, channelOptions) as unknown as AnyClient;
  // The other clients share the first one's channel.
  const shared = { ...channelOptions, channelOverride: worker.getChannel() };
  const extras = new proto.WorkerExtras(address, credentials, shared) as unknown as AnyClient;
  const healthClient = new HealthClient(address, credentials, shared) as unknown as AnyClient;
  const timeoutMs = opts.callTimeoutMs ?? 30_000;
  const logBatchesMethod = (proto.WorkerExtras.service as grpc.ServiceDefinition)
    .StreamLogBatches as grpc.MethodDefinition<unknown, unknown>;
  // StreamLogBatches with our own reading of the answers; the request as the loader encodes it.
  const logBatches =
    <T>(request: { afterLogId: number; maxBatchLines: number }, decode: (buf: Buffer) => T) =>
    (md: grpc.Metadata) =>
      extras.makeServerStreamRequest(
        LOG_BATCHES_PATH,
        logBatchesMethod.requestSerialize,
        decode,
        request,
        md,
        {},
      );

  const metadata = () => {
    const md = new grpc.Metadata();
    if (opts.token) md.set("authorization", `Bearer ${opts.token}`);
    return md;
  };

  function unary<Res>(client: AnyClient, method: string, request: unknown): Promise<Res> {
    const fn = client[method] as unknown as UnaryFn;
    return new Promise((resolve, reject) => {
      fn.call(client, request, metadata(), { deadline: Date.now() + timeoutMs }, (err, res) =>
        err ? reject(toWorkerRpcError(err)) : resolve(res as Res),
      );
    });
  }

  async function* stream<W, T>(
    client: AnyClient,
    method: string | ((md: grpc.Metadata) => grpc.ClientReadableStream<unknown>),
    request: unknown,
    map: (message: W) => T,
    signal?: AbortSignal,
  ): AsyncGenerator<T> {
    if (signal?.aborted) return;
    const call =
      typeof method === "string"
        ? (client[method] as unknown as StreamFn).call(client, request, metadata())
        : method(metadata());
    const onAbort = () => call.cancel();
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      for await (const message of call) yield map(message as W);
    } catch (err) {
      if (signal?.aborted && (err as grpc.ServiceError).code === grpc.status.CANCELLED) return;
      throw toWorkerRpcError(err);
    } finally {
      signal?.removeEventListener("abort", onAbort);
      // Stops the server-side stream when the consumer breaks out early.
      call.cancel();
    }
  }

  return {
    streamLogBatches: (afterLogId, o = {}) =>
      // Decoded by hand straight into LogEntry (log-batch-decoder.ts says why).
      stream<LogEntry[], LogEntry[]>(
        extras,
        logBatches({ afterLogId, maxBatchLines: o.maxBatchLines ?? 0 }, decodeLogBatch),
        null,
        (lines) => lines,
        o.signal,
      ),
    streamLogBatchesRaw: (afterLogId, o = {}) =>
      stream<Buffer, Buffer>(
        extras,
        logBatches({ afterLogId, maxBatchLines: 0 }, (buf) => buf),
        null,
        (buf) => buf,
        o.signal,
      ),
    streamLogs: (afterLogId, o = {}) =>
      stream<WireLogLine, LogEntry>(worker, "StreamLogs", { afterLogId }, logLineFromWire, o.signal),
    streamStatus: (afterEventId, o = {}) =>
      stream<WireStatusEvent, StatusEvent>(
        worker,
        "StreamStatusEvents",
        { afterEventId },
        (m) => ({
          eventId: Number(m.eventId),
          stepId: Number(m.stepId),
          status: knownStatus(m.status),
          timestamp: timestampFromWire(m.timestamp),
        }),
        o.signal,
      ),
    streamProgress: (o = {}) =>
      stream<WireProgressLine, ProgressLine>(extras, "StreamProgress", {}, progressLineFromWire, o.signal),
    streamArtifacts: (afterArtifactId, o = {}) =>
      stream<WireArtifactEvent, WorkerArtifactEvent>(
        worker,
        "StreamArtifactEvents",
        { afterArtifactId },
        artifactEventFromWire,
        o.signal,
      ),
    downloadArtifact: (artifactId, o = {}) =>
      stream<{ chunk: Buffer }, Buffer>(extras, "DownloadArtifact", { artifactId }, (m) => m.chunk, o.signal),
    summary: async () =>
      summaryFromWire(await unary<WireBuildSummary>(extras, "GetBuildSummary", {}), knownStatus),
    cancel: async (reason = "") => {
      await unary(extras, "Cancel", { reason });
    },
    release: async () => {
      await unary(extras, "Release", {});
    },
    health: async (service = "") => {
      const res = await unary<{ status: number | string }>(healthClient, "Check", { service });
      return typeof res.status === "string"
        ? (res.status as HealthStatus)
        : (HEALTH_STATUSES[res.status] ?? "UNKNOWN");
    },
    close() {
      healthClient.close();
      extras.close();
      worker.close();
    },
  };
}
