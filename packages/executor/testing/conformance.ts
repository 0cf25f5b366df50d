import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { PlanStep } from "@wharf/executor";
import { type BuildSpec, type Executor, ExecutorError, StepStartError } from "@wharf/executor";
import { beforeAll, describe, expect, it } from "vitest";
import {
  containerStep,
  finish,
  makeBuild,
  OutputCollector,
  removeSource,
  runStep,
  withExecutorBuild,
} from "./step-fixtures.js";

export interface ConformanceTarget {
  /** Shown in the describe block: "local", "docker". */
  name: string;
  /** Makes the executor under test, once for the suite. */
  create(): Executor | Promise<Executor>;
  /** Image of the container steps (a local one for Docker; ignored by the local executor). */
  image: string;
  /** Runs after each build was destroyed: assert the backend kept nothing of it (containers, volume, dir). */
  assertBuildGone?(build: BuildSpec): Promise<void>;
  /** Runs every step type, helm included (Kubernetes): no step type to refuse. */
  runsEveryStepType?: boolean;
}

/**
 * The behaviour every `Executor` must have, run against a real backend. Each test sets up
 * its own build (unique build ref) and destroys it, so the tests are independent.
 */
export function runExecutorConformance(target: ConformanceTarget): void {
  describe(`${target.name} executor conformance`, () => {
    let executor: Executor;
    const step = (id: number, cmds: string[]): PlanStep => containerStep(id, cmds, { image: target.image });

    beforeAll(async () => {
      executor = await target.create();
      await executor.ping();
    });

    const withBuild = (
      files: Record<string, string>,
      body: (build: BuildSpec) => Promise<void>,
      extra: Partial<BuildSpec> = {},
    ) =>
      withExecutorBuild(executor, files, body, {
        extra,
        ...(target.assertBuildGone ? { assertGone: target.assertBuildGone } : {}),
      });

    it("streams a step's stdout and exits 0", async () => {
      await withBuild({}, async (build) => {
        const r = await runStep(executor, build, step(1, ["echo hello", "echo world"]));
        expect(r).toEqual({ code: 0, stdout: "hello\nworld\n", stderr: "" });
      });
    });

    it("reports the exit code of the failing cmd", async () => {
      await withBuild({}, async (build) => {
        expect((await runStep(executor, build, step(1, ["exit 3"]))).code).toBe(3);
        expect((await runStep(executor, build, step(2, ["true"]))).code).toBe(0);
      });
    });

    it("stops at the first failing cmd", async () => {
      await withBuild({}, async (build) => {
        const r = await runStep(executor, build, step(1, ["echo one", "false", "echo two"]));
        expect(r.code).toBe(1);
        expect(r.stdout).toBe("one\n");
      });
    });

    it("keeps shell state across cmds of one step", async () => {
      await withBuild({ "sub/file.txt": "x" }, async (build) => {
        const r = await runStep(executor, build, step(1, ["cd sub", "N=42", "echo $N; ls"]));
        expect(r.stdout).toBe("42\nfile.txt\n");
      });
    });

    it("separates stdout from stderr", async () => {
      await withBuild({}, async (build) => {
        const r = await runStep(executor, build, step(1, ["echo out", "echo err >&2", "echo out2"]));
        expect(r.stdout).toBe("out\nout2\n");
        expect(r.stderr).toBe("err\n");
      });
    });

    it("runs in a copy of the source directory, keeping executable bits", async () => {
      const files = { "input.txt": "from source\n", "bin/run.sh": "+x #!/bin/sh\necho script ran\n" };
      await withBuild(files, async (build) => {
        const r = await runStep(executor, build, step(1, ["cat input.txt", "./bin/run.sh"]));
        expect(r).toEqual({ code: 0, stdout: "from source\nscript ran\n", stderr: "" });
      });
    });

    it("shares the workspace between steps", async () => {
      await withBuild({}, async (build) => {
        expect(
          (await runStep(executor, build, step(1, ["mkdir -p out", "echo shared > out/note"]))).code,
        ).toBe(0);
        const r = await runStep(executor, build, step(2, ["cat out/note"]));
        expect(r.stdout).toBe("shared\n");
      });
    });

    it("gives the step the build env with the step env on top", async () => {
      const env = { A: "build-a", B: "build-b" };
      await withBuild(
        {},
        async (build) => {
          const r = await runStep(executor, build, step(1, ['echo "$A $B $C"']), {
            B: "step-b",
            C: "step-c",
          });
          expect(r.stdout).toBe("build-a step-b step-c\n");
        },
        { env },
      );
    });

    it("stop() ends a sleeping step with a non-zero code", async () => {
      await withBuild({}, async (build) => {
        const proc = await executor.startStep(build, step(1, ["echo started", "sleep 60", "echo never"]), {});
        try {
          const out = new OutputCollector(proc.stdout);
          new OutputCollector(proc.stderr);
          await out.waitFor("started");
          await proc.stop(1_000);
          const code = await proc.wait();
          expect(code).not.toBe(0);
          expect(await out.all()).toBe("started\n");
          await proc.stop(1_000); // a second stop after the end is harmless
        } finally {
          await proc.destroy();
        }
      });
    });

    it("destroys a failed step, twice if asked", async () => {
      await withBuild({}, async (build) => {
        const proc = await executor.startStep(build, step(1, ["echo bye", "exit 7"]), {});
        expect((await finish(proc)).code).toBe(7);
        await proc.destroy();
        await proc.destroy();
      });
    });

    it("destroyBuild stops steps that are still running", async () => {
      const build = await makeBuild();
      try {
        await executor.setupBuild(build);
        const proc = await executor.startStep(build, step(1, ["echo started", "sleep 60"]), {});
        const out = new OutputCollector(proc.stdout);
        new OutputCollector(proc.stderr);
        await out.waitFor("started");
        await executor.destroyBuild(build);
        expect(await proc.wait()).not.toBe(0);
        await proc.destroy();
      } finally {
        await executor.destroyBuild(build);
        await removeSource(build);
      }
      await target.assertBuildGone?.(build);
    });

    it("destroyBuild succeeds for a build that was never set up", async () => {
      const build = await makeBuild();
      await executor.destroyBuild(build);
      await removeSource(build);
    });

    it("refuses to start a step of a build that was not set up, creating nothing", async () => {
      const build = await makeBuild();
      try {
        const err = await executor.startStep(build, step(1, ["true"]), {}).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(ExecutorError);
        expect((err as Error).message).toMatch(/setupBuild was not called/);
      } finally {
        await executor.destroyBuild(build);
        await removeSource(build);
      }
      await target.assertBuildGone?.(build);
    });

    it("collects the files matching the globs, keeping relative paths", async () => {
      const dest = await fs.mkdtemp(path.join(os.tmpdir(), "wharf-collect-"));
      try {
        await withBuild({ "src/keep.txt": "source" }, async (build) => {
          const cmds = [
            "mkdir -p dist/sub",
            "echo a > dist/a.txt",
            "echo b > dist/sub/b.txt",
            "echo l > run.log",
          ];
          expect((await runStep(executor, build, step(1, [...cmds, "echo h > dist/.hidden"]))).code).toBe(0);
          const copied = await executor.collectFiles(build, ["dist/**", "*.log", "nothing/*"], dest);
          expect(copied).toEqual(["dist/.hidden", "dist/a.txt", "dist/sub/b.txt", "run.log"]);
          expect(await fs.readFile(path.join(dest, "dist/sub/b.txt"), "utf8")).toBe("b\n");
          expect(await fs.readFile(path.join(dest, "run.log"), "utf8")).toBe("l\n");
          await expect(fs.stat(path.join(dest, "src"))).rejects.toThrow();
          await expect(executor.collectFiles(build, ["../etc/*"], dest)).rejects.toThrow(
            /inside the workspace/,
          );
        });
      } finally {
        await fs.rm(dest, { recursive: true, force: true });
      }
    });

    it("runs steps concurrently, each with its own output", async () => {
      await withBuild({}, async (build) => {
        const ids = [1, 2, 3, 4];
        const results = await Promise.all(
          ids.map((id) =>
            runStep(
              executor,
              build,
              step(id, [`echo step-${id} > file-${id}`, `cat file-${id}`, `exit ${id}`]),
            ),
          ),
        );
        expect(results.map((r) => [r.code, r.stdout])).toEqual(ids.map((id) => [id, `step-${id}\n`]));
      });
    });

    it.skipIf(target.runsEveryStepType)("refuses a step type it cannot run with StepStartError", async () => {
      await withBuild({}, async (build) => {
        const helm: PlanStep = {
          ...containerStep(9, []),
          type: "helm",
          spec: { chart: "c", name: "n", namespace: "ns", set: {}, files: [] },
        };
        const err = await executor.startStep(build, helm, {}).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(StepStartError);
        expect((err as StepStartError).stepId).toBe(9);
        expect((err as Error).message).toMatch(/helm/);
      });
    });
  });
}
