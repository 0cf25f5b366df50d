import path from "node:path";
import {
  ConfigError,
  type Env,
  envBool,
  envDurationMs,
  envInt,
  envOptional,
  envString,
  isLoopbackHost,
} from "@wharf/config";
import { defaultRelayTuning } from "@wharf/relay";
import { compileTracingSettings, type TracingSettings } from "@wharf/tracing";
import { DEFAULT_AGGREGATOR_MAX_URL_LENGTH } from "./http-app.js";

export type DiscoveryOptions =
  | { kind: "provisioner"; url: string; token?: string; instance?: string }
  | { kind: "docker"; instance?: string }
  | { kind: "kubernetes"; namespace?: string; instance?: string; connect: "port-forward" | "pod-ip" };

/** Everything the aggregator (and the watchdog) run with; env is read only in compileOptions. */
export interface AggregatorServiceOptions {
  /** OpenTelemetry's standard OTEL_* settings: traces over OTLP when an endpoint is set. */
  tracing: TracingSettings;
  /** Where the HTTP API and log page listen; loopback only while `viewerToken` is unset. */
  host: string;
  /** WHARF_AGGREGATOR_TOKEN: what the log routes require (bearer, ?token=, cookie, signed links). */
  viewerToken?: string;
  port: number;
  /** WHARF_AGGREGATOR_MAX_URL: longest request path and query in bytes (414 beyond). */
  maxUrlLength: number;
  apiUrl: string;
  /** host:port of wharf-api's gRPC. */
  apiGrpcAddress: string;
  apiToken?: string;
  /** postgres://… ; PGlite under `dataDir/db` when unset. */
  databaseUrl?: string;
  dataDir: string;
  discovery: DiscoveryOptions;
  workerToken?: string;
  leaseTtlMs: number;
  discoveryIntervalMs: number;
  workerLostGraceMs: number;
  /** Lines per CreateLogStream call. */
  logBatchLines: number;
  /** Relay workers (aggregator) and/or reconcile builds with workers (watchdog). */
  relay: boolean;
  watchdog: boolean;
  watchdogIntervalMs: number;
  watchdogGraceMs: number;
  shutdownGraceMs: number;
}

/**
 * | env | default |
 * | --- | --- |
 * | WHARF_API_URL | required (wharf-api's HTTP base) |
 * | WHARF_API_GRPC_URL | host:port of WHARF_API_URL |
 * | WHARF_API_TOKEN | unset (sent as bearer when set) |
 * | DATABASE_URL | unset → PGlite in WHARF_DATA_DIR/db |
 * | WHARF_DATA_DIR | .wharf |
 * | WHARF_DISCOVERY | provisioner (or docker, kubernetes) |
 * | WHARF_K8S_NAMESPACE | kubernetes: the kubeconfig context's (in a pod: its own) |
 * | WHARF_K8S_CONNECT | kubernetes: port-forward (through the API server) or pod-ip (in-cluster) |
 * | WHARF_PROVISIONER_URL | http://127.0.0.1:5009 |
 * | WHARF_PROVISIONER_TOKEN | unset |
 * | WHARF_INSTANCE | unset: workers of every instance (said at start); set: only this wharf-api instance's, by every discovery |
 * | WHARF_WORKER_TOKEN | unset (bearer for the workers' gRPC) |
 * | WHARF_AGGREGATOR_TOKEN | unset: log routes open, so the aggregator binds loopback only |
 * | WHARF_AGGREGATOR_HOST / _PORT | 0.0.0.0 with a token, else 127.0.0.1 (nothing else allowed) / 5008 |
 * | WHARF_AGGREGATOR_MAX_URL | 4096 bytes of path and query, else 414 (a signed log link is under 300); bodies: 16 KiB, no route takes one |
 * | WHARF_LEASE_TTL | 30s |
 * | WHARF_DISCOVERY_INTERVAL | 1s |
 * | WHARF_WORKER_LOST_GRACE | 15s |
 * | WHARF_LOG_BATCH_LINES | 40000 |
 * | WHARF_AGGREGATOR_WATCHDOG | false (also run the watchdog inside the aggregator) |
 * | WHARF_WATCHDOG_INTERVAL | 30s |
 * | WHARF_WATCHDOG_GRACE | 60s |
 * | WHARF_SHUTDOWN_GRACE | 10s |
 */
export function compileOptions(
  env: Env,
  mode: "aggregator" | "watchdog" = "aggregator",
  cwd = process.cwd(),
): AggregatorServiceOptions {
  const apiUrl = envOptional(env, "WHARF_API_URL");
  if (!apiUrl) throw new ConfigError("WHARF_API_URL is required (wharf-api's HTTP address)");
  let apiHost: string;
  try {
    apiHost = new URL(apiUrl).host;
  } catch (err) {
    throw new ConfigError(`WHARF_API_URL is not a URL: "${apiUrl}"`, { cause: err });
  }
  const grpcUrl = envOptional(env, "WHARF_API_GRPC_URL");
  const apiGrpcAddress = grpcUrl ? grpcUrl.replace(/^[a-z0-9+]+:\/\//i, "").replace(/\/.*$/, "") : apiHost;

  const port = envInt(env, "WHARF_AGGREGATOR_PORT", 5008);
  if (port < 0 || port > 65535) throw new ConfigError(`WHARF_AGGREGATOR_PORT out of range: ${port}`);
  const kind = envString(env, "WHARF_DISCOVERY", "provisioner");
  let discovery: DiscoveryOptions;
  if (kind === "provisioner") {
    const token = envOptional(env, "WHARF_PROVISIONER_TOKEN");
    const instance = envOptional(env, "WHARF_INSTANCE");
    discovery = {
      kind,
      url: envString(env, "WHARF_PROVISIONER_URL", "http://127.0.0.1:5009"),
      ...(token ? { token } : {}),
      ...(instance !== undefined ? { instance } : {}),
    };
  } else if (kind === "docker") {
    const instance = envOptional(env, "WHARF_INSTANCE");
    discovery = { kind, ...(instance ? { instance } : {}) };
  } else if (kind === "kubernetes") {
    const connect = envString(env, "WHARF_K8S_CONNECT", "port-forward");
    if (connect !== "port-forward" && connect !== "pod-ip") {
      throw new ConfigError(`WHARF_K8S_CONNECT must be port-forward or pod-ip, got "${connect}"`);
    }
    const namespace = envOptional(env, "WHARF_K8S_NAMESPACE");
    const instance = envOptional(env, "WHARF_INSTANCE");
    discovery = { kind, connect, ...(namespace ? { namespace } : {}), ...(instance ? { instance } : {}) };
  } else {
    throw new ConfigError(`WHARF_DISCOVERY must be provisioner, docker or kubernetes, got "${kind}"`);
  }
  const positive = (name: string, ms: number) => {
    if (ms <= 0) throw new ConfigError(`${name} must be positive`);
    return ms;
  };
  const logBatchLines = envInt(env, "WHARF_LOG_BATCH_LINES", defaultRelayTuning.logBatchLines);
  if (logBatchLines < 1) throw new ConfigError("WHARF_LOG_BATCH_LINES must be at least 1");
  const apiToken = envOptional(env, "WHARF_API_TOKEN");
  const databaseUrl = envOptional(env, "DATABASE_URL");
  const workerToken = envOptional(env, "WHARF_WORKER_TOKEN");
  const viewerToken = envOptional(env, "WHARF_AGGREGATOR_TOKEN");
  const host = envString(env, "WHARF_AGGREGATOR_HOST", viewerToken ? "0.0.0.0" : "127.0.0.1");
  if (!viewerToken && !isLoopbackHost(host)) {
    throw new ConfigError(
      `WHARF_AGGREGATOR_HOST=${host} needs WHARF_AGGREGATOR_TOKEN: without it build logs are open to anyone who reaches the port`,
    );
  }
  const maxUrlLength = envInt(env, "WHARF_AGGREGATOR_MAX_URL", DEFAULT_AGGREGATOR_MAX_URL_LENGTH);
  if (maxUrlLength < 256) {
    throw new ConfigError(`WHARF_AGGREGATOR_MAX_URL must be at least 256 bytes, got ${maxUrlLength}`);
  }
  return {
    tracing: compileTracingSettings(env),
    host,
    ...(viewerToken ? { viewerToken } : {}),
    port,
    maxUrlLength,
    apiUrl,
    apiGrpcAddress,
    ...(apiToken ? { apiToken } : {}),
    ...(databaseUrl ? { databaseUrl } : {}),
    dataDir: path.resolve(cwd, envString(env, "WHARF_DATA_DIR", ".wharf")),
    discovery,
    ...(workerToken ? { workerToken } : {}),
    leaseTtlMs: positive("WHARF_LEASE_TTL", envDurationMs(env, "WHARF_LEASE_TTL", 30_000)),
    discoveryIntervalMs: positive(
      "WHARF_DISCOVERY_INTERVAL",
      envDurationMs(env, "WHARF_DISCOVERY_INTERVAL", 1000),
    ),
    workerLostGraceMs: positive(
      "WHARF_WORKER_LOST_GRACE",
      envDurationMs(env, "WHARF_WORKER_LOST_GRACE", 15_000),
    ),
    logBatchLines,
    relay: mode === "aggregator",
    watchdog: mode === "watchdog" || envBool(env, "WHARF_AGGREGATOR_WATCHDOG", false),
    watchdogIntervalMs: positive(
      "WHARF_WATCHDOG_INTERVAL",
      envDurationMs(env, "WHARF_WATCHDOG_INTERVAL", 30_000),
    ),
    watchdogGraceMs: envDurationMs(env, "WHARF_WATCHDOG_GRACE", 60_000),
    shutdownGraceMs: envDurationMs(env, "WHARF_SHUTDOWN_GRACE", 10_000),
  };
}
