import { setting } from "@wharf/config/settings";
import { defaultRelayTuning } from "@wharf/relay";
import { DEFAULT_AGGREGATOR_MAX_URL_LENGTH } from "./http-app.js";

/**
 * The aggregator's (and the watchdog's) settings, each declared once: `compileOptions` reads
 * them, docs/settings.md is written from them. Which discovery reads which, and the listen
 * address owed to the token, are compileOptions' part.
 */
export const AGGREGATOR_SETTINGS = {
  apiUrl: setting.text("WHARF_API_URL", { required: true, doc: "wharf-api's HTTP base URL" }),
  apiGrpcUrl: setting.text("WHARF_API_GRPC_URL", {
    defaultDoc: "host:port of WHARF_API_URL",
    doc: "host:port of wharf-api's gRPC (a scheme and path are dropped)",
  }),
  apiToken: setting.text("WHARF_API_TOKEN", { secret: true, doc: "bearer token sent to wharf-api" }),
  databaseUrl: setting.text("DATABASE_URL", {
    secret: true,
    defaultDoc: "PGlite in <WHARF_DATA_DIR>/db",
    doc: "postgres://… of the aggregator's database (leases, relay offsets)",
  }),
  dataDir: setting.text("WHARF_DATA_DIR", {
    default: ".wharf",
    doc: "data directory, relative to the working directory",
  }),
  discovery: setting.oneOf("WHARF_DISCOVERY", ["provisioner", "docker", "kubernetes"], {
    default: "provisioner",
    doc: "how workers are found: the provisioner's API, Docker labels, or Kubernetes pods",
  }),
  namespace: setting.text("WHARF_K8S_NAMESPACE", {
    defaultDoc: "the kubeconfig context's (in a pod: its own)",
    doc: "kubernetes discovery: the worker pods' namespace",
  }),
  connect: setting.oneOf("WHARF_K8S_CONNECT", ["port-forward", "pod-ip"], {
    default: "port-forward",
    doc: "kubernetes discovery: reach workers through the API server, or at their pod IPs (in the build cluster)",
  }),
  provisionerUrl: setting.text("WHARF_PROVISIONER_URL", {
    default: "http://127.0.0.1:5009",
    doc: "provisioner discovery: the provisioner's base URL",
  }),
  provisionerToken: setting.text("WHARF_PROVISIONER_TOKEN", {
    secret: true,
    doc: "provisioner discovery: the provisioner's bearer token",
  }),
  instance: setting.text("WHARF_INSTANCE", {
    defaultDoc: "unset: workers of every instance (said at start)",
    doc: "relay only this wharf-api instance's workers, by every discovery",
  }),
  workerToken: setting.text("WHARF_WORKER_TOKEN", {
    secret: true,
    doc: "the provisioner's WHARF_WORKER_TOKEN: each worker's gRPC token is derived from it",
  }),
  viewerToken: setting.text("WHARF_AGGREGATOR_TOKEN", {
    secret: true,
    doc: "what the log routes require (bearer, ?token=, cookie, signed links); unset: log routes open, so the aggregator listens on loopback only",
  }),
  host: setting.text("WHARF_AGGREGATOR_HOST", {
    defaultDoc: "0.0.0.0 with a token, else 127.0.0.1",
    doc: "listen address; without WHARF_AGGREGATOR_TOKEN only a loopback one is allowed",
  }),
  port: setting.int("WHARF_AGGREGATOR_PORT", { default: 5008, min: 0, max: 65535, doc: "listen port" }),
  maxUrl: setting.int("WHARF_AGGREGATOR_MAX_URL", {
    default: DEFAULT_AGGREGATOR_MAX_URL_LENGTH,
    min: 256,
    doc: "longest request path and query in bytes, else 414 (a signed log link is under 300); bodies: 16 KiB, no route takes one",
  }),
  leaseTtl: setting.duration("WHARF_LEASE_TTL", {
    default: 30_000,
    positive: true,
    doc: "lifetime of an aggregator's lease on a worker (renewed every third of it); another replica takes over once it lapsed",
  }),
  discoveryInterval: setting.duration("WHARF_DISCOVERY_INTERVAL", {
    default: 1000,
    positive: true,
    doc: "how often workers are listed (a started worker is announced sooner)",
  }),
  workerLostGrace: setting.duration("WHARF_WORKER_LOST_GRACE", {
    default: 15_000,
    positive: true,
    doc: "a worker unreachable this long is declared lost",
  }),
  logBatchLines: setting.int("WHARF_LOG_BATCH_LINES", {
    default: defaultRelayTuning.logBatchLines,
    min: 1,
    doc: "log lines per CreateLogStream call to wharf-api",
  }),
  watchdog: setting.bool("WHARF_AGGREGATOR_WATCHDOG", {
    default: false,
    doc: "also run the watchdog (builds reconciled with workers) inside the aggregator",
  }),
  watchdogInterval: setting.duration("WHARF_WATCHDOG_INTERVAL", {
    default: 30_000,
    positive: true,
    doc: "how often the watchdog reconciles",
  }),
  watchdogGrace: setting.duration("WHARF_WATCHDOG_GRACE", {
    default: 60_000,
    doc: "how long a mismatch between wharf-api's builds and the workers must last before the watchdog acts (fails the build, or removes the stray worker)",
  }),
  shutdownGrace: setting.duration("WHARF_SHUTDOWN_GRACE", {
    default: 10_000,
    doc: "how long shutdown waits for relays to hand their last lines on",
  }),
};
