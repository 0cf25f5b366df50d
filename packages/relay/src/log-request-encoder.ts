import type { LogStreamLine } from "./log-stream-sender.js";
import { timestampToMs, type WorkerLogLine } from "./worker-connection.js";

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
  add(line: LogStreamLine): Buffer | undefined {
    const ms = typeof line.timestamp === "number" ? line.timestamp : line.timestamp.getTime();
    return this.addFields(line.buildId, line.workerLogId, line.workerStepId, ms, line.message);
  }

  /** A worker's line as it came from the worker (the relay's path: no object per line in between). */
  addWorkerLine(buildId: number, line: WorkerLogLine): Buffer | undefined {
    return this.addFields(buildId, line.logId, line.stepId, timestampToMs(line.timestamp), line.message);
  }

  private addFields(
    buildId: number,
    workerLogId: number,
    workerStepId: number,
    ms: number,
    message: string,
  ): Buffer | undefined {
    const seconds = Math.floor(ms / 1000);
    const nanos = (ms - seconds * 1000) * 1e6;
    const textBytes = Buffer.byteLength(message, "utf8");
    const tsBytes = fieldBytes(seconds) + fieldBytes(nanos);
    const bodyBytes =
      fieldBytes(buildId) +
      fieldBytes(workerLogId) +
      fieldBytes(workerStepId) +
      1 +
      varintBytes(tsBytes) +
      tsBytes +
      (textBytes > 0 ? 1 + varintBytes(textBytes) + textBytes : 0);
    const frameBytes = 5 + bodyBytes;

    let full: Buffer | undefined;
    if (this.pos + frameBytes > this.buf.length) {
      full = this.take();
      this.buf = Buffer.allocUnsafe(Math.max(this.chunkBytes, frameBytes));
    }
    const b = this.buf;
    let p = this.pos;
    b[p++] = 0; // not compressed
    b.writeUInt32BE(bodyBytes, p);
    p += 4;
    p = writeField(b, p, 0x08, buildId);
    p = writeField(b, p, 0x10, workerLogId);
    p = writeField(b, p, 0x18, workerStepId);
    b[p++] = 0x22;
    p = writeVarint(b, p, tsBytes);
    p = writeField(b, p, 0x08, seconds);
    p = writeField(b, p, 0x10, nanos);
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

/** Bytes of a varint field with a one-byte tag; 0 for a zero value (left out). */
function fieldBytes(value: number): number {
  return value === 0 ? 0 : 1 + varintBytes(value);
}

function varintBytes(value: number): number {
  // Negative int64 values (seconds before 1970) take ten bytes in two's complement.
  if (value < 0) return 10;
  let n = 1;
  while (value >= 128) {
    value = Math.floor(value / 128);
    n++;
  }
  return n;
}

function writeField(b: Buffer, p: number, tag: number, value: number): number {
  if (value === 0) return p;
  b[p] = tag;
  return writeVarint(b, p + 1, value);
}

function writeVarint(b: Buffer, p: number, value: number): number {
  if (value < 0) {
    let v = BigInt.asUintN(64, BigInt(value));
    for (let i = 0; i < 9; i++) {
      b[p++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    b[p++] = Number(v);
    return p;
  }
  while (value >= 128) {
    b[p++] = (value % 128) | 0x80;
    value = Math.floor(value / 128);
  }
  b[p++] = value;
  return p;
}
