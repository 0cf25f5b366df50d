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
   * its stdin, and is told to go on once `gate` resolves; a rejected gate is this start's failure.
   */
  static async start(
    docker: Docker,
    options: Docker.ContainerCreateOptions,
    gate?: { socketPath: string; ready: Promise<void> },
  ): Promise<ContainerStep> {
    const container = await docker.createContainer(options);
    const step = new ContainerStep(container);
    let go: Duplex | undefined;
    try {
      go = gate ? await attachStdin(gate.socketPath, container.id) : undefined;
      go?.on("error", () => {});
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
      if (gate && go) {
        const stdin = go;
        await gate.ready;
        await new Promise<void>((resolve) => stdin.end(GO_LINE, () => resolve()));
      }
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
      // Removed before its stdin is let go: a gated script told nothing must never run.
      await step.destroy();
      go?.destroy();
      throw err;
    }
    go?.destroy();
    return step;
  }

  get id(): string {
    return this.container.id;
  }

  wait(): Promise<number> {
    if (!this.finished) return Promise.reject(new Error("container was never started"));
    return this.finished;
  }

  async stop(graceMs: number): Promise<void> {
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
    this.endOutput();
  }

  private endOutput(): void {
    // Stop reading first: the demuxer drops whatever still arrives once the outputs ended.
    (this.attachStream as { destroy?: () => void } | null)?.destroy?.();
    if (!this.stdout.writableEnded) this.stdout.end();
    if (!this.stderr.writableEnded) this.stderr.end();
  }
}
