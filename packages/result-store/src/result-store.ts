import { randomUUID } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type { Readable } from "node:stream";
import { copyWithDigest } from "./artifact-copy.js";
import { type BuildMeta, newBuildMeta, readBuildMeta, writeBuildMeta } from "./build-meta.js";
import { ChangeSignal } from "./change-signal.js";
import {
  ArtifactNotFoundError,
  BuildFinishedError,
  ResultStoreArgumentError,
  ResultStoreClosedError,
  ResultStoreError,
  ResultStoreWriteError,
} from "./errors.js";
import { EventFile } from "./event-file.js";
import { parseArtifactEvent, parseStatusEvent } from "./event-parsers.js";
import { fsyncDirSync, fsyncPath } from "./file-io.js";
import { DEFAULT_MAX_LINE_BYTES, LineEncoder } from "./line-encoder.js";
import { LogFile, logEntriesOf, type ReadCursor } from "./log-file.js";
import { type ProgressLine, ProgressLines } from "./progress-lines.js";
import {
  type ArtifactEvent,
  type BuildSummary,
  FINAL_STATUSES,
  isStepStatus,
  type LogEntry,
  type LogRecordBatch,
  type StatusEvent,
  type StepDeclaration,
  type StepStatus,
} from "./types.js";

export interface ResultStoreOptions {
  /** Stored on first open; reopening with a different ref is refused. */
  buildRef?: string;
  /** Values masked as `***` in every log line before it is stored (empty strings are ignored). */
  secrets?: string[];
  /** Longer lines are split into several (default 64 KiB of UTF-8). */
  maxLineBytes?: number;
  /** Upper bound of log record bytes one follower batch reads (default 1 MiB; a batch has at least one line). */
  maxBatchBytes?: number;
  /** How long appended lines may sit in the buffer before followers see them (default 5 ms). */
  flushIntervalMs?: number;
}

export interface FollowOptions {
  /** Aborting ends the iteration quietly. */
  signal?: AbortSignal;
}

export interface FollowLogsOptions extends FollowOptions {
  /** Upper bound of lines per batch (default 1000). */
  maxBatch?: number;
  /** Upper bound of record bytes per batch (default: the store's maxBatchBytes); one line always fits. */
  maxBatchBytes?: number;
}

const DEFAULT_MAX_BATCH = 1000;
const DEFAULT_MAX_BATCH_BYTES = 1024 * 1024;
const DEFAULT_FLUSH_INTERVAL_MS = 5;
const INCOMING_PREFIX = ".incoming-";

/**
 * Everything one build produced, append-only under one directory: log lines (logs.dat + logs.idx),
 * status events (status.jsonl), artifacts (artifacts.jsonl + artifacts/<id>) and build.json.
 * Ids are dense and start at 1; reopening a directory continues them. One process opens a
 * directory at a time. See README.md for the format and the guarantees.
 */
export class ResultStore {
  private readonly logChanged = new ChangeSignal();
  private readonly statusChanged = new ChangeSignal();
  private readonly artifactsChanged = new ChangeSignal();
  private readonly progress = new ProgressLines();
  private readonly latestStatus = new Map<number, StepStatus>();
  private readonly artifactCopies = new Set<Promise<unknown>>();
  private flushTimer: NodeJS.Timeout | undefined;
  private notifiedLogId: number;
  private activeReads = 0;
  private readsDrained: (() => void) | undefined;
  private finishing = false;
  private done = false;
  private closed = false;
  private failure: ResultStoreWriteError | undefined;

  private constructor(
    readonly dir: string,
    private readonly log: LogFile,
    private readonly statusFile: EventFile<StatusEvent>,
    private readonly artifactFile: EventFile<ArtifactEvent>,
    private readonly meta: BuildMeta,
    private readonly encoder: LineEncoder,
    private readonly maxBatchBytes: number,
    private readonly flushIntervalMs: number,
  ) {
    this.notifiedLogId = log.lastCommittedId;
    for (const e of statusFile.events) this.latestStatus.set(e.stepId, e.status);
    this.done = meta.finished;
  }

  static async open(dir: string, opts: ResultStoreOptions = {}): Promise<ResultStore> {
    const encoder = new LineEncoder(opts.secrets ?? [], opts.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES);
    const maxBatchBytes = positiveInt(opts.maxBatchBytes ?? DEFAULT_MAX_BATCH_BYTES, "maxBatchBytes");
    const flushIntervalMs = positiveInt(opts.flushIntervalMs ?? DEFAULT_FLUSH_INTERVAL_MS, "flushIntervalMs");
    const artifactsDir = path.join(dir, "artifacts");
    await fs.promises.mkdir(artifactsDir, { recursive: true });
    // Copies interrupted by a crash never got an id: nobody can refer to them.
    for (const name of await fs.promises.readdir(artifactsDir)) {
      if (name.startsWith(INCOMING_PREFIX))
        await fs.promises.rm(path.join(artifactsDir, name), { force: true });
    }
    const metaPath = path.join(dir, "build.json");
    let meta = readBuildMeta(metaPath);
    if (meta && opts.buildRef !== undefined && meta.buildRef !== opts.buildRef) {
      throw new ResultStoreArgumentError(
        `${dir} holds build ${JSON.stringify(meta.buildRef)}, not ${JSON.stringify(opts.buildRef)}`,
      );
    }
    if (!meta) {
      meta = newBuildMeta(opts.buildRef ?? "");
      writeBuildMeta(metaPath, meta);
    }
    const opened: { close(): void }[] = [];
    try {
      const log = LogFile.open(path.join(dir, "logs.dat"), path.join(dir, "logs.idx"), encoder.maxLineBytes);
      opened.push(log);
      const status = EventFile.open(path.join(dir, "status.jsonl"), parseStatusEvent);
      opened.push(status);
      const artifacts = EventFile.open(path.join(dir, "artifacts.jsonl"), parseArtifactEvent);
      return new ResultStore(dir, log, status, artifacts, meta, encoder, maxBatchBytes, flushIntervalMs);
    } catch (err) {
      for (const file of opened) file.close();
      throw err;
    }
  }

  /** True once finish() completed (durably); also after reopening a finished build. */
  get finished(): boolean {
    return this.done;
  }

  /**
   * Masks these values in every line appended from now on. The worker serves its store
   * before it has planned the build (so an aggregator can connect at once) and learns the
   * password inputs only then, before any step output exists.
   */
  addSecrets(secrets: readonly string[]): void {
    this.encoder.addSecrets(secrets);
  }

  /**
   * Stores `message` as one or more lines of step `stepId` and returns the logId of the last one.
   * See LineEncoder for splitting, escaping and masking. Each call is taken as whole lines: a chunk
   * that ends mid-line becomes a line of its own, so callers split streamed output at newlines.
   */
  appendLog(stepId: number, message: string | Buffer, timestamp: number = Date.now()): number {
    this.assertWritable();
    checkId(stepId, "stepId");
    checkTimestamp(timestamp);
    const lines = this.encoder.encode(message);
    let logId = 0;
    try {
      for (const line of lines) logId = this.log.append(stepId, timestamp, line);
    } catch (err) {
      throw this.fail(err);
    }
    this.notifyCommittedLogs();
    this.flushTimer ??= setTimeout(this.onFlushTimer, this.flushIntervalMs).unref();
    this.progress.lineAppended(stepId, logId, timestamp);
    return logId;
  }

  /**
   * Shows `partial` as step `stepId`'s unfinished progress line to live followers (see
   * ProgressLine), encoded like a line (masked, escaped); nothing is stored. Ignored once the
   * build is finishing, like anything a step prints after it ended.
   */
  setProgress(stepId: number, partial: string | Buffer, timestamp: number = Date.now()): void {
    if (this.finishing || this.done || this.closed || this.failure) return;
    checkId(stepId, "stepId");
    const message = this.encoder.encodeUnfinished(partial);
    this.progress.set({ stepId, afterLogId: this.log.lastId, timestamp, message });
  }

  /** The steps' progress lines now, then every change, until the build is finished. */
  followProgress(opts: FollowOptions = {}): AsyncIterable<ProgressLine> {
    return this.progress.follow(opts.signal);
  }

  /** Records a status change of a step (0 = the build) and returns its eventId. */
  appendStatus(stepId: number, status: StepStatus, timestamp: number = Date.now()): number {
    this.assertWritable();
    checkId(stepId, "stepId");
    checkTimestamp(timestamp);
    if (!isStepStatus(status)) throw new ResultStoreArgumentError(`unknown status ${JSON.stringify(status)}`);
    return this.recordStatus(stepId, status, timestamp);
  }

  /** Copies a file into the store (sha256 and size computed on the way) and publishes its event. */
  async addArtifact(stepId: number, name: string, sourcePath: string): Promise<ArtifactEvent> {
    this.assertWritable();
    checkId(stepId, "stepId");
    if (typeof name !== "string" || name === "" || name.length > 4096) {
      throw new ResultStoreArgumentError("artifact name must be a non-empty string of at most 4096 chars");
    }
    const copy = this.copyArtifact(stepId, name, sourcePath);
    this.artifactCopies.add(copy);
    try {
      return await copy;
    } finally {
      this.artifactCopies.delete(copy);
    }
  }

  private async copyArtifact(stepId: number, name: string, sourcePath: string): Promise<ArtifactEvent> {
    const artifactsDir = path.join(this.dir, "artifacts");
    const incoming = path.join(artifactsDir, `${INCOMING_PREFIX}${randomUUID()}`);
    let digest: { size: number; sha256: string };
    try {
      digest = await copyWithDigest(sourcePath, incoming);
    } catch (err) {
      await fs.promises.rm(incoming, { force: true });
      throw new ResultStoreError(`could not copy artifact ${JSON.stringify(name)} from ${sourcePath}`, {
        cause: err,
      });
    }
    if (this.closed) {
      await fs.promises.rm(incoming, { force: true });
      throw new ResultStoreClosedError("result store closed while the artifact was copied");
    }
    // The id is taken only now, so events are published in id order even when copies overlap.
    const event: ArtifactEvent = {
      artifactId: this.artifactFile.events.length + 1,
      stepId,
      name,
      ...digest,
      timestamp: Date.now(),
    };
    try {
      fs.renameSync(incoming, this.artifactPath(event.artifactId));
      fsyncDirSync(artifactsDir);
      this.artifactFile.append(event);
    } catch (err) {
      throw this.fail(err);
    }
    this.artifactsChanged.notify();
    return event;
  }

  /** Names the steps (stepId ≥ 1, unique) so the summary can list them. Replaces earlier calls. */
  setSteps(steps: StepDeclaration[]): void {
    this.assertWritable();
    const seen = new Set<number>();
    for (const s of steps) {
      checkId(s.stepId, "stepId");
      if (s.stepId === 0 || seen.has(s.stepId)) {
        throw new ResultStoreArgumentError(`step ids must be unique and >= 1, got ${s.stepId}`);
      }
      if (typeof s.stage !== "string" || typeof s.name !== "string") {
        throw new ResultStoreArgumentError(`step ${s.stepId}: stage and name must be strings`);
      }
      seen.add(s.stepId);
    }
    this.meta.steps = steps.map(({ stepId, stage, name }) => ({ stepId, stage, name }));
    this.saveMeta();
  }

  /** Records how a declared step ended (exit code of its last attempt; null when it never ran). */
  recordStepResult(stepId: number, r: { exitCode: number | null; attempts: number }): void {
    this.assertWritable();
    if (!this.meta.steps.some((s) => s.stepId === stepId)) {
      throw new ResultStoreArgumentError(`step ${stepId} was not declared with setSteps`);
    }
    if (r.exitCode !== null && !Number.isInteger(r.exitCode)) {
      throw new ResultStoreArgumentError(`exitCode must be an integer or null, got ${r.exitCode}`);
    }
    checkId(r.attempts, "attempts");
    this.meta.results[String(stepId)] = { exitCode: r.exitCode, attempts: r.attempts };
    this.saveMeta();
  }

  /**
   * Ends the build with a final status (SUCCESS, FAILED or CANCELLED): waits for artifact copies under
   * way, records a build (step 0) status event if the last one differs, makes everything durable, then
   * marks the build finished. Followers then drain what is left and end. Later appends throw.
   */
  async finish(status: StepStatus, message = ""): Promise<void> {
    this.assertWritable();
    if (!FINAL_STATUSES.includes(status)) {
      throw new ResultStoreArgumentError(`a build finishes with ${FINAL_STATUSES.join("|")}, not ${status}`);
    }
    this.finishing = true;
    await Promise.allSettled(this.artifactCopies);
    if (this.latestStatus.get(0) !== status) this.recordStatus(0, status, Date.now());
    await this.flush();
    Object.assign(this.meta, { finished: true, status, message: String(message) });
    this.saveMeta();
    this.done = true;
    this.wakeAll();
  }

  summary(): BuildSummary {
    const steps = this.meta.steps.map((s) => {
      const result = this.meta.results[String(s.stepId)];
      return {
        ...s,
        status: this.latestStatus.get(s.stepId) ?? "PENDING",
        exitCode: result?.exitCode ?? null,
        attempts: result?.attempts ?? 0,
      };
    });
    return {
      buildRef: this.meta.buildRef,
      status: (this.done ? this.meta.status : null) ?? this.latestStatus.get(0) ?? "PENDING",
      finished: this.done,
      message: this.meta.message,
      steps,
      lastLogId: this.log.lastId,
      lastEventId: this.statusFile.events.length,
      lastArtifactId: this.artifactFile.events.length,
    };
  }

  /**
   * Log lines with logId > afterLogId in order, in batches read from disk (at most maxBatch lines and
   * about maxBatchBytes each), then live ones as they are written; ends once the build is finished
   * and everything was yielded. Throws ResultStoreClosedError if the store closes before that.
   */
  followLogs(afterLogId: number, opts: FollowLogsOptions = {}): AsyncIterable<LogEntry[]> {
    return decodedBatches(this.followLogRecords(afterLogId, opts));
  }

  /**
   * The batches of followLogs (same bounds, same end), as the records read from disk rather than
   * decoded lines: for a server that sends the messages on as they are stored (see LogRecordBatch).
   * A batch's buffers are its own; the store never reuses them.
   */
  followLogRecords(afterLogId: number, opts: FollowLogsOptions = {}): AsyncIterable<LogRecordBatch> {
    checkAfterId(afterLogId, "afterLogId");
    const maxBatch = positiveInt(opts.maxBatch ?? DEFAULT_MAX_BATCH, "maxBatch");
    const maxBytes = positiveInt(opts.maxBatchBytes ?? this.maxBatchBytes, "maxBatchBytes");
    return this.logFollower(afterLogId + 1, maxBatch, maxBytes, opts.signal);
  }

  private async *logFollower(nextId: number, maxBatch: number, maxBytes: number, signal?: AbortSignal) {
    let cursor: ReadCursor = { nextId };
    for (;;) {
      if (signal?.aborted) return;
      this.assertOpen();
      if (cursor.nextId <= this.log.lastCommittedId) {
        const read = await this.reading(this.log.read(cursor, maxBatch, maxBytes));
        cursor = read.cursor;
        yield read.batch;
        continue;
      }
      if (this.done) return;
      if (this.failure) throw this.failure;
      await this.logChanged.wait(signal);
    }
  }

  /** Status events with eventId > afterEventId, then live ones; same end rules as followLogs. */
  followStatus(afterEventId: number, opts: FollowOptions = {}): AsyncIterable<StatusEvent> {
    checkAfterId(afterEventId, "afterEventId");
    return this.eventFollower(this.statusFile, this.statusChanged, afterEventId, opts.signal);
  }

  /** Artifact events with artifactId > afterArtifactId, then live ones; same end rules as followLogs. */
  followArtifacts(afterArtifactId: number, opts: FollowOptions = {}): AsyncIterable<ArtifactEvent> {
    checkAfterId(afterArtifactId, "afterArtifactId");
    return this.eventFollower(this.artifactFile, this.artifactsChanged, afterArtifactId, opts.signal);
  }

  private async *eventFollower<T>(
    file: EventFile<T>,
    changed: ChangeSignal,
    after: number,
    signal?: AbortSignal,
  ) {
    let next = after; // index into the dense, 1-based id list
    for (;;) {
      if (signal?.aborted) return;
      this.assertOpen();
      const event = file.events[next];
      if (event !== undefined) {
        next++;
        yield event;
        continue;
      }
      if (this.done) return;
      if (this.failure) throw this.failure;
      await changed.wait(signal);
    }
  }

  /** The bytes of a stored artifact. Throws ArtifactNotFoundError for an unknown id. */
  openArtifact(artifactId: number): Readable {
    this.assertOpen();
    if (!Number.isInteger(artifactId) || this.artifactFile.events[artifactId - 1] === undefined) {
      throw new ArtifactNotFoundError(artifactId);
    }
    return fs.createReadStream(this.artifactPath(artifactId));
  }

  /** Writes out buffered lines and fsyncs every file: after it resolves, everything is on disk. */
  async flush(): Promise<void> {
    this.assertOpen();
    if (this.failure) throw this.failure;
    this.writeOutLogs();
    if (this.failure) throw this.failure;
    try {
      await this.log.sync();
      await this.statusFile.sync();
      await this.artifactFile.sync();
      await fsyncPath(this.dir);
    } catch (err) {
      throw this.fail(err);
    }
  }

  /** Flushes (unless a write already failed) and releases the files; followers still waiting throw. */
  async close(): Promise<void> {
    if (this.closed) return;
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    await Promise.allSettled(this.artifactCopies);
    let flushError: unknown;
    if (!this.failure) await this.flush().catch((err) => (flushError = err));
    this.closed = true;
    this.wakeAll();
    if (this.activeReads > 0) await new Promise<void>((resolve) => (this.readsDrained = resolve));
    this.log.close();
    this.statusFile.close();
    this.artifactFile.close();
    if (flushError) throw flushError;
  }

  /** Memory held for appends; stays ≤ bufferCapacity however much is written. */
  stats(): { bufferedBytes: number; bufferCapacity: number; lastCommittedLogId: number } {
    return {
      bufferedBytes: this.log.bufferedBytes,
      bufferCapacity: this.log.bufferCapacity,
      lastCommittedLogId: this.log.lastCommittedId,
    };
  }

  private readonly onFlushTimer = () => {
    this.flushTimer = undefined;
    if (!this.closed) this.writeOutLogs();
  };

  private writeOutLogs(): void {
    if (this.failure) return;
    try {
      this.log.writeOut();
    } catch (err) {
      this.fail(err);
    }
    this.notifyCommittedLogs();
  }

  private notifyCommittedLogs(): void {
    if (this.log.lastCommittedId !== this.notifiedLogId) {
      this.notifiedLogId = this.log.lastCommittedId;
      this.logChanged.notify();
    }
  }

  private recordStatus(stepId: number, status: StepStatus, timestamp: number): number {
    // Lines logged before this change become visible first, so readers never see a step end before
    // its output.
    this.writeOutLogs();
    const event: StatusEvent = { eventId: this.statusFile.events.length + 1, stepId, status, timestamp };
    try {
      this.statusFile.append(event);
    } catch (err) {
      throw this.fail(err);
    }
    this.latestStatus.set(stepId, status);
    this.statusChanged.notify();
    return event.eventId;
  }

  private saveMeta(): void {
    try {
      writeBuildMeta(path.join(this.dir, "build.json"), this.meta);
    } catch (err) {
      throw this.fail(err);
    }
  }

  private async reading<T>(read: Promise<T>): Promise<T> {
    this.activeReads++;
    try {
      return await read;
    } finally {
      this.activeReads--;
      if (this.activeReads === 0) this.readsDrained?.();
    }
  }

  private fail(err: unknown): ResultStoreWriteError {
    this.failure ??= new ResultStoreWriteError(`writing to ${this.dir} failed`, { cause: err });
    this.wakeAll();
    return this.failure;
  }

  private wakeAll(): void {
    if (this.done || this.closed || this.failure) this.progress.end();
    this.logChanged.notify();
    this.statusChanged.notify();
    this.artifactsChanged.notify();
  }

  private artifactPath(artifactId: number): string {
    return path.join(this.dir, "artifacts", String(artifactId));
  }

  private assertOpen(): void {
    if (this.closed) throw new ResultStoreClosedError(`result store ${this.dir} is closed`);
  }

  private assertWritable(): void {
    this.assertOpen();
    if (this.failure) throw this.failure;
    if (this.done || this.finishing) throw new BuildFinishedError(`build in ${this.dir} is already finished`);
  }
}

async function* decodedBatches(batches: AsyncIterable<LogRecordBatch>): AsyncIterable<LogEntry[]> {
  for await (const batch of batches) yield logEntriesOf(batch);
}

function checkId(value: number, what: string): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new ResultStoreArgumentError(`${what} must be an integer in [0, 2^32), got ${value}`);
  }
}

function checkAfterId(value: number, what: string): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new ResultStoreArgumentError(`${what} must be a non-negative integer, got ${value}`);
  }
}

function checkTimestamp(value: number): void {
  if (!Number.isFinite(value)) throw new ResultStoreArgumentError(`timestamp must be finite, got ${value}`);
}

function positiveInt(value: number, what: string): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new ResultStoreArgumentError(`${what} must be a positive integer, got ${value}`);
  }
  return value;
}
