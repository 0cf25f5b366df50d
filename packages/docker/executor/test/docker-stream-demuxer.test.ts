import { PassThrough, Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { DockerStreamDemuxer } from "@wharf/executor-docker";
import fc from "fast-check";
import { describe, expect, it } from "vitest";

function frame(stream: 1 | 2, payload: string): Buffer {
  const body = Buffer.from(payload);
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(body.length, 4);
  return Buffer.concat([header, body]);
}

async function demux(chunks: Buffer[], highWaterMark?: number): Promise<{ out: string; err: string }> {
  const stdout = new PassThrough(highWaterMark ? { highWaterMark } : {});
  const stderr = new PassThrough(highWaterMark ? { highWaterMark } : {});
  let out = "";
  let err = "";
  const read = async (s: PassThrough, add: (t: string) => void) => {
    for await (const c of s) {
      add(String(c));
      // A slow reader: give the producer every chance to overrun the buffers.
      await new Promise((r) => setImmediate(r));
    }
  };
  await Promise.all([
    pipeline(Readable.from(chunks), new DockerStreamDemuxer(stdout, stderr)),
    read(stdout, (t) => {
      out += t;
    }),
    read(stderr, (t) => {
      err += t;
    }),
  ]);
  return { out, err };
}

describe("DockerStreamDemuxer", () => {
  it("separates stdout and stderr frames, whatever the chunking", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.constantFrom<1 | 2>(1, 2), fc.string({ maxLength: 50 })), { maxLength: 20 }),
        fc.array(fc.integer({ min: 1, max: 20 }), { minLength: 1, maxLength: 10 }),
        async (frames, cuts) => {
          const all = Buffer.concat(frames.map(([s, p]) => frame(s, p)));
          const chunks: Buffer[] = [];
          for (let pos = 0, i = 0; pos < all.length; i++) {
            const size = cuts[i % cuts.length] as number;
            chunks.push(all.subarray(pos, pos + size));
            pos += size;
          }
          const { out, err } = await demux(chunks);
          expect(out).toBe(
            frames
              .filter(([s]) => s === 1)
              .map(([, p]) => p)
              .join(""),
          );
          expect(err).toBe(
            frames
              .filter(([s]) => s === 2)
              .map(([, p]) => p)
              .join(""),
          );
        },
      ),
      { numRuns: 100 },
    );
  });

  it("loses nothing when the reader is slower than the writer", async () => {
    const lines = Array.from({ length: 5_000 }, (_, i) => `line ${i}\n`);
    const { out, err } = await demux(
      lines.map((l, i) => frame(i % 10 === 0 ? 2 : 1, l)),
      64,
    );
    expect(out.split("\n").length - 1).toBe(4_500);
    expect(err.split("\n").length - 1).toBe(500);
    expect(out.endsWith("line 4999\n")).toBe(true);
  });
});
