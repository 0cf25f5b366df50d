import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { PlanStep } from "@wharf/executor";
import { LocalExecutor } from "@wharf/executor-local";
import { afterEach, describe, expect, it } from "vitest";
import { buildSpec, plan, runFake, stage, step } from "./plan-fixtures.js";

// The engine around a step's `cache:`: restored once before the step, saved after it
// succeeded, never for a failed step, and said in the step's log whatever happens.
let root: string;
afterEach(() => rmSync(root, { recursive: true, force: true }));

const cached = (name: string, cmds: string[]): Omit<PlanStep, "stage"> => ({
  ...step(name, cmds),
  cache: ["deps"],
});
const scope = { project: "7", branch: "feature", fallbackBranch: "main" };

describe("engine: step caches", () => {
  it("restores before the step, saves after its success, and not after a failure", async () => {
    root = mkdtempSync(join(tmpdir(), "wharf-engine-cache-"));
    const executor = new LocalExecutor({ workspaceRoot: join(root, "ws"), cacheDir: join(root, "caches") });
    const run = async (cmds: string[]) => {
      const { result, recorder } = await runFake(plan(stage("s", [cached("deps", cmds)])), {
        executor,
        build: { ...buildSpec(), cache: scope },
      });
      // The local executor also warns that it ignores the step image: not this test's concern.
      return {
        status: result.steps[0]?.status,
        log: recorder.logsOf(1).filter((l) => !l.startsWith("warning: image")),
      };
    };
    const first = await run(["mkdir -p deps", "echo one > deps/v"]);
    expect(first.status).toBe("SUCCESS");
    expect(first.log).toEqual([
      "cache: no cache of deps yet for branch feature nor main",
      "cache: saved deps for branch feature (4 B)",
    ]);

    const failed = await run(["cat deps/v", "echo two > deps/v", "exit 1"]);
    expect(failed.log.slice(0, 2)).toEqual(["cache: restored deps (branch feature, 4 B)", "one"]);
    expect(failed.log.join("\n")).not.toContain("cache: saved");

    const third = await run(["cat deps/v"]);
    expect(third.log.slice(0, 2)).toEqual(["cache: restored deps (branch feature, 4 B)", "one"]);
  });

  it("says so when the executor keeps no caches or the build has no project and branch", async () => {
    const noCaches = await runFake(plan(stage("s", [cached("deps", ["true"])])), {
      build: { ...buildSpec(), cache: scope },
    });
    expect(noCaches.recorder.logsOf(1)[0]).toBe(
      "cache: deps not restored: the fake executor keeps no caches",
    );

    root = mkdtempSync(join(tmpdir(), "wharf-engine-cache-"));
    const executor = new LocalExecutor({ workspaceRoot: join(root, "ws"), cacheDir: join(root, "caches") });
    const unscoped = await runFake(plan(stage("s", [cached("deps", ["true"])])), {
      executor,
      build: buildSpec(),
    });
    expect(unscoped.recorder.logsOf(1).filter((l) => !l.startsWith("warning: image"))).toEqual([
      "cache: deps not restored: the build has no project and branch (WHARF_PROJECT_ID, GIT_BRANCH)",
    ]);
  });
});
