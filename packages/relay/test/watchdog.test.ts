import { startWharfApiDouble, type WharfApiDouble } from "@wharf/testkit";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Watchdog, WharfApiClient } from "../src/index.js";
import { ListedWorkers, quietLog } from "./support.js";

// The watchdog against the wharf-api double (GET /api/build?statusId=0&statusId=1,
// PUT status) and a hand-filled directory; time is injected so grace is exact.
let api: WharfApiDouble;
let client: WharfApiClient;
let directory: ListedWorkers;
let now = 0;
beforeEach(async () => {
  api = await startWharfApiDouble({ token: "t" });
  client = new WharfApiClient({ url: api.url, token: "t" });
  directory = new ListedWorkers();
  now = 1_000_000;
});
afterEach(async () => {
  client.close();
  await api.close();
});

const watchdog = () =>
  new Watchdog({ api: client, directory, log: quietLog, graceMs: 60_000, now: () => now });
const listed = (workerId: string, buildId: number) =>
  directory.workers.set(workerId, { workerId, buildId, address: "127.0.0.1:1", status: "running" });

describe("Watchdog", () => {
  it("fails a build without a worker only after the grace period, and only active builds", async () => {
    api.setBuild(1, "Running");
    api.setBuild(2, "Scheduling");
    api.setBuild(3, "Completed");
    listed("w2", 2);
    directory.started.add(1); // ours: its worker was removed (the provisioner remembers it)
    const dog = watchdog();
    expect(await dog.check()).toEqual([]);
    now += 59_000;
    expect(await dog.check()).toEqual([]);
    now += 1_000;
    expect(await dog.check()).toEqual([{ action: "fail-build", buildId: 1, orphanedForMs: 60_000 }]);
    expect(api.statusesFor(1)).toEqual(["Failed"]);
    expect(api.statuses[0]?.message).toMatch(/no wharf worker/);
    expect(api.statusesFor(2)).toEqual([]);
    expect(api.statusesFor(3)).toEqual([]);
  });

  it("leaves another engine's builds alone, and says in the log why it fails one of ours", async () => {
    api.setBuild(6, "Running"); // sent to another engine (Jenkins): no wharf worker ever
    api.setBuild(7, "Running");
    listed("w7", 7); // ours: seen while it lived, then it vanished without a result
    const dog = watchdog();
    expect(await dog.check()).toEqual([]);
    directory.workers.delete("w7");
    now += 61_000;
    await dog.check();
    now += 61_000;
    expect(await dog.check()).toEqual([{ action: "fail-build", buildId: 7, orphanedForMs: 61_000 }]);
    expect(api.statusesFor(7)).toEqual(["Failed"]);
    expect(api.logsFor(7).map((l) => l.message)).toEqual([
      "[wharf] no wharf worker has been running this build for 61s (it was lost or removed). The build is marked Failed.",
    ]);
    expect(api.statusesFor(6)).toEqual([]);
    expect(api.logsFor(6)).toEqual([]);
    expect(api.build(6)?.status).toBe("Running");
  });

  it("forgets a mismatch that resolved, and removes a worker whose build is over", async () => {
    api.setBuild(4, "Running");
    listed("w5", 5);
    const dog = watchdog();
    await dog.check();
    listed("w4", 4); // the build's worker showed up after all
    now += 120_000;
    const decisions = await dog.check();
    expect(decisions).toEqual([{ action: "remove-worker", workerId: "w5", buildId: 5, strayForMs: 120_000 }]);
    expect(directory.removed).toEqual(["w5"]);
    expect(api.statusesFor(4)).toEqual([]);
  });

  it("keeps running when wharf-api is down and acts once it is back", async () => {
    api.setBuild(6, "Running");
    directory.started.add(6);
    const dog = watchdog();
    await api.goDown();
    await expect(dog.check()).rejects.toThrow();
    await api.comeUp();
    await dog.check();
    now += 60_000;
    expect((await dog.check()).map((d) => d.action)).toEqual(["fail-build"]);
  });
});
