export { type AppOptions, buildApp, type ProvisionerApp } from "./app.js";
export { presentedToken, tokenMatches } from "./auth.js";
export {
  type BackendWorker,
  stopGraceOf,
  type WorkerBackend,
  type WorkerPlacement,
  type WorkerRuntimeOptions,
  type WorkerSpec,
  workerEnv,
  workerTokenOf,
} from "./backend/backend.js";
export { freePort } from "./backend/free-port.js";
export { type StandbyKind, StandbyPool, type StandbyPoolOptions } from "./backend/standby-pool.js";
export { type BuildRequest, parseBuildRequest, parseVars, workerBuild } from "./build-request.js";
export {
  type CreateWorkerParams,
  ProvisionerClient,
  ProvisionerClientError,
  type ProvisionerClientOptions,
} from "./client.js";
export { BackendError, type Problem, type ProblemCode, ProblemError, problemTypes } from "./errors.js";
export { DEFAULT_MAX_URL_LENGTH, DEFAULT_TRIGGER_RATE } from "./limits.js";
export type { ProvisionerMetrics } from "./metrics.js";
export { DEFAULT_RETENTION_MS, Provisioner, type ProvisionerOptions } from "./provisioner.js";
export {
  type MissingAnswer,
  type MissingReason,
  WORKER_STATUSES,
  type Worker,
  type WorkerStatus,
} from "./schemas.js";
export { grpcStatusProbe, type ProbedStatus, type StatusProbe } from "./status-probe.js";
export { migrateProvisioner } from "./store/worker-row.js";
export { loadOrCreateWorkerKey } from "./worker-key.js";
