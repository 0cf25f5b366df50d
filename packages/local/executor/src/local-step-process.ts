import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { PassThrough } from "node:stream";
import { exitCodeForSignal, type StepProcess } from "@wharf/executor";

/** How long the output may stay open after the shell exited (a leftover that left the group). */
const OUTPUT_DRAIN_MS = 5_000;
/** How long to wait for the kernel to report a SIGKILLed group gone. */
const KILL_WAIT_MS = 10_000;

export interface SpawnSpec {
  shell: string;
  script: string;
  cwd: string;
  env: Record<string, string>;
}

/**
 * A step's shell on the host, as the leader of its own process group (`detached`), so
 * signals reach everything it started. When the shell exits the rest of the group is
 * killed, the way a container's processes die with its PID 1.
 */
export class LocalStepProcess implements StepProcess {
  readonly stdout = new PassThrough();
  readonly stderr = new PassThrough();
  private readonly exited: Promise<number>;
  private readonly finished: Promise<number>;
  private exitCode: number | null = null;

  private constructor(private readonly child: ChildProcess) {
    this.exited = new Promise((resolve) => {
      child.once("exit", (code, signal) => {
        this.exitCode = code ?? exitCodeForSignal(signal ?? "SIGKILL");
        this.signalGroup("SIGKILL");
        resolve(this.exitCode);
      });
    });
    // Listen before anything else: "close" may follow "exit" within the same tick.
    const closed = once(child, "close");
    child.stdout?.pipe(this.stdout);
    child.stderr?.pipe(this.stderr);
    this.finished = this.exited.then(async (code) => {
      // A grandchild that escaped the group (setsid) may hold the pipes open; do not wait for it forever.
      const timer = setTimeout(() => this.endOutput(), OUTPUT_DRAIN_MS);
      await closed;
      clearTimeout(timer);
      return code;
    });
  }

  /** Spawns the shell; rejects with the spawn error (e.g. ENOENT for a missing shell). */
  static async start(spec: SpawnSpec): Promise<LocalStepProcess> {
    const child = spawn(spec.shell, ["-c", spec.script], {
      cwd: spec.cwd,
      env: spec.env,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    await new Promise<void>((resolve, reject) => {
      child.once("spawn", resolve);
      child.once("error", reject);
    });
    return new LocalStepProcess(child);
  }

  get running(): boolean {
    return this.exitCode === null;
  }

  wait(): Promise<number> {
    return this.finished;
  }

  async stop(graceMs: number): Promise<void> {
    if (!this.running) return;
    this.signalGroup("SIGTERM");
    if (await this.exitedWithin(graceMs)) return;
    this.signalGroup("SIGKILL");
    await this.exitedWithin(KILL_WAIT_MS);
  }

  async destroy(): Promise<void> {
    await this.stop(0);
    this.endOutput();
  }

  private signalGroup(signal: NodeJS.Signals): void {
    if (this.child.pid === undefined) return;
    try {
      process.kill(-this.child.pid, signal);
    } catch {
      // ESRCH: the group is already gone.
    }
  }

  private async exitedWithin(ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
    });
    const ok = await Promise.race([this.exited.then(() => true), timeout]);
    clearTimeout(timer);
    return ok;
  }

  private endOutput(): void {
    for (const [from, to] of [
      [this.child.stdout, this.stdout],
      [this.child.stderr, this.stderr],
    ] as const) {
      from?.unpipe(to);
      from?.destroy();
      if (!to.writableEnded) to.end();
    }
  }
}
