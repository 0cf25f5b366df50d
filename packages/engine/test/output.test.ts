import { describe, expect, it } from "vitest";
import { MemoryRecorder } from "../src/index.js";
import { plan, runFake, stage, step } from "./plan-fixtures.js";

describe("step output", () => {
  it("records every line of a large output, in order, from a producer that waits on back-pressure", async () => {
    const { recorder } = await runFake(plan(stage("s", [step("loud", ["print-lines 100000"])])));
    const lines = recorder.logsOf(1);
    expect(lines).toHaveLength(100_000);
    expect(lines[0]).toBe("line 1");
    expect(lines[99_999]).toBe("line 100000");
  });

  it("splits an overlong line at maxLineBytes and flushes a last line without newline", async () => {
    const p = plan(stage("s", [step("long", ["print-long 10", "printf tail\\r\\nno newline"])]));
    const { recorder } = await runFake(p, { maxLineBytes: 4 });
    expect(recorder.logsOf(1)).toEqual(["xxxx", "xxxx", "xx", "tail", "no n", "ewli", "ne"]);
  });

  it("hands output lines to the recorder as raw bytes, so binary output is the store's to keep", async () => {
    const recorder = new MemoryRecorder();
    const raw: unknown[] = [];
    const appendLog = recorder.appendLog.bind(recorder);
    recorder.appendLog = (stepId, message, ts) => {
      raw.push(message);
      return appendLog(stepId, message, ts);
    };
    await runFake(plan(stage("s", [step("a", ["echo hi"])])), { recorder });
    expect(raw).toEqual([Buffer.from("hi")]);
  });
});
