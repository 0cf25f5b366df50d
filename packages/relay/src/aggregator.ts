import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "@wharf/config";
import type { Database } from "@wharf/db";
import type { Tracer } from "@wharf/tracing";
import { BuildRecordStore } from "./build-record-store.js";
import { defaultRelayTuning, type RelayTuning } from "./relay-context.js";
import { noopRelayMetrics, type RelayMetrics } from "./relay-metrics.js";
import { CheckpointStore, LeaseLostError } from "./relay-store.js";
import { LeaseFence } from "./send-fence.js";
import type { WharfApiClient } from "./wharf-api-client.js";
import type { LiveWorker, WorkerDirectory } from "./worker-directory.js";
import { WorkerLease } from "./worker-lease.js";
import { WorkerRelay } from "./worker-relay.js";

export interface AggregatorOptions {
  db: Database;
  directory: WorkerDirectory;
  api: WharfApiClient;
  log: Logger;
  metrics?: RelayMetrics;
  /** This replica's lease identity; unique per process (default: random). */
  holder?: string;
  /** Lease lifetime (default 30 s); renewed every third of it. */
  leaseTtlMs?: number;
  /** How often the directory is asked for workers (default 1 s). */
  discoveryIntervalMs?: number;
  /** Unreachable this long → the worker is declared lost (default 15 s). */
  workerLostGraceMs?: number;
  workerToken?: string;
  tuning?: Partial<RelayTuning>;
  /** Records each relay as a span of its build's trace (@wharf/tracing; default: off). */
  tracer?: Tracer;
}

/**
 * Finds workers through the directory, takes a lease on each one it can, and
 * runs a WorkerRelay for it while the lease lasts. Several replicas on one
 * Postgres share the workers between them; a dead replica's leases expire and
 * its workers are picked up from their checkpoints.
 */
export class Aggregator {
  readonly holder: string;
  private readonly lease: WorkerLease;
  private readonly checkpoints: CheckpointStore;
  private readonly records: BuildRecordStore;
  private readonly relays = new Map<
    string,
    { relay: WorkerRelay; abort: AbortController; done: Promise<void>; fence: LeaseFence }
  >();
  private readonly finished = new Set<string>();
  /** Workers listed before they had an address: if one vanishes so, its build needs a verdict. */
  private readonly unstarted = new Map<string, LiveWorker>();
  private readonly stopping = new AbortController();
  private loops: Promise<void>[] = [];
  private discovered = false;
  private readonly ttlMs: number;

  constructor(private readonly opts: AggregatorOptions) {
    this.holder = opts.holder ?? `aggregator-${randomUUID()}`;
    this.ttlMs = opts.leaseTtlMs ?? 30_000;
    this.lease = new WorkerLease(opts.db, this.holder, this.ttlMs);
    this.checkpoints = new CheckpointStore(opts.db, this.holder);
    this.records = new BuildRecordStore(opts.db);
  }

  /** True once the directory answered at least once. */
  get ready(): boolean {
    return this.discovered;
  }

  /** Ids of the workers this replica relays right now. */
  get relaying(): string[] {
    return [...this.relays.keys()];
  }

  start(): void {
    this.loops = [this.discoveryLoop(), this.renewLoop()];
  }

  /**
   * Discovers at the interval, and at once whenever the directory says its list changed (a
   * watch): a new worker is relayed when it appears, the interval is the safety net.
   */
  private async discoveryLoop(): Promise<void> {
    const { directory } = this.opts;
    const interval = this.opts.discoveryIntervalMs ?? 1000;
    if (!directory.changed) return this.every(interval, () => this.discover());
    const signal = this.stopping.signal;
    // One watch at a time, kept across discoveries until it answers (a long poll held up to
    // the provisioner's wait): it only adds the moment of a change, not a request per interval.
    let watch: Promise<"changed" | "failed"> | undefined;
    let failures = 0;
    while (!signal.aborted) {
      await this.discover().catch((err: unknown) => {
        if (!signal.aborted) this.opts.log.warn({ err: String(err) }, "aggregator loop step failed");
      });
      watch ??= directory.changed(signal).then(
        () => "changed" as const,
        () => "failed" as const,
      );
      const tick = sleep(interval, undefined, { signal }).then(
        () => "tick" as const,
        () => "tick" as const,
      );
      const woke = await Promise.race([watch, tick]);
      if (woke === "tick") continue;
      watch = undefined;
      if (woke === "changed") failures = 0;
      // A failing watch (provisioner down, an error answer) waits before it is tried again;
      // the interval's discoveries go on meanwhile.
      else if (failures++ > 0) await tick;
    }
  }

  /**
   * Stops relaying. By default the leases are handed over at once so another
   * replica need not wait out the TTL; `releaseLeases: false` leaves them to
   * expire, as a crashed replica would.
   */
  async stop(opts: { releaseLeases?: boolean } = {}): Promise<void> {
    this.stopping.abort();
    const held = [...this.relays.keys()];
    for (const r of this.relays.values()) r.abort.abort();
    await Promise.allSettled([...this.loops, ...[...this.relays.values()].map((r) => r.done)]);
    if (opts.releaseLeases === false) return;
    for (const id of held) await this.lease.release(id).catch(() => {});
  }

  /** One discovery pass: start relaying every worker that is ours to take. */
  async discover(): Promise<void> {
    const workers = await this.opts.directory.list(this.stopping.signal);
    this.discovered = true;
    const seen = new Set<string>();
    for (const w of workers) {
      seen.add(w.workerId);
      const running = this.relays.get(w.workerId);
      if (running) {
        running.relay.update(w);
        continue;
      }
      if (this.finished.has(w.workerId)) continue;
      if (!relayable(w)) {
        this.unstarted.set(w.workerId, w);
        continue;
      }
      this.unstarted.delete(w.workerId);
      if (await this.checkpoints.isFinished(w.workerId)) {
        this.finished.add(w.workerId);
        continue;
      }
      const fence = new LeaseFence(this.ttlMs);
      const queriedAt = LeaseFence.now();
      if (await this.lease.tryAcquire(w.workerId)) {
        fence.extend(queriedAt);
        this.startRelay(w, fence);
      }
    }
    for (const id of this.finished) if (!seen.has(id)) this.finished.delete(id);
    // Removed before it ever started (a cancel while queued or while its pod was not yet ready):
    // no relay would ever tell wharf-api, and the build would stay Scheduling for good.
    for (const [id, w] of this.unstarted) {
      if (seen.has(id)) continue;
      this.unstarted.delete(id);
      if (this.relays.has(id) || (await this.checkpoints.isFinished(id))) continue;
      const vanished: LiveWorker = {
        ...w,
        status: "failed",
        message: "it was removed before it started (the build was cancelled)",
      };
      const fence = new LeaseFence(this.ttlMs);
      const queriedAt = LeaseFence.now();
      if (await this.lease.tryAcquire(id)) {
        fence.extend(queriedAt);
        this.startRelay(vanished, fence);
      }
    }
    // A worker the directory no longer lists was deleted (a cancel through the provisioner)
    // or vanished: once it also stops answering, fail its build now instead of after the grace.
    for (const [id, running] of this.relays) {
      if (!seen.has(id))
        running.relay.update({
          ...running.relay.worker,
          status: "failed",
          message: "no longer listed by the directory (deleted)",
        });
    }
  }

  private startRelay(w: LiveWorker, fence: LeaseFence): void {
    const { opts } = this;
    const relay = new WorkerRelay(w, {
      api: opts.api,
      directory: opts.directory,
      checkpoints: this.checkpoints,
      records: this.records,
      log: opts.log,
      metrics: opts.metrics ?? noopRelayMetrics,
      tuning: { ...defaultRelayTuning, ...opts.tuning },
      workerLostGraceMs: opts.workerLostGraceMs ?? 15_000,
      relaysRunning: () => this.relays.size,
      fence,
      ...(opts.workerToken ? { workerToken: opts.workerToken } : {}),
      ...(opts.tracer ? { tracer: opts.tracer } : {}),
    });
    const abort = new AbortController();
    const log = opts.log.child({ workerId: w.workerId, buildRef: w.buildId });
    log.info({ holder: this.holder }, "relaying worker");
    const done = relay
      .run(abort.signal)
      .then(async (outcome) => {
        log.info({ outcome }, "stopped relaying worker");
        if (outcome !== "stopped") {
          fence.close();
          this.finished.add(w.workerId);
          await this.lease.release(w.workerId).catch(() => {});
        }
      })
      .catch((err: unknown) => {
        if (err instanceof LeaseLostError) (opts.metrics ?? noopRelayMetrics).count("leases_lost");
        log.error({ err: String(err) }, "relaying worker stopped with an error; will retry");
      })
      .finally(() => this.relays.delete(w.workerId));
    this.relays.set(w.workerId, { relay, abort, done, fence });
  }

  private async renewLoop(): Promise<void> {
    let lastOk = Date.now();
    await this.every(Math.max(100, Math.floor(this.ttlMs / 3)), async () => {
      try {
        for (const [id, r] of this.relays) {
          const queriedAt = LeaseFence.now();
          if (await this.lease.renew(id)) r.fence.extend(queriedAt);
          else {
            r.fence.close();
            this.opts.log.warn({ workerId: id }, "lease taken by another aggregator; stopping");
            (this.opts.metrics ?? noopRelayMetrics).count("leases_lost");
            r.abort.abort();
          }
        }
        lastOk = Date.now();
      } catch (err) {
        // Without Postgres we cannot prove we still hold anything: stop before the TTL runs out.
        if (Date.now() - lastOk > (this.ttlMs * 2) / 3) for (const r of this.relays.values()) r.abort.abort();
        throw err;
      }
    });
  }

  private async every(intervalMs: number, fn: () => Promise<void>): Promise<void> {
    const signal = this.stopping.signal;
    while (!signal.aborted) {
      try {
        await fn();
      } catch (err) {
        if (!signal.aborted) this.opts.log.warn({ err: String(err) }, "aggregator loop step failed");
      }
      await sleep(intervalMs, undefined, { signal }).catch(() => {});
    }
  }
}

/** Workers with an address, or that failed before getting one (they need a diagnostic). */
function relayable(w: LiveWorker): boolean {
  return w.address !== null || w.status === "failed";
}
