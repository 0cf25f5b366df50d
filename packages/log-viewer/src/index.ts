export {
  type BuildList,
  type BuildListEntry,
  type BuildListRoutesOptions,
  buildListRoutes,
} from "./build-list-routes.js";
export {
  type BuildLogSource,
  BuildNotFoundError,
  LogSourceUnavailableError,
  type ResolvedWorker,
  type ResolveWorker,
} from "./build-log-source.js";
export { BuildEventsError, followBuildEvents } from "./cli/build-events-client.js";
export { registerLogsCommand } from "./cli/logs-command.js";
export { registerStatusCommand } from "./cli/status-command.js";
export { type LogEventStreamOptions, streamLogEvents } from "./log-event-stream.js";
export {
  LOG_STREAM_EVENTS,
  type LogStreamEvent,
  type StreamEnd,
  type ViewerStep,
  type ViewerSummary,
  viewerSummary,
} from "./log-events.js";
export { type LogTextOptions, logText, logTextLine, stepLabel } from "./log-text.js";
export { type LogViewerRoutesOptions, logViewerRoutes } from "./log-viewer-routes.js";
export { type RecordedSteps, RecordedStepsSource } from "./recorded-steps-source.js";
export { signBuildLink, type ViewerAccessOptions, viewerAccessHook } from "./viewer-access.js";
export {
  type BuildHistory,
  type BuildHistorySnapshot,
  type WharfApiLogLine,
  WharfApiLogSource,
  type WharfApiLogSourceOptions,
} from "./wharf-api-log-source.js";
export { WorkerLogSource, type WorkerLogSourceOptions } from "./worker-log-source.js";
