import type { BuildId } from "@wharf/proto/build-id";
import type { WharfApiBuildStatus } from "@wharf/proto/wharf-api";

/**
 * Where a wharf-api-compatible server keeps what it receives. The protocol side
 * (`startWharfApiServer`) is shared; storage differs: memory for test doubles,
 * the embedded database for the dev sink of `wharf up`.
 */
export interface SinkLogLine {
  /** The sink's own id, dense per sink (wharf-api's logId). */
  logId: number;
  buildId: BuildId;
  workerLogId: number;
  workerStepId: number;
  timestamp: Date;
  message: string;
}

export interface SinkBuild {
  buildId: BuildId;
  status: WharfApiBuildStatus;
  /** Extra facts the dev sink keeps (repo, branch, stage); empty for test doubles. */
  gitUrl?: string;
  gitBranch?: string;
  stage?: string;
  environment?: string;
}

export interface SinkArtifact {
  artifactId: number;
  buildId: BuildId;
  fileName: string;
  size: number;
}

export interface BuildSink {
  /** Creates the build as Scheduling when unknown (wharf-api accepts results for builds it created). */
  ensureBuild(buildId: BuildId): Promise<void>;
  /** Stores lines in order; called with small batches as they arrive on a stream. */
  appendLogs(lines: Omit<SinkLogLine, "logId">[]): Promise<void>;
  setStatus(
    buildId: BuildId,
    status: WharfApiBuildStatus,
    message: string,
    timestamp: string,
  ): Promise<SinkBuild>;
  /** `streamed`: the upload came without Content-Length (chunked), as a streaming client sends it. */
  addArtifact(buildId: BuildId, fileName: string, bytes: Buffer, streamed: boolean): Promise<SinkArtifact>;
  getBuild(buildId: BuildId): Promise<SinkBuild | undefined>;
  listBuilds(statusIds: number[]): Promise<SinkBuild[]>;
  /** Lines of the build in order, those with logId > afterLogId (0 = all). */
  listLogs(buildId: BuildId, afterLogId?: number): Promise<SinkLogLine[]>;
  listArtifacts(buildId: BuildId): Promise<SinkArtifact[]>;
  readArtifact(buildId: BuildId, artifactId: number): Promise<Buffer | undefined>;
}
