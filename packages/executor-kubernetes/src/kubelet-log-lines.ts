import { Transform, type TransformCallback } from "node:stream";

/**
 * The container runtime's timestamp the kubelet puts before each line with `timestamps=true`:
 * RFC3339 (the kubelet writes 9 fraction digits, `2006-01-02T15:04:05.000000000Z07:00`) and a space.
 */
const TIMESTAMP_PREFIX = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:\d\d) $/;
/** The longest such prefix, with its space. */
const MAX_PREFIX = "2006-01-02T15:04:05.000000000+07:00 ".length;
const NL = 0x0a;
const SPACE = 0x20;

/**
 * Reads a container log body the kubelet serves with `timestamps=true` and passes on only
 * what the container printed: lines that start with the runtime's timestamp, without it.
 * Anything else is the kubelet's own text, written into a body it had already answered 200
 * (`rpc error: code = NotFound desc = … not found` when the container was removed while
 * followed, `unable to retrieve container logs for …`), and is dropped, not passed off as
 * the step's output. Streams: a line is passed on as it arrives, not held until its newline.
 *
 * Each line's timestamp is dropped: `StepProcess` carries raw output, not timed lines.
 * Known gap: kubelets before the partial-line fix (e.g. 1.20) also prefix each continuation
 * of a line longer than the runtime's 16 KiB entry; that inner timestamp stays in the text.
 */
export class KubeletLogLines extends Transform {
  /** The undecided start of a line (shorter than a timestamp prefix). */
  private head = Buffer.alloc(0);
  private mode: "start" | "keep" | "drop" = "start";
  /** The timestamp of the last line passed on (without its space). */
  lastTimestamp?: string;

  /** `after`: drop the lines stamped at or before this time (resuming a follow that broke). */
  constructor(private readonly after?: string) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    let rest = this.head.length ? Buffer.concat([this.head, chunk]) : chunk;
    this.head = Buffer.alloc(0);
    while (rest.length > 0) {
      if (this.mode === "start") {
        const window = rest.subarray(0, MAX_PREFIX);
        const space = window.indexOf(SPACE);
        const nl = window.indexOf(NL);
        if (space >= 0 && (nl < 0 || space < nl)) {
          const prefix = rest.subarray(0, space + 1).toString("latin1");
          const stamped = TIMESTAMP_PREFIX.test(prefix);
          const time = prefix.slice(0, -1);
          const keep = stamped && (this.after === undefined || compareTimestamps(time, this.after) > 0);
          this.mode = keep ? "keep" : "drop";
          if (keep) this.lastTimestamp = time;
          if (stamped) rest = rest.subarray(space + 1);
        } else if (nl >= 0 || window.length >= MAX_PREFIX) {
          this.mode = "drop";
        } else {
          this.head = Buffer.from(rest);
          break;
        }
        continue;
      }
      const nl = rest.indexOf(NL);
      const line = nl >= 0 ? rest.subarray(0, nl + 1) : rest;
      if (this.mode === "keep") this.push(line);
      if (nl >= 0) this.mode = "start";
      rest = rest.subarray(line.length);
    }
    cb();
  }
}

/** A timestamp as sortable text: UTC seconds since the epoch and 9 fraction digits. */
function timestampKey(ts: string): string {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/.exec(ts);
  if (!m) return ts;
  const seconds = Date.parse(`${m[1]}${m[3]}`) / 1000;
  return `${String(seconds).padStart(14, "0")}.${(m[2] ?? "").padEnd(9, "0")}`;
}

/** Orders two kubelet timestamps (RFC3339, any offset, up to nanoseconds). */
export function compareTimestamps(a: string, b: string): number {
  const ka = timestampKey(a);
  const kb = timestampKey(b);
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}
