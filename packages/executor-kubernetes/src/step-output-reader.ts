import { Writable } from "node:stream";
import type { KubeConfig } from "@kubernetes/client-node";
import { endStepOutputCommand, readStepOutputCommand, WORKSPACE_CONTAINER } from "@wharf/kube-manifests";
import type { KubeApiCalls } from "./kube-api.js";
import { execInPod, PodExecAbortedError } from "./pod-exec.js";

export interface StepOutputSource {
  namespace: string;
  /** The build's workspace pod: it mounts the claim the step's output is captured on. */
  workspacePod: string;
  /** The step start's output files (kube-manifests' stepOutputKey). */
  key: string;
}

/** Passes bytes on to `target` (never ending it) and counts them: the offset to resume from. */
class CountingSink extends Writable {
  bytes = 0;
  constructor(private readonly target: Writable) {
    super();
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error) => void): void {
    this.bytes += chunk.length;
    if (this.target.writableEnded || this.target.write(chunk)) done();
    else this.target.once("drain", () => done());
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Reads a step pod's captured stdout and stderr (see kube-manifests' step-output.ts) into
 * two streams through `pods/exec` in the workspace pod. When the reading connection breaks
 * (API server restart, connection reset, a dropped exec) it is opened again at the byte
 * offsets received so far, so nothing is lost or repeated; it gives up only after
 * `calls.policy.attempts` failures in a row without a byte received between them.
 *
 * The reader ends once the step's exit file exists; call `complete()` when the step's
 * container is known to have ended, so a container that died without writing it (killed,
 * deleted) still ends its output.
 */
export class StepOutputReader {
  private readonly abort = new AbortController();
  private readonly stdoutCount: CountingSink;
  private readonly stderrCount: CountingSink;
  private completed?: Promise<void>;

  constructor(
    private readonly kc: KubeConfig,
    private readonly calls: KubeApiCalls,
    private readonly source: StepOutputSource,
    private readonly stdout: Writable,
    private readonly stderr: Writable,
  ) {
    this.stdoutCount = new CountingSink(stdout);
    this.stderrCount = new CountingSink(stderr);
  }

  private get target() {
    return {
      namespace: this.source.namespace,
      pod: this.source.workspacePod,
      container: WORKSPACE_CONTAINER,
    };
  }

  /** Reads until the output is complete, then ends both streams; never rejects. */
  async run(): Promise<void> {
    let failures = 0;
    let backoff = this.calls.policy.backoffMs;
    for (;;) {
      const received = this.stdoutCount.bytes + this.stderrCount.bytes;
      try {
        await this.readOnce();
        break;
      } catch (err) {
        if (err instanceof PodExecAbortedError || this.abort.signal.aborted) return;
        const progressed = this.stdoutCount.bytes + this.stderrCount.bytes > received;
        failures = progressed ? 1 : failures + 1;
        if (failures >= this.calls.policy.attempts) {
          this.stdout.write(`[wharf] reading the step's output failed: ${(err as Error).message}\n`);
          break;
        }
        await sleep(backoff);
        backoff = progressed
          ? this.calls.policy.backoffMs
          : Math.min(this.calls.policy.maxBackoffMs, backoff * 2);
      }
    }
    this.stdout.end();
    this.stderr.end();
  }

  private async readOnce(): Promise<void> {
    const offsets = { stdout: this.stdoutCount.bytes, stderr: this.stderrCount.bytes };
    // Fresh per-connection sinks: client-node ends the streams it was given when the command ends.
    const out = new Writable({ write: (chunk, enc, cb) => this.stdoutCount.write(chunk, enc, cb) });
    const err = new Writable({ write: (chunk, enc, cb) => this.stderrCount.write(chunk, enc, cb) });
    await execInPod(this.kc, this.calls, this.target, readStepOutputCommand(this.source.key, offsets), {
      stdout: out,
      stderr: err,
      signal: this.abort.signal,
    });
  }

  /**
   * The step's container has ended: writes its exit file if the container could not, so the
   * reader reads what is left and stops. Idempotent.
   */
  complete(): Promise<void> {
    this.completed ??= execInPod(this.kc, this.calls, this.target, endStepOutputCommand(this.source.key), {
      signal: this.abort.signal,
    }).catch(() => {
      // The workspace pod is gone (the build is being destroyed): the reader fails and ends too.
    });
    return this.completed;
  }

  /** Stops reading at once, leaving both streams as they are. */
  stop(): void {
    this.abort.abort();
  }
}
