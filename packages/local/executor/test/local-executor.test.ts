import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { PlanStep } from "@wharf/executor";
import { StepStartError } from "@wharf/executor";
import {
  containerStep,
  finish,
  makeBuild,
  OutputCollector,
  removeSource,
  runExecutorConformance,
  runStep,
} from "@wharf/executor/testing";
import { LocalExecutor } from "@wharf/executor-local";
import { afterAll, describe, expect, it } from "vitest";

const workspaceRoot = await fs.mkdtemp(path.join(os.tmpdir(), "wharf-local-exec-"));
afterAll(() => fs.rm(workspaceRoot, { recursive: true, force: true }));

const executor = new LocalExecutor({ workspaceRoot });

runExecutorConformance({
  name: "local",
  create: () => executor,
  image: "ignored/by-local:latest",
  async assertBuildGone(build) {
    await expect(fs.stat(executor.workspaceOf(build))).rejects.toThrow(/ENOENT/);
  },
});

/** True while a process with this pid runs; a zombie (killed, not yet reaped by PID 1) counts as gone. */
async function alive(pid: number): Promise<boolean> {
  const stat = await fs.readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
  const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
  return stat !== "" && state !== "Z" && state !== "X";
}

async function readPid(file: string): Promise<number> {
  const pid = Number((await fs.readFile(file, "utf8")).trim());
  expect(pid).toBeGreaterThan(1);
  return pid;
}

/** Bounded poll: the kernel may need a moment to reap a killed process. */
async function waitGone(pid: number): Promise<boolean> {
  for (let i = 0; i < 250 && (await alive(pid)); i++) await new Promise((r) => setTimeout(r, 20));
  return !(await alive(pid));
}

describe("local executor specifics", () => {
  it("explains that other step types need the docker backend", async () => {
    const build = await makeBuild();
    try {
      await executor.setupBuild(build);
      const docker: PlanStep = {
        ...containerStep(4, []),
        type: "docker",
        spec: {
          file: "Dockerfile",
          tags: ["t"],
          context: ".",
          appendCert: false,
          push: false,
          args: [],
          secretArgs: [],
          noCache: false,
          pull: false,
        },
      };
      await expect(executor.startStep(build, docker, {})).rejects.toThrow(
        // Permanent: the engine fails the step at once instead of retrying it.
        new StepStartError(
          "step type docker is not supported by the local executor; use --backend docker",
          4,
          {
            permanent: true,
          },
        ),
      );
    } finally {
      await executor.destroyBuild(build);
      await removeSource(build);
    }
  });

  it("gives StepStartError for a shell missing on the host", async () => {
    const build = await makeBuild();
    try {
      await executor.setupBuild(build);
      const err = await executor
        .startStep(build, containerStep(2, ["true"], { shell: "/no/such/shell" }), {})
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StepStartError);
      expect((err as Error).message).toContain("/no/such/shell");
    } finally {
      await executor.destroyBuild(build);
      await removeSource(build);
    }
  });

  it("uses the step's shell", async () => {
    const build = await makeBuild();
    try {
      await executor.setupBuild(build);
      const r = await runStep(executor, build, containerStep(1, ['echo "$0"'], { shell: "/bin/bash" }));
      expect(r.stdout).toBe("/bin/bash\n");
    } finally {
      await executor.destroyBuild(build);
      await removeSource(build);
    }
  });

  it("does not pass the worker's own environment to steps", async () => {
    process.env.WHARF_WORKER_TOKEN = "worker-secret";
    const build = await makeBuild();
    try {
      await executor.setupBuild(build);
      const r = await runStep(
        executor,
        build,
        containerStep(1, ['echo "[$WHARF_WORKER_TOKEN]"', "command -v sh"]),
      );
      expect(r.stdout).toMatch(/^\[\]\n\/.*sh\n$/);
    } finally {
      delete process.env.WHARF_WORKER_TOKEN;
      await executor.destroyBuild(build);
      await removeSource(build);
    }
  });

  it("stop() kills the whole process tree, grandchildren included", async () => {
    const build = await makeBuild();
    try {
      await executor.setupBuild(build);
      const proc = await executor.startStep(
        build,
        containerStep(1, ["sh -c 'sleep 60' & echo $! > grandchild.pid", "echo started", "wait"]),
        {},
      );
      const out = new OutputCollector(proc.stdout);
      new OutputCollector(proc.stderr);
      await out.waitFor("started");
      const pid = await readPid(path.join(executor.workspaceOf(build), "grandchild.pid"));
      expect(await alive(pid)).toBe(true);
      await proc.stop(5_000);
      expect(await proc.wait()).toBe(143); // SIGTERM reached the shell
      expect(await waitGone(pid)).toBe(true);
      await proc.destroy();
    } finally {
      await executor.destroyBuild(build);
      await removeSource(build);
    }
  });

  it("kills background processes left behind when the step's shell exits", async () => {
    const build = await makeBuild();
    try {
      await executor.setupBuild(build);
      const proc = await executor.startStep(build, containerStep(1, ["sleep 60 & echo $! > bg.pid"]), {});
      expect((await finish(proc)).code).toBe(0);
      const pid = await readPid(path.join(executor.workspaceOf(build), "bg.pid"));
      expect(await waitGone(pid)).toBe(true);
      await proc.destroy();
    } finally {
      await executor.destroyBuild(build);
      await removeSource(build);
    }
  });

  it("reports a missing source directory clearly", async () => {
    const build = await makeBuild();
    await removeSource(build);
    await expect(executor.setupBuild(build)).rejects.toThrow(/cannot be read/);
    await executor.destroyBuild(build);
  });

  it("moves a disposable source into the workspace and copies any other", async () => {
    const files = { "a.txt": "a", ".git/HEAD": "ref: refs/heads/main\n", "run.sh": "+x echo hi" };
    const given = await makeBuild(files);
    const disposable = await makeBuild(files, { sourceDisposable: true });
    try {
      for (const build of [given, disposable]) {
        await executor.setupBuild(build);
        const ws = executor.workspaceOf(build);
        expect(await fs.readFile(path.join(ws, ".git/HEAD"), "utf8")).toBe("ref: refs/heads/main\n");
        expect((await fs.stat(path.join(ws, "run.sh"))).mode & 0o777).toBe(0o755);
      }
      // A developer's directory stays as it was; the worker's own clone is moved, not copied.
      expect(await fs.readFile(path.join(given.sourceDir, "a.txt"), "utf8")).toBe("a");
      await expect(fs.stat(disposable.sourceDir)).rejects.toThrow(/ENOENT/);
    } finally {
      for (const build of [given, disposable]) {
        await executor.destroyBuild(build);
        await removeSource(build);
      }
    }
  });
});
