import path from "node:path";
import { InvalidArgumentError } from "commander";

/**
 * The directory relative paths on the command line are relative to. `pnpm wharf` runs the
 * root script from the repo root and keeps the caller's directory in INIT_CWD; only trust
 * INIT_CWD for that script, since other pnpm scripts that spawn `wharf` set it too.
 */
export function invocationDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.npm_lifecycle_event === "wharf" && env.INIT_CWD) return env.INIT_CWD;
  return process.cwd();
}

export function resolveUserPath(p: string | undefined): string {
  return path.resolve(invocationDir(), p ?? ".");
}

/** commander collector for repeated `-i key=value`; later values win, as in wharf-cmd. */
export function collectInput(raw: string, previous: Record<string, string> = {}): Record<string, string> {
  const eq = raw.indexOf("=");
  if (eq <= 0) throw new InvalidArgumentError(`expected key=value, got "${raw}"`);
  return { ...previous, [raw.slice(0, eq)]: raw.slice(eq + 1) };
}

export const writeOut = (text: string) => process.stdout.write(text.endsWith("\n") ? text : `${text}\n`);
export const writeErr = (text: string) => process.stderr.write(text.endsWith("\n") ? text : `${text}\n`);

/** Replaces every secret value inside strings of `value` with `***` (deeply). */
export function maskSecrets<T>(value: T, secrets: readonly string[]): T {
  const active = secrets.filter((s) => s !== "").sort((a, b) => b.length - a.length);
  if (active.length === 0) return value;
  const mask = (v: unknown): unknown => {
    if (typeof v === "string") return active.reduce((s, secret) => s.split(secret).join("***"), v);
    if (Array.isArray(v)) return v.map(mask);
    if (v && typeof v === "object")
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, mask(x)]));
    return v;
  };
  return mask(value) as T;
}
