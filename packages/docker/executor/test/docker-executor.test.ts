import { execFile } from "node:child_process";
import { promisify } from "node:util";
import type { BuildSpec, DockerSpec, PlanStep } from "@wharf/executor";
import { LABEL_BUILD_REF, LABEL_STEP_ID, LABEL_STEP_NAME, StepStartError } from "@wharf/executor";
import {
  containerStep,
  finish,
  makeBuild,
  OutputCollector,
  removeSource,
  runExecutorConformance,
  runStep,
  withExecutorBuild,
} from "@wharf/executor/testing";
import { DockerExecutor } from "@wharf/executor-docker";
import { BUSYBOX_IMAGE, containersWithLabel, requireDockerOrSkip } from "@wharf/testkit";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);
const hasDocker = await requireDockerOrSkip();
const executor = new DockerExecutor({ networkMode: "none" });

async function assertBuildGone(build: BuildSpec): Promise<void> {
  expect(await executor.findLeftovers({ [LABEL_BUILD_REF]: build.buildRef })).toEqual({
    containers: [],
    volumes: [],
    networks: [],
  });
  expect(await containersWithLabel(`${LABEL_BUILD_REF}=${build.buildRef}`)).toEqual([]);
}

/** Sets up a build, runs `body`, destroys the build and checks the engine kept nothing of it. */
const withBuild = (
  files: Record<string, string>,
  body: (build: BuildSpec) => Promise<void>,
  extra: Partial<BuildSpec> = {},
) => withExecutorBuild(executor, files, body, { extra, assertGone: assertBuildGone });

const busybox = (id: number, cmds: string[]) => containerStep(id, cmds, { image: BUSYBOX_IMAGE });

/** A `docker` step (image build) of the workspace's Dockerfile, not pushed unless `spec` says so. */
const imageStep = (destination: string, spec: Partial<DockerSpec> = {}): PlanStep => ({
  ...containerStep(1, []),
  type: "docker",
  spec: {
    file: "Dockerfile",
    context: ".",
    tags: ["x"],
    destination,
    appendCert: false,
    push: false,
    args: [],
    secretArgs: [],
    noCache: false,
    pull: false,
    ...spec,
  },
});

describe.skipIf(!hasDocker)("docker executor", () => {
  runExecutorConformance({ name: "docker", create: () => executor, image: BUSYBOX_IMAGE, assertBuildGone });

  it("fails a step with a missing image quickly when the pull cannot succeed", async () => {
    await withBuild({}, async (build) => {
      // 127.0.0.1:1 refuses at once: the pull fails without any traffic leaving this machine.
      const image = "127.0.0.1:1/wharf-test/missing:nope";
      const err = await executor
        .startStep(build, containerStep(3, ["true"], { image }), {})
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StepStartError);
      expect((err as StepStartError).stepId).toBe(3);
      expect((err as Error).message).toContain(`image ${image} not found locally and pull failed:`);
    });
  });

  it("does not pull at all with pullPolicy never", async () => {
    const strict = new DockerExecutor({ networkMode: "none", pullPolicy: "never" });
    await withBuild({}, async (build) => {
      const step = containerStep(1, ["true"], { image: "wharf-test/never-there:1" });
      await expect(strict.startStep(build, step, {})).rejects.toThrow(
        new StepStartError(
          'image wharf-test/never-there:1 not found locally and the pull policy is "never"',
          1,
        ),
      );
    });
  });

  it("labels containers and the volume with build, step and the build's own labels", async () => {
    const labels = { "example.com/team": "ci" };
    await withBuild(
      {},
      async (build) => {
        const proc = await executor.startStep(
          build,
          containerStep(5, ["echo up", "sleep 60"], { image: BUSYBOX_IMAGE, name: "Lint it" }),
          {},
        );
        try {
          const out = new OutputCollector(proc.stdout);
          new OutputCollector(proc.stderr);
          await out.waitFor("up");
          const found = await executor.findLeftovers({ [LABEL_BUILD_REF]: build.buildRef });
          expect(found.volumes).toHaveLength(1);
          const steps = await containersWithLabel(`${LABEL_STEP_ID}=5`);
          const mine = (
            await Promise.all(steps.map((id) => executor.docker.getContainer(id).inspect()))
          ).filter((c) => c.Config.Labels[LABEL_BUILD_REF] === build.buildRef);
          expect(mine).toHaveLength(1);
          expect(mine[0]?.Config.Labels).toMatchObject({
            [LABEL_BUILD_REF]: build.buildRef,
            [LABEL_STEP_ID]: "5",
            [LABEL_STEP_NAME]: "Lint it",
            "example.com/team": "ci",
          });
          const volume = await executor.docker.getVolume(found.volumes[0] as string).inspect();
          expect(volume.Labels).toMatchObject({
            [LABEL_BUILD_REF]: build.buildRef,
            "example.com/team": "ci",
          });
          await proc.stop(0);
        } finally {
          await proc.destroy();
        }
      },
      { labels },
    );
  });

  it("receives a large output completely", async () => {
    await withBuild({}, async (build) => {
      const r = await runStep(executor, build, busybox(1, ["seq 1 200000", "echo done >&2"]));
      expect(r.code).toBe(0);
      const lines = r.stdout.split("\n");
      expect(lines).toHaveLength(200_001);
      expect(lines[0]).toBe("1");
      expect(lines[199_999]).toBe("200000");
      expect(r.stderr).toBe("done\n");
    });
  });

  it("stops a step through the init with SIGTERM when the grace allows", async () => {
    await withBuild({}, async (build) => {
      const proc = await executor.startStep(build, busybox(1, ["echo started", "sleep 60"]), {});
      try {
        const out = new OutputCollector(proc.stdout);
        new OutputCollector(proc.stderr);
        await out.waitFor("started");
        await proc.stop(10_000);
        expect(await proc.wait()).toBe(143);
      } finally {
        await proc.destroy();
      }
    });
  });

  it("builds the image of a docker step from the workspace", async () => {
    const tag = `t${Date.now().toString(36)}`;
    const repo = `wharf-test/built-${process.pid}`;
    const files = {
      "app/Dockerfile": `FROM ${BUSYBOX_IMAGE}\nARG GREETING\nRUN echo "$GREETING" > /greeting\nCOPY hello.txt /hello.txt\n`,
      "app/hello.txt": "hello from the context\n",
    };
    try {
      await withBuild(files, async (build) => {
        const step = imageStep(repo, {
          file: "app/Dockerfile",
          context: "app",
          tags: [tag, `${tag}-b`],
          push: true,
          args: ["GREETING=built with args"],
        });
        const built = await runStep(executor, build, step);
        expect(built.stderr).toBe("");
        expect(built.code).toBe(0);
        expect(built.stdout).toContain(`built ${repo}:${tag}, ${repo}:${tag}-b`);
        expect(built.stdout).toContain("push skipped: no registry configured");
        const r = await runStep(
          executor,
          build,
          containerStep(2, ["cat /greeting /hello.txt"], { image: `${repo}:${tag}-b` }),
        );
        expect(r).toEqual({ code: 0, stdout: "built with args\nhello from the context\n", stderr: "" });
      });
    } finally {
      await run("docker", ["image", "rm", "-f", `${repo}:${tag}`, `${repo}:${tag}-b`]).catch(() => {});
    }
  });

  it("fails a docker step whose build fails, with the engine's message", async () => {
    const files = { Dockerfile: `FROM ${BUSYBOX_IMAGE}\nRUN echo building && exit 5\n` };
    await withBuild(files, async (build) => {
      const step = imageStep("wharf-test/fails");
      const r = await runStep(executor, build, step);
      expect(r.code).toBe(1);
      expect(r.stdout).toContain("building");
      // Docker says "returned a non-zero code: 5", Podman "exit status 5".
      expect(r.stderr).toMatch(/non-zero code: 5|exit status 5/);
    });
  });

  it("destroyBuild aborts a docker step's image build that is still running", async () => {
    const files = { Dockerfile: `FROM ${BUSYBOX_IMAGE}\nRUN echo build-running && sleep 60\n` };
    await withBuild(files, async (build) => {
      const step = imageStep("wharf-test/aborted");
      const proc = await executor.startStep(build, step, {});
      const out = new OutputCollector(proc.stdout);
      new OutputCollector(proc.stderr);
      await out.waitFor("build-running");
      await executor.destroyBuild(build);
      expect(await proc.wait()).toBe(143);
      await proc.destroy();
    });
  });

  it("finds and removes leftovers of a build from a fresh executor (worker restart)", async () => {
    const build = await makeBuild();
    try {
      await executor.setupBuild(build);
      const proc = await executor.startStep(build, busybox(1, ["sleep 60"]), {});
      void finish(proc);
      const restarted = new DockerExecutor({ networkMode: "none" });
      const found = await restarted.findLeftovers({ [LABEL_BUILD_REF]: build.buildRef });
      expect(found.containers).toHaveLength(2); // the step and the workspace helper
      expect(found.volumes).toHaveLength(1);
      expect(await restarted.removeLeftovers({ [LABEL_BUILD_REF]: build.buildRef })).toEqual(found);
      expect(await proc.wait()).not.toBe(0);
      await assertBuildGone(build);
      await proc.destroy();
    } finally {
      await executor.destroyBuild(build);
      await removeSource(build);
    }
  });

  it("finds only its own build's leftovers while another build runs on the engine", async () => {
    // Podman 4.3 ORs the label filters of a volume list: the other build's workspace volume
    // came back too, and a clean-up removed it under the running build.
    const [mine, other] = [await makeBuild(), await makeBuild()];
    try {
      await executor.setupBuild(mine);
      await executor.setupBuild(other);
      const found = await executor.findLeftovers({ [LABEL_BUILD_REF]: mine.buildRef });
      expect(found.volumes).toEqual([`wharf-${mine.buildRef}-workspace`]);
      await executor.destroyBuild(mine);
      expect(
        await runStep(executor, other, busybox(1, ["ls /workspace >/dev/null && echo still here"])),
      ).toEqual({
        code: 0,
        stdout: "still here\n",
        stderr: "",
      });
    } finally {
      await executor.destroyBuild(mine);
      await executor.destroyBuild(other);
      await removeSource(mine);
      await removeSource(other);
    }
  });

  it("reports an unreachable engine as an ExecutorError on ping", async () => {
    const nowhere = new DockerExecutor({ socketPath: "/nonexistent/docker.sock" });
    await expect(nowhere.ping()).rejects.toThrow(/container engine does not answer/);
  });
});
