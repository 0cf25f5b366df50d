import type { Queryable } from "@wharf/db";
import type { BuildRequest } from "../build-request.js";
import { normaliseRow, WORKER_COLUMNS, type WorkerRow } from "./worker-row.js";

export interface InsertWorkerInput {
  workerId: string;
  name: string;
  backend: string;
  request: BuildRequest;
  /** How long a removed worker still answers a repeated POST of its build (the retention). */
  retentionMs: number;
}

/**
 * Queues a worker for a build, or returns the one that already exists for the same build ref
 * and instance: live, or removed within the retention (wharf-api retries, also after the
 * aggregator removed a finished worker, must not run the build a second time).
 */
export async function insertWorker(
  db: Queryable,
  input: InsertWorkerInput,
): Promise<{ row: WorkerRow; created: boolean }> {
  const { request } = input;
  const earlier = await db.query<WorkerRow>(
    `SELECT ${WORKER_COLUMNS} FROM provisioner_workers
     WHERE instance = $1 AND build_ref = $2 AND deleted_at > now() - make_interval(secs => $3::double precision / 1000)
     ORDER BY deleted_at DESC LIMIT 1`,
    [request.instance, request.buildId, input.retentionMs],
  );
  const removed = earlier.rows[0];
  if (removed) return { row: normaliseRow(removed), created: false };
  const inserted = await db.query<WorkerRow>(
    `INSERT INTO provisioner_workers (worker_id, name, instance, build_ref, project_id, status, request, backend)
     VALUES ($1, $2, $3, $4, $5, 'Queued', $6, $7)
     ON CONFLICT (instance, build_ref) WHERE deleted_at IS NULL DO NOTHING
     RETURNING ${WORKER_COLUMNS}`,
    [
      input.workerId,
      input.name,
      request.instance,
      request.buildId,
      request.projectId,
      JSON.stringify(request),
      input.backend,
    ],
  );
  const row = inserted.rows[0];
  if (row) return { row: normaliseRow(row), created: true };
  const existing = await db.query<WorkerRow>(
    `SELECT ${WORKER_COLUMNS} FROM provisioner_workers
     WHERE instance = $1 AND build_ref = $2 AND deleted_at IS NULL`,
    [request.instance, request.buildId],
  );
  const found = existing.rows[0];
  // Only reachable if the live row was deleted between the two statements: try once more.
  if (!found) return insertWorker(db, input);
  return { row: normaliseRow(found), created: false };
}
