import { openDatabase } from "@wharf/db";
import { afterAll, expect, it } from "vitest";
import { insertWorker } from "../src/store/insert-worker.js";
import { markDeleted, markEnded, purgeEnded } from "../src/store/update-worker.js";
import { migrateProvisioner } from "../src/store/worker-row.js";

const db = await openDatabase({});
await migrateProvisioner(db);
afterAll(() => db.close());

const request = (buildId: number) => ({
  buildId,
  instance: "ret",
  projectId: null,
  gitUrl: "x",
  gitToken: "marker-token-in-queue",
  runStages: "ALL",
  vars: {},
});
const insert = (id: string, buildId: number) =>
  insertWorker(db, {
    workerId: id,
    name: id,
    backend: "local",
    request: request(buildId),
    retentionMs: 60_000,
  });

it("purges ended rows past the retention, keeps the rest, and a purged build's ref may run again", async () => {
  await insert("old", 1);
  await insert("live", 2);
  // A queued row keeps its token (its worker must still be started); an ended one does not.
  expect(
    JSON.stringify((await db.query("SELECT request FROM provisioner_workers WHERE worker_id = 'live'")).rows),
  ).toContain("marker-token-in-queue");
  expect(await markEnded(db, "old", "Success", "finished", null)).toBe(true);
  expect(await markDeleted(db, "old")).toBe(true);
  expect(
    JSON.stringify((await db.query("SELECT request FROM provisioner_workers WHERE worker_id = 'old'")).rows),
  ).not.toContain("marker-token-in-queue");
  // Within the retention the removed worker answers for its build.
  expect(await insert("again", 1)).toMatchObject({ created: false, row: { worker_id: "old" } });
  expect(await purgeEnded(db, 3_600_000)).toBe(0);
  await db.query(
    "UPDATE provisioner_workers SET finished_at = now() - interval '2 hours', deleted_at = now() - interval '2 hours' WHERE worker_id = 'old'",
  );
  expect(await purgeEnded(db, 3_600_000)).toBe(1);
  const left = await db.query<{ worker_id: string }>(
    "SELECT worker_id FROM provisioner_workers ORDER BY worker_id",
  );
  expect(left.rows.map((r) => r.worker_id)).toEqual(["live"]);
  expect(await insert("later", 1)).toMatchObject({ created: true });
});
