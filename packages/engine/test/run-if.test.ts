import { describe, expect, it } from "vitest";
import { FULL_SUCCESS, idOf, plan, runFake, stage, step } from "./plan-fixtures.js";

describe("run-if", () => {
  it("after a failure: success stages are skipped, fail and always stages run", async () => {
    const p = plan(
      stage("build", [step("compile", ["exit 1"])]),
      stage("test", [step("unit", ["echo unit"])], "success"),
      stage("rescue", [step("notify", ["echo notify"])], "fail"),
      stage("report", [step("upload", ["echo upload"])], "always"),
    );
    const { result, recorder } = await runFake(p);
    expect(result.steps.map((s) => [s.name, s.status])).toEqual([
      ["compile", "FAILED"],
      ["unit", "CANCELLED"],
      ["notify", "SUCCESS"],
      ["upload", "SUCCESS"],
    ]);
    expect(recorder.logsOf(idOf(p, "unit"))).toEqual(["skipped: run-if=success and the build failed"]);
    expect(recorder.statusesOf(idOf(p, "unit"))).toEqual(["PENDING", "CANCELLED"]);
    expect(recorder.statusesOf(idOf(p, "notify"))).toEqual(FULL_SUCCESS);
    expect(result.status).toBe("FAILED");
  });

  it("without a failure: fail stages are skipped and the build still succeeds", async () => {
    const p = plan(
      stage("build", [step("compile", ["echo ok"])]),
      stage("rescue", [step("notify", ["echo notify"])], "fail"),
      stage("report", [step("upload", ["echo upload"])], "always"),
    );
    const { result, recorder, executor } = await runFake(p);
    expect(result.steps.map((s) => s.status)).toEqual(["SUCCESS", "CANCELLED", "SUCCESS"]);
    expect(recorder.logsOf(idOf(p, "notify"))).toEqual(["skipped: run-if=fail and the build has not failed"]);
    expect(executor.count("startStep", idOf(p, "notify"))).toBe(0);
    expect(result).toMatchObject({ status: "SUCCESS", message: "build succeeded (2 of 3 steps ran)" });
  });

  it("a build that failed stays failed though a later fail stage succeeds, and skips success stages after it", async () => {
    const p = plan(
      stage("build", [step("compile", ["exit 1"])]),
      stage("rescue", [step("notify", ["echo notify"])], "fail"),
      stage("deploy", [step("ship", ["echo ship"])], "success"),
    );
    const { result } = await runFake(p);
    expect(result.steps.map((s) => s.status)).toEqual(["FAILED", "SUCCESS", "CANCELLED"]);
    expect(result.status).toBe("FAILED");
  });

  it("a failure inside an always stage fails the build and makes later fail stages run", async () => {
    const p = plan(
      stage("build", [step("compile", ["echo ok"])]),
      stage("report", [step("upload", ["exit 4"])], "always"),
      stage("rescue", [step("notify", ["echo notify"])], "fail"),
    );
    const { result } = await runFake(p);
    expect(result.steps.map((s) => s.status)).toEqual(["SUCCESS", "FAILED", "SUCCESS"]);
    expect(result.status).toBe("FAILED");
  });
});
