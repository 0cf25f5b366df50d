import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { PassThrough, type Writable } from "node:stream";
import { setTimeout as delay } from "node:timers/promises";
import { ExecutorError, type StepProcess } from "@wharf/executor";

/** One line of a fake step's `cmds`: a command name and the rest of the line. */
export interface FakeCommand {
  name: string;
  arg: string;
}

export interface FakeProcessHooks {
  /** 1 for the first start of this step in the build, 2 for its first retry, ... */
  attempt: number;
  /** The build's workspace (`build.sourceDir`): where `touch` writes. */
  workspace: string;
  /** Resolves once `count` processes reached the barrier `name`; rejects when `signal` aborts. */
  barrier(name: string, count: number, signal: AbortSignal): Promise<void>;
  /** `wait()` rejects with an ExecutorError carrying this message (a backend lost mid-step). */
  waitFailure: string | null;
  onStop(graceMs: number): void;
  onDestroy(): void;
  /** Values the process reports on `secrets` (from `secret <value>` commands). */
  secrets?: string[];
}

/** Exit codes of a process ended by a signal, as a shell reports them. */
const SIGTERM_EXIT = 143;
const SIGKILL_EXIT = 137;
const CHUNK = 64 * 1024;

/**
 * A step "process" that interprets its commands in-process (see `FakeExecutor` for the
 * command list), writes to PassThrough streams with back-pressure and honours `stop()`:
 * it ends at once with 143, or, after `ignore-stop`, only when killed after the grace (137).
 */
export class FakeStepProcess implements StepProcess {
  readonly stdout = new PassThrough();
  readonly stderr = new PassThrough();
  readonly secrets: readonly string[];
  private readonly kill = new AbortController();
  private ignoresStop = false;
  /** True until the process ended. */
  running = true;
  private readonly exited: Promise<number>;

  constructor(
    commands: FakeCommand[],
    private readonly hooks: FakeProcessHooks,
  ) {
    this.secrets = hooks.secrets ?? [];
    this.exited = this.run(commands);
  }

  wait(): Promise<number> {
    if (this.hooks.waitFailure !== null) return Promise.reject(new ExecutorError(this.hooks.waitFailure));
    return this.exited;
  }

  async stop(graceMs: number): Promise<void> {
    this.hooks.onStop(graceMs);
    if (!this.running) return;
    if (!this.ignoresStop) this.terminate(SIGTERM_EXIT);
    const hardKill = setTimeout(() => this.terminate(SIGKILL_EXIT), graceMs);
    await this.exited;
    clearTimeout(hardKill);
  }

  async destroy(): Promise<void> {
    this.hooks.onDestroy();
    this.terminate(SIGKILL_EXIT);
    await this.exited;
  }

  private terminate(exitCode: number): void {
    if (!this.kill.signal.aborted) this.kill.abort(exitCode);
  }

  private async run(commands: FakeCommand[]): Promise<number> {
    let exitCode = 0;
    try {
      for (const command of commands) {
        this.kill.signal.throwIfAborted();
        const result = await this.exec(command);
        if (result !== undefined) {
          exitCode = result;
          break;
        }
      }
    } catch (err) {
      if (this.kill.signal.aborted) exitCode = this.kill.signal.reason as number;
      else {
        await this.write(this.stderr, `fake: ${err instanceof Error ? err.message : String(err)}\n`).catch(
          () => {},
        );
        exitCode = 1;
      }
    }
    this.running = false;
    this.stdout.end();
    this.stderr.end();
    return exitCode;
  }

  /** Runs one command; returns an exit code to end the process with, or undefined to go on. */
  private async exec({ name, arg }: FakeCommand): Promise<number | undefined> {
    const signal = this.kill.signal;
    switch (name) {
      case "echo":
        return void (await this.write(this.stdout, `${arg}\n`));
      case "echo-err":
        return void (await this.write(this.stderr, `${arg}\n`));
      case "printf":
        return void (await this.write(this.stdout, printfEscapes(arg)));
      case "print-lines":
        for (let i = 1; i <= count(name, arg); i++) await this.write(this.stdout, `line ${i}\n`);
        return undefined;
      case "print-long":
        for (let left = count(name, arg); left > 0; left -= CHUNK) {
          await this.write(this.stdout, "x".repeat(Math.min(CHUNK, left)));
        }
        return void (await this.write(this.stdout, "\n"));
      case "sleep":
        return void (await delay(count(name, arg), undefined, { signal }));
      case "exit":
        return count(name, arg);
      case "secret":
        return undefined;
      case "ignore-stop":
        this.ignoresStop = true;
        return undefined;
      case "barrier": {
        const [barrier = "", n = ""] = arg.split(/\s+/);
        return void (await this.hooks.barrier(barrier, count(name, n), signal));
      }
      case "fail-before-attempt":
        if (this.hooks.attempt >= count(name, arg)) return undefined;
        await this.write(this.stderr, `fake: failing attempt ${this.hooks.attempt}\n`);
        return 1;
      case "touch": {
        const [relPath = "", ...content] = arg.split(" ");
        const path = join(this.hooks.workspace, relPath);
        await mkdir(dirname(path), { recursive: true });
        return void (await writeFile(path, content.join(" ")));
      }
      case "fail-start":
      case "fail-start-permanent":
      case "executor-error":
      case "start-delay":
      case "wait-fail":
        return undefined; // handled by FakeExecutor.startStep
      default:
        await this.write(this.stderr, `fake: unknown command "${name}"\n`);
        return 127;
    }
  }

  /** Writes and, when the consumer is behind, waits for it (or for the kill). */
  private async write(stream: Writable, data: string): Promise<void> {
    if (stream.destroyed || stream.writableEnded) return;
    if (stream.write(data)) return;
    await new Promise<void>((resolve, reject) => {
      const cleanUp = (): void => {
        stream.off("drain", done);
        stream.off("close", done);
        this.kill.signal.removeEventListener("abort", killed);
      };
      const done = (): void => {
        cleanUp();
        resolve();
      };
      const killed = (): void => {
        cleanUp();
        reject(this.kill.signal.reason);
      };
      stream.on("drain", done);
      stream.on("close", done);
      this.kill.signal.addEventListener("abort", killed, { once: true });
      if (this.kill.signal.aborted) killed();
    });
  }
}

function count(command: string, arg: string): number {
  const n = Number(arg.trim());
  if (!Number.isInteger(n) || n < 0) throw new Error(`${command}: expected a whole number, got "${arg}"`);
  return n;
}

/** printf escapes: \n, \r, \t and \\. */
function printfEscapes(text: string): string {
  return text.replace(/\\([nrt\\])/g, (_m, c: string) => ({ n: "\n", r: "\r", t: "\t", "\\": "\\" })[c] ?? c);
}
