import { setTimeout as sleep } from "node:timers/promises";
import { WorkerLogLines } from "@wharf/worker-rpc";
import {
  deliver,
  followWorkerStream,
  MESSAGES_PER_BATCH,
  type RelayContext,
  workerMessageBytes,
} from "./relay-context.js";

/** What a log delivery is called in logs and refusals. */
export const LOG_BATCH = "log batch";

/**
 * Worker StreamLogBatches (from the checkpoint) → wharf-api CreateLogStream.
 * One bounded batch per CreateLogStream call; the checkpoint moves only after
 * wharf-api closed the call with `lines_inserted`. While a batch is being
 * delivered (or retried) nothing more is read from the worker, so a slow or
 * absent wharf-api back-pressures the worker stream instead of filling memory.
 *
 * wharf-api stores lines as they arrive, so a call cut midway may have stored a
 * prefix of its batch. Before resending (and when taking a worker over) we ask
 * wharf-api how many lines it holds for the build and skip the stored prefix:
 * that keeps delivery exactly-once without wharf-api deduplicating. After a
 * call of ours was cut, wharf-api may still be storing what it took, so the
 * count is read until it stops changing. (A takeover comes a lease TTL after
 * the previous holder went quiet: its calls have long settled.)
 */
export class LogRelay {
  private inDoubt: boolean;
  /** Our last call was cut: wharf-api's count may still be rising. */
  private cutCall = false;

  constructor(private readonly ctx: RelayContext) {
    // A previous holder may have died mid-batch: check before the first send.
    this.inDoubt = ctx.tuning.reconcileLogs;
  }

  /** Resolves once the worker ended its log stream (build finished) and every line was delivered. */
  async run(): Promise<void> {
    const { ctx } = this;
    // The stream's message size is the worker's share of tuning.readAheadBytes when it opens.
    // When more workers are relayed since, the share shrinks: past half, the stream is reopened
    // from the checkpoint with smaller messages (what was read ahead is read again).
    for (let resized = true; resized; ) {
      const messageBytes = workerMessageBytes(ctx.tuning, ctx.relaysRunning());
      resized = false;
      await followWorkerStream(
        ctx,
        "logs",
        () =>
          ctx.worker.streamLogBatches(ctx.checkpoint.lastLogId, ctx.tuning.workerBatchLines, messageBytes),
        async (it, readable) => {
          for (;;) {
            const taken = await takeBatch(it, readable, ctx.tuning.logBatchLines, MESSAGES_PER_BATCH);
            if (!taken) return;
            ctx.workerOk();
            const { parts, ended } = taken;
            await this.deliverBatch(WorkerLogLines.concat(parts).after(ctx.checkpoint.lastLogId));
            if (ended) return;
            if (workerMessageBytes(ctx.tuning, ctx.relaysRunning()) * 2 <= messageBytes) {
              resized = true;
              return;
            }
          }
        },
      );
    }
  }

  /** Sends one batch exactly once (see class comment) and moves the checkpoint past it. */
  async deliverBatch(batch: WorkerLogLines): Promise<void> {
    const { ctx } = this;
    if (batch.length === 0) return;
    let pending = batch;
    // Set once wharf-api acknowledged: a failing checkpoint write is then retried alone, never the send.
    let acked: number | undefined;
    await deliver(ctx, LOG_BATCH, async () => {
      if (acked === undefined) {
        if (this.inDoubt) {
          const skipped = await this.skipStoredPrefix(pending);
          pending = skipped.rest;
          // The previous sender's batch may have been longer than this one: then the next batch checks again.
          this.inDoubt = skipped.storedBeyond;
          if (pending.length === 0) return;
        }
        try {
          acked = await ctx.api.sendWorkerLogs(ctx.buildId, pending, ctx.signal, ctx.fence);
        } catch (err) {
          this.inDoubt = ctx.tuning.reconcileLogs;
          this.cutCall = true;
          throw err;
        }
        if (acked !== pending.length)
          ctx.log.warn(
            { sent: pending.length, inserted: acked, workerId: ctx.workerId },
            "wharf-api skipped lines",
          );
        ctx.metrics.count("log_lines_delivered", acked);
        ctx.metrics.count("log_batches_delivered");
        // The build's first lines (a replica taking over from a checkpoint has delivered some).
        if (ctx.checkpoint.deliveredLines === 0 && acked > 0 && ctx.triggeredAt !== undefined)
          ctx.metrics.firstLine?.(ctx.instance ?? "", Math.max(0, (Date.now() - ctx.triggeredAt) / 1000));
      }
      await this.advance(pending, acked);
    });
  }

  /** Moves the checkpoint past the lines wharf-api already holds; `storedBeyond`: it holds more than `pending`. */
  private async skipStoredPrefix(
    pending: WorkerLogLines,
  ): Promise<{ rest: WorkerLogLines; storedBeyond: boolean }> {
    const { ctx } = this;
    const held = await this.countStored();
    if (held === undefined) {
      // Cannot tell what a cut call stored: send from the checkpoint (at worst lines twice, none lost).
      ctx.log.warn(
        { workerId: ctx.workerId },
        "wharf-api cannot count a build's lines; sending from the checkpoint",
      );
      return { rest: pending, storedBeyond: false };
    }
    const extra = held - ctx.checkpoint.deliveredLines;
    if (extra < 0) {
      ctx.log.warn(
        { held, delivered: ctx.checkpoint.deliveredLines },
        "wharf-api holds fewer lines than delivered",
      );
      return { rest: pending, storedBeyond: false };
    }
    if (extra === 0) return { rest: pending, storedBeyond: false };
    const stored = pending.slice(0, extra);
    ctx.log.info(
      { workerId: ctx.workerId, skipped: stored.length },
      "wharf-api already stored part of a batch",
    );
    await this.advance(stored, stored.length);
    ctx.metrics.count("log_lines_reconciled", stored.length);
    return { rest: pending.slice(stored.length), storedBeyond: extra > pending.length };
  }

  /** The lines wharf-api holds for the build; after a cut call, once two reads agree (at most 5 reads). */
  private async countStored(): Promise<number | undefined> {
    const { ctx } = this;
    let held = await ctx.api.countBuildLogs(ctx.buildId, ctx.signal);
    if (!this.cutCall || held === undefined) return held;
    for (let read = 1; read < 5; read++) {
      await sleep(ctx.tuning.retryBaseDelayMs, undefined, { signal: ctx.signal });
      const again = await ctx.api.countBuildLogs(ctx.buildId, ctx.signal);
      if (again === held) break;
      held = again;
    }
    this.cutCall = false;
    return held;
  }

  private async advance(lines: WorkerLogLines, stored: number): Promise<void> {
    const { ctx } = this;
    if (lines.length === 0) return;
    const update = { lastLogId: lines.lastLogId, deliveredLines: ctx.checkpoint.deliveredLines + stored };
    await ctx.checkpoints.save(ctx.workerId, update);
    Object.assign(ctx.checkpoint, update);
  }
}

/**
 * The next batch of worker messages: the first one (waited for), then only those that already
 * arrived, so live lines leave at once; at most `maxLines` lines (the last message may pass it)
 * and `maxMessages` messages. Undefined when the stream ended first; `ended` when it ended after.
 */
export async function takeBatch<T extends { length: number }>(
  it: AsyncIterator<T>,
  readable: { readableLength: number },
  maxLines: number,
  maxMessages: number,
): Promise<{ parts: T[]; ended: boolean } | undefined> {
  const first = await it.next();
  if (first.done) return undefined;
  const parts = [first.value];
  let size = first.value.length;
  while (size < maxLines && parts.length < maxMessages && readable.readableLength > 0) {
    const next = await it.next();
    if (next.done) return { parts, ended: true };
    parts.push(next.value);
    size += next.value.length;
  }
  return { parts, ended: false };
}
