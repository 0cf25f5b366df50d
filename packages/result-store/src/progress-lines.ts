import { ChangeSignal } from "./change-signal.js";

/**
 * A step's unfinished line that a carriage return redrew (a progress bar before its newline), as
 * live viewers show it. Not a log line and not kept on disk: once the step's next line is
 * appended (the bar's final state, or anything after it) `message` is "" and viewers drop it.
 */
export interface ProgressLine {
  stepId: number;
  /** The step's unfinished line comes after this log line (the build's last when it was set). */
  afterLogId: number;
  /** epoch ms */
  timestamp: number;
  /** Encoded like a stored line (masked, control characters escaped); "" = none any more. */
  message: string;
}

/**
 * The latest progress line of each step, in memory. Followers see the current ones first, then
 * each change; one that falls behind skips to the latest state of a step (a progress bar's
 * intermediate states are not worth a queue).
 */
export class ProgressLines {
  private readonly byStep = new Map<number, { line: ProgressLine; version: number }>();
  private readonly changed = new ChangeSignal();
  private version = 0;
  private ended = false;

  set(line: ProgressLine): void {
    if (this.ended) return;
    this.byStep.set(line.stepId, { line, version: ++this.version });
    this.changed.notify();
  }

  /** The step wrote a line: its progress line, if it showed one, is over. */
  lineAppended(stepId: number, logId: number, timestamp: number): void {
    const current = this.byStep.get(stepId);
    if (current && current.line.message !== "")
      this.set({ stepId, afterLogId: logId, timestamp, message: "" });
  }

  /** The build is over: followers end. */
  end(): void {
    this.ended = true;
    this.changed.notify();
  }

  async *follow(signal?: AbortSignal): AsyncIterable<ProgressLine> {
    const seen = new Map<number, number>();
    while (!signal?.aborted) {
      let sent = false;
      for (const [stepId, { line, version }] of this.byStep) {
        if ((seen.get(stepId) ?? 0) >= version) continue;
        seen.set(stepId, version);
        sent = true;
        yield line;
      }
      if (this.ended) return;
      if (!sent) await this.changed.wait(signal);
    }
  }
}
