import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { startWharfApiDouble } from "@wharf/testkit";
import { describe, expect, it } from "vitest";
import { LogStreamError, LogStreamSender } from "../src/log-stream-sender.js";

const line = (n: number) => ({
  buildId: 3,
  workerLogId: n,
  workerStepId: 1,
  timestamp: new Date(1_700_000_000_000),
  message: `l${n}`,
});

describe("LogStreamSender", () => {
  it("an abort while waiting for a turn rejects at once, and the waiting call never sends", async () => {
    const api = await startWharfApiDouble();
    api.setDelayMs(1500);
    const sender = new LogStreamSender(api.grpcAddress, undefined, 1);
    try {
      const first = sender.send([line(1)], 10_000);
      const abort = new AbortController();
      const second = sender.send([line(2)], 10_000, abort.signal);
      setTimeout(() => abort.abort(new Error("relay stopped")), 50);
      // The waiting call gives up while the first one is still held by wharf-api, not after it.
      const settledFirst = await Promise.race([
        second.then(
          () => "second resolved",
          (err: Error) => `second rejected: ${err.message}`,
        ),
        first.then(() => "first finished"),
      ]);
      expect(settledFirst).toBe("second rejected: relay stopped");
      expect(await first).toBe(1);
      expect(api.logs.map((l) => l.workerLogId)).toEqual([1]);
    } finally {
      sender.close();
      await api.close();
    }
  });

  it("a malformed answer fails the call instead of throwing out of the stream's listener", async () => {
    const server = http2.createServer();
    server.on("stream", (stream) => {
      stream.on("data", () => {});
      stream.on("end", () =>
        // grpc-message must be percent-encoded; "%E0%A4%A" is not.
        stream.respond(
          {
            ":status": 200,
            "content-type": "application/grpc",
            "grpc-status": "13",
            "grpc-message": "%E0%A4%A",
          },
          { endStream: true },
        ),
      );
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const sender = new LogStreamSender(`127.0.0.1:${(server.address() as AddressInfo).port}`);
    try {
      await expect(sender.send([line(1)], 5000)).rejects.toBeInstanceOf(LogStreamError);
    } finally {
      sender.close();
      await new Promise((r) => server.close(r));
    }
  });
});
