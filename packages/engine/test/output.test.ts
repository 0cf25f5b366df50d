import { describe, expect, it } from "vitest";
import { MemoryRecorder } from "../testing/index.js";
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

  it("shows a progress bar's unfinished line to the recorder before its newline comes", async () => {
    const p = plan(
      stage("s", [step("bar", ["printf 10%\\r", "sleep 50", "printf 55%\\r", "sleep 50", "printf 100%\\n"])]),
    );
    const { recorder } = await runFake(p);
    expect(recorder.progress).toEqual([
      { stepId: 1, partial: "10%" },
      { stepId: 1, partial: "10%\r55%" },
    ]);
    expect(recorder.logsOf(1)).toEqual(["10%\r55%\r100%"]);
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

describe("secrets an executor resolved for a step", () => {
  it("are masked from the step's first line on, and in later steps' output", async () => {
    const p = plan(
      stage("s", [step("uses", ["secret s3cr3t-value", "echo before s3cr3t-value after"])]),
      stage("t", [step("later", ["echo again s3cr3t-value"])]),
    );
    const { recorder } = await runFake(p);
    expect(recorder.secrets).toEqual(["s3cr3t-value"]);
    expect(recorder.logsOf(1)).toEqual(["before *** after"]);
    expect(recorder.logsOf(2)).toEqual(["again ***"]);
  });

  it("are handed to the recorder before the step's first output line", async () => {
    const recorder = new MemoryRecorder();
    const order: string[] = [];
    const addSecrets = recorder.addSecrets.bind(recorder);
    recorder.addSecrets = (values) => {
      order.push(`secrets ${values.join(",")}`);
      addSecrets(values);
    };
    const appendLog = recorder.appendLog.bind(recorder);
    recorder.appendLog = (stepId, message, ts) => {
      order.push("line");
      return appendLog(stepId, message, ts);
    };
    await runFake(plan(stage("s", [step("a", ["secret abcdefgh", "echo abcdefgh"])])), { recorder });
    expect(order).toEqual(["secrets abcdefgh", "line"]);
    expect(recorder.logsOf(1)).toEqual(["***"]);
  });

  it("a step without secrets adds none", async () => {
    const { recorder } = await runFake(plan(stage("s", [step("a", ["echo hi"])])));
    expect(recorder.secrets).toEqual([]);
  });
});
