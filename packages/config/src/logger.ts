import { type Logger, pino } from "pino";
import pretty from "pino-pretty";
import { redactedRequest } from "./redact.js";

export type { Logger };

export interface LoggerOptions {
  /** Human-readable lines instead of JSON (CLI commands; WHARF_LOG_FORMAT=pretty forces it). */
  pretty?: boolean;
}

/**
 * The one logger factory. Logs go to stderr (stdout belongs to CLI output): JSON lines
 * for services, short human lines for interactive commands. Level from WHARF_LOG_LEVEL,
 * "silent" under vitest unless asked for.
 */
export function createLogger(name: string, level?: string, options: LoggerOptions = {}): Logger {
  const chosen =
    level ??
    process.env.WHARF_LOG_LEVEL ??
    (process.env.VITEST && !process.env.WHARF_LOG_LEVEL ? "silent" : "info");
  const format = process.env.WHARF_LOG_FORMAT;
  const human = format === "pretty" || (format !== "json" && options.pretty === true);
  if (human) {
    const stream = pretty({
      destination: 2,
      sync: true,
      colorize: process.stderr.isTTY === true,
      ignore: "pid,hostname,svc,name,time",
      singleLine: true,
    });
    return pino(settings(name, chosen), stream);
  }
  return pino(settings(name, chosen), pino.destination({ fd: 2, sync: false }));
}

// Every logger masks what a request log could carry: query tokens, Authorization and cookies.
function settings(name: string, level: string) {
  return {
    name,
    level,
    base: { svc: name },
    serializers: { req: redactedRequest },
    redact: {
      paths: ["req.headers.authorization", "req.headers.cookie", "headers.authorization"],
      censor: "***",
    },
  };
}
