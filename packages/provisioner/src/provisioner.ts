import { randomUUID } from "node:crypto";
import { EventEmitter } from "node:events";
import { createLogger, type Logger } from "@wharf/config";
import type { Database } from "@wharf/db";
import { type WorkerEvent, workerTokenFor } from "@wharf/proto";
import type { BuildId } from "@wharf/proto/build-id";
import { startSpan, TRACING_OFF, type Tracer, traceparentOf } from "@wharf/tracing";
import { tokenMatches } from "./auth.js";
import { type WorkerBackend, workerName } from "./backend/backend.js";
import type { BuildRequest } from "./build-request.js";
import { ProblemError, WorkerNotFoundError } from "./errors.js";
import { createMetrics, type ProvisionerMetrics } from "./metrics.js";
import { Scheduler } from "./scheduler.js";
import { ACTIVE_STATUSES, type MissingAnswer, type Worker, type WorkerOutcome } from "./schemas.js";
import { grpcStatusProbe, type StatusProbe } from "./status-probe.js";
import { findWorkers, getWorker, latestWorkersForBuilds, type WorkerFilter } from "./store/find-workers.js";
import { insertWorker } from "./store/insert-worker.js";
import { markDeleted } from "./store/update-worker.js";
import { migrateProvisioner, toWorker, type WorkerRow } from "./store/worker-row.js";

export const DEFAULT_RETENTION_MS = 7 * 24 * 3600_000;

/** The NOTIFY channel of worker row changes (migration 000002's trigger). */
const WORKERS_CHANNEL = "wharf_workers";

export interface ProvisionerOptions {
  db: Database;
  backend: WorkerBackend;
  /** WHARF_MAX_WORKERS (default 4). */
  maxWorkers?: number;
  /** Reconcile/queue poll interval (default 1 s). */
  pollIntervalMs?: number;
  /** How long ended rows are kept, answering repeated POSTs of their build (default 7 days). */
  retentionMs?: number;
  /** The key of every worker's own gRPC token (`workerTokenFor`), which the worker list carries. */
  workerToken?: string;
  probe?: StatusProbe;
  log?: Logger;
  /** Start the scheduler loop (default true); tests may drive `tick()` themselves. */
  autoStart?: boolean;
  /** The service's tracer (@wharf/tracing); default: tracing off. */
  tracer?: Tracer;
}

/**
 * The provisioner's operations, independent of HTTP: queue a build, list,
 * delete, answer "missing builds". Owns the scheduler; does not own the database
 * or the backend (whoever opened them closes them).
 */
export class Provisioner {
  readonly metrics: ProvisionerMetrics;
  readonly scheduler: Scheduler;
  readonly log: Logger;

  private readonly retentionMs: number;
  private readonly tracer: Tracer;
  private readonly changes = new EventEmitter().setMaxListeners(0);
  private unlisten: (() => Promise<void>) | undefined;
  private eventsUrl: string | undefined;

  private constructor(private readonly opts: ProvisionerOptions) {
    this.tracer = opts.tracer ?? TRACING_OFF.tracer;
    this.retentionMs = opts.retentionMs ?? DEFAULT_RETENTION_MS;
    this.log = opts.log ?? createLogger("provisioner");
    this.metrics = createMetrics(opts.db);
    this.scheduler = new Scheduler({
      db: opts.db,
      backend: opts.backend,
      maxWorkers: opts.maxWorkers ?? 4,
      pollIntervalMs: opts.pollIntervalMs ?? 1000,
      retentionMs: this.retentionMs,
      probe: opts.probe ?? grpcStatusProbe(opts.workerToken ? { tokenKey: opts.workerToken } : {}),
      log: this.log,
      metrics: this.metrics,
      eventsUrl: () => this.eventsUrl,
      tracer: this.tracer,
    });
  }

  /**
   * The URL (this provisioner's own, as its workers reach it) that the workers it starts from
   * now on tell their events to; unset, they are probed (the service sets it for local workers).
   */
  reportEventsTo(url: string | undefined): void {
    this.eventsUrl = url;
  }

  /**
   * An event a worker told (`WorkerEvent`), with the bearer token it came with: the worker's
   * own gRPC token, when workers have tokens. Throws WorkerNotFoundError for a worker that has
   * no live row (deleted or unknown), the `unauthorized` problem for a wrong token.
   */
  async workerEvent(workerId: string, event: WorkerEvent, bearer: string | undefined): Promise<void> {
    const key = this.opts.workerToken;
    if (key && !tokenMatches(workerTokenFor(key, workerId), bearer))
      throw new ProblemError("unauthorized", "the worker's own token is required (Authorization: Bearer)");
    const row = await getWorker(this.opts.db, workerId);
    if (!row || row.deleted_at) throw new WorkerNotFoundError(workerId);
    if (event.event === "ready") await this.scheduler.workerReady(workerId);
    else await this.scheduler.workerEnded(workerId, event.status, event.message);
  }

  /**
   * Migrates the database, listens for changes of the worker rows (this replica's and other
   * replicas'), then starts the scheduler (which first reconciles).
   */
  static async start(opts: ProvisionerOptions): Promise<Provisioner> {
    await migrateProvisioner(opts.db);
    const p = new Provisioner(opts);
    p.unlisten = await opts.db.listen(WORKERS_CHANNEL, () => p.rowsChanged());
    if (opts.autoStart !== false) p.scheduler.start();
    return p;
  }

  /**
   * A worker row changed somewhere: a freed slot or a queued build is for the scheduler to
   * act on now, not at its next poll; watchers of the list learn of it.
   */
  private rowsChanged(): void {
    if (this.opts.autoStart !== false) this.scheduler.kick();
    this.changes.emit("change");
  }

  /** Resolves true at the next change of any worker row, false after `timeoutMs` or on abort. */
  nextChange(timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    return new Promise((resolve) => {
      const done = (changed: boolean) => {
        clearTimeout(timer);
        this.changes.off("change", onChange);
        signal?.removeEventListener("abort", onAbort);
        resolve(changed);
      };
      const onChange = () => done(true);
      const onAbort = () => done(false);
      const timer = setTimeout(() => done(false), timeoutMs);
      this.changes.on("change", onChange);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  get backend(): WorkerBackend {
    return this.opts.backend;
  }

  /**
   * Queues a worker for the build; an existing live one for the same ref+instance is returned
   * instead. `traceparent`: the caller's trace (wharf-api's request header), which the build's
   * spans join.
   */
  async createWorker(
    request: BuildRequest,
    traceparent?: string,
  ): Promise<{ worker: Worker; created: boolean }> {
    const workerId = randomUUID();
    const span = startSpan(this.tracer, "wharf.provisioner.trigger", traceparent, {
      "wharf.build_ref": request.buildId,
      "wharf.instance": request.instance,
      "wharf.worker_id": workerId,
    });
    const spanParent = traceparentOf(span);
    const { row, created } = await insertWorker(this.opts.db, {
      workerId,
      name: workerName(request.buildId, workerId),
      backend: this.opts.backend.kind,
      request: spanParent ? { ...request, traceparent: spanParent } : request,
      retentionMs: this.retentionMs,
    }).finally(() => span.end());
    if (created) {
      this.metrics.created.inc({ backend: this.opts.backend.kind });
      this.scheduler.kick();
    }
    return { worker: this.view(row), created };
  }

  async listWorkers(filter: WorkerFilter = {}): Promise<Worker[]> {
    return (await findWorkers(this.opts.db, filter)).map((row) => this.view(row));
  }

  async getWorker(workerId: string): Promise<Worker | undefined> {
    const row = await getWorker(this.opts.db, workerId);
    return row ? this.view(row) : undefined;
  }

  /**
   * A row as the API shows it, with the worker's own gRPC token: the list is for those who
   * hold the provisioner's token (or reach it on loopback), the aggregator among them.
   */
  private view(row: WorkerRow): Worker {
    const key = this.opts.workerToken;
    return { ...toWorker(row), ...(key ? { token: workerTokenFor(key, row.worker_id) } : {}) };
  }

  /**
   * Marks the row deleted first (its slot frees, nobody starts or adopts it),
   * then stops the worker. A worker this replica cannot reach is removed by the
   * replica whose scope it is, on its next reconcile.
   */
  /**
   * Stops and removes a worker. `outcome` (from the aggregator that relayed its build to the
   * end) is kept as the final status of a worker still listed active: it was released before
   * a reconcile saw its result, and is not a cancel.
   */
  async deleteWorker(workerId: string, outcome?: WorkerOutcome): Promise<void> {
    const row = await getWorker(this.opts.db, workerId);
    if (!row || !(await markDeleted(this.opts.db, workerId, outcome)))
      throw new WorkerNotFoundError(workerId);
    if (row.backend_scope === this.opts.backend.scope) {
      try {
        await this.scheduler.removeWorker(workerId);
      } catch (err) {
        // The row stays deleted; the next reconcile retries the removal.
        throw new ProblemError(
          "backend-failed",
          `could not remove worker: ${(err as Error).message}`,
          undefined,
          {
            cause: err,
          },
        );
      }
    }
    this.scheduler.kick();
  }

  /** For each ref: is a worker queued or running for it, and if not, why not. */
  async missing(buildIds: BuildId[], instance?: string): Promise<MissingAnswer[]> {
    const latest = await latestWorkersForBuilds(this.opts.db, [...new Set(buildIds)], instance);
    return buildIds.map((buildId): MissingAnswer => {
      const row = latest.get(buildId);
      if (!row) return { buildRef: buildId, live: false, reason: "never-seen" };
      const base = { buildRef: buildId, workerId: row.worker_id, status: row.status };
      if (row.deleted_at) return { ...base, live: false, reason: "deleted" };
      if (row.status === "Queued" || ACTIVE_STATUSES.includes(row.status)) return { ...base, live: true };
      return { ...base, live: false, reason: row.end_reason === "lost" ? "lost" : "finished" };
    });
  }

  /** True when the database answers. */
  async ready(): Promise<boolean> {
    try {
      await this.opts.db.query("SELECT 1");
      return true;
    } catch {
      return false;
    }
  }

  /** Stops the scheduler; the database and backend stay open for their owner to close. */
  async close(): Promise<void> {
    await this.unlisten?.();
    this.changes.emit("change"); // watchers answer now instead of holding the close
    await this.scheduler.close();
  }
}
