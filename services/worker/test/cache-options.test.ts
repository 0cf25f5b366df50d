import path from "node:path";
import { createLogger } from "@wharf/config";
import { LocalExecutor } from "@wharf/executor-local";
import { describe, expect, it } from "vitest";
import { createExecutor } from "../src/executor-factory.js";
import { compileWorkerOptions } from "../src/index.js";

const options = (env: Record<string, string> = {}) =>
  compileWorkerOptions({ WHARF_BUILD_REF: "1", WHARF_SOURCE_DIR: "/src", WHARF_DATA_DIR: "/data", ...env });

describe("step cache settings of the worker", () => {
  it("keys caches by WHARF_PROJECT_ID and GIT_BRANCH, falling back to WHARF_DEFAULT_BRANCH (main)", () => {
    expect(options({ WHARF_PROJECT_ID: "12", GIT_BRANCH: "feat" }).cacheScope).toEqual({
      project: "12",
      branch: "feat",
      fallbackBranch: "main",
    });
    expect(
      options({ WHARF_PROJECT_ID: "12", GIT_BRANCH: "feat", WHARF_DEFAULT_BRANCH: "master" }).cacheScope,
    ).toMatchObject({ fallbackBranch: "master" });
    // A clone of the remote's HEAD names no branch: no scope rather than a guess.
    const git = compileWorkerOptions({
      WHARF_BUILD_REF: "1",
      WHARF_PROJECT_ID: "3",
      GIT_FULLURL: "http://127.0.0.1/x.git",
    });
    expect(git.cacheScope).toBeUndefined();
    expect(options({ GIT_BRANCH: "feat" }).cacheScope).toBeUndefined();
    expect(options({ WHARF_PROJECT_ID: "12" }).cacheScope).toBeUndefined();
  });

  it("stores them under WHARF_CACHE_DIR (default <data dir>/caches) within WHARF_CACHE_MAX_BYTES", async () => {
    expect(options()).toMatchObject({
      cacheDir: path.resolve("/data/caches"),
      cacheMaxBytes: 10 * 1024 ** 3,
    });
    expect(options({ WHARF_CACHE_DIR: "/c", WHARF_CACHE_MAX_BYTES: "1000" })).toMatchObject({
      cacheDir: path.resolve("/c"),
      cacheMaxBytes: 1000,
    });
    expect(() => options({ WHARF_CACHE_MAX_BYTES: "lots" })).toThrow(
      /WHARF_CACHE_MAX_BYTES must be an integer/,
    );
    expect(() => options({ WHARF_CACHE_MAX_BYTES: "-1" })).toThrow(/WHARF_CACHE_MAX_BYTES must be 0 or more/);
    const executor = await createExecutor(options({ WHARF_CACHE_DIR: "/c" }), createLogger("test"));
    expect(executor).toBeInstanceOf(LocalExecutor);
    expect(executor.caches).toBeDefined();
  });
});
