import type { ClientReadableStream } from "@grpc/grpc-js";
import { status as GrpcStatus, type StatusObject } from "@grpc/grpc-js";
import type { LogEntry, ResultStore } from "@wharf/result-store";
import { afterEach, describe, expect, it } from "vitest";
import type { WorkerResultSource } from "../src/index.js";
import { Harness } from "./outside-client.js";

let h: Harness;
afterEach(async () => {
  await h?.stop();
});

/** The store's read side, counting the log lines the server has taken from it. */
function counting(store: ResultStore, counter: { lines: number }): WorkerResultSource {
  return {
    summary: () => store.summary(),
    followStatus: (after, o) => store.followStatus(after, o),
    followArtifacts: (after, o) => store.followArtifacts(after, o),
    openArtifact: (id) => store.openArtifact(id),
    followLogRecords: (after, o) => store.followLogRecords(after, o),
    followLogs: (after, o) => {
      const inner = store.followLogs(after, o);
      return (async function* () {
        for await (const batch of inner) {
          counter.lines += batch.length;
          yield batch as LogEntry[];
        }
      })();
    },
  };
}

/** Waits until `read()` stops changing for 300 ms (bounded to 15 s) and returns the value. */
async function settled(read: () => number): Promise<number> {
  const deadline = Date.now() + 15_000;
  let last = read();
  let stableFor = 0;
  while (stableFor < 3 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    const now = read();
    stableFor = now === last ? stableFor + 1 : 0;
    last = now;
  }
  return last;
}

describe("server stream back-pressure", () => {
  it("stops reading the store while a client does not read, then delivers everything", async () => {
    const counter = { lines: 0 };
    h = await Harness.start({}, (store) => counting(store, counter));
    const total = 20_000;
    const line = "z".repeat(1000);
    for (let i = 0; i < total; i++) h.store.appendLog(1, line);
    await h.store.finish("SUCCESS");

    const call = h.worker().StreamLogs!({}) as ClientReadableStream<{ log_id: string }>;
    const ids: number[] = [];
    const status = new Promise<StatusObject>((resolve) => call.on("status", resolve));
    call.on("error", () => {});
    call.on("data", (m: { log_id: string }) => {
      ids.push(Number(m.log_id));
      if (ids.length === 1) call.pause();
    });
    // 20 MB are ready on disk; a server without back-pressure would read them all into its buffers.
    const taken = await settled(() => counter.lines);
    expect(ids.length).toBe(1);
    expect(taken).toBeLessThan(total / 2);
    call.resume();
    expect((await status).code).toBe(GrpcStatus.OK);
    expect(ids.length).toBe(total);
    expect(ids.every((id, i) => id === i + 1)).toBe(true);
    expect(counter.lines).toBe(total);
  });
});
