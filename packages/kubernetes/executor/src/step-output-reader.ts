import { Writable } from "node:stream";
import { finished } from "node:stream/promises";
import type { KubeConfig } from "@kubernetes/client-node";
import {
  endStepOutputCommand,
  READER_IDLE_EXIT_CODE,
  readStepOutputCommand,
  WORKSPACE_CONTAINER,
} from "@wharf/kube-manifests";
import type { KubeApiCalls } from "./kube-api.js";
import { execInPod, PodExecAbortedError, PodExecError } from "./pod-exec.js";

export interface StepOutputSource {
  namespace: string;
  /** The build's workspace pod: it mounts the claim the step's output is captured on. */
  workspacePod: string;
  /** The step start's output files (kube-manifests' stepOutputKey). */
  key: string;
}

/** How long the reader may still take once the step's end is marked, before it is given up. */
const FINISH_AFTER_COMPLETE_MS = 30_000;
/** Attempts of the idempotent exit-marker write. */
const COMPLETE_ATTEMPTS = 5;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * One connection's sink for one stream: counts every byte as it arrives (the offset to
 * resume from) and passes it on to `target` with its back-pressure, never ending it.
 */
function forwardTo(target: Writable, counter: { bytes: number }): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, done) {
      counter.bytes += chunk.length;
      if (target.writableEnded || target.destroyed || target.write(chunk)) return done();
      const release = () => {
        target.off("drain", release).off("close", release).off("finish", release);
        done();
      };
      target.on("drain", release).on("close", release).on("finish", release);
    },
  });
}

/**
 * Reads a step pod's captured stdout and stderr (see kube-manifests' step-output.ts) into
 * two streams through `pods/exec` in the workspace pod. When the reading connection breaks
 * (API server restart, connection reset, a dropped exec) it is opened again at the byte
 * offsets received so far, so nothing is lost or repeated; it gives up only after
 * `calls.policy.attempts` failures in a row without a byte received between them.
 *
 * The reader ends once the step's exit file exists; call `complete()` when the step's
 * container is known to have ended, so a container that died without writing it (killed,
 * deleted) still ends its output. A reader left behind in the workspace pod (this side went
 * away) exits by itself after an idle while.
 */
export class StepOutputReader {
  private readonly abort = new AbortController();
  private readonly received = { stdout: { bytes: 0 }, stderr: { bytes: 0 } };
  private completed?: Promise<void>;

  constructor(
    private readonly kc: KubeConfig,
    private readonly calls: KubeApiCalls,
    private readonly source: StepOutputSource,
    private readonly stdout: Writable,
    private readonly stderr: Writable,
  ) {}

  private get target() {
    return {
      namespace: this.source.namespace,
      pod: this.source.workspacePod,
      container: WORKSPACE_CONTAINER,
    };
  }

  private get total(): number {
    return this.received.stdout.bytes + this.received.stderr.bytes;
  }

  /** Reads until the output is complete, then ends both streams; never rejects. */
  async run(): Promise<void> {
    let failures = 0;
    let backoff = this.calls.policy.backoffMs;
    for (;;) {
      const before = this.total;
      try {
        await this.readOnce();
        break;
      } catch (err) {
        if (err instanceof PodExecAbortedError || this.abort.signal.aborted) return;
        // The reader stopped itself after an idle while: a quiet step, not a failure.
        if (err instanceof PodExecError && err.exitCode === READER_IDLE_EXIT_CODE) continue;
        const progressed = this.total > before;
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
    const offsets = { stdout: this.received.stdout.bytes, stderr: this.received.stderr.bytes };
    // Fresh per-connection sinks: client-node ends the streams it was given when the command ends.
    const out = forwardTo(this.stdout, this.received.stdout);
    const err = forwardTo(this.stderr, this.received.stderr);
    try {
      await execInPod(this.kc, this.calls, this.target, readStepOutputCommand(this.source.key, offsets), {
        stdout: out,
        stderr: err,
        signal: this.abort.signal,
      });
    } finally {
      // The command's Status can come while the last chunks still wait on back-pressure:
      // hand them all on before the streams are ended or the reader is opened again.
      if (!out.writableEnded) out.end();
      if (!err.writableEnded) err.end();
      await Promise.all([finished(out).catch(() => {}), finished(err).catch(() => {})]);
    }
  }

  /**
   * The step's container has ended: writes its exit file if the container could not, so the
   * reader reads what is left and stops. The write is retried (it is idempotent); if the
   * reader is still not done FINISH_AFTER_COMPLETE_MS later, it is given up with a note.
   * Idempotent.
   */
  complete(reading: Promise<void>): Promise<void> {
    this.completed ??= (async () => {
      for (let attempt = 1; attempt <= COMPLETE_ATTEMPTS && !this.abort.signal.aborted; attempt++) {
        try {
          await execInPod(this.kc, this.calls, this.target, endStepOutputCommand(this.source.key), {
            signal: this.abort.signal,
          });
          break;
        } catch {
          // The workspace pod may be gone (the build is being destroyed): the reader fails too.
          await sleep(this.calls.policy.backoffMs * attempt);
        }
      }
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<"late">((r) => {
        timer = setTimeout(() => r("late"), FINISH_AFTER_COMPLETE_MS);
      });
      const outcome = await Promise.race([reading, late]);
      clearTimeout(timer);
      if (outcome === "late" && !this.abort.signal.aborted) {
        this.stop();
        if (!this.stdout.writableEnded) {
          this.stdout.end(
            `[wharf] the step's output did not end ${FINISH_AFTER_COMPLETE_MS / 1000} s after the step did\n`,
          );
        }
        if (!this.stderr.writableEnded) this.stderr.end();
      }
    })();
    return this.completed;
  }

  /** Stops reading at once, leaving both streams as they are. */
  stop(): void {
    this.abort.abort();
  }
}
