import { type Logger, pino } from "pino";
import pretty from "pino-pretty";
import type { Env } from "./env.js";
import { redactedRequest } from "./redact.js";
import { readSettings, setting } from "./settings.js";

export type { Logger };

export interface LoggerOptions {
  /** Human-readable lines instead of JSON (CLI commands; WHARF_LOG_FORMAT=pretty forces it). */
  pretty?: boolean;
  /** The level when WHARF_LOG_LEVEL is unset: a CLI command's quieter one ("warn"). */
  defaultLevel?: string;
  /** Where WHARF_LOG_LEVEL and WHARF_LOG_FORMAT are read (default process.env). */
  env?: Env;
}

/** Every process's logging settings. */
export const LOGGING_SETTINGS = {
  level: setting.text("WHARF_LOG_LEVEL", {
    defaultDoc: "info (CLI commands: warn, `wharf build`: error; under vitest: silent)",
    doc: "pino level: trace, debug, info, warn, error, fatal or silent",
  }),
  format: setting.oneOf("WHARF_LOG_FORMAT", ["json", "pretty"], {
    defaultDoc: "json (CLI commands: pretty)",
    doc: "JSON lines, or short human lines",
  }),
};

/**
 * The one logger factory. Logs go to stderr (stdout belongs to CLI output): JSON lines
 * for services, short human lines for interactive commands. Level from WHARF_LOG_LEVEL,
 * "silent" under vitest unless asked for. `level` is for a process that has its own setting
 * of it; a CLI command's quieter default is `options.defaultLevel`, which WHARF_LOG_LEVEL wins over.
 */
export function createLogger(name: string, level?: string, options: LoggerOptions = {}): Logger {
  const s = readSettings(LOGGING_SETTINGS, options.env ?? process.env);
  const chosen = level ?? s.level ?? options.defaultLevel ?? (process.env.VITEST ? "silent" : "info");
  const format = s.format;
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
