import type * as grpc from "@grpc/grpc-js";
import { varintBytes, varintFieldBytes, writeVarint, writeVarintField } from "@wharf/proto";
import type { LogEntry } from "@wharf/result-store";
import { timestampNanos, timestampSeconds } from "./wire.js";

/*
 * wharf.worker.v1.StreamLogBatchesResponse written straight from the store's entries. The generic
 * path (an object per line and per timestamp, protobufjs fromObject, encode and finish) costs more
 * than the line itself; here a batch is a sizing pass, one allocation and a writing pass.
 *
 *   StreamLogBatchesResponse { repeated StreamLogsResponse lines = 1; }
 *   StreamLogsResponse { uint64 log_id = 1; uint64 step_id = 2; Timestamp timestamp = 3; string message = 4; }
 *   google.protobuf.Timestamp { int64 seconds = 1; int32 nanos = 2; }
 *
 * Fields go out in field-number order with proto3 defaults (0, "") left out. The timestamp is always
 * there, as logLineToWire always gives one; an all-zero timestamp is an empty submessage.
 */

/** Tags: field number << 3 | wire type (0 varint, 2 length-delimited). */
const LINE_TAG = (1 << 3) | 2;
const LOG_ID_TAG = (1 << 3) | 0;
const STEP_ID_TAG = (2 << 3) | 0;
const TIMESTAMP_TAG = (3 << 3) | 2;
const MESSAGE_TAG = (4 << 3) | 2;
const SECONDS_TAG = (1 << 3) | 0;
const NANOS_TAG = (2 << 3) | 0;

// The store takes any finite timestamp; seconds past int64 would make a varint longer than ten bytes
// and break the whole batch for the reader. Saturate instead, as protobufjs (Long.fromNumber) does;
// 2^63 - 1024 is the largest double below 2^63.
const MAX_INT64_SECONDS = 2 ** 63 - 1024;
const MIN_INT64_SECONDS = -(2 ** 63);

/**
 * What the sizing pass learns per line, kept for the writing pass. Module-level scratch is safe as
 * encoding is synchronous; grown on demand (a batch has at most MAX_BATCH_LINES), never shrunk.
 */
let seconds = new Float64Array(0);
let nanos = new Int32Array(0);
let timestampBytes = new Uint8Array(0);
let textBytes = new Int32Array(0);
let lineBytes = new Int32Array(0);

function reserve(count: number): void {
  if (lineBytes.length >= count) return;
  const size = Math.max(count, 1024);
  seconds = new Float64Array(size);
  nanos = new Int32Array(size);
  timestampBytes = new Uint8Array(size);
  textBytes = new Int32Array(size);
  lineBytes = new Int32Array(size);
}

/** The serialized StreamLogBatchesResponse for `entries`: what `{ lines: entries.map(logLineToWire) }` encodes to. */
export function encodeLogBatch(entries: readonly LogEntry[]): Buffer {
  const count = entries.length;
  reserve(count);

  // One native UTF-8 write of all messages costs far less than a write per line (~150 ns each).
  // The joined text goes to the end of the buffer and each message is moved down to its place
  // behind its line's fields; moves never reach a message not yet moved (see writeLines).
  let joined = "";
  for (let i = 0; i < count; i++) joined += (entries[i] as LogEntry).message;
  const joinedBytes = Buffer.byteLength(joined, "utf8");
  // Every UTF-16 unit is at least one UTF-8 byte, and exactly one only if it is ASCII.
  const ascii = joinedBytes === joined.length;

  let total = 0;
  let textTotal = 0;
  for (let i = 0; i < count; i++) {
    const entry = entries[i] as LogEntry;
    const text = ascii ? entry.message.length : Buffer.byteLength(entry.message, "utf8");
    const s = timestampSeconds(entry.timestamp);
    // int32, as protobufjs converts nanos (a no-op for any timestamp within int64 seconds).
    const n = timestampNanos(entry.timestamp, s) | 0;
    const wireSeconds = Math.min(Math.max(s, MIN_INT64_SECONDS), MAX_INT64_SECONDS);
    // At most 2 x (1 + 10) bytes, so its length prefix is one byte.
    const timestamp = varintFieldBytes(wireSeconds) + varintFieldBytes(n);
    const line =
      varintFieldBytes(entry.logId) +
      varintFieldBytes(entry.stepId) +
      2 +
      timestamp +
      (text === 0 ? 0 : 1 + varintBytes(text) + text);
    seconds[i] = wireSeconds;
    nanos[i] = n;
    timestampBytes[i] = timestamp;
    textBytes[i] = text;
    lineBytes[i] = line;
    textTotal += text;
    total += 1 + varintBytes(line) + line;
  }

  const buf = Buffer.allocUnsafe(total);
  // Joined bytes differ from the sum of the parts only when a lone high surrogate ending one message
  // pairs up with a lone low one starting the next: then each message is written on its own.
  const textAt = joinedBytes === textTotal ? total - textTotal : -1;
  if (textAt >= 0) buf.write(joined, textAt, textTotal, "utf8");
  const end = writeLines(buf, entries, textAt);
  if (end !== total) throw new Error(`log batch encoder wrote ${end} bytes, sized ${total}`);
  return buf;
}

/**
 * The writing pass. With `textAt` >= 0 the messages already sit back to back from there and are moved
 * down: a message lands at (fields written so far + earlier messages) <= textAt + earlier messages,
 * its own source, so neither its move nor the next line's fields touch a message still to move.
 */
function writeLines(buf: Buffer, entries: readonly LogEntry[], textAt: number): number {
  let p = 0;
  let from = textAt;
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i] as LogEntry;
    buf[p++] = LINE_TAG;
    p = writeVarint(buf, p, lineBytes[i] as number);
    p = writeVarintField(buf, p, LOG_ID_TAG, entry.logId);
    p = writeVarintField(buf, p, STEP_ID_TAG, entry.stepId);
    buf[p++] = TIMESTAMP_TAG;
    buf[p++] = timestampBytes[i] as number;
    p = writeVarintField(buf, p, SECONDS_TAG, seconds[i] as number);
    p = writeVarintField(buf, p, NANOS_TAG, nanos[i] as number);
    const text = textBytes[i] as number;
    if (text === 0) continue;
    buf[p++] = MESSAGE_TAG;
    p = writeVarint(buf, p, text);
    if (from >= 0) {
      buf.copyWithin(p, from, from + text);
      from += text;
      p += text;
    } else {
      p += buf.write(entry.message, p, text, "utf8");
    }
  }
  return p;
}

/**
 * `service` (wharf.worker.v1.WorkerExtras as the loader gives it) with StreamLogBatches responses
 * serialized by encodeLogBatch: its handler then sends the store's LogEntry[] batches as they are.
 * Every other method keeps the loader's serializers.
 */
export function withLogBatchEncoder(service: grpc.ServiceDefinition): grpc.ServiceDefinition {
  const method = service.StreamLogBatches;
  if (!method) throw new Error("not the WorkerExtras service: it has no StreamLogBatches method");
  return { ...service, StreamLogBatches: { ...method, responseSerialize: encodeLogBatch } };
}
