import { ExecutorError } from "@wharf/executor";
import { describe, expect, it } from "vitest";
import { InvalidPlanError, runBuild } from "../src/index.js";
import { FakeExecutor, MemoryRecorder } from "../testing/index.js";
import { buildSpec, FULL_SUCCESS, idOf, plan, runFake, stage, step } from "./plan-fixtures.js";

describe("runBuild", () => {
  it("runs stages in order and records every step's status, output and result", async () => {
    const p = plan(
      stage("build", [step("compile", ["echo compiling", "echo-err a warning"])]),
      stage("test", [step("unit", ["echo testing"])]),
    );
    const { result, recorder } = await runFake(p);

    expect(result.status).toBe("SUCCESS");
    expect(result.steps.map((s) => [s.stage, s.name, s.status, s.exitCode, s.attempts])).toEqual([
      ["build", "compile", "SUCCESS", 0, 1],
      ["test", "unit", "SUCCESS", 0, 1],
    ]);
    expect(recorder.steps).toEqual([
      { stepId: 1, stage: "build", name: "compile" },
      { stepId: 2, stage: "test", name: "unit" },
    ]);
    expect(recorder.statusesOf(1)).toEqual(FULL_SUCCESS);
    expect(recorder.statusesOf(2)).toEqual(FULL_SUCCESS);
    expect(recorder.buildStatuses()).toEqual(["RUNNING", "SUCCESS"]);
    expect(recorder.logsOf(1)).toEqual(["compiling", "a warning"]);
    expect(recorder.logsOf(2)).toEqual(["testing"]);
    expect(recorder.results.get(1)).toEqual({ exitCode: 0, attempts: 1 });
    // The build goes RUNNING before its first step is scheduled; stage 2 starts after stage 1 ended.
    expect(recorder.statuses.find((s) => s.stepId === 0)!.seq).toBeLessThan(recorder.seqOf(1, "SCHEDULING")!);
    expect(recorder.seqOf(2, "SCHEDULING")!).toBeGreaterThan(recorder.seqOf(1, "SUCCESS")!);
  });

  it("gives every step CI, WHARF_* variables and the build env, the engine's values winning", async () => {
    const p = plan(
      stage("deploy", [
        // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell-style variable for the fake executor
        step("ship", ["echo $CI|$WHARF_BUILD_REF|$WHARF_STAGE_NAME|$WHARF_STEP_NAME|$WHARF_STEP_ID|${FOO}"]),
      ]),
    );
    const { recorder } = await runFake(p, {
      build: buildSpec({ FOO: "bar", CI: "false", WHARF_STEP_NAME: "x" }),
    });
    expect(recorder.logsOf(1)).toEqual(["true|42|deploy|ship|1|bar"]);
  });

  it("fails a step with a non-zero exit, logs the code and skips later run-if=success stages", async () => {
    const p = plan(
      stage("build", [step("compile", ["echo oops", "exit 3"])]),
      stage("test", [step("unit", ["echo never"])]),
    );
    const { result, recorder, executor } = await runFake(p);

    expect(result.status).toBe("FAILED");
    expect(result.message).toBe("step failed: build/compile");
    expect(result.steps[0]).toMatchObject({ status: "FAILED", exitCode: 3, attempts: 1 });
    expect(recorder.logsOf(1)).toEqual(["oops", "exited with code 3"]);
    expect(recorder.statusesOf(2)).toEqual(["PENDING", "CANCELLED"]);
    expect(recorder.logsOf(2)).toEqual(["skipped: run-if=success and the build failed"]);
    expect(executor.count("startStep", 2)).toBe(0);
    expect(recorder.buildStatuses()).toEqual(["RUNNING", "FAILED"]);
  });

  it("fails a step whose start fails with StepStartError and logs the message", async () => {
    const p = plan(stage("build", [step("img", ["fail-start image busybox:nope not found"])]));
    const { result, recorder } = await runFake(p);
    expect(result.status).toBe("FAILED");
    expect(result.steps[0]).toMatchObject({ status: "FAILED", exitCode: null, attempts: 1 });
    expect(recorder.statusesOf(1)).toEqual(["PENDING", "SCHEDULING", "INITIALIZING", "FAILED"]);
    expect(recorder.logsOf(1)).toEqual(["image busybox:nope not found"]);
  });

  it("treats any other start error as an executor fault: step FAILED, build FAILED, nothing more runs", async () => {
    const p = plan(
      stage("build", [step("a", ["executor-error docker socket gone"])]),
      stage("report", [step("notify", ["echo x"])], "always"),
    );
    const { result, recorder, executor } = await runFake(p);
    expect(result.status).toBe("FAILED");
    expect(result.message).toBe("executor failed: starting the step: docker socket gone");
    expect(recorder.logsOf(1)).toEqual(["executor failed: starting the step: docker socket gone"]);
    expect(recorder.statusesOf(2)).toEqual(["PENDING", "CANCELLED"]);
    expect(recorder.logsOf(2)).toEqual(["cancelled: executor failed: starting the step: docker socket gone"]);
    expect(executor.count("destroyBuild")).toBe(1);
  });

  it("treats a failing wait() as an executor fault and still destroys the step", async () => {
    const p = plan(stage("build", [step("a", ["wait-fail connection reset", "sleep 10000"])]));
    const { result, recorder, executor } = await runFake(p);
    expect(result.status).toBe("FAILED");
    expect(recorder.logsOf(1)).toEqual(["executor failed: connection reset"]);
    expect(executor.count("destroy", 1)).toBe(1);
    expect(executor.runningCount).toBe(0);
  });

  it("fails the build without starting steps when setupBuild fails, and still calls destroyBuild", async () => {
    const executor = new FakeExecutor({ setupError: new ExecutorError("no workspace volume") });
    const p = plan(stage("build", [step("a", ["echo a"]), step("b", ["echo b"])]));
    const { result, recorder } = await runFake(p, { executor });
    expect(result.status).toBe("FAILED");
    expect(result.message).toBe("executor failed: setting up the build: no workspace volume");
    expect(result.steps.map((s) => s.status)).toEqual(["CANCELLED", "CANCELLED"]);
    expect(recorder.logsOf(0)).toEqual([result.message]);
    expect(recorder.buildStatuses()).toEqual(["FAILED"]);
    expect(executor.count("startStep")).toBe(0);
    expect(executor.count("destroyBuild")).toBe(1);
  });

  it("keeps the build status when destroyBuild fails, with a warning in the build log", async () => {
    const executor = new FakeExecutor({ destroyBuildError: new Error("volume busy") });
    const { result, recorder } = await runFake(plan(stage("s", [step("a", ["echo a"])])), { executor });
    expect(result.status).toBe("SUCCESS");
    expect(recorder.logsOf(0)).toEqual(["warning: cleaning up the build failed: volume busy"]);
  });

  it("destroys every started step once per start and the build once, whatever happened", async () => {
    const p = plan(
      stage("one", [step("ok", ["echo ok"]), step("bad", ["exit 1"]), step("slow", ["sleep 10000"])]),
      stage("two", [step("after", ["echo after"])], "fail"),
    );
    const { executor } = await runFake(p);
    for (const name of ["ok", "bad", "slow", "after"]) {
      expect(executor.count("destroy", idOf(p, name))).toBe(executor.count("startStep", idOf(p, name)));
      expect(executor.count("startStep", idOf(p, name))).toBe(1);
    }
    expect(executor.calls.at(-1)).toEqual({ op: "destroyBuild" });
    expect(executor.count("destroyBuild")).toBe(1);
    expect(executor.runningCount).toBe(0);
  });

  it("runs non-container steps through the executor like any other", async () => {
    const p = plan(stage("s", [{ ...step("img", []), type: "docker" } as never]));
    const { result, recorder } = await runFake(p);
    expect(result.status).toBe("SUCCESS");
    expect(recorder.logsOf(1)).toEqual(['fake executor: docker step "img" does nothing']);
  });

  it("succeeds with an empty plan, recording only the terminal build status", async () => {
    const { result, recorder } = await runFake(plan());
    expect(result).toEqual({ status: "SUCCESS", steps: [], message: "build succeeded (0 of 0 steps ran)" });
    expect(recorder.buildStatuses()).toEqual(["SUCCESS"]);
  });

  it("rejects a bad plan or bad options with InvalidPlanError before recording anything", async () => {
    const recorder = new MemoryRecorder();
    const executor = new FakeExecutor();
    const build = buildSpec();
    const dup = plan(stage("s", [step("a", []), step("b", [])]));
    dup.stages[0]!.steps[1]!.id = 1;
    await expect(runBuild(dup, { executor, recorder, build })).rejects.toThrow(/duplicate step id 1/);
    const negative = plan(stage("s", [step("a", [], { retries: -1 })]));
    await expect(runBuild(negative, { executor, recorder, build })).rejects.toBeInstanceOf(InvalidPlanError);
    const ok = plan(stage("s", [step("a", [])]));
    await expect(runBuild(ok, { executor, recorder, build, buildTimeoutMs: 0 })).rejects.toThrow(
      /buildTimeoutMs/,
    );
    await expect(runBuild(ok, { executor, recorder, build, stopGraceMs: -1 })).rejects.toThrow(/stopGraceMs/);
    expect(recorder.statuses).toEqual([]);
    expect(executor.calls).toEqual([]);
  });

  it("fails the step and stops it when its output cannot be recorded", async () => {
    const recorder = new MemoryRecorder();
    const appendLog = recorder.appendLog.bind(recorder);
    recorder.appendLog = (stepId, message, ts) => {
      if (String(message).startsWith("line 3")) throw new Error("disk full");
      return appendLog(stepId, message, ts);
    };
    // Without the stop, "a" would block forever on back-pressure of its unread output.
    const p = plan(stage("s", [step("a", ["print-lines 100000"]), step("b", ["sleep 10000"])]));
    const { result, executor } = await runFake(p, { recorder });
    expect(result.status).toBe("FAILED");
    expect(result.message).toBe("recording the step's output failed: disk full");
    expect(result.steps.map((s) => s.status)).toEqual(["FAILED", "CANCELLED"]);
    expect(executor.count("destroyBuild")).toBe(1);
    expect(executor.runningCount).toBe(0);
  });

  it("cleans up and rejects when the recorder cannot record statuses at all", async () => {
    const recorder = new MemoryRecorder();
    const appendStatus = recorder.appendStatus.bind(recorder);
    recorder.appendStatus = (stepId, status, ts) => {
      if (stepId === 1 && status !== "PENDING" && status !== "SCHEDULING") throw new Error("disk full");
      return appendStatus(stepId, status, ts);
    };
    const executor = new FakeExecutor();
    const p = plan(stage("s", [step("a", ["echo a"]), step("b", ["sleep 10000"])]));
    await expect(runBuild(p, { executor, recorder, build: buildSpec(), stopGraceMs: 100 })).rejects.toThrow(
      /disk full/,
    );
    expect(recorder.statusesOf(2).at(-1)).toBe("CANCELLED");
    expect(executor.count("destroy", 2)).toBe(executor.count("startStep", 2));
    expect(executor.count("destroyBuild")).toBe(1);
    expect(executor.runningCount).toBe(0);
  });
});
