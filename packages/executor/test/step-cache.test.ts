import { describe, expect, it } from "vitest";
import {
  type CacheEntry,
  cacheKey,
  cachePaths,
  generationMs,
  newGeneration,
  restoreKeys,
  selectEvictions,
} from "../src/step-cache.js";
import { containerStep } from "../testing/step-fixtures.js";

const entry = (key: string, generation: string, bytes: number, usedMs: number): CacheEntry => ({
  key,
  generation,
  bytes,
  usedMs,
});

describe("step cache rules", () => {
  it("keys by project, branch and the set of paths", () => {
    const k = cacheKey("1", "main", ["a", "b"]);
    expect(cacheKey("1", "main", ["b", "a"])).toBe(k);
    expect(
      new Set([
        k,
        cacheKey("2", "main", ["a", "b"]),
        cacheKey("1", "dev", ["a", "b"]),
        cacheKey("1", "main", ["a"]),
      ]).size,
    ).toBe(4);
    // No ambiguity from joining: ["1/main"] + "" differs from ["1"] + "main/".
    expect(cacheKey("1/main", "", [])).not.toBe(cacheKey("1", "main/", []));
  });

  it("restores the branch's cache first, then the fallback branch's, never the same twice", () => {
    expect(
      restoreKeys({ project: "1", branch: "dev", fallbackBranch: "main" }, ["a"]).map((k) => k.branch),
    ).toEqual(["dev", "main"]);
    expect(restoreKeys({ project: "1", branch: "main", fallbackBranch: "main" }, ["a"])).toHaveLength(1);
    expect(restoreKeys({ project: "1", branch: "dev" }, ["a"])).toHaveLength(1);
  });

  it("names generations so that they sort by age", () => {
    const a = newGeneration(5);
    const b = newGeneration(1_700_000_000_000);
    expect([b, a].sort()).toEqual([a, b]);
    expect(generationMs(b)).toBe(1_700_000_000_000);
    expect(newGeneration(5)).not.toBe(a);
  });

  it("refuses cache paths outside the workspace and normalises the rest", () => {
    const step = (cache: string[]) => ({ ...containerStep(1, []), cache });
    expect(cachePaths(step(["node_modules/", "./a//b", "node_modules"]))).toEqual(["node_modules", "a/b"]);
    for (const bad of ["/etc", "../x", "a/../..", "."])
      expect(() => cachePaths(step([bad]))).toThrow(/inside the workspace/);
  });

  it("evicts superseded generations, then least recently used keys until within budget", () => {
    const entries = [
      entry("a", "002", 100, 50),
      entry("a", "001", 100, 10), // superseded by a/002
      entry("b", "001", 100, 20),
      entry("c", "001", 100, 30),
      entry("d", "001", 100, 40),
    ];
    const picked = (max: number, keep?: string) =>
      selectEvictions(entries, max, keep).map((e) => `${e.key}/${e.generation}`);
    expect(picked(1000)).toEqual(["a/001"]);
    expect(picked(400)).toEqual(["a/001"]);
    expect(picked(250)).toEqual(["a/001", "b/001", "c/001"]);
    // The key just saved stays even when it alone is over the budget.
    expect(picked(0, "b")).toEqual(["a/001", "c/001", "d/001", "a/002"]);
  });
});
