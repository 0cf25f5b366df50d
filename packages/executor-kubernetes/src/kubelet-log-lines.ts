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

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    let rest = this.head.length ? Buffer.concat([this.head, chunk]) : chunk;
    this.head = Buffer.alloc(0);
    while (rest.length > 0) {
      if (this.mode === "start") {
        const window = rest.subarray(0, MAX_PREFIX);
        const space = window.indexOf(SPACE);
        const nl = window.indexOf(NL);
        if (space >= 0 && (nl < 0 || space < nl)) {
          const prefixed = TIMESTAMP_PREFIX.test(rest.subarray(0, space + 1).toString("latin1"));
          this.mode = prefixed ? "keep" : "drop";
          if (prefixed) rest = rest.subarray(space + 1);
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
