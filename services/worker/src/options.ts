import os from "node:os";
import path from "node:path";
import { ConfigError, type Env } from "@wharf/config";
import { readSettings, type SettingValues } from "@wharf/config/settings";
import type { CacheScope } from "@wharf/executor";
import { type CriSettings, compileCriSettings } from "@wharf/executor-cri/settings";
import type { BuildId } from "@wharf/proto/build-id";
import { readWorkerEnv, WORKER_ENV, type WorkerEnv, WorkerEnvError } from "@wharf/proto/worker-env";
import { WORKER_SETTINGS } from "./settings.js";

type Settings = SettingValues<typeof WORKER_SETTINGS>;

export type BuildSource =
  | { kind: "dir"; dir: string }
  | { kind: "git"; url: string; branch?: string; token?: string };

export interface WorkerOptions {
  buildId: BuildId;
  workerId: string;
  source: BuildSource;
  /** A stage name, or undefined for all stages (RUN_STAGES=ALL). */
  stage?: string;
  environment?: string;
  /** The Wharf instance (WHARF_INSTANCE): with the project, it names the project's Secrets as wharf-cmd does. */
  instance?: string;
  /** wharf-api's project (WHARF_PROJECT_ID), a build fact of the pipeline's variables. */
  projectId?: string;
  /** Input values (VARS / -i). */
  inputs: Record<string, string>;
  executor: "local" | "docker" | "kubernetes" | "cri";
  host: string;
  /** gRPC port; 0 picks a free one. */
  port: number;
  /** Health/metrics HTTP port; 0 picks a free one, -1 disables. */
  httpPort: number;
  token?: string;
  /** Root of kept results: <dataDir>/builds/<buildId>. */
  dataDir: string;
  /** The build fails once it ran this long (WHARF_BUILD_TIMEOUT); unset: no limit. */
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
  /** Network of Docker steps (WHARF_DOCKER_NETWORK): see DEFAULT_DOCKER_NETWORK (settings.ts). */
  dockerNetwork: string;
  /** The CRI executor's runtime socket, sandbox network and host work root: see compileCriSettings. */
  cri: CriSettings;
  /** Where `docker` steps push (see compileRegistry); unset: they build without pushing. */
  registry?: RegistryCredentials;
  /**
   * WHARF_SECRETS_DIR: the docker executor's stand-in for Kubernetes Secrets,
   * `<dir>/<secret name>/<key>` (the layout of a Secret mounted as a volume). A container
   * step's `secretName` gives env vars, a docker step's `secretArgs` build args from its
   * `secretName` and its registry `secret` (`.dockerconfigjson` or `config.json`) push
   * credentials; values are masked in the build log. Unset: those fields are warned about and
   * ignored. The provisioner forwards it to local workers and mounts it into docker ones.
   */
  secretsDir?: string;
  /**
   * WHARF_APPEND_CERT_FILE: the certificate (PEM) a docker step's `append-cert: true` adds to
   * its image (wharf-cmd's root.crt). Unset: `append-cert` is warned about and ignored.
   */
  appendCertFile?: string;
  /**
   * WHARF_TERMINATION_MESSAGE_PATH: a file the build's result is written to when it
   * finishes (a WorkerExitReport), for a provisioner that can no longer ask this worker;
   * the Kubernetes worker pod sets its termination message path. Unset: none is written.
   */
  terminationMessagePath?: string;
  /** The provisioner's base URL to tell when ready and when the build ended (WHARF_WORKER_EVENTS_URL). */
  eventsUrl?: string;
  /** The W3C traceparent of the span that started this worker (TRACEPARENT): the build's spans are its children. */
  traceparent?: string;
  /** Whose step caches this build reads and writes (see compileCacheScope); unset: none. */
  cacheScope?: CacheScope;
  /** WHARF_CACHE_DIR: the local executor's cache store; default `<dataDir>/caches`. */
  cacheDir: string;
  /** WHARF_CACHE_MAX_BYTES: budget of the cache store (local directory, or the engine's cache volumes); default 10 GiB. */
  cacheMaxBytes: number;
}

/**
 * The project and branch step caches are kept for: WHARF_PROJECT_ID and GIT_BRANCH, as the
 * provisioner passes them from wharf-api's build request. A branch without a cache of its own
 * starts from WHARF_DEFAULT_BRANCH's (default "main": the build request does not carry the
 * project's default branch, so an operator whose projects use another sets it). Without a
 * project or a branch there is no cache scope, and steps say their cache is not kept.
 */
function compileCacheScope(
  s: Settings,
  project: string | undefined,
  branch: string | undefined,
): CacheScope | undefined {
  if (!project || !branch) return undefined;
  return { project, branch, fallbackBranch: s.defaultBranch };
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
function compileRegistry(s: Settings): RegistryCredentials | undefined {
  const { registryUrl: url, registryUser: username, registryPassword: password } = s;
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

/** The worker env contract's fields (@wharf/proto/worker-env), its problems as a ConfigError. */
function readContract(env: Env): Partial<WorkerEnv> {
  try {
    return readWorkerEnv(env);
  } catch (err) {
    if (!(err instanceof WorkerEnvError)) throw err;
    throw new ConfigError(err.message, { cause: err });
  }
}

function sourceOf(c: Partial<WorkerEnv>): BuildSource | undefined {
  if (c.sourceDir) return { kind: "dir", dir: path.resolve(c.sourceDir) };
  if (!c.gitUrl) return undefined;
  return {
    kind: "git",
    url: c.gitUrl,
    ...(c.gitBranch ? { branch: c.gitBranch } : {}),
    ...(c.gitToken ? { token: c.gitToken } : {}),
  };
}

function absolute(p: string | undefined): string | undefined {
  return p ? path.resolve(p) : undefined;
}

/**
 * The worker's one place that reads the environment: the provisioner's contract through
 * `readWorkerEnv` (defaults: port 5010, HTTP port the gRPC port + 1, release grace 10s, no build
 * timeout), the worker's own settings through WORKER_SETTINGS and the CRI executor's through
 * CRI_SETTINGS (docs/settings.md). Flags from the CLI come in as `overrides` and win over env.
 */
export function compileWorkerOptions(env: Env, overrides: Partial<WorkerOptions> = {}): WorkerOptions {
  const c = readContract(env);
  const s = readSettings(WORKER_SETTINGS, env);
  const buildId = overrides.buildId ?? c.buildId;
  if (buildId === undefined) throw new ConfigError(`${WORKER_ENV.buildId} is required`);
  const source = overrides.source ?? sourceOf(c);
  if (!source) throw new ConfigError(`set ${WORKER_ENV.sourceDir} or ${WORKER_ENV.gitUrl}`);
  const port = overrides.port ?? c.port ?? 5010;
  const registry = compileRegistry(s);
  const optional = <K extends keyof WorkerOptions>(key: K, v: WorkerOptions[K] | undefined) =>
    v === undefined ? {} : { [key]: v };
  const cacheScope = compileCacheScope(
    s,
    c.projectId,
    c.gitBranch ?? (source.kind === "git" ? source.branch : undefined),
  );
  const dataDir = path.resolve(c.dataDir ?? path.join(os.tmpdir(), "wharf-worker"));
  return {
    buildId,
    workerId: c.workerId ?? `local-${buildId}`,
    source,
    ...(c.runStages && c.runStages.toUpperCase() !== "ALL" ? { stage: c.runStages } : {}),
    ...optional("environment", c.environment),
    ...optional("instance", c.instance),
    ...optional("projectId", c.projectId),
    inputs: c.vars ?? {},
    executor: c.executor ?? "local",
    host: c.host ?? "0.0.0.0",
    port,
    httpPort: c.httpPort ?? (port === 0 ? 0 : port + 1),
    ...optional("token", c.workerToken),
    dataDir,
    ...(c.buildTimeoutMs ? { buildTimeoutMs: c.buildTimeoutMs } : {}),
    stopGraceMs: s.stopGrace,
    releaseGraceMs: c.releaseGraceMs ?? 10_000,
    idleTimeoutMs: s.idleTimeout,
    dockerNetwork: s.dockerNetwork,
    cri: compileCriSettings(env),
    ...optional("registry", registry),
    ...optional("secretsDir", absolute(s.secretsDir)),
    ...optional("appendCertFile", absolute(s.appendCertFile)),
    ...optional("terminationMessagePath", c.terminationMessagePath),
    ...optional("eventsUrl", c.eventsUrl),
    ...optional("traceparent", c.traceparent),
    ...optional("cacheScope", cacheScope),
    cacheDir: path.resolve(s.cacheDir ?? path.join(dataDir, "caches")),
    cacheMaxBytes: s.cacheMaxBytes,
    ...overrides,
  };
}
