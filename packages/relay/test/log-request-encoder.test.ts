import path from "node:path";
import { protoRoot } from "@wharf/proto";
import { WorkerLogLines } from "@wharf/worker-rpc";
import protobuf from "protobufjs";
import { describe, expect, it } from "vitest";
import { RequestFrameEncoder } from "../src/log-request-encoder.js";
import type { ApiLogLine } from "../src/log-stream-sender.js";

// The hand-written CreateLogStreamRequest frames, read back by protobufjs from the real .proto.
const Request = protobuf
  .loadSync(path.join(protoRoot, "wharf/api/v5/builds.proto"))
  .lookupType("wharf.api.v5.CreateLogStreamRequest");

type Decoded = {
  buildId: number;
  workerLogId: number;
  workerStepId: number;
  timestamp: { seconds: number; nanos: number } | null;
  message: string;
};

function decodeFrames(chunks: Buffer[]): Decoded[] {
  const all = Buffer.concat(chunks);
  const out: Decoded[] = [];
  for (let p = 0; p < all.length; ) {
    expect(all[p]).toBe(0);
    const len = all.readUInt32BE(p + 1);
    expect(p + 5 + len).toBeLessThanOrEqual(all.length);
    const msg = Request.decode(all.subarray(p + 5, p + 5 + len));
    out.push(Request.toObject(msg, { longs: Number, defaults: true }) as Decoded);
    p += 5 + len;
  }
  return out;
}

function encodeAll(lines: ApiLogLine[], chunkBytes: number): Buffer[] {
  const enc = new RequestFrameEncoder(chunkBytes);
  const chunks: Buffer[] = [];
  for (const l of lines) {
    const full = enc.add(l);
    if (full) chunks.push(full);
  }
  const rest = enc.take();
  if (rest) chunks.push(rest);
  return chunks;
}

const ms = (l: ApiLogLine) => l.timestamp.getTime();

describe("RequestFrameEncoder", () => {
  it("encodes every field as protobufjs decodes it, including edge values", () => {
    const lines: ApiLogLine[] = [
      { buildId: 1, workerLogId: 1, workerStepId: 0, timestamp: new Date(0), message: "" },
      {
        buildId: 2 ** 53 - 1,
        workerLogId: 300,
        workerStepId: 127,
        timestamp: new Date("2024-05-05T01:02:03.456Z"),
        message: "héllo 😀 wörld",
      },
      {
        buildId: 5,
        workerLogId: 128,
        workerStepId: 16384,
        timestamp: new Date(-1500),
        message: "x".repeat(70_000),
      },
      {
        buildId: 9,
        workerLogId: 2 ** 40,
        workerStepId: 3,
        timestamp: new Date(1_700_000_000_999),
        message: "a\u0000b",
      },
    ];
    const decoded = decodeFrames(encodeAll(lines, 64 * 1024));
    expect(decoded).toHaveLength(lines.length);
    decoded.forEach((d, i) => {
      const l = lines[i] as ApiLogLine;
      expect(d).toMatchObject({
        buildId: l.buildId,
        workerLogId: l.workerLogId,
        workerStepId: l.workerStepId,
        message: l.message,
      });
      // Present even at the epoch: wharf-api skips lines without a timestamp.
      expect(d.timestamp).not.toBeNull();
      expect((d.timestamp?.seconds ?? NaN) * 1000 + (d.timestamp?.nanos ?? NaN) / 1e6).toBe(ms(l));
      expect(d.timestamp?.nanos).toBeGreaterThanOrEqual(0);
    });
  });

  it("splits a batch into chunks at frame boundaries, in order", () => {
    const lines = Array.from({ length: 500 }, (_, i) => ({
      buildId: 7,
      workerLogId: i + 1,
      workerStepId: 1,
      timestamp: new Date(1_700_000_000_000 + i),
      message: `line ${i + 1}`,
    }));
    const chunks = encodeAll(lines, 1000);
    expect(chunks.length).toBeGreaterThan(10);
    for (const c of chunks) expect(c.length).toBeLessThanOrEqual(1000);
    expect(decodeFrames(chunks).map((d) => [d.workerLogId, d.message])).toEqual(
      lines.map((l) => [l.workerLogId, l.message]),
    );
  });
});

describe("RequestFrameEncoder.addWorkerLine (re-framing a worker's wire bytes)", () => {
  const Batch = protobuf
    .loadSync(path.join(protoRoot, "wharf/worker/v1/worker.proto"))
    .lookupType("wharf.worker.v1.StreamLogBatchesResponse");

  it("gives the same request a decode-and-encode would, for every field and edge value", () => {
    const source = [
      { logId: 1, stepId: 1, timestamp: { seconds: 1_700_000_000, nanos: 123_456_789 }, message: "hello" },
      { logId: 2 ** 40, stepId: 0, timestamp: { seconds: -5, nanos: 500_000_000 }, message: "héllo 😀" },
      { logId: 2 ** 53 - 1, stepId: 300, timestamp: { seconds: 0, nanos: 0 }, message: "" },
      { logId: 4, stepId: 2, timestamp: { seconds: 2 ** 33, nanos: 1 }, message: "x".repeat(70_000) },
    ];
    const lines = WorkerLogLines.decode(
      Buffer.from(Batch.encode(Batch.fromObject({ lines: source })).finish()),
    );
    const enc = new RequestFrameEncoder(1000);
    const chunks: Buffer[] = [];
    for (const { buf, bounds, from, to } of lines.parts)
      for (let i = from; i < to; i++) {
        const full = enc.addWorkerLine(42, buf, bounds[2 * i] as number, bounds[2 * i + 1] as number);
        if (full) chunks.push(full);
      }
    chunks.push(enc.take() as Buffer);
    expect(decodeFrames(chunks)).toEqual(
      source.map((l) => ({
        buildId: 42,
        workerLogId: l.logId,
        workerStepId: l.stepId,
        timestamp: l.timestamp,
        message: l.message,
      })),
    );
  });

  it("drops unknown fields and gives a line without a timestamp the current time", () => {
    const line = Buffer.from(
      protobuf
        .loadSync(path.join(protoRoot, "wharf/worker/v1/worker.proto"))
        .lookupType("wharf.worker.v1.StreamLogsResponse")
        .encode({ logId: 9, message: "m" })
        .finish(),
    );
    const body = Buffer.concat([line, Buffer.from([0x78, 0x2a, 0x82, 0x01, 0x02, 0x61, 0x62])]);
    const before = Date.now();
    const enc = new RequestFrameEncoder(64);
    enc.addWorkerLine(3, body, 0, body.length);
    const [d] = decodeFrames([enc.take() as Buffer]);
    expect(d).toMatchObject({ buildId: 3, workerLogId: 9, workerStepId: 0, message: "m" });
    const at = (d?.timestamp?.seconds ?? 0) * 1000 + (d?.timestamp?.nanos ?? 0) / 1e6;
    expect(at).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
    expect(at).toBeLessThanOrEqual(Date.now());
  });
});
