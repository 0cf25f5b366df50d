import { BuildIdError, checkBuildId, formatBuildId, isBuildId, parseBuildId } from "@wharf/proto/build-id";
import { wharfApiRoute } from "@wharf/proto/wharf-api";
import { describe, expect, it } from "vitest";

// The build id's one parser (@wharf/proto/build-id), used wherever one comes in as text: the
// provisioner's BUILD_REF, the worker's WHARF_BUILD_REF, the labels, the CLIs' arguments.

describe("parseBuildId", () => {
  it("reads wharf-api's ids, 1 up to the largest a number holds exactly, and formats them back", () => {
    for (const text of ["1", "42", "1764800000000", String(Number.MAX_SAFE_INTEGER)]) {
      const id = parseBuildId(text, "BUILD_REF");
      expect(id).toBe(Number(text));
      expect(formatBuildId(id)).toBe(text);
    }
  });

  it("refuses anything else with an error that names where it came from and what a build id is", () => {
    const bad = [
      "",
      "abc",
      "run-1764800000000",
      "0",
      "-1",
      "+1",
      "4.5",
      "1e3",
      "0x10",
      "007",
      " 42",
      "42 ",
      "4 2",
      "١٢", // Arabic-Indic digits: Number() would not take them, the pattern must not either
      String(Number.MAX_SAFE_INTEGER + 1),
      "99999999999999999999",
      "Infinity",
      "NaN",
    ];
    for (const text of bad) {
      expect(() => parseBuildId(text, "label wharf.iver.com/build-ref"), text).toThrow(BuildIdError);
      expect(() => parseBuildId(text, "label wharf.iver.com/build-ref"), text).toThrow(
        /^label wharf\.iver\.com\/build-ref must be a wharf-api build id \(a whole number from 1 to 9007199254740991/,
      );
    }
    expect(() => parseBuildId("abc", "BUILD_REF")).toThrow(/got "abc"$/);
  });

  it("quotes at most the start of long text", () => {
    const long = "x".repeat(10_000);
    let message = "";
    try {
      parseBuildId(long, "BUILD_REF");
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message.length).toBeLessThan(200);
    expect(message).toContain("…");
  });
});

describe("checkBuildId", () => {
  it("takes a build id that came as a JSON number, and refuses other values with the same message", () => {
    expect(checkBuildId(7, "buildRef")).toBe(7);
    for (const value of [0, -1, 1.5, Number.NaN, Number.MAX_SAFE_INTEGER + 1, "7", null, undefined]) {
      expect(() => checkBuildId(value, "buildRef"), String(value)).toThrow(
        /^buildRef must be a wharf-api build id/,
      );
    }
    expect(() => checkBuildId("7", "buildRef")).toThrow(/got the text "7"$/);
  });

  it("isBuildId tells the same numbers apart", () => {
    expect([1, 42, Number.MAX_SAFE_INTEGER].every(isBuildId)).toBe(true);
    expect([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, "1"].some(isBuildId)).toBe(false);
  });
});

describe("wharfApiRoute", () => {
  it("matches a wharf-api path only for a build id parseBuildId takes", () => {
    expect(wharfApiRoute("buildStatus", "/api/build/42/status")).toEqual({ buildId: 42 });
    expect(wharfApiRoute("artifact", "/api/build/42/artifact/0")).toEqual({ buildId: 42, artifactId: 0 });
    for (const id of ["0", "007", "99999999999999999999"])
      expect(wharfApiRoute("buildStatus", `/api/build/${id}/status`), id).toBeUndefined();
  });
});
