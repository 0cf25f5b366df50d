/**
 * Helpers for reading configuration from the environment. Each service reads its
 * environment in exactly one place (its `compileOptions`) using these.
 */
import { DurationError, parseDurationMs as parseContractDuration } from "@wharf/proto/duration";

export type Env = Record<string, string | undefined>;

export function envString(env: Env, name: string, fallback: string): string {
  const v = env[name];
  return v === undefined || v === "" ? fallback : v;
}

export function envOptional(env: Env, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v === "" ? undefined : v;
}

export function envInt(env: Env, name: string, fallback: number): number {
  const v = env[name];
  if (v === undefined || v === "") return fallback;
  const n = Number(v);
  if (!Number.isInteger(n)) throw new ConfigError(`${name} must be an integer, got "${v}"`);
  return n;
}

export function envBool(env: Env, name: string, fallback: boolean): boolean {
  const v = env[name];
  if (v === undefined || v === "") return fallback;
  if (/^(1|true|yes|on)$/i.test(v)) return true;
  if (/^(0|false|no|off)$/i.test(v)) return false;
  throw new ConfigError(`${name} must be a boolean, got "${v}"`);
}

/** Parses "250ms", "30s", "10m", "1h30m" or a bare number of seconds into ms (@wharf/proto/duration's grammar). */
export function parseDurationMs(text: string): number {
  try {
    return parseContractDuration(text);
  } catch (err) {
    if (err instanceof DurationError) throw new ConfigError(err.message, { cause: err });
    throw err;
  }
}

export function envDurationMs(env: Env, name: string, fallbackMs: number): number {
  const v = env[name];
  if (v === undefined || v === "") return fallbackMs;
  try {
    return parseDurationMs(v);
  } catch (err) {
    throw new ConfigError(`${name}: ${(err as Error).message}`);
  }
}

export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

/** A listen address only this machine reaches: what a service without a token may bind. */
export function isLoopbackHost(host: string): boolean {
  return host === "localhost" || host === "::1" || host === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(host);
}
