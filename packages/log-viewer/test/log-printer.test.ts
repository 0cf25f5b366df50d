import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { LogPrinter } from "../src/cli/log-printer.js";

/** A terminal's stderr as the printer sees one: what was written, in order. */
function terminal() {
  const err = Object.assign(new PassThrough(), { isTTY: true, columns: 120 });
  let written = "";
  err.on("data", (c) => {
    written += String(c);
  });
  return { err, written: () => written };
}

describe("wharf logs -f on a terminal: a progress bar before its newline", () => {
  it("is shown live in the status line and gives way to the finished line", () => {
    const out = new PassThrough();
    let printed = "";
    out.on("data", (c) => {
      printed += String(c);
    });
    const tty = terminal();
    const printer = new LogPrinter({ out, err: tty.err, colour: false, statusLine: true });
    printer.summary({
      buildRef: "1",
      status: "RUNNING",
      finished: false,
      message: "",
      lastLogId: 0,
      lastEventId: 0,
      steps: [{ stepId: 1, stage: "build", name: "pull", status: "RUNNING", exitCode: null, attempts: 1 }],
    });
    printer.lines([{ logId: 1, stepId: 1, timestamp: 0, message: "pulling" }]);
    printer.progress({ stepId: 1, afterLogId: 1, timestamp: 0, message: "\x1b[32m 10%\\x0d 55%" });
    const lastStatus = () => tty.written().split("\r\x1b[2K").at(-1);
    expect(lastStatus()).toBe("build/pull │ 55% ⟳ · running · 0/1 steps done · running pull · 1 lines");
    printer.lines([{ logId: 2, stepId: 1, timestamp: 0, message: " 10%\\x0d 55%\\x0d100%" }]);
    expect(lastStatus()).toBe("running · 0/1 steps done · running pull · 2 lines");
    expect(printed.split("\n")).toEqual(["build/pull │ pulling", "build/pull │ 100%", ""]);
    // A late event of a bar that already ended changes nothing.
    printer.progress({ stepId: 1, afterLogId: 1, timestamp: 0, message: " 10%" });
    expect(lastStatus()).toBe("running · 0/1 steps done · running pull · 2 lines");
  });
});
