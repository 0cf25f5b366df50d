import { PassThrough } from "node:stream";
import { exitCodeForSignal, type StepProcess } from "@wharf/executor";

export interface TaskIO {
  stdout: PassThrough;
  stderr: PassThrough;
  /** Aborted by `stop`: the task should give up its engine calls. */
  signal: AbortSignal;
}

/**
 * A step that is work done through the engine API (an image build) rather than a process
 * of its own. The task resolves with the exit code; a thrown error becomes exit code 1
 * with its message on stderr, a stop exit code 143 as for a SIGTERMed process.
 */
export class TaskStepProcess implements StepProcess {
  readonly stdout = new PassThrough();
  readonly stderr = new PassThrough();
  private readonly abort = new AbortController();
  private readonly result: Promise<number>;

  /** `cancel` (the build's signal) stops the task like `stop` does. */
  constructor(task: (io: TaskIO) => Promise<number>, cancel?: AbortSignal) {
    if (cancel?.aborted) this.abort.abort();
    else cancel?.addEventListener("abort", () => this.abort.abort(), { once: true });
    this.result = task({ stdout: this.stdout, stderr: this.stderr, signal: this.abort.signal })
      .catch((err: unknown) => {
        if (this.abort.signal.aborted) return exitCodeForSignal("SIGTERM");
        this.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
        return 1;
      })
      .then((code) => (this.abort.signal.aborted && code === 0 ? exitCodeForSignal("SIGTERM") : code))
      .finally(() => {
        this.stdout.end();
        this.stderr.end();
      });
  }

  wait(): Promise<number> {
    return this.result;
  }

  /** Aborting the engine calls is immediate, so there is nothing to be graceful about. */
  async stop(_graceMs: number): Promise<void> {
    this.abort.abort();
    await this.result;
  }

  async destroy(): Promise<void> {
    await this.stop(0);
  }
}
