import { describe, expect, it } from "vitest";
import { createLogger } from "../src/logger.js";

// A CLI command is quieter by default (`wharf run`: warn, `wharf build`: error), yet the
// operator's WHARF_LOG_LEVEL, read by LOGGING_SETTINGS, still wins.
describe("createLogger's level", () => {
  it("is the command's default when WHARF_LOG_LEVEL is unset or blank", () => {
    expect(createLogger("t", undefined, { defaultLevel: "warn", env: {} }).level).toBe("warn");
    expect(createLogger("t", undefined, { defaultLevel: "error", env: { WHARF_LOG_LEVEL: " " } }).level).toBe(
      "error",
    );
  });

  it("is WHARF_LOG_LEVEL's when set, over the command's default", () => {
    expect(
      createLogger("t", undefined, { defaultLevel: "warn", env: { WHARF_LOG_LEVEL: "debug" } }).level,
    ).toBe("debug");
  });

  it("is an explicit level over both", () => {
    expect(
      createLogger("t", "fatal", { defaultLevel: "warn", env: { WHARF_LOG_LEVEL: "debug" } }).level,
    ).toBe("fatal");
  });
});
