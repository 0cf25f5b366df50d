import type { Database } from "@wharf/db";
import { normaliseRow, WORKER_COLUMNS, type WorkerRow } from "./worker-row.js";

/**
 * Moves up to the number of free slots of the oldest Queued rows to Scheduling,
 * owned by `scope`, and returns them in FIFO order.
 *
 * Slots are counted per backend scope (one Docker engine, one host's local
 * workers): that is the resource the limit protects. Replicas sharing a scope
 * count and claim under one advisory lock, so two cannot both take its last
 * slot; `SKIP LOCKED` lets replicas of other scopes claim other rows meanwhile
 * instead of waiting, and a row claimed by one is never seen as Queued by another.
 */
export async function claimQueued(db: Database, maxWorkers: number, scope: string): Promise<WorkerRow[]> {
  return db.withTransaction(async (tx) => {
    await tx.query("SELECT pg_advisory_xact_lock(hashtext($1))", [`wharf_provisioner_slots:${scope}`]);
    const active = await tx.query<{ n: number }>(
      `SELECT count(*)::int8 AS n FROM provisioner_workers
       WHERE deleted_at IS NULL AND backend_scope = $1 AND status IN ('Scheduling', 'Initializing', 'Running')`,
      [scope],
    );
    const free = maxWorkers - (active.rows[0]?.n ?? 0);
    if (free <= 0) return [];
    // A materialized CTE: as a plain IN-subquery the planner may run the LIMIT
    // query more than once and claim more rows than there are free slots.
    const { rows } = await tx.query<WorkerRow>(
      `WITH next AS MATERIALIZED (
         SELECT worker_id FROM provisioner_workers
         WHERE status = 'Queued' AND deleted_at IS NULL
         ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED)
       UPDATE provisioner_workers w SET status = 'Scheduling', backend_scope = $2, claimed_at = now()
       FROM next WHERE w.worker_id = next.worker_id AND w.status = 'Queued'
       RETURNING ${WORKER_COLUMNS.replace(/(\w+)/g, "w.$1")}`,
      [free, scope],
    );
    return rows.map(normaliseRow).sort((a, b) => a.seq - b.seq);
  });
}
