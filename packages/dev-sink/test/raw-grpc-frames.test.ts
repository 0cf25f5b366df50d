import http2 from "node:http2";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import { type BuildSink, MemorySink, startWharfApiServer, type WharfApiServer } from "../src/index.js";
import { cut, encodeRequest, grpcFrame, type LogRequest, rawCall } from "./log-stream-clients.js";

// CreateLogStream fed by hand over bare HTTP/2: message boundaries that do not
// match DATA frames, broken messages, a sink that fails or stalls.
let server: WharfApiServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function start(sink: BuildSink = new MemorySink()) {
  server = await startWharfApiServer({ sink });
  return server;
}

const line = (n: number): LogRequest => ({
  buildId: 7,
  workerLogId: n,
  workerStepId: 1,
  timestamp: { seconds: 1_700_000_000, nanos: n * 1_000_000 },
  message: `line ${n} ${"·".repeat(n % 40)}`,
});
const frames = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => grpcFrame(encodeRequest(line(from + i))));

describe("CreateLogStream over bare HTTP/2", () => {
  it("reads messages split over DATA frames and many in one frame", async () => {
    const sink = new MemorySink();
    const { grpcAddress } = await start(sink);
    const body = Buffer.concat(frames(1, 300));
    // Pieces of 1..4 bytes split prefixes; 997 and 4099 hold many messages and cut others.
    const answer = await rawCall(grpcAddress, cut(body, [1, 2, 3, 4, 997, 7, 4099, 13]));
    expect(answer.headers[":status"]).toBe(200);
    expect(answer.headers["content-type"]).toBe("application/grpc");
    expect(answer.trailers["grpc-status"]).toBe("0");
    // CreateLogStreamResponse { lines_inserted: 300 }: prefix, tag 0x08, varint 300 (0xac 0x02).
    expect([...answer.body]).toEqual([0, 0, 0, 0, 3, 0x08, 0xac, 0x02]);
    expect(sink.logs.map((l) => l.workerLogId)).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
    expect(sink.logs[299]?.message).toBe(`line 300 ${"·".repeat(20)}`);
    expect(sink.logs[299]?.timestamp.getTime()).toBe(1_700_000_000_300);
  });

  it("skips unknown fields", async () => {
    const sink = new MemorySink();
    const { grpcAddress } = await start(sink);
    const unknown = Buffer.from([
      ...[0x48, 0x96, 0x01], // field 9, varint 150
      ...[0x52, 0x03, 0x61, 0x62, 0x63], // field 10, bytes "abc"
      ...[0x59, 1, 2, 3, 4, 5, 6, 7, 8], // field 11, fixed64
      ...[0x65, 1, 2, 3, 4], // field 12, fixed32
    ]);
    const message = Buffer.concat([unknown, encodeRequest(line(1)), unknown]);
    const answer = await rawCall(grpcAddress, [grpcFrame(message)]);
    expect(answer.status).toBe(0);
    expect(sink.logs.map((l) => [l.workerLogId, l.message])).toEqual([[1, "line 1 ·"]]);
  });

  it("answers INVALID_ARGUMENT for a malformed message and keeps the lines before it", async () => {
    const sink = new MemorySink();
    const { grpcAddress } = await start(sink);
    // Field 5 (message) claims 100 bytes; the message has 2.
    const broken = grpcFrame(Buffer.from([0x08, 0x07, 0x2a, 100, 0x61, 0x62]));
    const answer = await rawCall(grpcAddress, [Buffer.concat([...frames(1, 3), broken, ...frames(4, 5)])]);
    expect(answer.status).toBe(3);
    expect(answer.message).toMatch(/^CreateLogStreamRequest #4: field runs past (its|the) message$/);
    expect(sink.logs.map((l) => l.workerLogId)).toEqual([1, 2, 3]);
  });

  it("answers INVALID_ARGUMENT when the request ends inside a message", async () => {
    const sink = new MemorySink();
    const { grpcAddress } = await start(sink);
    const body = Buffer.concat(frames(1, 2));
    const answer = await rawCall(grpcAddress, [body.subarray(0, body.length - 3)]);
    expect(answer.status).toBe(3);
    expect(answer.message).toContain("request ended inside a message");
    expect(sink.logs.map((l) => l.workerLogId)).toEqual([1]);
  });

  it("answers UNIMPLEMENTED for a compressed message", async () => {
    const sink = new MemorySink();
    const { grpcAddress } = await start(sink);
    const answer = await rawCall(grpcAddress, [...frames(1, 1), grpcFrame(encodeRequest(line(2)), 1)]);
    expect(answer.status).toBe(12);
    expect(answer.message).toBe("compressed messages are not supported");
    expect(sink.logs.map((l) => l.workerLogId)).toEqual([1]);
  });

  it("answers before any response with trailers only, message percent-encoded", async () => {
    const { grpcAddress } = await start();
    const answer = await rawCall(grpcAddress, frames(1, 1), { ":path": "/wharf.api.v5.Builds/Nöpe" });
    expect(answer.headers[":status"]).toBe(200);
    expect(answer.headers["content-type"]).toBe("application/grpc");
    expect(answer.headers["grpc-status"]).toBe("12");
    expect(answer.headers["grpc-message"]).toBe("unknown method POST /wharf.api.v5.Builds/N%C3%B6pe");
    expect(answer.trailers["grpc-status"]).toBeUndefined();
  });

  it("refuses a request that is not gRPC with HTTP 415", async () => {
    const { grpcAddress } = await start();
    const answer = await rawCall(grpcAddress, frames(1, 1), { "content-type": "application/json" });
    expect(answer.headers[":status"]).toBe(415);
  });

  it("answers INTERNAL when the sink fails", async () => {
    const sink = new MemorySink();
    sink.appendLogs = async () => {
      throw new Error("disk full");
    };
    const { grpcAddress } = await start(sink);
    const answer = await rawCall(grpcAddress, frames(1, 5));
    expect(answer.status).toBe(13);
    expect(answer.message).toBe("storing log lines: disk full");
  });

  it("holds the client back with flow control while the sink is behind", async () => {
    const sink = new MemorySink();
    let release!: () => void;
    const released = new Promise<void>((r) => {
      release = r;
    });
    const append = sink.appendLogs.bind(sink);
    sink.appendLogs = async (lines) => {
      await released;
      await append(lines);
    };
    const { grpcAddress } = await start(sink);
    const session = http2.connect(`http://${grpcAddress}`);
    try {
      const stream = session.request({
        ":method": "POST",
        ":path": "/wharf.api.v5.Builds/CreateLogStream",
        "content-type": "application/grpc",
      });
      const chunk = Buffer.concat(frames(1, 400)); // ~27 KB
      let written = 0;
      const writeAll = (async () => {
        for (let i = 0; i < 400; i++) {
          if (!stream.write(chunk)) await new Promise((r) => stream.once("drain", r));
          written++;
        }
        stream.end();
      })();
      await sleep(500);
      // ~11 MB on offer; what gets through is the stream's 1 MiB window plus a few buffers.
      expect(written * chunk.length).toBeLessThan(4 * 1024 * 1024);
      release();
      const answer = new Promise<string>((resolve) =>
        stream.on("trailers", (t) => resolve(String(t["grpc-status"]))),
      );
      stream.resume();
      await writeAll;
      expect(await answer).toBe("0");
      expect(sink.logs).toHaveLength(160_000);
    } finally {
      session.close();
    }
  });
});
