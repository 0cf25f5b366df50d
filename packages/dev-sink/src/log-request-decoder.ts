import { ProtoReader, ProtoWireError, timestampMs } from "@wharf/proto";
import type { SinkLogLine } from "./build-sink.js";

export type ReceivedLogLine = Omit<SinkLogLine, "logId">;

// Tags (field number << 3 | wire type) of wharf.api.v5.CreateLogStreamRequest.
const BUILD_ID = (1 << 3) | 0;
const WORKER_LOG_ID = (2 << 3) | 0;
const WORKER_STEP_ID = (3 << 3) | 0;
const TIMESTAMP = (4 << 3) | 2;
const MESSAGE = (5 << 3) | 2;
// And of google.protobuf.Timestamp.
const SECONDS = (1 << 3) | 0;
const NANOS = (2 << 3) | 0;

/**
 * Decodes `CreateLogStreamRequest` messages straight into the line object the sink
 * gets: no generic decoder's intermediate object per line. Absent fields take proto3
 * defaults; unknown fields (and known ones with another wire type, as Go's decoder
 * treats them) are skipped.
 */
export class LogRequestDecoder {
  private reader = new ProtoReader(Buffer.alloc(0));

  /**
   * The line in `buf[start, end)`, or undefined for a line wharf-api skips (no
   * timestamp, or build id 0). Throws ProtoWireError for a malformed message.
   */
  decode(buf: Buffer, start: number, end: number): ReceivedLogLine | undefined {
    // One reader per buffer: a chunk holds many messages, read in place.
    if (this.reader.buf !== buf) this.reader = new ProtoReader(buf);
    const r = this.reader;
    r.pos = start;
    let buildId = 0;
    let workerLogId = 0;
    let workerStepId = 0;
    let hasTimestamp = false;
    let seconds = 0;
    let nanos = 0;
    let message = "";
    while (r.pos < end) {
      const tag = r.varint();
      switch (tag) {
        case BUILD_ID:
          buildId = r.varint();
          break;
        case WORKER_LOG_ID:
          workerLogId = r.varint();
          break;
        case WORKER_STEP_ID:
          workerStepId = r.varint();
          break;
        case TIMESTAMP: {
          const tsEnd = r.lengthEnd(end);
          // A repeated message field merges: a later occurrence overrides only the fields it has.
          hasTimestamp = true;
          while (r.pos < tsEnd) {
            const tsTag = r.varint();
            if (tsTag === SECONDS) seconds = r.signedVarint();
            else if (tsTag === NANOS) nanos = r.signedVarint();
            else skipField(r, tsTag);
          }
          r.expectAt(tsEnd);
          break;
        }
        case MESSAGE: {
          const mEnd = r.lengthEnd(end);
          message = buf.toString("utf8", r.pos, mEnd);
          r.pos = mEnd;
          break;
        }
        default:
          skipField(r, tag);
      }
    }
    r.expectAt(end);
    if (!hasTimestamp || buildId === 0) return undefined;
    return {
      buildId,
      workerLogId,
      workerStepId,
      timestamp: new Date(timestampMs(seconds, nanos)),
      message,
    };
  }
}

function skipField(r: ProtoReader, tag: number): void {
  if (tag >>> 3 === 0) throw new ProtoWireError("field number 0");
  r.skip(tag);
}
