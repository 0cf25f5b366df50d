import { type BuildId, BuildIdError, formatBuildId, parseBuildId } from "./build-id.js";
import { parseBuildVars } from "./build-vars.js";
import { DurationError, formatDurationMs, parseDurationMs } from "./duration.js";
import { WORKER_EVENTS_URL_ENV } from "./worker-events.js";

/**
 * The provisioner → worker contract: the environment a backend starts a worker with. Every
 * backend writes it with `toWorkerEnv` and the worker reads it with `readWorkerEnv`, so a key
 * cannot be renamed on one side only. What the worker reads beyond these keys (its executor's
 * own settings, log level) is operator configuration passed on as is, not this contract.
 */
export const WORKER_ENV = {
  buildId: "WHARF_BUILD_REF",
  workerId: "WHARF_WORKER_ID",
  instance: "WHARF_INSTANCE",
  projectId: "WHARF_PROJECT_ID",
  gitUrl: "GIT_FULLURL",
  gitBranch: "GIT_BRANCH",
  gitToken: "GIT_TOKEN",
  repoBranch: "REPO_BRANCH",
  repoGroup: "REPO_GROUP",
  repoName: "REPO_NAME",
  environment: "ENVIRONMENT",
  runStages: "RUN_STAGES",
  vars: "VARS",
  buildTimeoutMs: "WHARF_BUILD_TIMEOUT",
  executor: "WHARF_EXECUTOR",
  host: "WHARF_WORKER_HOST",
  port: "WHARF_WORKER_PORT",
  httpPort: "WHARF_WORKER_HTTP_PORT",
  dataDir: "WHARF_DATA_DIR",
  sourceDir: "WHARF_SOURCE_DIR",
  releaseGraceMs: "WHARF_RELEASE_GRACE",
  workerToken: "WHARF_WORKER_TOKEN",
  terminationMessagePath: "WHARF_TERMINATION_MESSAGE_PATH",
  eventsUrl: WORKER_EVENTS_URL_ENV,
  /** OpenTelemetry's environment carrier of a parent span. */
  traceparent: "TRACEPARENT",
} as const satisfies Record<keyof WorkerEnv, string>;

/**
 * What a Kubernetes worker pod's spec gives its worker from the downward API, beside
 * WORKER_ENV: the pod's name and uid, which own the step pods (deleting the worker removes
 * them), and its namespace, where they go. kube-manifests' worker pod writes these keys, the
 * kubernetes executor's settings read them.
 */
export const WORKER_POD_ENV = {
  podName: "WHARF_POD_NAME",
  podUid: "WHARF_POD_UID",
  namespace: "WHARF_K8S_NAMESPACE",
} as const;

/** wharf-api's own name of the build id, which a worker started by hand may be given instead. */
const LEGACY_BUILD_REF = "BUILD_REF";

/**
 * Keys whose values are credentials. A backend whose worker env ends up readable by others
 * (a Kubernetes pod spec) leaves them out of it and hands them over another way (a Secret).
 */
export const WORKER_SECRET_ENV = [WORKER_ENV.gitToken, WORKER_ENV.workerToken] as const;

export const WORKER_EXECUTORS = ["local", "docker", "kubernetes", "cri"] as const;
export type WorkerExecutorKind = (typeof WORKER_EXECUTORS)[number];

/** One worker's build and where it serves it; unset fields are left to the worker's defaults. */
export interface WorkerEnv {
  /** wharf-api's build id (BUILD_REF), or one `wharf run` made up. */
  buildId: BuildId;
  workerId?: string;
  instance?: string;
  projectId?: string;
  gitUrl?: string;
  gitBranch?: string;
  gitToken?: string;
  repoBranch?: string;
  repoGroup?: string;
  repoName?: string;
  environment?: string;
  /** "ALL" or one stage name. */
  runStages?: string;
  /** Input values. */
  vars?: Record<string, string>;
  /** The whole build's limit (the provisioner's WHARF_BUILD_TIMEOUT); a longer build fails. */
  buildTimeoutMs?: number;
  executor?: WorkerExecutorKind;
  host?: string;
  /** gRPC port; 0 picks a free one. */
  port?: number;
  /** Health/metrics port; 0 picks a free one, -1 none. */
  httpPort?: number;
  dataDir?: string;
  /** A checkout already made (the Kubernetes clone container's); else the worker clones gitUrl. */
  sourceDir?: string;
  /** A worker stopped mid-build waits this long for the aggregator's Release (see backend.ts). */
  releaseGraceMs?: number;
  /** This worker's own gRPC token (`workerTokenFor`). */
  workerToken?: string;
  /** Where the build's WorkerExitReport is written when it ends. */
  terminationMessagePath?: string;
  /** The provisioner's base URL for worker events (worker-events.ts). */
  eventsUrl?: string;
  /** The W3C traceparent of the span that started the worker: its build's spans are children. */
  traceparent?: string;
}

type Field = keyof typeof WORKER_ENV;

/** Written as text by `toWorkerEnv`, read back by the matching reader of `readWorkerEnv`. */
const DURATIONS: readonly Field[] = ["buildTimeoutMs", "releaseGraceMs"];
const INTEGERS: readonly Field[] = ["port", "httpPort"];

/** A contract key holds a value the worker cannot use; the message names the key, never a value. */
export class WorkerEnvError extends Error {
  override readonly name = "WorkerEnvError";
}

/** The env for `spec`: one entry per set field, nothing for unset or empty ones. */
export function toWorkerEnv(spec: WorkerEnv): Record<string, string> {
  const env: Record<string, string> = {};
  for (const field of Object.keys(WORKER_ENV) as Field[]) {
    const value = spec[field];
    if (value === undefined || value === "") continue;
    const key = WORKER_ENV[field];
    if (field === "vars") env[key] = JSON.stringify(value);
    else if (DURATIONS.includes(field)) env[key] = formatDurationMs(value as number);
    else if (field === "buildId") env[key] = formatBuildId(value as BuildId);
    else env[key] = String(value);
  }
  return env;
}

function readText(env: Readonly<Record<string, string | undefined>>, key: string): string | undefined {
  const v = env[key];
  return v === undefined || v === "" ? undefined : v;
}

function readField(field: Field, text: string): unknown {
  const key = WORKER_ENV[field];
  if (field === "vars") {
    try {
      return parseBuildVars(text);
    } catch (err) {
      throw new WorkerEnvError(`${key} ${(err as Error).message}`, { cause: err });
    }
  }
  if (DURATIONS.includes(field)) {
    try {
      return parseDurationMs(text);
    } catch (err) {
      if (!(err instanceof DurationError)) throw err;
      throw new WorkerEnvError(`${key}: ${err.message}`, { cause: err });
    }
  }
  if (INTEGERS.includes(field)) {
    const n = Number(text);
    if (!Number.isInteger(n)) throw new WorkerEnvError(`${key} must be an integer, got "${text}"`);
    return n;
  }
  if (field === "executor" && !(WORKER_EXECUTORS as readonly string[]).includes(text)) {
    throw new WorkerEnvError(`${key} must be local, docker, kubernetes or cri, got "${text}"`);
  }
  return text;
}

/** The build id from WHARF_BUILD_REF, else from wharf-api's BUILD_REF; undefined when neither is set. */
function readBuildId(env: Readonly<Record<string, string | undefined>>): BuildId | undefined {
  for (const key of [WORKER_ENV.buildId, LEGACY_BUILD_REF]) {
    const text = readText(env, key);
    if (text === undefined) continue;
    try {
      return parseBuildId(text, key);
    } catch (err) {
      if (!(err instanceof BuildIdError)) throw err;
      throw new WorkerEnvError(err.message, { cause: err });
    }
  }
  return undefined;
}

/**
 * The contract's fields found in `env` (empty values count as unset), checked; the build id
 * may also come as wharf-api's BUILD_REF. Throws WorkerEnvError for a value of the wrong kind.
 * What is missing is left unset: the worker decides what it needs (`wharf run` makes up a
 * build id, `wharf worker serve` requires one).
 */
export function readWorkerEnv(env: Readonly<Record<string, string | undefined>>): Partial<WorkerEnv> {
  const out: Record<string, unknown> = {};
  const buildId = readBuildId(env);
  if (buildId !== undefined) out.buildId = buildId;
  for (const field of Object.keys(WORKER_ENV) as Field[]) {
    if (field === "buildId") continue;
    const text = readText(env, WORKER_ENV[field]);
    if (text !== undefined) out[field] = readField(field, text);
  }
  return out as Partial<WorkerEnv>;
}
