export {
  ConfigError,
  type Env,
  envBool,
  envDurationMs,
  envInt,
  envOptional,
  envString,
  parseDurationMs,
} from "./env.js";
export { createLogger, type Logger, type LoggerOptions } from "./logger.js";
export { GracefulShutdown } from "./shutdown.js";
