import { describe, expect, it } from "vitest";
import { isPermanentError, StepStartError } from "../src/index.js";

describe("StepStartError.permanent", () => {
  it("is false unless the thrower or the cause says so", () => {
    expect(new StepStartError("pull failed", 1).permanent).toBe(false);
    expect(new StepStartError("pull failed", 1, { cause: new Error("timeout") }).permanent).toBe(false);
    expect(new StepStartError("unsupported", 1, { permanent: true }).permanent).toBe(true);
  });

  it("takes permanent: true from its cause, and an explicit option wins", () => {
    const cause = Object.assign(new Error("bad spec"), { permanent: true });
    expect(new StepStartError("bad spec", 1, { cause }).permanent).toBe(true);
    expect(new StepStartError("bad spec", 1, { cause, permanent: false }).permanent).toBe(false);
    expect(isPermanentError(cause)).toBe(true);
    expect(isPermanentError({ permanent: "yes" })).toBe(false);
    expect(isPermanentError(null)).toBe(false);
  });
});
