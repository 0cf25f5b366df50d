import { spawn } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { BuildSpec } from "@wharf/executor";
import { LABEL_BUILD_REF, StepStartError } from "@wharf/executor";
import {
  containerStep,
  finish,
  makeBuild,
  OutputCollector,
  removeSource,
  runStep,
  withExecutorBuild,
} from "@wharf/executor/testing";
import { CriExecutor } from "@wharf/executor-cri";
import { afterAll, describe, expect, it } from "vitest";
import { assertCriBuildGone, CRI_DIR, CRI_ENDPOINT, CRI_IMAGE, mountsUnder } from "./cri-runtime.js";

/** What the conformance suite does not cover: the CRI specifics, and cleanup after a crash. */
// Made by the first setup (never when the suite is skipped), removed after it.
const workRoot = path.join(os.tmpdir(), `wharf-cri-exec-${process.pid}`);
const executor = new CriExecutor({ endpoint: CRI_ENDPOINT ?? "unix:///nonexistent", workRoot });
const step = (id: number, cmds: string[]) => containerStep(id, cmds, { image: CRI_IMAGE });
const withBuild = (body: (build: BuildSpec) => Promise<void>) =>
  withExecutorBuild(executor, {}, body, { assertGone: (b) => assertCriBuildGone(executor, b) });

describe.skipIf(!CRI_ENDPOINT)("cri executor on a real containerd (WHARF_CRI_TEST_ENDPOINT)", () => {
  afterAll(async () => {
    executor.close();
    await fs.rm(workRoot, { recursive: true, force: true });
  });

  it("fails a step whose image cannot be pulled with StepStartError, creating nothing", async () => {
    await withBuild(async (build) => {
      // 127.0.0.1:1 refuses at once: the pull fails without any traffic leaving this machine.
      const image = "127.0.0.1:1/wharf-test/missing:nope";
      const err = await executor
        .startStep(build, containerStep(3, ["true"], { image }), {})
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StepStartError);
      expect((err as StepStartError).stepId).toBe(3);
      expect((err as StepStartError).permanent).toBe(false);
      expect((err as Error).message).toContain(`image ${image} not found locally and pull failed:`);
      expect((await executor.findLeftovers({ [LABEL_BUILD_REF]: build.buildRef })).containers).toEqual([]);
    });
  });

  it("joins the runtime's partial records: a line longer than its 16 KiB cut, and a last line without newline", async () => {
    await withBuild(async (build) => {
      const r = await runStep(
        executor,
        build,
        step(1, ["head -c 40000 /dev/zero | tr '\\0' x; echo", "printf tail"]),
      );
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(`${"x".repeat(40_000)}\ntail`);
    });
  });

  it("reports the runtime's exit reason", async () => {
    await withBuild(async (build) => {
      const ok = await executor.startStep(build, step(1, ["true"]), {});
      const failed = await executor.startStep(build, step(2, ["exit 4"]), {});
      expect([(await finish(ok)).code, (await finish(failed)).code]).toEqual([0, 4]);
      expect([(ok as { reason?: string }).reason, (failed as { reason?: string }).reason]).toEqual([
        "Completed",
        "Error",
      ]);
      await ok.destroy();
      await failed.destroy();
      // Stopping a step already removed is harmless too.
      await failed.stop(1_000);
    });
  });

  it("stop() sends SIGTERM first: a step that handles it ends on its own terms", async () => {
    await withBuild(async (build) => {
      const cmds = ["trap 'echo got TERM; exit 5' TERM", "echo started", "sleep 60 & wait"];
      const proc = await executor.startStep(build, step(1, cmds), {});
      const out = new OutputCollector(proc.stdout);
      new OutputCollector(proc.stderr);
      await out.waitFor("started");
      // The build's mounts exist while it runs (so the "no mount left" checks can fail).
      expect((await mountsUnder(CRI_DIR)).length).toBeGreaterThan(0);
      await proc.stop(30_000);
      expect(await proc.wait()).toBe(5);
      expect(await out.all()).toBe("started\ngot TERM\n");
      await proc.destroy();
    });
  });

  it("leaves nothing when the build is destroyed while a step is still starting", async () => {
    const build = await makeBuild();
    try {
      await executor.setupBuild(build);
      const starting = executor.startStep(build, step(1, ["sleep 60"]), {}).catch((e: unknown) => e);
      await executor.destroyBuild(build);
      const result = await starting;
      if (result instanceof Error) expect(result).toBeInstanceOf(StepStartError);
      else {
        expect(await (result as Awaited<ReturnType<typeof executor.startStep>>).wait()).not.toBe(0);
      }
    } finally {
      await executor.destroyBuild(build);
      await removeSource(build);
    }
    await assertCriBuildGone(executor, build);
  });

  it("removes what a killed worker left at the next executor's first setup, and nothing of a live one", async () => {
    const ref = `killed-${process.pid}-${Date.now().toString(36)}`;
    const hold = path.join(path.dirname(fileURLToPath(import.meta.url)), "hold-build.ts");
    const child = spawn(process.execPath, ["--import", "tsx", hold, ref, workRoot], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    const exited = new Promise((resolve) => child.once("exit", resolve));
    try {
      await new OutputCollector(child.stdout).waitFor("ready", 40_000);
      const held = await executor.findLeftovers({ [LABEL_BUILD_REF]: ref });
      expect([held.sandboxes.length, held.containers.length]).toEqual([1, 1]);
      // Its owner is alive: not an orphan.
      expect(await executor.removeOrphans()).toEqual([]);
      expect((await executor.findLeftovers({ [LABEL_BUILD_REF]: ref })).sandboxes).toHaveLength(1);
    } finally {
      child.kill("SIGKILL");
      await exited;
    }
    const fresh = new CriExecutor({ endpoint: CRI_ENDPOINT, workRoot });
    try {
      await withExecutorBuild(fresh, {}, async (build) => {
        expect((await runStep(fresh, build, step(1, ["echo fine"]))).stdout).toBe("fine\n");
      });
      expect(await fresh.findLeftovers({ [LABEL_BUILD_REF]: ref })).toEqual({
        sandboxes: [],
        containers: [],
        buildRefs: [],
      });
      await expect(fs.stat(path.join(workRoot, ref))).rejects.toThrow(/ENOENT/);
      expect(await mountsUnder(CRI_DIR)).toEqual([]);
    } finally {
      fresh.close();
    }
  });
});
