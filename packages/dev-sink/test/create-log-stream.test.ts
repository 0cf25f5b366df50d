import { setTimeout as sleep } from "node:timers/promises";
import * as grpc from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { MemorySink, type WharfApiServerOptions } from "../src/index.js";
import {
  closeStarted,
  type LogRequest,
  openLogStream,
  sendLines,
  startWithClient,
} from "./log-stream-clients.js";

// CreateLogStream of the wharf-api server, called the way any gRPC client calls it:
// grpc-js's stub from the real .proto, over h2c on 127.0.0.1.
afterEach(closeStarted);

async function start(opts: Omit<WharfApiServerOptions, "sink"> = {}) {
  const sink = new MemorySink();
  const { server, client } = await startWithClient({ sink, ...opts });
  return { sink, server, client };
}

const line = (n: number, buildId = 7): LogRequest => ({
  buildId,
  workerLogId: n,
  workerStepId: 3,
  timestamp: { seconds: 1_700_000_000 + n, nanos: 5_000_000 },
  message: `line ${n}`,
});

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (check()) return;
    await sleep(10);
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe("CreateLogStream", () => {
  it("stores every field of every line in order and answers lines_inserted", async () => {
    const { sink, client } = await start();
    const lines: LogRequest[] = [
      {
        buildId: 2 ** 53 - 1,
        workerLogId: 2 ** 40 + 3,
        workerStepId: 300,
        timestamp: { seconds: 1_714_870_923, nanos: 456_789_123 },
        message: "héllo 😀 wörld — 日本語",
      },
      { buildId: 1, workerLogId: 1, timestamp: { seconds: 0, nanos: 999_999_999 } },
      {
        buildId: 5,
        workerLogId: 2,
        workerStepId: 9,
        timestamp: { seconds: -1, nanos: 500_000_000 },
        message: "x",
      },
    ];
    expect(await sendLines(client, lines)).toBe(3);
    expect(
      sink.logs.map((l) => [l.buildId, l.workerLogId, l.workerStepId, l.timestamp.getTime(), l.message]),
    ).toEqual([
      [2 ** 53 - 1, 2 ** 40 + 3, 300, 1_714_870_923_456, "héllo 😀 wörld — 日本語"],
      [1, 1, 0, 999, ""],
      [5, 2, 9, -500, "x"],
    ]);
    expect(sink.logs.map((l) => l.logId)).toEqual([1, 2, 3]);
    expect([...sink.builds.keys()].sort()).toEqual([1, 5, 2 ** 53 - 1]);
  });

  it("skips lines without a timestamp or with build id 0, and does not count them", async () => {
    const { sink, client } = await start();
    const noTimestamp: LogRequest = { buildId: 7, workerLogId: 2, message: "no timestamp" };
    const noBuild: LogRequest = { ...line(3), buildId: 0 };
    expect(await sendLines(client, [line(1), noTimestamp, noBuild, line(4)])).toBe(2);
    expect(sink.logs.map((l) => l.workerLogId)).toEqual([1, 4]);
  });

  it("answers an empty stream with lines_inserted 0", async () => {
    const { sink, client } = await start();
    expect(await sendLines(client, [])).toBe(0);
    expect(sink.logs).toHaveLength(0);
  });

  it("refuses a missing or wrong token with UNAUTHENTICATED and counts it", async () => {
    const { sink, server, client } = await start({ token: "secret" });
    await expect(sendLines(client, [line(1)], "wrong")).rejects.toMatchObject({
      code: grpc.status.UNAUTHENTICATED,
      details: "missing or wrong bearer token",
    });
    await expect(sendLines(client, [line(1)])).rejects.toMatchObject({ code: grpc.status.UNAUTHENTICATED });
    expect(server.unauthorized).toBe(2);
    expect(sink.logs).toHaveLength(0);
    expect(await sendLines(client, [line(1)], "secret")).toBe(1);
    expect(server.unauthorized).toBe(2);
  });

  it("answers UNAVAILABLE when the gate says fail, and waits for a slow gate", async () => {
    let verdict: "ok" | "fail" = "fail";
    const { sink, client } = await start({
      gate: async () => {
        await sleep(150);
        return verdict;
      },
    });
    await expect(sendLines(client, [line(1)])).rejects.toMatchObject({
      code: grpc.status.UNAVAILABLE,
      details: "wharf-api: told to fail",
    });
    expect(sink.logs).toHaveLength(0);
    verdict = "ok";
    const started = Date.now();
    expect(await sendLines(client, [line(1)])).toBe(1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
  });

  it("takes 20,000 lines on one call, in order", async () => {
    const { sink, client } = await start();
    const lines = Array.from({ length: 20_000 }, (_, i) => line(i + 1));
    expect(await sendLines(client, lines)).toBe(20_000);
    expect(sink.logs).toHaveLength(20_000);
    expect(sink.logs.every((l, i) => l.workerLogId === i + 1 && l.message === `line ${i + 1}`)).toBe(true);
  });

  it("keeps the lines of a cancelled call and serves the next one", async () => {
    const { sink, client } = await start();
    let result: grpc.ServiceError | null | undefined;
    const call = openLogStream(client, undefined, (err) => {
      result = err;
    });
    for (let i = 1; i <= 10; i++) call.write(line(i));
    await until(() => sink.logs.length === 10, "the first 10 lines to be stored");
    call.cancel();
    await until(() => result !== undefined, "the cancelled call to end");
    expect(result?.code).toBe(grpc.status.CANCELLED);
    expect(sink.logs.map((l) => l.workerLogId)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(await sendLines(client, [line(11)])).toBe(1);
    expect(sink.logs).toHaveLength(11);
  });

  it("a log read after a cut call waits for that call's lines still being stored", async () => {
    // A slow store: the lines taken before the cancel are stored well after it.
    const sink = new (class extends MemorySink {
      override async appendLogs(lines: Parameters<MemorySink["appendLogs"]>[0]) {
        await sleep(100);
        await super.appendLogs(lines);
      }
    })();
    const { server, client } = await startWithClient({ sink });
    let result: grpc.ServiceError | null | undefined;
    const call = openLogStream(client, undefined, (err) => {
      result = err;
    });
    for (let i = 1; i <= 3000; i++) call.write(line(i));
    await until(() => sink.logs.length > 0, "the first lines to be stored");
    call.cancel();
    await until(() => result !== undefined, "the cancelled call to end");
    // What a relay does before resending: count what wharf-api holds.
    const counted = ((await (await fetch(`${server.url}/api/build/7/log`)).json()) as unknown[]).length;
    await sleep(500);
    expect(counted).toBe(sink.logs.length);
    expect(counted).toBeGreaterThan(0);
  });

  it("answers UNIMPLEMENTED for a method it does not serve", async () => {
    const { client } = await start();
    const err = await new Promise<grpc.ServiceError | null>((resolve) =>
      client.makeUnaryRequest(
        "/wharf.api.v5.Builds/DeleteEverything",
        (b: Buffer) => b,
        (b: Buffer) => b,
        Buffer.alloc(0),
        (e) => resolve(e),
      ),
    );
    expect(err?.code).toBe(grpc.status.UNIMPLEMENTED);
  });
});
