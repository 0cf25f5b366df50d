import type { Database } from "@wharf/db";
import type { StepStatusCode } from "@wharf/proto";
import { type BuildId, formatBuildId, parseBuildId } from "@wharf/proto/build-id";

/** A step or build status as the worker names it (`wharf.worker.v1` StepStatusCode, without UNSPECIFIED). */
export type StatusWord = Exclude<keyof typeof StepStatusCode, "UNSPECIFIED">;

/** One row of a build's step table; times are epoch ms, null until the step got there. */
export interface StepRecord {
  stepId: number;
  stage: string;
  name: string;
  status: StatusWord;
  attempts: number;
  /** Exit code of the last attempt; null while none ended (or the step never ran). */
  exitCode: number | null;
  startedAt: number | null;
  finishedAt: number | null;
}

/** A relayed build as the aggregator last saw it on its worker. */
export interface BuildRecord {
  buildId: BuildId;
  workerId: string;
  status: StatusWord;
  finished: boolean;
  message: string;
  startedAt: number | null;
  finishedAt: number | null;
  /** wharf-api's `gitBranch` and `projectId` of the build, when it said. */
  branch?: string | null;
  projectId?: number | null;
}

export interface RecordedBuild extends BuildRecord {
  /** When the aggregator last wrote the row (epoch ms). */
  updatedAt: number;
}

/** `build_ref` is text (migration 000002): the build id as formatBuildId writes it. */
type BuildRow = {
  build_ref: string;
  worker_id: string;
  status: StatusWord;
  finished: boolean;
  message: string;
  started_at: Date | null;
  finished_at: Date | null;
  git_branch: string | null;
  project_id: string | null;
  updated_at: Date;
};
type StepRow = {
  step_id: number;
  stage: string;
  name: string;
  status: StatusWord;
  attempts: number;
  exit_code: number | null;
  started_at: Date | null;
  finished_at: Date | null;
};

const ms = (d: Date | null) => (d ? d.getTime() : null);
const date = (t: number | null) => (t === null ? null : new Date(t));

function buildOf(r: BuildRow): RecordedBuild {
  return {
    buildId: parseBuildId(r.build_ref, "relay_build.build_ref"),
    workerId: r.worker_id,
    status: r.status,
    finished: r.finished,
    message: r.message,
    startedAt: ms(r.started_at),
    finishedAt: ms(r.finished_at),
    branch: r.git_branch,
    // bigint comes back as text from pg
    projectId: r.project_id === null ? null : Number(r.project_id),
    updatedAt: r.updated_at.getTime(),
  };
}

/**
 * The builds this aggregator relayed and their step tables (migration 000002): what the build
 * page shows once the worker is released, and what the build list lists. Each save writes the
 * worker's current truth whole, so saves need no lease: a replica that writes late writes the
 * same facts (status only moves forwards on the worker).
 */
export class BuildRecordStore {
  constructor(private readonly db: Database) {}

  async save(build: BuildRecord, steps: readonly StepRecord[]): Promise<void> {
    await this.db.withTransaction(async (tx) => {
      await tx.query(
        `INSERT INTO relay_build (build_ref, worker_id, status, finished, message, started_at, finished_at,
                                  git_branch, project_id)
              VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (build_ref) DO UPDATE
                SET worker_id = $2, status = $3, finished = $4, message = $5,
                    started_at = $6, finished_at = $7, git_branch = $8, project_id = $9, updated_at = now()`,
        [
          formatBuildId(build.buildId),
          build.workerId,
          build.status,
          build.finished,
          build.message,
          date(build.startedAt),
          date(build.finishedAt),
          build.branch ?? null,
          build.projectId ?? null,
        ],
      );
      for (const s of steps) {
        await tx.query(
          `INSERT INTO relay_build_step
                  (build_ref, step_id, stage, name, status, attempts, exit_code, started_at, finished_at)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
           ON CONFLICT (build_ref, step_id) DO UPDATE
                  SET stage = $3, name = $4, status = $5, attempts = $6, exit_code = $7,
                      started_at = $8, finished_at = $9`,
          [
            formatBuildId(build.buildId),
            s.stepId,
            s.stage,
            s.name,
            s.status,
            s.attempts,
            s.exitCode,
            date(s.startedAt),
            date(s.finishedAt),
          ],
        );
      }
    });
  }

  /** The build and its steps in step order, or null when this aggregator never relayed it. */
  async get(buildId: BuildId): Promise<{ build: RecordedBuild; steps: StepRecord[] } | null> {
    const buildRef = formatBuildId(buildId);
    const { rows } = await this.db.query<BuildRow>("SELECT * FROM relay_build WHERE build_ref = $1", [
      buildRef,
    ]);
    const row = rows[0];
    if (!row) return null;
    const steps = await this.db.query<StepRow>(
      "SELECT * FROM relay_build_step WHERE build_ref = $1 ORDER BY step_id",
      [buildRef],
    );
    return {
      build: buildOf(row),
      steps: steps.rows.map((s) => ({
        stepId: s.step_id,
        stage: s.stage,
        name: s.name,
        status: s.status,
        attempts: s.attempts,
        exitCode: s.exit_code,
        startedAt: ms(s.started_at),
        finishedAt: ms(s.finished_at),
      })),
    };
  }

  /** The builds this aggregator began relaying last first; only those in `statuses` when given. */
  async recent(opts: { statuses?: readonly StatusWord[]; limit: number }): Promise<RecordedBuild[]> {
    const filtered = opts.statuses && opts.statuses.length > 0;
    const { rows } = await this.db.query<BuildRow>(
      `SELECT * FROM relay_build
        ${filtered ? "WHERE status = ANY($2::text[])" : ""}
        ORDER BY created_at DESC, build_ref DESC
        LIMIT $1`,
      filtered ? [opts.limit, opts.statuses] : [opts.limit],
    );
    return rows.map(buildOf);
  }
}
