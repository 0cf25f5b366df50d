/**
 * Where the engine writes everything a build produces. The result store
 * (`@wharf/result-store`) implements exactly these members; tests use `MemoryRecorder`.
 * Every call may happen while other steps of the same stage are running, so
 * implementations must accept interleaved calls for different step ids.
 */

/** Status of one step; stepId 0 in status events is the build itself. */
export type StepStatus =
  | "PENDING"
  | "SCHEDULING"
  | "INITIALIZING"
  | "RUNNING"
  | "SUCCESS"
  | "FAILED"
  | "CANCELLED";

export type TerminalStatus = Extract<StepStatus, "SUCCESS" | "FAILED" | "CANCELLED">;

/** The step id status events and log lines about the build as a whole use. */
export const BUILD_STEP_ID = 0;

export interface BuildRecorder {
  /** Appends one log line (no trailing newline) of a step; returns its log id. */
  appendLog(stepId: number, message: string | Buffer, timestamp?: number): number;
  /** Appends one status event of a step (or of the build for stepId 0); returns its event id. */
  appendStatus(stepId: number, status: StepStatus, timestamp?: number): number;
  /** Copies the file at `sourcePath` into the store as an artifact of the step named `name`. */
  addArtifact(stepId: number, name: string, sourcePath: string): Promise<unknown>;
  /** Declares the steps of the build once, before any event. */
  setSteps(steps: { stepId: number; stage: string; name: string }[]): void;
  /** Records how a step ended, once, when it reached its terminal status. */
  recordStepResult(stepId: number, r: { exitCode: number | null; attempts: number }): void;
  /**
   * Masks these values (as `***`) in every line appended from now on, of any step. The engine
   * calls it with a started step's `StepProcess.secrets` before it records any output of it.
   */
  addSecrets(values: readonly string[]): void;
  /**
   * Optional: the step's unfinished line, output after its last newline that a carriage return
   * redrew (a progress bar), for live viewers. Not a log line: the line it ends as is appended
   * as usual (and replaces it). Called as it changes, at most once per chunk of output read.
   */
  setProgress?(stepId: number, partial: Buffer): void;
}

export function isTerminal(status: StepStatus): status is TerminalStatus {
  return status === "SUCCESS" || status === "FAILED" || status === "CANCELLED";
}
