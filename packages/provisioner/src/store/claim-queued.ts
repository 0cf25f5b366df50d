import type { Database } from "@wharf/db";
import { normaliseRow, WORKER_COLUMNS, type WorkerRow } from "./worker-row.js";

// One advisory lock for all replicas: the free-slot count and the claim happen
// under it, so two replicas cannot both see the last free slot.
const SLOTS_LOCK = "wharf_provisioner_slots";

/**
 * Moves up to the number of free slots of the oldest Queued rows to Scheduling,
 * owned by `scope`, and returns them in FIFO order. `SKIP LOCKED` keeps a replica
 * from waiting on rows another one is claiming or deleting right now.
 */
export async function claimQueued(db: Database, maxWorkers: number, scope: string): Promise<WorkerRow[]> {
  return db.withTransaction(async (tx) => {
    await tx.query("SELECT pg_advisory_xact_lock(hashtext($1))", [SLOTS_LOCK]);
    const active = await tx.query<{ n: number }>(
      `SELECT count(*)::int8 AS n FROM provisioner_workers
       WHERE deleted_at IS NULL AND status IN ('Scheduling', 'Initializing', 'Running')`,
    );
    const free = maxWorkers - (active.rows[0]?.n ?? 0);
    if (free <= 0) return [];
    const { rows } = await tx.query<WorkerRow>(
      `UPDATE provisioner_workers SET status = 'Scheduling', backend_scope = $2, claimed_at = now()
       WHERE worker_id IN (
         SELECT worker_id FROM provisioner_workers
         WHERE status = 'Queued' AND deleted_at IS NULL
         ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED)
       RETURNING ${WORKER_COLUMNS}`,
      [free, scope],
    );
    return rows.map(normaliseRow).sort((a, b) => a.seq - b.seq);
  });
}
