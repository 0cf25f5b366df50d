import path from "node:path";
import { fileURLToPath } from "node:url";
import { type Database, migrate } from "@wharf/db";
import type { BuildId } from "@wharf/proto/build-id";
import type { BuildRequest } from "../build-request.js";
import type { Worker, WorkerStatus } from "../schemas.js";

/** A provisioner_workers row as pg/PGlite return it. */
export interface WorkerRow {
  worker_id: string;
  name: string;
  seq: number;
  instance: string;
  build_ref: BuildId;
  project_id: number | null;
  status: WorkerStatus;
  request: BuildRequest;
  backend: string;
  backend_scope: string | null;
  address: string | null;
  end_reason: "finished" | "lost" | "deleted" | null;
  message: string | null;
  created_at: Date;
  queued_at: Date;
  claimed_at: Date | null;
  started_at: Date | null;
  finished_at: Date | null;
  deleted_at: Date | null;
}

export const WORKER_COLUMNS = `worker_id, name, seq, instance, build_ref, project_id, status, request, backend,
  backend_scope, address, end_reason, message, created_at, queued_at, claimed_at, started_at, finished_at,
  deleted_at`;

const iso = (d: Date | null): string | null => (d ? new Date(d).toISOString() : null);

/** The API's view of a row. */
export function toWorker(row: WorkerRow): Worker {
  return {
    workerId: row.worker_id,
    name: row.name,
    status: row.status,
    createdAt: iso(row.created_at) as string,
    buildRef: row.build_ref,
    instance: row.instance,
    projectId: row.project_id,
    address: row.address,
    queuedAt: iso(row.queued_at) as string,
    startedAt: iso(row.started_at),
    finishedAt: iso(row.finished_at),
    backend: row.backend,
    message: row.message,
  };
}

/**
 * PGlite hands jsonb back parsed, pg too; a string only if someone stored text. The build id is
 * the column's: requests stored before it was named `buildId` in the request hold `buildRef`.
 */
export function normaliseRow(row: WorkerRow): WorkerRow {
  if (typeof row.request === "string") row.request = JSON.parse(row.request) as BuildRequest;
  row.request.buildId = row.build_ref;
  return row;
}

const migrationsDir = path.join(path.dirname(fileURLToPath(import.meta.url)), "../../migrations");

/** Applies the provisioner's migrations (safe when replicas start at once: see `migrate`). */
export function migrateProvisioner(db: Database): Promise<number> {
  return migrate(db, { component: "provisioner", dir: migrationsDir });
}
