import { PassThrough, Readable } from "node:stream";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { forEachLine, LineSplitter } from "../src/index.js";

const text = (lines: Buffer[]) => lines.map((l) => l.toString("utf8"));

describe("LineSplitter", () => {
  it("gives the unfinished rest as a partial only while a carriage return redrew it", () => {
    const s = new LineSplitter();
    expect(text(s.push("done\nDownloading"))).toEqual(["done"]);
    expect(s.partial()).toBeUndefined();
    s.push(" 10%\r");
    expect(s.partial()?.toString()).toBe("Downloading 10%");
    s.push("Downloading 55%");
    expect(s.partial()?.toString()).toBe("Downloading 10%\rDownloading 55%");
    expect(text(s.push("\rDownloading 100%\n"))).toEqual([
      "Downloading 10%\rDownloading 55%\rDownloading 100%",
    ]);
    expect(s.partial()).toBeUndefined();
  });

  it("joins lines split across chunks and flushes a partial last line", () => {
    const s = new LineSplitter();
    expect(text(s.push("hel"))).toEqual([]);
    expect(text(s.push("lo\nwor"))).toEqual(["hello"]);
    expect(text(s.push("ld\n\nlast"))).toEqual(["world", ""]);
    expect(text(s.flush())).toEqual(["last"]);
    expect(s.flush()).toEqual([]);
  });

  it("drops the CR of CRLF, also when CR and LF arrive in different chunks, and keeps lone CRs", () => {
    const s = new LineSplitter();
    expect(text(s.push("a\r\nb\r"))).toEqual(["a"]);
    expect(text(s.push("\nprogress 10%\rprogress 20%\r\n"))).toEqual(["b", "progress 10%\rprogress 20%"]);
    expect(text(s.push("tail\r"))).toEqual([]);
    expect(text(s.flush())).toEqual(["tail"]);
  });

  it("cuts a very long line into pieces of at most maxLineBytes without splitting a UTF-8 character", () => {
    const s = new LineSplitter(8);
    const lines = [...s.push("abcdefghijkl"), ...s.push("mnopqrst\n")];
    expect(text(lines)).toEqual(["abcdefgh", "ijklmnop", "qrst"]);
    // "é" is 2 bytes: 7 ASCII bytes + é would straddle the 8-byte limit.
    const u = new LineSplitter(8);
    const pieces = [...u.push("1234567é89\n")];
    expect(text(pieces)).toEqual(["1234567", "é89"]);
  });

  it("splits like the model for any chunking, and cuts long lines into valid UTF-8 pieces (property)", () => {
    const feed = (input: Buffer, cuts: number[], max: number): string[] => {
      const s = new LineSplitter(max);
      const out: Buffer[] = [];
      for (let at = 0, i = 0; at < input.length; i++) {
        const size = cuts[i % cuts.length]!;
        out.push(...s.push(input.subarray(at, at + size)));
        at += size;
      }
      out.push(...s.flush());
      for (const line of out) {
        expect(line.length).toBeLessThanOrEqual(max);
        expect(Buffer.from(line.toString("utf8"), "utf8").equals(line)).toBe(true);
      }
      return text(out);
    };
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom("a", "é", "\n", "\r\n", "\r", "€", "x"), { maxLength: 60 }),
        fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 10 }),
        (parts, cuts) => {
          const input = Buffer.from(parts.join(""), "utf8");
          // The model: split at LF, drop the CR of CRLF and a CR ending the unterminated last line.
          const normal = parts.join("").replace(/\r\n/g, "\n");
          const body = normal.endsWith("\n") ? normal.slice(0, -1) : normal.replace(/\r$/, "");
          const expected = normal === "" ? [] : body.split("\n");
          expect(feed(input, cuts, 1024)).toEqual(expected);
          // With a tiny limit the pieces still hold every byte, in order.
          expect(feed(input, cuts, 5).join("")).toBe(expected.join(""));
        },
      ),
    );
  });

  it("rejects a nonsensical limit", () => {
    expect(() => new LineSplitter(0)).toThrow(RangeError);
  });
});

describe("forEachLine", () => {
  it("reads a stream to its end, line by line, flushing the partial last line", async () => {
    const lines: string[] = [];
    await forEachLine(Readable.from([Buffer.from("one\ntw"), Buffer.from("o\r\nthree")]), (l) =>
      lines.push(l.toString()),
    );
    expect(lines).toEqual(["one", "two", "three"]);
  });

  it("keeps memory bounded: a 64 MiB line without a newline arrives in 64 KiB pieces", async () => {
    const stream = new PassThrough();
    let pieces = 0;
    let bytes = 0;
    let largest = 0;
    const reading = forEachLine(stream, (l) => {
      pieces++;
      bytes += l.length;
      largest = Math.max(largest, l.length);
    });
    const chunk = Buffer.alloc(1024 * 1024, 0x78);
    for (let i = 0; i < 64; i++) if (!stream.write(chunk)) await new Promise((r) => stream.once("drain", r));
    stream.end();
    await reading;
    expect(bytes).toBe(64 * 1024 * 1024);
    expect(largest).toBe(64 * 1024);
    expect(pieces).toBe(1024);
  });

  it("passes the stream's error on after flushing what was read", async () => {
    const stream = new PassThrough();
    const lines: string[] = [];
    const reading = forEachLine(stream, (l) => lines.push(l.toString()));
    stream.write("partial");
    setImmediate(() => stream.destroy(new Error("socket hang up")));
    await expect(reading).rejects.toThrow("socket hang up");
    expect(lines).toEqual(["partial"]);
  });
});
