import type * as grpc from "@grpc/grpc-js";
import { loadWorkerProto } from "@wharf/proto";
import type { LogEntry } from "@wharf/result-store";
import Fastify from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import { type BuildLogSource, logViewerRoutes, WorkerLogSource } from "../src/index.js";
import { logRecordLine, recordsFromLogBatch } from "../src/log-records.js";
import { BUILD_REF, LiveBuild } from "./live-build.js";
import { readEvents } from "./sse-reader.js";

let build: LiveBuild | undefined;
afterEach(async () => {
  await build?.stop();
  build = undefined;
});

const recordsUrl = (b: LiveBuild) => `${b.url}/api/builds/${BUILD_REF}/logs?format=records`;

/** The page's reading of a records body (assets/log-line.js does the same). */
function parse(body: string): LogEntry[] {
  return body
    .split("\n")
    .filter(Boolean)
    .map((row) => {
      const [logId, stepId, timestamp, ...message] = row.split("\t");
      return {
        logId: Number(logId),
        stepId: Number(stepId),
        timestamp: Number(timestamp),
        message: message.join("\t"),
      };
    });
}

async function fillAwkwardLines(b: LiveBuild): Promise<void> {
  b.store.appendLog(1, "\x1b[31mred\x1b[0m\tand a tab");
  b.store.appendLog(2, "10%\r55%\r100%\r");
  b.store.appendLog(3, "héllo 😀");
  b.appendLines(4, 3000);
}

describe("GET /api/builds/:buildRef/logs?format=records", () => {
  it("gives every line there is now, as the event stream does, naming the last in a header", async () => {
    build = await LiveBuild.start();
    const b = build;
    await fillAwkwardLines(b);
    const res = await fetch(recordsUrl(b));
    expect(res.headers.get("x-wharf-last-log-id")).toBe("3000");
    b.appendLines(3001, 3010); // after the request: not in this answer
    const records = parse(await res.text());
    const events = await readEvents(`${b.url}/api/builds/${BUILD_REF}/logs?format=sse`);
    const lines = events.events
      .filter((e) => e.event === "log")
      .flatMap((e) => JSON.parse(e.data) as LogEntry[])
      .filter((l) => l.logId <= 3000);
    expect(records).toHaveLength(3000);
    expect(records).toEqual(lines);
    expect(records[0]?.message).toBe("\x1b[31mred\x1b[0m\tand a tab");
    expect(records[1]?.message).toBe("10%\\x0d55%\\x0d100%\\x0d");
  });

  it("gives the same bytes from a source without the worker's fast path", async () => {
    build = await LiveBuild.start();
    await fillAwkwardLines(build);
    await build.finish("SUCCESS");
    const fast = await (await fetch(recordsUrl(build))).text();
    // The same worker behind a source that has only follow/followStatus/summary (as wharf-api's).
    const worker = new WorkerLogSource({
      resolveWorker: async () => ({ address: `127.0.0.1:${build?.rpc.port}` }),
    });
    const plain: BuildLogSource = {
      follow: (ref, after, signal) => worker.follow(ref, after, signal),
      followStatus: (ref, after, signal) => worker.followStatus(ref, after, signal),
      summary: (ref, signal) => worker.summary(ref, signal),
    };
    const app = Fastify({ logger: false });
    await app.register(logViewerRoutes, { source: plain });
    try {
      const url = await app.listen({ host: "127.0.0.1", port: 0 });
      const generic = await (await fetch(`${url}/api/builds/${BUILD_REF}/logs?format=records`)).text();
      expect(generic).toBe(fast);
      expect(parse(fast)).toHaveLength(3000);
    } finally {
      await app.close();
    }
  });

  it("escapes a newline in a message and stops at the last line asked for", () => {
    const method = (loadWorkerProto().WorkerExtras.service as grpc.ServiceDefinition)
      .StreamLogBatches as grpc.MethodDefinition<unknown, unknown>;
    const lines = [
      { logId: 7, stepId: 2, timestamp: { seconds: 1_700_000_000, nanos: 5_000_000 }, message: "a\nb" },
      { logId: 8, stepId: 1, timestamp: { seconds: 1_700_000_001, nanos: 0 }, message: "ok" },
      { logId: 9, stepId: 1, timestamp: { seconds: 1_700_000_002, nanos: 0 }, message: "too late" },
    ];
    const buf = Buffer.from(method.responseSerialize({ lines }));
    const part = recordsFromLogBatch(buf, 8);
    const generic = [
      { logId: 7, stepId: 2, timestamp: 1_700_000_000_005, message: "a\nb" },
      { logId: 8, stepId: 1, timestamp: 1_700_000_001_000, message: "ok" },
    ].map(logRecordLine);
    expect(part.bytes.toString("utf8")).toBe(generic.join(""));
    expect(part.bytes.toString("utf8")).toContain("a\\x0ab");
    expect(part).toMatchObject({ lastLogId: 8, done: true });
    expect(recordsFromLogBatch(buf, 100)).toMatchObject({ lastLogId: 9, done: false });
  });

  it("writes every size of id and time as the generic path does", () => {
    const method = (loadWorkerProto().WorkerExtras.service as grpc.ServiceDefinition)
      .StreamLogBatches as grpc.MethodDefinition<unknown, unknown>;
    // Digits are written by hand: ids around the int32 limit, times whose low 8 digits start
    // with zeros, a time before 1970.
    const values = [
      { logId: 1, stepId: 0, ms: 0 },
      { logId: 9, stepId: 10, ms: 1_700_000_000_000 },
      { logId: 99_999_999, stepId: 99, ms: 1_700_000_000_001 },
      { logId: 100_000_000, stepId: 2 ** 31 - 1, ms: 1_700_012_345_678 },
      { logId: 2 ** 31, stepId: 2 ** 31, ms: 99_999_999 },
      { logId: 2 ** 31 + 10 ** 8, stepId: 4_294_967_295, ms: 100_000_000 },
      { logId: Number.MAX_SAFE_INTEGER - 1, stepId: 1, ms: -5_000 },
    ];
    const lines = values.map((v) => ({
      logId: v.logId,
      stepId: v.stepId,
      timestamp: { seconds: Math.floor(v.ms / 1000), nanos: (v.ms % 1000) * 1e6 },
      message: `line ${v.logId}`,
    }));
    const buf = Buffer.from(method.responseSerialize({ lines }));
    const generic = values.map((v) =>
      logRecordLine({ logId: v.logId, stepId: v.stepId, timestamp: v.ms, message: `line ${v.logId}` }),
    );
    expect(recordsFromLogBatch(buf, Number.MAX_SAFE_INTEGER).bytes.toString("utf8")).toBe(generic.join(""));
  });
});
