import { setTimeout as sleep } from "node:timers/promises";

export interface RetryOptions {
  signal: AbortSignal;
  /** First delay (default 200 ms); doubles per attempt up to `maxDelayMs`. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Called after each failed attempt, before waiting. */
  onError?: (err: unknown, attempt: number, delayMs: number) => void;
  /** Errors for which retrying is pointless; they are rethrown at once. */
  isFatal?: (err: unknown) => boolean;
}

/**
 * Runs `fn` until it succeeds or `signal` aborts, waiting between attempts with
 * exponential backoff and full jitter (so replicas retrying the same outage do
 * not hit wharf-api in lockstep). Waits end early on abort, which a library
 * backoff without AbortSignal support would not do.
 */
export async function retryUntilAborted<T>(
  fn: (attempt: number) => Promise<T>,
  opts: RetryOptions,
): Promise<T> {
  const base = opts.baseDelayMs ?? 200;
  const max = opts.maxDelayMs ?? 10_000;
  for (let attempt = 1; ; attempt++) {
    opts.signal.throwIfAborted();
    try {
      return await fn(attempt);
    } catch (err) {
      if (opts.signal.aborted) throw opts.signal.reason ?? err;
      if (opts.isFatal?.(err)) throw err;
      const ceiling = Math.min(max, base * 2 ** Math.min(attempt - 1, 20));
      const delay = Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
      opts.onError?.(err, attempt, delay);
      await sleep(delay, undefined, { signal: opts.signal });
    }
  }
}
