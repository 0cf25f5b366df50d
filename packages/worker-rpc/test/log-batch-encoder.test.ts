import type * as grpc from "@grpc/grpc-js";
import { status as GrpcStatus } from "@grpc/grpc-js";
import { loadWorkerProto } from "@wharf/proto";
import type { LogEntry } from "@wharf/result-store";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { encodeLogBatch, withLogBatchEncoder } from "../src/log-batch-encoder.js";
import { logLineToWire, type WireLogLine } from "../src/wire.js";
import { Harness, readStream } from "./outside-client.js";

// The loader's own StreamLogBatches method: the generic encoder and the decoder grpc-js clients use.
const service = loadWorkerProto().WorkerExtras.service as grpc.ServiceDefinition;
const generic = service.StreamLogBatches as grpc.MethodDefinition<unknown, unknown>;
const genericEncode = (lines: object[]) => Buffer.from(generic.responseSerialize({ lines }));
const decode = (buf: Buffer) => generic.responseDeserialize(buf);

/** What the generic path sends: `{ lines: batch.map(logLineToWire) }`, -0 read back as 0. */
const expectedDecoded = (batch: LogEntry[]) => ({
  lines: batch.map(logLineToWire).map((l) => ({
    ...l,
    timestamp: { seconds: Number(l.timestamp?.seconds) + 0, nanos: (l.timestamp?.nanos ?? 0) + 0 },
  })),
});

/** A wire line without its proto3 defaults: protobufjs writes a zero it is given, proto3 leaves it out. */
function withoutDefaults(line: WireLogLine): object {
  const drop = (o: Record<string, unknown>) =>
    Object.fromEntries(Object.entries(o).filter(([, v]) => v !== 0 && v !== ""));
  return { ...drop({ ...line, timestamp: 1 }), timestamp: drop({ ...line.timestamp }) };
}

const hasNoDefaults = (e: LogEntry) => {
  const ts = logLineToWire(e).timestamp;
  return e.logId !== 0 && e.stepId !== 0 && e.message !== "" && ts?.seconds !== 0 && ts?.nanos !== 0;
};

const DAY_MS = 86_400_000;
// Date's range; the store keeps any finite double, sub-millisecond parts included.
const MAX_DATE_MS = 8.64e15;
const timestampArb = fc.oneof(
  fc.integer({ min: -MAX_DATE_MS, max: MAX_DATE_MS }),
  fc.double({ min: -MAX_DATE_MS, max: MAX_DATE_MS, noNaN: true }),
  // around now and around 1970, with sub-millisecond parts
  fc
    .tuple(fc.integer({ min: -10 * DAY_MS, max: 2_000_000_000_000 }), fc.integer({ min: 0, max: 999_999 }))
    .map(([ms, frac]) => ms + frac / 1e6),
  fc.constantFrom(0, -0, -1, -0.5, 0.000_001, 999.999_999, -999.999_999, 1_700_000_000_000.25),
);
const messageArb = fc.oneof(
  fc.constant(""),
  fc.string({ unit: "binary-ascii", maxLength: 200 }),
  fc.string({ unit: "binary", maxLength: 100 }),
  fc.string({ unit: "grapheme", maxLength: 50 }),
  fc.constantFrom("😀", "héllo 😀 wörld", "x".repeat(300)),
);
const entryArb: fc.Arbitrary<LogEntry> = fc.record({
  logId: fc.oneof(fc.constantFrom(0, 1, 127, 128, 16_384, 2 ** 53 - 1), fc.maxSafeNat()),
  stepId: fc.oneof(fc.constantFrom(0, 1, 2 ** 32 - 1), fc.integer({ min: 0, max: 2 ** 32 - 1 })),
  timestamp: timestampArb,
  message: messageArb,
});

describe("encodeLogBatch", () => {
  it("encodes what the generic encoder encodes, byte for byte, for random batches", () => {
    fc.assert(
      fc.property(fc.array(entryArb, { maxLength: 40 }), (batch) => {
        const buf = encodeLogBatch(batch);
        expect(decode(buf)).toEqual(expectedDecoded(batch));
        // protobufjs writes fields in the same order; it differs only in writing zeros it is handed.
        expect(buf.equals(genericEncode(batch.map(logLineToWire).map(withoutDefaults)))).toBe(true);
        if (batch.every(hasNoDefaults))
          expect(buf.equals(genericEncode(batch.map(logLineToWire)))).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it("handles the empty batch, big batches and multi-byte length prefixes", () => {
    expect(encodeLogBatch([]).length).toBe(0);
    expect(decode(encodeLogBatch([]))).toEqual({ lines: [] });
    const batch = Array.from({ length: 10_000 }, (_, i) => ({
      logId: 1_000_000 + i,
      stepId: 1 + (i % 3),
      timestamp: 1_700_000_000_000 + i + 0.125,
      message: i === 5 ? "é".repeat(70_000) : `line ${i}: ${"ü".repeat(i % 50)}`,
    }));
    expect(encodeLogBatch(batch).equals(genericEncode(batch.map(logLineToWire)))).toBe(true);
  });

  it("keeps timestamps beyond int64 seconds valid protobuf, saturated like protobufjs", () => {
    const lines = [-1e300, -Number.MAX_VALUE, 1e300].map((timestamp, i) => ({
      logId: i + 1,
      stepId: 1,
      timestamp,
      message: "far away",
    }));
    const got = decode(encodeLogBatch(lines)) as { lines: WireLogLine[] };
    const want = decode(genericEncode(lines.map(logLineToWire))) as { lines: WireLogLine[] };
    expect(got.lines.slice(0, 2)).toEqual(want.lines.slice(0, 2));
    // protobufjs writes 2^63 - 1, which no double holds; the largest double below 2^63 instead.
    expect(got.lines[2]?.timestamp).toEqual({
      seconds: 2 ** 63 - 1024,
      nanos: want.lines[2]?.timestamp?.nanos,
    });
  });

  it("writes lone surrogates of neighbouring lines as two replacement characters, not one pair", () => {
    const lines = [
      { logId: 1, stepId: 1, timestamp: 1, message: "a\uD83D" },
      { logId: 2, stepId: 1, timestamp: 2, message: "\uDE00b" },
    ];
    const got = decode(encodeLogBatch(lines)) as { lines: WireLogLine[] };
    expect(got.lines.map((l) => l.message)).toEqual(["a\uFFFD", "\uFFFDb"]);
  });

  it("replaces only the StreamLogBatches serializer, leaving the loader's definition alone", () => {
    const patched = withLogBatchEncoder(service);
    expect(patched.StreamLogBatches?.responseSerialize).toBe(encodeLogBatch);
    expect(service.StreamLogBatches?.responseSerialize).toBe(generic.responseSerialize);
    for (const name of Object.keys(service).filter((n) => n !== "StreamLogBatches"))
      expect(patched[name]).toBe(service[name]);
    expect(patched.StreamLogBatches?.responseDeserialize).toBe(generic.responseDeserialize);
    expect(() => withLogBatchEncoder(loadWorkerProto().Worker.service)).toThrow(/StreamLogBatches/);
  });
});

describe("StreamLogBatches over gRPC with the hand encoder", () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.stop();
    h = undefined;
  });

  it("delivers stored lines (unicode, empty, before 1970, sub-ms) to a proto-only client", async () => {
    h = await Harness.start();
    const appended: [number, string, number][] = [
      [1, "héllo 😀 wörld", 1_700_000_000_123.456],
      [2, "", -1_234.5],
      [3, "plain", 0],
      [0, "𝄞".repeat(10_000), -86_400_000_000.25], // 40 KB: a 3-byte length, under the store's line limit
    ];
    for (const [step, message, ts] of appended) h.store.appendLog(step, message, ts);
    await h.store.finish("SUCCESS");
    const stored: LogEntry[] = [];
    for await (const batch of h.store.followLogs(0)) stored.push(...batch);
    // finish() may add its own lines; everything stored must arrive as stored.
    expect(stored.slice(0, 4).map((e) => [e.stepId, e.message, e.timestamp])).toEqual(appended);

    const res = await readStream<{ lines: unknown[] }>(h.extras(), "StreamLogBatches", {
      max_batch_lines: 3,
    });
    expect(res.code).toBe(GrpcStatus.OK);
    expect(res.messages.every((m) => m.lines.length <= 3)).toBe(true);
    expect(res.messages.flatMap((m) => m.lines)).toEqual(
      expectedDecoded(stored).lines.map((l) => ({
        log_id: String(l.logId),
        step_id: String(l.stepId),
        timestamp: { seconds: String(l.timestamp.seconds), nanos: l.timestamp.nanos },
        message: l.message,
      })),
    );
  });
});
