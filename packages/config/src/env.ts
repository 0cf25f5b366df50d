/**
 * What reading configuration needs beneath the declarations of settings.ts: the environment's
 * type, the error every bad setting throws, the duration grammar, the loopback rule.
 */
import { DurationError, parseDurationMs as parseContractDuration } from "@wharf/proto/duration";

export type Env = Record<string, string | undefined>;

/** Parses "250ms", "30s", "10m", "1h30m" or a bare number of seconds into ms (@wharf/proto/duration's grammar). */
export function parseDurationMs(text: string): number {
  try {
    return parseContractDuration(text);
  } catch (err) {
    if (err instanceof DurationError) throw new ConfigError(err.message, { cause: err });
    throw err;
  }
}

export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

/** A listen address only this machine reaches: what a service without a token may bind. */
export function isLoopbackHost(host: string): boolean {
  return host === "localhost" || host === "::1" || host === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(host);
}
