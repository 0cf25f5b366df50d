import type { Readable } from "node:stream";

/**
 * Longest line handed on as one message. Longer lines are cut into pieces of at most
 * this many bytes (at a UTF-8 character boundary), so a step printing 1 GB without a
 * newline never makes the engine hold more than this per stream. Matches the result
 * store's documented line limit.
 */
export const MAX_LINE_BYTES = 64 * 1024;

const LF = 0x0a;
const CR = 0x0d;

/**
 * Splits a byte stream into lines. "\n" ends a line and a "\r" right before it is
 * dropped (CRLF output); a lone "\r" (progress bars) stays in the line. `flush()`
 * returns the unterminated rest as a last line.
 */
export class LineSplitter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  constructor(private readonly maxLineBytes = MAX_LINE_BYTES) {
    if (!Number.isInteger(maxLineBytes) || maxLineBytes < 4) {
      throw new RangeError(`maxLineBytes must be an integer >= 4, got ${maxLineBytes}`);
    }
  }

  /** Feeds a chunk; returns the lines it completed (without their line ending). */
  push(chunk: Buffer | string): Buffer[] {
    const bytes = typeof chunk === "string" ? Buffer.from(chunk, "utf8") : chunk;
    const lines: Buffer[] = [];
    let start = 0;
    for (let nl = bytes.indexOf(LF, start); nl !== -1; nl = bytes.indexOf(LF, start)) {
      this.keep(bytes.subarray(start, nl), lines);
      lines.push(stripCR(this.take()));
      start = nl + 1;
    }
    if (start < bytes.length) this.keep(bytes.subarray(start), lines);
    return lines;
  }

  /**
   * The unterminated rest if a carriage return redrew it (a progress bar waiting for its
   * newline), else undefined. A CR that turns out to be a CRLF's shows briefly: harmless.
   */
  partial(): Buffer | undefined {
    if (!this.pending.some((piece) => piece.includes(CR))) return undefined;
    const rest = this.take();
    this.pending = [rest];
    this.pendingBytes = rest.length;
    return stripCR(rest);
  }

  /** Returns the unterminated rest, if any, as a line. */
  flush(): Buffer[] {
    if (this.pendingBytes === 0) return [];
    return [stripCR(this.take())];
  }

  /** Buffers a piece of the current line, emitting full-size pieces of an overlong line. */
  private keep(piece: Buffer, out: Buffer[]): void {
    if (piece.length === 0) return;
    this.pending.push(piece);
    this.pendingBytes += piece.length;
    // One byte of slack for a trailing CR: it may be the CR of a CRLF, which a cut
    // right before it would turn into an extra empty line.
    while (this.pendingBytes > this.maxLineBytes + (this.endsWithCR() ? 1 : 0)) {
      const all = this.take();
      const cut = utf8Boundary(all, this.maxLineBytes);
      out.push(all.subarray(0, cut));
      const rest = all.subarray(cut);
      this.pending = [rest];
      this.pendingBytes = rest.length;
    }
  }

  private endsWithCR(): boolean {
    const last = this.pending[this.pending.length - 1];
    return last !== undefined && last[last.length - 1] === CR;
  }

  private take(): Buffer {
    const line =
      this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    return line;
  }
}

function stripCR(line: Buffer): Buffer {
  return line.length > 0 && line[line.length - 1] === CR ? line.subarray(0, line.length - 1) : line;
}

/** The largest index <= max that does not split a UTF-8 multi-byte character. */
function utf8Boundary(buf: Buffer, max: number): number {
  let cut = max;
  // Continuation bytes look like 10xxxxxx; a character is at most 4 bytes long.
  while (cut > max - 3 && cut > 0 && ((buf[cut] ?? 0) & 0xc0) === 0x80) cut--;
  return cut;
}

/**
 * Reads `stream` to its end and calls `onLine` for every line, and `onPartial` after a chunk
 * that left a carriage-return-redrawn line unfinished (LineSplitter.partial). Iterating with
 * for-await pulls one chunk at a time, so a slow `onLine` slows the producer
 * (back-pressure) instead of buffering output in memory.
 */
export async function forEachLine(
  stream: Readable,
  onLine: (line: Buffer) => void,
  maxLineBytes = MAX_LINE_BYTES,
  onPartial?: (partial: Buffer) => void,
): Promise<void> {
  const splitter = new LineSplitter(maxLineBytes);
  let handlerFailed = false;
  const emit = (line: Buffer): void => {
    try {
      onLine(line);
    } catch (err) {
      handlerFailed = true;
      throw err;
    }
  };
  try {
    for await (const chunk of stream) {
      for (const line of splitter.push(chunk as Buffer | string)) emit(line);
      const partial = onPartial && splitter.partial();
      if (partial && partial.length > 0) onPartial(partial);
    }
  } finally {
    // What was read before the end (or a stream error) is still output of the step.
    if (!handlerFailed) for (const line of splitter.flush()) emit(line);
  }
}
