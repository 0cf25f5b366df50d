import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "@wharf/config";
import { WORKER_ENV } from "@wharf/proto/worker-env";
import { encodeStandbyAssignment, STANDBY_ID_ENV } from "@wharf/proto/worker-standby";
import {
  BackendError,
  type BackendWorker,
  freePort,
  stopGraceOf,
  type WorkerBackend,
  type WorkerRuntimeOptions,
  type WorkerSpec,
  workerEnv,
} from "@wharf/provisioner";
import { StandbyWorkers } from "./standby-workers.js";
import { defaultWorkerCommand, inheritedEnv } from "./worker-command.js";

export interface LocalBackendOptions extends WorkerRuntimeOptions {
  /** Workers live in `<dataDir>/workers/<workerId>` (state file, log, results). */
  dataDir: string;
  /** argv of the worker; default: this repo's `wharf worker serve`. */
  command?: string[];
  /** Address the worker binds and is reached at (default 127.0.0.1). */
  host?: string;
  /** Step executor inside the worker (default "local"). */
  executor?: "local" | "docker" | "cri";
  /** Kill every worker on `close()` (tests, `wharf up`); default: leave them running. */
  stopWorkersOnClose?: boolean;
  /**
   * Worker processes kept started ahead of builds (`wharf worker serve --standby`), so a build's
   * worker need not start Node and load its modules first. Only with the default command (a
   * custom one need not know the flag). Default 0.
   */
  standbyWorkers?: number;
  log?: Logger;
}

/** Written next to each worker so a restarted provisioner finds it again. */
interface LocalWorkerState {
  workerId: string;
  pid: number;
  address: string;
  exitCode?: number | null;
  /** The process began as this standby (its environ has STANDBY_ID_ENV, not the worker id). */
  standbyId?: string;
}

function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * A worker child process per build, in its own process group (so deleting it
 * also ends the steps it spawned), logging to `<workDir>/worker.log`.
 */
export class LocalBackend implements WorkerBackend {
  readonly kind = "local" as const;
  readonly scope: string;
  private readonly children = new Map<string, ChildProcess>();
  private readonly workersDir: string;
  private readonly host: string;
  private readonly standby: StandbyWorkers | undefined;

  constructor(private readonly opts: LocalBackendOptions) {
    this.workersDir = path.resolve(opts.dataDir, "workers");
    this.scope = `local:${this.workersDir}`;
    this.host = opts.host ?? "127.0.0.1";
    const standbys = opts.command ? 0 : (opts.standbyWorkers ?? 0);
    if (standbys > 0) {
      this.standby = new StandbyWorkers({
        count: standbys,
        command: defaultWorkerCommand(),
        // Not a worker's directory name (those are checked by dir()), so list() passes it by.
        dir: path.join(this.workersDir, ".standby"),
        env: { ...inheritedEnv(), [WORKER_ENV.executor]: opts.executor ?? "local" },
        ...(opts.log ? { log: opts.log } : {}),
      });
      this.standby.start();
    }
  }

  private dir(workerId: string): string {
    if (!/^[A-Za-z0-9._-]+$/.test(workerId)) throw new BackendError(`invalid worker id "${workerId}"`);
    return path.join(this.workersDir, workerId);
  }

  async create(spec: WorkerSpec): Promise<{ address: string }> {
    const dir = this.dir(spec.workerId);
    await fsp.mkdir(path.join(dir, "data"), { recursive: true });
    const [grpcPort, httpPort] = [await freePort(this.host), await freePort(this.host)];
    const address = `${this.host}:${grpcPort}`;
    const buildEnv = workerEnv(spec, this.opts, {
      executor: this.opts.executor ?? "local",
      host: this.host,
      port: grpcPort,
      httpPort,
      dataDir: path.join(dir, "data"),
    });
    const standby = this.standby?.take();
    const child = standby
      ? await this.assign(standby, dir, buildEnv)
      : await this.spawnCold(dir, { ...inheritedEnv(), ...buildEnv });
    // The provisioner may exit before its workers (they keep results until released).
    child.unref();
    const pid = child.pid as number;
    this.children.set(spec.workerId, child);
    const state: LocalWorkerState = {
      workerId: spec.workerId,
      pid,
      address,
      ...(standby ? { standbyId: standby.id } : {}),
    };
    await this.writeState(dir, state);
    child.once("exit", (code, signal) => {
      const exitCode = code ?? (signal ? 128 + os.constants.signals[signal] : null);
      void this.writeState(dir, { ...state, exitCode }).catch(() => {});
    });
    return { address };
  }

  private async spawnCold(dir: string, env: Record<string, string>): Promise<ChildProcess> {
    const [cmd, ...args] = this.opts.command ?? defaultWorkerCommand();
    if (!cmd) throw new BackendError("empty worker command");
    const log = fs.openSync(path.join(dir, "worker.log"), "a");
    try {
      const child = spawn(cmd, args, { cwd: dir, env, detached: true, stdio: ["ignore", log, log] });
      await new Promise<void>((resolve, reject) => {
        child.once("spawn", resolve);
        child.once("error", reject);
      });
      return child;
    } catch (err) {
      await fsp.rm(dir, { recursive: true, force: true });
      throw new BackendError(`could not start worker "${cmd}": ${(err as Error).message}`, { cause: err });
    } finally {
      fs.closeSync(log);
    }
  }

  /** Hands the build to a standby: its log moves into the worker's directory, its build comes on stdin. */
  private async assign(
    standby: NonNullable<ReturnType<StandbyWorkers["take"]>>,
    dir: string,
    env: Record<string, string>,
  ): Promise<ChildProcess> {
    await fsp.rename(standby.logPath, path.join(dir, "worker.log"));
    standby.stdin.end(encodeStandbyAssignment({ cwd: dir, env }));
    return standby.child;
  }

  private async writeState(dir: string, state: LocalWorkerState): Promise<void> {
    if (!fs.existsSync(dir)) return;
    const tmp = path.join(dir, "worker.json.tmp");
    await fsp.writeFile(tmp, JSON.stringify(state));
    await fsp.rename(tmp, path.join(dir, "worker.json"));
  }

  private async readState(workerId: string): Promise<LocalWorkerState | undefined> {
    try {
      return JSON.parse(await fsp.readFile(path.join(this.dir(workerId), "worker.json"), "utf8"));
    } catch {
      return undefined;
    }
  }

  private isRunning(state: LocalWorkerState): boolean {
    const child = this.children.get(state.workerId);
    if (child) return child.exitCode === null && child.signalCode === null;
    if (state.exitCode !== undefined) return false;
    // Not our child (we restarted): trust the pid only if it still is that worker.
    const mark = state.standbyId
      ? `${STANDBY_ID_ENV}=${state.standbyId}`
      : `${WORKER_ENV.workerId}=${state.workerId}`;
    try {
      const environ = fs.readFileSync(`/proc/${state.pid}/environ`, "latin1");
      return environ.split("\0").includes(mark);
    } catch {
      return false;
    }
  }

  async list(): Promise<BackendWorker[]> {
    const names = await fsp.readdir(this.workersDir).catch(() => [] as string[]);
    const out: BackendWorker[] = [];
    for (const name of names) {
      const state = await this.readState(name);
      if (!state) continue;
      const running = this.isRunning(state);
      const child = this.children.get(name);
      out.push({
        workerId: state.workerId,
        state: running ? "running" : "exited",
        exitCode: running ? null : (exitCodeOf(child) ?? state.exitCode ?? null),
        address: state.address,
      });
    }
    return out;
  }

  async delete(workerId: string): Promise<boolean> {
    const dir = this.dir(workerId);
    const state = await this.readState(workerId);
    if (!state) return false;
    if (this.isRunning(state)) await this.stopGroup(state.pid);
    this.children.delete(workerId);
    await fsp.rm(dir, { recursive: true, force: true });
    return true;
  }

  /** SIGTERM the worker's group (it cancels its steps), SIGKILL what is left after the grace. */
  private async stopGroup(pid: number): Promise<void> {
    const signal = (s: NodeJS.Signals) => {
      try {
        process.kill(-pid, s);
      } catch {
        // already gone
      }
    };
    signal("SIGTERM");
    const deadline = Date.now() + stopGraceOf(this.opts);
    while (groupAlive(pid) && Date.now() < deadline) await sleep(50);
    if (groupAlive(pid)) signal("SIGKILL");
    for (let i = 0; i < 100 && groupAlive(pid); i++) await sleep(20);
  }

  async close(): Promise<void> {
    await this.standby?.close();
    if (!this.opts.stopWorkersOnClose) return;
    const workers = await this.list();
    await Promise.all(workers.map((w) => this.delete(w.workerId)));
  }
}

/**
 * A child's exit code, 128 + the signal's number when a signal ended it: known the moment it
 * exited, before its exit handler wrote it to the worker's state file.
 */
function exitCodeOf(child: ChildProcess | undefined): number | null {
  if (!child) return null;
  if (child.exitCode !== null) return child.exitCode;
  return child.signalCode ? 128 + os.constants.signals[child.signalCode] : null;
}
