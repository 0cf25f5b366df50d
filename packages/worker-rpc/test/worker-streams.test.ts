import { status as GrpcStatus } from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { Harness, readStream, waitFor } from "./outside-client.js";

interface LogMsg {
  log_id: string;
  step_id: string;
  timestamp: { seconds: string; nanos: number };
  message: string;
}
interface StatusMsg {
  event_id: string;
  step_id: string;
  status: string;
  timestamp: { seconds: string; nanos: number } | null;
}

let h: Harness;
afterEach(async () => {
  await h?.stop();
});

const ids = (ms: LogMsg[]) => ms.map((m) => Number(m.log_id));
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe("wharf.worker.v1.Worker over gRPC, from a proto-only client", () => {
  it("sends everything from the start in order and ends OK after the build", async () => {
    h = await Harness.start();
    for (let i = 1; i <= 50; i++) h.store.appendLog(i % 2 ? 1 : 2, `line ${i}`, 1_700_000_000_123);
    await h.store.finish("SUCCESS");
    const res = await readStream<LogMsg>(h.worker(), "StreamLogs", {});
    expect(res.code).toBe(GrpcStatus.OK);
    expect(ids(res.messages)).toEqual(range(1, 50));
    expect(res.messages[0]).toEqual({
      log_id: "1",
      step_id: "1",
      timestamp: { seconds: "1700000000", nanos: 123_000_000 },
      message: "line 1",
    });
  });

  it("resumes after a given id", async () => {
    h = await Harness.start();
    for (let i = 1; i <= 30; i++) h.store.appendLog(1, `line ${i}`);
    await h.store.finish("SUCCESS");
    const res = await readStream<LogMsg>(h.worker(), "StreamLogs", { after_log_id: 17 });
    expect(res.code).toBe(GrpcStatus.OK);
    expect(ids(res.messages)).toEqual(range(18, 30));
    expect(res.messages.map((m) => m.message)).toEqual(range(18, 30).map((i) => `line ${i}`));
    const atEnd = await readStream<LogMsg>(h.worker(), "StreamLogs", { after_log_id: 30 });
    expect(atEnd).toMatchObject({ code: GrpcStatus.OK, messages: [] });
  });

  it("streams live lines, ends only after finish, and a late subscriber gets everything", async () => {
    h = await Harness.start();
    h.store.appendLog(1, "early");
    let ended = false;
    const early = readStream<LogMsg>(h.worker(), "StreamLogs", {}).finally(() => {
      ended = true;
    });
    const seen: LogMsg[] = [];
    const live = readStream<LogMsg>(h.worker(), "StreamLogs", {}, undefined, (m) => seen.push(m));
    for (let i = 1; i <= 20; i++) h.store.appendLog(2, `live ${i}`);
    await waitFor(() => seen.length === 21, "all 21 lines to arrive");
    // Everything so far was sent, but the build is not over: the stream must still be open.
    expect(ended).toBe(false);
    h.store.appendStatus(0, "SUCCESS");
    await h.store.finish("SUCCESS");
    const [a, b] = await Promise.all([early, live]);
    const late = await readStream<LogMsg>(h.worker(), "StreamLogs", {});
    for (const r of [a, b, late]) {
      expect(r.code).toBe(GrpcStatus.OK);
      expect(ids(r.messages)).toEqual(range(1, 21));
    }
    expect(late.messages.map((m) => m.message)).toEqual(["early", ...range(1, 20).map((i) => `live ${i}`)]);
  });

  it("gives two concurrent subscribers identical sequences of logs and status events", async () => {
    h = await Harness.start();
    const worker = h.worker();
    const logs = [
      readStream<LogMsg>(worker, "StreamLogs", {}),
      readStream<LogMsg>(h.worker(), "StreamLogs", {}),
    ];
    const statuses = [
      readStream<StatusMsg>(worker, "StreamStatusEvents", {}),
      readStream<StatusMsg>(h.worker(), "StreamStatusEvents", {}),
    ];
    h.store.appendStatus(0, "RUNNING");
    for (let round = 0; round < 20; round++) {
      h.store.appendStatus(round + 1, "RUNNING");
      for (let i = 0; i < 100; i++) h.store.appendLog(round + 1, `r${round} l${i}`);
      h.store.appendStatus(round + 1, round % 5 ? "SUCCESS" : "FAILED");
      await new Promise((r) => setImmediate(r));
    }
    await h.store.finish("FAILED", "some steps failed");
    const [l1, l2] = await Promise.all(logs);
    const [s1, s2] = await Promise.all(statuses);
    expect(l1!.code).toBe(GrpcStatus.OK);
    expect(ids(l1!.messages)).toEqual(range(1, 2000));
    expect(l2!.messages).toEqual(l1!.messages);
    expect(s1!.code).toBe(GrpcStatus.OK);
    expect(s1!.messages.map((m) => Number(m.event_id))).toEqual(range(1, 42));
    expect(s2!.messages).toEqual(s1!.messages);
    expect(s1!.messages.slice(0, 3).map((m) => [m.step_id, m.status])).toEqual([
      ["0", "STATUS_RUNNING"],
      ["1", "STATUS_RUNNING"],
      ["1", "STATUS_FAILED"],
    ]);
    expect(s1!.messages.at(-1)).toMatchObject({ step_id: "0", status: "STATUS_FAILED" });
  });

  it("resumes status and artifact events after an id", async () => {
    h = await Harness.start();
    for (const s of ["PENDING", "RUNNING", "SUCCESS"] as const) h.store.appendStatus(1, s);
    const file = `${h.dir}/a.txt`;
    await (await import("node:fs/promises")).writeFile(file, "hello");
    await h.store.addArtifact(1, "a.txt", file);
    await h.store.addArtifact(1, "b.txt", file);
    await h.store.finish("SUCCESS");
    const status = await readStream<StatusMsg>(h.worker(), "StreamStatusEvents", { after_event_id: 2 });
    expect(status.messages.map((m) => [m.event_id, m.status])).toEqual([
      ["3", "STATUS_SUCCESS"],
      ["4", "STATUS_SUCCESS"],
    ]);
    const artifacts = await readStream<object>(h.worker(), "StreamArtifactEvents", { after_artifact_id: 1 });
    expect(artifacts.code).toBe(GrpcStatus.OK);
    expect(artifacts.messages).toEqual([
      {
        artifact_id: "2",
        step_id: "1",
        name: "b.txt",
        size: "5",
        sha256: "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
      },
    ]);
  });

  it("ends live streams with UNAVAILABLE (not OK) when the server shuts down mid-build", async () => {
    h = await Harness.start({ shutdownGraceMs: 2000 });
    h.store.appendLog(1, "only line");
    const seen: LogMsg[] = [];
    const live = readStream<LogMsg>(h.worker(), "StreamLogs", {}, undefined, (m) => seen.push(m));
    await waitFor(() => seen.length === 1, "the first line");
    await h.server.close();
    const res = await live;
    expect(res.code).toBe(GrpcStatus.UNAVAILABLE);
  });
});
