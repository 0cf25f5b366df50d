import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "@wharf/config";
import { isFinalWharfApiStatus } from "@wharf/proto/wharf-api";
import { endSpan, startSpan, type Tracer } from "@wharf/tracing";
import { WorkerConnection } from "@wharf/worker-rpc";
import { ArtifactRelay } from "./artifact-relay.js";
import type { BuildRecordStore } from "./build-record-store.js";
import { advancesStatus } from "./build-status.js";
import { LOG_BATCH, LogRelay } from "./log-relay.js";
import { deliver, type RelayContext, RelayRefusedError, type RelayTuning } from "./relay-context.js";
import type { RelayMetrics } from "./relay-metrics.js";
import type { CheckpointStore } from "./relay-store.js";
import type { SendFence } from "./send-fence.js";
import { StatusRelay } from "./status-relay.js";
import { keepStepTable } from "./step-table-relay.js";
import type { WharfApiClient } from "./wharf-api-client.js";
import { type LiveWorker, type WorkerDirectory, workerTokenOf } from "./worker-directory.js";

export interface WorkerRelayDeps {
  api: WharfApiClient;
  directory: WorkerDirectory;
  checkpoints: CheckpointStore;
  log: Logger;
  metrics: RelayMetrics;
  tuning: RelayTuning;
  /** The shared key the workers' own gRPC tokens derive from (when the directory hands out none). */
  workerToken?: string;
  /** How many workers this process relays right now. */
  relaysRunning: () => number;
  /** A worker unreachable this long (or reported failed) is declared lost. */
  workerLostGraceMs: number;
  /** The fence of this replica's lease on the worker (no fence: sends are not fenced). */
  fence?: SendFence;
  /** Where the build's step table is kept for the build page (none: not kept). */
  records?: BuildRecordStore;
  /** Records each relay as a span of the worker's build trace (default: off). */
  tracer?: Tracer;
}

/** `refused`: wharf-api permanently refused part of the build; the relay ended loudly. */
export type WorkerRelayOutcome = "finished" | "failed" | "refused" | "stopped";

/** How long a worker listed as starting is waited for before its streams are opened anyway. */
const START_WAIT_MS = 10_000;

const isStarting = (w: LiveWorker) => w.status === "starting" || w.status === "queued";

const UNFENCED: SendFence = { remainingMs: () => Number.POSITIVE_INFINITY };

class WorkerLostError extends Error {
  override readonly name = "WorkerLostError";
}

/**
 * Relays everything of one worker to wharf-api, then finishes it: Release, and
 * removal through the directory. A worker that stops answering for longer than
 * the grace period, or that the directory reports failed while unreachable,
 * gets one diagnostic line in the build log and the build marked Failed.
 */
export class WorkerRelay {
  private reported: LiveWorker;
  private troubleSince: number | undefined;
  private lastTrouble: unknown;
  /** Resolves once the directory lists the worker past starting (running, finished, failed). */
  private readonly listedStarted: Promise<void>;
  private started!: () => void;

  constructor(
    worker: LiveWorker,
    private readonly deps: WorkerRelayDeps,
  ) {
    this.reported = worker;
    this.listedStarted = new Promise((resolve) => {
      this.started = resolve;
    });
    if (!isStarting(worker)) this.started();
  }

  get workerId(): string {
    return this.reported.workerId;
  }

  /** The connection of the current run, for the trace context the worker answered with. */
  private connection: WorkerConnection | undefined;

  /** The directory entry last seen for this worker. */
  get worker(): LiveWorker {
    return this.reported;
  }

  /** Latest directory entry for this worker (the aggregator calls this every poll). */
  update(worker: LiveWorker): void {
    this.reported = worker;
    if (!isStarting(worker)) this.started();
  }

  async run(signal: AbortSignal): Promise<WorkerRelayOutcome> {
    const started = Date.now();
    let outcome: WorkerRelayOutcome | undefined;
    try {
      outcome = await this.relay(signal);
      return outcome;
    } finally {
      this.traceRelay(started, outcome);
    }
  }

  /**
   * The relay as a span of the build's trace, recorded once it ended: its parent (the worker's
   * build span) is known only from the worker's first answer. Nothing without one.
   */
  private traceRelay(started: number, outcome: WorkerRelayOutcome | undefined): void {
    const parent = this.connection?.traceparent;
    if (!parent || !this.deps.tracer) return;
    const w = this.reported;
    const span = startSpan(
      this.deps.tracer,
      "wharf.aggregator.relay",
      parent,
      { "wharf.build_ref": w.buildId, "wharf.worker_id": w.workerId, "wharf.outcome": outcome ?? "error" },
      started,
    );
    endSpan(
      span,
      outcome === "finished" || outcome === "stopped" ? undefined : `relay ${outcome ?? "crashed"}`,
    );
  }

  private async relay(signal: AbortSignal): Promise<WorkerRelayOutcome> {
    const { deps } = this;
    const w = this.reported;
    const log = deps.log.child({ workerId: w.workerId, buildRef: w.buildId });
    const { buildId } = w;
    const checkpoint = await deps.checkpoints.load(w.workerId, buildId);
    if (checkpoint.finished) return "finished";
    // Checked after the await: an abort that came meanwhile would never reach the listener below.
    if (signal.aborted) return "stopped";
    if (w.address !== null && isStarting(w)) {
      await this.untilServing(w, signal);
      if (signal.aborted) return "stopped";
    }

    const inner = new AbortController();
    const onOuterAbort = () => inner.abort(signal.reason);
    signal.addEventListener("abort", onOuterAbort, { once: true });
    const worker = new WorkerConnection(w.address ?? "127.0.0.1:0", {
      token: workerTokenOf(w, deps.workerToken),
    });
    this.connection = worker;
    const ctx: RelayContext = {
      workerId: w.workerId,
      buildId,
      ...(w.instance !== undefined ? { instance: w.instance } : {}),
      ...(w.triggeredAt !== undefined ? { triggeredAt: w.triggeredAt } : {}),
      worker,
      api: deps.api,
      checkpoints: deps.checkpoints,
      checkpoint,
      signal: inner.signal,
      fence: deps.fence ?? UNFENCED,
      log,
      metrics: deps.metrics,
      tuning: deps.tuning,
      relaysRunning: deps.relaysRunning,
      workerOk: () => {
        this.troubleSince = undefined;
      },
      workerTrouble: (err) => {
        this.troubleSince ??= Date.now();
        this.lastTrouble = err;
      },
    };
    try {
      if (checkpoint.failureReported) throw new WorkerLostError(`worker ${w.workerId} was lost`);
      // The directory's diagnosis (a clone's git error, an image that cannot be pulled) is what
      // the developer needs to read: it goes into the build log, line by line.
      if (w.address === null && w.status === "failed")
        throw new WorkerLostError(
          [`worker ${w.workerId} failed to start`, w.message?.trim()].filter(Boolean).join(": "),
        );
      const lost = this.watchLiveness(ctx);
      lost.catch(() => {});
      const stepTable = keepStepTable(ctx, deps.records);
      const logs = new LogRelay(ctx).run();
      const artifacts = new ArtifactRelay(ctx).run();
      const dataDelivered = Promise.all([logs, artifacts]);
      const relays = Promise.all([logs, artifacts, new StatusRelay(ctx).run(dataDelivered)]);
      // Failures surface through `relays`; these copies must not count as unhandled.
      dataDelivered.catch(() => {});
      relays.catch(() => {});
      await Promise.race([relays, lost]).catch(async (err: unknown) => {
        // A refused artifact or status leaves the log deliverable: the whole log goes first.
        if (err instanceof RelayRefusedError && err.what !== LOG_BATCH)
          await Promise.race([logs, lost]).catch(() => {});
        throw err;
      });
      await stepTable.settled();
      await this.finish(ctx);
      deps.metrics.count("workers_finished");
      return "finished";
    } catch (err) {
      if (signal.aborted) return "stopped";
      if (!(err instanceof WorkerLostError || err instanceof RelayRefusedError)) throw err;
      inner.abort(err);
      const failed = new AbortController();
      signal.addEventListener("abort", () => failed.abort(), { once: true });
      const reporting = { ...ctx, signal: failed.signal };
      if (err instanceof RelayRefusedError) {
        // Loud: an error in the service log, a metric, and (if wharf-api takes it) a line in the build's log.
        log.error({ refused: err.what, status: err.refusal.status ?? err.refusal.grpcStatus }, err.message);
        deps.metrics.count("relays_refused");
        await worker.release(5_000).catch(() => {});
        await this.reportFailure(
          reporting,
          `${err.message}; relaying this build stopped`,
          "what the worker wrote after that was not relayed",
        );
        return "refused";
      }
      await this.reportFailure(reporting, err.message, "anything the worker wrote after that is lost");
      deps.metrics.count("workers_failed");
      return "failed";
    } finally {
      inner.abort();
      signal.removeEventListener("abort", onOuterAbort);
      worker.close();
    }
  }

  /**
   * A worker is listed the moment it was started, before its gRPC listens: its three streams
   * would be refused and retried at growing intervals (100, 200, 400 ms …), holding the first
   * line back. Until it answers a call that waits for it (on a channel of its own, reconnecting
   * meanwhile), or its directory lists it as started (the provisioner's list says Running as soon
   * as the worker told it is ready), the streams are not opened; their channel then dials it
   * fresh. A worker that does neither within START_WAIT_MS is left to the streams' liveness.
   */
  private async untilServing(w: LiveWorker, signal: AbortSignal): Promise<void> {
    const probe = new WorkerConnection(w.address as string, {
      token: workerTokenOf(w, this.deps.workerToken),
    });
    let onAbort = () => {};
    const stopped = new Promise<void>((resolve) => {
      onAbort = () => resolve();
      signal.addEventListener("abort", onAbort, { once: true });
    });
    try {
      await Promise.race([
        probe.summary(START_WAIT_MS).then(
          () => {},
          () => {},
        ),
        this.listedStarted,
        stopped,
      ]);
    } finally {
      signal.removeEventListener("abort", onAbort);
      probe.close();
    }
  }

  /** Rejects with WorkerLostError once the worker stayed unreachable past the grace period. */
  private async watchLiveness(ctx: RelayContext): Promise<never> {
    const { deps } = this;
    while (!ctx.signal.aborted) {
      await sleep(Math.min(1000, deps.workerLostGraceMs / 4), undefined, { signal: ctx.signal }).catch(
        () => {},
      );
      if (this.troubleSince === undefined) continue;
      // Streams only say something when there is news; probe to learn whether the worker is back.
      const alive = await ctx.worker.summary(2_000).then(
        () => true,
        () => false,
      );
      if (alive) {
        this.troubleSince = undefined;
        continue;
      }
      const gone = this.reported.status === "failed" || this.reported.status === "finished";
      if (gone || Date.now() - this.troubleSince >= deps.workerLostGraceMs) {
        const seconds = Math.round((Date.now() - this.troubleSince) / 1000);
        throw new WorkerLostError(
          `worker ${ctx.workerId} stopped answering (${shortError(this.lastTrouble)}) ` +
            `for ${seconds}s${gone ? ` and is reported ${this.reported.status}` : ""}` +
            `${this.reported.message ? `: ${this.reported.message}` : ""}`,
        );
      }
    }
    throw ctx.signal.reason ?? new Error("aborted");
  }

  private async finish(ctx: RelayContext): Promise<void> {
    await ctx.worker.release().catch((err: unknown) => {
      // It may have exited already; everything was delivered, so removal is all that is left.
      ctx.log.warn({ err: String(err) }, "release failed");
    });
    await this.removeWorker(ctx);
    ctx.log.info({ lastLogId: ctx.checkpoint.lastLogId }, "worker relayed completely, released and removed");
  }

  private async removeWorker(ctx: RelayContext): Promise<void> {
    // The provisioner may not have seen the build's result before the worker was released.
    const sent = ctx.checkpoint.sentStatus;
    const outcome = sent === "Completed" ? "Success" : sent === "Failed" ? "Failed" : undefined;
    await deliver(ctx, "remove worker", () => this.deps.directory.remove(ctx.workerId, ctx.signal, outcome));
    await deliver(ctx, "finish checkpoint", () => ctx.checkpoints.save(ctx.workerId, { finished: true }));
  }

  /**
   * One diagnostic line in the build's log, then the build marked Failed, then the worker
   * removed. Either send may be refused for good too (the build is gone from wharf-api):
   * then it is skipped, since nobody could read it anyway.
   */
  private async reportFailure(ctx: RelayContext, reason: string, rest: string): Promise<void> {
    const cp = ctx.checkpoint;
    ctx.log.warn({ reason }, "marking the build Failed");
    if (isFinalWharfApiStatus(cp.sentStatus)) {
      // Already final (every line was delivered before that): only cleanup remains.
      await this.removeWorker(ctx);
      return;
    }
    if (!cp.failureReported) {
      const [headline, ...details] = reason.split("\n");
      const messages = [
        `[wharf] ${headline}. The build is marked Failed. ` +
          `Log lines up to ${cp.lastLogId} were delivered; ${rest}.`,
        ...details.filter((d) => d.trim() !== "").map((d) => `[wharf]   ${d}`),
      ];
      const timestamp = new Date();
      let sent = false;
      await unlessRefused(ctx, "diagnostic line", async () => {
        if (!sent) {
          await ctx.api.sendLogBatch(
            messages.map((message, i) => ({
              buildId: ctx.buildId,
              workerLogId: cp.lastLogId + 1 + i,
              workerStepId: 0,
              timestamp,
              message,
            })),
            ctx.signal,
            ctx.fence,
          );
          sent = true;
        }
        const update = { failureReported: true, deliveredLines: cp.deliveredLines + messages.length };
        await ctx.checkpoints.save(ctx.workerId, update);
        Object.assign(cp, update);
      });
    }
    if (advancesStatus(cp.sentStatus, "Failed")) {
      let sent = false;
      await unlessRefused(ctx, "status Failed", async () => {
        if (!sent) {
          await ctx.api.setBuildStatus(
            ctx.buildId,
            { status: "Failed", message: reason },
            ctx.signal,
            ctx.fence,
          );
          sent = true;
        }
        await ctx.checkpoints.save(ctx.workerId, { sentStatus: "Failed" });
        cp.sentStatus = "Failed";
      });
    }
    await this.removeWorker(ctx);
  }
}

/** `deliver`, where a permanent refusal only skips this step (logged). */
async function unlessRefused(ctx: RelayContext, what: string, fn: () => Promise<void>): Promise<void> {
  await deliver(ctx, what, fn).catch((err: unknown) => {
    if (!(err instanceof RelayRefusedError)) throw err;
    ctx.log.error({ refused: what }, `${err.message}; skipped`);
  });
}

/**
 * A worker call's error as a developer reads it in the build log: gRPC's resolution notes,
 * timestamps and this aggregator's own addresses (a port-forward listener) are of no use
 * there; the service log keeps the whole error.
 */
export function shortError(err: unknown): string {
  const e = err as { details?: string; message?: string } | undefined;
  return (e?.details || e?.message || String(err))
    .replace(/\s*Resolution note:.*$/s, "")
    .replace(/\s*\(\d{4}-\d\d-\d\dT[\d:.]+Z\)/g, "")
    .replace(/(?:\d{1,3}\.){3}\d{1,3}:\d+|\[[\da-f:]+\]:\d+/gi, "the worker")
    .trim()
    .slice(0, 200);
}
