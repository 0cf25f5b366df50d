import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { FakeExecutor, MemoryRecorder } from "../testing/index.js";
import { plan, runFake, stage, step } from "./plan-fixtures.js";

let scratch: string;
afterEach(() => rmSync(scratch, { recursive: true, force: true }));
const newScratch = () => {
  scratch = mkdtempSync(join(tmpdir(), "wharf-artifacts-test-"));
  return scratch;
};

describe("artifacts", () => {
  it("collects each glob after success, hands every file to the recorder once and warns about empty globs", async () => {
    const p = plan(
      stage("build", [
        step("pack", ["touch dist/app.js console.log(1)", "touch dist/sub/lib.js x", "touch notes.txt hi"], {
          artifacts: ["dist/**/*.js", "missing/*.bin", "dist/app.js"],
        }),
      ]),
    );
    // A staging parent that does not exist yet is created.
    const { result, recorder, executor } = await runFake(p, {
      artifactsTmpDir: join(newScratch(), "a", "b"),
    });
    expect(result.status).toBe("SUCCESS");
    expect(recorder.artifacts.map((a) => [a.stepId, a.name, a.content.toString()])).toEqual([
      [1, "dist/app.js", "console.log(1)"],
      [1, "dist/sub/lib.js", "x"],
    ]);
    expect(recorder.logsOf(1)).toEqual([
      "artifact: dist/app.js",
      "artifact: dist/sub/lib.js",
      'warning: artifact glob "missing/*.bin" matched no files',
    ]);
    expect(executor.count("collectFiles")).toBe(3);
    // Artifacts are in the store before the step reports SUCCESS.
    expect(recorder.artifacts.at(-1)!.seq).toBeLessThan(
      recorder.statuses.find((s) => s.status === "SUCCESS")!.seq,
    );
    // The staging copies are gone.
    expect(readdirSync(join(scratch, "a", "b"))).toEqual([]);
  });

  it("collects nothing from a failed step", async () => {
    const p = plan(stage("build", [step("pack", ["touch out.txt x", "exit 1"], { artifacts: ["out.txt"] })]));
    const { recorder, executor } = await runFake(p, { artifactsTmpDir: newScratch() });
    expect(executor.count("collectFiles")).toBe(0);
    expect(recorder.artifacts).toEqual([]);
  });

  it("fails the step when an artifact cannot be stored", async () => {
    const recorder = new MemoryRecorder();
    recorder.addArtifact = async () => {
      throw new Error("no space left on device");
    };
    const p = plan(stage("build", [step("pack", ["touch out.txt x"], { artifacts: ["out.txt"] })]));
    const { result } = await runFake(p, {
      recorder,
      executor: new FakeExecutor(),
      artifactsTmpDir: newScratch(),
    });
    expect(result.steps[0]).toMatchObject({ status: "FAILED", exitCode: 0 });
    expect(recorder.logsOf(1)).toEqual(["collecting artifacts failed: no space left on device"]);
    expect(result.status).toBe("FAILED");
    expect(readdirSync(scratch)).toEqual([]);
  });
});
