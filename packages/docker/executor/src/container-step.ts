import { type Duplex, PassThrough } from "node:stream";
import type { StepProcess } from "@wharf/executor";
import type Docker from "dockerode";
import { GO_LINE } from "./container-spec.js";
import { DockerStreamDemuxer } from "./docker-stream-demuxer.js";
import { attachStdin } from "./stdin-attach.js";

/** The exit code of a container killed by SIGKILL (128 + 9), as engines report it. */
const KILLED_EXIT_CODE = 137;
/** How long the attach connection may stay open after the engine reported the exit code. */
const OUTPUT_DRAIN_MS = 10_000;

/** Engine answers that mean "already done": 304 not modified (already stopped), 404 gone, 409 removal in progress. */
export function isAlreadyDone(err: unknown): boolean {
  const code = (err as { statusCode?: number }).statusCode;
  return code === 304 || code === 404 || code === 409;
}

/**
 * One step container. Attached before it is started, so not a byte of output is lost;
 * the exit code comes from the engine's `wait`.
 */
export class ContainerStep implements StepProcess {
  readonly stdout = new PassThrough();
  readonly stderr = new PassThrough();
  private attachStream: NodeJS.ReadWriteStream | null = null;
  private exitCode: Promise<number> | null = null;
  private finished: Promise<number> | null = null;

  private constructor(private readonly container: Docker.Container) {}

  /**
   * Creates, attaches and starts the container. On any failure the container is removed
   * again and the engine's error rethrown. With `gate` (a container made by
   * stepContainerOptions with `gated`): the container starts at once, its script waiting on
   * its stdin, and is told to go on once `gate.ready` resolves, after this returned. Stopped
   * or destroyed before that, or the gate failing (the workspace's copy), its stdin closes
   * untold: the script ends (exit 125) before any command, and a failed gate is the step's
   * fault (its output ends with that error).
   */
  static async start(
    docker: Docker,
    options: Docker.ContainerCreateOptions,
    gate?: { socketPath: string; ready: Promise<void> },
  ): Promise<ContainerStep> {
    const container = await docker.createContainer(options);
    const step = new ContainerStep(container);
    try {
      step.go = gate ? await attachStdin(gate.socketPath, container.id) : null;
      step.go?.on("error", () => {});
      const stream = await container.attach({ stream: true, stdout: true, stderr: true });
      step.attachStream = stream;
      const demuxer = new DockerStreamDemuxer(step.stdout, step.stderr);
      let sourceEnded = false;
      stream.once("end", () => {
        sourceEnded = true;
      });
      // Done when the demuxer passed on everything (however slow the reader), or the connection broke.
      const outputDone = new Promise<void>((resolve) => {
        demuxer.once("finish", resolve);
        stream.once("close", () => sourceEnded || resolve());
        stream.once("error", () => resolve());
      });
      stream.pipe(demuxer);
      await container.start();
      // A gate that failed ends the output with its error before the container's exit ends it.
      if (gate) void step.tellGo(gate.ready).then((failed) => failed && step.stdout.destroy(failed));
      step.exitCode = container
        .wait()
        .then((r: { StatusCode: number; Error?: { Message?: string } | null }) =>
          // Podman answers the wait of a container removed while running with StatusCode 0 and
          // an Error ("no such container"): that is no success. Docker reports 137 (killed) then.
          r.Error?.Message && r.StatusCode === 0 ? KILLED_EXIT_CODE : r.StatusCode,
        );
      step.finished = step.exitCode.then(async (code) => {
        // The engine closes the attach connection when the container stops; if it does not, cut it.
        let timer: NodeJS.Timeout | undefined;
        const bound = new Promise<"timeout">((resolve) => {
          timer = setTimeout(() => resolve("timeout"), OUTPUT_DRAIN_MS);
        });
        if ((await Promise.race([outputDone, bound])) === "timeout" && sourceEnded) await outputDone;
        clearTimeout(timer);
        step.endOutput();
        return code;
      });
    } catch (err) {
      // Removed before its stdin is let go: a gated script must not run on a start that failed.
      try {
        await step.destroy();
      } finally {
        step.go?.destroy();
      }
      throw err;
    }
    return step;
  }

  /** The stdin of a gated script until it is told to go (then null). */
  private go: Duplex | null = null;

  /**
   * Writes GO_LINE once `ready` resolves, unless the step was stopped first. Resolves with the
   * error that kept it from going (the gate's or the write's), null when told or stopped.
   */
  private async tellGo(ready: Promise<void>): Promise<Error | null> {
    const stdin = this.go;
    if (!stdin) return null;
    try {
      await ready;
      if (this.go !== stdin) return null; // stopped or destroyed meanwhile: stdin already closed
      await new Promise<void>((resolve, reject) =>
        stdin.end(GO_LINE, (err?: Error | null) => (err ? reject(err) : resolve())),
      );
      return null;
    } catch (err) {
      return err as Error;
    } finally {
      this.closeGate(stdin);
    }
  }

  /** Lets stdin go: an untold script reads its end and exits before any command. */
  private closeGate(stdin: Duplex | null = this.go): void {
    if (stdin && this.go === stdin) this.go = null;
    stdin?.destroy();
  }

  get id(): string {
    return this.container.id;
  }

  wait(): Promise<number> {
    if (!this.finished) return Promise.reject(new Error("container was never started"));
    return this.finished;
  }

  async stop(graceMs: number): Promise<void> {
    this.closeGate();
    try {
      // The engine sends the image's stop signal (SIGTERM), then SIGKILL after t seconds.
      await this.container.stop({ t: Math.ceil(graceMs / 1000) });
    } catch (err) {
      if (!isAlreadyDone(err)) throw err;
    }
    await this.exitCode?.catch(() => undefined);
  }

  async destroy(): Promise<void> {
    try {
      await this.container.remove({ force: true });
    } catch (err) {
      if (!isAlreadyDone(err)) throw err;
    }
    this.closeGate();
    this.endOutput();
  }

  private endOutput(): void {
    // Stop reading first: the demuxer drops whatever still arrives once the outputs ended.
    (this.attachStream as { destroy?: () => void } | null)?.destroy?.();
    if (!this.stdout.writableEnded) this.stdout.end();
    if (!this.stderr.writableEnded) this.stderr.end();
  }
}
