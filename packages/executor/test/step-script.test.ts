import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { assertWorkspaceGlobs, exitCodeForSignal, resourceName, stepScript } from "@wharf/executor";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);

describe("stepScript", () => {
  it("runs cmds in order in one shell and stops at the first failure", async () => {
    const script = stepScript(["X=1", "echo a$X", "false", "echo b"]);
    const err = (await run("/bin/sh", ["-c", script]).catch((e: unknown) => e)) as {
      code: number;
      stdout: string;
    };
    expect(err.code).toBe(1);
    expect(err.stdout).toBe("a1\n");
  });

  it("keeps multi-line cmds intact", async () => {
    const { stdout } = await run("/bin/sh", ["-c", stepScript(["for i in 1 2; do\n  echo $i\ndone"])]);
    expect(stdout).toBe("1\n2\n");
  });
});

describe("exitCodeForSignal", () => {
  it("follows the shell convention 128 + signal number", () => {
    expect(exitCodeForSignal("SIGKILL")).toBe(137);
    expect(exitCodeForSignal("SIGTERM")).toBe(143);
  });
});

describe("resourceName", () => {
  it("keeps a clean name and disambiguates cleaned ones", () => {
    expect(resourceName("build-42")).toBe("build-42");
    expect(resourceName("a/b")).toMatch(/^a-b-[0-9a-f]{7}$/);
    expect(resourceName("a/b")).not.toBe(resourceName("a-b"));
    expect(resourceName("../..")).toMatch(/^x-[0-9a-f]{7}$/);
    expect(resourceName("X".repeat(100)).length).toBeLessThanOrEqual(40);
    expect(resourceName("Build_1")).toMatch(/^build_1-[0-9a-f]{7}$/);
  });
});

describe("assertWorkspaceGlobs", () => {
  it("accepts relative globs and refuses ones that leave the workspace", () => {
    expect(() => assertWorkspaceGlobs(["dist/**", "*.log", "a..b/*"])).not.toThrow();
    expect(() => assertWorkspaceGlobs(["/etc/passwd"])).toThrow(/inside the workspace/);
    expect(() => assertWorkspaceGlobs(["dist/../../x"])).toThrow(/inside the workspace/);
    expect(() => assertWorkspaceGlobs([" "])).toThrow(/empty/);
  });
});
