import { ProtoReader } from "@wharf/proto";

/** A log line decoded into values (tests and diagnostics; the relay itself keeps wire bytes). */
export interface WorkerLogLine {
  logId: number;
  stepId: number;
  timestamp: { seconds: number; nanos: number } | null;
  message: string;
}

/** One StreamLogBatches message: its buffer, where each line's body lies in it, and each line's id. */
export interface WorkerLogPart {
  readonly buf: Buffer;
  /** Line i of the message spans bounds[2i] .. bounds[2i+1] of `buf` (a StreamLogsResponse body). */
  readonly bounds: Uint32Array;
  readonly logIds: Float64Array;
  /** The lines of this part that belong to the batch: from .. to-1. */
  readonly from: number;
  readonly to: number;
}

/**
 * Lines of one or more `wharf.worker.v1.StreamLogBatchesResponse` messages,
 * kept as the worker sent them: the message buffers plus an index of where
 * each line is. The relay never turns a line into a string or an object: it
 * reads the log id (for checkpoints) and re-frames the line's bytes as a
 * CreateLogStreamRequest (RequestFrameEncoder.addWorkerLine). With 200
 * workers behind, decoded lines (an object, a timestamp object and a string
 * each, ~3× the wire size) were most of the aggregator's memory and garbage.
 *
 *   StreamLogsResponse: 1 log_id (varint), 2 step_id (varint),
 *     3 timestamp (google.protobuf.Timestamp), 4 message (string)
 *
 * Decoding checks every line's framing (a bad message fails the stream, as
 * grpc-js does with a message its decoder refuses); unknown fields are skipped.
 */
export class WorkerLogLines {
  private constructor(
    readonly parts: readonly WorkerLogPart[],
    readonly length: number,
  ) {}

  static readonly empty = new WorkerLogLines([], 0);

  /** Indexes one serialized StreamLogBatchesResponse (grpc-js's deserializer for the stream). */
  static decode(buf: Buffer): WorkerLogLines {
    const r = new ProtoReader(buf);
    const bounds: number[] = [];
    const ids: number[] = [];
    while (r.pos < buf.length) {
      const tag = r.varint();
      if (tag !== 0x0a) {
        r.skip(tag);
        continue;
      }
      const end = r.lengthEnd();
      bounds.push(r.pos, end);
      ids.push(readLogId(r, end));
    }
    if (ids.length === 0) return WorkerLogLines.empty;
    const part = {
      buf,
      bounds: Uint32Array.from(bounds),
      logIds: Float64Array.from(ids),
      from: 0,
      to: ids.length,
    };
    return new WorkerLogLines([part], ids.length);
  }

  static concat(list: readonly WorkerLogLines[]): WorkerLogLines {
    if (list.length === 1) return list[0] as WorkerLogLines;
    const parts = list.flatMap((l) => l.parts);
    return new WorkerLogLines(
      parts,
      list.reduce((n, l) => n + l.length, 0),
    );
  }

  /** The last line's log id (0 when empty). */
  get lastLogId(): number {
    const p = this.parts[this.parts.length - 1];
    return p ? (p.logIds[p.to - 1] as number) : 0;
  }

  /** Lines from..to-1 of this batch, sharing the buffers. */
  slice(from: number, to = this.length): WorkerLogLines {
    const parts: WorkerLogPart[] = [];
    let at = 0;
    for (const p of this.parts) {
      const n = p.to - p.from;
      const a = Math.max(from - at, 0);
      const b = Math.min(to - at, n);
      if (a < b) parts.push({ ...p, from: p.from + a, to: p.from + b });
      at += n;
    }
    return new WorkerLogLines(parts, Math.max(0, Math.min(to, this.length) - Math.max(from, 0)));
  }

  /** The lines with a log id above `logId` (ids ascend, so that is a suffix). */
  after(logId: number): WorkerLogLines {
    let skip = 0;
    for (const p of this.parts) {
      let i = p.from;
      while (i < p.to && (p.logIds[i] as number) <= logId) i++;
      skip += i - p.from;
      if (i < p.to) break;
    }
    return skip === 0 ? this : this.slice(skip);
  }

  /** The lines as values (decodes every string: for tests and diagnostics, not the relay's path; readers use decodeLogBatch). */
  toLines(): WorkerLogLine[] {
    const out: WorkerLogLine[] = [];
    for (const p of this.parts)
      for (let i = p.from; i < p.to; i++)
        out.push(decodeLine(new ProtoReader(p.buf, p.bounds[2 * i]), p.bounds[2 * i + 1] as number));
    return out;
  }
}

/**
 * Walks one line's fields, checking their framing and the timestamp's inside (the relay
 * copies both as they are: a bad one must fail here, not at wharf-api), and returns its log_id.
 */
function readLogId(r: ProtoReader, end: number): number {
  let logId = 0;
  while (r.pos < end) {
    const tag = r.varint();
    if (tag === 0x08) logId = r.varint();
    else if (tag === 0x1a) {
      const tsEnd = r.lengthEnd(end);
      while (r.pos < tsEnd) r.skip(r.varint());
      r.expectAt(tsEnd);
    } else r.skip(tag);
  }
  r.expectAt(end);
  return logId;
}

function decodeLine(r: ProtoReader, end: number): WorkerLogLine {
  const line: WorkerLogLine = { logId: 0, stepId: 0, timestamp: null, message: "" };
  while (r.pos < end) {
    const tag = r.varint();
    if (tag === 0x08) line.logId = r.varint();
    else if (tag === 0x10) line.stepId = r.varint();
    else if (tag === 0x1a) {
      const tsEnd = r.lengthEnd();
      const ts = { seconds: 0, nanos: 0 };
      while (r.pos < tsEnd) {
        const t = r.varint();
        if (t === 0x08) ts.seconds = r.signedVarint();
        else if (t === 0x10) ts.nanos = r.signedVarint();
        else r.skip(t);
      }
      line.timestamp = ts;
    } else if (tag === 0x22) {
      const textEnd = r.lengthEnd();
      line.message = r.buf.toString("utf8", r.pos, textEnd);
      r.pos = textEnd;
    } else r.skip(tag);
  }
  return line;
}
