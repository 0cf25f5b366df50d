import type { BuildId } from "@wharf/proto/build-id";
import { type WharfApiBuildStatus, wharfApiStatusId } from "@wharf/proto/wharf-api";
import type { BuildSink, SinkArtifact, SinkBuild, SinkLogLine } from "./build-sink.js";

export interface MemoryStatus {
  buildId: BuildId;
  status: WharfApiBuildStatus;
  message: string;
  timestamp: string;
}

export interface MemoryArtifact extends SinkArtifact {
  bytes: Buffer;
  /** True when the upload came without Content-Length, i.e. streamed in chunks. */
  chunked: boolean;
}

/** Keeps everything in arrays, in arrival order: for test doubles that assert on it. */
export class MemorySink implements BuildSink {
  readonly logs: (SinkLogLine & { receivedAt: number })[] = [];
  readonly statuses: MemoryStatus[] = [];
  readonly artifacts: MemoryArtifact[] = [];
  readonly builds = new Map<number, SinkBuild>();

  private touch(buildId: BuildId): SinkBuild {
    let b = this.builds.get(buildId);
    if (!b) {
      b = { buildId, status: "Scheduling" };
      this.builds.set(buildId, b);
    }
    return b;
  }

  async ensureBuild(buildId: BuildId): Promise<void> {
    this.touch(buildId);
  }

  async appendLogs(lines: Omit<SinkLogLine, "logId">[]): Promise<void> {
    const now = Date.now();
    let touched: number | undefined;
    for (const l of lines) {
      if (l.buildId !== touched) {
        this.touch(l.buildId);
        touched = l.buildId;
      }
      // A literal, not `{ ...l }`: spreading made a slow-shaped copy, ~3× the cost per line at 1M lines.
      this.logs.push({
        buildId: l.buildId,
        workerLogId: l.workerLogId,
        workerStepId: l.workerStepId,
        timestamp: l.timestamp,
        message: l.message,
        logId: this.logs.length + 1,
        receivedAt: now,
      });
    }
  }

  async setStatus(buildId: BuildId, status: WharfApiBuildStatus, message: string, timestamp: string) {
    const b = this.touch(buildId);
    b.status = status;
    this.statuses.push({ buildId, status, message, timestamp });
    return b;
  }

  async addArtifact(
    buildId: BuildId,
    fileName: string,
    bytes: Buffer,
    streamed: boolean,
  ): Promise<SinkArtifact> {
    this.touch(buildId);
    const a = {
      artifactId: this.artifacts.length + 1,
      buildId,
      fileName,
      size: bytes.length,
      bytes,
      chunked: streamed,
    };
    this.artifacts.push(a);
    return { artifactId: a.artifactId, buildId, fileName, size: a.size };
  }

  async getBuild(buildId: BuildId) {
    return this.builds.get(buildId);
  }

  async listBuilds(wanted: number[]) {
    return [...this.builds.values()].filter(
      (b) => wanted.length === 0 || wanted.includes(wharfApiStatusId(b.status)),
    );
  }

  async listLogs(buildId: BuildId, afterLogId = 0) {
    return this.logs.filter((l) => l.buildId === buildId && l.logId > afterLogId);
  }

  async listArtifacts(buildId: BuildId) {
    return this.artifacts
      .filter((a) => a.buildId === buildId)
      .map(({ artifactId, fileName, size }) => ({ artifactId, buildId, fileName, size }));
  }

  async readArtifact(buildId: BuildId, artifactId: number) {
    const a = this.artifacts[artifactId - 1];
    return a && a.buildId === buildId ? a.bytes : undefined;
  }
}
