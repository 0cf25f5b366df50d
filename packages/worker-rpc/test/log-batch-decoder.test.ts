import type * as grpc from "@grpc/grpc-js";
import { loadWorkerProto, ProtoWireError, timestampMs } from "@wharf/proto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeLogBatch } from "../src/log-batch-decoder.js";
import { logLineFromWire, type WireLogLine } from "../src/wire.js";

// The loader's own StreamLogBatches method: the generic encoder and the decoder it replaces.
const service = loadWorkerProto().WorkerExtras.service as grpc.ServiceDefinition;
const generic = service.StreamLogBatches as grpc.MethodDefinition<unknown, unknown>;
const encode = (lines: object[]) => Buffer.from(generic.responseSerialize({ lines }));
const loaderDecode = (buf: Buffer) =>
  ((generic.responseDeserialize(buf) as { lines?: WireLogLine[] }).lines ?? []).map(logLineFromWire);

const lineArb = fc.record({
  logId: fc.oneof(fc.constantFrom(0, 1, 127, 128, 2 ** 53 - 1), fc.integer({ min: 0, max: 2 ** 52 })),
  stepId: fc.oneof(fc.constantFrom(0, 1, 2 ** 32 - 1), fc.integer({ min: 0, max: 2 ** 32 - 1 })),
  timestamp: fc.record({
    seconds: fc.oneof(fc.constantFrom(0, -1, 1_700_000_000), fc.integer({ min: -1e10, max: 1e11 })),
    nanos: fc.oneof(fc.constantFrom(0, -1, 999_999_999), fc.integer({ min: -999_999_999, max: 999_999_999 })),
  }),
  message: fc.oneof(
    fc.constant(""),
    fc.string({ unit: "binary", maxLength: 100 }),
    fc.constantFrom("😀", "\x1b[31mred\x1b[0m\t10%\\x0d", "x".repeat(300)),
  ),
});

describe("decodeLogBatch", () => {
  it("reads what the loader's decoder reads, for any batch", () => {
    fc.assert(
      fc.property(fc.array(lineArb, { maxLength: 30 }), (lines) => {
        const buf = encode(lines);
        expect(decodeLogBatch(buf)).toEqual(loaderDecode(buf));
      }),
      { numRuns: 300 },
    );
  });

  it("skips fields it does not know, in the batch, a line and a timestamp", () => {
    const line = Buffer.concat([
      Buffer.from([0x08, 0x05]), // log_id 5
      Buffer.from([0x28, 0x07]), // field 5, varint: unknown
      Buffer.from([0x10, 0x02]), // step_id 2
      Buffer.from([0x1a, 0x06, 0x08, 0x0a, 0x10, 0x14, 0x18, 0x01]), // timestamp {10 s, 20 ns, field 3}
      Buffer.from([0x22, 0x02, 0x68, 0x69]), // message "hi"
    ]);
    const buf = Buffer.concat([Buffer.from([0x12, 0x01, 0x00, 0x0a, line.length]), line]);
    expect(decodeLogBatch(buf)).toEqual([
      { logId: 5, stepId: 2, timestamp: timestampMs(10, 20), message: "hi" },
    ]);
    expect(decodeLogBatch(buf)).toEqual(loaderDecode(buf));
  });

  it("refuses a line whose fields run past it, as the loader does", () => {
    const buf = encode([{ logId: 1, stepId: 1, message: "hello" }]);
    const cut = buf.subarray(0, buf.length - 2);
    expect(() => loaderDecode(cut)).toThrow();
    expect(() => decodeLogBatch(cut)).toThrow(ProtoWireError);
  });
});
