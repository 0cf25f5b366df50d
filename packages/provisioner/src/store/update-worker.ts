import type { Queryable } from "@wharf/db";
import type { WorkerStatus } from "../schemas.js";

/**
 * State changes of a worker row. Each guards on the state it expects, so a
 * replica acting on stale knowledge (a row deleted or finished meanwhile)
 * changes nothing and learns so from the returned boolean.
 */

/**
 * GIT_TOKEN and VARS (which carry the build's inputs, password inputs among them; only the
 * worker's plan knows which) are kept in the row only while the worker may still have to be
 * started: the first transition past the queue drops them, so no stored row holds a secret
 * longer than the start.
 */
const WITHOUT_SECRETS = "request = request - 'gitToken' - 'vars'";

/** Scheduling → Initializing once the backend started the worker. */
export async function markStarted(db: Queryable, workerId: string, address: string): Promise<boolean> {
  const r = await db.query(
    `UPDATE provisioner_workers
     SET status = 'Initializing', address = $2, started_at = now(), ${WITHOUT_SECRETS}
     WHERE worker_id = $1 AND status = 'Scheduling' AND deleted_at IS NULL`,
    [workerId, address],
  );
  return r.rowCount > 0;
}

/**
 * Initializing → Running once the worker answers (it said so, or a probe found it). Returns
 * the row's instance and the seconds from its claim to now (the database's clock on both
 * ends), or null when the row was not Initializing: a row still Scheduling gets its address
 * from `markStarted` first.
 */
export async function markRunning(
  db: Queryable,
  workerId: string,
): Promise<{ instance: string; startSeconds: number } | null> {
  const r = await db.query<{ instance: string; start_seconds: number }>(
    `UPDATE provisioner_workers SET status = 'Running'
     WHERE worker_id = $1 AND status = 'Initializing' AND deleted_at IS NULL
     RETURNING instance, extract(epoch FROM now() - COALESCE(claimed_at, queued_at))::float8 AS start_seconds`,
    [workerId],
  );
  const row = r.rows[0];
  return row ? { instance: row.instance, startSeconds: Number(row.start_seconds) } : null;
}

/** An active worker ended: its build finished, or it was lost (never reported a result). */
export async function markEnded(
  db: Queryable,
  workerId: string,
  status: Extract<WorkerStatus, "Success" | "Failed" | "Cancelled">,
  reason: "finished" | "lost",
  message: string | null,
): Promise<boolean> {
  const r = await db.query(
    `UPDATE provisioner_workers
     SET status = $2, end_reason = $3, message = $4, finished_at = now(), ${WITHOUT_SECRETS}
     WHERE worker_id = $1 AND status IN ('Queued', 'Scheduling', 'Initializing', 'Running')`,
    [workerId, status, reason, message],
  );
  return r.rowCount > 0;
}

/** A claim whose worker never started goes back to the queue, keeping its place. */
export async function requeue(db: Queryable, workerId: string): Promise<boolean> {
  const r = await db.query(
    `UPDATE provisioner_workers SET status = 'Queued', backend_scope = NULL, claimed_at = NULL
     WHERE worker_id = $1 AND status = 'Scheduling' AND deleted_at IS NULL`,
    [workerId],
  );
  return r.rowCount > 0;
}

/**
 * DELETE: hides the row from lists, frees its slot and remembers why. An active worker ends
 * Cancelled, or with `outcome` when its build had ended (end reason `finished`).
 */
export async function markDeleted(
  db: Queryable,
  workerId: string,
  outcome?: Extract<WorkerStatus, "Success" | "Failed" | "Cancelled">,
): Promise<boolean> {
  const r = await db.query(
    `UPDATE provisioner_workers
     SET deleted_at = now(), ${WITHOUT_SECRETS},
         end_reason = COALESCE(end_reason, CASE WHEN $2::text IS NULL THEN 'deleted' ELSE 'finished' END),
         finished_at = COALESCE(finished_at, now()),
         status = CASE WHEN status IN ('Success', 'Failed', 'Cancelled') THEN status
                       ELSE COALESCE($2::text, 'Cancelled') END
     WHERE worker_id = $1 AND deleted_at IS NULL`,
    [workerId, outcome ?? null],
  );
  return r.rowCount > 0;
}

/** Rows that ended more than `retentionMs` ago are forgotten (and a repeated POST may run again). */
export async function purgeEnded(db: Queryable, retentionMs: number): Promise<number> {
  const r = await db.query(
    `DELETE FROM provisioner_workers
     WHERE finished_at < now() - make_interval(secs => $1::double precision / 1000)
       AND status IN ('Success', 'Failed', 'Cancelled')`,
    [retentionMs],
  );
  return r.rowCount;
}
