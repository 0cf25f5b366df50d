import path from "node:path";
import type * as grpc from "@grpc/grpc-js";
import { loadWorkerProto, ProtoWireError, protoRoot } from "@wharf/proto";
import protobuf from "protobufjs";
import { describe, expect, it } from "vitest";
import { decodeLogBatch } from "../src/log-batch-decoder.js";
import { WorkerLogLines } from "../src/worker-log-lines.js";

// Our StreamLogBatches index must read exactly what grpc-js with @wharf/proto's loader reads.
const root = protobuf.loadSync(path.join(protoRoot, "wharf/worker/v1/worker.proto"));
const Batch = root.lookupType("wharf.worker.v1.StreamLogBatchesResponse");
const method = (loadWorkerProto().WorkerExtras.service as grpc.ServiceDefinition)
  .StreamLogBatches as grpc.MethodDefinition<unknown, { lines: unknown[] }>;

const encode = (lines: object[]) => Buffer.from(Batch.encode(Batch.fromObject({ lines })).finish());
const batchOf = (ids: number[]) =>
  WorkerLogLines.decode(encode(ids.map((logId) => ({ logId, stepId: 1, message: `line ${logId}` }))));
const ids = (l: WorkerLogLines) => l.toLines().map((x) => x.logId);

describe("WorkerLogLines", () => {
  it("reads what the generic decoder reads, edge values included", () => {
    const buf = encode([
      { logId: 1, stepId: 1, timestamp: { seconds: 1_700_000_000, nanos: 123_000_000 }, message: "hello" },
      { logId: 2 ** 40, stepId: 0, message: "no timestamp" },
      { logId: 3, stepId: 7, timestamp: { seconds: -5, nanos: 500_000_000 }, message: "héllo 😀" },
      { logId: 2 ** 53 - 1, stepId: 300, timestamp: {}, message: "" },
      {
        logId: 5,
        stepId: 2,
        timestamp: { seconds: 2 ** 33, nanos: 999_999_999 },
        message: "x".repeat(70_000),
      },
    ]);
    const lines = WorkerLogLines.decode(buf);
    // The line walker is held to the loader's decoder in log-batch-decoder.test.ts.
    const decoded = method.responseDeserialize(buf).lines as { logId: number; message: string }[];
    expect(lines.toLines()).toEqual(decodeLogBatch(buf));
    expect(lines.toLines().map((l) => [l.logId, l.message])).toEqual(
      decoded.map((l) => [l.logId, l.message]),
    );
    expect(lines.length).toBe(5);
    expect(lines.lastLogId).toBe(5);
    expect(WorkerLogLines.decode(Buffer.alloc(0)).length).toBe(0);
  });

  it("skips unknown fields", () => {
    const line = Buffer.from(
      root.lookupType("wharf.worker.v1.StreamLogsResponse").encode({ logId: 9, message: "m" }).finish(),
    );
    // field 15 (varint), field 16 (length-delimited) and field 17 (fixed32) inside the line; field 2 beside it.
    const unknown = Buffer.from([0x78, 0x2a, 0x82, 0x01, 0x02, 0x61, 0x62, 0x8d, 0x01, 1, 2, 3, 4]);
    const inner = Buffer.concat([line, unknown]);
    const buf = Buffer.concat([Buffer.from([0x0a, inner.length]), inner, Buffer.from([0x10, 0x05])]);
    expect(WorkerLogLines.decode(buf).toLines()).toEqual([
      { logId: 9, stepId: 0, timestamp: 0, message: "m" },
    ]);
  });

  it("refuses a truncated message", () => {
    const buf = encode([{ logId: 1, stepId: 1, message: "hello" }]);
    expect(() => WorkerLogLines.decode(buf.subarray(0, buf.length - 2))).toThrow(ProtoWireError);
    expect(() => WorkerLogLines.decode(Buffer.from([0x0a, 0x02, 0x08]))).toThrow(ProtoWireError);
    // A timestamp whose seconds varint runs past the timestamp (0x08 0xff): its bytes would be copied on.
    expect(() =>
      WorkerLogLines.decode(Buffer.from([0x0a, 0x06, 0x08, 0x01, 0x1a, 0x02, 0x08, 0xff])),
    ).toThrow(ProtoWireError);
  });

  it("concatenates, slices and drops delivered lines across message boundaries without copying", () => {
    const all = WorkerLogLines.concat([batchOf([1, 2, 3]), batchOf([4, 5]), batchOf([6, 7, 8, 9])]);
    expect(all.length).toBe(9);
    expect(all.lastLogId).toBe(9);
    expect(ids(all.slice(2, 7))).toEqual([3, 4, 5, 6, 7]);
    expect(all.slice(2, 7).lastLogId).toBe(7);
    expect(ids(all.slice(5))).toEqual([6, 7, 8, 9]);
    expect(all.slice(4, 4).length).toBe(0);
    expect(ids(all.after(0))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(ids(all.after(4))).toEqual([5, 6, 7, 8, 9]);
    expect(ids(all.after(5))).toEqual([6, 7, 8, 9]);
    expect(all.after(9).length).toBe(0);
    expect(ids(all.slice(1).after(3).slice(1, 3))).toEqual([5, 6]);
    // Slices share the worker's buffers.
    expect(all.slice(3).parts[0]?.buf).toBe(all.parts[1]?.buf);
  });
});
