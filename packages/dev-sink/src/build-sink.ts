import type { WharfApiBuildStatus } from "@wharf/proto/wharf-api";

/**
 * Where a wharf-api-compatible server keeps what it receives. The protocol side
 * (`startWharfApiServer`) is shared; storage differs: memory for test doubles,
 * the embedded database for the dev sink of `wharf up`.
 */
export interface SinkLogLine {
  /** The sink's own id, dense per sink (wharf-api's logId). */
  logId: number;
  buildId: number;
  workerLogId: number;
  workerStepId: number;
  timestamp: Date;
  message: string;
}

export interface SinkBuild {
  buildId: number;
  status: WharfApiBuildStatus;
  /** Extra facts the dev sink keeps (repo, branch, stage); empty for test doubles. */
  gitUrl?: string;
  gitBranch?: string;
  stage?: string;
  environment?: string;
}

export interface SinkArtifact {
  artifactId: number;
  buildId: number;
  fileName: string;
  size: number;
}

export interface BuildSink {
  /** Creates the build as Scheduling when unknown (wharf-api accepts results for builds it created). */
  ensureBuild(buildId: number): Promise<void>;
  /** Stores lines in order; called with small batches as they arrive on a stream. */
  appendLogs(lines: Omit<SinkLogLine, "logId">[]): Promise<void>;
  setStatus(
    buildId: number,
    status: WharfApiBuildStatus,
    message: string,
    timestamp: string,
  ): Promise<SinkBuild>;
  /** `streamed`: the upload came without Content-Length (chunked), as a streaming client sends it. */
  addArtifact(buildId: number, fileName: string, bytes: Buffer, streamed: boolean): Promise<SinkArtifact>;
  getBuild(buildId: number): Promise<SinkBuild | undefined>;
  listBuilds(statusIds: number[]): Promise<SinkBuild[]>;
  /** Lines of the build in order, those with logId > afterLogId (0 = all). */
  listLogs(buildId: number, afterLogId?: number): Promise<SinkLogLine[]>;
  listArtifacts(buildId: number): Promise<SinkArtifact[]>;
  readArtifact(buildId: number, artifactId: number): Promise<Buffer | undefined>;
}
