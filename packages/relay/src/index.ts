export { Aggregator, type AggregatorOptions } from "./aggregator.js";
export {
  type BuildRecord,
  BuildRecordStore,
  type RecordedBuild,
  type StatusWord,
  type StepRecord,
} from "./build-record-store.js";
export { advancesStatus, apiStatusOf } from "./build-status.js";
export { multipartFileBody } from "./multipart-body.js";
export { ProvisionerDirectory, type ProvisionerDirectoryOptions } from "./provisioner-directory.js";
export { defaultRelayTuning, RelayRefusedError, type RelayTuning } from "./relay-context.js";
export { noopRelayMetrics, type RelayCounter, type RelayMetrics } from "./relay-metrics.js";
export {
  type Checkpoint,
  CheckpointStore,
  LeaseLostError,
  migrateRelay,
  relayMigrations,
} from "./relay-store.js";
export { retryUntilAborted } from "./retry.js";
export { FenceClosedError, LeaseFence, type SendFence } from "./send-fence.js";
export { Watchdog, type WatchdogDecision, type WatchdogOptions } from "./watchdog.js";
export {
  type ApiBuild,
  type ApiLogLine,
  WharfApiClient,
  type WharfApiClientOptions,
  WharfApiError,
} from "./wharf-api-client.js";
export {
  ListedBuildIds,
  type LiveWorker,
  type WorkerDirectory,
  WorkerDirectoryError,
  type WorkerOutcome,
  type WorkerState,
  workerStateOf,
  workerTokenOf,
} from "./worker-directory.js";
export { WorkerLease } from "./worker-lease.js";
export { WorkerRelay, type WorkerRelayOutcome } from "./worker-relay.js";
