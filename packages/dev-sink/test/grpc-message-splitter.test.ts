import { ProtoWireError } from "@wharf/proto";
import { describe, expect, it } from "vitest";
import { GrpcFramingError, GrpcMessageSplitter } from "../src/grpc-message-splitter.js";
import { LogRequestDecoder } from "../src/log-request-decoder.js";
import { encodeRequest, grpcFrame } from "./log-stream-clients.js";

// The two halves of reading a request body, without a network: cutting it into
// messages wherever the chunks end, and decoding each message in place.
function split(chunks: Buffer[], maxMessageBytes?: number): string[] {
  const out: string[] = [];
  const splitter = new GrpcMessageSplitter(
    (buf, start, end) => out.push(buf.toString("latin1", start, end)),
    maxMessageBytes,
  );
  for (const c of chunks) splitter.push(c);
  if (!splitter.atBoundary) out.push("<partial>");
  return out;
}

describe("GrpcMessageSplitter", () => {
  const messages = ["", "a", "hello", "x".repeat(300), "", "last"];
  const body = Buffer.concat(messages.map((m) => grpcFrame(Buffer.from(m, "latin1"))));

  it("finds the same messages however the body is cut in two or three", () => {
    for (let a = 0; a <= body.length; a++) {
      expect(split([body.subarray(0, a), body.subarray(a)])).toEqual(messages);
      for (let b = a; b <= body.length; b += 7) {
        expect(split([body.subarray(0, a), body.subarray(a, b), body.subarray(b)])).toEqual(messages);
      }
    }
  });

  it("finds them byte by byte and says when the body stops inside one", () => {
    expect(split([...body].map((b) => Buffer.from([b])))).toEqual(messages);
    expect(split([body.subarray(0, body.length - 1)])).toEqual([...messages.slice(0, -1), "<partial>"]);
    expect(split([body.subarray(0, 3)])).toEqual(["<partial>"]);
  });

  it("refuses compressed messages and messages over the limit", () => {
    const compressed = grpcFrame(Buffer.from("zz"), 1);
    expect(() => split([compressed])).toThrow(GrpcFramingError);
    expect(() => split([compressed])).toThrow(expect.objectContaining({ code: 12 }));
    const big = grpcFrame(Buffer.alloc(101));
    expect(() => split([big.subarray(0, 5)], 100)).toThrow(expect.objectContaining({ code: 8 }));
    expect(split([big], 101)).toHaveLength(1);
  });
});

describe("LogRequestDecoder", () => {
  const decoder = new LogRequestDecoder();
  const decode = (bytes: Buffer) => decoder.decode(bytes, 0, bytes.length);

  it("reads messages in place inside a larger buffer", () => {
    const a = encodeRequest({
      buildId: 1,
      workerLogId: 2,
      timestamp: { seconds: 3, nanos: 4e6 },
      message: "a",
    });
    const b = encodeRequest({ buildId: 5, timestamp: { seconds: 0, nanos: 0 } });
    const both = Buffer.concat([a, b]);
    expect(decoder.decode(both, 0, a.length)).toEqual({
      buildId: 1,
      workerLogId: 2,
      workerStepId: 0,
      timestamp: new Date(3004),
      message: "a",
    });
    expect(decoder.decode(both, a.length, both.length)).toMatchObject({ buildId: 5, message: "" });
  });

  it("merges a repeated timestamp field as protobuf does", () => {
    const first = Buffer.from([0x08, 0x07, 0x22, 0x04, 0x08, 0x0a, 0x10, 0x01]); // {seconds 10, nanos 1}
    const second = Buffer.from([0x22, 0x05, 0x10, 0xc0, 0xb1, 0x9f, 0x05]); // {nanos 11_000_000}
    expect(decode(Buffer.concat([first, second]))?.timestamp.getTime()).toBe(10_011);
  });

  it("skips lines without timestamp or build id", () => {
    expect(decode(encodeRequest({ buildId: 7, message: "x" }))).toBeUndefined();
    expect(decode(encodeRequest({ timestamp: { seconds: 1, nanos: 0 } }))).toBeUndefined();
  });

  it("throws ProtoWireError for a field that runs past its message, even with bytes after it", () => {
    const message = Buffer.from([0x08, 0x07, 0x2a, 0x05, 0x61]); // message field of 5 bytes, 1 present
    const followed = Buffer.concat([message, Buffer.from("more bytes of the next message")]);
    expect(() => decoder.decode(followed, 0, message.length)).toThrow(ProtoWireError);
    const varintCut = Buffer.from([0x08, 0x87]); // build id varint continues past the end
    expect(() => decoder.decode(Buffer.concat([varintCut, Buffer.from([0x01])]), 0, 2)).toThrow(
      ProtoWireError,
    );
    expect(() => decode(Buffer.from([0x00, 0x01]))).toThrow(/field number 0/);
    expect(() => decode(Buffer.from([0x0b]))).toThrow(/wire type 3/);
  });
});
