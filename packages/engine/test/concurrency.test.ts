import { describe, expect, it } from "vitest";
import { expectForwardStatuses, plan, runFake, stage, step } from "./plan-fixtures.js";

describe("parallel steps", () => {
  it("run the steps of a stage at the same time", async () => {
    // Each step waits at a barrier for all three: run one after another, they would time out.
    const names = ["a", "b", "c"];
    const p = plan(
      stage(
        "s",
        names.map((n) => step(n, ["barrier all 3", `echo ${n}`], { timeoutMs: 10_000 })),
      ),
    );
    const { result, recorder } = await runFake(p);
    expect(result.status).toBe("SUCCESS");
    // Every step was RUNNING before any of them ended.
    const lastRunning = Math.max(...[1, 2, 3].map((id) => recorder.seqOf(id, "RUNNING")!));
    const firstEnd = Math.min(...[1, 2, 3].map((id) => recorder.seqOf(id, "SUCCESS")!));
    expect(lastRunning).toBeLessThan(firstEnd);
  });

  it("derives exactly one terminal build status when 20 steps end at once and one fails", async () => {
    const steps = Array.from({ length: 20 }, (_, i) =>
      step(`s${i}`, ["barrier end 20", i === 13 ? "exit 1" : "echo done"]),
    );
    const p = plan(stage("wide", steps), stage("next", [step("after", ["echo after"])]));
    const { result, recorder } = await runFake(p);

    expect(result.status).toBe("FAILED");
    expect(recorder.buildStatuses()).toEqual(["RUNNING", "FAILED"]);
    expect(result.steps.find((s) => s.name === "s13")!.status).toBe("FAILED");
    expect(result.steps.filter((s) => s.status === "FAILED")).toHaveLength(1);
    // Siblings either finished first or were cancelled by the failure; none is left running.
    for (const s of result.steps.slice(0, 20)) expect(["SUCCESS", "FAILED", "CANCELLED"]).toContain(s.status);
    expect(recorder.results.size).toBe(21);
    expectForwardStatuses(recorder);
    // The build's terminal event is the very last status event.
    expect(recorder.statuses.at(-1)).toMatchObject({ stepId: 0, status: "FAILED" });
  });

  it("records statuses of every step in forward order even when many steps race", async () => {
    const steps = Array.from({ length: 30 }, (_, i) =>
      step(
        `s${i}`,
        i % 7 === 0 ? ["sleep 5", "exit 2"] : i % 5 === 0 ? ["fail-start no"] : ["print-lines 50"],
      ),
    );
    const { recorder } = await runFake(plan(stage("race", steps)));
    expectForwardStatuses(recorder);
    expect(recorder.buildStatuses()).toEqual(["RUNNING", "FAILED"]);
  });
});
