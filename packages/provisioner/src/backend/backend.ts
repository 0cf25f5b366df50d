import { type WorkerExitReport, workerTokenFor } from "@wharf/proto";
import { type BuildId, formatBuildId } from "@wharf/proto/build-id";
import { toWorkerEnv, type WorkerEnv } from "@wharf/proto/worker-env";
import { type BuildRequest, workerBuild } from "../build-request.js";

/** What a backend needs to start one worker. */
export interface WorkerSpec {
  workerId: string;
  /** Human-readable and unique; the container name on Docker. */
  name: string;
  request: BuildRequest;
  /**
   * Where the worker tells that it is ready and that its build ended
   * (WHARF_WORKER_EVENTS_URL), when it can reach the provisioner there; without it the worker is probed.
   */
  eventsUrl?: string;
}

/** A worker as the backend sees it, independent of the database. */
export interface BackendWorker {
  workerId: string;
  /** "running": the process/container is up; "exited": it is gone but not yet deleted. */
  state: "running" | "exited";
  /** Exit code when known (a process we did not spawn has none). */
  exitCode: number | null;
  /** "host:port" of the worker's gRPC server. */
  address: string;
  /** What an exited worker left about its build (a Kubernetes termination message); none when unknown. */
  exitReport?: WorkerExitReport;
}

/**
 * Where workers run. The scheduler calls `create` for a claimed build, polls
 * `list` to reconcile the database with reality (a worker whose process or
 * container vanished is lost; one found after a restart is adopted), and asks
 * the worker itself for the build's status over gRPC at the listed address.
 *
 * - `create` resolves once the worker process/container was started (not when
 *   its gRPC server answers); it must not leave anything behind when it throws.
 * - `delete` stops the worker and everything it started (step containers),
 *   removes it, and succeeds for a worker that already exited; it returns false
 *   when the backend has no such worker.
 * - `list` may be called concurrently with `create` and `delete`.
 * - `close` releases the backend's own resources. Workers keep running (they
 *   hold build results until released) unless the backend was told otherwise.
 */
export interface WorkerBackend {
  readonly kind: "local" | "docker" | "kubernetes";
  /**
   * Which rows this backend instance may reconcile: replicas with the same
   * scope see the same workers (one Docker engine, one local data dir).
   */
  readonly scope: string;
  create(spec: WorkerSpec): Promise<{ address: string }>;
  list(): Promise<BackendWorker[]>;
  delete(workerId: string): Promise<boolean>;
  close(): Promise<void>;
}

/** Worker names: `wharf-worker-<buildId>-<suffix>` (valid as a container name). */
export function workerName(buildId: BuildId, workerId: string): string {
  return `wharf-worker-${formatBuildId(buildId)}-${workerId.slice(-8)}`;
}

/**
 * Settings every backend passes to the worker the same way (see the worker
 * contract, @wharf/proto/worker-env): build timeout, gRPC token, extra env.
 */
export interface WorkerRuntimeOptions {
  /** The key each worker's own gRPC token is derived from (`workerTokenFor`, WHARF_WORKER_TOKEN). */
  workerToken?: string;
  /** The provisioner's WHARF_BUILD_TIMEOUT: every build it starts fails once it ran this long. */
  buildTimeoutMs?: number;
  /** Extra env for every worker (e.g. WHARF_LOG_LEVEL). */
  extraEnv?: Record<string, string>;
  /** Grace between SIGTERM and SIGKILL when deleting a worker (default 15 s, see workerEnv). */
  stopGraceMs?: number;
}

/** Grace between SIGTERM and SIGKILL when deleting a worker. */
export function stopGraceOf(opts: WorkerRuntimeOptions): number {
  return opts.stopGraceMs ?? 15_000;
}

/** Left between the end of a stopped worker's wait for Release and our SIGKILL, to exit cleanly. */
const WORKER_EXIT_MS = 1_000;

/** The worker's own gRPC token, when the provisioner has a key to derive it from. */
export function workerTokenOf(opts: WorkerRuntimeOptions, workerId: string): string | undefined {
  return opts.workerToken ? workerTokenFor(opts.workerToken, workerId) : undefined;
}

/** What the backend decides about a worker: where it serves and what it runs steps with. */
export type WorkerPlacement = Omit<WorkerEnv, keyof ReturnType<typeof workerBuild> | "buildTimeoutMs">;

/**
 * The whole env of one worker, the same way for every backend: extra env, then the contract
 * (`toWorkerEnv`): the build, the backend's placement, and these settings. A worker stopped
 * mid-build (a cancel through DELETE) cancels its steps and then waits for the aggregator's
 * Release, so the build's last lines and its final status still reach wharf-api: that wait
 * (WHARF_RELEASE_GRACE, counted from the signal) must end before the backend's SIGKILL.
 */
export function workerEnv(
  spec: WorkerSpec,
  opts: WorkerRuntimeOptions,
  placement: WorkerPlacement,
): Record<string, string> {
  const workerToken = workerTokenOf(opts, spec.workerId);
  return {
    ...opts.extraEnv,
    ...toWorkerEnv({
      ...workerBuild(spec.workerId, spec.request),
      ...placement,
      ...(opts.buildTimeoutMs ? { buildTimeoutMs: opts.buildTimeoutMs } : {}),
      releaseGraceMs: Math.max(0, stopGraceOf(opts) - WORKER_EXIT_MS),
      ...(workerToken ? { workerToken } : {}),
      ...(spec.eventsUrl ? { eventsUrl: spec.eventsUrl } : {}),
    }),
  };
}
