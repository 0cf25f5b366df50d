import type { Logger } from "@wharf/config";
import type { Database } from "@wharf/db";
import { endSpan, startSpan, TRACING_OFF, type Tracer, traceparentOf } from "@wharf/tracing";
import type { BackendWorker, WorkerBackend } from "./backend/backend.js";
import type { ProvisionerMetrics } from "./metrics.js";
import { ACTIVE_STATUSES } from "./schemas.js";
import type { StatusProbe } from "./status-probe.js";
import { claimQueued } from "./store/claim-queued.js";
import { findWorkers } from "./store/find-workers.js";
import { markEnded, markRunning, markStarted, purgeEnded, requeue } from "./store/update-worker.js";
import type { WorkerRow } from "./store/worker-row.js";

export interface SchedulerOptions {
  db: Database;
  backend: WorkerBackend;
  /** Builds running at once per backend scope (all replicas sharing it together). */
  maxWorkers: number;
  /** How often to reconcile and look for free slots when nothing kicks us. */
  pollIntervalMs: number;
  /** Ended rows older than this are purged (at most once a minute). */
  retentionMs: number;
  probe: StatusProbe;
  log: Logger;
  metrics: ProvisionerMetrics;
  /**
   * A row claimed (Scheduling) this long ago whose worker never appeared was
   * claimed by a replica that died mid-start: it goes back to the queue.
   */
  claimGraceMs?: number;
  /**
   * A worker that tells its events (ready, ended; `Provisioner.workerEvent`) is probed at most
   * this often (default 30 s), in case an event was lost; one that never told any, every round.
   */
  reportingProbeIntervalMs?: number;
  /** The provisioner's URL workers tell their events to (WORKER_EVENTS_URL_ENV); none: they are probed. */
  eventsUrl?: () => string | undefined;
  /** Traces each worker's start as a child of the build's trigger span (default: off). */
  tracer?: Tracer;
}

/** How long a worker given an events URL is left unprobed for its ready event. */
const FIRST_EVENT_WAIT_MS = 5_000;

/**
 * The queue's engine, one per replica. Each tick it reconciles the rows of its
 * backend scope with what the backend lists and what the workers report over
 * gRPC, then claims queued builds for the free slots and starts them. Ticks never
 * overlap; `kick()` asks for one as soon as possible (after a POST or DELETE, or any
 * change of a worker row). Workers that tell their own events are probed only now and then.
 */
export class Scheduler {
  private timer: NodeJS.Timeout | undefined;
  private current: Promise<void> | null = null;
  private again = false;
  private closed = false;
  /** Workers this replica is creating right now: reconcile leaves them alone. */
  private readonly starting = new Set<string>();
  /** Removals in progress, so DELETE and reconcile never remove one worker twice at once. */
  private readonly removing = new Map<string, Promise<boolean>>();
  /** Workers that told an event: when they were last heard from (event or probe). */
  private readonly heard = new Map<string, number>();
  /** Workers started with an events URL that have told none yet: when they were started. */
  private readonly awaitingEvents = new Map<string, number>();
  /** Ready events of workers this replica is still starting (their row not yet Initializing). */
  private readonly readyEarly = new Set<string>();

  constructor(private readonly opts: SchedulerOptions) {}

  start(): void {
    this.kick();
  }

  kick(): void {
    if (this.closed) return;
    if (this.current) {
      this.again = true;
      return;
    }
    clearTimeout(this.timer);
    this.current = this.tick()
      .catch((err) => this.opts.log.error({ err }, "scheduler tick failed"))
      .finally(() => {
        this.current = null;
        if (this.closed) return;
        if (this.again) {
          this.again = false;
          this.kick();
          return;
        }
        this.timer = setTimeout(() => this.kick(), this.opts.pollIntervalMs);
        this.timer.unref();
      });
  }

  /** Waits for the tick in progress and the removals under way; no new tick starts afterwards. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    await this.current;
    await Promise.allSettled([...this.removing.values()]);
  }

  /** Stops and removes a worker on the backend; joins a removal already under way. */
  removeWorker(workerId: string): Promise<boolean> {
    let removal = this.removing.get(workerId);
    if (!removal) {
      removal = this.opts.backend.delete(workerId).finally(() => this.removing.delete(workerId));
      this.removing.set(workerId, removal);
    }
    return removal;
  }

  /** One reconcile + start round; exposed for tests and `wharf up` start-up. */
  async tick(): Promise<void> {
    await this.reconcile();
    const { db, backend, maxWorkers } = this.opts;
    const claimed = await claimQueued(db, maxWorkers, backend.scope);
    await Promise.all(claimed.map((row) => this.startWorker(row)));
  }

  /**
   * The worker said it serves gRPC: its row goes Running and its start is measured. A worker
   * faster than our own `markStarted` (its row still Scheduling) is marked once started.
   */
  async workerReady(workerId: string): Promise<void> {
    this.heard.set(workerId, Date.now());
    this.awaitingEvents.delete(workerId);
    if (this.starting.has(workerId)) {
      this.readyEarly.add(workerId);
      return;
    }
    await this.markReady(workerId);
  }

  /** The worker said its build ended: the row ends (and its slot frees) now. */
  async workerEnded(
    workerId: string,
    status: "Success" | "Failed" | "Cancelled",
    message: string,
  ): Promise<boolean> {
    this.heard.set(workerId, Date.now());
    this.awaitingEvents.delete(workerId);
    return markEnded(this.opts.db, workerId, status, "finished", message || null);
  }

  private async markReady(workerId: string): Promise<void> {
    const running = await markRunning(this.opts.db, workerId);
    if (running) this.opts.metrics.workerStart.observe({ instance: running.instance }, running.startSeconds);
  }

  private async startWorker(row: WorkerRow): Promise<void> {
    const { db, backend, log, metrics } = this.opts;
    const id = row.worker_id;
    this.starting.add(id);
    if (row.claimed_at) {
      const waited = (new Date(row.claimed_at).getTime() - new Date(row.queued_at).getTime()) / 1000;
      metrics.queueWait.observe({ instance: row.instance }, Math.max(0, waited));
    }
    const span = startSpan(
      this.opts.tracer ?? TRACING_OFF.tracer,
      "wharf.provisioner.start_worker",
      row.request.traceparent,
      {
        "wharf.build_ref": row.build_ref,
        "wharf.worker_id": id,
        "wharf.backend": backend.kind,
      },
    );
    // The worker's spans are children of this one.
    const traceparent = traceparentOf(span) ?? row.request.traceparent;
    try {
      const eventsUrl = this.opts.eventsUrl?.();
      const { address } = await backend.create({
        workerId: id,
        name: row.name,
        request: traceparent ? { ...row.request, traceparent } : row.request,
        ...(eventsUrl ? { eventsUrl } : {}),
      });
      endSpan(span);
      if (await markStarted(db, id, address)) {
        metrics.started.inc({ backend: backend.kind });
        log.info({ workerId: id, buildRef: row.build_ref, address }, "worker started");
        // It will say when it is ready: no probes while it starts (each a refused dial).
        if (eventsUrl) this.awaitingEvents.set(id, Date.now());
        if (this.readyEarly.delete(id)) await this.markReady(id);
      } else {
        // Deleted while we were starting it.
        await this.removeWorker(id);
      }
    } catch (err) {
      endSpan(span, `could not start worker: ${(err as Error).message}`);
      metrics.startFailures.inc({ backend: backend.kind });
      log.error({ err, workerId: id, buildRef: row.build_ref }, "could not start worker");
      await markEnded(db, id, "Failed", "lost", `could not start worker: ${(err as Error).message}`);
    } finally {
      this.starting.delete(id);
      this.readyEarly.delete(id);
    }
  }

  private lastPurge = 0;

  private async reconcile(): Promise<void> {
    const { db, backend } = this.opts;
    if (Date.now() - this.lastPurge >= 60_000) {
      this.lastPurge = Date.now();
      const purged = await purgeEnded(db, this.opts.retentionMs);
      if (purged) this.opts.log.info({ purged }, "purged worker rows past their retention");
    }
    const [seen, rows] = await Promise.all([
      backend.list(),
      findWorkers(db, { scope: backend.scope, statuses: [...ACTIVE_STATUSES] }),
    ]);
    const byId = new Map(seen.map((w) => [w.workerId, w]));
    const active = new Set(rows.map((r) => r.worker_id));
    for (const told of [this.heard, this.awaitingEvents])
      for (const id of told.keys()) if (!active.has(id) && !this.starting.has(id)) told.delete(id);
    await Promise.all(rows.map((row) => this.reconcileRow(row, byId.get(row.worker_id))));

    // Workers whose row was deleted (by a replica that could not reach them) go too.
    const others = seen.map((w) => w.workerId).filter((id) => !active.has(id) && !this.starting.has(id));
    if (others.length === 0) return;
    const known = await findWorkers(db, { workerIds: others, includeDeleted: true });
    for (const row of known) {
      const id = row.worker_id;
      if (!row.deleted_at || this.removing.has(id)) continue;
      // Not awaited: a stopping worker may take the whole stop grace to hand its last lines
      // on, and claiming and starting new builds must not wait for it.
      this.removeWorker(id).catch((err: unknown) =>
        this.opts.log.warn(
          { err, workerId: id },
          "could not remove a deleted worker; the next round retries",
        ),
      );
    }
  }

  private async reconcileRow(row: WorkerRow, seen: BackendWorker | undefined): Promise<void> {
    const { db, probe, claimGraceMs = 30_000, metrics, backend } = this.opts;
    const id = row.worker_id;
    if (this.starting.has(id)) return;
    if (row.status === "Scheduling") {
      // Another replica may be starting it this very moment; only act on old claims.
      const claimedAgo = Date.now() - new Date(row.claimed_at ?? 0).getTime();
      if (claimedAgo < claimGraceMs) return;
      if (seen) await markStarted(db, id, seen.address);
      else await requeue(db, id);
      return;
    }
    const lost = async (message: string) => {
      if (await markEnded(db, id, "Failed", "lost", message)) metrics.lost.inc({ backend: backend.kind });
    };
    if (!seen) return lost("worker disappeared from the backend before reporting a result");
    if (seen.state === "exited") {
      // Released workers exit at once; one that left its result is not lost (on Kubernetes the
      // pod may be deleted before a probe could have asked it).
      if (seen.exitReport) {
        await markEnded(db, id, seen.exitReport.status, "finished", seen.exitReport.message || null);
        return;
      }
      return lost(`worker exited (code ${seen.exitCode ?? "unknown"}) before reporting a result`);
    }
    // A worker that tells its events needs no probe each round: only now and then, in case
    // one was lost (the provisioner was restarting, say).
    const heardAt = this.heard.get(id);
    if (heardAt !== undefined) {
      if (Date.now() - heardAt < (this.opts.reportingProbeIntervalMs ?? 30_000)) return;
      this.heard.set(id, Date.now());
    } else {
      // Not yet heard: left alone while it starts, then probed like any other worker, each
      // round (its events may not reach us: a provisioner behind a network workers cannot dial).
      const startedAt = this.awaitingEvents.get(id);
      if (startedAt !== undefined && Date.now() - startedAt < FIRST_EVENT_WAIT_MS) return;
    }
    const probed = await probe(seen.address, id);
    if (!probed) return;
    if (probed.finished) {
      await markEnded(
        db,
        id,
        probed.status as "Success" | "Failed" | "Cancelled",
        "finished",
        probed.message || null,
      );
    } else if (row.status === "Initializing") {
      await this.markReady(id);
    }
  }
}
