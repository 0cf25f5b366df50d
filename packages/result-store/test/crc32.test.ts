import zlib from "node:zlib";
import { describe, expect, it } from "vitest";
import { crc32, crc32Range } from "../src/crc32.js";

describe("crc32Range", () => {
  it("matches zlib's CRC-32 for every start and length, short (JS) and long (native) alike", () => {
    const data = Buffer.alloc(1500);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7919 + 13) & 0xff;
    const reference = (s: number, e: number) => zlib.crc32(data.subarray(s, e));
    for (let start = 0; start < 17; start++)
      for (let end = start; end <= 1200; end += end < 40 ? 1 : 37)
        expect(crc32Range(data, start, end)).toBe(reference(start, end));
    expect(crc32(Buffer.from("123456789"))).toBe(0xcbf43926); // the standard check value
  });
});
