import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import type { Writable } from "node:stream";
import type { Logger } from "@wharf/config";
import { STANDBY_FLAG, STANDBY_ID_ENV } from "@wharf/proto/worker-standby";
import { type StandbyKind, StandbyPool } from "@wharf/provisioner";

export interface StandbyWorkersOptions {
  /** How many to keep waiting. */
  count: number;
  /** argv of the worker (`wharf worker serve`); STANDBY_FLAG is added. */
  command: string[];
  /** Where standbys run and log until a build takes them. */
  dir: string;
  /** Their environment: what every worker inherits, no build's parameters. */
  env: Record<string, string>;
  log?: Logger;
}

/** A started standby worker, its build still to come on `stdin`. */
export interface StandbyWorker {
  readonly id: string;
  readonly child: ChildProcess;
  readonly stdin: Writable;
  /** Its stdout and stderr so far; moved into the worker's directory when a build takes it. */
  readonly logPath: string;
}

/**
 * The local backend's standby workers (StandbyPool): worker processes started ahead of the
 * builds that will use them (see @wharf/proto/worker-standby). Each is in its own process group,
 * like a cold worker; one whose provisioner goes away sees its stdin end and exits.
 */
export class StandbyWorkers implements StandbyKind<StandbyWorker> {
  private readonly pool: StandbyPool<StandbyWorker>;

  constructor(private readonly opts: StandbyWorkersOptions) {
    this.pool = new StandbyPool(this, { count: opts.count, noun: "standby worker", log: opts.log });
  }

  /** Starts the first ones. Failures are logged: builds then start cold. */
  start(): void {
    this.pool.prime(ANY_INSTANCE);
  }

  /** A live standby, or undefined when none is ready. */
  take(): StandbyWorker | undefined {
    return this.pool.take(ANY_INSTANCE);
  }

  alive(standby: StandbyWorker): boolean {
    return !exited(standby.child);
  }

  /** Spawns one (before its first await: the pool's fill runs after a take's hand-over). */
  async launch(): Promise<StandbyWorker> {
    const [cmd, ...args] = this.opts.command;
    if (!cmd) throw new Error("no worker command");
    const id = randomUUID();
    fs.mkdirSync(this.opts.dir, { recursive: true });
    const logPath = path.join(this.opts.dir, `${id}.log`);
    const log = fs.openSync(logPath, "a");
    try {
      const child = spawn(cmd, [...args, STANDBY_FLAG], {
        cwd: this.opts.dir,
        env: { ...this.opts.env, [STANDBY_ID_ENV]: id },
        detached: true,
        stdio: ["pipe", log, log],
      });
      const stdin = child.stdin as Writable & { unref?: () => void };
      // A standby must not keep its provisioner alive, nor an unread pipe fail it.
      child.unref();
      stdin.unref?.();
      stdin.on("error", () => {});
      child.once("error", (err) =>
        this.opts.log?.warn({ err: err.message }, "could not start a standby worker"),
      );
      const standby = { id, child, stdin, logPath };
      child.once("exit", () => this.pool.drop(standby));
      return standby;
    } finally {
      fs.closeSync(log);
    }
  }

  async discard(standby: StandbyWorker): Promise<void> {
    const { child } = standby;
    const ended = new Promise((r) => (exited(child) ? r(null) : child.once("exit", r)));
    try {
      process.kill(-(child.pid as number), "SIGKILL");
    } catch {
      // already gone
    }
    await ended;
    await fsp.rm(standby.logPath, { force: true });
  }

  /** Ends the standbys no build took. */
  close(): Promise<void> {
    return this.pool.close();
  }
}

/** Local standbys serve any instance: a process carries no label to match. */
const ANY_INSTANCE = "";

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}
