import { copyFile, mkdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import type { PlanStep } from "@wharf/executor";
import {
  type BuildSpec,
  type Executor,
  ExecutorError,
  type StepProcess,
  StepStartError,
} from "@wharf/executor";
import { glob } from "tinyglobby";
import { type FakeCommand, FakeStepProcess } from "./fake-step-process.js";

export interface FakeExecutorOptions {
  /** `setupBuild` rejects with this. */
  setupError?: Error;
  /** `destroyBuild` rejects with this (after stopping what still runs). */
  destroyBuildError?: Error;
}

/** One call the engine made, in order, for assertions. */
export interface FakeCall {
  op: "ping" | "setupBuild" | "startStep" | "stop" | "destroy" | "collectFiles" | "destroyBuild";
  stepId?: number;
}

/**
 * For tests: an `Executor` that runs nothing real. A `container` step's `cmds` are read
 * as lines of commands (`$VAR` and `${VAR}` expanded from the step's env) and interpreted
 * in-process, so engine tests are fast and deterministic:
 *
 *   echo <text> / echo-err <text>   a line on stdout / stderr
 *   printf <text>                   stdout without a newline; \n \r \t \\ escapes
 *   print-lines <N>                 "line 1" ... "line N" on stdout (back-pressure honoured)
 *   print-long <N>                  one line of N "x" characters
 *   sleep <ms>                      waits (a stop interrupts it)
 *   exit <code>                     ends with that exit code (the default is 0)
 *   ignore-stop                     from here on a graceful stop is ignored: only the kill after the grace ends it
 *   barrier <name> <count>          waits until <count> steps reached barrier <name>
 *   fail-before-attempt <N>         exits 1 on attempts before the N-th start of this step
 *   touch <relpath> [content]       writes a file in the workspace (`build.sourceDir`)
 *   start-delay <ms>                `startStep` takes this long
 *   fail-start <msg>                `startStep` rejects with StepStartError(msg)
 *   fail-start-permanent <msg>      `startStep` rejects with a permanent StepStartError(msg)
 *   executor-error <msg>            `startStep` rejects with ExecutorError(msg)
 *   wait-fail <msg>                 `wait()` rejects with ExecutorError(msg)
 *   secret <value>                  the started process carries <value> on `StepProcess.secrets` (a no-op when run)
 *
 * An unknown command writes an error to stderr and exits 127. Other step types print
 * one line and succeed. `collectFiles` really copies files matching the globs from
 * `build.sourceDir`, which is used as the workspace as is.
 */
export class FakeExecutor implements Executor {
  readonly kind = "fake";
  readonly calls: FakeCall[] = [];
  private readonly starts = new Map<number, number>();
  private readonly processes = new Set<FakeStepProcess>();
  private readonly barriers = new Map<
    string,
    { arrived: number; release: () => void; reached: Promise<void> }
  >();

  constructor(private readonly options: FakeExecutorOptions = {}) {}

  /** How often `op` was called (for `stepId`, if given). */
  count(op: FakeCall["op"], stepId?: number): number {
    return this.calls.filter((c) => c.op === op && (stepId === undefined || c.stepId === stepId)).length;
  }

  /** Processes started and not yet ended. */
  get runningCount(): number {
    return [...this.processes].filter((p) => p.running).length;
  }

  async ping(): Promise<void> {
    this.calls.push({ op: "ping" });
  }

  async setupBuild(_build: BuildSpec): Promise<void> {
    this.calls.push({ op: "setupBuild" });
    if (this.options.setupError) throw this.options.setupError;
  }

  async startStep(build: BuildSpec, step: PlanStep, env: Record<string, string>): Promise<StepProcess> {
    this.calls.push({ op: "startStep", stepId: step.id });
    const attempt = (this.starts.get(step.id) ?? 0) + 1;
    this.starts.set(step.id, attempt);
    const commands: FakeCommand[] =
      step.type === "container"
        ? parseCommands(step.spec.cmds, env)
        : [{ name: "echo", arg: `fake executor: ${step.type} step "${step.name}" does nothing` }];
    let waitFailure: string | null = null;
    for (const { name, arg } of commands) {
      if (name === "start-delay") await delay(Number(arg));
      if (name === "fail-start") throw new StepStartError(arg, step.id);
      if (name === "fail-start-permanent") throw new StepStartError(arg, step.id, { permanent: true });
      if (name === "executor-error") throw new ExecutorError(arg);
      if (name === "wait-fail") waitFailure = arg;
    }
    const secrets = commands.filter((c) => c.name === "secret").map((c) => c.arg);
    const proc = new FakeStepProcess(commands, {
      attempt,
      workspace: build.sourceDir,
      barrier: (name, n, signal) => this.barrier(name, n, signal),
      waitFailure,
      onStop: () => this.calls.push({ op: "stop", stepId: step.id }),
      onDestroy: () => this.calls.push({ op: "destroy", stepId: step.id }),
      secrets,
    });
    this.processes.add(proc);
    return proc;
  }

  async collectFiles(build: BuildSpec, globs: string[], destDir: string): Promise<string[]> {
    this.calls.push({ op: "collectFiles" });
    const files = await glob(globs, { cwd: build.sourceDir, onlyFiles: true, dot: true });
    for (const relPath of files) {
      await mkdir(dirname(join(destDir, relPath)), { recursive: true });
      await copyFile(join(build.sourceDir, relPath), join(destDir, relPath));
    }
    return files.sort();
  }

  async destroyBuild(_build: BuildSpec): Promise<void> {
    this.calls.push({ op: "destroyBuild" });
    // The contract: destroyBuild stops whatever still runs.
    await Promise.all([...this.processes].filter((p) => p.running).map((p) => p.destroy()));
    if (this.options.destroyBuildError) throw this.options.destroyBuildError;
  }

  private async barrier(name: string, count: number, signal: AbortSignal): Promise<void> {
    let entry = this.barriers.get(name);
    if (!entry) {
      let release!: () => void;
      const reached = new Promise<void>((r) => {
        release = r;
      });
      entry = { arrived: 0, release, reached };
      this.barriers.set(name, entry);
    }
    entry.arrived++;
    if (entry.arrived >= count) entry.release();
    const { reached } = entry;
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => reject(signal.reason);
      signal.addEventListener("abort", onAbort, { once: true });
      reached.then(() => {
        signal.removeEventListener("abort", onAbort);
        resolve();
      });
    });
  }
}

function parseCommands(cmds: string[], env: Record<string, string>): FakeCommand[] {
  return cmds
    .flatMap((cmd) => cmd.split("\n"))
    .map((line) => line.trim())
    .filter((line) => line.length > 0)
    .map((line) => {
      const expanded = line.replace(
        /\$\{(\w+)\}|\$(\w+)/g,
        (_m, a?: string, b?: string) => env[a ?? b ?? ""] ?? "",
      );
      const space = expanded.indexOf(" ");
      return space === -1
        ? { name: expanded, arg: "" }
        : { name: expanded.slice(0, space), arg: expanded.slice(space + 1) };
    });
}
