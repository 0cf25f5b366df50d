import fs from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ResultStore, ResultStoreCorruptError } from "../src/index.js";
import { collect, collectLogs, tempDir, track } from "./store-fixture.js";

/** A store with lines "line 1".."line n" of step 1, closed (so everything is on disk). */
async function storeWithLines(n: number): Promise<string> {
  const dir = await tempDir();
  const store = await ResultStore.open(dir);
  for (let i = 1; i <= n; i++) store.appendLog(1, `line ${i}`);
  store.appendStatus(1, "RUNNING");
  store.appendStatus(1, "SUCCESS");
  await store.close();
  return dir;
}

async function reopenAndRead(dir: string) {
  const store = track(await ResultStore.open(dir));
  const next = store.appendLog(1, "after reopen");
  await store.finish("SUCCESS");
  const lines = await collectLogs(store.followLogs(0));
  return { next, messages: lines.map((l) => l.message), ids: lines.map((l) => l.logId) };
}

describe("ResultStore crash recovery", () => {
  it("drops a torn record at the end of the data file", async () => {
    const dir = await storeWithLines(10);
    const data = path.join(dir, "logs.dat");
    const whole = await fs.readFile(data);
    // The first 13 bytes of a valid record: a write cut short by a crash.
    await fs.appendFile(data, whole.subarray(0, 13));
    const { next, messages } = await reopenAndRead(dir);
    expect(next).toBe(11);
    expect(messages.at(-2)).toBe("line 10");
    expect(messages.at(-1)).toBe("after reopen");
  });

  it("drops an indexed record whose data was cut off", async () => {
    const dir = await storeWithLines(10);
    const data = path.join(dir, "logs.dat");
    const { size } = await fs.stat(data);
    await fs.truncate(data, size - 3);
    const { next, messages } = await reopenAndRead(dir);
    expect(next).toBe(10);
    expect(messages).toEqual([...Array.from({ length: 9 }, (_, i) => `line ${i + 1}`), "after reopen"]);
  });

  it("re-indexes complete records whose index entries were lost, and cuts a torn entry", async () => {
    const dir = await storeWithLines(10);
    const index = path.join(dir, "logs.idx");
    await fs.truncate(index, 7 * 8 + 3);
    const { next, ids, messages } = await reopenAndRead(dir);
    expect(next).toBe(11);
    expect(ids).toEqual(Array.from({ length: 11 }, (_, i) => i + 1));
    expect(messages[9]).toBe("line 10");
  });

  it("ignores zero-filled garbage after the last record and its index entry", async () => {
    const dir = await storeWithLines(5);
    await fs.appendFile(path.join(dir, "logs.dat"), Buffer.alloc(4096));
    await fs.appendFile(path.join(dir, "logs.idx"), Buffer.alloc(16));
    const { next, messages } = await reopenAndRead(dir);
    expect(next).toBe(6);
    expect(messages.slice(0, 5)).toEqual([1, 2, 3, 4, 5].map((i) => `line ${i}`));
  });

  it("drops a torn last status line and keeps counting event ids", async () => {
    const dir = await storeWithLines(1);
    await fs.appendFile(path.join(dir, "status.jsonl"), '{"eventId":3,"stepId":1,"sta');
    const store = track(await ResultStore.open(dir));
    expect(store.appendStatus(2, "RUNNING")).toBe(3);
    await store.finish("SUCCESS");
    const events = await collect(store.followStatus(0));
    expect(events.map((e) => [e.eventId, e.stepId, e.status])).toEqual([
      [1, 1, "RUNNING"],
      [2, 1, "SUCCESS"],
      [3, 2, "RUNNING"],
      [4, 0, "SUCCESS"],
    ]);
  });

  it("refuses a status file damaged in the middle", async () => {
    const dir = await storeWithLines(1);
    const file = path.join(dir, "status.jsonl");
    const text = await fs.readFile(file, "utf8");
    await fs.writeFile(file, `{"broken\n${text}`);
    await expect(ResultStore.open(dir)).rejects.toThrow(ResultStoreCorruptError);
  });
});
