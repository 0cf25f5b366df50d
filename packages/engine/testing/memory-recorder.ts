import { readFile } from "node:fs/promises";
import { BUILD_STEP_ID, type BuildRecorder, type StepStatus } from "../src/recorder.js";

/** `seq` orders logs, statuses and artifacts against each other. */
export interface RecordedLog {
  seq: number;
  logId: number;
  stepId: number;
  /** The message as text (UTF-8 decoded when a Buffer was appended). */
  message: string;
  timestamp: number;
}

export interface RecordedStatus {
  seq: number;
  eventId: number;
  stepId: number;
  status: StepStatus;
  timestamp: number;
}

export interface RecordedArtifact {
  seq: number;
  stepId: number;
  name: string;
  /** The file's content, read when it was added (the engine removes its copy afterwards). */
  content: Buffer;
}

/** For tests: a `BuildRecorder` that keeps everything in arrays. */
export class MemoryRecorder implements BuildRecorder {
  readonly logs: RecordedLog[] = [];
  readonly statuses: RecordedStatus[] = [];
  readonly artifacts: RecordedArtifact[] = [];
  readonly results = new Map<number, { exitCode: number | null; attempts: number }>();
  steps: { stepId: number; stage: string; name: string }[] = [];
  /** Every value given to `addSecrets`, in order; masked as `***` in lines appended after. */
  readonly secrets: string[] = [];
  /** Every `setProgress`, in order, as text. */
  readonly progress: { stepId: number; partial: string }[] = [];
  private seq = 0;

  setProgress(stepId: number, partial: Buffer): void {
    this.progress.push({ stepId, partial: partial.toString("utf8") });
  }

  appendLog(stepId: number, message: string | Buffer, timestamp = Date.now()): number {
    const logId = this.logs.length + 1;
    let text = typeof message === "string" ? message : message.toString("utf8");
    // Longest first, so a secret containing another is masked whole (as the result store does).
    for (const secret of [...this.secrets].sort((a, b) => b.length - a.length))
      text = text.split(secret).join("***");
    this.logs.push({ seq: ++this.seq, logId, stepId, message: text, timestamp });
    return logId;
  }

  appendStatus(stepId: number, status: StepStatus, timestamp = Date.now()): number {
    const eventId = this.statuses.length + 1;
    this.statuses.push({ seq: ++this.seq, eventId, stepId, status, timestamp });
    return eventId;
  }

  async addArtifact(stepId: number, name: string, sourcePath: string): Promise<unknown> {
    const content = await readFile(sourcePath);
    this.artifacts.push({ seq: ++this.seq, stepId, name, content });
    return { name, size: content.length };
  }

  setSteps(steps: { stepId: number; stage: string; name: string }[]): void {
    this.steps = steps.map((s) => ({ ...s }));
  }

  addSecrets(values: readonly string[]): void {
    this.secrets.push(...values.filter((v) => v !== ""));
  }

  recordStepResult(stepId: number, r: { exitCode: number | null; attempts: number }): void {
    if (this.results.has(stepId)) throw new Error(`step ${stepId}: result recorded twice`);
    this.results.set(stepId, { ...r });
  }

  /** The log lines of one step, in order. */
  logsOf(stepId: number): string[] {
    return this.logs.filter((l) => l.stepId === stepId).map((l) => l.message);
  }

  /** The statuses of one step (or the build, stepId 0), in order. */
  statusesOf(stepId: number): StepStatus[] {
    return this.statuses.filter((s) => s.stepId === stepId).map((s) => s.status);
  }

  buildStatuses(): StepStatus[] {
    return this.statusesOf(BUILD_STEP_ID);
  }

  /** The `seq` of a step's first event with `status`, or undefined. */
  seqOf(stepId: number, status: StepStatus): number | undefined {
    return this.statuses.find((s) => s.stepId === stepId && s.status === status)?.seq;
  }
}
