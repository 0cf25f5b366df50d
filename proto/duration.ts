/** Not a duration; the message quotes the text (durations are never secrets). */
export class DurationError extends Error {
  override readonly name = "DurationError";
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * "250ms", "30s", "10m", "1h30m" or a bare number of seconds, in ms: how every duration setting
 * is written, by operators and by the provisioner in a worker's env (worker-env.ts), so the
 * grammar lives in the contract package and @wharf/config's env readers use it too.
 */
export function parseDurationMs(text: string): number {
  const t = text.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return Math.round(Number(t) * 1000);
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
  let total = 0;
  let pos = 0;
  for (let m = re.exec(t); m; m = re.exec(t)) {
    total += Number(m[1]) * (UNIT_MS[m[2] as string] as number);
    pos = re.lastIndex;
  }
  if (pos !== t.length || t.length === 0)
    throw new DurationError(`invalid duration "${text}" (use e.g. 30s, 10m, 1h)`);
  return Math.round(total);
}

/** How the contract writes a duration: exact milliseconds, which parseDurationMs reads back. */
export function formatDurationMs(ms: number): string {
  return `${Math.round(ms)}ms`;
}
