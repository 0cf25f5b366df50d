import fs from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  BuildFinishedError,
  type LogEntry,
  ResultStore,
  ResultStoreArgumentError,
  ResultStoreClosedError,
} from "../src/index.js";
import { collect, collectLogs, tempDir, track, waitFor } from "./store-fixture.js";

describe("ResultStore logs", () => {
  it("gives dense global log ids from 1 and keeps lines in order", async () => {
    const store = track(await ResultStore.open(await tempDir()));
    expect(store.appendLog(1, "one", 1000)).toBe(1);
    expect(store.appendLog(2, "two\nthree", 1001)).toBe(3);
    expect(store.appendLog(1, "four")).toBe(4);
    await store.finish("SUCCESS");
    const lines = await collectLogs(store.followLogs(0));
    expect(lines.map((l) => [l.logId, l.stepId, l.message])).toEqual([
      [1, 1, "one"],
      [2, 2, "two"],
      [3, 2, "three"],
      [4, 1, "four"],
    ]);
    expect(lines[0]!.timestamp).toBe(1000);
    expect(lines[2]!.timestamp).toBe(1001);
  });

  it("continues ids after reopening and keeps what was stored", async () => {
    const dir = await tempDir();
    const first = await ResultStore.open(dir, { buildRef: "42" });
    for (let i = 1; i <= 5; i++) first.appendLog(1, `line ${i}`);
    first.appendStatus(1, "RUNNING");
    await first.close();

    const again = track(await ResultStore.open(dir, { buildRef: "42" }));
    expect(again.summary().lastLogId).toBe(5);
    expect(again.appendLog(1, "line 6")).toBe(6);
    expect(again.appendStatus(1, "SUCCESS")).toBe(2);
    await again.finish("SUCCESS");
    const lines = await collectLogs(again.followLogs(0));
    expect(lines.map((l) => l.message)).toEqual([1, 2, 3, 4, 5, 6].map((i) => `line ${i}`));
    await expect(ResultStore.open(dir, { buildRef: "other" })).rejects.toThrow(ResultStoreArgumentError);
  });

  it("follows from any id, in bounded batches", async () => {
    const store = track(await ResultStore.open(await tempDir(), { maxBatchBytes: 4096 }));
    for (let i = 1; i <= 5000; i++) store.appendLog(i % 3, `message number ${i}`);
    await store.finish("SUCCESS");
    for (const after of [0, 1, 2499, 4999, 5000, 7000]) {
      const batches: LogEntry[][] = [];
      for await (const b of store.followLogs(after, { maxBatch: 300 })) batches.push(b);
      const ids = batches.flat().map((l) => l.logId);
      const expected = Array.from({ length: Math.max(0, 5000 - after) }, (_, i) => after + i + 1);
      expect(ids).toEqual(expected);
      for (const b of batches) {
        expect(b.length).toBeLessThanOrEqual(300);
        expect(b.reduce((n, l) => n + Buffer.byteLength(l.message) + 20, 0)).toBeLessThanOrEqual(4096);
      }
      expect(batches.flat().every((l) => l.message === `message number ${l.logId}`)).toBe(true);
    }
  });

  it("yields a line larger than the batch byte bound as a batch of its own", async () => {
    const store = track(await ResultStore.open(await tempDir(), { maxBatchBytes: 100, maxLineBytes: 4096 }));
    store.appendLog(1, "small");
    store.appendLog(1, "L".repeat(3000));
    store.appendLog(1, "tail");
    await store.finish("SUCCESS");
    const batches: LogEntry[][] = [];
    for await (const b of store.followLogs(0)) batches.push(b);
    expect(batches.map((b) => b.map((l) => l.message.length))).toEqual([[5], [3000], [4]]);
  });

  it("serves live lines to a follower without flush() and ends it after finish", async () => {
    const store = track(await ResultStore.open(await tempDir()));
    store.appendLog(1, "before");
    const seen: LogEntry[] = [];
    const following = (async () => {
      for await (const batch of store.followLogs(0)) seen.push(...batch);
    })();
    // The flush timer alone must make lines visible.
    await waitFor(() => seen.length === 1, "the first line");
    store.appendLog(1, "live 1");
    await waitFor(() => seen.length === 2, "a live line");
    store.appendLog(2, "live 2\nlive 3");
    await store.finish("FAILED", "step 2 failed");
    await following;
    expect(seen.map((l) => l.message)).toEqual(["before", "live 1", "live 2", "live 3"]);
    expect(store.finished).toBe(true);
  });

  it("stores long lines split, binary output escaped and secrets masked", async () => {
    const dir = await tempDir();
    const store = track(await ResultStore.open(dir, { maxLineBytes: 1024, secrets: ["s3cr3t"] }));
    store.appendLog(1, "a".repeat(2500));
    store.appendLog(1, Buffer.from([0x41, 0x00, 0xff, 0x1b, 0x5b, 0x30, 0x6d, 0x09, 0x42]));
    store.appendLog(1, "token=s3cr3t!");
    await store.finish("SUCCESS");
    const lines = await collectLogs(store.followLogs(0));
    expect(lines.slice(0, 3).map((l) => l.message.length)).toEqual([1024, 1024, 452]);
    expect(lines.slice(0, 3).every((l) => /^a+$/.test(l.message))).toBe(true);
    expect(lines[3]!.message).toBe("A\\x00\ufffd\u001b[0m\tB");
    expect(lines[4]!.message).toBe("token=***!");
    const raw = await fs.readFile(path.join(dir, "logs.dat"));
    expect(raw.includes("s3cr3t")).toBe(false);
  });

  it("ends a follower quietly on abort and fails a waiting one on close", async () => {
    const store = await ResultStore.open(await tempDir());
    store.appendLog(1, "x");
    const abort = new AbortController();
    const aborted = collectLogs(store.followLogs(0, { signal: abort.signal }));
    const closing = collectLogs(store.followLogs(0));
    await waitFor(() => store.stats().lastCommittedLogId === 1, "the line on disk");
    abort.abort();
    expect((await aborted).map((l) => l.message)).toEqual(["x"]);
    await store.close();
    await expect(closing).rejects.toThrow(ResultStoreClosedError);
  });

  it("keeps memory bounded however many lines are written and read", async () => {
    const store = track(await ResultStore.open(await tempDir(), { maxBatchBytes: 64 * 1024 }));
    const capacity = store.stats().bufferCapacity;
    const line = "y".repeat(200);
    let maxBuffered = 0;
    for (let i = 0; i < 100_000; i++) {
      store.appendLog(1, line);
      maxBuffered = Math.max(maxBuffered, store.stats().bufferedBytes);
    }
    // 22 MB went through a buffer that never grew past its fixed capacity.
    expect(store.stats().bufferCapacity).toBe(capacity);
    expect(maxBuffered).toBeLessThanOrEqual(capacity);
    expect(capacity).toBeLessThan(100_000 * line.length);
    await store.finish("SUCCESS");
    let count = 0;
    let largestBatch = 0;
    for await (const batch of store.followLogs(0, { maxBatch: 10_000 })) {
      count += batch.length;
      largestBatch = Math.max(largestBatch, batch.length);
    }
    expect(count).toBe(100_000);
    // A batch is bounded by bytes (64 KiB / 220 bytes per record), not by what is on disk.
    expect(largestBatch).toBeLessThanOrEqual(Math.floor((64 * 1024) / 220));
  });

  it("rejects writes after finish and bad arguments", async () => {
    const store = track(await ResultStore.open(await tempDir()));
    expect(() => store.appendLog(-1, "x")).toThrow(ResultStoreArgumentError);
    expect(() => store.appendLog(1.5, "x")).toThrow(ResultStoreArgumentError);
    expect(() => store.appendStatus(1, "DONE" as never)).toThrow(ResultStoreArgumentError);
    expect(() => store.followLogs(-1)).toThrow(ResultStoreArgumentError);
    await expect(store.finish("RUNNING")).rejects.toThrow(ResultStoreArgumentError);
    await store.finish("CANCELLED");
    expect(() => store.appendLog(1, "late")).toThrow(BuildFinishedError);
    expect(() => store.appendStatus(1, "RUNNING")).toThrow(BuildFinishedError);
    await expect(store.finish("SUCCESS")).rejects.toThrow(BuildFinishedError);
  });
});

describe("ResultStore status and summary", () => {
  it("streams status events in order, adds the build's final status and summarises steps", async () => {
    const dir = await tempDir();
    const store = await ResultStore.open(dir, { buildRef: "b-7" });
    store.setSteps([
      { stepId: 1, stage: "build", name: "compile" },
      { stepId: 2, stage: "test", name: "unit" },
    ]);
    const live = collect(store.followStatus(0));
    store.appendStatus(0, "RUNNING");
    store.appendStatus(1, "RUNNING");
    store.appendStatus(1, "SUCCESS");
    store.recordStepResult(1, { exitCode: 0, attempts: 1 });
    store.appendStatus(2, "FAILED");
    store.recordStepResult(2, { exitCode: 3, attempts: 2 });
    expect(() => store.recordStepResult(9, { exitCode: 0, attempts: 1 })).toThrow(ResultStoreArgumentError);
    expect(store.summary()).toMatchObject({ status: "RUNNING", finished: false, lastEventId: 4 });
    await store.finish("FAILED", "unit failed");
    const events = await live;
    expect(events.map((e) => [e.eventId, e.stepId, e.status])).toEqual([
      [1, 0, "RUNNING"],
      [2, 1, "RUNNING"],
      [3, 1, "SUCCESS"],
      [4, 2, "FAILED"],
      [5, 0, "FAILED"],
    ]);
    const expected = {
      buildRef: "b-7",
      status: "FAILED",
      finished: true,
      message: "unit failed",
      steps: [
        { stepId: 1, stage: "build", name: "compile", status: "SUCCESS", exitCode: 0, attempts: 1 },
        { stepId: 2, stage: "test", name: "unit", status: "FAILED", exitCode: 3, attempts: 2 },
      ],
      lastLogId: 0,
      lastEventId: 5,
      lastArtifactId: 0,
    };
    expect(store.summary()).toEqual(expected);
    await store.close();

    const reopened = track(await ResultStore.open(dir));
    expect(reopened.finished).toBe(true);
    expect(reopened.summary()).toEqual(expected);
    expect((await collect(reopened.followStatus(3))).map((e) => e.eventId)).toEqual([4, 5]);
  });
});
