import fs from "node:fs/promises";
import { PassThrough, type Writable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import type { StepProcess } from "@wharf/executor";
import { ContainerState, type ContainerStatus, type CriClient, isNotFound } from "./cri-client.js";
import { CriLogParser } from "./cri-log-parser.js";
import { removeContainer } from "./leftovers.js";

/**
 * Pauses between polls of an idle log file (and of the container's state): from 5 ms, doubling
 * up to 50 ms while the step is young, so a short step's end is seen within a few ms of it
 * (bench/cri-step-overhead.ts: with a 200 ms cap a short step took 62 ms more than raw CRI calls,
 * with this 33 ms), then up to 250 ms.
 * A step that is printing is read without pausing.
 */
const POLL_MIN_MS = 5;
const POLL_YOUNG_MAX_MS = 50;
const POLL_MAX_MS = 250;
const YOUNG_MS = 10_000;
const READ_SIZE = 64 * 1024;

/**
 * One step container in the build's sandbox. The runtime writes the container's output to a
 * log file on the host (CRI log format, see cri-log-parser.ts); the step follows that file
 * from its first byte, so nothing printed before the first read is lost. The exit code comes
 * from ContainerStatus, read once the container is EXITED and after a last read of the file:
 * the runtime finishes writing the log before it reports the container exited.
 */
export class CriStep implements StepProcess {
  readonly stdout = new PassThrough();
  readonly stderr = new PassThrough();
  private readonly done = new AbortController();
  private readonly result: Promise<number>;
  private stopping: Promise<void> | undefined;
  private exited = false;
  /** destroy() under way: the runtime may answer NOT_FOUND before the abort comes. */
  private destroying = false;
  /** The runtime's reason for the end ("Completed", "Error", "OOMKilled"...), once `wait` resolved. */
  reason: string | undefined;

  constructor(
    private readonly cri: CriClient,
    readonly containerId: string,
    private readonly logFile: string,
  ) {
    this.result = this.follow().finally(() => this.endOutput());
  }

  wait(): Promise<number> {
    return this.result;
  }

  stop(graceMs: number): Promise<void> {
    // The runtime sends the image's stop signal (SIGTERM), then SIGKILL after the timeout in seconds.
    this.stopping ??= this.cri
      .stopContainer(this.containerId, Math.ceil(Math.max(0, graceMs) / 1000))
      .catch((err: unknown) => {
        // Already removed (destroy ran first): nothing left to stop.
        if (isNotFound(err)) return;
        this.stopping = undefined;
        throw err;
      });
    return this.stopping.then(() =>
      this.result.then(
        () => undefined,
        () => undefined,
      ),
    );
  }

  async destroy(): Promise<void> {
    this.destroying = true;
    await removeContainer(this.cri, this.containerId, { stopFirst: !this.exited });
    // Removed before it was seen exited: nothing more will come.
    this.done.abort();
    await this.result.catch(() => undefined);
  }

  private async follow(): Promise<number> {
    const parser = new CriLogParser();
    let file = await this.openLog();
    try {
      const buf = Buffer.alloc(READ_SIZE);
      let offset = 0;
      let pause = POLL_MIN_MS;
      let exited: ContainerStatus | undefined;
      const started = Date.now();
      for (;;) {
        file ??= await this.openLog();
        const { bytesRead } = file ? await file.read(buf, 0, READ_SIZE, offset) : { bytesRead: 0 };
        if (bytesRead > 0) {
          offset += bytesRead;
          for (const chunk of parser.push(buf.subarray(0, bytesRead)))
            await write(chunk.stream === "stdout" ? this.stdout : this.stderr, chunk.bytes, this.done.signal);
          pause = POLL_MIN_MS;
          continue;
        }
        // Read to the end after the runtime said it exited (its exit code is final from then): asking
        // again could find it removed by a destroy under way.
        if (exited) {
          this.exited = true;
          this.reason = exited.reason || undefined;
          return exited.exitCode;
        }
        if (this.done.signal.aborted) return 137;
        const status = await this.cri.containerStatus(this.containerId).catch((err: unknown) => {
          // Removed by our destroy before it was seen exited (its abort not come yet): killed.
          // Removed by anything else is the step's error.
          if (this.done.signal.aborted || (this.destroying && isNotFound(err))) return undefined;
          throw err;
        });
        if (!status) return 137;
        if (status.state === ContainerState.EXITED) {
          exited = status;
          continue;
        }
        await sleep(pause, undefined, { signal: this.done.signal }).catch(() => undefined);
        pause = Math.min(pause * 2, Date.now() - started < YOUNG_MS ? POLL_YOUNG_MAX_MS : POLL_MAX_MS);
      }
    } finally {
      await file?.close();
    }
  }

  /** The runtime creates the file when it starts the container; until then (or if removed first) there is none. */
  private async openLog(): Promise<fs.FileHandle | undefined> {
    try {
      return await fs.open(this.logFile, "r");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      return undefined;
    }
  }

  private endOutput(): void {
    if (!this.stdout.writableEnded) this.stdout.end();
    if (!this.stderr.writableEnded) this.stderr.end();
  }
}

/** Writes with backpressure: a reader that falls behind holds the follower, not the memory. */
function write(stream: Writable, bytes: Buffer, destroyed: AbortSignal): Promise<void> {
  if (stream.write(bytes) || destroyed.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      stream.off("drain", done);
      stream.off("close", done);
      destroyed.removeEventListener("abort", done);
      resolve();
    };
    stream.on("drain", done);
    stream.on("close", done);
    destroyed.addEventListener("abort", done);
  });
}
