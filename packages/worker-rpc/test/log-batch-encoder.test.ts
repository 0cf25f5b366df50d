import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type * as grpc from "@grpc/grpc-js";
import { status as GrpcStatus } from "@grpc/grpc-js";
import { loadWorkerProto } from "@wharf/proto";
import { type LogEntry, type LogRecordBatch, ResultStore } from "@wharf/result-store";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { encodeLogRecordBatch, withLogBatchEncoder } from "../src/log-batch-encoder.js";
import { logLineToWire, type WireLogLine } from "../src/wire.js";
import { Harness, readStream } from "./outside-client.js";

// The loader's own StreamLogBatches method: the generic encoder and the decoder grpc-js clients use.
const service = loadWorkerProto().WorkerExtras.service as grpc.ServiceDefinition;
const generic = service.StreamLogBatches as grpc.MethodDefinition<unknown, unknown>;
const genericEncode = (lines: object[]) => Buffer.from(generic.responseSerialize({ lines }));
const decode = (buf: Buffer) => generic.responseDeserialize(buf);

/** What the generic path sends: `{ lines: batch.map(logLineToWire) }`, -0 read back as 0. */
const expectedDecoded = (batch: readonly LogEntry[]) => ({
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

/**
 * The raw batch of `entries` with ids from `firstLogId`: messages in UTF-8, in order, message i after
 * `gaps[i % gaps.length]` bytes of junk standing in for the store's record headers, and a record
 * cut by the end of the read after the last.
 */
function recordBatch(firstLogId: number, entries: readonly LogEntry[], gaps: readonly number[] = [20]) {
  const count = entries.length;
  const parts: Buffer[] = [];
  const messageStarts = new Uint32Array(count);
  const messageEnds = new Uint32Array(count);
  let at = 0;
  for (let i = 0; i < count; i++) {
    const gap = Buffer.alloc(gaps[i % gaps.length] ?? 20, 0xa5);
    const message = Buffer.from((entries[i] as LogEntry).message, "utf8");
    parts.push(gap, message);
    messageStarts[i] = at + gap.length;
    at += gap.length + message.length;
    messageEnds[i] = at;
  }
  parts.push(Buffer.alloc(13, 0x5a));
  const batch: LogRecordBatch = {
    count,
    firstLogId,
    stepIds: Uint32Array.from(entries, (e) => e.stepId),
    timestamps: Float64Array.from(entries, (e) => e.timestamp),
    data: Buffer.concat(parts),
    messageStarts,
    messageEnds,
  };
  return batch;
}

/** `entries` as a store gives them back: dense ids, messages through UTF-8 (a lone surrogate as U+FFFD). */
const asStored = (firstLogId: number, entries: readonly LogEntry[]): LogEntry[] =>
  entries.map((e, i) => ({ ...e, logId: firstLogId + i, message: Buffer.from(e.message).toString("utf8") }));

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
}

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
  fc.constantFrom("😀", "héllo 😀 wörld", "x".repeat(300), "lone \uD83D"),
);
const entryArb: fc.Arbitrary<LogEntry> = fc.record({
  logId: fc.constant(0), // the batch gives dense ids
  stepId: fc.oneof(fc.constantFrom(0, 1, 2 ** 32 - 1), fc.integer({ min: 0, max: 2 ** 32 - 1 })),
  timestamp: timestampArb,
  message: messageArb,
});
const batchArb = fc.record({
  firstLogId: fc.oneof(
    fc.constantFrom(1, 127, 128, 16_383, 2 ** 53 - 200),
    fc.integer({ min: 1, max: 2 ** 52 }),
  ),
  // Runs of lines with one timestamp, as a write of several lines gives.
  entries: fc
    .array(fc.tuple(entryArb, fc.integer({ min: 1, max: 3 })), { maxLength: 40 })
    .map((runs) =>
      runs.flatMap(([e, n]) =>
        Array.from({ length: n }, (_, k) => ({ ...e, stepId: (e.stepId + k) % 2 ** 32 })),
      ),
    ),
  // Smaller and larger than a line's fields, so messages move down by varying amounts, or not at all.
  gaps: fc.array(fc.integer({ min: 0, max: 40 }), { minLength: 1, maxLength: 5 }),
});

describe("encodeLogRecordBatch", () => {
  it("encodes what the generic encoder encodes for the stored lines, byte for byte, for random batches", () => {
    fc.assert(
      fc.property(batchArb, ({ firstLogId, entries, gaps }) => {
        const buf = encodeLogRecordBatch(recordBatch(firstLogId, entries, gaps));
        const stored = asStored(firstLogId, entries);
        expect(decode(buf)).toEqual(expectedDecoded(stored));
        // protobufjs writes fields in the same order; it differs only in writing zeros it is handed.
        expect(buf.equals(genericEncode(stored.map(logLineToWire).map(withoutDefaults)))).toBe(true);
        if (stored.every(hasNoDefaults))
          expect(buf.equals(genericEncode(stored.map(logLineToWire)))).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it("handles the empty batch, big batches and multi-byte length prefixes", () => {
    expect(encodeLogRecordBatch(recordBatch(1, [])).length).toBe(0);
    expect(decode(encodeLogRecordBatch(recordBatch(7, [])))).toEqual({ lines: [] });
    const entries = Array.from({ length: 10_000 }, (_, i) => ({
      logId: 1_000_000 + i,
      stepId: 1 + (i % 3),
      timestamp: 1_700_000_000_000 + Math.floor(i / 4) + 0.125,
      message: i === 5 ? "é".repeat(70_000) : `line ${i}: ${"ü".repeat(i % 50)}`,
    }));
    const buf = encodeLogRecordBatch(recordBatch(1_000_000, entries));
    expect(buf.equals(genericEncode(entries.map(logLineToWire)))).toBe(true);
  });

  it("keeps timestamps beyond int64 seconds valid protobuf, saturated like protobufjs", () => {
    const lines = [-1e300, -Number.MAX_VALUE, 1e300].map((timestamp, i) => ({
      logId: i + 1,
      stepId: 1,
      timestamp,
      message: "far away",
    }));
    const got = decode(encodeLogRecordBatch(recordBatch(1, lines))) as { lines: WireLogLine[] };
    const want = decode(genericEncode(lines.map(logLineToWire))) as { lines: WireLogLine[] };
    expect(got.lines.slice(0, 2)).toEqual(want.lines.slice(0, 2));
    // protobufjs writes 2^63 - 1, which no double holds; the largest double below 2^63 instead.
    expect(got.lines[2]?.timestamp).toEqual({
      seconds: 2 ** 63 - 1024,
      nanos: want.lines[2]?.timestamp?.nanos,
    });
  });

  it("turns a store's raw batches into its decoded batches sent the generic way", async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "wharf-log-batch-encoder-"));
    const store = await ResultStore.open(dir, { maxBatchBytes: 2048, secrets: ["s3cr3t"] });
    try {
      for (let i = 0; i < 300; i++) {
        let message = `line ${i} ${"héllo ".repeat(i % 11)}\uD800`;
        if (i % 9 === 0) message = `multi\n\nline ${i} s3cr3t\r\nwith \u001b[1mbold\u001b[0m and \u0000`;
        if (i % 60 === 5) message = "😀".repeat(15_000); // 60 KB, a batch of its own
        store.appendLog(i % 5, message, 1_700_000_000_000 + i / 3);
      }
      await store.finish("SUCCESS");
      const raw = await collect(store.followLogRecords(3, { maxBatch: 100 }));
      const decoded = await collect(store.followLogs(3, { maxBatch: 100 }));
      expect(raw.length).toBeGreaterThan(10);
      expect(raw.map((b) => decode(encodeLogRecordBatch(b)))).toEqual(decoded.map(expectedDecoded));
      expect(decoded.flat().some((e) => e.message === "")).toBe(true);
      expect(decoded.flat().some((e) => e.message.includes("s3cr3t"))).toBe(false);
    } finally {
      await store.close();
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it("replaces only the StreamLogBatches serializer, leaving the loader's definition alone", () => {
    const patched = withLogBatchEncoder(service);
    expect(patched.StreamLogBatches?.responseSerialize).toBe(encodeLogRecordBatch);
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
  it("ends with INTERNAL at a damaged record, after the batches before it", async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "wharf-log-batch-encoder-"));
    const first = await ResultStore.open(dir);
    for (let i = 1; i <= 30; i++) first.appendLog(1, `line ${i}`);
    await first.close();
    const data = await fs.readFile(path.join(dir, "logs.dat"));
    const index = await fs.readFile(path.join(dir, "logs.idx"));
    data[Number(index.readBigUInt64LE(19 * 8)) + 21]! ^= 0x01; // in line 20's message
    await fs.writeFile(path.join(dir, "logs.dat"), data);
    const damaged = await ResultStore.open(dir);
    try {
      h = await Harness.start({}, () => damaged);
      const res = await readStream<{ lines: { log_id: string }[] }>(h.extras(), "StreamLogBatches", {
        max_batch_lines: 4,
      });
      expect(res.code).toBe(GrpcStatus.INTERNAL);
      expect(res.details).toMatch(/log record 20: fails its checksum/);
      // The batch holding line 20 (17-20) is not sent: a batch is checked whole before it goes out.
      expect(res.messages.flatMap((m) => m.lines.map((l) => Number(l.log_id)))).toEqual(
        Array.from({ length: 16 }, (_, i) => i + 1),
      );
    } finally {
      await damaged.close();
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
