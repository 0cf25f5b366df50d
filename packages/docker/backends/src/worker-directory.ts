import type { Logger } from "@wharf/config";
import { WHARF_LABELS, WORKER_COMPONENT } from "@wharf/proto/labels";
import { isWaitingStandby } from "@wharf/proto/worker-identity";
import {
  ListedBuildIds,
  type LiveWorker,
  type WorkerDirectory,
  WorkerDirectoryError,
  type WorkerState,
} from "@wharf/relay";
import type Docker from "dockerode";
import { containersOfWorker, listWorkerContainers } from "./listed-workers.js";

export const WORKER_ID_LABEL = WHARF_LABELS.workerId;
export const BUILD_REF_LABEL = WHARF_LABELS.buildId;
export const GRPC_PORT_LABEL = WHARF_LABELS.grpcPort;
export const INSTANCE_LABEL = WHARF_LABELS.instance;
/** `worker` on worker containers; their step containers carry the worker id too, not this. */
export const COMPONENT_LABEL = WHARF_LABELS.component;

export interface DockerDirectoryOptions {
  /** Only workers of this wharf instance (label wharf.iver.com/instance). */
  instance?: string;
  docker?: Docker;
  /** Where a worker container without a valid build-ref label is told of. */
  log?: Logger;
}

/**
 * Worker containers found by their component label; whose each is, by its labels or (a
 * worker that began as a standby) its name (@wharf/proto/worker-identity). A host-networked
 * worker is reached on 127.0.0.1:<grpc-port>; any other on its container IP.
 */
export class DockerDirectory implements WorkerDirectory {
  readonly kind = "docker";
  private docker: Promise<Docker> | undefined;
  /** When the last `list` began (ms since the epoch): a watch replays the engine's events since. */
  private listedAt: number | undefined;
  private readonly buildIds: ListedBuildIds;

  constructor(private readonly opts: DockerDirectoryOptions = {}) {
    // A standby-born worker's id is its name's digits, always a valid build id: only a label is told of.
    this.buildIds = new ListedBuildIds(`label ${BUILD_REF_LABEL}`, opts.log);
  }

  // dockerode is loaded on first use (~12 MB of RSS an aggregator on another directory need not pay).
  private client(): Promise<Docker> {
    this.docker ??= this.opts.docker
      ? Promise.resolve(this.opts.docker)
      : import("dockerode").then(({ default: Dockerode }) => new Dockerode());
    return this.docker;
  }

  // By component: a step container carries its worker's id, and an exited failing step must
  // not be taken for a worker that failed to start. Not by worker id: a worker that began as
  // a standby has none (see worker-identity).
  private workerLabels(): string[] {
    const labels = [`${COMPONENT_LABEL}=${WORKER_COMPONENT}`];
    if (this.opts.instance) labels.push(`${INSTANCE_LABEL}=${this.opts.instance}`);
    return labels;
  }

  async list(): Promise<LiveWorker[]> {
    const startedAt = Date.now();
    let docker: Docker;
    let containers: Awaited<ReturnType<typeof listWorkerContainers>>;
    try {
      docker = await this.client();
      containers = await listWorkerContainers(docker, this.workerLabels());
      this.listedAt = startedAt;
    } catch (err) {
      throw new WorkerDirectoryError(`docker: listing worker containers: ${(err as Error).message}`, {
        cause: err,
      });
    }
    const listed = await Promise.all(
      containers.map(async ({ c, identity }) => {
        const { workerId } = identity;
        const buildId = this.buildIds.fromText(workerId, identity.buildIdText);
        if (buildId === undefined) return [];
        const port = c.Labels[GRPC_PORT_LABEL] ?? "";
        return [
          {
            workerId,
            buildId,
            address: port && c.State === "running" ? await addressOf(docker, c, port) : null,
            status: stateOf(c),
          },
        ];
      }),
    );
    return listed.flat();
  }

  /**
   * Resolves at the engine's next event of a worker container (created, started, renamed (a
   * standby taken by a build), exited, removed): the engine's event stream, replayed from when the last `list` began so that a
   * worker which came between that list and this call is not missed (the engine's clock:
   * one machine's, for a local socket). Rejects when the stream fails or ends.
   */
  async changed(signal: AbortSignal): Promise<void> {
    const docker = await this.client();
    signal.throwIfAborted();
    const since = ((this.listedAt ?? Date.now()) / 1000).toFixed(3);
    const stream = (await docker.getEvents({
      since,
      filters: { type: ["container"], event: [...WORKER_EVENTS], label: this.workerLabels() },
    } as unknown as Docker.GetEventsOptions)) as NodeJS.ReadableStream & { destroy(): void };
    return new Promise<void>((resolve, reject) => {
      const finish = (err?: unknown) => {
        signal.removeEventListener("abort", aborted);
        stream.destroy();
        if (err === undefined) resolve();
        else reject(err);
      };
      const aborted = () => finish(signal.reason);
      if (signal.aborted) return aborted();
      signal.addEventListener("abort", aborted, { once: true });
      // Podman 4.3 also sends events of containers that carry only some of the labels (a step
      // container of a worker), which Docker's filter leaves out: each event is checked here too.
      let partial = "";
      stream.on("data", (chunk: Buffer | string) => {
        const lines = (partial + chunk.toString()).split("\n");
        partial = lines.pop() ?? "";
        if (lines.some((line) => line.trim() && this.isWorkerEvent(line))) finish();
      });
      stream.once("error", (err) => finish(err));
      stream.once("end", () => finish(new WorkerDirectoryError("docker: the event stream ended")));
    });
  }

  /** Whether an event (a line of the engine's stream) is of a container with all the worker labels. */
  private isWorkerEvent(line: string): boolean {
    let attributes: Record<string, string | undefined>;
    try {
      attributes =
        (JSON.parse(line) as { Actor?: { Attributes?: Record<string, string> } }).Actor?.Attributes ?? {};
    } catch {
      return true; // unreadable: a change for all we know, and the list will tell
    }
    // A standby no build took yet is no worker of any build: its start or removal changes nothing.
    if (isWaitingStandby({ Labels: attributes as Record<string, string>, Names: [attributes.name ?? ""] }))
      return false;
    return this.workerLabels().every((spec) => {
      const at = spec.indexOf("=");
      if (at < 0) return attributes[spec] !== undefined;
      return attributes[spec.slice(0, at)] === spec.slice(at + 1);
    });
  }

  async remove(workerId: string): Promise<void> {
    const docker = await this.client();
    for (const c of (await containersOfWorker(docker, workerId)).all) {
      await docker
        .getContainer(c.Id)
        .remove({ force: true })
        .catch((err: { statusCode?: number }) => {
          if (err.statusCode !== 404) throw err;
        });
    }
  }
}

/**
 * The container events that change what `list` answers: created, started, renamed, exited,
 * removed. Podman 4.3's filter takes its own names for the last two ("died", "remove"; it
 * matches none for Docker's "die" and "destroy"), which Docker's filter matches nothing with.
 */
const WORKER_EVENTS = ["create", "start", "rename", "die", "died", "destroy", "remove"] as const;

/**
 * A container as the engine's list answers. Docker's always has `HostConfig.NetworkMode`;
 * Podman's compat list (4.3) has no `HostConfig` at all, and `NetworkSettings.Networks` is null
 * for a container on the host's network or on none.
 */
type ListedContainer = Omit<Docker.ContainerInfo, "HostConfig"> & {
  HostConfig?: Docker.ContainerInfo["HostConfig"];
};

/** A running worker's gRPC address: 127.0.0.1 on the host's network, else its first network's IP. */
async function addressOf(docker: Docker, c: ListedContainer, port: string): Promise<string | null> {
  const mode = c.HostConfig ? c.HostConfig.NetworkMode : await inspectedNetworkMode(docker, c.Id);
  if (mode === "host") return `127.0.0.1:${port}`;
  for (const net of Object.values(c.NetworkSettings?.Networks ?? {})) {
    if (net.IPAddress) return `${net.IPAddress}:${port}`;
  }
  return null;
}

/**
 * The network mode from the container's own inspect, for a list that did not say it
 * (Podman's): one request per running worker, only on such an engine. A container removed
 * since the list has no address.
 */
async function inspectedNetworkMode(docker: Docker, id: string): Promise<string | undefined> {
  try {
    return (await docker.getContainer(id).inspect()).HostConfig.NetworkMode;
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return undefined;
    throw new WorkerDirectoryError(`docker: inspecting worker container ${id}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

function stateOf(c: ListedContainer): WorkerState {
  switch (c.State) {
    case "created":
      return "starting";
    case "running":
    case "restarting":
    case "paused":
      return "running";
    case "exited":
      return /Exited \(0\)/.test(c.Status) ? "finished" : "failed";
    case "dead":
      return "failed";
    default:
      return "unknown";
  }
}
