import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";
import { wharfArgs } from "@wharf/testkit";
import { afterEach, describe, expect, it } from "vitest";
import { WorkerLogSource } from "../src/index.js";
import { BUILD_REF, LiveBuild, range, waitFor } from "./live-build.js";

const repoRoot = path.resolve(import.meta.dirname, "../../..");

interface Run {
  child: ChildProcess;
  stdout: string;
  stderr: string;
  exit: Promise<number | null>;
}

/** `wharf <args>` as a child process talking to `url`, stdout/stderr collected as they come. */
function wharf(args: string[], url: string, env: NodeJS.ProcessEnv = {}): Run {
  const child = spawn(process.execPath, wharfArgs(args), {
    cwd: repoRoot,
    env: { ...process.env, WHARF_AGGREGATOR_URL: url, NO_COLOR: "", FORCE_COLOR: "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const run: Run = {
    child,
    stdout: "",
    stderr: "",
    exit: new Promise((resolve) => child.on("exit", (code) => resolve(code))),
  };
  child.stdout?.on("data", (b: Buffer) => {
    run.stdout += b.toString();
  });
  child.stderr?.on("data", (b: Buffer) => {
    run.stderr += b.toString();
  });
  children.push(child);
  return run;
}

const children: ChildProcess[] = [];
let build: LiveBuild | undefined;
afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill("SIGKILL");
  await build?.stop();
  build = undefined;
});

const messages = (stdout: string) =>
  stdout
    .trimEnd()
    .split("\n")
    .map((l) => l.split(" │ ")[1]);

describe("wharf logs / wharf status against the log routes", () => {
  it("follows a running build to the end, step-prefixed, and exits 0 on success", async () => {
    build = await LiveBuild.start();
    const b = build;
    b.appendLines(1, 50);
    const run = wharf(["logs", BUILD_REF, "-f"], b.url);
    await waitFor(() => run.stdout.includes("line 50\n"), "the first 50 lines", 20_000);
    b.appendLines(51, 120);
    await b.finish("SUCCESS");
    expect(await run.exit).toBe(0);
    const lines = run.stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(120);
    expect(lines[0]).toBe("build/compile │ line 1");
    expect(lines[1]).toBe("build/lint    │ line 2");
    expect(messages(run.stdout)).toEqual(range(1, 120).map((n) => `line ${n}`));
    expect(run.stderr).toBe("build 42 SUCCESS\n");
  });

  it("exits 1 when the followed build failed, and filters by --step and --after", async () => {
    build = await LiveBuild.start();
    build.appendLines(1, 30);
    await build.finish("FAILED");
    const run = wharf(["logs", BUILD_REF, "-f", "--step", "lint", "--after", "10"], build.url);
    expect(await run.exit).toBe(1);
    expect(messages(run.stdout)).toEqual([11, 14, 17, 20, 23, 26, 29].map((n) => `line ${n}`));
    expect(run.stderr).toBe("build 42 FAILED: build failed\n");
  });

  it("follows --step before the worker named its steps; --timestamps; progress lines as they ended", async () => {
    // The summaries the routes handed out, by how many steps they listed.
    const listed: number[] = [];
    build = await LiveBuild.start({
      source: (address) => {
        const inner = new WorkerLogSource({ resolveWorker: async () => ({ address }), retryIntervalMs: 50 });
        return Object.assign(Object.create(inner) as WorkerLogSource, {
          summary: async (ref: number, signal?: AbortSignal) => {
            const s = await inner.summary(ref, signal);
            listed.push(s.steps.length);
            return s;
          },
        });
      },
    });
    const b = build;
    b.store.setSteps([]); // still cloning: no steps yet
    b.store.appendLog(0, "cloning");
    const run = wharf(["logs", BUILD_REF, "-f", "--step", "unit", "--timestamps"], b.url);
    await waitFor(() => listed.length > 0, "the follower's first summary", 20_000);
    expect(listed[0]).toBe(0);
    b.store.setSteps([
      { stepId: 1, stage: "build", name: "compile" },
      { stepId: 3, stage: "test", name: "unit" },
    ]);
    b.store.appendStatus(3, "RUNNING");
    const at = Date.UTC(2026, 11, 3, 12, 0, 0, 5);
    b.store.appendLog(1, "not this step", at);
    b.store.appendLog(3, "fetching  10%\r fetching  60%\r fetching 100%\r", at);
    b.store.appendLog(3, "done", at + 1_000);
    await b.finish("SUCCESS");
    expect(await run.exit).toBe(0);
    expect(run.stdout).toBe(
      "2026-12-03T12:00:00.005Z test/unit     │  fetching 100%\n2026-12-03T12:00:01.005Z test/unit     │ done\n",
    );
  });

  it("prints what there is now without -f and exits 0 while the build runs", async () => {
    build = await LiveBuild.start();
    build.store.appendLog(1, "\x1b[31mred\x1b[0m");
    const run = wharf(["logs", BUILD_REF], build.url);
    expect(await run.exit).toBe(0);
    // Not a terminal: no colours, no status line.
    expect(run.stdout).toBe("build/compile │ red\n");
    expect(run.stderr).toBe("");
    const coloured = wharf(["logs", BUILD_REF], build.url, { FORCE_COLOR: "1" });
    expect(await coloured.exit).toBe(0);
    expect(coloured.stdout).toContain("\x1b[31mred\x1b[0m");
    expect(coloured.stdout.startsWith("\x1b[32mbuild/compile\x1b[39m")).toBe(true);
  });

  it("shows the status of a build with its steps", async () => {
    build = await LiveBuild.start();
    build.store.appendStatus(1, "SUCCESS");
    build.store.recordStepResult(1, { exitCode: 0, attempts: 1 });
    build.store.appendStatus(2, "RUNNING");
    build.appendLines(1, 7);
    const run = wharf(["status", BUILD_REF], build.url);
    expect(await run.exit).toBe(0);
    expect(run.stdout).toBe(
      [
        "build 42 RUNNING",
        "  ✓ build/compile  SUCCESS  exit 0",
        "  ▶ build/lint     RUNNING",
        "  · test/unit      PENDING",
        "  7 log lines",
        "",
      ].join("\n"),
    );
    await build.finish("CANCELLED");
    const json = wharf(["status", BUILD_REF, "--json"], build.url);
    expect(await json.exit).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ status: "CANCELLED", finished: true, lastLogId: 7 });
  });

  it("waits with status -w until the build ends", async () => {
    build = await LiveBuild.start();
    const b = build;
    const run = wharf(["status", BUILD_REF, "-w"], b.url);
    b.appendLines(1, 3);
    await b.finish("SUCCESS");
    expect(await run.exit).toBe(0);
    expect(run.stdout.split("\n")[0]).toBe("build 42 SUCCESS");
  });

  it("sends WHARF_AGGREGATOR_TOKEN to an aggregator that requires it, and fails clearly without", async () => {
    build = await LiveBuild.start({ token: "cli-token" });
    const b = build;
    b.appendLines(1, 2);
    await b.finish("SUCCESS");
    const logs = wharf(["logs", BUILD_REF, "-f"], b.url, { WHARF_AGGREGATOR_TOKEN: "cli-token" });
    expect(await logs.exit).toBe(0);
    expect(logs.stdout).toContain("line 2");
    const status = wharf(["status", BUILD_REF], b.url, { WHARF_AGGREGATOR_TOKEN: "cli-token" });
    expect(await status.exit).toBe(0);
    const refused = wharf(["status", BUILD_REF], b.url, { WHARF_AGGREGATOR_TOKEN: "" });
    expect(await refused.exit).toBe(1);
    expect(refused.stderr).toMatch(/401/);
  });

  it("exits 2 for usage errors and 1 when the aggregator does not know the build or is down", async () => {
    build = await LiveBuild.start();
    build.appendLines(1, 3);
    const badRef = wharf(["logs", "no/such"], build.url);
    expect(await badRef.exit).toBe(2);
    const badAfter = wharf(["logs", BUILD_REF, "--after", "x"], build.url);
    expect(await badAfter.exit).toBe(2);
    const noStep = wharf(["logs", BUILD_REF, "--step", "deploy"], build.url);
    expect(await noStep.exit).toBe(2);
    expect(noStep.stderr).toBe(
      'wharf logs: build 42 has no step "deploy" (steps: build/compile, build/lint, test/unit)\n',
    );
    const unknown = wharf(["logs", "999"], build.url);
    expect(await unknown.exit).toBe(1);
    expect(unknown.stderr).toMatch(/^wharf logs: build 999 is not known/);
    const url = build.url;
    await build.stop();
    build = undefined;
    const down = wharf(["status", BUILD_REF], url);
    expect(await down.exit).toBe(1);
    expect(down.stderr).toMatch(/^wharf status: /);
  });
});
