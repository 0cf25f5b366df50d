import http2 from "node:http2";
import path from "node:path";
import { protoRoot } from "@wharf/proto";
import type { BuildId } from "@wharf/proto/build-id";
import { CREATE_LOG_STREAM_PATH } from "@wharf/proto/wharf-api";
import type { WorkerLogLines } from "@wharf/worker-rpc";
import pLimit, { type LimitFunction } from "p-limit";
import protobuf from "protobufjs";
import { RequestFrameEncoder } from "./log-request-encoder.js";
import { FenceClosedError, type SendFence, sendBudgetMs } from "./send-fence.js";

/** One line as wharf-api's CreateLogStream takes it. */
export interface ApiLogLine {
  buildId: BuildId;
  workerLogId: number;
  workerStepId: number;
  timestamp: Date;
  message: string;
}

/** A CreateLogStream call that failed; `grpcStatus` when wharf-api answered with one. */
export class LogStreamError extends Error {
  override readonly name = "LogStreamError";
  constructor(
    message: string,
    readonly grpcStatus?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

const root = protobuf.loadSync(path.join(protoRoot, "wharf/api/v5/builds.proto"));
const Response = root.lookupType("wharf.api.v5.CreateLogStreamResponse");
const WRITE_CHUNK = 64 * 1024;

/**
 * wharf-api's CreateLogStream (one line per message) over plain HTTP/2 (h2c).
 * grpc-js writes every message separately (~40 µs each, which caps a relay at
 * ~20k lines/s); the gRPC wire format is just length-prefixed messages on one
 * HTTP/2 stream, so we encode a whole batch and write it in 64 KiB chunks,
 * with HTTP/2 flow control, and read `lines_inserted` and `grpc-status` back.
 */
export class LogStreamSender {
  private session: http2.ClientHttp2Session | undefined;
  private readonly limit: LimitFunction;

  constructor(
    /** host:port of wharf-api's gRPC. */
    private readonly address: string,
    private readonly token?: string,
    /**
     * Calls in flight at once (default 16); the rest wait their turn, first come first served.
     * With hundreds of workers behind, every call in flight holds its write buffers and
     * wharf-api a stream: more at once adds memory, not throughput.
     */
    maxConcurrentCalls = 16,
  ) {
    this.limit = pLimit(maxConcurrentCalls);
  }

  send(
    lines: readonly ApiLogLine[],
    timeoutMs: number,
    signal?: AbortSignal,
    fence?: SendFence,
  ): Promise<number> {
    return this.queued(signal, () => this.call(frameLines(lines), timeoutMs, signal, fence));
  }

  /** `send` for lines as the worker sent them, re-framed from their wire bytes. */
  sendWorkerLines(
    buildId: BuildId,
    lines: WorkerLogLines,
    timeoutMs: number,
    signal?: AbortSignal,
    fence?: SendFence,
  ): Promise<number> {
    return this.queued(signal, () => this.call(frameWorkerLines(buildId, lines), timeoutMs, signal, fence));
  }

  /** Runs `call` in its turn; an abort while waiting for the turn rejects at once (the turn is then skipped). */
  private queued(signal: AbortSignal | undefined, call: () => Promise<number>): Promise<number> {
    const turn = this.limit(() => {
      signal?.throwIfAborted();
      return call();
    });
    if (!signal) return turn;
    return new Promise<number>((resolve, reject) => {
      const onAbort = () => reject(signal.reason);
      if (signal.aborted) onAbort();
      else signal.addEventListener("abort", onAbort, { once: true });
      turn.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
    });
  }

  /**
   * One CreateLogStream call. With a fence, its deadline (the `grpc-timeout` wharf-api
   * enforces too) ends within the fence, and no chunk is written once the fence closed.
   */
  private async call(
    chunks: Iterable<Buffer>,
    callTimeoutMs: number,
    signal?: AbortSignal,
    fence?: SendFence,
  ): Promise<number> {
    signal?.throwIfAborted();
    const timeoutMs = Math.min(callTimeoutMs, sendBudgetMs(fence, "CreateLogStream"));
    const stream = this.connect().request({
      ":method": "POST",
      ":path": CREATE_LOG_STREAM_PATH,
      "content-type": "application/grpc",
      te: "trailers",
      "grpc-timeout": `${Math.max(1, Math.ceil(timeoutMs))}m`,
      ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
    });
    let cancelled: string | undefined;
    const cancel = (why: string) => {
      cancelled = why;
      stream.close(http2.constants.NGHTTP2_CANCEL);
    };
    const timer = setTimeout(() => cancel("deadline"), timeoutMs);
    const onAbort = () => cancel("aborted");
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      const answer = readAnswer(stream);
      answer.catch(() => {});
      await writeChunks(stream, chunks, fence);
      return await answer;
    } catch (err) {
      if (err instanceof FenceClosedError) {
        stream.close(http2.constants.NGHTTP2_CANCEL);
        throw err;
      }
      if (cancelled) throw new LogStreamError(`CreateLogStream ${cancelled}`, undefined, { cause: err });
      if (err instanceof LogStreamError) throw err;
      throw new LogStreamError(`CreateLogStream: ${(err as Error).message}`, undefined, { cause: err });
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    }
  }

  close(): void {
    this.session?.close();
    this.session = undefined;
  }

  private connect(): http2.ClientHttp2Session {
    if (this.session && !this.session.closed && !this.session.destroyed) return this.session;
    const session = http2.connect(`http://${this.address}`);
    session.on("error", () => {}); // surfaces on the streams; a new session is made on the next send
    session.on("close", () => {
      if (this.session === session) this.session = undefined;
    });
    session.on("goaway", () => {
      if (this.session === session) this.session = undefined;
    });
    this.session = session;
    return session;
  }
}

/** The request frames of `lines`, in write-sized chunks, encoded as the writer asks for them. */
function* frameLines(lines: readonly ApiLogLine[]): Generator<Buffer> {
  const encoder = new RequestFrameEncoder(WRITE_CHUNK);
  for (const line of lines) {
    const full = encoder.add(line);
    if (full) yield full;
  }
  const rest = encoder.take();
  if (rest) yield rest;
}

function* frameWorkerLines(buildId: BuildId, lines: WorkerLogLines): Generator<Buffer> {
  const encoder = new RequestFrameEncoder(WRITE_CHUNK);
  for (const { buf, bounds, from, to } of lines.parts) {
    for (let i = from; i < to; i++) {
      const full = encoder.addWorkerLine(buildId, buf, bounds[2 * i] as number, bounds[2 * i + 1] as number);
      if (full) yield full;
    }
  }
  const rest = encoder.take();
  if (rest) yield rest;
}

async function writeChunks(
  stream: http2.ClientHttp2Stream,
  chunks: Iterable<Buffer>,
  fence: SendFence | undefined,
): Promise<void> {
  for (const chunk of chunks) {
    // Checked on every chunk: after a stall, the first thing to run may be a drain, not a timer.
    sendBudgetMs(fence, "CreateLogStream");
    if (!stream.write(chunk)) await waitDrain(stream);
  }
  sendBudgetMs(fence, "CreateLogStream");
  stream.end();
}

function waitDrain(stream: http2.ClientHttp2Stream): Promise<void> {
  // Closed already (a deadline, a reset): no "drain" or "close" would come any more.
  if (stream.closed || stream.destroyed) return Promise.reject(new Error("stream closed while writing"));
  return new Promise((resolve, reject) => {
    const done = (err?: Error) => {
      stream.off("drain", onDrain);
      stream.off("close", onClose);
      if (err) reject(err);
      else resolve();
    };
    const onDrain = () => done();
    const onClose = () => done(new Error("stream closed while writing"));
    stream.once("drain", onDrain);
    stream.once("close", onClose);
  });
}

/** Resolves with lines_inserted when wharf-api closes the call with grpc-status 0. */
function readAnswer(stream: http2.ClientHttp2Stream): Promise<number> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let headers: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    stream.on("response", (h) => {
      headers = h;
    });
    stream.on("trailers", (t) => {
      trailers = t;
    });
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.on("error", (err) => reject(err));
    stream.on("close", () => {
      try {
        resolve(answerOf(headers, trailers, Buffer.concat(chunks)));
      } catch (err) {
        // Whatever wharf-api answered, a bad answer fails this call; it must not throw out of a listener.
        reject(
          err instanceof LogStreamError ? err : new LogStreamError(`CreateLogStream: bad answer: ${err}`),
        );
      }
    });
  });
}

/** lines_inserted of a finished call, or the LogStreamError its gRPC status says. */
function answerOf(
  headers: http2.IncomingHttpHeaders,
  trailers: http2.IncomingHttpHeaders,
  body: Buffer,
): number {
  // A trailers-only answer carries grpc-status in the headers.
  const status = trailers["grpc-status"] ?? headers["grpc-status"];
  if (status === undefined)
    throw new LogStreamError(`CreateLogStream: no gRPC status (HTTP ${headers[":status"] ?? "none"})`);
  const code = Number(status);
  if (code !== 0) {
    const text = decodeURIComponent(String(trailers["grpc-message"] ?? headers["grpc-message"] ?? ""));
    throw new LogStreamError(`CreateLogStream: ${code} ${text}`, code);
  }
  if (body.length < 5) throw new LogStreamError("CreateLogStream: status OK without a response message", 0);
  const msg = Response.toObject(Response.decode(body.subarray(5, 5 + body.readUInt32BE(1))), {
    longs: Number,
  });
  return Number(msg.linesInserted ?? 0);
}
