import { describe, expect, it } from "vitest";
import { defaultRelayTuning, workerMessageBytes } from "../src/relay-context.js";

describe("workerMessageBytes", () => {
  it("shares the read-ahead budget among the workers relayed, within 4 KiB .. 256 KiB", () => {
    const t = { ...defaultRelayTuning, readAheadBytes: 32 * 2 ** 20 };
    expect(workerMessageBytes(t, 1)).toBe(256 * 1024);
    expect(workerMessageBytes(t, 0)).toBe(256 * 1024);
    const at200 = workerMessageBytes(t, 200);
    // 16 read ahead + 17 in the batch being delivered, for every one of 200 workers: within 32 MiB.
    expect(at200 * 33 * 200).toBeLessThanOrEqual(32 * 2 ** 20);
    expect(at200).toBeGreaterThan(4 * 1024);
    expect(workerMessageBytes(t, 100_000)).toBe(4 * 1024);
  });
});
