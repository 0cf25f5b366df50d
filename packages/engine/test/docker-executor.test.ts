import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import type { PlanStep } from "@wharf/executor";
import { DockerExecutor } from "@wharf/executor-docker";
import { BUSYBOX_IMAGE, containersWithLabel, requireDockerOrSkip } from "@wharf/testkit";
import { describe, expect, it } from "vitest";
import { runBuild } from "../src/index.js";
import { MemoryRecorder } from "../testing/index.js";
import { buildSpec, expectForwardStatuses, idOf, plan, stage, step, waitFor } from "./plan-fixtures.js";

// The engine on a real Docker engine: the scenarios of the FakeExecutor tests with real
// containers, a real shared volume, real signals and real cleanup.
const hasDocker = await requireDockerOrSkip();
const run = promisify(execFile);
const executor = () => new DockerExecutor({ networkMode: "none", pullPolicy: "never" });

/** A busybox step (the fixtures' image name is for the FakeExecutor). */
function bb(name: string, cmds: string[], extra: Parameters<typeof step>[2] = {}) {
  const s = step(name, cmds, extra);
  return {
    ...s,
    spec: { ...(s as PlanStep & { type: "container" }).spec, image: BUSYBOX_IMAGE },
  } as typeof s;
}

function docker(buildRef: string) {
  const build = { ...buildSpec(), buildRef };
  return build;
}

/** Containers and volumes of the build still on the engine. */
async function leftovers(buildRef: string): Promise<string[]> {
  const label = `wharf.iver.com/build-ref=${buildRef}`;
  const { stdout } = await run("docker", ["volume", "ls", "-q", "--filter", `label=${label}`]);
  return [...(await containersWithLabel(label)), ...stdout.split("\n").filter(Boolean)];
}

describe.skipIf(!hasDocker)("engine on the DockerExecutor", () => {
  it("runs stages in a shared volume with run-if, retries and a step timeout; no container is left", async () => {
    const buildRef = `engine-docker-${process.pid}-a`;
    const build = docker(buildRef);
    writeFileSync(join(build.sourceDir, "input.txt"), "from the repo\n");
    const p = plan(
      stage("prepare", [bb("write", ["cat input.txt > seen.txt", "echo written"])]),
      stage("check", [
        bb("read", ["cat seen.txt"]),
        // Fails on its first attempt only: the marker lives in the shared workspace.
        bb("flaky", ["if [ ! -f tried ]; then touch tried; exit 3; fi", "echo second try"], { retries: 1 }),
      ]),
      stage("slow", [bb("sleeper", ["echo sleeping", "sleep 60"], { timeoutMs: 1500 })]),
      stage("after-failure", [bb("skipped", ["echo must not run"])]),
      stage("on-failure", [bb("report", ["echo reporting"])], "fail"),
      stage("always", [bb("tidy", ["echo tidy"])], "always"),
    );
    const recorder = new MemoryRecorder();
    const result = await runBuild(p, { executor: executor(), recorder, build, stopGraceMs: 1000 });

    expect(result.status).toBe("FAILED");
    expect(recorder.logsOf(idOf(p, "read"))).toEqual(["from the repo"]);
    const flaky = result.steps.find((s) => s.name === "flaky");
    expect(flaky).toMatchObject({ status: "SUCCESS", attempts: 2 });
    expect(recorder.logsOf(idOf(p, "flaky"))).toContain("second try");
    expect(result.steps.find((s) => s.name === "sleeper")?.status).toBe("FAILED");
    expect(recorder.logsOf(idOf(p, "sleeper")).join("\n")).toMatch(/timed out/);
    expect(recorder.statusesOf(idOf(p, "skipped")).at(-1)).toBe("CANCELLED");
    expect(recorder.logsOf(idOf(p, "skipped"))).not.toContain("must not run");
    expect(recorder.logsOf(idOf(p, "report"))).toEqual(["reporting"]);
    expect(recorder.logsOf(idOf(p, "tidy"))).toEqual(["tidy"]);
    expectForwardStatuses(recorder);
    expect(await leftovers(buildRef)).toEqual([]);
  }, 120_000);

  it("a failing step cancels its running sibling; a missing image fails its step clearly", async () => {
    const buildRef = `engine-docker-${process.pid}-b`;
    const p = plan(
      stage("test", [bb("long", ["echo started", "sleep 60"]), bb("broken", ["sleep 1", "exit 4"])]),
      stage(
        "image",
        [
          {
            ...step("missing", ["true"]),
            spec: { image: "wharf-test/no-such-image:1", cmds: ["true"], shell: "/bin/sh", os: "linux" },
          } as ReturnType<typeof step>,
        ],
        "always",
      ),
    );
    const recorder = new MemoryRecorder();
    const result = await runBuild(p, {
      executor: executor(),
      recorder,
      build: docker(buildRef),
      stopGraceMs: 1000,
    });
    expect(result.status).toBe("FAILED");
    const byName = Object.fromEntries(result.steps.map((s) => [s.name, s]));
    expect(byName.broken).toMatchObject({ status: "FAILED", exitCode: 4 });
    expect(byName.long?.status).toBe("CANCELLED");
    expect(byName.missing?.status).toBe("FAILED");
    expect(recorder.logsOf(idOf(p, "missing")).join("\n")).toMatch(/no-such-image/);
    expect(await leftovers(buildRef)).toEqual([]);
  }, 120_000);

  it("cancel from outside stops running containers and marks them CANCELLED", async () => {
    const buildRef = `engine-docker-${process.pid}-c`;
    const p = plan(stage("run", [bb("a", ["echo up", "sleep 60"]), bb("b", ["echo up", "sleep 60"])]));
    const recorder = new MemoryRecorder();
    const abort = new AbortController();
    const running = runBuild(p, {
      executor: executor(),
      recorder,
      build: docker(buildRef),
      signal: abort.signal,
      stopGraceMs: 1000,
    });
    await waitFor(
      () => recorder.logsOf(idOf(p, "a")).includes("up") && recorder.logsOf(idOf(p, "b")).includes("up"),
      "both steps running",
      60_000,
    );
    abort.abort(new Error("test cancel"));
    const result = await running;
    expect(result.status).toBe("CANCELLED");
    expect(result.steps.map((s) => s.status)).toEqual(["CANCELLED", "CANCELLED"]);
    expect(await leftovers(buildRef)).toEqual([]);
  }, 120_000);
});
