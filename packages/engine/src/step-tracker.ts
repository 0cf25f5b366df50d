import type { PlanStep } from "@wharf/executor";
import { type BuildRecorder, isTerminal, type StepStatus, type TerminalStatus } from "./recorder.js";

const RANK: Record<StepStatus, number> = {
  PENDING: 0,
  SCHEDULING: 1,
  INITIALIZING: 2,
  RUNNING: 3,
  SUCCESS: 4,
  FAILED: 4,
  CANCELLED: 4,
};

/**
 * The status of one step. Moves only forward through
 * PENDING → SCHEDULING → INITIALIZING → RUNNING → SUCCESS|FAILED|CANCELLED (states may
 * be skipped, e.g. PENDING → CANCELLED) and records each move as a status event, so a
 * step can never go back or end twice however its timeout, cancel and exit race.
 */
export class StepTracker {
  private current: StepStatus = "PENDING";

  constructor(
    readonly step: PlanStep,
    private readonly recorder: BuildRecorder,
    /** Called before each status event is recorded (the build uses it to go RUNNING first). */
    private readonly beforeStatus: (tracker: StepTracker, status: StepStatus) => void = () => {},
  ) {}

  get status(): StepStatus {
    return this.current;
  }

  /** Records the initial PENDING event. */
  announce(): void {
    this.beforeStatus(this, "PENDING");
    this.recorder.appendStatus(this.step.id, "PENDING");
  }

  /** Moves to `next` if that is forward; returns whether it moved. */
  advance(next: Exclude<StepStatus, TerminalStatus | "PENDING">): boolean {
    if (isTerminal(this.current) || RANK[next] <= RANK[this.current]) return false;
    this.move(next);
    return true;
  }

  /** Ends the step with `status` and its result; a second call is a bug and throws. */
  finish(status: TerminalStatus, result: { exitCode: number | null; attempts: number }): void {
    if (isTerminal(this.current)) {
      throw new Error(`step ${this.step.id} already ended ${this.current}, cannot end ${status}`);
    }
    // The result first: whoever sees the terminal event can then read the exit code.
    this.recorder.recordStepResult(this.step.id, result);
    this.move(status);
  }

  /** Appends a line to the step's log. */
  /** The step's unfinished, redrawn line (see BuildRecorder.setProgress). */
  progress(partial: Buffer): void {
    this.recorder.setProgress?.(this.step.id, partial);
  }

  log(message: string | Buffer): void {
    this.recorder.appendLog(this.step.id, message);
  }

  private move(status: StepStatus): void {
    this.beforeStatus(this, status);
    this.current = status;
    this.recorder.appendStatus(this.step.id, status);
  }
}
