import { describe, expect, it } from "vitest";
import { type ProgressLine, ResultStore } from "../src/index.js";
import { collect, tempDir, track } from "./store-fixture.js";

describe("progress lines", () => {
  it("show a step's unfinished line to followers, masked and escaped, until its next line", async () => {
    const store = track(await ResultStore.open(await tempDir(), { secrets: ["hunter2"] }));
    store.appendLog(1, "before");
    store.setProgress(1, "pulling hunter2 10%\r", 1000);
    const seen: ProgressLine[] = [];
    const follower = (async () => {
      for await (const p of store.followProgress()) {
        seen.push(p);
        if (seen.length === 1) store.setProgress(1, "pulling hunter2 10%\rpulling 55%", 1001);
        if (seen.length === 2) store.appendLog(1, "pulling 100%", 1002);
        if (seen.length === 3) await store.finish("SUCCESS");
      }
    })();
    await follower;
    expect(seen).toEqual([
      { stepId: 1, afterLogId: 1, timestamp: 1000, message: "pulling *** 10%\\x0d" },
      { stepId: 1, afterLogId: 1, timestamp: 1001, message: "pulling *** 10%\\x0dpulling 55%" },
      { stepId: 1, afterLogId: 2, timestamp: 1002, message: "" },
    ]);
    expect(store.summary().lastLogId).toBe(2); // nothing of it was stored
  });

  it("never show the start of a secret whose rest has not been printed yet", async () => {
    const store = track(await ResultStore.open(await tempDir(), { secrets: ["s3cr3t-token"] }));
    const shown: string[] = [];
    const follower = (async () => {
      for await (const p of store.followProgress()) shown.push(p.message);
    })();
    store.setProgress(1, "logging in with s3cr3t-to");
    await new Promise((r) => setTimeout(r, 20));
    store.setProgress(1, "logging in with s3cr3t-token\rok");
    await new Promise((r) => setTimeout(r, 20));
    await store.finish("SUCCESS");
    await follower;
    expect(shown).toEqual(["logging in with ", "logging in with ***\\x0dok"]);
  });

  it("are ignored once the build is finished, and a late follower just ends", async () => {
    const store = track(await ResultStore.open(await tempDir()));
    await store.finish("SUCCESS");
    store.setProgress(1, "10%\r");
    expect(await collect(store.followProgress())).toEqual([]);
  });
});
