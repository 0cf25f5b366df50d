import type { LogEntry } from "@wharf/result-store";
import { walkLogBatch } from "@wharf/worker-rpc";
import type { BuildLogSource } from "./build-log-source.js";
import { type LogCut, linesUntilSummary } from "./log-text.js";

/**
 * `GET /api/builds/:buildRef/logs?format=records`: the log as it is now, for the build page to
 * load at once before it follows the rest as events (`?follow=true&after=<last id>`). A
 * 200,000-line log as ~200 `log` events of JSON objects cost the server ~1 s to write and the
 * page ~0.5 s to parse; this body is one string split on "\n" in the browser, one line each:
 *
 *     <logId> TAB <stepId> TAB <timestamp, epoch ms> TAB <message> LF
 *
 * The message is the stored one (SGR sequences kept, `\x0d` for carriage returns) and is last,
 * so a tab in it needs no escaping; a newline cannot be in a stored line, and one from another
 * source is escaped as `\x0a` the same way. The page's reader is `parseRecords` in
 * assets/log-line.js.
 */
export const LOG_RECORDS_CONTENT_TYPE = "text/plain; charset=utf-8";
/** The response's header naming its last line (the summary's), sent before the body. */
export const LOG_RECORDS_LAST_ID_HEADER = "x-wharf-last-log-id";

export function logRecordLine(line: LogEntry): string {
  const message = line.message.includes("\n") ? line.message.replaceAll("\n", "\\x0a") : line.message;
  return `${line.logId}\t${line.stepId}\t${line.timestamp}\t${message}\n`;
}

/** The records up to the summary's last line, a chunk per batch the source gave. */
export function recordsOf(
  source: BuildLogSource,
  upTo: LogCut,
  signal: AbortSignal,
): AsyncIterable<Uint8Array | string> {
  return source.records?.(upTo.buildId, upTo.lastLogId, signal) ?? logRecords(source, upTo, signal);
}

/** The generic way, from the source's LogEntry batches. */
export async function* logRecords(
  source: BuildLogSource,
  summary: LogCut,
  signal: AbortSignal,
): AsyncGenerator<string> {
  for await (const batch of linesUntilSummary(source, summary, signal)) {
    let chunk = "";
    for (const line of batch) chunk += logRecordLine(line);
    if (chunk) yield chunk;
  }
}

/** Most a record adds to its message: 16 + 10 + 24 characters of ids and time, 3 tabs and LF. */
const RECORD_OVERHEAD = 54;
const LF = 0x0a;
const TAB = 0x09;
const ZERO = 0x30;
/** Below this, integers' digits come from int32 arithmetic. */
const SMALL = 2 ** 31;
const LOW_DIGITS = 8;
const LOW_PART = 10 ** LOW_DIGITS;

/**
 * Writes an integer in decimal at `pos`; returns the position after it. Per line, a template
 * string written with `Buffer.write` cost more than the rest of the copy. Times (13 digits) are
 * written as two parts small enough for integer arithmetic. (A time before 1970 is the only
 * negative number a worker could send: written the slow way, as is anything odd.)
 */
function writeDecimal(out: Buffer, pos: number, n: number): number {
  if (n >= 0 && n < SMALL && n % 1 === 0) return writeSmall(out, pos, n);
  if (!(n >= 0 && Number.isSafeInteger(n))) return pos + out.write(String(n), pos, "latin1");
  const high = Math.floor(n / LOW_PART);
  let low = n - high * LOW_PART;
  const at = writeSmall(out, pos, high);
  for (let i = at + LOW_DIGITS - 1; i >= at; i--) {
    out[i] = ZERO + (low % 10);
    low = (low / 10) | 0;
  }
  return at + LOW_DIGITS;
}

function writeSmall(out: Buffer, pos: number, n: number): number {
  let digits = 1;
  for (let x = n; x >= 10; x = (x / 10) | 0) digits++;
  for (let i = pos + digits - 1, x = n; i >= pos; i--, x = (x / 10) | 0) out[i] = ZERO + (x % 10);
  return pos + digits;
}

/**
 * One serialized `wharf.worker.v1.StreamLogBatchesResponse` as records, its messages' UTF-8 bytes
 * copied as they are: no string or object per line (decoding the worker's messages was most of
 * what a big log cost the server). Lines after `untilLogId` are left out; `lastLogId` is the
 * last one written (0: none). A message holding a newline, which a worker's store never keeps,
 * is escaped as the generic path does.
 */
export function recordsFromLogBatch(
  buf: Buffer,
  untilLogId: number,
): { bytes: Buffer; lastLogId: number; done: boolean } {
  // Records are about as long as the wire bytes (a line's framing there, ~20 bytes, against its
  // numbers as text here, ~25), so a quarter more is usually enough, and it grows when not
  // (twice the batch for each one cost the garbage collector more than the copy).
  let out = Buffer.allocUnsafe(buf.length + (buf.length >> 2) + RECORD_OVERHEAD * 16);
  let pos = 0;
  let lastLogId = 0;
  let done = false;
  walkLogBatch(buf, (l) => {
    if (l.logId > untilLogId) {
      done = true;
      return false;
    }
    // The bytes are copied from the batch as they are, without a Buffer per line (a subarray
    // each cost as much as the copy). The LF search usually stops at the next line's tag (0x0a).
    let message = buf;
    let start = l.messageStart;
    let end = l.messageEnd;
    const lf = buf.indexOf(LF, start);
    if (lf !== -1 && lf < end) {
      message = Buffer.from(buf.toString("utf8", start, end).replaceAll("\n", "\\x0a"));
      start = 0;
      end = message.length;
    }
    if (pos + RECORD_OVERHEAD + end - start > out.length) {
      const bigger = Buffer.allocUnsafe(2 * (pos + RECORD_OVERHEAD + end - start));
      out.copy(bigger, 0, 0, pos);
      out = bigger;
    }
    pos = writeDecimal(out, pos, l.logId);
    out[pos++] = TAB;
    pos = writeDecimal(out, pos, l.stepId);
    out[pos++] = TAB;
    pos = writeDecimal(out, pos, l.timestamp);
    out[pos++] = TAB;
    pos += message.copy(out, pos, start, end);
    out[pos++] = LF;
    lastLogId = l.logId;
    done = l.logId >= untilLogId;
    return !done;
  });
  return { bytes: out.subarray(0, pos), lastLogId, done };
}
