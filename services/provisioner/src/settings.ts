import type { V1ResourceRequirements, V1Toleration } from "@kubernetes/client-node";
import { setting } from "@wharf/config/settings";
import { DEFAULT_MAX_URL_LENGTH, DEFAULT_RETENTION_MS, DEFAULT_TRIGGER_RATE } from "@wharf/provisioner";
import { PROVISIONER_TOKEN } from "./client-settings.js";

export { PROVISIONER_CLIENT_SETTINGS } from "./client-settings.js";

/**
 * The provisioner's settings, each declared once: `compileOptions` reads them, docs/settings.md
 * is written from them (`pnpm gen:settings`). What one setting's default or validity owes to
 * another (the host to the token, the executor to the backend) is compileOptions' part.
 */

/** WHARF_BUILD_TIMEOUT's default: one hour (wharf-cmd has no build timeout; a hung build must not hold a worker for ever). */
export const DEFAULT_BUILD_TIMEOUT_MS = 60 * 60_000;

export const PROVISIONER_SETTINGS = {
  host: setting.text("WHARF_PROVISIONER_HOST", {
    defaultDoc: "0.0.0.0 with a token, else 127.0.0.1",
    doc: "listen address; without WHARF_PROVISIONER_TOKEN only a loopback one is allowed",
  }),
  port: setting.int("WHARF_PROVISIONER_PORT", { default: 5009, min: 0, max: 65535, doc: "listen port" }),
  token: PROVISIONER_TOKEN,
  databaseUrl: setting.text("DATABASE_URL", {
    secret: true,
    defaultDoc: "PGlite in <WHARF_DATA_DIR>/db",
    doc: "postgres://… of the provisioner's database",
  }),
  dataDir: setting.text("WHARF_DATA_DIR", {
    default: ".wharf",
    doc: "data directory, relative to the working directory: PGlite's database, the generated worker-token key",
  }),
  maxWorkers: setting.int("WHARF_MAX_WORKERS", {
    default: 4,
    min: 1,
    doc: "workers running at once, per backend scope",
  }),
  pollInterval: setting.duration("WHARF_POLL_INTERVAL", {
    default: 1000,
    doc: "how often queued builds and workers' states are looked at (events from workers come sooner)",
  }),
  retention: setting.duration("WHARF_WORKER_RETENTION", {
    default: DEFAULT_RETENTION_MS,
    doc: "ended workers' rows are kept this long (a repeated POST of their build gets them back); GIT_TOKEN is dropped once a worker started",
  }),
  backend: setting.oneOf("WHARF_PROVISIONER_BACKEND", ["local", "docker", "kubernetes"], {
    default: "local",
    doc: "where workers run: processes of this machine, Docker (or Podman) containers, Kubernetes pods",
  }),
  workerCommand: setting.command("WHARF_WORKER_CMD", {
    defaultDoc: "local: this program's `wharf worker serve`; docker, kubernetes: the image's own",
    doc: "a worker's argv (`a b c` or a JSON array)",
  }),
  workerExecutor: setting.oneOf("WHARF_WORKER_EXECUTOR", ["local", "docker", "cri"], {
    defaultDoc: "local backend: local; docker backend: docker",
    doc: "step executor inside local and docker workers (docker backend: docker or cri, the CRI runtime of WHARF_CRI_ENDPOINT, then a unix:// socket, and WHARF_CRI_WORK_ROOT, default /tmp/wharf-cri-builds, host paths mounted into each worker at the same path)",
  }),
  standbyWorkers: setting.int("WHARF_STANDBY_WORKERS", {
    default: 1,
    min: 0,
    doc: "local and docker backends: workers kept started, modules loaded, until a build takes one (its first line comes ~0.3 s sooner); docker: containers, kept for the instance (WHARF_INSTANCE) of the last build; none with WHARF_WORKER_CMD",
  }),
  workerImage: setting.text("WHARF_WORKER_IMAGE", {
    doc: "docker backend (required there): the worker image",
  }),
  workerNetwork: setting.text("WHARF_WORKER_NETWORK", {
    default: "host",
    doc: "docker backend: the workers' network",
  }),
  workerBinds: setting.list("WHARF_WORKER_BINDS", {
    default: [],
    doc: "docker backend: host:container[:ro] mounts of every worker",
  }),
  dockerSocket: setting.text("WHARF_DOCKER_SOCKET", {
    default: "/var/run/docker.sock",
    doc: "docker backend: the engine's socket (Podman's works too)",
  }),
  advertiseHost: setting.text("WHARF_WORKER_ADVERTISE_HOST", {
    default: "127.0.0.1",
    doc: "docker backend: the address the provisioner and aggregator reach workers' published ports at",
  }),
  workerToken: setting.text("WHARF_WORKER_TOKEN", {
    secret: true,
    defaultDoc: "a random key kept in <WHARF_DATA_DIR>/worker-token.key",
    doc: "the key each worker's own gRPC token is derived from (the aggregator needs the same)",
  }),
  buildTimeout: setting.duration("WHARF_BUILD_TIMEOUT", {
    default: DEFAULT_BUILD_TIMEOUT_MS,
    positive: true,
    doc: "a build still running after this fails, its log saying so (every backend's workers get it; wharf-cmd has none)",
  }),
  workerStopGrace: setting.duration("WHARF_WORKER_STOP_GRACE", {
    default: 15_000,
    doc: "a stopped worker's SIGTERM → SIGKILL; it hands its last lines on meanwhile",
  }),
  shutdownGrace: setting.duration("WHARF_SHUTDOWN_GRACE", {
    defaultDoc: "WHARF_WORKER_STOP_GRACE + 5s",
    doc: "how long the provisioner's own shutdown waits (a DELETE in flight may be stopping a worker)",
  }),
  maxUrl: setting.int("WHARF_PROVISIONER_MAX_URL", {
    default: DEFAULT_MAX_URL_LENGTH,
    min: 256,
    doc: "longest request path and query in bytes, else 414 (an nginx ingress's default; wharf-api's trigger is far shorter)",
  }),
  triggerRate: setting.int("WHARF_PROVISIONER_TRIGGER_RATE", {
    default: DEFAULT_TRIGGER_RATE,
    min: 0,
    doc: "`POST /api/worker` per token and minute, else 429 with Retry-After (retries count); 0: no limit",
  }),
  janitorInterval: setting.duration("WHARF_JANITOR_INTERVAL", {
    defaultDoc: "unset: never",
    doc: "`wharf janitor` on a schedule, on the docker backend's engine (WHARF_DOCKER_SOCKET) or a local backend's docker workers' ($DOCKER_HOST), with its WHARF_JANITOR_* settings; counted in /metrics",
  }),
};

const isObject = (v: unknown) => typeof v === "object" && v !== null && !Array.isArray(v);

/** Read only with WHARF_PROVISIONER_BACKEND=kubernetes. */
export const KUBERNETES_BACKEND_SETTINGS = {
  workerImage: setting.text("WHARF_K8S_WORKER_IMAGE", {
    doc: "the worker image (required with this backend)",
  }),
  namespace: setting.text("WHARF_K8S_NAMESPACE", {
    defaultDoc: "the kubeconfig context's (in a pod: its own)",
    doc: "namespace of worker pods",
  }),
  serviceAccount: setting.text("WHARF_K8S_WORKER_SERVICE_ACCOUNT", {
    defaultDoc: "unset: no API token in worker pods",
    doc: "service account of worker pods (the kubernetes executor needs one that may run step pods)",
  }),
  workerExecutor: setting.oneOf("WHARF_K8S_WORKER_EXECUTOR", ["kubernetes", "local", "docker"], {
    default: "kubernetes",
    doc: "step executor inside worker pods: step pods, or in the worker's own container",
  }),
  cloneImage: setting.text("WHARF_K8S_CLONE_IMAGE", {
    defaultDoc: "the worker image",
    doc: "image of the worker pod's init container that clones the repository",
  }),
  gitSshSecret: setting.text("WHARF_K8S_GIT_SSH_SECRET", {
    doc: "Secret with ssh-privatekey (and known_hosts) for cloning over ssh",
  }),
  resources: setting.json<V1ResourceRequirements>("WHARF_K8S_WORKER_RESOURCES", {
    what: 'a JSON object like {"requests":{"cpu":"250m"},"limits":{"memory":"1Gi"}}',
    check: isObject,
    doc: "resource requirements of worker containers (JSON)",
  }),
  nodeSelector: setting.keyValues("WHARF_K8S_NODE_SELECTOR", { doc: "node selector of worker pods" }),
  tolerations: setting.json<V1Toleration[]>("WHARF_K8S_TOLERATIONS", {
    what: "a JSON array of tolerations",
    check: (v) => Array.isArray(v) && v.every(isObject),
    doc: "tolerations of worker pods (JSON array)",
  }),
  startTimeout: setting.duration("WHARF_K8S_WORKER_START_TIMEOUT", {
    default: 120_000,
    doc: "how long a worker pod may take until it has an IP",
  }),
};
