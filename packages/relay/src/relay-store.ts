import path from "node:path";
import { fileURLToPath } from "node:url";
import { type Database, migrate } from "@wharf/db";
import type { BuildId } from "@wharf/proto/build-id";
import type { WharfApiBuildStatus } from "@wharf/proto/wharf-api";

/** The relay's migrations (packages/relay/migrations). */
export const relayMigrations = {
  component: "relay",
  dir: path.join(path.dirname(fileURLToPath(import.meta.url)), "../migrations"),
};

export function migrateRelay(db: Database): Promise<number> {
  return migrate(db, relayMigrations);
}

/** How far relaying one worker got; every field is what wharf-api acknowledged. */
export interface Checkpoint {
  workerId: string;
  buildId: BuildId;
  lastLogId: number;
  deliveredLines: number;
  lastEventId: number;
  sentStatus: WharfApiBuildStatus | null;
  lastArtifactId: number;
  failureReported: boolean;
  finished: boolean;
}

type Row = {
  worker_id: string;
  build_id: number;
  last_log_id: number;
  delivered_lines: number;
  last_event_id: number;
  sent_status: WharfApiBuildStatus | null;
  last_artifact_id: number;
  failure_reported: boolean;
  finished_at: Date | null;
};

/** Thrown when a checkpoint write finds that this replica no longer holds the worker's lease. */
export class LeaseLostError extends Error {
  override readonly name = "LeaseLostError";
  constructor(readonly workerId: string) {
    super(`lease on worker ${workerId} was lost; another aggregator relays it now`);
  }
}

export type CheckpointUpdate = Partial<
  Pick<
    Checkpoint,
    "lastLogId" | "deliveredLines" | "lastEventId" | "sentStatus" | "lastArtifactId" | "failureReported"
  >
> & { finished?: boolean };

const columns: Record<keyof Omit<CheckpointUpdate, "finished">, string> = {
  lastLogId: "last_log_id",
  deliveredLines: "delivered_lines",
  lastEventId: "last_event_id",
  sentStatus: "sent_status",
  lastArtifactId: "last_artifact_id",
  failureReported: "failure_reported",
};

/**
 * Checkpoints, fenced by the lease: a write succeeds only while `holder` holds
 * an unexpired lease on the worker, so a replica that stalled past its lease
 * cannot move a checkpoint its successor already relies on.
 */
export class CheckpointStore {
  constructor(
    private readonly db: Database,
    private readonly holder: string,
  ) {}

  async load(workerId: string, buildId: BuildId): Promise<Checkpoint> {
    await this.db.query(
      "INSERT INTO relay_checkpoint (worker_id, build_id) VALUES ($1, $2) ON CONFLICT (worker_id) DO NOTHING",
      [workerId, buildId],
    );
    const { rows } = await this.db.query<Row>("SELECT * FROM relay_checkpoint WHERE worker_id = $1", [
      workerId,
    ]);
    const r = rows[0];
    if (!r) throw new Error(`checkpoint row for worker ${workerId} vanished`);
    return {
      workerId: r.worker_id,
      buildId: r.build_id,
      lastLogId: r.last_log_id,
      deliveredLines: r.delivered_lines,
      lastEventId: r.last_event_id,
      sentStatus: r.sent_status,
      lastArtifactId: r.last_artifact_id,
      failureReported: r.failure_reported,
      finished: r.finished_at !== null,
    };
  }

  /** Workers whose relaying is complete (released and removed). */
  async isFinished(workerId: string): Promise<boolean> {
    const { rows } = await this.db.query<{ finished: boolean }>(
      "SELECT finished_at IS NOT NULL AS finished FROM relay_checkpoint WHERE worker_id = $1",
      [workerId],
    );
    return rows[0]?.finished ?? false;
  }

  async save(workerId: string, update: CheckpointUpdate): Promise<void> {
    const sets: string[] = ["updated_at = now()"];
    const params: unknown[] = [workerId, this.holder];
    for (const [key, column] of Object.entries(columns) as [keyof typeof columns, string][]) {
      if (update[key] === undefined) continue;
      params.push(update[key]);
      sets.push(`${column} = $${params.length}`);
    }
    if (update.finished) sets.push("finished_at = now()");
    const r = await this.db.query(
      `UPDATE relay_checkpoint SET ${sets.join(", ")}
        WHERE worker_id = $1
          AND EXISTS (SELECT 1 FROM relay_lease l
                       WHERE l.worker_id = $1 AND l.holder = $2 AND l.expires_at > now())`,
      params,
    );
    if (r.rowCount === 0) throw new LeaseLostError(workerId);
  }
}
