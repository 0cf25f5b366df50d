import type { Queryable } from "@wharf/db";
import type { BuildId } from "@wharf/proto/build-id";
import type { WorkerStatus } from "../schemas.js";
import { normaliseRow, WORKER_COLUMNS, type WorkerRow } from "./worker-row.js";

export interface WorkerFilter {
  statuses?: WorkerStatus[];
  instance?: string;
  buildId?: BuildId;
  /** Only rows of this backend scope. */
  scope?: string;
  /** Include deleted rows (default: no). */
  includeDeleted?: boolean;
  workerIds?: string[];
}

/** Workers matching every given filter, oldest first. */
export async function findWorkers(db: Queryable, filter: WorkerFilter = {}): Promise<WorkerRow[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  const add = (sql: string, value: unknown) => {
    params.push(value);
    where.push(sql.replace("?", `$${params.length}`));
  };
  if (!filter.includeDeleted) where.push("deleted_at IS NULL");
  if (filter.statuses) add("status = ANY(?::text[])", filter.statuses);
  if (filter.instance !== undefined) add("instance = ?", filter.instance);
  if (filter.buildId !== undefined) add("build_ref = ?", filter.buildId);
  if (filter.scope !== undefined) add("backend_scope = ?", filter.scope);
  if (filter.workerIds) add("worker_id = ANY(?::text[])", filter.workerIds);
  const { rows } = await db.query<WorkerRow>(
    `SELECT ${WORKER_COLUMNS} FROM provisioner_workers
     ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY seq`,
    params,
  );
  return rows.map(normaliseRow);
}

export async function getWorker(db: Queryable, workerId: string): Promise<WorkerRow | undefined> {
  const rows = await findWorkers(db, { workerIds: [workerId] });
  return rows[0];
}

/**
 * The newest row per build ref (live rows before deleted ones), for the
 * missing-builds answer. `instance` undefined = any instance.
 */
export async function latestWorkersForBuilds(
  db: Queryable,
  buildIds: BuildId[],
  instance: string | undefined,
): Promise<Map<number, WorkerRow>> {
  const { rows } = await db.query<WorkerRow>(
    `SELECT DISTINCT ON (build_ref) ${WORKER_COLUMNS} FROM provisioner_workers
     WHERE build_ref = ANY($1::int8[]) AND ($2::text IS NULL OR instance = $2)
     ORDER BY build_ref, (deleted_at IS NULL) DESC, seq DESC`,
    [buildIds, instance ?? null],
  );
  return new Map(rows.map((r) => [r.build_ref, normaliseRow(r)]));
}
