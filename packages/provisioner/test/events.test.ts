import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createTestDatabase, type TestDatabase } from "@wharf/db";
import { makePipelineRepo } from "@wharf/testkit";
import { afterAll, beforeAll, expect, inject, it } from "vitest";
import { api, startTestProvisioner, type TestProvisioner, waitFor, wharfApiQuery } from "./fixture.js";
import { SLEEPING_PIPELINE } from "./git-repo.js";

// The event paths on real Postgres, with the schedulers' polls set to a minute so that no
// timer can do the work by luck: row changes are announced (NOTIFY), and whoever waits acts.
const MINUTE = 60_000;
let testDb: TestDatabase;
let tmp: string;
let sleeping: string;
const replicas: TestProvisioner[] = [];

beforeAll(async () => {
  testDb = await createTestDatabase(inject("pgUrl"), "provevents");
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), "wharf-prov-events-"));
  sleeping = await makePipelineRepo(path.join(tmp, "sleeping"), SLEEPING_PIPELINE);
});
afterAll(async () => {
  for (const r of replicas.reverse()) await r.close();
  await testDb?.drop();
  await fs.rm(tmp, { recursive: true, force: true });
});

async function replica(dataDir: string): Promise<TestProvisioner> {
  const r = await startTestProvisioner({ dbUrl: testDb.url, dataDir, maxWorkers: 1, pollIntervalMs: MINUTE });
  replicas.push(r);
  return r;
}

const statusOf = async (p: TestProvisioner, workerId: string) =>
  (
    (await api(p.url, "GET", "/api/worker?instance=events")).json as { workerId: string; status: string }[]
  ).find((w) => w.workerId === workerId)?.status;

it("a second replica starts a queued build as soon as another frees the slot, not at its next poll", async () => {
  const dataDir = path.join(tmp, "shared");
  const [a, b] = [await replica(dataDir), await replica(dataDir)];
  const post = async (p: TestProvisioner, buildRef: number) =>
    (
      (
        await api(
          p.url,
          "POST",
          `/api/worker?${wharfApiQuery({ buildRef, gitUrl: sleeping, instance: "events" })}`,
        )
      ).json as { workerId: string }
    ).workerId;
  const first = await post(a, 1);
  // Started (its status probe, which would say Running, is a poll: a minute away here).
  await waitFor("first build started", async () => (await statusOf(a, first)) === "Initializing");
  const second = await post(b, 2);
  expect(await statusOf(b, second)).toBe("Queued"); // the one slot is taken
  // Replica A frees the slot but will not start anything itself any more.
  await a.provisioner.scheduler.close();
  expect((await api(a.url, "DELETE", `/api/worker/${first}`)).status).toBe(204);
  // B's poll is a minute away: only A's change, announced to B, can start the queued build now.
  await waitFor("second build started by the other replica", async () => {
    const s = await statusOf(b, second);
    return s === "Initializing" || s === "Running";
  });
}, 60_000);

it("GET /api/worker?wait= holds a watcher until the list changes, and answers 304 when it did not", async () => {
  const p = await replica(path.join(tmp, "watch"));
  const list = await fetch(`${p.url}/api/worker?instance=watch`);
  const etag = list.headers.get("etag") as string;
  expect(etag).toMatch(/^"[\w-]+"$/);
  const unchanged = await fetch(`${p.url}/api/worker?instance=watch&wait=1`, {
    headers: { "if-none-match": etag },
  });
  expect([unchanged.status, unchanged.headers.get("etag")]).toEqual([304, etag]);

  // A long watch (30 s), answered by the trigger's insert, long before its wait runs out.
  const watching = fetch(`${p.url}/api/worker?instance=watch&wait=30`, {
    headers: { "if-none-match": etag },
  });
  const posted = await api(
    p.url,
    "POST",
    `/api/worker?${wharfApiQuery({ buildRef: 77, gitUrl: sleeping, instance: "watch" })}`,
  );
  const answer = await watching;
  expect(answer.status).toBe(200);
  expect(answer.headers.get("etag")).not.toBe(etag);
  expect(((await answer.json()) as { workerId: string }[]).map((w) => w.workerId)).toEqual([
    (posted.json as { workerId: string }).workerId,
  ]);
}, 60_000);
