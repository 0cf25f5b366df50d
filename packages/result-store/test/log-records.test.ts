import fs from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  type LogEntry,
  type LogRecordBatch,
  ResultStore,
  ResultStoreClosedError,
  ResultStoreCorruptError,
} from "../src/index.js";
import { collect, collectLogs, tempDir, track, waitFor } from "./store-fixture.js";

const RECORD_OVERHEAD = 20; // u32 length, u32 crc, u32 stepId, f64 timestamp

/** A raw batch decoded here, independently of the store's own decoding, after checking its shape. */
function decodeRecords(batch: LogRecordBatch): LogEntry[] {
  const { count, stepIds, timestamps, messageStarts, messageEnds, data } = batch;
  for (const column of [stepIds, timestamps, messageStarts, messageEnds]) expect(column.length).toBe(count);
  const entries: LogEntry[] = [];
  for (let i = 0; i < count; i++) {
    const start = messageStarts[i]!;
    const end = messageEnds[i]!;
    expect(start).toBeLessThanOrEqual(end);
    expect(end).toBeLessThanOrEqual(data.length);
    if (i > 0) expect(start).toBeGreaterThanOrEqual(messageEnds[i - 1]!);
    entries.push({
      logId: batch.firstLogId + i,
      stepId: stepIds[i]!,
      timestamp: timestamps[i]!,
      message: data.toString("utf8", start, end),
    });
  }
  return entries;
}

const recordBytes = (e: LogEntry) => RECORD_OVERHEAD + Buffer.byteLength(e.message);

/** Lines of every kind: unicode, empty, near the 64 KiB limit, escaped, masked, lone surrogates. */
function mixedLines(): [number, string, number][] {
  const lines: [number, string, number][] = [];
  for (let i = 0; i < 400; i++) {
    const ts = 1_700_000_000_000 + Math.floor(i / 3) + (i % 7) / 8;
    if (i % 50 === 7) lines.push([1, "x".repeat(60_000 + i), ts]);
    else if (i % 50 === 8) lines.push([2, "é😀".repeat(10_000), ts]);
    else if (i % 10 === 3) lines.push([3, "", ts]);
    else if (i % 10 === 4) lines.push([9, `ctl \u0000\u001b[31mred\u001b[0m \u0007 lone \ud83d end`, -ts]);
    else lines.push([i % 4, `line ${i} ${"héllo wörld 😀 ".repeat(i % 9)}${"y".repeat(i % 13)}`, ts]);
  }
  return lines;
}

describe("ResultStore.followLogRecords", () => {
  it("yields the batches of followLogs, as raw records, from any id and within the bounds", async () => {
    const maxBatchBytes = 4096;
    const store = track(await ResultStore.open(await tempDir(), { maxBatchBytes, secrets: ["hunter2"] }));
    const lines = mixedLines();
    for (const [step, message, ts] of lines) store.appendLog(step, message, ts);
    store.appendLog(1, "password hunter2 twice hunter2");
    await store.finish("SUCCESS");
    const stored = await collectLogs(store.followLogs(0));
    expect(stored).toHaveLength(lines.length + 1);
    expect(stored.at(-1)?.message).toBe("password *** twice ***");
    expect(stored.find((e) => e.stepId === 9)?.message).toBe(
      "ctl \\x00\u001b[31mred\u001b[0m \\x07 lone \ufffd end",
    );

    for (const [after, maxBatch] of [
      [0, 1000],
      [0, 7],
      [1, 1],
      [57, 1000],
      [200, 33],
      [400, 1000],
      [401, 1000],
    ] as const) {
      const raw = await collect(store.followLogRecords(after, { maxBatch }));
      const decoded = await collect(store.followLogs(after, { maxBatch }));
      expect(raw.map(decodeRecords)).toEqual(decoded);
      expect(raw.flatMap(decodeRecords)).toEqual(stored.slice(after));
      for (const [k, batch] of raw.entries()) {
        const entries = decodeRecords(batch);
        const bytes = entries.reduce((n, e) => n + recordBytes(e), 0);
        expect(batch.count).toBeGreaterThanOrEqual(1);
        expect(batch.count).toBeLessThanOrEqual(maxBatch);
        if (batch.count > 1) expect(bytes).toBeLessThanOrEqual(maxBatchBytes);
        const next = raw[k + 1] && decodeRecords(raw[k + 1]!)[0];
        // A batch ends at maxBatch or because the next record did not fit: the read cut it.
        if (next && batch.count < maxBatch) expect(bytes + recordBytes(next)).toBeGreaterThan(maxBatchBytes);
      }
      if (maxBatch === 1000 && after < 300) {
        // Cut records did happen, and 60 KB lines came alone.
        expect(raw.length).toBeGreaterThan(20);
        expect(raw.some((b) => b.count === 1 && b.messageEnds[0]! - b.messageStarts[0]! > 60_000)).toBe(true);
      }
    }
  });

  it("follows live writes in small reads and ends after finish", async () => {
    const store = track(await ResultStore.open(await tempDir(), { maxBatchBytes: 256 }));
    const seen: LogRecordBatch[] = [];
    const following = (async () => {
      for await (const batch of store.followLogRecords(0)) seen.push(batch);
    })();
    const count = () => seen.reduce((n, b) => n + b.count, 0);
    store.appendLog(1, "first");
    await waitFor(() => count() === 1, "the first line");
    store.appendLog(2, "second\nthird ü\n\nfifth");
    await waitFor(() => count() === 5, "a live write");
    for (let i = 0; i < 50; i++) store.appendLog(3, `burst ${i} ${"z".repeat(i * 3)}`, 1000 + i);
    await store.finish("FAILED");
    await following;
    expect(seen.flatMap(decodeRecords)).toEqual(await collectLogs(store.followLogs(0)));
    expect(count()).toBe(55);
    expect(
      seen
        .flatMap(decodeRecords)
        .slice(0, 5)
        .map((e) => e.message),
    ).toEqual(["first", "second", "third ü", "", "fifth"]);
  });

  it("ends quietly on abort and fails a waiting follower on close", async () => {
    const store = await ResultStore.open(await tempDir());
    store.appendLog(1, "x");
    const abort = new AbortController();
    const aborted = collect(store.followLogRecords(0, { signal: abort.signal }));
    const closing = collect(store.followLogRecords(0));
    await waitFor(() => store.stats().lastCommittedLogId === 1, "the line on disk");
    abort.abort();
    expect((await aborted).flatMap(decodeRecords).map((e) => e.message)).toEqual(["x"]);
    await store.close();
    await expect(closing).rejects.toThrow(ResultStoreClosedError);
  });

  it("raises ResultStoreCorruptError for a damaged record left on disk, whether it starts a read or not", async () => {
    const dir = await tempDir();
    const first = await ResultStore.open(dir, { maxBatchBytes: 1024 });
    for (let i = 1; i <= 100; i++) first.appendLog(1, `line ${i} ${"w".repeat(40)}`);
    await first.close();
    const index = await fs.readFile(path.join(dir, "logs.idx"));
    const data = path.join(dir, "logs.dat");
    const bytes = await fs.readFile(data);
    // One bit of line 50's message flipped: reopening repairs tails only, so this stays.
    bytes[Number(index.readBigUInt64LE(49 * 8)) + RECORD_OVERHEAD + 2]! ^= 0x04;
    await fs.writeFile(data, bytes);

    const store = track(await ResultStore.open(dir, { maxBatchBytes: 1024 }));
    // Lines appended after reopening (not checksummed again on read) follow the old ones.
    for (let i = 101; i <= 110; i++) store.appendLog(1, `line ${i} ${"w".repeat(40)}`);
    await store.finish("SUCCESS");
    const read = async (after: number, maxBatch?: number) => {
      const ids: number[] = [];
      for await (const batch of store.followLogRecords(after, { maxBatch }))
        ids.push(...decodeRecords(batch).map((e) => e.logId));
      return ids;
    };
    // Reaching line 50 in the middle of a read, as the first record of a read, and from a fresh cursor.
    for (const [after, maxBatch] of [
      [0, undefined],
      [40, undefined],
      [48, 1],
      [49, undefined],
    ] as const) {
      await expect(read(after, maxBatch)).rejects.toThrow(ResultStoreCorruptError);
    }
    await expect(collectLogs(store.followLogs(0))).rejects.toThrow(ResultStoreCorruptError);
    // Reads that cross from the old records into the new ones.
    expect(await read(50)).toEqual(Array.from({ length: 60 }, (_, i) => i + 51));
    expect(await read(95, 3)).toEqual(Array.from({ length: 15 }, (_, i) => i + 96));
  });
});
