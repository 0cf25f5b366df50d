import { createTestDatabase, type Database, openDatabase } from "@wharf/db";
import { afterAll, beforeAll, expect, inject, it } from "vitest";
import { migrateProvisioner } from "../src/index.js";
import { claimQueued } from "../src/store/claim-queued.js";
import { insertWorker } from "../src/store/insert-worker.js";

// The claim itself under heavy contention on real Postgres: many replicas (each
// its own backend scope and connection pool) claiming a few rows at a time
// until the queue is empty. Every row must be claimed exactly once.
let testDb: Awaited<ReturnType<typeof createTestDatabase>>;
const dbs: Database[] = [];
beforeAll(async () => {
  testDb = await createTestDatabase(inject("pgUrl"), "provclaim");
});
afterAll(async () => {
  await Promise.all(dbs.map((d) => d.close()));
  await testDb?.drop();
});

it("concurrent claimers never claim a queued build twice", async () => {
  for (let i = 0; i < 8; i++) dbs.push(await openDatabase({ url: testDb.url, maxConnections: 2 }));
  const [first] = dbs as [Database];
  await migrateProvisioner(first);
  const ids: string[] = [];
  for (let i = 0; i < 200; i++) {
    const { row } = await insertWorker(first, {
      workerId: `w-${i}`,
      name: `wharf-worker-${i}`,
      backend: "local",
      retentionMs: 60_000,
      request: { buildId: i, instance: "race", projectId: null, gitUrl: "x", runStages: "ALL", vars: {} },
    });
    ids.push(row.worker_id);
  }
  const claimedBy = await Promise.all(
    dbs.map(async (db, n) => {
      const mine: string[] = [];
      // Bounded: 200 rows, at least one per round while any are left.
      for (let round = 0; round < 250; round++) {
        const rows = await claimQueued(db, mine.length + 3, `scope-${n}`);
        if (rows.length === 0) break;
        mine.push(...rows.map((r) => r.worker_id));
      }
      return mine;
    }),
  );
  const all = claimedBy.flat();
  expect(all.sort()).toEqual([...ids].sort());
  expect(claimedBy.filter((c) => c.length > 0).length).toBeGreaterThan(1);
}, 60_000);
