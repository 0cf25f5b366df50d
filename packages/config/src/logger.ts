import { type Logger, pino } from "pino";

export type { Logger };

/**
 * The one logger factory. JSON lines to stderr (stdout belongs to CLI output);
 * level from WHARF_LOG_LEVEL, "silent" in tests unless asked for.
 */
export function createLogger(name: string, level?: string): Logger {
  const chosen =
    level ??
    process.env.WHARF_LOG_LEVEL ??
    (process.env.VITEST && !process.env.WHARF_LOG_LEVEL ? "silent" : "info");
  return pino({ name, level: chosen, base: { svc: name } }, pino.destination({ fd: 2, sync: false }));
}
