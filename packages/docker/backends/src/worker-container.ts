import { CRI_ENV, criSocketPath } from "@wharf/executor-cri/settings";
import { formatBuildId } from "@wharf/proto/build-id";
import { WHARF_LABELS, WORKER_COMPONENT } from "@wharf/proto/labels";
import { WORKER_ENV } from "@wharf/proto/worker-env";
import { waitingStandbyName } from "@wharf/proto/worker-identity";
import { STANDBY_FLAG } from "@wharf/proto/worker-standby";
import { type WorkerRuntimeOptions, type WorkerSpec, workerEnv } from "@wharf/provisioner";
import type Docker from "dockerode";

export const LABEL_INSTANCE = WHARF_LABELS.instance;
export const LABEL_BUILD_REF = WHARF_LABELS.buildId;
export const LABEL_PROJECT_ID = WHARF_LABELS.projectId;
export const LABEL_WORKER_ID = WHARF_LABELS.workerId;
export const LABEL_GRPC_PORT = WHARF_LABELS.grpcPort;
/** Tells the worker container apart from the step containers that share its worker-id label. */
export const LABEL_COMPONENT = WHARF_LABELS.component;

export interface DockerWorkerOptions extends WorkerRuntimeOptions {
  /** Image with git and the `wharf` worker (WHARF_WORKER_IMAGE). */
  image: string;
  /** Command in the image (WHARF_WORKER_CMD); default: the image's own (wharf/worker: `wharf worker serve`). */
  cmd?: string[];
  /** Network mode of the worker container (default "host"). */
  network?: string;
  /** Extra binds "host:container[:ro]" (WHARF_WORKER_BINDS). */
  binds?: string[];
  /** Engine socket, mounted into the worker so it can run step containers. */
  socketPath?: string;
  /** Group owning the socket, added to the worker's groups: the worker image runs as a non-root user. */
  socketGroup?: number;
  /** Host the worker's gRPC port is reached at (default 127.0.0.1). */
  advertiseHost?: string;
  /**
   * Address the worker binds (default: on the host network the advertised host, so steps on
   * their build's network cannot reach it through the bridge's gateway; else 0.0.0.0 inside
   * the container, published on the advertised host only).
   */
  bindHost?: string;
  /**
   * Step executor of the worker (default "docker": sibling containers via the engine socket;
   * "cri": containers of the CRI runtime at `cri`, see criPlacement).
   */
  executor?: "docker" | "local" | "cri";
  /** The CRI runtime of a "cri" worker's steps. */
  cri?: CriWorkerSettings;
}

export interface CriWorkerSettings {
  /** The runtime's socket, `unix:///...` (WHARF_CRI_ENDPOINT), mounted into the worker. */
  endpoint: string;
  /** Host directory of the builds' workspaces and logs (WHARF_CRI_WORK_ROOT), mounted at its own path. */
  workRoot: string;
}

/** What the step executor adds to the worker container: env, binds, host config. */
interface StepRuntimePlacement {
  env: Record<string, string>;
  binds: string[];
  hostConfig: Docker.HostConfig;
  user?: string;
}

/** A worker running its steps as sibling containers on the engine that runs it (and the local executor's). */
function enginePlacement(opts: DockerWorkerOptions): StepRuntimePlacement {
  const socket = opts.socketPath ?? "/var/run/docker.sock";
  return {
    env: { DOCKER_HOST: `unix://${socket}` },
    binds: [`${socket}:${socket}`],
    hostConfig: opts.socketGroup !== undefined ? { GroupAdd: [String(opts.socketGroup)] } : {},
  };
}

/**
 * A worker running its steps on a CRI runtime of the engine's host. The runtime bind-mounts
 * host paths into the steps and writes their logs to host files, so the work root is mounted
 * at its own path. The worker runs as root in its container, in the host's PID and UTS
 * namespaces:
 * - root: the runtime writes the step logs as root (0640), and steps, root in their images,
 *   leave root-owned directories in the workspace, which the worker removes after the build: a
 *   supplementary group would open the socket, not those (EACCES, seen). Whoever holds a CRI
 *   socket may run any container on the host, privileged ones included: root in the worker
 *   container adds little to that.
 * - host PID and UTS: sandboxes carry their worker's host, PID namespace, pid and start time
 *   (executor-cri's owner.ts), and a worker's first build removes those of owners of its host
 *   and namespace that are gone. In a PID namespace of its own a worker judges no other, and
 *   what a killed worker left would stay until the runtime's host is cleaned by hand.
 */
function criPlacement(opts: DockerWorkerOptions): StepRuntimePlacement {
  const cri = opts.cri;
  const socket = cri ? criSocketPath(cri.endpoint) : undefined;
  if (!cri || !socket)
    throw new Error(
      `a cri worker container needs a unix:// CRI endpoint to mount, got "${cri?.endpoint ?? ""}"`,
    );
  return {
    env: { [CRI_ENV.endpoint]: cri.endpoint, [CRI_ENV.workRoot]: cri.workRoot },
    binds: [`${socket}:${socket}`, `${cri.workRoot}:${cri.workRoot}`],
    hostConfig: { PidMode: "host", UTSMode: "host" },
    user: "0:0",
  };
}

export interface WorkerContainerPorts {
  grpc: number;
  http: number;
}

/**
 * The whole environment of one build's worker: the contract's (`workerEnv`) and what its step
 * executor needs. A cold worker container is created with it; a standby is handed it on stdin.
 */
export function workerContainerEnv(
  spec: WorkerSpec,
  opts: DockerWorkerOptions,
  ports: WorkerContainerPorts,
): Record<string, string> {
  return {
    ...workerEnv(spec, opts, {
      executor: opts.executor ?? "docker",
      host: bindHostOf(opts),
      port: ports.grpc,
      httpPort: ports.http,
      dataDir: WORKER_DATA_DIR,
    }),
    ...stepPlacement(opts).env,
  };
}

/** See DockerWorkerOptions.bindHost. */
function bindHostOf(opts: DockerWorkerOptions): string {
  const network = opts.network ?? "host";
  return opts.bindHost ?? (network === "host" ? (opts.advertiseHost ?? "127.0.0.1") : "0.0.0.0");
}

/** Where a worker container keeps its build's results (WHARF_DATA_DIR). */
const WORKER_DATA_DIR = "/var/lib/wharf-worker";

function stepPlacement(opts: DockerWorkerOptions): StepRuntimePlacement {
  return (opts.executor ?? "docker") === "cri" ? criPlacement(opts) : enginePlacement(opts);
}

/**
 * What every worker container shares, cold or standby: image, user, mounts, network and the
 * published gRPC port (off the host network).
 */
function containerBase(
  opts: DockerWorkerOptions,
  ports: WorkerContainerPorts,
): Omit<Docker.ContainerCreateOptions, "Env" | "Labels" | "name"> {
  const network = opts.network ?? "host";
  const steps = stepPlacement(opts);
  const grpcKey = `${ports.grpc}/tcp`;
  const published = network !== "host";
  return {
    Image: opts.image,
    ...(opts.cmd ? { Cmd: opts.cmd } : {}),
    ...(steps.user ? { User: steps.user } : {}),
    ...(published ? { ExposedPorts: { [grpcKey]: {} } } : {}),
    HostConfig: {
      NetworkMode: network,
      Binds: [...steps.binds, ...(opts.binds ?? [])],
      ...steps.hostConfig,
      ...(published
        ? {
            PortBindings: {
              [grpcKey]: [{ HostIp: opts.advertiseHost ?? "127.0.0.1", HostPort: String(ports.grpc) }],
            },
          }
        : {}),
    },
  };
}

/**
 * The create-container body for one worker. Pure: everything the engine needs,
 * nothing fetched, so it is unit-tested without Docker.
 */
export function workerContainerSpec(
  spec: WorkerSpec,
  opts: DockerWorkerOptions,
  ports: WorkerContainerPorts,
): Docker.ContainerCreateOptions {
  const env = workerContainerEnv(spec, opts, ports);
  return {
    name: spec.name,
    ...containerBase(opts, ports),
    Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
    Labels: workerLabels(spec, ports.grpc),
  };
}

/**
 * A standby worker container (`wharf worker serve --standby`, see @wharf/proto/worker-standby):
 * the worker's command with the flag, no build in its environment or labels (only the instance
 * it is kept for and its gRPC port), and a stdin that takes one attach and closes when that
 * ends: the build's environment comes through it, and a provisioner that went away ends it.
 * `cmd` is the worker's command (the image's own when WHARF_WORKER_CMD is unset).
 */
export function standbyContainerSpec(
  opts: DockerWorkerOptions,
  ports: WorkerContainerPorts,
  standby: { id: string; instance: string; cmd: string[] },
): Docker.ContainerCreateOptions {
  // What it needs before its build: its executor (loaded ahead) and the ports it holds.
  const env = {
    ...stepPlacement(opts).env,
    [WORKER_ENV.executor]: opts.executor ?? "docker",
    [WORKER_ENV.host]: bindHostOf(opts),
    [WORKER_ENV.port]: String(ports.grpc),
    [WORKER_ENV.httpPort]: String(ports.http),
  };
  return {
    name: waitingStandbyName(standby.id),
    ...containerBase(opts, ports),
    Cmd: [...standby.cmd, STANDBY_FLAG],
    Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
    Labels: {
      [LABEL_INSTANCE]: standby.instance,
      [LABEL_GRPC_PORT]: String(ports.grpc),
      [LABEL_COMPONENT]: WORKER_COMPONENT,
      [WHARF_LABELS.standby]: "true",
    },
    OpenStdin: true,
    StdinOnce: true,
    AttachStdin: true,
  };
}

/** The contract's labels (instance, build-ref, project-id, worker-id, grpc-port). */
export function workerLabels(spec: WorkerSpec, grpcPort: number): Record<string, string> {
  return {
    [LABEL_INSTANCE]: spec.request.instance,
    [LABEL_BUILD_REF]: formatBuildId(spec.request.buildId),
    [LABEL_PROJECT_ID]: spec.request.projectId === null ? "" : String(spec.request.projectId),
    [LABEL_WORKER_ID]: spec.workerId,
    [LABEL_GRPC_PORT]: String(grpcPort),
    [LABEL_COMPONENT]: WORKER_COMPONENT,
  };
}

/** "Exited (137) 2 seconds ago" → 137. */
export function exitCodeFromStatus(status: string): number | null {
  const m = /^Exited \((-?\d+)\)/.exec(status);
  return m ? Number(m[1]) : null;
}
