import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import type { Writable } from "node:stream";
import type { Logger } from "@wharf/config";
import { STANDBY_FLAG, STANDBY_ID_ENV } from "@wharf/proto/worker-standby";

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
 * Worker processes started ahead of the builds that will use them (see
 * @wharf/proto/worker-standby): `take` hands one over, and another is started in its place at
 * once, so builds triggered one after another each find one ready. Each is in its own process
 * group, like a cold worker; one whose provisioner goes away sees its stdin end and exits.
 */
export class StandbyWorkers {
  private readonly waiting: StandbyWorker[] = [];
  private closed = false;

  constructor(private readonly opts: StandbyWorkersOptions) {}

  /** Starts the first ones. Failures are logged: builds then start cold. */
  start(): void {
    this.fill();
  }

  /** A live standby, or undefined when none is ready. */
  take(): StandbyWorker | undefined {
    let taken: StandbyWorker | undefined;
    while (!taken && this.waiting.length > 0) {
      const next = this.waiting.shift() as StandbyWorker;
      if (next.child.exitCode === null && next.child.signalCode === null) taken = next;
    }
    // Also when none was ready (one that died is replaced here, not in a loop of its own).
    setImmediate(() => this.fill());
    return taken;
  }

  private fill(): void {
    while (!this.closed && this.waiting.length < this.opts.count) {
      const standby = this.spawnOne();
      if (!standby) return;
      this.waiting.push(standby);
    }
  }

  private spawnOne(): StandbyWorker | undefined {
    const [cmd, ...args] = this.opts.command;
    if (!cmd) return undefined;
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
      child.once("exit", () => {
        const at = this.waiting.findIndex((s) => s.id === id);
        if (at >= 0) {
          this.waiting.splice(at, 1);
          void fsp.rm(logPath, { force: true });
        }
      });
      return { id, child, stdin, logPath };
    } catch (err) {
      this.opts.log?.warn({ err: (err as Error).message }, "could not start a standby worker");
      return undefined;
    } finally {
      fs.closeSync(log);
    }
  }

  /** Ends the standbys no build took. */
  async close(): Promise<void> {
    this.closed = true;
    const left = this.waiting.splice(0);
    await Promise.all(
      left.map(async (s) => {
        const exited = new Promise((r) => (s.child.exitCode === null ? s.child.once("exit", r) : r(null)));
        try {
          process.kill(-(s.child.pid as number), "SIGKILL");
        } catch {
          // already gone
        }
        await exited;
        await fsp.rm(s.logPath, { force: true });
      }),
    );
  }
}
