import { statSync } from "node:fs";
import type { Logger } from "@wharf/config";
import { formatBuildId } from "@wharf/proto/build-id";
import {
  BackendError,
  type BackendWorker,
  freePort,
  stopGraceOf,
  type WorkerBackend,
  type WorkerSpec,
} from "@wharf/provisioner";
import Docker from "dockerode";
import { containersOfWorker, listWorkerContainers } from "./listed-workers.js";
import { StandbyContainers } from "./standby-containers.js";
import {
  type DockerWorkerOptions,
  exitCodeFromStatus,
  LABEL_GRPC_PORT,
  LABEL_WORKER_ID,
  workerContainerEnv,
  workerContainerSpec,
} from "./worker-container.js";

export interface DockerBackendOptions extends DockerWorkerOptions {
  /** A client to use; default: one on `socketPath`. */
  docker?: Docker;
  /**
   * Worker containers kept started ahead of builds (`wharf worker serve --standby`, see
   * StandbyContainers), for the instance of the last build asked for. Default 0.
   */
  standbyWorkers?: number;
  log?: Logger;
}

const statusOf = (err: unknown) => (err as { statusCode?: number }).statusCode;
// 409 "removal already in progress": another replica is removing it too.
const isGoneOrGoing = (err: unknown) => statusOf(err) === 404 || statusOf(err) === 409;

/**
 * A worker container per build. The worker runs its steps as sibling
 * containers through the mounted engine socket; they carry the same
 * worker-id label, which is how `delete` finds and removes them.
 */
export class DockerBackend implements WorkerBackend {
  readonly kind = "docker" as const;
  readonly scope: string;
  private readonly docker: Docker;

  private readonly socketGroup: number | undefined;
  private readonly standby: StandbyContainers | undefined;

  constructor(private readonly opts: DockerBackendOptions) {
    const socketPath = opts.socketPath ?? "/var/run/docker.sock";
    this.docker = opts.docker ?? new Docker({ socketPath });
    this.scope = `docker:${socketPath}`;
    // The socket as this process sees it is the one mounted into workers (same path).
    this.socketGroup = opts.socketGroup ?? socketGroupOf(socketPath);
    this.standby = (opts.standbyWorkers ?? 0) > 0 ? this.standbyContainers() : undefined;
  }

  private standbyContainers(): StandbyContainers | undefined {
    try {
      const standby = new StandbyContainers({
        count: this.opts.standbyWorkers as number,
        docker: this.docker,
        worker: this.workerOptions(),
        ...(this.opts.log ? { log: this.opts.log } : {}),
      });
      void standby.sweepEnded().catch(() => {});
      return standby;
    } catch (err) {
      this.opts.log?.warn({ err: (err as Error).message }, "no standby worker containers");
      return undefined;
    }
  }

  private workerOptions(): DockerWorkerOptions {
    return { ...this.opts, socketGroup: this.socketGroup };
  }

  /** Where workers' gRPC ports are reached. */
  private get advertised(): string {
    return this.opts.advertiseHost ?? "127.0.0.1";
  }

  async create(spec: WorkerSpec): Promise<{ address: string }> {
    const standby = this.standby?.take(spec.request.instance);
    if (standby) {
      try {
        const env = workerContainerEnv(spec, this.workerOptions(), standby.ports);
        await this.standby?.assign(
          standby,
          { buildIdText: formatBuildId(spec.request.buildId), workerId: spec.workerId },
          env,
        );
        return { address: `${this.advertised}:${standby.ports.grpc}` };
      } catch (err) {
        // Removed by assign; the build's worker starts cold instead.
        this.opts.log?.warn({ err: (err as Error).message }, "a standby worker container could not be taken");
      }
    }
    const ports = { grpc: await freePort(), http: await freePort() };
    const body = workerContainerSpec(spec, this.workerOptions(), ports);
    let container: Docker.Container | undefined;
    try {
      container = await this.docker.createContainer(body);
      await container.start();
    } catch (err) {
      if (container) await container.remove({ force: true }).catch(() => {});
      throw new BackendError(
        `could not start worker container from ${this.opts.image}: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
    return { address: `${this.advertised}:${ports.grpc}` };
  }

  async list(): Promise<BackendWorker[]> {
    return (await listWorkerContainers(this.docker)).map(({ c, identity }) => {
      const running = c.State === "running" || c.State === "created" || c.State === "restarting";
      return {
        workerId: identity.workerId,
        state: running ? "running" : "exited",
        exitCode: running ? null : exitCodeFromStatus(c.Status),
        address: `${this.advertised}:${c.Labels[LABEL_GRPC_PORT] ?? ""}`,
      };
    });
  }

  async delete(workerId: string): Promise<boolean> {
    const filters = { label: [`${LABEL_WORKER_ID}=${workerId}`] };
    const { worker } = await containersOfWorker(this.docker, workerId);
    if (!worker) return false;
    // Stop the worker first so it cancels its steps itself; then force-remove
    // whatever is left (step containers of a worker that did not clean up).
    const graceSec = Math.ceil(stopGraceOf(this.opts) / 1000);
    await this.docker
      .getContainer(worker.Id)
      .stop({ t: graceSec })
      .catch((err) => {
        if (!isGoneOrGoing(err) && statusOf(err) !== 304) throw err;
      });
    // Its step containers carry its worker id; a worker that began as a standby does not.
    const steps = await this.docker.listContainers({ all: true, filters });
    const left = [worker, ...steps.filter((c) => c.Id !== worker.Id)];
    await Promise.all(
      left.map((c) =>
        this.docker
          .getContainer(c.Id)
          .remove({ force: true, v: true })
          .catch((err) => {
            if (!isGoneOrGoing(err)) throw err;
          }),
      ),
    );
    // The build's workspace volume and its own network (the steps' default), which a worker
    // killed mid-build leaves behind; the containers using them are gone by now.
    const [volumes, networks] = await Promise.all([
      this.docker.listVolumes({ filters }).catch(() => ({ Volumes: [] })),
      this.docker.listNetworks({ filters }).catch(() => []),
    ]);
    await Promise.all([
      ...(volumes.Volumes ?? []).map((v) =>
        this.docker
          .getVolume(v.Name)
          .remove()
          .catch(() => {}),
      ),
      ...networks.map((n) =>
        this.docker
          .getNetwork(n.Id)
          .remove()
          .catch(() => {}),
      ),
    ]);
    return true;
  }

  async close(): Promise<void> {
    await this.standby?.close();
  }
}

function socketGroupOf(socketPath: string): number | undefined {
  try {
    return statSync(socketPath).gid;
  } catch {
    return undefined;
  }
}
