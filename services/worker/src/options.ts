import os from "node:os";
import path from "node:path";
import { ConfigError, type Env, envDurationMs, envInt, envOptional, envString } from "@wharf/config";
import { type CacheScope, DEFAULT_CACHE_MAX_BYTES } from "@wharf/executor";
import { WORKER_EVENTS_URL_ENV } from "@wharf/proto";
import { BuildVarsError, parseBuildVars } from "@wharf/proto/vars";

export type BuildSource =
  | { kind: "dir"; dir: string }
  | { kind: "git"; url: string; branch?: string; token?: string };

export interface WorkerOptions {
  buildRef: string;
  workerId: string;
  source: BuildSource;
  /** A stage name, or undefined for all stages (RUN_STAGES=ALL). */
  stage?: string;
  environment?: string;
  /** Input values (VARS / -i). */
  inputs: Record<string, string>;
  executor: "local" | "docker" | "kubernetes";
  host: string;
  /** gRPC port; 0 picks a free one. */
  port: number;
  /** Health/metrics HTTP port; 0 picks a free one, -1 disables. */
  httpPort: number;
  token?: string;
  /** Root of kept results: <dataDir>/builds/<buildRef>. */
  dataDir: string;
  buildTimeoutMs?: number;
  stopGraceMs: number;
  /**
   * Stopped (SIGTERM) mid-build: the worker cancels the build and then waits for an
   * aggregator's Release, so the last lines and the status still reach wharf-api, until this
   * long after the signal. The provisioner sets it to end before its own SIGKILL.
   */
  releaseGraceMs: number;
  /** After the build finished, exit this long after the last stream closed (0 = wait for Release/SIGTERM). */
  idleTimeoutMs: number;
  /** Network of Docker steps (WHARF_DOCKER_NETWORK): see DEFAULT_DOCKER_NETWORK. */
  dockerNetwork: string;
  /** Where `docker` steps push (see compileRegistry); unset: they build without pushing. */
  registry?: RegistryCredentials;
  /**
   * WHARF_TERMINATION_MESSAGE_PATH: a file the build's result is written to when it
   * finishes (a WorkerExitReport), for a provisioner that can no longer ask this worker;
   * the Kubernetes worker pod sets its termination message path. Unset: none is written.
   */
  terminationMessagePath?: string;
  /** The provisioner's base URL to tell when ready and when the build ended (WORKER_EVENTS_URL_ENV). */
  eventsUrl?: string;
  /** Whose step caches this build reads and writes (see compileCacheScope); unset: none. */
  cacheScope?: CacheScope;
  /** WHARF_CACHE_DIR: the local executor's cache store; default `<dataDir>/caches`. */
  cacheDir: string;
  /** WHARF_CACHE_MAX_BYTES: budget of the cache store (local directory, or the engine's cache volumes); default 10 GiB. */
  cacheMaxBytes: number;
}

/** The default branch a branch without a cache starts from (WHARF_DEFAULT_BRANCH), when not set. */
export const DEFAULT_BRANCH = "main";

/**
 * The project and branch step caches are kept for: WHARF_PROJECT_ID and GIT_BRANCH, as the
 * provisioner passes them from wharf-api's build request. A branch without a cache of its own
 * starts from WHARF_DEFAULT_BRANCH's (default "main": the build request does not carry the
 * project's default branch, so an operator whose projects use another sets it). Without a
 * project or a branch there is no cache scope, and steps say their cache is not kept.
 */
function compileCacheScope(env: Env, branch: string | undefined): CacheScope | undefined {
  const project = envOptional(env, "WHARF_PROJECT_ID");
  if (!project || !branch) return undefined;
  return { project, branch, fallbackBranch: envString(env, "WHARF_DEFAULT_BRANCH", DEFAULT_BRANCH) };
}

/** The registry a docker executor pushes built images to, with Docker's AuthConfig fields. */
export interface RegistryCredentials {
  serveraddress: string;
  username?: string;
  password?: string;
}

/**
 * WHARF_REGISTRY_URL (host[:port] as in image references), WHARF_REGISTRY_USER and
 * WHARF_REGISTRY_PASSWORD: the registry the docker executor's `docker` steps push to. The
 * password is masked in the build log like any secret. The provisioner passes these on to
 * the local and docker workers it starts, never to Kubernetes pods (whose spec would hold
 * them in clear; there a step's registry Secret is used).
 */
function compileRegistry(env: Env): RegistryCredentials | undefined {
  const url = envOptional(env, "WHARF_REGISTRY_URL");
  const username = envOptional(env, "WHARF_REGISTRY_USER");
  const password = envOptional(env, "WHARF_REGISTRY_PASSWORD");
  if (!url) {
    if (username || password) throw new ConfigError("WHARF_REGISTRY_USER/PASSWORD need WHARF_REGISTRY_URL");
    return undefined;
  }
  if (/^[a-z]+:\/\//i.test(url) || url.includes("/"))
    throw new ConfigError(
      `WHARF_REGISTRY_URL must be a registry host[:port] as in image names, got "${url}"`,
    );
  return { serveraddress: url, ...(username ? { username } : {}), ...(password ? { password } : {}) };
}

/**
 * WHARF_DOCKER_NETWORK, the network of the docker executor's steps (containers and image
 * builds); also `wharf run --backend docker`'s.
 * - `build` (the default): a user-defined bridge network of the build's own, labelled and
 *   named like its workspace volume (`wharf-<build ref>-network`); all steps of the build join
 *   it and reach each other by step name; it is removed with the build (and by the leftovers
 *   sweep after a crash). Steps do not share the worker's loopback: what listens on 127.0.0.1
 *   of the engine's host (provisioner, aggregator, Postgres, this worker) is out of their reach.
 *   What listens on all addresses (0.0.0.0) of that host stays reachable through the network's
 *   gateway address, as from any bridge network: bind to 127.0.0.1, or drop what arrives from
 *   the engine's bridge interfaces (Docker: `br-*`) in the host firewall's input chain.
 *   An engine that cannot create a bridge network fails the build's setup, saying to set:
 * - `none`: no network at all;
 * - `host`: the engine host's network, explicit opt-in only (logged as a warning): steps
 *   reach every port of that machine, this worker's gRPC port included;
 * - any other value: the name of an existing network, used as is (not created nor removed).
 */
export const DEFAULT_DOCKER_NETWORK = "build";

/** VARS (see parseBuildVars), its problems as a ConfigError. */
export function parseVars(text: string | undefined): Record<string, string> {
  try {
    return parseBuildVars(text);
  } catch (err) {
    if (!(err instanceof BuildVarsError)) throw err;
    throw new ConfigError(`VARS ${err.message}`, { cause: err });
  }
}

/**
 * The worker's one place that reads the environment. Flags from the CLI come in
 * as `overrides` and win over env.
 */
export function compileWorkerOptions(env: Env, overrides: Partial<WorkerOptions> = {}): WorkerOptions {
  const buildRef = overrides.buildRef ?? envOptional(env, "WHARF_BUILD_REF") ?? envOptional(env, "BUILD_REF");
  if (!buildRef) throw new ConfigError("WHARF_BUILD_REF is required");
  const sourceDir = envOptional(env, "WHARF_SOURCE_DIR");
  const gitUrl = envOptional(env, "GIT_FULLURL");
  let source: BuildSource | undefined = overrides.source;
  if (!source && sourceDir) source = { kind: "dir", dir: path.resolve(sourceDir) };
  if (!source && gitUrl) {
    const branch = envOptional(env, "GIT_BRANCH");
    const token = envOptional(env, "GIT_TOKEN");
    source = { kind: "git", url: gitUrl, ...(branch ? { branch } : {}), ...(token ? { token } : {}) };
  }
  if (!source) throw new ConfigError("set WHARF_SOURCE_DIR or GIT_FULLURL");
  const runStages = envOptional(env, "RUN_STAGES");
  const executor = envString(env, "WHARF_EXECUTOR", "local");
  if (executor !== "local" && executor !== "docker" && executor !== "kubernetes") {
    throw new ConfigError(`WHARF_EXECUTOR must be local, docker or kubernetes, got "${executor}"`);
  }
  const port = overrides.port ?? envInt(env, "WHARF_WORKER_PORT", 5010);
  const buildTimeoutMs = envDurationMs(env, "WHARF_BUILD_TIMEOUT", 0);
  const token = envOptional(env, "WHARF_WORKER_TOKEN");
  const environment = envOptional(env, "ENVIRONMENT");
  const registry = compileRegistry(env);
  const terminationMessagePath = envOptional(env, "WHARF_TERMINATION_MESSAGE_PATH");
  const eventsUrl = envOptional(env, WORKER_EVENTS_URL_ENV);
  const cacheScope = compileCacheScope(
    env,
    envOptional(env, "GIT_BRANCH") ?? (source.kind === "git" ? source.branch : undefined),
  );
  const cacheMaxBytes = envInt(env, "WHARF_CACHE_MAX_BYTES", DEFAULT_CACHE_MAX_BYTES);
  if (cacheMaxBytes < 0) throw new ConfigError("WHARF_CACHE_MAX_BYTES must not be negative");
  const dataDir = path.resolve(envString(env, "WHARF_DATA_DIR", path.join(os.tmpdir(), "wharf-worker")));
  return {
    buildRef,
    workerId: envString(env, "WHARF_WORKER_ID", `local-${buildRef}`),
    source,
    ...(runStages && runStages.toUpperCase() !== "ALL" ? { stage: runStages } : {}),
    ...(environment ? { environment } : {}),
    inputs: parseVars(envOptional(env, "VARS")),
    executor,
    host: envString(env, "WHARF_WORKER_HOST", "0.0.0.0"),
    port,
    httpPort: envInt(env, "WHARF_WORKER_HTTP_PORT", port === 0 ? 0 : port + 1),
    ...(token ? { token } : {}),
    dataDir,
    ...(buildTimeoutMs > 0 ? { buildTimeoutMs } : {}),
    stopGraceMs: envDurationMs(env, "WHARF_STOP_GRACE", 3000),
    releaseGraceMs: envDurationMs(env, "WHARF_RELEASE_GRACE", 10_000),
    idleTimeoutMs: envDurationMs(env, "WHARF_WORKER_IDLE_TIMEOUT", 0),
    dockerNetwork: envString(env, "WHARF_DOCKER_NETWORK", DEFAULT_DOCKER_NETWORK),
    ...(registry ? { registry } : {}),
    ...(terminationMessagePath ? { terminationMessagePath } : {}),
    ...(eventsUrl ? { eventsUrl } : {}),
    ...(cacheScope ? { cacheScope } : {}),
    cacheDir: path.resolve(envString(env, "WHARF_CACHE_DIR", path.join(dataDir, "caches"))),
    cacheMaxBytes,
    ...overrides,
  };
}
