/**
 * The CRI container log format, which the runtime (not the container) writes, one record a line:
 *
 *   2026-12-03T16:13:21.935164426Z stdout F hello
 *   <RFC 3339 time> <stdout|stderr> <tags> <content>
 *
 * Tags are `:`-separated; the first is `F` (the content ends a line of the container's output)
 * or `P` (a partial line: the runtime cut a long line, or the process wrote no newline yet;
 * the next records of that stream continue it). So the container's own bytes are the content
 * of each record, followed by "\n" only for an `F` record. The parser works on bytes and
 * splits only at "\n", so a multi-byte character cut across reads stays whole.
 */
export type CriStream = "stdout" | "stderr";

export interface CriLogChunk {
  stream: CriStream;
  /** The container's bytes: the content, plus "\n" when the record ended a line. */
  bytes: Buffer;
}

const NEWLINE = 0x0a;
const SPACE = 0x20;
const LF = Buffer.from("\n");

export class CriLogParser {
  private rest: Buffer = Buffer.alloc(0);

  /** Parses what `data` completes; keeps an unfinished record for the next call. */
  push(data: Buffer): CriLogChunk[] {
    const buf = this.rest.length > 0 ? Buffer.concat([this.rest, data]) : data;
    const out: CriLogChunk[] = [];
    let start = 0;
    for (let nl = buf.indexOf(NEWLINE, start); nl >= 0; nl = buf.indexOf(NEWLINE, start)) {
      const chunk = parseRecord(buf.subarray(start, nl));
      if (chunk) out.push(chunk);
      start = nl + 1;
    }
    this.rest = Buffer.from(buf.subarray(start));
    return out;
  }

  /** Bytes of an unfinished record still held (a runtime always ends records with "\n"). */
  get pending(): number {
    return this.rest.length;
  }
}

/** One record without its "\n"; undefined for a line that is not a record (skipped, never thrown on). */
export function parseRecord(line: Buffer): CriLogChunk | undefined {
  const a = line.indexOf(SPACE);
  const b = a < 0 ? -1 : line.indexOf(SPACE, a + 1);
  if (b < 0) return undefined;
  const stream = line.toString("latin1", a + 1, b);
  if (stream !== "stdout" && stream !== "stderr") return undefined;
  // An empty F record ("... stdout F" with or without the space) is an empty line.
  const c = line.indexOf(SPACE, b + 1);
  const tags = line.toString("latin1", b + 1, c < 0 ? line.length : c);
  const content = c < 0 ? Buffer.alloc(0) : line.subarray(c + 1);
  const partial = tags.split(":")[0] === "P";
  return { stream, bytes: partial ? Buffer.from(content) : Buffer.concat([content, LF]) };
}
