import { setTimeout as sleep } from "node:timers/promises";
import * as grpc from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { MemorySink } from "../src/index.js";
import {
  closeStarted,
  type LogRequest,
  openLogStream,
  sendLines,
  startWithClient,
} from "./log-stream-clients.js";

// gRPC (h2c) and HTTP/1 on the one port, and the fault injection tests rely on.
afterEach(closeStarted);

const line = (n: number): LogRequest => ({
  buildId: 7,
  workerLogId: n,
  timestamp: { seconds: 1_700_000_000, nanos: 0 },
  message: `line ${n}`,
});

describe("wharf-api server on one port", () => {
  it("serves the HTTP routes next to gRPC, with the same token", async () => {
    const sink = new MemorySink();
    const { server, client } = await startWithClient({ sink, token: "secret" });
    expect(await sendLines(client, [line(1), line(2)], "secret")).toBe(2);
    const auth = { authorization: "Bearer secret" };
    const builds = await fetch(`${server.url}/api/build`, { headers: auth });
    expect(builds.status).toBe(200);
    expect(await builds.json()).toMatchObject({
      list: [{ buildId: 7, status: "Scheduling" }],
      totalCount: 1,
    });
    const log = await fetch(`${server.url}/api/build/7/log`, { headers: auth });
    expect(((await log.json()) as { message: string }[]).map((l) => l.message)).toEqual(["line 1", "line 2"]);
    expect((await fetch(`${server.url}/api/build`)).status).toBe(401);
    expect(server.unauthorized).toBe(1);
  });

  it("goes down dropping open calls, keeps what arrived, and comes back on the same port", async () => {
    const sink = new MemorySink();
    const { server, client } = await startWithClient({ sink });
    let result: grpc.ServiceError | null | undefined;
    const call = openLogStream(client, undefined, (err) => {
      result = err;
    });
    call.write(line(1));
    for (let i = 0; i < 200 && sink.logs.length === 0; i++) await sleep(10);
    await server.goDown();
    for (let i = 0; i < 200 && result === undefined; i++) await sleep(10);
    expect(result?.code).toBe(grpc.status.UNAVAILABLE);
    expect(sink.logs.map((l) => l.workerLogId)).toEqual([1]);
    await expect(fetch(`${server.url}/api/build`)).rejects.toThrow();
    await server.comeUp();
    expect((await fetch(`${server.url}/api/build`)).status).toBe(200);
    // grpc-js reconnects on its own backoff schedule: retry, bounded.
    let inserted = 0;
    for (let i = 0; i < 50 && inserted === 0; i++) {
      inserted = await sendLines(client, [line(2)]).catch(() => 0);
      if (inserted === 0) await sleep(100);
    }
    expect(inserted).toBe(1);
    expect(sink.logs.map((l) => l.workerLogId)).toEqual([1, 2]);
  });
});
