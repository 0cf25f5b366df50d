import path from "node:path";
import { fileURLToPath } from "node:url";
import { type Database, migrate } from "@wharf/db";
import type { BuildId } from "@wharf/proto/build-id";
import { WHARF_API_BUILD_STATUSES, type WharfApiBuildStatus, wharfApiStatusId } from "@wharf/proto/wharf-api";
import type { BuildSink, SinkArtifact, SinkBuild, SinkLogLine } from "./build-sink.js";

const migrationsDir = path.join(path.dirname(fileURLToPath(import.meta.url)), "../migrations");

interface BuildRow {
  build_id: number;
  status: WharfApiBuildStatus;
  git_url: string | null;
  git_branch: string | null;
  stage: string | null;
  environment: string | null;
}

function toBuild(r: BuildRow): SinkBuild {
  return {
    buildId: r.build_id,
    status: r.status,
    ...(r.git_url ? { gitUrl: r.git_url } : {}),
    ...(r.git_branch ? { gitBranch: r.git_branch } : {}),
    ...(r.stage ? { stage: r.stage } : {}),
    ...(r.environment ? { environment: r.environment } : {}),
  };
}

const buildColumns = "build_id, status, git_url, git_branch, stage, environment";

/** The dev sink's storage: builds, logs and artifacts in the embedded (or real) database. */
export class DbSink implements BuildSink {
  private constructor(private readonly db: Database) {}

  static async open(db: Database): Promise<DbSink> {
    await migrate(db, { component: "dev-sink", dir: migrationsDir });
    return new DbSink(db);
  }

  async createBuild(facts: Omit<SinkBuild, "buildId" | "status">): Promise<SinkBuild> {
    const { rows } = await this.db.query<BuildRow>(
      `INSERT INTO dev_builds (git_url, git_branch, stage, environment) VALUES ($1, $2, $3, $4)
       RETURNING ${buildColumns}`,
      [facts.gitUrl ?? null, facts.gitBranch ?? null, facts.stage ?? null, facts.environment ?? null],
    );
    return toBuild(rows[0] as BuildRow);
  }

  async ensureBuild(buildId: BuildId): Promise<void> {
    // Builds normally come from createBuild; a worker started by hand still gets its results kept.
    await this.db.query("INSERT INTO dev_builds (build_id) VALUES ($1) ON CONFLICT (build_id) DO NOTHING", [
      buildId,
    ]);
  }

  async appendLogs(lines: Omit<SinkLogLine, "logId">[]): Promise<void> {
    if (lines.length === 0) return;
    for (const id of new Set(lines.map((l) => l.buildId))) await this.ensureBuild(id);
    await this.db.query(
      `INSERT INTO dev_build_logs (build_id, worker_log_id, worker_step_id, ts, message)
       SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::timestamptz[], $5::text[])`,
      [
        lines.map((l) => l.buildId),
        lines.map((l) => l.workerLogId),
        lines.map((l) => l.workerStepId),
        lines.map((l) => l.timestamp.toISOString()),
        lines.map((l) => l.message),
      ],
    );
  }

  async setStatus(buildId: BuildId, status: WharfApiBuildStatus, message: string): Promise<SinkBuild> {
    await this.ensureBuild(buildId);
    const { rows } = await this.db.query<BuildRow>(
      `UPDATE dev_builds SET status = $2, status_message = $3, updated_at = now() WHERE build_id = $1
       RETURNING ${buildColumns}`,
      [buildId, status, message],
    );
    return toBuild(rows[0] as BuildRow);
  }

  async addArtifact(buildId: BuildId, fileName: string, bytes: Buffer): Promise<SinkArtifact> {
    await this.ensureBuild(buildId);
    const { rows } = await this.db.query<{ artifact_id: number }>(
      "INSERT INTO dev_build_artifacts (build_id, file_name, size, bytes) VALUES ($1, $2, $3, $4) RETURNING artifact_id",
      [buildId, fileName, bytes.length, bytes],
    );
    return { artifactId: rows[0]?.artifact_id ?? 0, buildId, fileName, size: bytes.length };
  }

  async getBuild(buildId: BuildId): Promise<SinkBuild | undefined> {
    const { rows } = await this.db.query<BuildRow>(
      `SELECT ${buildColumns} FROM dev_builds WHERE build_id = $1`,
      [buildId],
    );
    return rows[0] ? toBuild(rows[0]) : undefined;
  }

  async listBuilds(wanted: number[]): Promise<SinkBuild[]> {
    const names = WHARF_API_BUILD_STATUSES.filter(
      (s) => wanted.length === 0 || wanted.includes(wharfApiStatusId(s)),
    );
    const { rows } = await this.db.query<BuildRow>(
      `SELECT ${buildColumns} FROM dev_builds WHERE status = ANY($1::text[]) ORDER BY build_id`,
      [names],
    );
    return rows.map(toBuild);
  }

  async listLogs(buildId: BuildId, afterLogId = 0): Promise<SinkLogLine[]> {
    const { rows } = await this.db.query<{
      log_id: number;
      worker_log_id: number;
      worker_step_id: number;
      ts: Date;
      message: string;
    }>(
      `SELECT log_id, worker_log_id, worker_step_id, ts, message FROM dev_build_logs
       WHERE build_id = $1 AND log_id > $2 ORDER BY log_id`,
      [buildId, afterLogId],
    );
    return rows.map((r) => ({
      logId: r.log_id,
      buildId,
      workerLogId: r.worker_log_id,
      workerStepId: r.worker_step_id,
      timestamp: new Date(r.ts),
      message: r.message,
    }));
  }

  async listArtifacts(buildId: BuildId): Promise<SinkArtifact[]> {
    const { rows } = await this.db.query<{ artifact_id: number; file_name: string; size: number }>(
      "SELECT artifact_id, file_name, size FROM dev_build_artifacts WHERE build_id = $1 ORDER BY artifact_id",
      [buildId],
    );
    return rows.map((r) => ({ artifactId: r.artifact_id, buildId, fileName: r.file_name, size: r.size }));
  }

  async readArtifact(buildId: BuildId, artifactId: number): Promise<Buffer | undefined> {
    const { rows } = await this.db.query<{ bytes: Uint8Array }>(
      "SELECT bytes FROM dev_build_artifacts WHERE build_id = $1 AND artifact_id = $2",
      [buildId, artifactId],
    );
    return rows[0] ? Buffer.from(rows[0].bytes) : undefined;
  }
}
