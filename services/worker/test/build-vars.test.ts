import { ConfigError } from "@wharf/config";
import { describe, expect, it } from "vitest";
import { compileWorkerOptions } from "../src/index.js";

// VARS reaches the worker as the provisioner received it from wharf-api; both parse it with
// @wharf/proto's parseBuildVars (packages/provisioner/test covers the 400 side).
const env = (VARS: string) => ({ WHARF_BUILD_REF: "7", WHARF_SOURCE_DIR: "/tmp", VARS });

describe("the worker's VARS", () => {
  it("turns a YAML map into input strings, null into an empty one as the provisioner does", () => {
    const opts = compileWorkerOptions(env("greeting: hi\ncount: 3\nnothing: null\nlist: [1, 2]\n"));
    expect(opts.inputs).toEqual({ greeting: "hi", count: "3", nothing: "", list: "[1,2]" });
  });

  it("refuses what is not a map without quoting it (values may be secrets)", () => {
    for (const text of ["password: [unclosed s3cr3t-value", "- just\n- a list", '"only text s3cr3t-value"']) {
      let err: unknown;
      try {
        compileWorkerOptions(env(text));
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toMatch(/^VARS /);
      expect((err as Error).message).not.toContain("s3cr3t-value");
    }
  });
});
