import { describe, expect, it } from "vitest";
import { deriveBuildStatus, type FinishedStep } from "../src/index.js";

const s = (name: string, status: FinishedStep["status"], skipped = false): FinishedStep => ({
  stage: "st",
  name,
  status,
  skipped,
});

describe("deriveBuildStatus", () => {
  it("is SUCCESS when every step that ran succeeded; steps skipped by run-if do not count", () => {
    expect(
      deriveBuildStatus({
        steps: [s("a", "SUCCESS"), s("b", "CANCELLED", true)],
        cancelled: false,
        fault: null,
      }),
    ).toEqual({ status: "SUCCESS", message: "build succeeded (1 of 2 steps ran)" });
  });

  it("is FAILED when a step failed, naming the failed steps, even if cancelled afterwards", () => {
    const steps = [s("a", "FAILED"), s("b", "CANCELLED"), s("c", "FAILED")];
    expect(deriveBuildStatus({ steps, cancelled: true, fault: null })).toEqual({
      status: "FAILED",
      message: "steps failed: st/a, st/c",
    });
  });

  it("is FAILED with the fault's message when the build broke, whatever the steps say", () => {
    expect(
      deriveBuildStatus({ steps: [s("a", "SUCCESS")], cancelled: true, fault: "build timed out after 1s" }),
    ).toEqual({ status: "FAILED", message: "build timed out after 1s" });
  });

  it("is CANCELLED when cancelled from outside, or when a step was cancelled without a failure", () => {
    expect(deriveBuildStatus({ steps: [s("a", "SUCCESS")], cancelled: true, fault: null }).status).toBe(
      "CANCELLED",
    );
    expect(deriveBuildStatus({ steps: [s("a", "CANCELLED")], cancelled: false, fault: null }).status).toBe(
      "CANCELLED",
    );
  });
});
