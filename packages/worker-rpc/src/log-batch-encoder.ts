import type * as grpc from "@grpc/grpc-js";
import {
  timestampNanos,
  timestampSeconds,
  varintBytes,
  varintFieldBytes,
  writeVarint,
  writeVarintField,
} from "@wharf/proto";
import type { LogRecordBatch } from "@wharf/result-store";

/*
 * wharf.worker.v1.StreamLogBatchesResponse written straight from the records the store read from
 * disk: the messages are copied as stored, never decoded into strings and encoded back. The store
 * wrote each message as UTF-8 from a JS string after masking and escaping (LineEncoder), and the read
 * checked it against its checksum, so these bytes are exactly the UTF-8 of the line the generic path
 * would send. A batch is a sizing pass, one allocation and a writing pass.
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
let lineBytes = new Int32Array(0);

function reserve(count: number): void {
  if (lineBytes.length >= count) return;
  const size = Math.max(count, 1024);
  seconds = new Float64Array(size);
  nanos = new Int32Array(size);
  timestampBytes = new Uint8Array(size);
  lineBytes = new Int32Array(size);
}

/**
 * The serialized StreamLogBatchesResponse for `batch`: what `{ lines: entries.map(logLineToWire) }`
 * encodes to, `entries` being the same records decoded (followLogs' batch).
 */
export function encodeLogRecordBatch(batch: LogRecordBatch): Buffer {
  const { count, stepIds, timestamps, messageStarts, messageEnds } = batch;
  reserve(count);
  // The messages sit in order in batch.data, with record headers between them. They are copied in
  // one go and each is then moved down to its place behind its line's fields (see writeLines):
  // `first` is where that region starts in data, `base` where it goes in the output.
  const first = count > 0 ? (messageStarts[0] as number) : 0;
  const region = count > 0 ? (messageEnds[count - 1] as number) - first : 0;
  let base = 0;
  let total = 0;
  // Lines of one write share their timestamp: it is converted once per run of them.
  let ms = Number.NaN;
  let wireSeconds = 0;
  let wireNanos = 0;
  let timestamp = 0;
  for (let i = 0; i < count; i++) {
    const t = timestamps[i] as number;
    if (t !== ms) {
      ms = t;
      const s = timestampSeconds(t);
      // int32, as protobufjs converts nanos (a no-op for any timestamp within int64 seconds).
      wireNanos = timestampNanos(t, s) | 0;
      wireSeconds = Math.min(Math.max(s, MIN_INT64_SECONDS), MAX_INT64_SECONDS);
      // At most 2 x (1 + 10) bytes, so its length prefix is one byte.
      timestamp = varintFieldBytes(wireSeconds) + varintFieldBytes(wireNanos);
    }
    const from = messageStarts[i] as number;
    const text = (messageEnds[i] as number) - from;
    const line =
      varintFieldBytes(batch.firstLogId + i) +
      varintFieldBytes(stepIds[i] as number) +
      2 +
      timestamp +
      (text === 0 ? 0 : 1 + varintBytes(text) + text);
    seconds[i] = wireSeconds;
    nanos[i] = wireNanos;
    timestampBytes[i] = timestamp;
    lineBytes[i] = line;
    total += 1 + varintBytes(line) + line;
    // The region must start far enough in for this message's source to lie at or past its target.
    base = Math.max(base, total - text - (from - first));
  }

  // Lines with fields smaller than a record header (step 0, timestamp 0) need room past `total`.
  const out = Buffer.allocUnsafe(Math.max(total, base + region));
  batch.data.copy(out, base, first, first + region);
  const end = writeLines(out, batch, base - first);
  if (end !== total) throw new Error(`log batch encoder wrote ${end} bytes, sized ${total}`);
  return out.length === total ? out : out.subarray(0, total);
}

/**
 * The writing pass; message i sits at `messageStarts[i] + shift` in `buf`. A message lands at the
 * bytes written so far, which the sizing pass kept at or below its source, and messages after it lie
 * past its source: so no field or move touches a message still to move, and copyWithin handles the
 * overlap of a message with its own target.
 */
function writeLines(buf: Buffer, batch: LogRecordBatch, shift: number): number {
  const { count, firstLogId, stepIds, messageStarts, messageEnds } = batch;
  let p = 0;
  for (let i = 0; i < count; i++) {
    buf[p++] = LINE_TAG;
    p = writeVarint(buf, p, lineBytes[i] as number);
    p = writeVarintField(buf, p, LOG_ID_TAG, firstLogId + i);
    p = writeVarintField(buf, p, STEP_ID_TAG, stepIds[i] as number);
    buf[p++] = TIMESTAMP_TAG;
    buf[p++] = timestampBytes[i] as number;
    p = writeVarintField(buf, p, SECONDS_TAG, seconds[i] as number);
    p = writeVarintField(buf, p, NANOS_TAG, nanos[i] as number);
    const from = (messageStarts[i] as number) + shift;
    const text = (messageEnds[i] as number) + shift - from;
    if (text === 0) continue;
    buf[p++] = MESSAGE_TAG;
    p = writeVarint(buf, p, text);
    buf.copyWithin(p, from, from + text);
    p += text;
  }
  return p;
}

/**
 * `service` (wharf.worker.v1.WorkerExtras as the loader gives it) with StreamLogBatches responses
 * serialized by encodeLogRecordBatch: its handler then sends the store's LogRecordBatch as it is.
 * Every other method keeps the loader's serializers.
 */
export function withLogBatchEncoder(service: grpc.ServiceDefinition): grpc.ServiceDefinition {
  const method = service.StreamLogBatches;
  if (!method) throw new Error("not the WorkerExtras service: it has no StreamLogBatches method");
  return { ...service, StreamLogBatches: { ...method, responseSerialize: encodeLogRecordBatch } };
}
