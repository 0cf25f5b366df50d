import path from "node:path";
import type { V1ResourceRequirements, V1Toleration } from "@kubernetes/client-node";
import { ConfigError, type Env, isLoopbackHost } from "@wharf/config";
import { passOn, readSettings, type SettingValues, setting } from "@wharf/config/settings";
import { CRI_ENV, CRI_SETTINGS, CRI_WORK_ROOT_NAME, criSocketPath } from "@wharf/executor-cri/settings";
import { compileJanitorOptions } from "@wharf/executor-docker/janitor-options";
import { KUBERNETES_EXECUTOR_SETTINGS } from "@wharf/executor-kubernetes/settings";
import { compileTracingSettings, TRACING_SETTINGS, type TracingSettings } from "@wharf/tracing";
import { WORKER_SETTINGS } from "@wharf/worker-service/settings";
import type { JanitorScheduleSettings } from "./janitor-schedule.js";
import {
  KUBERNETES_BACKEND_SETTINGS,
  PROVISIONER_CLIENT_SETTINGS,
  PROVISIONER_SETTINGS,
} from "./settings.js";

type Settings = SettingValues<typeof PROVISIONER_SETTINGS>;

export interface LocalBackendSettings {
  kind: "local";
  /** argv of the worker (WHARF_WORKER_CMD); undefined = this repo's `wharf worker serve`. */
  command?: string[];
  /** Step executor inside local workers (WHARF_WORKER_EXECUTOR). */
  executor: "local" | "docker" | "cri";
  /** Workers kept started ahead of builds (WHARF_STANDBY_WORKERS); none with WHARF_WORKER_CMD. */
  standbyWorkers: number;
  /** The docker and cri executors' settings (FORWARDED_HOST_EXECUTOR_ENV), passed on to every worker. */
  workerEnv: Record<string, string>;
}

export interface DockerBackendSettings {
  kind: "docker";
  image: string;
  command?: string[];
  network: string;
  binds: string[];
  socketPath: string;
  advertiseHost: string;
  /** Step executor inside worker containers (WHARF_WORKER_EXECUTOR): sibling containers, or a CRI runtime's. */
  executor: "docker" | "cri";
  /** With the cri executor: the runtime's socket and the host work root, mounted into every worker. */
  cri?: { endpoint: string; workRoot: string };
  /** Worker containers kept started ahead of builds (WHARF_STANDBY_WORKERS); none with WHARF_WORKER_CMD. */
  standbyWorkers: number;
  /** The docker and cri executors' settings (FORWARDED_HOST_EXECUTOR_ENV), passed on to every worker. */
  workerEnv: Record<string, string>;
}

/**
 * The docker backend's work root of cri workers when WHARF_CRI_WORK_ROOT is unset: the host's
 * /tmp/wharf-cri-builds, where a worker process of that host puts it by default too (they share
 * it, and each removes what a killed one left).
 */
export const DEFAULT_DOCKER_CRI_WORK_ROOT = `/tmp/${CRI_WORK_ROOT_NAME}`;

/**
 * Settings of the docker and cri executors (declared by the worker and the cri executor) that
 * the provisioner passes on to the workers of its local and docker backends as they are: the
 * steps' network, the registry `docker` steps push to, the CRI runtime's socket. Not to
 * Kubernetes pods, whose spec would hold the password.
 */
export const FORWARDED_HOST_EXECUTOR_ENV = [
  WORKER_SETTINGS.dockerNetwork,
  WORKER_SETTINGS.registryUrl,
  WORKER_SETTINGS.registryUser,
  WORKER_SETTINGS.registryPassword,
  CRI_SETTINGS.endpoint,
  CRI_SETTINGS.network,
  CRI_SETTINGS.workRoot,
];

/**
 * The docker executor's host files (declared by the worker): WHARF_SECRETS_DIR, its stand-in
 * for Kubernetes Secrets, and WHARF_APPEND_CERT_FILE, the certificate `append-cert` adds. Set on
 * the provisioner as paths of its host: a local worker gets them as they are; a docker worker
 * gets them mounted read-only at WORKER_SECRETS_DIR / WORKER_APPEND_CERT_FILE, where its env
 * points. The worker image's user (uid 1000) must be able to read them.
 */
export const WORKER_SECRETS_DIR = "/run/wharf/secrets";
export const WORKER_APPEND_CERT_FILE = "/run/wharf/append-cert.crt";

function workerHostFiles(
  env: Env,
  cwd: string,
  backend: "local" | "docker",
): { workerEnv: Record<string, string>; binds: string[] } {
  const out = { workerEnv: {} as Record<string, string>, binds: [] as string[] };
  for (const [file, inContainer] of [
    [WORKER_SETTINGS.secretsDir, WORKER_SECRETS_DIR],
    [WORKER_SETTINGS.appendCertFile, WORKER_APPEND_CERT_FILE],
  ] as const) {
    const value = file.read(env);
    if (!value) continue;
    const onHost = path.resolve(cwd, value);
    if (backend === "local") out.workerEnv[file.env] = onHost;
    else {
      if (onHost.includes(":") || onHost.includes(","))
        throw new ConfigError(
          `${file.env} must be a path without ":" or "," to be mounted into docker workers`,
        );
      out.workerEnv[file.env] = inContainer;
      out.binds.push(`${onHost}:${inContainer}:ro`);
    }
  }
  return out;
}

export interface KubernetesBackendSettings {
  kind: "kubernetes";
  image: string;
  command?: string[];
  /** Unset: the kubeconfig context's (in a pod: the pod's own namespace). */
  namespace?: string;
  serviceAccountName?: string;
  cloneImage?: string;
  sshKeySecret?: string;
  /** Step executor inside worker pods. */
  executor: "kubernetes" | "local" | "docker";
  resources?: V1ResourceRequirements;
  nodeSelector?: Record<string, string>;
  tolerations?: V1Toleration[];
  startTimeoutMs: number;
  /** The kubernetes executor's settings, passed on to every worker pod. */
  workerEnv: Record<string, string>;
}

/**
 * OpenTelemetry's standard settings, forwarded to every worker (local workers inherit them):
 * a worker traces its build when the provisioner has an OTLP endpoint.
 */
export const FORWARDED_TRACING_ENV = Object.values(TRACING_SETTINGS);

/** Settings of the kubernetes executor (and the worker's step caches) that the provisioner forwards to worker pods as they are. */
export const FORWARDED_EXECUTOR_ENV = [
  ...Object.values(KUBERNETES_EXECUTOR_SETTINGS),
  WORKER_SETTINGS.cacheMaxBytes,
  WORKER_SETTINGS.defaultBranch,
];

/** Everything the provisioner service needs, with defaults applied and durations in ms. */
export interface CompiledOptions {
  /** OpenTelemetry's standard OTEL_* settings: traces over OTLP when an endpoint is set. */
  tracing: TracingSettings;
  host: string;
  port: number;
  /** Unset = no auth. */
  token?: string;
  /** postgres://…; unset = PGlite in `<dataDir>/db`. */
  databaseUrl?: string;
  dataDir: string;
  maxWorkers: number;
  pollIntervalMs: number;
  /** WHARF_WORKER_RETENTION: ended rows kept (a repeated POST of their build gets them back). */
  retentionMs: number;
  workerToken?: string;
  /** WHARF_BUILD_TIMEOUT: every build this provisioner starts fails once it ran this long. */
  buildTimeoutMs: number;
  workerStopGraceMs: number;
  shutdownGraceMs: number;
  /** WHARF_PROVISIONER_MAX_URL: longest request path and query in bytes (414 beyond). */
  maxUrlLength: number;
  /** WHARF_PROVISIONER_TRIGGER_RATE: POST /api/worker per token and minute (429 beyond); 0 = no limit. */
  triggerRate: number;
  backend: LocalBackendSettings | DockerBackendSettings | KubernetesBackendSettings;
  /** WHARF_JANITOR_INTERVAL: `wharf janitor` on the backend's engine on a schedule; unset: never. */
  janitor?: JanitorScheduleSettings;
}

/** "a b c" or a JSON array, for a command line in one env variable (WHARF_WORKER_CMD's kind). */
export function parseCommand(name: string, text: string | undefined): string[] | undefined {
  return setting.command(name, { doc: name }).read({ [name]: text });
}

function kubernetesSettings(env: Env, command: string[] | undefined): KubernetesBackendSettings {
  const k = readSettings(KUBERNETES_BACKEND_SETTINGS, env);
  if (!k.workerImage) {
    throw new ConfigError(
      `${KUBERNETES_BACKEND_SETTINGS.workerImage.env} is required with WHARF_PROVISIONER_BACKEND=kubernetes`,
    );
  }
  const workerEnv = { ...passOn(FORWARDED_EXECUTOR_ENV, env), ...passOn(FORWARDED_TRACING_ENV, env) };
  const pick = (key: string, v: unknown) => (v === undefined ? {} : { [key]: v });
  return {
    kind: "kubernetes",
    image: k.workerImage,
    executor: k.workerExecutor,
    startTimeoutMs: k.startTimeout,
    workerEnv,
    ...pick("command", command),
    ...pick("namespace", k.namespace),
    ...pick("serviceAccountName", k.serviceAccount),
    ...pick("cloneImage", k.cloneImage),
    ...pick("sshKeySecret", k.gitSshSecret),
    ...pick("resources", k.resources),
    ...pick("nodeSelector", k.nodeSelector),
    ...pick("tolerations", k.tolerations),
  };
}

/**
 * The CRI runtime of the docker backend's cri workers: its socket and the work root are host
 * paths mounted into each worker container at the same path (the runtime mounts host paths
 * into the steps), so both must be absolute paths of the engine's host.
 */
function dockerCriSettings(env: Env): NonNullable<DockerBackendSettings["cri"]> {
  const cri = readSettings(CRI_SETTINGS, env);
  if (!criSocketPath(cri.endpoint)) {
    throw new ConfigError(
      `${CRI_ENV.endpoint} must be unix:///<socket path> with WHARF_PROVISIONER_BACKEND=docker and WHARF_WORKER_EXECUTOR=cri (the socket is mounted into worker containers), got "${cri.endpoint}"`,
    );
  }
  const workRoot = cri.workRoot ?? DEFAULT_DOCKER_CRI_WORK_ROOT;
  if (!path.isAbsolute(workRoot)) {
    throw new ConfigError(
      `${CRI_ENV.workRoot} must be an absolute path of the engine's host, got "${workRoot}"`,
    );
  }
  return { endpoint: cri.endpoint, workRoot };
}

function localBackend(env: Env, s: Settings, cwd: string): LocalBackendSettings {
  const executor = s.workerExecutor ?? "local";
  // The cri workers' sandbox network, checked here so a typo fails the provisioner, not every build.
  if (executor === "cri") readSettings(CRI_SETTINGS, env);
  return {
    kind: "local",
    executor,
    standbyWorkers: s.standbyWorkers,
    ...(s.workerCommand ? { command: s.workerCommand } : {}),
    workerEnv: {
      ...passOn(FORWARDED_HOST_EXECUTOR_ENV, env),
      ...passOn(FORWARDED_TRACING_ENV, env),
      ...workerHostFiles(env, cwd, "local").workerEnv,
    },
  };
}

function dockerBackend(env: Env, s: Settings, cwd: string): DockerBackendSettings {
  if (!s.workerImage)
    throw new ConfigError("WHARF_WORKER_IMAGE is required with WHARF_PROVISIONER_BACKEND=docker");
  const executor = s.workerExecutor ?? "docker";
  if (executor !== "docker" && executor !== "cri") {
    throw new ConfigError(
      `WHARF_WORKER_EXECUTOR must be docker or cri with WHARF_PROVISIONER_BACKEND=docker, got "${executor}"`,
    );
  }
  const hostFiles = workerHostFiles(env, cwd, "docker");
  return {
    kind: "docker",
    image: s.workerImage,
    ...(s.workerCommand ? { command: s.workerCommand } : {}),
    network: s.workerNetwork,
    binds: [...s.workerBinds, ...hostFiles.binds],
    socketPath: s.dockerSocket,
    advertiseHost: s.advertiseHost,
    executor,
    ...(executor === "cri" ? { cri: dockerCriSettings(env) } : {}),
    // A command of the operator's need not know the standby flag.
    standbyWorkers: s.workerCommand ? 0 : s.standbyWorkers,
    workerEnv: {
      ...passOn(FORWARDED_HOST_EXECUTOR_ENV, env),
      ...passOn(FORWARDED_TRACING_ENV, env),
      ...hostFiles.workerEnv,
    },
  };
}

/**
 * The provisioner's one place that reads the environment: PROVISIONER_SETTINGS (and with the
 * kubernetes backend KUBERNETES_BACKEND_SETTINGS), documented in docs/settings.md. Here is what
 * ties settings together: the listen address to the token, the executor to the backend, the
 * shutdown grace to the workers' stop grace, and what is passed on to workers.
 */
export function compileOptions(env: Env, cwd = process.cwd()): CompiledOptions {
  const s = readSettings(PROVISIONER_SETTINGS, env);
  const backend =
    s.backend === "local"
      ? localBackend(env, s, cwd)
      : s.backend === "docker"
        ? dockerBackend(env, s, cwd)
        : kubernetesSettings(env, s.workerCommand);
  // Without a token the API (which hands out the workers' gRPC tokens) is this machine's only.
  const host = s.host ?? (s.token ? "0.0.0.0" : "127.0.0.1");
  if (!s.token && !isLoopbackHost(host)) {
    throw new ConfigError(
      `WHARF_PROVISIONER_HOST=${host} needs WHARF_PROVISIONER_TOKEN: without it anyone who reaches the port could start builds`,
    );
  }
  return {
    tracing: compileTracingSettings(env),
    host,
    port: s.port,
    ...(s.token ? { token: s.token } : {}),
    ...(s.databaseUrl ? { databaseUrl: s.databaseUrl } : {}),
    dataDir: path.resolve(cwd, s.dataDir),
    maxWorkers: s.maxWorkers,
    pollIntervalMs: s.pollInterval,
    retentionMs: s.retention,
    ...(s.workerToken ? { workerToken: s.workerToken } : {}),
    buildTimeoutMs: s.buildTimeout,
    workerStopGraceMs: s.workerStopGrace,
    shutdownGraceMs: s.shutdownGrace ?? s.workerStopGrace + 5_000,
    maxUrlLength: s.maxUrl,
    triggerRate: s.triggerRate,
    backend,
    ...janitorSchedule(env, s, backend),
  };
}

function janitorSchedule(
  env: Env,
  s: Settings,
  backend: CompiledOptions["backend"],
): { janitor?: JanitorScheduleSettings } {
  const intervalMs = s.janitorInterval;
  if (!intervalMs || intervalMs <= 0) return {};
  if (backend.kind === "kubernetes")
    throw new ConfigError(
      "WHARF_JANITOR_INTERVAL cleans a Docker/Podman engine: not with the kubernetes backend",
    );
  return {
    janitor: {
      intervalMs,
      ...(backend.kind === "docker" ? { socketPath: backend.socketPath } : {}),
      options: compileJanitorOptions({}, env),
    },
  };
}

/** Where the CLI finds a running provisioner: WHARF_PROVISIONER_URL and _TOKEN. */
export function compileClientOptions(env: Env): { url: string; token?: string } {
  const { url, token } = readSettings(PROVISIONER_CLIENT_SETTINGS, env);
  return { url, ...(token ? { token } : {}) };
}
