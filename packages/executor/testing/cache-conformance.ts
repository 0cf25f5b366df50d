import { randomBytes } from "node:crypto";
import type { CacheRestore, CacheSave, CacheScope, Executor, StepCaches } from "@wharf/executor";
import { afterAll, describe, expect, it } from "vitest";
import { containerStep, makeBuild, removeSource, runStep, type StepResult } from "./step-fixtures.js";

export interface CacheConformanceTarget {
  name: string;
  /** An executor keeping step caches within `maxBytes` (a store of its own where the backend allows). */
  create(maxBytes: number): Executor & { caches: StepCaches };
  /** Image of the container steps. */
  image: string;
  /** Removes every cache of these projects the tests made. */
  cleanup(projects: string[]): Promise<void>;
}

interface CachedRun {
  restored: CacheRestore;
  step: StepResult;
  saved: CacheSave | null;
}

/**
 * What every executor that keeps step caches must do (the rules on `StepCaches`), on a real
 * backend: a build reads what the previous one saved, a new branch starts from the default
 * branch's cache, concurrent builds never read a half-written generation, and the store stays
 * within its budget by dropping the least recently used caches.
 */
export function runCacheConformance(target: CacheConformanceTarget): void {
  describe(`${target.name} executor step caches`, () => {
    const projects: string[] = [];
    const newProject = () => {
      const p = `p${process.pid}-${randomBytes(3).toString("hex")}`;
      projects.push(p);
      return p;
    };
    afterAll(() => target.cleanup(projects));

    /** One build as the engine runs a cached step: restore, run, save if it succeeded, destroy. */
    async function cachedRun(
      executor: Executor & { caches: StepCaches },
      scope: CacheScope,
      cmds: string[],
      cache: string[],
    ): Promise<CachedRun> {
      const build = await makeBuild({ "README.md": "source\n" }, { cache: scope });
      const scoped = build as typeof build & { cache: CacheScope };
      const step = { ...containerStep(1, cmds, { image: target.image }), cache };
      try {
        await executor.setupBuild(build);
        const restored = await executor.caches.restore(scoped, step);
        const result = await runStep(executor, build, step);
        const saved = result.code === 0 ? await executor.caches.save(scoped, step) : null;
        return { restored, step: result, saved };
      } finally {
        await executor.destroyBuild(build);
        await removeSource(build);
      }
    }

    it("gives the next build what one build saved, and a new branch the default branch's cache", async () => {
      const executor = target.create(1024 ** 3);
      const project = newProject();
      const main = { project, branch: "main", fallbackBranch: "main" };
      const cache = ["deps", "build/out"];
      const show = "cat deps/sub/a build/out/b; readlink deps/sub/link";
      const write = (v: string) =>
        `mkdir -p deps/sub build/out && echo ${v} > deps/sub/a && echo ${v}-b > build/out/b && ln -sf a deps/sub/link`;

      const first = await cachedRun(
        executor,
        main,
        [`test ! -e deps || echo unexpected`, write("v1")],
        cache,
      );
      expect(first.restored).toEqual({ hit: false });
      expect(first.step).toEqual({ code: 0, stdout: "", stderr: "" });
      expect(first.saved?.bytes).toBe("v1\nv1-b\n".length);

      const second = await cachedRun(executor, main, [show, write("v2")], cache);
      expect(second.restored).toEqual({ hit: true, branch: "main", bytes: 8 });
      expect(second.step.stdout).toBe("v1\nv1-b\na\n");

      const feature = { project, branch: "feature/x", fallbackBranch: "main" };
      const third = await cachedRun(executor, feature, [show, write("v3")], cache);
      expect(third.restored).toMatchObject({ hit: true, branch: "main" });
      expect(third.step.stdout).toBe("v2\nv2-b\na\n");
      // The feature branch saved its own cache; main's is untouched by it.
      expect((await cachedRun(executor, feature, [show], cache)).step.stdout).toBe("v3\nv3-b\na\n");
      expect((await cachedRun(executor, main, [show], cache)).step.stdout).toBe("v2\nv2-b\na\n");
      // Another project, or another list of paths, is another cache.
      const other = await cachedRun(executor, { ...main, project: newProject() }, [show], cache);
      expect(other.restored).toEqual({ hit: false });
      expect((await cachedRun(executor, main, ["ls"], ["deps"])).restored).toEqual({ hit: false });
    }, 180_000);

    it("never gives a build a half-written cache while other builds of the project save", async () => {
      const executor = target.create(1024 ** 3);
      const scope = { project: newProject(), branch: "main" };
      // 100 files holding one token per generation: a torn cache mixes tokens or lacks files.
      const write = [
        "rm -rf deps && mkdir deps",
        "t=$(cat /proc/sys/kernel/random/uuid)",
        'for i in $(seq 1 100); do yes "$t" | head -n 100 > deps/f$i; done',
      ];
      const check = [
        'if [ -d deps ]; then echo "$(ls deps | wc -l) $(sort -u deps/f* | wc -l)"; else echo miss; fi',
      ];
      await cachedRun(executor, scope, write, ["deps"]);
      const loop = async (times: number, cmds: string[]) => {
        const out: string[] = [];
        for (let i = 0; i < times; i++)
          out.push((await cachedRun(executor, scope, cmds, ["deps"])).step.stdout.trim());
        return out;
      };
      const [w1, w2, r1, r2] = await Promise.all([
        loop(3, write),
        loop(3, write),
        loop(4, check),
        loop(4, check),
      ]);
      expect([...w1, ...w2]).toEqual(Array(6).fill(""));
      const reads = [...r1, ...r2].map((s) => s.replace(/\s+/g, " "));
      expect(reads.filter((r) => r !== "miss")).not.toHaveLength(0);
      for (const r of reads) expect(["100 1", "miss"]).toContain(r);
    }, 300_000);

    it("stays within its budget, evicting the least recently used cache first", async () => {
      const executor = target.create(3000);
      const project = newProject();
      const fill = ["mkdir -p deps && head -c 1000 /dev/zero > deps/zeros"];
      for (const branch of ["a", "b", "c"]) await cachedRun(executor, { project, branch }, fill, ["deps"]);
      // Within budget: all three kept.
      const probe = (branch: string) => cachedRun(executor, { project, branch }, ["true"], ["deps"]);
      const saved = await cachedRun(executor, { project, branch: "d" }, fill, ["deps"]);
      expect(saved.saved).toEqual({ bytes: 1000, evicted: expect.any(Number) });
      expect(saved.saved?.evicted).toBeGreaterThanOrEqual(1);
      expect((await probe("a")).restored).toEqual({ hit: false });
      for (const branch of ["b", "c", "d"])
        expect((await probe(branch)).restored).toMatchObject({ hit: true });
    }, 180_000);
  });
}
