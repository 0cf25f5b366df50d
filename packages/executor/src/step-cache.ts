import { createHash, randomBytes } from "node:crypto";
import path from "node:path";
import type { BuildSpec } from "./executor.js";
import type { PlanStep } from "./plan.js";

/**
 * Step caches (`cache:` in `.wharf-ci.yml`): workspace paths kept between builds of one
 * project and branch. An executor that keeps them implements `StepCaches`; the engine
 * restores a step's paths before its first attempt and saves them after it succeeded.
 *
 * Every backend follows the same rules, so a cache behaves alike on each:
 * - A cache is keyed by project, branch and the step's list of paths (two steps caching
 *   different paths do not overwrite each other). A build of a branch with no cache yet reads
 *   the fallback (default) branch's, and writes its own.
 * - Saving writes a new generation and publishes it only once complete; a reader takes the
 *   newest published generation, which never changes after publication. So two builds of
 *   one project at once never see a half-written cache: each reads a whole generation or none.
 * - The store is bounded: after a save, older generations of a key and then the least
 *   recently used keys are removed until the total is within the budget (`selectEvictions`).
 */
export interface CacheScope {
  /** The project (wharf-api's project id). */
  project: string;
  /** The branch being built. */
  branch: string;
  /** The branch whose cache a branch without one starts from (the project's default branch). */
  fallbackBranch?: string;
}

export type CacheRestore =
  | { hit: true /** The branch whose cache was restored. */; branch: string; bytes: number }
  | { hit: false };

export interface CacheSave {
  bytes: number;
  /** Generations removed to stay within the budget (this key's older ones included). */
  evicted: number;
}

/** What an executor that keeps step caches implements (`Executor.caches`). */
export interface StepCaches {
  /**
   * Copies the newest complete generation of the step's cache (its branch's, else the fallback
   * branch's) into the workspace, before the step starts. `{hit: false}` when there is none.
   * Rejects only for a fault of the backend; the engine then runs the step without the cache.
   */
  restore(build: BuildSpec & { cache: CacheScope }, step: PlanStep): Promise<CacheRestore>;
  /** Saves the step's cache paths as a new generation of its branch's cache, then evicts. */
  save(build: BuildSpec & { cache: CacheScope }, step: PlanStep): Promise<CacheSave>;
}

/** One cache key: the hex digest of project, branch and the sorted paths. */
export function cacheKey(project: string, branch: string, paths: readonly string[]): string {
  const text = JSON.stringify([project, branch, [...paths].sort()]);
  return createHash("sha256").update(text).digest("hex").slice(0, 32);
}

/** The keys a restore tries, in order: the branch's, then the fallback branch's. */
export function restoreKeys(scope: CacheScope, paths: readonly string[]): { key: string; branch: string }[] {
  const keys = [{ key: cacheKey(scope.project, scope.branch, paths), branch: scope.branch }];
  const fallback = scope.fallbackBranch;
  if (fallback && fallback !== scope.branch)
    keys.push({ key: cacheKey(scope.project, fallback, paths), branch: fallback });
  return keys;
}

/**
 * What every backend's restore does around its own way of copying a generation: the first key
 * of `restoreKeys` (the branch's, then the fallback branch's) with a generation still there,
 * newest first. `generationsOf` lists a key's published generations (any order); `restoreOne`
 * copies one into the workspace and answers the bytes restored, or null when it went meanwhile
 * (evicted by another build's save): then the next older one is tried.
 */
export async function restoreNewest<G extends { generation: string }>(
  scope: CacheScope,
  paths: readonly string[],
  generationsOf: (key: string) => Promise<readonly G[]>,
  restoreOne: (key: string, generation: G) => Promise<number | null>,
): Promise<CacheRestore> {
  for (const { key, branch } of restoreKeys(scope, paths)) {
    const newestFirst = [...(await generationsOf(key))].sort((a, b) =>
      b.generation.localeCompare(a.generation),
    );
    for (const g of newestFirst) {
      const bytes = await restoreOne(key, g);
      if (bytes !== null) return { hit: true, branch, bytes };
    }
  }
  return { hit: false };
}

/**
 * A new generation name: milliseconds since the epoch, zero-padded so names sort by age, and
 * random bytes so two saves in the same millisecond differ.
 */
export function newGeneration(nowMs = Date.now()): string {
  return `${String(nowMs).padStart(15, "0")}-${randomBytes(4).toString("hex")}`;
}

/** The age of a generation from its name (see newGeneration), or NaN. */
export function generationMs(generation: string): number {
  return Number(generation.split("-")[0]);
}

/**
 * A step's cache paths, checked: relative, inside the workspace, normalised, no duplicates.
 * The planner reports bad paths with their position; this guards the executors.
 */
export function cachePaths(step: PlanStep): string[] {
  const out = new Set<string>();
  for (const p of step.cache ?? []) {
    const norm = path.posix.normalize(p).replace(/\/+$/, "");
    if (norm === "." || norm === "" || norm.startsWith("/") || norm === ".." || norm.startsWith("../"))
      throw new Error(`cache path "${p}" must be a path inside the workspace`);
    out.add(norm);
  }
  return [...out];
}

/** One stored generation, as a backend lists them for eviction. */
export interface CacheEntry {
  key: string;
  generation: string;
  bytes: number;
  /** When the generation was last restored or saved; LRU order. */
  usedMs: number;
}

/**
 * Which generations to remove: every generation of a key but its newest (superseded), then
 * whole keys, least recently used first, until the rest fits in `maxBytes`. The key just
 * saved (`keep`) is never evicted, even alone above the budget: the next build needs it.
 */
export function selectEvictions(
  entries: readonly CacheEntry[],
  maxBytes: number,
  keep?: string,
): CacheEntry[] {
  const newest = new Map<string, CacheEntry>();
  for (const e of entries) {
    const seen = newest.get(e.key);
    if (!seen || e.generation > seen.generation) newest.set(e.key, e);
  }
  const evict = entries.filter((e) => newest.get(e.key) !== e);
  let total = [...newest.values()].reduce((sum, e) => sum + e.bytes, 0);
  const byAge = [...newest.values()].filter((e) => e.key !== keep).sort((a, b) => a.usedMs - b.usedMs);
  for (const e of byAge) {
    if (total <= maxBytes) break;
    evict.push(e);
    total -= e.bytes;
  }
  return evict;
}

/** A default budget for all caches of one store: 10 GiB. */
export const DEFAULT_CACHE_MAX_BYTES = 10 * 1024 ** 3;
