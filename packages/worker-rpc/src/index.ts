export {
  createWorkerClient,
  type HealthStatus,
  type StreamOptions,
  type WorkerClient,
  type WorkerClientOptions,
  WorkerRpcError,
} from "./client.js";
export { decodeLogBatch, decodeLogLine, type WireLogLineView, walkLogBatch } from "./log-batch-decoder.js";
export {
  DEFAULT_WORKER_PORT,
  startWorkerRpcServer,
  type WorkerRpcServer,
  type WorkerRpcServerOptions,
} from "./server.js";
export { NO_EXIT_CODE, type WorkerArtifactEvent } from "./wire.js";
export { timestampToDate, WorkerConnection, type WorkerConnectionOptions } from "./worker-connection.js";
export { ARTIFACT_CHUNK_BYTES, MAX_BATCH_LINES, type WorkerResultSource } from "./worker-handlers.js";
export { WorkerLogLines, type WorkerLogPart } from "./worker-log-lines.js";
