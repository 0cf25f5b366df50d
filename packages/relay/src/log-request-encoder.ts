import {
  GRPC_PREFIX_BYTES,
  ProtoReader,
  timestampNanos,
  timestampSeconds,
  varintBytes,
  varintFieldBytes,
  writeGrpcPrefix,
  writeVarint,
  writeVarintField,
} from "@wharf/proto";
import type { BuildId } from "@wharf/proto/build-id";
import type { ApiLogLine } from "./log-stream-sender.js";

/**
 * Encodes `wharf.api.v5.CreateLogStreamRequest` messages as gRPC frames
 * (1 flag byte, 4 length bytes, the message) straight into write-sized
 * buffers. A relay sends one such message per log line, so a generic protobuf
 * encoder (an object graph, a Writer and a copy per message) was most of its
 * cost per line; the message has five fixed fields, written here by hand:
 *
 *   1 build_id (varint)  2 worker_log_id (varint)  3 worker_step_id (varint)
 *   4 timestamp (google.protobuf.Timestamp: 1 seconds varint, 2 nanos varint)
 *   5 message (UTF-8 string)
 *
 * Zero scalars are left out as proto3 encoders do; the timestamp is always
 * present (wharf-api skips lines without one), even at the epoch.
 */
export class RequestFrameEncoder {
  // Allocated when the first frame comes, so a finished batch leaves no empty chunk behind.
  private buf = EMPTY;
  private pos = 0;

  constructor(private readonly chunkBytes: number) {}

  /** Adds one line's frame; returns a full chunk to write when the frame did not fit behind it. */
  add(line: ApiLogLine): Buffer | undefined {
    const ms = line.timestamp.getTime();
    return this.addFields(line.buildId, line.workerLogId, line.workerStepId, ms, line.message);
  }

  /**
   * A worker's line, re-framed from its wire bytes (`buf[start..end)`, a
   * StreamLogsResponse body) without decoding it: build_id goes first, then
   * each field is copied with its number moved up by one (log_id 1 → 2,
   * step_id 2 → 3, timestamp 3 → 4, message 4 → 5); unknown fields are dropped.
   * A line without a timestamp gets "now", as wharf-api skips lines without one.
   * The message bytes are copied as they are: the worker encoded them from a JS
   * string, so they are valid UTF-8.
   */
  addWorkerLine(buildId: BuildId, buf: Buffer, start: number, end: number): Buffer | undefined {
    // The re-framed body is at most the line + build_id (11) + a made-up timestamp (2 + 11 + 5).
    const most = GRPC_PREFIX_BYTES + (end - start) + 11 + 18;
    let full: Buffer | undefined;
    if (this.pos + most > this.buf.length) {
      full = this.take();
      this.buf = Buffer.allocUnsafe(Math.max(this.chunkBytes, most));
    }
    const b = this.buf;
    const frameStart = this.pos;
    const bodyAt = writeVarintField(b, frameStart + GRPC_PREFIX_BYTES, 0x08, buildId);
    // Fast path, every line from our worker: copy the whole line once, then renumber its
    // fields in place (one copy per line instead of one per field). Only single-byte tags
    // of the four known fields qualify; anything else is re-framed field by field.
    let p = bodyAt + buf.copy(b, bodyAt, start, end);
    let hasTimestamp = renumberInPlace(b, bodyAt, p);
    if (hasTimestamp === undefined) {
      p = bodyAt;
      hasTimestamp = false;
      const r = new ProtoReader(buf, start);
      while (r.pos < end) {
        const tagAt = r.pos;
        const tag = r.varint();
        const valueAt = r.pos;
        r.skip(tag);
        if (valueAt - tagAt === 1 && isWorkerLineTag(tag)) {
          b[p++] = tag + 8;
          p += buf.copy(b, p, valueAt, r.pos);
          hasTimestamp ||= tag === 0x1a;
        }
      }
    }
    if (!hasTimestamp) {
      const ms = Date.now();
      const seconds = timestampSeconds(ms);
      p = writeTimestamp(b, p, seconds, timestampNanos(ms, seconds));
    }
    writeGrpcPrefix(b, frameStart, p - frameStart - GRPC_PREFIX_BYTES);
    this.pos = p;
    return full;
  }

  private addFields(
    buildId: BuildId,
    workerLogId: number,
    workerStepId: number,
    ms: number,
    message: string,
  ): Buffer | undefined {
    const seconds = timestampSeconds(ms);
    const nanos = timestampNanos(ms, seconds);
    const textBytes = Buffer.byteLength(message, "utf8");
    const bodyBytes =
      varintFieldBytes(buildId) +
      varintFieldBytes(workerLogId) +
      varintFieldBytes(workerStepId) +
      timestampFieldBytes(seconds, nanos) +
      (textBytes > 0 ? 1 + varintBytes(textBytes) + textBytes : 0);
    const frameBytes = GRPC_PREFIX_BYTES + bodyBytes;

    let full: Buffer | undefined;
    if (this.pos + frameBytes > this.buf.length) {
      full = this.take();
      this.buf = Buffer.allocUnsafe(Math.max(this.chunkBytes, frameBytes));
    }
    const b = this.buf;
    let p = writeGrpcPrefix(b, this.pos, bodyBytes);
    p = writeVarintField(b, p, 0x08, buildId);
    p = writeVarintField(b, p, 0x10, workerLogId);
    p = writeVarintField(b, p, 0x18, workerStepId);
    p = writeTimestamp(b, p, seconds, nanos);
    if (textBytes > 0) {
      b[p++] = 0x2a;
      p = writeVarint(b, p, textBytes);
      p += b.write(message, p, textBytes, "utf8");
    }
    this.pos = p;
    return full;
  }

  /** The frames encoded so far (undefined when none); the encoder starts a fresh buffer after this. */
  take(): Buffer | undefined {
    if (this.pos === 0) return undefined;
    const out = this.buf.subarray(0, this.pos);
    // The written chunk stays referenced by the stream until sent: never reuse its memory.
    this.buf = EMPTY;
    this.pos = 0;
    return out;
  }
}

const EMPTY = Buffer.alloc(0);

/** StreamLogsResponse's fields as single-byte tags: 1 log_id, 2 step_id (varints), 3 timestamp, 4 message. */
function isWorkerLineTag(tag: number): boolean {
  return tag === 0x08 || tag === 0x10 || tag === 0x1a || tag === 0x22;
}

/**
 * Moves every field of the line copied to `b[from..to)` up by one field number.
 * Returns whether it has a timestamp, or undefined when a field is not one of the
 * four (the caller then re-frames field by field, dropping it). The line was
 * checked when it was decoded (WorkerLogLines), so its framing holds.
 */
function renumberInPlace(b: Buffer, from: number, to: number): boolean | undefined {
  let hasTimestamp = false;
  const r = new ProtoReader(b, from);
  while (r.pos < to) {
    const tag = b[r.pos] as number;
    if (!isWorkerLineTag(tag)) return undefined;
    b[r.pos++] = tag + 8;
    r.skip(tag);
    if (tag === 0x1a) hasTimestamp = true;
  }
  return hasTimestamp;
}

function timestampFieldBytes(seconds: number, nanos: number): number {
  const inner = varintFieldBytes(seconds) + varintFieldBytes(nanos);
  return 1 + varintBytes(inner) + inner;
}

/** Field 4, google.protobuf.Timestamp: always written, even at the epoch (wharf-api needs one). */
function writeTimestamp(b: Buffer, p: number, seconds: number, nanos: number): number {
  b[p++] = 0x22;
  p = writeVarint(b, p, varintFieldBytes(seconds) + varintFieldBytes(nanos));
  p = writeVarintField(b, p, 0x08, seconds);
  return writeVarintField(b, p, 0x10, nanos);
}
