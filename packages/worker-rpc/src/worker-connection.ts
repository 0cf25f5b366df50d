import * as grpc from "@grpc/grpc-js";
import {
  type WorkerExtrasClient as ExtrasStub,
  loadWorkerProto,
  timestampMs,
  type WireArtifactChunk,
  type WireArtifactEvent,
  type WireBuildSummary,
  type WireLogLine,
  type WireProgressLine,
  type WireStatusEvent,
  type WireTimestamp,
  type WorkerClient as WorkerStub,
} from "@wharf/proto";
import { TRACEPARENT_METADATA } from "@wharf/tracing";
import { healthServiceDefinition, type ServingStatus } from "./health-service.js";
import { WorkerLogLines } from "./worker-log-lines.js";

type Timestamp = WireTimestamp | null;

// grpc.health.v1 is not among the generated .proto types (health-service.ts defines it), so its
// one method used here is typed by hand.
type HealthStub = grpc.Client & {
  Check(
    req: { service: string },
    md: grpc.Metadata,
    opts: grpc.CallOptions,
    cb: grpc.requestCallback<{ status: ServingStatus }>,
  ): grpc.ClientUnaryCall;
};
const HealthClient = grpc.makeGenericClientConstructor(healthServiceDefinition, "Health");

/** First and longest wait between connection attempts to a worker (grpc-js: 1 s and 120 s). */
const RECONNECT_BACKOFF_MS = 50;
const MAX_RECONNECT_BACKOFF_MS = 2_000;
/** Deadline of unary calls unless the call gives its own. */
const DEFAULT_CALL_TIMEOUT_MS = 10_000;

export interface WorkerConnectionOptions {
  /** The worker's bearer token (`workerTokenFor`), sent with every call. */
  token?: string;
  /** Deadline of unary calls (default 10 s); streams have none. */
  callTimeoutMs?: number;
  /**
   * HTTP/2 flow-control window of each stream (default HTTP/2's 64 KiB): how much a worker may
   * send ahead of what is read. A reader of whole logs sets a batch's worth (1 MiB) so a batch
   * need not wait for ~16 window updates; the relay keeps the default, as what each of its
   * hundreds of streams may hold unread is this window.
   */
  flowControlWindowBytes?: number;
}

/**
 * The one connection to a worker over `wharf.worker.v1` that every other process uses: the
 * aggregator relays through it, the provisioner probes through it, and `createWorkerClient`
 * (`wharf logs`) puts typed values on top of it. Streams resume after a checkpoint id and are
 * Node Readables, so reading them with `for await` applies back-pressure down to the worker
 * through HTTP/2 flow control. Log batches stay wire bytes (WorkerLogLines).
 */
export class WorkerConnection {
  private readonly worker: WorkerStub;
  private readonly extras: ExtrasStub;
  private readonly healthStub: HealthStub;
  private readonly token?: string;
  private readonly callTimeoutMs: number;
  private told: string | undefined;

  constructor(
    readonly address: string,
    options: WorkerConnectionOptions = {},
  ) {
    this.token = options.token;
    this.callTimeoutMs = options.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
    const proto = loadWorkerProto();
    // One channel shared by the services: a single HTTP/2 connection per worker. A worker is
    // often dialled the moment it is listed, before its gRPC server listens: grpc-js's first
    // reconnect backoff (1 s) would then hold the build's first line for a second.
    this.worker = new proto.Worker(address, grpc.credentials.createInsecure(), {
      "grpc.initial_reconnect_backoff_ms": RECONNECT_BACKOFF_MS,
      "grpc.max_reconnect_backoff_ms": MAX_RECONNECT_BACKOFF_MS,
      "grpc.max_receive_message_length": 16 * 1024 * 1024,
      ...(options.flowControlWindowBytes
        ? { "grpc-node.flow_control_window": options.flowControlWindowBytes }
        : {}),
    });
    const shared = { channelOverride: this.worker.getChannel() };
    this.extras = new proto.WorkerExtras(address, grpc.credentials.createInsecure(), shared);
    this.healthStub = new HealthClient(
      address,
      grpc.credentials.createInsecure(),
      shared,
    ) as unknown as HealthStub;
  }

  /**
   * The worker's build trace context (W3C traceparent), once any answer of the worker carried
   * it in its metadata; undefined before, and from workers that do not trace.
   */
  get traceparent(): string | undefined {
    return this.told;
  }

  private listen<C extends { on(event: "metadata", cb: (md: grpc.Metadata) => void): unknown }>(call: C): C {
    if (this.told === undefined)
      call.on("metadata", (md) => {
        const value = md.get(TRACEPARENT_METADATA)[0];
        if (typeof value === "string" && value !== "") this.told ??= value;
      });
    return call;
  }

  /** Lines after `afterLogId`, in messages of at most `maxBatchLines` lines and `maxBatchBytes` bytes (0: the worker's default). */
  streamLogBatches(
    afterLogId: number,
    maxBatchLines: number,
    maxBatchBytes = 0,
  ): grpc.ClientReadableStream<WorkerLogLines> {
    // Lines stay wire bytes (see WorkerLogLines).
    return this.streamLogBatchesWith(afterLogId, maxBatchLines, WorkerLogLines.decode, maxBatchBytes);
  }

  /** StreamLogBatches with each message read by `decode`; the request is encoded as the service definition does it. */
  streamLogBatchesWith<T>(
    afterLogId: number,
    maxBatchLines: number,
    decode: (buf: Buffer) => T,
    maxBatchBytes = 0,
  ): grpc.ClientReadableStream<T> {
    // Not the generated stub's StreamLogBatches, whose deserializer is fixed by the service
    // definition (a StreamLogBatchesResponse object per message): the same call with `decode`.
    const method = loadWorkerProto().WorkerExtras.service.StreamLogBatches;
    return this.listen(
      this.extras.makeServerStreamRequest(
        method.path,
        method.requestSerialize,
        decode,
        { afterLogId, maxBatchLines, maxBatchBytes },
        this.metadata(),
        {},
      ),
    );
  }

  /** Steps' unfinished progress lines (WorkerExtras.StreamProgress, ours: not in wharf-cmd). */
  streamProgress(): grpc.ClientReadableStream<WireProgressLine> {
    return this.listen(this.extras.StreamProgress({}, this.metadata(), {}));
  }

  /** wharf-cmd's one-line-per-message log stream. */
  streamLogs(afterLogId: number): grpc.ClientReadableStream<WireLogLine> {
    return this.listen(this.worker.StreamLogs({ afterLogId }, this.metadata(), {}));
  }

  streamStatusEvents(afterEventId: number): grpc.ClientReadableStream<WireStatusEvent> {
    return this.listen(this.worker.StreamStatusEvents({ afterEventId }, this.metadata(), {}));
  }

  streamArtifactEvents(afterArtifactId: number): grpc.ClientReadableStream<WireArtifactEvent> {
    return this.listen(this.worker.StreamArtifactEvents({ afterArtifactId }, this.metadata(), {}));
  }

  /** The artifact's bytes as they arrive (chunks of at most 64 KiB). */
  async *downloadArtifact(artifactId: number, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
    const call = this.extras.DownloadArtifact({ artifactId }, this.metadata(), {});
    const onAbort = () => call.cancel();
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      for await (const msg of call as AsyncIterable<WireArtifactChunk>) yield msg.chunk;
    } finally {
      signal?.removeEventListener("abort", onAbort);
      call.cancel();
    }
  }

  /**
   * The build summary; waits for the connection until the deadline (gRPC wait-for-ready), so a
   * worker that refused a moment ago while starting is asked again once grpc-js reconnects
   * (RECONNECT_BACKOFF_MS, growing) instead of failing at once: this is the liveness probe.
   * Without `waitForReady` a worker that does not answer now fails the call with UNAVAILABLE.
   */
  summary(timeoutMs = this.callTimeoutMs, waitForReady = true): Promise<WireBuildSummary> {
    return this.unary(
      (md, opts, cb) => this.extras.GetBuildSummary({}, md, opts, cb),
      timeoutMs,
      waitForReady,
    );
  }

  async cancel(reason: string, timeoutMs = this.callTimeoutMs): Promise<void> {
    await this.unary((md, opts, cb) => this.extras.Cancel({ reason }, md, opts, cb), timeoutMs);
  }

  async release(timeoutMs = this.callTimeoutMs): Promise<void> {
    await this.unary((md, opts, cb) => this.extras.Release({}, md, opts, cb), timeoutMs);
  }

  /** grpc.health.v1 Check of `service` ("" = the whole server). */
  async health(service = "", timeoutMs = this.callTimeoutMs): Promise<ServingStatus> {
    const res = await this.unary<{ status: ServingStatus }>(
      (md, opts, cb) => this.healthStub.Check({ service }, md, opts, cb),
      timeoutMs,
    );
    return res.status;
  }

  close(): void {
    this.healthStub.close();
    this.extras.close();
    this.worker.close();
  }

  private metadata(waitForReady = false): grpc.Metadata {
    const md = new grpc.Metadata(waitForReady ? { waitForReady } : undefined);
    if (this.token) md.set("authorization", `Bearer ${this.token}`);
    return md;
  }

  private unary<T>(
    call: (md: grpc.Metadata, opts: grpc.CallOptions, cb: grpc.requestCallback<T>) => unknown,
    timeoutMs: number,
    waitForReady = false,
  ): Promise<T> {
    return new Promise((resolve, reject) => {
      call(this.metadata(waitForReady), { deadline: Date.now() + timeoutMs }, (err, res) =>
        err ? reject(err) : resolve(res as T),
      );
    });
  }
}

/** Converts a wire timestamp to a Date; a missing one becomes "now" (wharf-api rejects lines without one). */
export function timestampToDate(ts: Timestamp): Date {
  return ts ? new Date(timestampMs(ts.seconds, ts.nanos)) : new Date();
}
