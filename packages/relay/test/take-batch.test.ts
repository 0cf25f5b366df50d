import { describe, expect, it } from "vitest";
import { takeBatch } from "../src/log-relay.js";

/** A worker stream that always has more already arrived: `length`-line messages, `count` of them. */
function stream(count: number, length = 10) {
  let sent = 0;
  const it: AsyncIterator<{ length: number; n: number }> = {
    next: async () =>
      sent < count ? { done: false, value: { length, n: ++sent } } : { done: true, value: undefined },
  };
  return { it, readable: { readableLength: count } };
}

describe("takeBatch", () => {
  it("takes at most maxMessages messages, however many lines the call may hold", async () => {
    const s = stream(1000);
    const batch = await takeBatch(s.it, s.readable, 100_000, 17);
    expect(batch?.parts.map((p) => p.n)).toEqual(Array.from({ length: 17 }, (_, i) => i + 1));
    expect(batch?.ended).toBe(false);
    // The next batch goes on where this one stopped.
    expect((await takeBatch(s.it, s.readable, 100_000, 17))?.parts[0]?.n).toBe(18);
  });

  it("stops once maxLines are reached (the last message may pass it)", async () => {
    const s = stream(1000);
    expect((await takeBatch(s.it, s.readable, 25, 17))?.parts).toHaveLength(3);
  });

  it("takes only what already arrived, and says when the stream ended", async () => {
    const s = stream(5);
    expect((await takeBatch(s.it, { readableLength: 0 }, 100, 17))?.parts).toHaveLength(1);
    expect(await takeBatch(s.it, s.readable, 100, 17)).toEqual({
      parts: [2, 3, 4, 5].map((n) => ({ length: 10, n })),
      ended: true,
    });
    expect(await takeBatch(stream(0).it, s.readable, 100, 17)).toBeUndefined();
  });
});
