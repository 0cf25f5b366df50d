import { describe, expect, it } from "vitest";
import { FakeExecutor, MemoryRecorder } from "../testing/index.js";
import { expectForwardStatuses, idOf, plan, runFake, stage, step, waitFor } from "./plan-fixtures.js";

describe("stopping steps", () => {
  it("cancels the running siblings of a failed step (stop, then kill after the grace)", async () => {
    const p = plan(
      stage("test", [
        step("done", ["barrier go 4", "echo finished first"]),
        step("broken", ["barrier go 4", "sleep 20", "exit 2"]),
        step("polite", ["barrier go 4", "sleep 60000"]),
        step("stubborn", ["ignore-stop", "barrier go 4", "sleep 60000"]),
      ]),
      stage("deploy", [step("ship", ["echo never"])]),
    );
    const { result, recorder, executor } = await runFake(p, { stopGraceMs: 50 });

    const byName = Object.fromEntries(result.steps.map((s) => [s.name, s]));
    expect(byName.done).toMatchObject({ status: "SUCCESS", exitCode: 0 });
    expect(byName.broken).toMatchObject({ status: "FAILED", exitCode: 2 });
    expect(byName.polite).toMatchObject({ status: "CANCELLED", exitCode: 143 });
    expect(byName.stubborn).toMatchObject({ status: "CANCELLED", exitCode: 137 });
    expect(byName.ship).toMatchObject({ status: "CANCELLED", attempts: 0 });
    for (const name of ["polite", "stubborn"]) {
      expect(recorder.logsOf(idOf(p, name))).toEqual(['cancelled: step "broken" of this stage failed']);
      expect(executor.count("stop", idOf(p, name))).toBe(1);
      expect(executor.count("destroy", idOf(p, name))).toBe(1);
    }
    expect(executor.count("stop", idOf(p, "done"))).toBe(0);
    expect(result.status).toBe("FAILED");
    expect(recorder.buildStatuses()).toEqual(["RUNNING", "FAILED"]);
    expectForwardStatuses(recorder);
  });

  it("fails a step that exceeds its timeout, with a log line, and retries it like any failure", async () => {
    const p = plan(stage("s", [step("slow", ["echo start", "sleep 60000"], { timeoutMs: 30, retries: 1 })]));
    const { result, recorder, executor } = await runFake(p);
    expect(result.steps[0]).toMatchObject({ status: "FAILED", exitCode: 143, attempts: 2 });
    expect(recorder.logsOf(1)).toEqual([
      "attempt 1 of 2",
      "start",
      "timed out after 30ms",
      "attempt 2 of 2",
      "start",
      "timed out after 30ms",
    ]);
    expect(executor.count("stop", 1)).toBe(2);
    expect(executor.count("destroy", 1)).toBe(2);
    expect(result.status).toBe("FAILED");
  });

  it("fails the build on the build timeout: running steps FAILED, later stages (even always) not run", async () => {
    const p = plan(
      stage("s", [step("slow", ["sleep 60000"])]),
      stage("cleanup", [step("tidy", ["echo tidy"])], "always"),
    );
    const { result, recorder, executor } = await runFake(p, { buildTimeoutMs: 50 });
    expect(result.status).toBe("FAILED");
    expect(result.message).toBe("build timed out after 50ms");
    expect(result.steps.map((s) => s.status)).toEqual(["FAILED", "CANCELLED"]);
    expect(recorder.logsOf(1)).toEqual(["build timed out after 50ms"]);
    expect(recorder.logsOf(2)).toEqual(["cancelled: the build timed out before this stage started"]);
    expect(executor.count("startStep", 2)).toBe(0);
    expect(recorder.buildStatuses()).toEqual(["RUNNING", "FAILED"]);
  });

  it("fails the build on the pipeline's own timeout when it is below the operator's", async () => {
    const p = { ...plan(stage("s", [step("slow", ["sleep 60000"])])), timeoutMs: 40 };
    const { result, recorder } = await runFake(p, { buildTimeoutMs: 3_600_000 });
    expect(result.status).toBe("FAILED");
    expect(result.message).toBe("build timed out after 40ms");
    expect(recorder.logsOf(0)).toEqual([]);
  });

  it("caps a pipeline timeout above the operator's at the operator's, with a warning line", async () => {
    const p = { ...plan(stage("s", [step("slow", ["sleep 60000"])])), timeoutMs: 7_200_000 };
    const { result, recorder } = await runFake(p, { buildTimeoutMs: 50 });
    expect(result.status).toBe("FAILED");
    expect(result.message).toBe("build timed out after 50ms");
    expect(recorder.logsOf(0)).toEqual([
      "warning: the pipeline's timeout 2h is above this worker's limit 50ms (WHARF_BUILD_TIMEOUT): the build stops after 50ms",
    ]);
  });

  it("cancels from outside: running steps stopped and CANCELLED, pending ones CANCELLED, all cleaned up", async () => {
    const recorder = new MemoryRecorder();
    const executor = new FakeExecutor();
    const p = plan(
      stage("s", [step("a", ["sleep 60000"]), step("b", ["ignore-stop", "sleep 60000"])]),
      stage("after", [step("c", ["echo c"])], "always"),
    );
    const controller = new AbortController();
    const running = runFake(p, { recorder, executor, signal: controller.signal, stopGraceMs: 100 });
    await waitFor(
      () => recorder.statusesOf(1).includes("RUNNING") && recorder.statusesOf(2).includes("RUNNING"),
      "RUNNING",
    );
    controller.abort();
    const { result } = await running;

    expect(result.status).toBe("CANCELLED");
    expect(result.message).toBe("build cancelled");
    expect(result.steps.map((s) => [s.name, s.status, s.exitCode])).toEqual([
      ["a", "CANCELLED", 143],
      ["b", "CANCELLED", 137],
      ["c", "CANCELLED", null],
    ]);
    expect(recorder.logsOf(1)).toEqual(["cancelled: the build was cancelled"]);
    expect(recorder.logsOf(3)).toEqual(["cancelled: the build was cancelled before this stage started"]);
    for (const id of [1, 2]) {
      expect(executor.count("stop", id)).toBe(1);
      expect(executor.count("destroy", id)).toBe(1);
    }
    expect(executor.calls.at(-1)).toEqual({ op: "destroyBuild" });
    expect(executor.runningCount).toBe(0);
    expect(recorder.buildStatuses()).toEqual(["RUNNING", "CANCELLED"]);
    expectForwardStatuses(recorder);
  });

  it("ends a step still starting at once on cancel and destroys its process once the start completes", async () => {
    const recorder = new MemoryRecorder();
    const executor = new FakeExecutor();
    const controller = new AbortController();
    const p = plan(
      stage("s", [
        step("pulling", ["start-delay 200", "echo ran before the stop reached it", "sleep 60000"]),
      ]),
    );
    const running = runFake(p, { recorder, executor, signal: controller.signal });
    await waitFor(() => recorder.statusesOf(1).includes("INITIALIZING"), "INITIALIZING");
    controller.abort();
    await waitFor(() => recorder.statusesOf(1).includes("CANCELLED"), "CANCELLED");
    // The step ended while its start was still under way.
    expect(executor.count("stop", 1)).toBe(0);
    const { result } = await running;
    expect(result.status).toBe("CANCELLED");
    expect(recorder.statusesOf(1)).toEqual(["PENDING", "SCHEDULING", "INITIALIZING", "CANCELLED"]);
    expect(executor.count("destroy", 1)).toBe(1);
    // What it printed once it had started is in its log all the same.
    expect(recorder.logsOf(1)).toContain("ran before the stop reached it");
    // The late process was destroyed before the build was.
    const calls = executor.calls.map((c) => c.op);
    expect(calls.indexOf("destroy")).toBeLessThan(calls.indexOf("destroyBuild"));
    expect(executor.runningCount).toBe(0);
  });

  it("runs nothing when cancelled before it started, and still calls destroyBuild", async () => {
    const p = plan(stage("s", [step("a", ["echo a"])]));
    const { result, recorder, executor } = await runFake(p, { signal: AbortSignal.abort() });
    expect(result.status).toBe("CANCELLED");
    expect(recorder.statusesOf(1)).toEqual(["PENDING", "CANCELLED"]);
    expect(recorder.buildStatuses()).toEqual(["CANCELLED"]);
    expect(executor.calls).toEqual([{ op: "destroyBuild" }]);
  });

  it("ignores a cancel that arrives after the last step ended", async () => {
    const controller = new AbortController();
    const recorder = new MemoryRecorder();
    const appendStatus = recorder.appendStatus.bind(recorder);
    recorder.appendStatus = (stepId, status, ts) => {
      const id = appendStatus(stepId, status, ts);
      if (stepId === 1 && status === "SUCCESS") controller.abort();
      return id;
    };
    const p = plan(stage("s", [step("a", ["echo a"])]));
    const { result } = await runFake(p, { recorder, signal: controller.signal });
    expect(result.status).toBe("SUCCESS");
    expect(recorder.buildStatuses()).toEqual(["RUNNING", "SUCCESS"]);
  });
});
