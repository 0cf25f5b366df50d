import { CriLogParser, parseRecord } from "@wharf/executor-cri";
import { describe, expect, it } from "vitest";

const text = (chunks: { stream: string; bytes: Buffer }[]) =>
  chunks.map((c) => `${c.stream}:${c.bytes.toString("utf8")}`);

describe("CRI log records", () => {
  it("turns F records into lines and P records into line pieces, per stream", () => {
    const log = [
      "2026-12-03T16:13:21.935164426Z stdout F hello",
      "2026-12-03T16:13:21.936Z stderr P par",
      "2026-12-03T16:13:21.937Z stderr F tial",
      "2026-12-03T16:13:21.938Z stdout F ",
      "2026-12-03T16:13:21.939Z stdout F  two  spaces ",
      "2026-12-03T16:13:21.940Z stdout P no newline yet",
      "",
    ].join("\n");
    expect(text(new CriLogParser().push(Buffer.from(log)))).toEqual([
      "stdout:hello\n",
      "stderr:par",
      "stderr:tial\n",
      "stdout:\n",
      "stdout: two  spaces \n",
      "stdout:no newline yet",
    ]);
  });

  it("keeps an unfinished record, and a character cut between reads, for the next read", () => {
    const parser = new CriLogParser();
    const record = Buffer.from("2026-12-03T16:13:21Z stdout F grüße\n");
    const cut = record.indexOf(Buffer.from("ü")) + 1; // inside the two bytes of "ü"
    expect(parser.push(record.subarray(0, cut))).toEqual([]);
    expect(parser.pending).toBe(cut);
    expect(text(parser.push(record.subarray(cut)))).toEqual(["stdout:grüße\n"]);
    expect(parser.pending).toBe(0);
  });

  it("takes the first of several tags, and skips what is not a record instead of failing", () => {
    expect(parseRecord(Buffer.from("t stdout P:x abc"))?.bytes.toString()).toBe("abc");
    expect(parseRecord(Buffer.from("t stdout F:x abc"))?.bytes.toString()).toBe("abc\n");
    expect(parseRecord(Buffer.from("garbage"))).toBeUndefined();
    expect(parseRecord(Buffer.from("t stdin F abc"))).toBeUndefined();
    expect(parseRecord(Buffer.from("t stdout F"))?.bytes.toString()).toBe("\n");
  });
});
