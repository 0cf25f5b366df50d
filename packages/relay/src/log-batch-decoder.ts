import type { WorkerLogLine } from "./worker-connection.js";

/** A StreamLogBatches message the relay could not read. */
export class LogBatchDecodeError extends Error {
  override readonly name = "LogBatchDecodeError";
}

/**
 * Decodes `wharf.worker.v1.StreamLogBatchesResponse` (repeated
 * StreamLogsResponse lines = 1) into the same objects @wharf/proto's loader
 * gives (uint64 as numbers, absent fields as their defaults, an absent
 * timestamp as null), without the generic decoder's two passes (a message
 * object, then a plain-object copy of it) per line; on a relay far behind,
 * those doubled allocations were most of the aggregator's memory.
 *
 *   StreamLogsResponse: 1 log_id (varint), 2 step_id (varint),
 *     3 timestamp (google.protobuf.Timestamp: 1 seconds int64, 2 nanos int32), 4 message (string)
 *
 * Unknown fields are skipped, as protobuf requires.
 */
export function decodeLogBatch(buf: Buffer): { lines: WorkerLogLine[] } {
  const r = new Reader(buf);
  const lines: WorkerLogLine[] = [];
  while (r.pos < buf.length) {
    const tag = r.varint();
    if (tag === 0x0a) {
      const end = r.lengthEnd();
      lines.push(decodeLine(r, end));
    } else r.skip(tag);
  }
  return { lines };
}

function decodeLine(r: Reader, end: number): WorkerLogLine {
  let logId = 0;
  let stepId = 0;
  let timestamp: WorkerLogLine["timestamp"] = null;
  let message = "";
  while (r.pos < end) {
    const tag = r.varint();
    switch (tag) {
      case 0x08:
        logId = r.varint();
        break;
      case 0x10:
        stepId = r.varint();
        break;
      case 0x1a: {
        const tsEnd = r.lengthEnd();
        let seconds = 0;
        let nanos = 0;
        while (r.pos < tsEnd) {
          const t = r.varint();
          if (t === 0x08) seconds = r.signedVarint();
          else if (t === 0x10) nanos = r.signedVarint();
          else r.skip(t);
        }
        r.expectAt(tsEnd);
        timestamp = { seconds, nanos };
        break;
      }
      case 0x22: {
        const textEnd = r.lengthEnd();
        message = r.buf.toString("utf8", r.pos, textEnd);
        r.pos = textEnd;
        break;
      }
      default:
        r.skip(tag);
    }
  }
  r.expectAt(end);
  return { logId, stepId, timestamp, message };
}

class Reader {
  pos = 0;
  constructor(readonly buf: Buffer) {}

  /** An unsigned varint as a number (exact up to 2^53, like the loader's `longs: Number`). */
  varint(): number {
    const { buf } = this;
    let lo = 0;
    let shift = 0;
    // Up to 28 bits in plain integer arithmetic (most ids and tags).
    while (shift < 28) {
      const b = this.byte(buf);
      lo |= (b & 0x7f) << shift;
      if (b < 0x80) return lo;
      shift += 7;
    }
    let value = lo;
    let scale = 2 ** 28;
    for (let i = 4; i < 10; i++) {
      const b = this.byte(buf);
      value += (b & 0x7f) * scale;
      if (b < 0x80) return value;
      scale *= 128;
    }
    throw new LogBatchDecodeError("varint longer than 10 bytes");
  }

  /** int64/int32 varint: negatives are 10-byte two's complement. */
  signedVarint(): number {
    const start = this.pos;
    const v = this.varint();
    if (v < 2 ** 63) return v;
    // Rare (before 1970): redo exactly, a double cannot hold 2^64 - n.
    let big = 0n;
    for (let i = start; i < this.pos; i++)
      big |= BigInt((this.buf[i] as number) & 0x7f) << BigInt(7 * (i - start));
    return Number(BigInt.asIntN(64, big));
  }

  /** Reads a length prefix; returns where that field ends. */
  lengthEnd(): number {
    const length = this.varint();
    const end = this.pos + length;
    if (end > this.buf.length) throw new LogBatchDecodeError("field runs past the message");
    return end;
  }

  skip(tag: number): void {
    switch (tag & 7) {
      case 0:
        this.varint();
        return;
      case 1:
        this.pos += 8;
        break;
      case 2:
        this.pos = this.lengthEnd();
        return;
      case 5:
        this.pos += 4;
        break;
      default:
        throw new LogBatchDecodeError(`unsupported wire type ${tag & 7}`);
    }
    if (this.pos > this.buf.length) throw new LogBatchDecodeError("field runs past the message");
  }

  expectAt(end: number): void {
    if (this.pos !== end) throw new LogBatchDecodeError("field runs past its message");
  }

  private byte(buf: Buffer): number {
    if (this.pos >= buf.length) throw new LogBatchDecodeError("message ends inside a varint");
    return buf[this.pos++] as number;
  }
}
