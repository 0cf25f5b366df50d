import { randomBytes } from "node:crypto";
import type { Duplex } from "node:stream";
import type { Logger } from "@wharf/config";
import { attachStdin, engineSocketPath } from "@wharf/executor-docker/stdin-attach";
import { WHARF_LABELS, WORKER_COMPONENT } from "@wharf/proto/labels";
import { assignedStandbyName, isWaitingStandby } from "@wharf/proto/worker-identity";
import { encodeStandbyAssignment } from "@wharf/proto/worker-standby";
import { freePort, type StandbyKind, StandbyPool } from "@wharf/provisioner";
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
 * The Docker backend's standby workers (StandbyPool): worker containers started before the
 * builds that will use them. A standby is kept for one wharf instance (its label must match what
 * the aggregator of that instance lists), the instance of the last build asked for, so the first
 * build of an instance starts cold. Taking one gives it its identity (`assign`: a rename, see
 * worker-identity) and then its build on stdin.
 */
export class StandbyContainers implements StandbyKind<StandbyContainer> {
  private readonly pool: StandbyPool<StandbyContainer>;
  private cmd: Promise<string[]> | undefined;
  private readonly socketPath: string;

  constructor(private readonly opts: StandbyContainersOptions) {
    const socketPath = engineSocketPath(opts.docker);
    if (!socketPath) throw new Error("standby worker containers need the engine's API on a unix socket");
    this.socketPath = socketPath;
    this.pool = new StandbyPool(this, { count: opts.count, noun: "standby worker container", log: opts.log });
  }

  /**
   * A standby kept for `instance`, or undefined (none ready, or kept for another instance:
   * those are removed and the next ones are made for this one).
   */
  take(instance: string): StandbyContainer | undefined {
    return this.pool.take(instance);
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

  alive(standby: StandbyContainer): boolean {
    return !standby.stdin.destroyed && standby.stdin.writable;
  }

  async launch(instance: string): Promise<StandbyContainer> {
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
      const dead = () => this.pool.drop(standby);
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

  async discard(standby: StandbyContainer): Promise<void> {
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
  close(): Promise<void> {
    return this.pool.close();
  }
}
