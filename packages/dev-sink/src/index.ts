export type {
  BuildSink,
  SinkArtifact,
  SinkBuild,
  SinkLogLine,
} from "./build-sink.js";
export { DbSink } from "./db-sink.js";
export { type DevBuildRequest, type DevSinkOptions, startDevSink } from "./dev-sink.js";
export { type MemoryArtifact, MemorySink, type MemoryStatus } from "./memory-sink.js";
export { startWharfApiServer, type WharfApiServer, type WharfApiServerOptions } from "./wharf-api-server.js";
