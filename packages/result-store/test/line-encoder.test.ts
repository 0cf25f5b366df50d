import { describe, expect, it } from "vitest";
import { LineEncoder } from "../src/index.js";

describe("LineEncoder", () => {
  it("splits on \\n and \\r\\n; a trailing newline adds no empty line; empty stays one line", () => {
    const enc = new LineEncoder([]);
    expect(enc.encode("a\nb\r\nc\n")).toEqual(["a", "b", "c"]);
    expect(enc.encode("")).toEqual([""]);
    expect(enc.encode("\n")).toEqual([""]);
    expect(enc.encode("a\n\nb")).toEqual(["a", "", "b"]);
  });

  it("escapes control characters except tab as \\xNN, keeping SGR colour sequences", () => {
    const enc = new LineEncoder([]);
    expect(enc.encode("a\tb\u0000c\u001b[31mred\u001b[0m\rx\u007f")).toEqual([
      "a\tb\\x00c\u001b[31mred\u001b[0m\\x0dx\\x7f",
    ]);
    // Cursor movement, screen clearing and OSC titles are not colours: escaped.
    expect(enc.encode("\u001b[2J\u001b[1;1H\u001b]0;title\u0007")).toEqual([
      "\\x1b[2J\\x1b[1;1H\\x1b]0;title\\x07",
    ]);
  });

  it("decodes bytes as UTF-8 and replaces invalid sequences with U+FFFD", () => {
    const enc = new LineEncoder([]);
    const bytes = Buffer.from([0x68, 0xc3, 0xa9, 0xff, 0xfe, 0x00, 0x0a, 0xe2, 0x82]);
    expect(enc.encode(bytes)).toEqual(["hé\ufffd\ufffd\\x00", "\ufffd"]);
  });

  it("splits long lines at the byte limit without cutting a character", () => {
    const enc = new LineEncoder([], 16);
    const line = "é".repeat(20); // 40 bytes
    const parts = enc.encode(line);
    expect(parts.join("")).toBe(line);
    for (const p of parts) expect(Buffer.byteLength(p)).toBeLessThanOrEqual(16);
    expect(parts.map((p) => Buffer.byteLength(p))).toEqual([16, 16, 8]);
    expect(enc.encode("x".repeat(16))).toEqual(["x".repeat(16)]);
    expect(enc.encode("x".repeat(17))).toEqual(["x".repeat(16), "x"]);
  });

  it("masks secrets, longest first, and each line of a multi-line secret", () => {
    const enc = new LineEncoder([
      "hunter2",
      "hunter2-extended",
      "",
      "-----KEY-----\nAAAABBBB\n-----END-----",
    ]);
    expect(enc.encode("pw=hunter2 and hunter2-extended")).toEqual(["pw=*** and ***"]);
    expect(enc.encode("-----KEY-----\nAAAABBBB\n-----END-----")).toEqual(["***"]);
    expect(enc.encode("line AAAABBBB only")).toEqual(["line *** only"]);
    expect(enc.encode(Buffer.from("bytes hunter2"))).toEqual(["bytes ***"]);
    expect(enc.encode("a.b*c")).toEqual(["a.b*c"]);
  });

  it("masks before splitting so a secret on a split boundary is still hidden", () => {
    const enc = new LineEncoder(["SECRETVALUE"], 16);
    const parts = enc.encode(`${"x".repeat(10)}SECRETVALUE${"y".repeat(10)}`);
    expect(parts.join("")).toBe(`${"x".repeat(10)}***${"y".repeat(10)}`);
    expect(parts.join("\n")).not.toContain("SECRET");
  });

  it("rejects a limit too small to hold a character", () => {
    expect(() => new LineEncoder([], 3)).toThrow(/maxLineBytes/);
  });
});

describe("LineEncoder.addSecrets", () => {
  it("masks secrets learnt later in every line encoded afterwards", () => {
    const enc = new LineEncoder(["early"]);
    expect(enc.encode("early late")).toEqual(["*** late"]);
    enc.addSecrets(["late"]);
    expect(enc.encode("early late")).toEqual(["*** ***"]);
  });
});
