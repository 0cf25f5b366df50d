import { describe, expect, it } from "vitest";
import { FULL_SUCCESS, idOf, plan, runFake, stage, step } from "./plan-fixtures.js";

describe("retries", () => {
  it("re-runs a failing step until it succeeds, logging each attempt, with one status sequence", async () => {
    const p = plan(stage("s", [step("flaky", ["fail-before-attempt 3", "echo finally"], { retries: 3 })]));
    const { result, recorder, executor } = await runFake(p);
    expect(result.steps[0]).toMatchObject({ status: "SUCCESS", exitCode: 0, attempts: 3 });
    expect(recorder.logsOf(1)).toEqual([
      "attempt 1 of 4",
      "fake: failing attempt 1",
      "exited with code 1",
      "attempt 2 of 4",
      "fake: failing attempt 2",
      "exited with code 1",
      "attempt 3 of 4",
      "finally",
    ]);
    expect(recorder.statusesOf(1)).toEqual(FULL_SUCCESS);
    expect(recorder.results.get(1)).toEqual({ exitCode: 0, attempts: 3 });
    expect(executor.count("startStep", 1)).toBe(3);
    expect(executor.count("destroy", 1)).toBe(3);
    expect(result.status).toBe("SUCCESS");
  });

  it("gives up after 1 + retries attempts with the last exit code", async () => {
    const p = plan(stage("s", [step("broken", ["exit 5"], { retries: 2 })]));
    const { result, executor } = await runFake(p);
    expect(result.steps[0]).toMatchObject({ status: "FAILED", exitCode: 5, attempts: 3 });
    expect(executor.count("startStep", 1)).toBe(3);
  });

  it("retries a step that failed to start", async () => {
    const p = plan(stage("s", [step("img", ["fail-start pull failed"], { retries: 1 })]));
    const { result, recorder } = await runFake(p);
    expect(result.steps[0]).toMatchObject({ status: "FAILED", attempts: 2 });
    expect(recorder.logsOf(1)).toEqual(["attempt 1 of 2", "pull failed", "attempt 2 of 2", "pull failed"]);
  });

  it("fails a step that can never start at once, with its message, without retrying", async () => {
    const p = plan(
      stage("s", [step("bad", ["fail-start-permanent step type helm is not supported"], { retries: 3 })]),
    );
    const { result, recorder, executor } = await runFake(p);
    expect(result.steps[0]).toMatchObject({ status: "FAILED", attempts: 1 });
    expect(recorder.logsOf(1)).toEqual([
      "attempt 1 of 4",
      "step type helm is not supported",
      "not retried: the step cannot start as written",
    ]);
    expect(executor.count("startStep", 1)).toBe(1);
    expect(result.status).toBe("FAILED");
  });

  it("does not retry a cancelled step or an executor fault", async () => {
    const p = plan(
      stage("s", [
        step("broken", ["barrier b 2", "exit 1"]),
        step("waiting", ["barrier b 2", "sleep 60000"], { retries: 5 }),
        step("faulty", ["executor-error socket gone"], { retries: 5 }),
      ]),
    );
    const { result, executor } = await runFake(p);
    expect(result.steps.find((s) => s.name === "waiting")).toMatchObject({
      status: "CANCELLED",
      attempts: 1,
    });
    expect(result.steps.find((s) => s.name === "faulty")).toMatchObject({ status: "FAILED", attempts: 1 });
    expect(executor.count("startStep", idOf(p, "waiting"))).toBe(1);
    expect(executor.count("startStep", idOf(p, "faulty"))).toBe(1);
  });
});
