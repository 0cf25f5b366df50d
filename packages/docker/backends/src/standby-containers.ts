import { randomBytes } from "node:crypto";
import type { Duplex } from "node:stream";
import type { Logger } from "@wharf/config";
import { attachStdin, engineSocketPath } from "@wharf/executor-docker/stdin-attach";
import { WHARF_LABELS, WORKER_COMPONENT } from "@wharf/proto/labels";
import { assignedStandbyName, isWaitingStandby } from "@wharf/proto/worker-identity";
import { encodeStandbyAssignment } from "@wharf/proto/worker-standby";
import { freePort } from "@wharf/provisioner";
import type Docker from "dockerode";
import {
  type DockerWorkerOptions,
  exitCodeFromStatus,
  standbyContainerSpec,
  type WorkerContainerPorts,
} from "./worker-container.js";

/** A started standby container, its build still to come on `stdin`. */
export interface StandbyContainer {
  readonly containerId: string;
  readonly instance: string;
  readonly ports: WorkerContainerPorts;
  /** The one attach of its stdin; ending it (or losing it) ends a standby no build took. */
  readonly stdin: Duplex;
}

export interface StandbyContainersOptions {
  /** How many to keep started. */
  count: number;
  docker: Docker;
  worker: DockerWorkerOptions;
  log?: Logger;
}

/**
 * Worker containers started before the builds that will use them, so a build's worker need
 * not wait for the engine to create and start a container and for Node to load the worker
 * (BENCHMARKS.md, "trigger to first line"): the Docker backend's counterpart of the local
 * backend's standby processes. A standby is kept for one wharf instance (its label must match
 * what the aggregator of that instance lists), the instance of the last build asked for, so
 * the first build of an instance starts cold. Taking one gives it its identity (`assign`: a
 * rename, see worker-identity) and then its build on stdin; another is started at once.
 */
export class StandbyContainers {
  private readonly waiting: StandbyContainer[] = [];
  private instance: string | undefined;
  private filling: Promise<void> | undefined;
  private cmd: Promise<string[]> | undefined;
  private closed = false;
  /** Removals under way, awaited by close. */
  private readonly discarding = new Set<Promise<void>>();

  private readonly socketPath: string;

  constructor(private readonly opts: StandbyContainersOptions) {
    const socketPath = engineSocketPath(opts.docker);
    if (!socketPath) throw new Error("standby worker containers need the engine's API on a unix socket");
    this.socketPath = socketPath;
  }

  /**
   * A standby kept for `instance`, or undefined (none ready, or kept for another instance:
   * those are removed and the next ones are made for this one).
   */
  take(instance: string): StandbyContainer | undefined {
    if (instance !== this.instance) {
      this.instance = instance;
      for (const stale of this.waiting.splice(0)) this.discardLater(stale);
    }
    let taken: StandbyContainer | undefined;
    while (!taken && this.waiting.length > 0) {
      const next = this.waiting.shift() as StandbyContainer;
      if (!next.stdin.destroyed && next.stdin.writable) taken = next;
      else this.discardLater(next);
    }
    this.fill();
    return taken;
  }

  /**
   * Makes `standby` the worker `workerId` of build `buildIdText`: renamed first, so that from
   * the moment the worker knows its build every list of the engine tells whose it is, then
   * handed the build's environment. Throws when either fails (the standby is then removed).
   */
  async assign(
    standby: StandbyContainer,
    ids: { buildIdText: string; workerId: string },
    env: Record<string, string>,
  ): Promise<void> {
    try {
      await this.opts.docker
        .getContainer(standby.containerId)
        .rename({ name: assignedStandbyName(ids.buildIdText, ids.workerId) });
      await new Promise<void>((resolve, reject) =>
        standby.stdin.end(encodeStandbyAssignment({ env }), (err?: Error | null) =>
          err ? reject(err) : resolve(),
        ),
      );
    } catch (err) {
      await this.discard(standby);
      throw err;
    }
  }

  private fill(): void {
    if (this.closed || this.instance === undefined || this.filling) return;
    const instance = this.instance;
    this.filling = (async () => {
      // On a failure it stops until the next take: a standby that cannot start is no hot loop.
      while (!this.closed && this.instance === instance && this.waiting.length < this.opts.count) {
        const started = await this.startOne(instance).catch((err: Error) => {
          this.opts.log?.warn({ err: err.message }, "could not start a standby worker container");
          return undefined;
        });
        if (!started) return;
        if (this.closed || this.instance !== instance) await this.discard(started);
        else this.waiting.push(started);
      }
    })().finally(() => {
      this.filling = undefined;
      // The instance changed while these were made: make the new instance's now.
      if (this.instance !== instance) this.fill();
    });
  }

  private async startOne(instance: string): Promise<StandbyContainer | undefined> {
    const { docker, worker } = this.opts;
    const ports = { grpc: await freePort(), http: await freePort() };
    const id = randomBytes(6).toString("hex");
    const body = standbyContainerSpec(worker, ports, { id, instance, cmd: await this.workerCommand() });
    const container = await docker.createContainer(body);
    let stdin: Duplex | undefined;
    try {
      // Attached before it starts: the standby's stdin is open from its first read.
      stdin = await attachStdin(this.socketPath, container.id);
      stdin.on("error", () => {});
      await container.start();
      const standby = { containerId: container.id, instance, ports, stdin };
      // One that dies waiting (its port taken, killed) is never handed a build: the engine's
      // wait answers when it exits (Docker keeps a stdin-only attach open past the exit).
      // Taken ones are out of `waiting` already.
      const dead = () => {
        const at = this.waiting.indexOf(standby);
        if (at >= 0) this.discardLater(this.waiting.splice(at, 1)[0] as StandbyContainer);
      };
      container.wait().then(dead, dead);
      return standby;
    } catch (err) {
      await container.remove({ force: true }).catch(() => {});
      stdin?.destroy();
      throw err;
    }
  }

  /** The worker's argv: WHARF_WORKER_CMD, else the image's own command (looked up once). */
  private workerCommand(): Promise<string[]> {
    const { cmd, image } = this.opts.worker;
    if (cmd) return Promise.resolve(cmd);
    if (!this.cmd) {
      const lookup = this.opts.docker
        .getImage(image)
        .inspect()
        .then((info) => info.Config.Cmd ?? []);
      // A failed lookup (the image not there yet) is tried again by the next standby.
      lookup.catch(() => {
        if (this.cmd === lookup) this.cmd = undefined;
      });
      this.cmd = lookup;
    }
    return this.cmd;
  }

  private discardLater(standby: StandbyContainer): void {
    const removal = this.discard(standby).finally(() => this.discarding.delete(removal));
    this.discarding.add(removal);
  }

  private async discard(standby: StandbyContainer): Promise<void> {
    await this.opts.docker
      .getContainer(standby.containerId)
      .remove({ force: true })
      .catch(() => {});
    standby.stdin.destroy();
  }

  /**
   * Removes standbys that ended before any build took them: those of a provisioner that went
   * away (their stdin closed, so they exited). Running ones may be another replica's.
   */
  async sweepEnded(): Promise<void> {
    const listed = await this.opts.docker.listContainers({
      all: true,
      filters: { label: [`${WHARF_LABELS.standby}=true`, `${WHARF_LABELS.component}=${WORKER_COMPONENT}`] },
    });
    await Promise.all(
      listed
        // By its status too: Podman 4.3 lists such a standby with a State other than "exited" (seen).
        .filter((c) => isWaitingStandby(c) && (c.State === "exited" || exitCodeFromStatus(c.Status) !== null))
        .map((c) =>
          this.opts.docker
            .getContainer(c.Id)
            .remove({ force: true })
            .catch(() => {}),
        ),
    );
  }

  /** Removes the standbys no build took. */
  async close(): Promise<void> {
    this.closed = true;
    await this.filling;
    await Promise.all([...this.waiting.splice(0).map((s) => this.discard(s)), ...this.discarding]);
  }
}
