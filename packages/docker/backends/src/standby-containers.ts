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
      for (const stale of this.waiting.splice(0)) void this.discard(stale);
    }
    let taken: StandbyContainer | undefined;
    while (!taken && this.waiting.length > 0) {
      const next = this.waiting.shift() as StandbyContainer;
      if (!next.stdin.destroyed && next.stdin.writable) taken = next;
      else void this.discard(next);
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
      await new Promise<void>((resolve, reject) => {
        standby.stdin.once("error", reject);
        standby.stdin.end(encodeStandbyAssignment({ env }), () => resolve());
      });
    } catch (err) {
      await this.discard(standby);
      throw err;
    }
  }

  private fill(): void {
    if (this.closed || this.instance === undefined || this.filling) return;
    const instance = this.instance;
    this.filling = (async () => {
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
    });
  }

  private async startOne(instance: string): Promise<StandbyContainer | undefined> {
    const { docker, worker } = this.opts;
    const ports = { grpc: await freePort(), http: await freePort() };
    const id = randomBytes(6).toString("hex");
    const body = standbyContainerSpec(worker, ports, { id, instance, cmd: await this.workerCommand() });
    const container = await docker.createContainer(body);
    try {
      // Attached before it starts: the standby's stdin is open from its first read.
      const stdin = await attachStdin(this.socketPath, container.id);
      stdin.on("error", () => {});
      await container.start();
      return { containerId: container.id, instance, ports, stdin };
    } catch (err) {
      await container.remove({ force: true }).catch(() => {});
      throw err;
    }
  }

  /** The worker's argv: WHARF_WORKER_CMD, else the image's own command (looked up once). */
  private workerCommand(): Promise<string[]> {
    const { cmd, image } = this.opts.worker;
    this.cmd ??= cmd
      ? Promise.resolve(cmd)
      : this.opts.docker
          .getImage(image)
          .inspect()
          .then((info) => info.Config.Cmd ?? []);
    return this.cmd;
  }

  /**
   * Removed before its stdin is let go: a standby whose stdin closes exits, and Podman's
   * clean-up of the exited container then races the removal (which failed, leaving it, seen).
   */
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
    await Promise.all(this.waiting.splice(0).map((s) => this.discard(s)));
  }
}
