import path from "node:path";
import type { V1ResourceRequirements, V1Toleration } from "@kubernetes/client-node";
import {
  ConfigError,
  type Env,
  envDurationMs,
  envInt,
  envOptional,
  envString,
  isLoopbackHost,
} from "@wharf/config";
import {
  CRI_ENV,
  CRI_NETWORKS,
  CRI_WORK_ROOT_NAME,
  criSocketPath,
  DEFAULT_CRI_ENDPOINT,
} from "@wharf/executor-cri/settings";
import { compileJanitorOptions } from "@wharf/executor-docker/janitor-options";
import { DEFAULT_MAX_URL_LENGTH, DEFAULT_RETENTION_MS, DEFAULT_TRIGGER_RATE } from "@wharf/provisioner";
import { compileTracingSettings, type TracingSettings } from "@wharf/tracing";
import type { JanitorScheduleSettings } from "./janitor-schedule.js";

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
 * Settings of the docker and cri executors (declared by the worker) that the provisioner
 * passes on to the workers of its local and docker backends as they are: the steps' network,
 * the registry `docker` steps push to, the CRI runtime's socket. Not to Kubernetes pods, whose
 * spec would hold the password.
 */
export const FORWARDED_HOST_EXECUTOR_ENV = [
  "WHARF_DOCKER_NETWORK",
  "WHARF_REGISTRY_URL",
  "WHARF_REGISTRY_USER",
  "WHARF_REGISTRY_PASSWORD",
  CRI_ENV.endpoint,
  CRI_ENV.network,
  CRI_ENV.workRoot,
] as const;

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
  for (const [key, inContainer] of [
    ["WHARF_SECRETS_DIR", WORKER_SECRETS_DIR],
    ["WHARF_APPEND_CERT_FILE", WORKER_APPEND_CERT_FILE],
  ] as const) {
    const value = envOptional(env, key);
    if (!value) continue;
    const onHost = path.resolve(cwd, value);
    if (backend === "local") out.workerEnv[key] = onHost;
    else {
      if (onHost.includes(":") || onHost.includes(","))
        throw new ConfigError(`${key} must be a path without ":" or "," to be mounted into docker workers`);
      out.workerEnv[key] = inContainer;
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
export const FORWARDED_TRACING_ENV = [
  "OTEL_EXPORTER_OTLP_ENDPOINT",
  "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
  "OTEL_BSP_SCHEDULE_DELAY",
  "OTEL_SDK_DISABLED",
] as const;

/** Settings of the kubernetes executor that the provisioner forwards to worker pods as they are. */
export const FORWARDED_EXECUTOR_ENV = [
  "WHARF_K8S_WORKSPACE_IMAGE",
  "WHARF_K8S_WORKSPACE_SIZE",
  "WHARF_K8S_STORAGE_CLASS",
  "WHARF_K8S_HELM_IMAGE",
  "WHARF_K8S_KUBECTL_IMAGE",
  "WHARF_K8S_KANIKO_IMAGE",
  "WHARF_K8S_NUGET_IMAGE",
  "WHARF_K8S_START_TIMEOUT",
  "WHARF_K8S_CACHE_CLAIM",
  "WHARF_K8S_CACHE_SIZE",
  "WHARF_CACHE_MAX_BYTES",
  "WHARF_DEFAULT_BRANCH",
] as const;

/** WHARF_BUILD_TIMEOUT's default: one hour (wharf-cmd has no build timeout; a hung build must not hold a worker for ever). */
export const DEFAULT_BUILD_TIMEOUT_MS = 60 * 60_000;

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

/** "a b c" or a JSON array, for a command line in one env variable. */
export function parseCommand(name: string, text: string | undefined): string[] | undefined {
  if (text === undefined || text.trim() === "") return undefined;
  const t = text.trim();
  if (t.startsWith("[")) {
    let v: unknown;
    try {
      v = JSON.parse(t);
    } catch (err) {
      throw new ConfigError(`${name} is not a JSON array: ${(err as Error).message}`, { cause: err });
    }
    if (!Array.isArray(v) || v.length === 0 || !v.every((s) => typeof s === "string")) {
      throw new ConfigError(`${name} must be a non-empty JSON array of strings`);
    }
    return v as string[];
  }
  return t.split(/\s+/);
}

function jsonValue<T>(env: Env, name: string, check: (v: unknown) => boolean, what: string): T | undefined {
  const text = envOptional(env, name);
  if (text === undefined) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`${name} is not JSON: ${(err as Error).message}`, { cause: err });
  }
  if (!check(v)) throw new ConfigError(`${name} must be ${what}`);
  return v as T;
}

/** The set ones of `names`, to pass on to workers as they are. */
function forwarded(env: Env, names: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of names) {
    const v = envOptional(env, name);
    if (v !== undefined) out[name] = v;
  }
  return out;
}

const isObject = (v: unknown) => typeof v === "object" && v !== null && !Array.isArray(v);

/** "k=v,k2=v2" → { k: "v", k2: "v2" }. */
function keyValues(name: string, text: string | undefined): Record<string, string> | undefined {
  if (text === undefined || text.trim() === "") return undefined;
  const out: Record<string, string> = {};
  for (const pair of list(text)) {
    const i = pair.indexOf("=");
    if (i <= 0) throw new ConfigError(`${name}: "${pair}" is not key=value`);
    out[pair.slice(0, i).trim()] = pair.slice(i + 1).trim();
  }
  return out;
}

function kubernetesSettings(env: Env, command: string[] | undefined): KubernetesBackendSettings {
  const image = envOptional(env, "WHARF_K8S_WORKER_IMAGE");
  if (!image) {
    throw new ConfigError("WHARF_K8S_WORKER_IMAGE is required with WHARF_PROVISIONER_BACKEND=kubernetes");
  }
  const executor = envString(env, "WHARF_K8S_WORKER_EXECUTOR", "kubernetes");
  if (executor !== "kubernetes" && executor !== "local" && executor !== "docker") {
    throw new ConfigError(`WHARF_K8S_WORKER_EXECUTOR must be kubernetes, local or docker, got "${executor}"`);
  }
  const optional = (name: string) => envOptional(env, name);
  const resources = jsonValue<V1ResourceRequirements>(
    env,
    "WHARF_K8S_WORKER_RESOURCES",
    isObject,
    'a JSON object like {"requests":{"cpu":"250m"},"limits":{"memory":"1Gi"}}',
  );
  const tolerations = jsonValue<V1Toleration[]>(
    env,
    "WHARF_K8S_TOLERATIONS",
    (v) => Array.isArray(v) && v.every(isObject),
    "a JSON array of tolerations",
  );
  const nodeSelector = keyValues("WHARF_K8S_NODE_SELECTOR", optional("WHARF_K8S_NODE_SELECTOR"));
  const workerEnv = { ...forwarded(env, FORWARDED_EXECUTOR_ENV), ...forwarded(env, FORWARDED_TRACING_ENV) };
  const pick = (key: string, v: unknown) => (v === undefined ? {} : { [key]: v });
  return {
    kind: "kubernetes",
    image,
    executor,
    startTimeoutMs: envDurationMs(env, "WHARF_K8S_WORKER_START_TIMEOUT", 120_000),
    workerEnv,
    ...pick("command", command),
    ...pick("namespace", optional("WHARF_K8S_NAMESPACE")),
    ...pick("serviceAccountName", optional("WHARF_K8S_WORKER_SERVICE_ACCOUNT")),
    ...pick("cloneImage", optional("WHARF_K8S_CLONE_IMAGE")),
    ...pick("sshKeySecret", optional("WHARF_K8S_GIT_SSH_SECRET")),
    ...pick("resources", resources),
    ...pick("nodeSelector", nodeSelector),
    ...pick("tolerations", tolerations),
  };
}

/**
 * The CRI runtime of the docker backend's cri workers: its socket and the work root are host
 * paths mounted into each worker container at the same path (the runtime mounts host paths
 * into the steps), so both must be absolute paths of the engine's host.
 */
function dockerCriSettings(env: Env): NonNullable<DockerBackendSettings["cri"]> {
  checkCriNetwork(env);
  const endpoint = envString(env, CRI_ENV.endpoint, DEFAULT_CRI_ENDPOINT);
  if (!criSocketPath(endpoint)) {
    throw new ConfigError(
      `${CRI_ENV.endpoint} must be unix:///<socket path> with WHARF_PROVISIONER_BACKEND=docker and WHARF_WORKER_EXECUTOR=cri (the socket is mounted into worker containers), got "${endpoint}"`,
    );
  }
  const workRoot = envString(env, CRI_ENV.workRoot, DEFAULT_DOCKER_CRI_WORK_ROOT);
  if (!path.isAbsolute(workRoot)) {
    throw new ConfigError(
      `${CRI_ENV.workRoot} must be an absolute path of the engine's host, got "${workRoot}"`,
    );
  }
  return { endpoint, workRoot };
}

/** The cri workers' sandbox network, checked here so a typo fails the provisioner, not every build. */
function checkCriNetwork(env: Env): void {
  const network = envOptional(env, CRI_ENV.network);
  if (network !== undefined && !(CRI_NETWORKS as readonly string[]).includes(network))
    throw new ConfigError(`${CRI_ENV.network} must be ${CRI_NETWORKS.join(" or ")}, got "${network}"`);
}

function list(text: string | undefined): string[] {
  return (text ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

/**
 * The provisioner's one place that reads the environment.
 *
 * | variable | default |
 * | --- | --- |
 * | WHARF_PROVISIONER_HOST / _PORT | 0.0.0.0 with a token, else 127.0.0.1 (nothing else allowed) / 5009 |
 * | WHARF_PROVISIONER_TOKEN | unset: no auth, loopback only |
 * | DATABASE_URL | unset: PGlite in $WHARF_DATA_DIR/db |
 * | WHARF_DATA_DIR | .wharf in the working directory |
 * | WHARF_MAX_WORKERS | 4 (per backend scope) |
 * | WHARF_POLL_INTERVAL | 1s |
 * | WHARF_WORKER_RETENTION | 168h (ended rows kept; GIT_TOKEN is dropped once the worker starts) |
 * | WHARF_PROVISIONER_BACKEND | local (or docker, kubernetes) |
 * | WHARF_WORKER_CMD | local: this program's `wharf worker serve`; docker, kubernetes: the image's own (`wharf worker serve`) |
 * | WHARF_WORKER_EXECUTOR | local backend: local (or docker, cri); docker backend: docker (or cri: the CRI runtime of WHARF_CRI_ENDPOINT, see docker-spec.ts) |
 * | WHARF_STANDBY_WORKERS | 1 (local backend): worker processes kept started, modules loaded, until a build takes one (its first line comes ~0.3 s sooner); 0: none; ignored with WHARF_WORKER_CMD |
 * | WHARF_WORKER_IMAGE | required for docker |
 * | WHARF_WORKER_NETWORK | host |
 * | WHARF_WORKER_BINDS | none (comma-separated host:container[:ro]) |
 * | WHARF_DOCKER_SOCKET | /var/run/docker.sock |
 * | WHARF_WORKER_ADVERTISE_HOST | 127.0.0.1 |
 * | WHARF_DOCKER_NETWORK, WHARF_REGISTRY_URL/_USER/_PASSWORD, WHARF_CRI_ENDPOINT/_NETWORK/_WORK_ROOT | passed to local and docker workers (the worker's settings) |
 * | WHARF_CRI_ENDPOINT, WHARF_CRI_WORK_ROOT | docker backend with WHARF_WORKER_EXECUTOR=cri: unix:///run/containerd/containerd.sock (a unix socket) and /tmp/wharf-cri-builds, host paths mounted into each worker container at the same path |
 * | WHARF_SECRETS_DIR, WHARF_APPEND_CERT_FILE | unset; host paths passed to local workers, mounted read-only into docker workers (WORKER_SECRETS_DIR, WORKER_APPEND_CERT_FILE) |
 * | WHARF_K8S_WORKER_IMAGE | required for kubernetes |
 * | WHARF_K8S_NAMESPACE | the kubeconfig context's (in a pod: its own) |
 * | WHARF_K8S_WORKER_SERVICE_ACCOUNT | unset (no API token in worker pods) |
 * | WHARF_K8S_WORKER_EXECUTOR | kubernetes (step pods) |
 * | WHARF_K8S_CLONE_IMAGE | the worker image |
 * | WHARF_K8S_GIT_SSH_SECRET | unset (Secret with ssh-privatekey [+ known_hosts]) |
 * | WHARF_K8S_WORKER_RESOURCES | unset (JSON resource requirements) |
 * | WHARF_K8S_NODE_SELECTOR | unset (k=v,k2=v2) |
 * | WHARF_K8S_TOLERATIONS | unset (JSON array) |
 * | WHARF_K8S_WORKER_START_TIMEOUT | 2m (until the pod has an IP) |
 * | WHARF_K8S_WORKSPACE_*, _STORAGE_CLASS, _{HELM,KUBECTL,KANIKO,NUGET}_IMAGE, _START_TIMEOUT | passed to worker pods |
 * | WHARF_WORKER_TOKEN | the key of each worker's own gRPC token; unset: a random key kept in WHARF_DATA_DIR/worker-token.key |
 * | WHARF_BUILD_TIMEOUT | 60m: a build still running after this fails, its log saying so (every backend's workers get it; wharf-cmd has none) |
 * | WHARF_WORKER_STOP_GRACE | 15s (SIGTERM → SIGKILL; a stopped worker hands its last lines on meanwhile) |
 * | WHARF_SHUTDOWN_GRACE | the worker stop grace + 5s (a DELETE in flight may be stopping a worker) |
 * | WHARF_PROVISIONER_MAX_URL | 8192 bytes of path and query, else 414 (an nginx ingress's default; wharf-api's trigger is far shorter) |
 * | WHARF_JANITOR_INTERVAL | unset: no janitor; e.g. 1h: `wharf janitor` on the engine of the docker backend (WHARF_DOCKER_SOCKET) or of a local backend's docker workers ($DOCKER_HOST), with its WHARF_JANITOR_* settings (`wharf janitor --help`); counted in /metrics |
 * | WHARF_PROVISIONER_TRIGGER_RATE | 120 `POST /api/worker` per token and minute, else 429 with Retry-After (retries count); 0: no limit |
 */
export function compileOptions(env: Env, cwd = process.cwd()): CompiledOptions {
  const buildTimeoutMs = envDurationMs(env, "WHARF_BUILD_TIMEOUT", DEFAULT_BUILD_TIMEOUT_MS);
  if (buildTimeoutMs <= 0) throw new ConfigError("WHARF_BUILD_TIMEOUT must be longer than 0");
  const workerStopGraceMs = envDurationMs(env, "WHARF_WORKER_STOP_GRACE", 15_000);
  const dataDir = path.resolve(cwd, envString(env, "WHARF_DATA_DIR", ".wharf"));
  const maxWorkers = envInt(env, "WHARF_MAX_WORKERS", 4);
  if (maxWorkers < 1) throw new ConfigError(`WHARF_MAX_WORKERS must be at least 1, got ${maxWorkers}`);
  const port = envInt(env, "WHARF_PROVISIONER_PORT", 5009);
  if (port < 0 || port > 65535) throw new ConfigError(`WHARF_PROVISIONER_PORT out of range: ${port}`);
  const kind = envString(env, "WHARF_PROVISIONER_BACKEND", "local");
  const command = parseCommand("WHARF_WORKER_CMD", envOptional(env, "WHARF_WORKER_CMD"));
  let backend: CompiledOptions["backend"];
  if (kind === "local") {
    const executor = envString(env, "WHARF_WORKER_EXECUTOR", "local");
    if (executor !== "local" && executor !== "docker" && executor !== "cri") {
      throw new ConfigError(`WHARF_WORKER_EXECUTOR must be local, docker or cri, got "${executor}"`);
    }
    if (executor === "cri") checkCriNetwork(env);
    const standbyWorkers = envInt(env, "WHARF_STANDBY_WORKERS", 1);
    if (standbyWorkers < 0)
      throw new ConfigError(`WHARF_STANDBY_WORKERS must be 0 or more, got ${standbyWorkers}`);
    backend = {
      kind,
      executor,
      standbyWorkers,
      ...(command ? { command } : {}),
      workerEnv: {
        ...forwarded(env, FORWARDED_HOST_EXECUTOR_ENV),
        ...forwarded(env, FORWARDED_TRACING_ENV),
        ...workerHostFiles(env, cwd, "local").workerEnv,
      },
    };
  } else if (kind === "docker") {
    const image = envOptional(env, "WHARF_WORKER_IMAGE");
    if (!image) throw new ConfigError("WHARF_WORKER_IMAGE is required with WHARF_PROVISIONER_BACKEND=docker");
    const executor = envString(env, "WHARF_WORKER_EXECUTOR", "docker");
    if (executor !== "docker" && executor !== "cri") {
      throw new ConfigError(
        `WHARF_WORKER_EXECUTOR must be docker or cri with WHARF_PROVISIONER_BACKEND=docker, got "${executor}"`,
      );
    }
    const hostFiles = workerHostFiles(env, cwd, "docker");
    backend = {
      kind,
      image,
      ...(command ? { command } : {}),
      network: envString(env, "WHARF_WORKER_NETWORK", "host"),
      binds: [...list(envOptional(env, "WHARF_WORKER_BINDS")), ...hostFiles.binds],
      socketPath: envString(env, "WHARF_DOCKER_SOCKET", "/var/run/docker.sock"),
      advertiseHost: envString(env, "WHARF_WORKER_ADVERTISE_HOST", "127.0.0.1"),
      executor,
      ...(executor === "cri" ? { cri: dockerCriSettings(env) } : {}),
      workerEnv: {
        ...forwarded(env, FORWARDED_HOST_EXECUTOR_ENV),
        ...forwarded(env, FORWARDED_TRACING_ENV),
        ...hostFiles.workerEnv,
      },
    };
  } else if (kind === "kubernetes") {
    backend = kubernetesSettings(env, command);
  } else {
    throw new ConfigError(`WHARF_PROVISIONER_BACKEND must be local, docker or kubernetes, got "${kind}"`);
  }
  const maxUrlLength = envInt(env, "WHARF_PROVISIONER_MAX_URL", DEFAULT_MAX_URL_LENGTH);
  if (maxUrlLength < 256) {
    throw new ConfigError(`WHARF_PROVISIONER_MAX_URL must be at least 256 bytes, got ${maxUrlLength}`);
  }
  const triggerRate = envInt(env, "WHARF_PROVISIONER_TRIGGER_RATE", DEFAULT_TRIGGER_RATE);
  if (triggerRate < 0) {
    throw new ConfigError(`WHARF_PROVISIONER_TRIGGER_RATE must be 0 (no limit) or more, got ${triggerRate}`);
  }
  const token = envOptional(env, "WHARF_PROVISIONER_TOKEN");
  const databaseUrl = envOptional(env, "DATABASE_URL");
  const workerToken = envOptional(env, "WHARF_WORKER_TOKEN");
  // Without a token the API (which hands out the workers' gRPC tokens) is this machine's only.
  const host = envString(env, "WHARF_PROVISIONER_HOST", token ? "0.0.0.0" : "127.0.0.1");
  if (!token && !isLoopbackHost(host)) {
    throw new ConfigError(
      `WHARF_PROVISIONER_HOST=${host} needs WHARF_PROVISIONER_TOKEN: without it anyone who reaches the port could start builds`,
    );
  }
  return {
    tracing: compileTracingSettings(env),
    host,
    port,
    ...(token ? { token } : {}),
    ...(databaseUrl ? { databaseUrl } : {}),
    dataDir,
    maxWorkers,
    pollIntervalMs: envDurationMs(env, "WHARF_POLL_INTERVAL", 1000),
    retentionMs: envDurationMs(env, "WHARF_WORKER_RETENTION", DEFAULT_RETENTION_MS),
    ...(workerToken ? { workerToken } : {}),
    buildTimeoutMs,
    workerStopGraceMs,
    shutdownGraceMs: envDurationMs(env, "WHARF_SHUTDOWN_GRACE", workerStopGraceMs + 5_000),
    maxUrlLength,
    triggerRate,
    backend,
    ...janitorSchedule(env, backend),
  };
}

function janitorSchedule(
  env: Env,
  backend: CompiledOptions["backend"],
): { janitor?: JanitorScheduleSettings } {
  const intervalMs = envDurationMs(env, "WHARF_JANITOR_INTERVAL", 0);
  if (intervalMs <= 0) return {};
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
  const token = envOptional(env, "WHARF_PROVISIONER_TOKEN");
  return {
    url: envString(env, "WHARF_PROVISIONER_URL", "http://127.0.0.1:5009"),
    ...(token ? { token } : {}),
  };
}
