import { stripVTControlCharacters, styleText } from "node:util";
import type { LogEntry, ProgressLine, StatusEvent, StepStatus, StepSummary } from "@wharf/result-store";
import type { ViewerSummary } from "../log-events.js";
import { stepLabel } from "../log-text.js";
import { progressText } from "../progress-line.js";

type Colour = Parameters<typeof styleText>[0];
const STEP_COLOURS: Colour[] = ["cyan", "green", "yellow", "magenta", "blue", "red"];
const STATUS_COLOURS: Record<StepStatus, Colour> = {
  PENDING: "gray",
  SCHEDULING: "blue",
  INITIALIZING: "blue",
  RUNNING: "blue",
  SUCCESS: "green",
  FAILED: "red",
  CANCELLED: "yellow",
};

export interface LogPrinterOptions {
  out: NodeJS.WritableStream;
  /** Where the live status line goes; only drawn when it is a TTY. */
  err: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  colour: boolean;
  /** Draw the live status line (following on a terminal). */
  statusLine: boolean;
  /** Start each line with its time (ISO 8601, UTC). */
  timestamps?: boolean;
}

/**
 * Prints log lines as `stage/step │ message` with a colour per step, and keeps a status line
 * (build status, steps done, lines) at the bottom of the terminal while following: it is erased
 * before lines are written and drawn again after, so it never mixes into the log.
 */
export class LogPrinter {
  /** Only lines of these steps (undefined = all). */
  stepIds: ReadonlySet<number> | undefined;
  private steps: StepSummary[] = [];
  private width = 0;
  private buildStatus: StepStatus = "PENDING";
  private lastLogId = 0;
  private note = "";
  private drawn = false;
  /** The latest unfinished progress line of a shown step, drawn in the status line until it ends. */
  private live: ProgressLine | undefined;
  private readonly lastByStep = new Map<number, number>();

  constructor(private readonly o: LogPrinterOptions) {}

  private paint(colour: Colour, text: string): string {
    return this.o.colour ? styleText(colour, text) : text;
  }

  summary(s: ViewerSummary): void {
    this.steps = s.steps.map((step) => ({ ...step }));
    this.width = Math.min(
      30,
      Math.max(5, ...this.steps.map((step) => stepLabel(this.steps, step.stepId).length)),
    );
    this.buildStatus = s.status;
    this.note = "";
    this.redraw();
  }

  lines(lines: LogEntry[]): void {
    let text = "";
    for (const line of lines) {
      this.lastLogId = line.logId;
      this.lastByStep.set(line.stepId, line.logId);
      if (this.live?.stepId === line.stepId && line.logId > this.live.afterLogId) this.live = undefined;
      if (this.stepIds && !this.stepIds.has(line.stepId)) continue;
      const label = stepLabel(this.steps, line.stepId).padEnd(this.width).slice(0, this.width);
      const prefix = this.paint(STEP_COLOURS[line.stepId % STEP_COLOURS.length]!, label);
      // A progress bar prints as its last state, as it ended up on the step's terminal.
      const shown = progressText(line.message).text;
      const message = this.o.colour ? shown : stripVTControlCharacters(shown);
      const time = this.o.timestamps ? `${this.paint("gray", new Date(line.timestamp).toISOString())} ` : "";
      text += `${time}${prefix} ${this.paint("gray", "│")} ${message}${this.o.colour ? "\x1b[0m" : ""}\n`;
    }
    this.note = "";
    if (text) this.write(text);
    else this.redraw();
  }

  /**
   * A progress bar before its newline: shown live at the front of the status line (a terminal
   * only; a pipe gets the bar once, as its finished line). The step's next line ends it.
   */
  progress(p: ProgressLine): void {
    if (this.stepIds && !this.stepIds.has(p.stepId)) return;
    if (p.message !== "" && p.afterLogId >= this.lastLogIdOf(p.stepId)) this.live = p;
    else if (this.live?.stepId === p.stepId) this.live = undefined;
    this.redraw();
  }

  private lastLogIdOf(stepId: number): number {
    return this.lastByStep.get(stepId) ?? 0;
  }

  status(e: StatusEvent): void {
    if (e.stepId === 0) this.buildStatus = e.status;
    const step = this.steps.find((s) => s.stepId === e.stepId);
    if (step) step.status = e.status;
    this.redraw();
  }

  reconnecting(reason: string): void {
    this.note = `reconnecting (${reason})`;
    this.redraw();
  }

  /** Erases the status line for good. */
  clear(): void {
    this.erase();
    this.note = "";
  }

  private write(text: string): void {
    this.erase();
    this.o.out.write(text);
    this.redraw();
  }

  private erase(): void {
    if (this.drawn) this.o.err.write("\r\x1b[2K");
    this.drawn = false;
  }

  private redraw(): void {
    if (!this.o.statusLine || !this.o.err.isTTY) return;
    const done = this.steps.filter(
      (s) => s.status === "SUCCESS" || s.status === "FAILED" || s.status === "CANCELLED",
    );
    const running = this.steps.filter((s) => s.status === "RUNNING").map((s) => s.name);
    let line = `${this.buildStatus.toLowerCase()} · ${done.length}/${this.steps.length} steps done`;
    if (this.live) {
      const text = stripVTControlCharacters(progressText(this.live.message).text).trim();
      line = `${stepLabel(this.steps, this.live.stepId)} │ ${text} ⟳ · ${line}`;
    }
    if (running.length > 0) line += ` · running ${running.join(", ")}`;
    line += ` · ${this.lastLogId} lines`;
    if (this.note) line += ` · ${this.note}`;
    const max = (this.o.err.columns ?? 80) - 1;
    if (line.length > max) line = `${line.slice(0, max - 1)}…`;
    this.erase();
    this.o.err.write(this.paint(STATUS_COLOURS[this.buildStatus], line));
    this.drawn = true;
  }
}

/** The coloured status word for `wharf status` and the final line of `wharf logs`. */
export function paintStatus(status: StepStatus, colour: boolean): string {
  return colour ? styleText(STATUS_COLOURS[status], status) : status;
}
