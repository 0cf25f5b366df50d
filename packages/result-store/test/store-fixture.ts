import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach } from "vitest";
import type { LogEntry, ResultStore } from "../src/index.js";

const dirs: string[] = [];
const stores: ResultStore[] = [];

/** A fresh temp directory, removed after the test. */
export async function tempDir(): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "wharf-result-store-"));
  dirs.push(dir);
  return dir;
}

/** Closes `store` after the test even when an assertion failed. */
export function track<T extends ResultStore>(store: T): T {
  stores.push(store);
  return store;
}

afterEach(async () => {
  for (const s of stores.splice(0)) await s.close().catch(() => {});
  for (const d of dirs.splice(0)) await fs.rm(d, { recursive: true, force: true });
});

export async function collectLogs(batches: AsyncIterable<LogEntry[]>): Promise<LogEntry[]> {
  const all: LogEntry[] = [];
  for await (const batch of batches) all.push(...batch);
  return all;
}

export async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
}

/** Polls `check` every 5 ms until it holds; fails after `timeoutMs`. */
export async function waitFor(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
