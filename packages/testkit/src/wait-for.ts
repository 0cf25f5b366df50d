import { setTimeout as sleep } from "node:timers/promises";

type Truthy<T> = Exclude<T, undefined | null | false | 0 | "">;

/**
 * Polls `check` every `intervalMs` until it returns something truthy and returns that; after
 * `timeoutMs` throws with `what` and the last value seen (cut short), so a failed wait says
 * what it was waiting for and how far it got.
 */
export async function waitFor<T>(
  what: string,
  check: () => T | Promise<T>,
  timeoutMs = 30_000,
  intervalMs = 50,
): Promise<Truthy<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as Truthy<T>;
    if (Date.now() > deadline) {
      const last = JSON.stringify(value) ?? String(value);
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${last.slice(0, 200)})`);
    }
    await sleep(intervalMs);
  }
}
