import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalExecutor } from "@wharf/executor-local";
import { afterEach, describe, expect, it } from "vitest";
import { MemoryRecorder } from "../testing/index.js";
import {
  buildSpec,
  expectForwardStatuses,
  idOf,
  plan,
  runFake,
  stage,
  step,
  waitFor,
} from "./plan-fixtures.js";

// The engine against real host processes: the same scenarios as with the FakeExecutor,
// now with a real shell, real signals and a real shared workspace.
let root: string;
afterEach(() => rmSync(root, { recursive: true, force: true }));
const localExecutor = () => {
  root = mkdtempSync(join(tmpdir(), "wharf-engine-local-"));
  return new LocalExecutor({ workspaceRoot: join(root, "ws") });
};

/** Host processes ignore a step's image: each step's log says so first (LOCAL_IGNORED_FIELDS). */
const IMAGE_WARNING = /^warning: image is ignored by the local executor: /;
/** A step's log without that warning: what the step printed and the engine's lines. */
const outputOf = (recorder: MemoryRecorder, stepId: number) =>
  recorder.logsOf(stepId).filter((line) => !IMAGE_WARNING.test(line));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("engine on the LocalExecutor", () => {
  it("runs stages in order in a shared workspace, with env, output, artifacts, run-if and sibling cancel", async () => {
    const build = buildSpec({ GREETING: "hej" });
    writeFileSync(join(build.sourceDir, "input.txt"), "from the repo\n");
    const p = plan(
      stage("build", [
        step("write", [
          'echo "$GREETING $CI $WHARF_STEP_NAME $WHARF_STEP_ID"',
          "cat input.txt > out.txt",
          "echo err >&2",
        ]),
        step("other", ["printf 'no newline'"]),
      ]),
      stage("test", [
        step("read", ["cat out.txt", "printf 'a\\r\\nb\\n'"], { artifacts: ["out.txt", "none/*"] }),
      ]),
      stage("break", [step("fails", ["sleep 0.1", "exit 3"]), step("sleeper", ["sleep 30"])]),
      stage("rescue", [step("after-fail", ["echo rescued"])], "fail"),
    );
    const executor = localExecutor();
    const { result, recorder } = await runFake(p, { executor, build });

    expect(result.steps.map((s) => [s.name, s.status, s.exitCode])).toEqual([
      ["write", "SUCCESS", 0],
      ["other", "SUCCESS", 0],
      ["read", "SUCCESS", 0],
      ["fails", "FAILED", 3],
      ["sleeper", "CANCELLED", 143],
      ["after-fail", "SUCCESS", 0],
    ]);
    expect(result.status).toBe("FAILED");
    expect(recorder.logsOf(idOf(p, "other"))).toEqual([expect.stringMatching(IMAGE_WARNING), "no newline"]);
    expect(outputOf(recorder, idOf(p, "write")).sort()).toEqual(["err", "hej true write 1"]);
    expect(outputOf(recorder, idOf(p, "other"))).toEqual(["no newline"]);
    expect(outputOf(recorder, idOf(p, "read"))).toEqual([
      "from the repo",
      "a",
      "b",
      "artifact: out.txt",
      'warning: artifact glob "none/*" matched no files',
    ]);
    expect(recorder.artifacts.map((a) => [a.name, a.content.toString()])).toEqual([
      ["out.txt", "from the repo\n"],
    ]);
    expect(outputOf(recorder, idOf(p, "sleeper"))).toEqual(['cancelled: step "fails" of this stage failed']);
    expect(recorder.buildStatuses()).toEqual(["RUNNING", "FAILED"]);
    expectForwardStatuses(recorder);
    // destroyBuild removed the workspace.
    expect(() => readFileSync(join(executor.workspaceOf(build), "out.txt"))).toThrow(/ENOENT/);
  });

  it("cancels real processes from outside: a TERM-ignoring step is killed after the grace", async () => {
    const executor = localExecutor();
    const recorder = new MemoryRecorder();
    const controller = new AbortController();
    const p = plan(
      stage("s", [
        step("polite", ["echo $$ > polite.pid", "sleep 30"]),
        step("stubborn", ["trap '' TERM", "echo $$ > stubborn.pid", "sleep 30"]),
      ]),
    );
    const build = buildSpec();
    const running = runFake(p, { executor, recorder, build, signal: controller.signal, stopGraceMs: 300 });
    const ws = executor.workspaceOf(build);
    const pidOf = (name: string) => Number(readFileSync(join(ws, `${name}.pid`), "utf8"));
    await waitFor(() => {
      try {
        return pidOf("polite") > 0 && pidOf("stubborn") > 0;
      } catch {
        return false;
      }
    }, "both steps to write their pid");
    const pids = [pidOf("polite"), pidOf("stubborn")];
    controller.abort();
    const { result } = await running;

    expect(result.status).toBe("CANCELLED");
    expect(result.steps.map((s) => [s.name, s.status, s.exitCode])).toEqual([
      ["polite", "CANCELLED", 143],
      ["stubborn", "CANCELLED", 137],
    ]);
    for (const pid of pids) expect(alive(pid)).toBe(false);
  });

  it("fails a real process on its step timeout", async () => {
    const p = plan(stage("s", [step("slow", ["echo started", "sleep 30"], { timeoutMs: 200 })]));
    const { result, recorder } = await runFake(p, { executor: localExecutor() });
    expect(result.steps[0]).toMatchObject({ status: "FAILED", exitCode: 143 });
    expect(outputOf(recorder, 1)).toEqual(["started", "timed out after 200ms"]);
  });
});
