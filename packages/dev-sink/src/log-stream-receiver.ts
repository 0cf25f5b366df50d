import type http2 from "node:http2";
import { ProtoWireError } from "@wharf/proto";
import type { BuildSink } from "./build-sink.js";
import { answerLinesInserted, answerStatus, GrpcStatus } from "./grpc-answer.js";
import { GrpcFramingError, GrpcMessageSplitter } from "./grpc-message-splitter.js";
import { LogRequestDecoder, type ReceivedLogLine } from "./log-request-decoder.js";

/** Stored batches that may be in flight before the stream is paused (HTTP/2 flow control then holds the client). */
const MAX_BATCHES_BEHIND = 4;

/**
 * The log stores of every call still in progress. A cancelled call keeps storing the lines
 * it took for a moment after the client gave up; reading a build's log waits for those, so a
 * relay counting what is stored after a cut call sees the final number (as with wharf-api,
 * whose handler stores a line before it reads the next).
 */
export class PendingStores {
  private readonly pending = new Set<Promise<unknown>>();

  track(p: Promise<unknown>): void {
    const settled = p.then(
      () => undefined,
      () => undefined,
    );
    this.pending.add(settled);
    void settled.then(() => this.pending.delete(settled));
  }

  async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }
}

export interface LogStreamCallOptions {
  sink: BuildSink;
  stores: PendingStores;
  /** The whole `authorization` header a call must carry; unset = no auth. */
  expected: string | undefined;
  onUnauthorized: () => void;
  gate: () => Promise<"ok" | "fail">;
}

/**
 * `wharf.api.v5.Builds/CreateLogStream` on a plain HTTP/2 stream: the checks a
 * call goes through (content type, bearer token, the test gate), then the stream.
 */
export function handleCreateLogStream(
  stream: http2.ServerHttp2Stream,
  headers: http2.IncomingHttpHeaders,
  opts: LogStreamCallOptions,
): void {
  const contentType = headers["content-type"];
  if (!contentType?.startsWith("application/grpc")) {
    // What grpc-go answers for a request that is not gRPC.
    answerStatus(
      stream,
      GrpcStatus.INTERNAL,
      `invalid gRPC request content-type "${contentType ?? ""}"`,
      415,
    );
    return;
  }
  if (opts.expected && headers.authorization !== opts.expected) {
    opts.onUnauthorized();
    answerStatus(stream, GrpcStatus.UNAUTHENTICATED, "missing or wrong bearer token");
    return;
  }
  // As grpc-go: the deadline runs from the call's arrival, and when it passes the handler's
  // context ends, so lines still unread are never stored (the lease fence relies on this).
  const timeoutMs = grpcTimeoutMs(headers["grpc-timeout"]);
  let receiver: LogStreamReceiver | undefined;
  let expired = false;
  const deadline =
    timeoutMs === undefined
      ? undefined
      : setTimeout(() => {
          expired = true;
          if (receiver) receiver.expire();
          else answerStatus(stream, GrpcStatus.DEADLINE_EXCEEDED, "context deadline exceeded");
        }, timeoutMs);
  stream.once("close", () => clearTimeout(deadline));
  opts.gate().then(
    (verdict) => {
      if (expired) return;
      if (verdict === "fail") answerStatus(stream, GrpcStatus.UNAVAILABLE, "wharf-api: told to fail");
      else {
        receiver = new LogStreamReceiver(stream, opts.sink, opts.stores);
        receiver.start();
      }
    },
    (err: unknown) => answerStatus(stream, GrpcStatus.INTERNAL, `gate: ${String(err)}`),
  );
}

const TIMEOUT_UNIT_MS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 1e-3, n: 1e-6 };

/** The `grpc-timeout` header (1–8 digits and a unit) in ms; undefined when absent or malformed. */
export function grpcTimeoutMs(header: string | string[] | undefined): number | undefined {
  const m = typeof header === "string" ? /^(\d{1,8})([HMSmun])$/.exec(header) : null;
  if (!m) return undefined;
  return Number(m[1]) * (TIMEOUT_UNIT_MS[m[2] as string] as number);
}

/**
 * Stores lines in arrival order, a batch per event-loop turn, and answers once all
 * are stored. As in wharf-api, a line is stored as it arrives, not when the stream
 * ends: a stream cut midway (cancel, bad message) leaves the stored prefix behind.
 */
class LogStreamReceiver {
  private readonly decoder = new LogRequestDecoder();
  private readonly splitter = new GrpcMessageSplitter((buf, start, end) => this.take(buf, start, end));
  private pending: ReceivedLogLine[] = [];
  private storing: Promise<void> = Promise.resolve();
  private batchesBehind = 0;
  /** Lines taken for storage (what lines_inserted reports). */
  private inserted = 0;
  /** Messages read, to name a bad one. */
  private messages = 0;
  /** No more lines are taken: the call was answered, failed or cancelled. */
  private stopped = false;
  private answered = false;
  private readonly flushSoon = () => this.flush();
  private readonly onBatchStored = () => {
    this.batchesBehind--;
    if (this.batchesBehind < MAX_BATCHES_BEHIND && !this.stopped && this.stream.isPaused()) {
      this.stream.resume();
    }
  };
  private readonly onStorageError = (err: unknown) => {
    // Later batches are not stored either: the chain stays rejected.
    this.stopped = true;
    this.answer(GrpcStatus.INTERNAL, `storing log lines: ${errorText(err)}`);
  };

  constructor(
    private readonly stream: http2.ServerHttp2Stream,
    private readonly sink: BuildSink,
    private readonly stores: PendingStores,
  ) {}

  start(): void {
    const { stream } = this;
    stream.on("data", (chunk: Buffer) => this.receive(chunk));
    stream.on("end", () => this.end());
    // A client cancel (RST_STREAM) or a dropped connection: keep what arrived, answer nothing.
    stream.on("close", () => {
      if (!this.stopped) this.stop();
    });
  }

  private receive(chunk: Buffer): void {
    if (this.stopped) return;
    try {
      this.splitter.push(chunk);
    } catch (err) {
      this.finish(err);
    }
  }

  private take(buf: Buffer, start: number, end: number): void {
    this.messages++;
    const line = this.decoder.decode(buf, start, end);
    if (!line) return;
    this.inserted++;
    if (this.pending.push(line) === 1) setImmediate(this.flushSoon);
  }

  /** The call's deadline passed: what was read is stored, nothing more is read. */
  expire(): void {
    if (this.stopped) return;
    this.stop();
    this.storing.then(
      () => this.answer(GrpcStatus.DEADLINE_EXCEEDED, "context deadline exceeded"),
      this.onStorageError,
    );
  }

  private end(): void {
    if (this.stopped) return;
    this.finish(this.splitter.atBoundary ? undefined : new ProtoWireError("request ended inside a message"));
  }

  /** Stops taking lines, stores what was taken, then answers OK or the error. */
  private finish(err: unknown): void {
    this.stop();
    this.storing.then(() => {
      if (err === undefined) this.answer(GrpcStatus.OK, "");
      else if (err instanceof GrpcFramingError) this.answer(err.code, err.message);
      else if (err instanceof ProtoWireError)
        this.answer(GrpcStatus.INVALID_ARGUMENT, `CreateLogStreamRequest #${this.messages}: ${err.message}`);
      else this.answer(GrpcStatus.INTERNAL, errorText(err));
    }, this.onStorageError);
  }

  private stop(): void {
    this.stopped = true;
    this.flush();
  }

  private flush(): void {
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    this.batchesBehind++;
    if (this.batchesBehind >= MAX_BATCHES_BEHIND && !this.stopped) this.stream.pause();
    this.storing = this.storing.then(() => this.sink.appendLogs(batch));
    this.stores.track(this.storing);
    this.storing.then(this.onBatchStored, this.onStorageError);
  }

  private answer(code: number, message: string): void {
    if (this.answered) return;
    this.answered = true;
    if (code === GrpcStatus.OK) answerLinesInserted(this.stream, this.inserted);
    else answerStatus(this.stream, code, message);
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
