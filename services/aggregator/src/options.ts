import path from "node:path";
import { ConfigError, type Env, isLoopbackHost } from "@wharf/config";
import { readSettings, type SettingValues } from "@wharf/config/settings";
import { compileTracingSettings, type TracingSettings } from "@wharf/tracing";
import { AGGREGATOR_SETTINGS } from "./settings.js";

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
 * The aggregator's one place that reads the environment: AGGREGATOR_SETTINGS, documented in
 * docs/settings.md. Here is what ties settings together: which discovery reads which, the
 * gRPC address derived from the HTTP one, the listen address owed to the token.
 */
export function compileOptions(
  env: Env,
  mode: "aggregator" | "watchdog" = "aggregator",
  cwd = process.cwd(),
): AggregatorServiceOptions {
  const s = readSettings(AGGREGATOR_SETTINGS, env);
  let apiHost: string;
  try {
    apiHost = new URL(s.apiUrl).host;
  } catch (err) {
    throw new ConfigError(`WHARF_API_URL is not a URL: "${s.apiUrl}"`, { cause: err });
  }
  const apiGrpcAddress = s.apiGrpcUrl
    ? s.apiGrpcUrl.replace(/^[a-z0-9+]+:\/\//i, "").replace(/\/.*$/, "")
    : apiHost;
  const host = s.host ?? (s.viewerToken ? "0.0.0.0" : "127.0.0.1");
  if (!s.viewerToken && !isLoopbackHost(host)) {
    throw new ConfigError(
      `WHARF_AGGREGATOR_HOST=${host} needs WHARF_AGGREGATOR_TOKEN: without it build logs are open to anyone who reaches the port`,
    );
  }
  return {
    tracing: compileTracingSettings(env),
    host,
    ...(s.viewerToken ? { viewerToken: s.viewerToken } : {}),
    port: s.port,
    maxUrlLength: s.maxUrl,
    apiUrl: s.apiUrl,
    apiGrpcAddress,
    ...(s.apiToken ? { apiToken: s.apiToken } : {}),
    ...(s.databaseUrl ? { databaseUrl: s.databaseUrl } : {}),
    dataDir: path.resolve(cwd, s.dataDir),
    discovery: discoveryOf(s),
    ...(s.workerToken ? { workerToken: s.workerToken } : {}),
    leaseTtlMs: s.leaseTtl,
    discoveryIntervalMs: s.discoveryInterval,
    workerLostGraceMs: s.workerLostGrace,
    logBatchLines: s.logBatchLines,
    relay: mode === "aggregator",
    watchdog: mode === "watchdog" || s.watchdog,
    watchdogIntervalMs: s.watchdogInterval,
    watchdogGraceMs: s.watchdogGrace,
    shutdownGraceMs: s.shutdownGrace,
  };
}

function discoveryOf(s: SettingValues<typeof AGGREGATOR_SETTINGS>): DiscoveryOptions {
  const instance = s.instance === undefined ? {} : { instance: s.instance };
  if (s.discovery === "provisioner") {
    const token = s.provisionerToken ? { token: s.provisionerToken } : {};
    return { kind: "provisioner", url: s.provisionerUrl, ...token, ...instance };
  }
  if (s.discovery === "docker") return { kind: "docker", ...instance };
  const namespace = s.namespace ? { namespace: s.namespace } : {};
  return { kind: "kubernetes", connect: s.connect, ...namespace, ...instance };
}
