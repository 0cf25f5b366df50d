import type { BuildSummary, LogEntry } from "@wharf/result-store";
import { walkLogBatch } from "@wharf/worker-rpc";
import type { BuildLogSource } from "./build-log-source.js";
import { linesUntilSummary } from "./log-text.js";

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
  upTo: Pick<BuildSummary, "buildRef" | "lastLogId">,
  signal: AbortSignal,
): AsyncIterable<Uint8Array | string> {
  return source.records?.(upTo.buildRef, upTo.lastLogId, signal) ?? logRecords(source, upTo, signal);
}

/** The generic way, from the source's LogEntry batches. */
export async function* logRecords(
  source: BuildLogSource,
  summary: Pick<BuildSummary, "buildRef" | "lastLogId">,
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
  // Records are the messages plus a bounded overhead per line; a line's wire bytes are at least
  // its message plus 2, so this is usually enough, and it grows when not.
  let out = Buffer.allocUnsafe(buf.length * 2 + RECORD_OVERHEAD * 16);
  let pos = 0;
  let lastLogId = 0;
  let done = false;
  walkLogBatch(buf, (l) => {
    if (l.logId > untilLogId) {
      done = true;
      return false;
    }
    let message: Buffer = buf.subarray(l.messageStart, l.messageEnd);
    if (message.includes(LF)) message = Buffer.from(message.toString("utf8").replaceAll("\n", "\\x0a"));
    if (pos + RECORD_OVERHEAD + message.length > out.length) {
      const bigger = Buffer.allocUnsafe(2 * (pos + RECORD_OVERHEAD + message.length));
      out.copy(bigger, 0, 0, pos);
      out = bigger;
    }
    pos += out.write(`${l.logId}\t${l.stepId}\t${l.timestamp}\t`, pos, "latin1");
    pos += message.copy(out, pos);
    out[pos++] = LF;
    lastLogId = l.logId;
    done = l.logId >= untilLogId;
    return !done;
  });
  return { bytes: out.subarray(0, pos), lastLogId, done };
}
