import path from "node:path";
import type * as grpc from "@grpc/grpc-js";
import { loadWorkerProto, protoRoot } from "@wharf/proto";
import protobuf from "protobufjs";
import { describe, expect, it } from "vitest";
import { decodeLogBatch, LogBatchDecodeError } from "../src/log-batch-decoder.js";

// Our StreamLogBatches decoder must give exactly what grpc-js with @wharf/proto's loader gives.
const root = protobuf.loadSync(path.join(protoRoot, "wharf/worker/v1/worker.proto"));
const Batch = root.lookupType("wharf.worker.v1.StreamLogBatchesResponse");
const method = (loadWorkerProto().WorkerExtras.service as grpc.ServiceDefinition)
  .StreamLogBatches as grpc.MethodDefinition<unknown, unknown>;

const encode = (lines: object[]) => Buffer.from(Batch.encode(Batch.fromObject({ lines })).finish());

describe("decodeLogBatch", () => {
  it("matches the generic decoder, edge values included", () => {
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
    expect(decodeLogBatch(buf)).toEqual(method.responseDeserialize(buf));
    expect(decodeLogBatch(Buffer.alloc(0))).toEqual(method.responseDeserialize(Buffer.alloc(0)));
  });

  it("skips unknown fields", () => {
    const line = Buffer.from(
      root.lookupType("wharf.worker.v1.StreamLogsResponse").encode({ logId: 9, message: "m" }).finish(),
    );
    // field 15 (varint), field 16 (length-delimited) and field 17 (fixed32) inside the line; field 2 beside it.
    const unknown = Buffer.from([0x78, 0x2a, 0x82, 0x01, 0x02, 0x61, 0x62, 0x8d, 0x01, 1, 2, 3, 4]);
    const inner = Buffer.concat([line, unknown]);
    const buf = Buffer.concat([Buffer.from([0x0a, inner.length]), inner, Buffer.from([0x10, 0x05])]);
    expect(decodeLogBatch(buf)).toEqual({ lines: [{ logId: 9, stepId: 0, timestamp: null, message: "m" }] });
  });

  it("refuses a truncated message", () => {
    const buf = encode([{ logId: 1, stepId: 1, message: "hello" }]);
    expect(() => decodeLogBatch(buf.subarray(0, buf.length - 2))).toThrow(LogBatchDecodeError);
    expect(() => decodeLogBatch(Buffer.from([0x0a, 0x02, 0x08]))).toThrow(LogBatchDecodeError);
  });
});
