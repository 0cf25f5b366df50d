export { buildInfo, markWharfEntry, versionLine, wharfCommand } from "./build-info.js";
export { ConfigError, type Env, isLoopbackHost, parseDurationMs } from "./env.js";

export { closeConnectionsWhenClosing } from "./http-close.js";
export { createLogger, LOGGING_SETTINGS, type Logger, type LoggerOptions } from "./logger.js";
export { BUILD_LATENCY_BUCKETS } from "./metric-buckets.js";
export { redactedRequest, redactUrl } from "./redact.js";
export { GracefulShutdown } from "./shutdown.js";
