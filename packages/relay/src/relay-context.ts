import type { Logger } from "@wharf/config";
import type { BuildId } from "@wharf/proto/build-id";
import type { WorkerConnection } from "@wharf/worker-rpc";
import type { RelayMetrics } from "./relay-metrics.js";
import type { Checkpoint, CheckpointStore } from "./relay-store.js";
import { LeaseLostError } from "./relay-store.js";
import { retryUntilAborted } from "./retry.js";
import type { SendFence } from "./send-fence.js";
import { type WharfApiClient, WharfApiError } from "./wharf-api-client.js";

export interface RelayTuning {
  /**
   * Most lines per CreateLogStream call (default 40000): one acknowledged batch, then one
   * checkpoint. A batch takes only lines that already arrived, so live lines leave at once,
   * and at most MESSAGES_PER_BATCH messages, so with many workers (smaller messages) it is
   * smaller too. Each call ends in a wait for wharf-api's answer and a checkpoint write, when
   * neither side sends: larger calls leave fewer such pauses (see BENCHMARKS.md, "relay
   * throughput"); beyond ~42000 (17 messages of 2500 lines) there is nothing to gain.
   */
  logBatchLines: number;
  /**
   * Most lines per worker StreamLogBatches message (default 2500: ~250 KiB of 80-byte lines,
   * about MAX_MESSAGE_BYTES). Fewer, larger messages cost less per line on both sides;
   * memory is bounded by readAheadBytes.
   */
  workerBatchLines: number;
  /**
   * Bytes of worker log messages all relayed workers may hold together (default 32 MiB): grpc-js
   * reads 16 messages ahead on every stream, so with many workers behind, each asks its worker
   * for smaller messages (see workerMessageBytes).
   */
  readAheadBytes: number;
  retryBaseDelayMs: number;
  retryMaxDelayMs: number;
  /** Ask wharf-api how many lines it holds after an interrupted batch, to skip what it stored. */
  reconcileLogs: boolean;
}

export const defaultRelayTuning: RelayTuning = {
  logBatchLines: 40_000,
  workerBatchLines: 2500,
  readAheadBytes: 32 * 2 ** 20,
  retryBaseDelayMs: 200,
  retryMaxDelayMs: 10_000,
  reconcileLogs: true,
};

/** What the three relays of one worker share. `checkpoint` is the live, in-memory copy. */
export interface RelayContext {
  workerId: string;
  buildId: BuildId;
  /** The build's wharf-api instance and trigger time, when the directory told them. */
  instance?: string;
  triggeredAt?: number;
  worker: WorkerConnection;
  api: WharfApiClient;
  checkpoints: CheckpointStore;
  checkpoint: Checkpoint;
  signal: AbortSignal;
  /** Every send to wharf-api passes it: nothing leaves once this replica's lease may have lapsed. */
  fence: SendFence;
  log: Logger;
  metrics: RelayMetrics;
  tuning: RelayTuning;
  /** How many workers this process relays right now (they share tuning.readAheadBytes). */
  relaysRunning(): number;
  /** The worker answered: it is reachable. */
  workerOk(): void;
  /** A call to the worker failed; the owner decides when that means the worker is lost. */
  workerTrouble(err: unknown): void;
}

/**
 * Most worker messages in one CreateLogStream batch. Each message is at most
 * workerMessageBytes, so this bounds a batch's bytes however short its lines are.
 */
export const MESSAGES_PER_BATCH = 17;

/** A worker stream holds up to 16 messages read ahead by grpc-js, plus the batch being delivered. */
const MESSAGES_HELD_PER_WORKER = 16 + MESSAGES_PER_BATCH;
const MIN_MESSAGE_BYTES = 4 * 1024;
const MAX_MESSAGE_BYTES = 256 * 1024;

/** The StreamLogBatches message size that keeps all relayed workers' messages within the budget. */
export function workerMessageBytes(tuning: RelayTuning, relaysRunning: number): number {
  const share = Math.floor(tuning.readAheadBytes / (MESSAGES_HELD_PER_WORKER * Math.max(1, relaysRunning)));
  return Math.min(MAX_MESSAGE_BYTES, Math.max(MIN_MESSAGE_BYTES, share));
}

/**
 * wharf-api answered a call of this worker's relay with a permanent refusal (see
 * WharfApiError.permanent): retrying cannot help, so the relay of this build ends.
 */
export class RelayRefusedError extends Error {
  override readonly name = "RelayRefusedError";
  constructor(
    /** What was being delivered, e.g. "log batch", "status Running". */
    readonly what: string,
    readonly refusal: WharfApiError,
  ) {
    super(`wharf-api refused the ${what} (${refusal.message.slice(0, 300)})`, { cause: refusal });
  }
}

/** Errors after which a relay step must not be tried again. */
export function endsRelay(err: unknown): boolean {
  return err instanceof LeaseLostError || err instanceof RelayRefusedError;
}

/**
 * Retries a wharf-api or Postgres step until it works; losing the lease ends it at once,
 * and so does a permanent refusal from wharf-api (as a RelayRefusedError).
 */
export async function deliver<T>(ctx: RelayContext, what: string, fn: () => Promise<T>): Promise<T> {
  return retryUntilAborted(
    () =>
      fn().catch((err: unknown) => {
        throw err instanceof WharfApiError && err.permanent ? new RelayRefusedError(what, err) : err;
      }),
    {
      signal: ctx.signal,
      baseDelayMs: ctx.tuning.retryBaseDelayMs,
      maxDelayMs: ctx.tuning.retryMaxDelayMs,
      isFatal: endsRelay,
      onError: (err, attempt, delayMs) => {
        ctx.metrics.count("delivery_retries");
        ctx.log.warn(
          { err: String(err), attempt, delayMs, workerId: ctx.workerId },
          `${what} failed, retrying`,
        );
      },
    },
  );
}

/**
 * Reads a worker stream until it ends OK, reopening it after failures from
 * wherever the checkpoint is by then. `open` is called with no argument and
 * reads the checkpoint itself; `handle` processes one message.
 */
export async function followWorkerStream<T>(
  ctx: RelayContext,
  what: string,
  open: () => AsyncIterable<T> & { cancel(): void },
  consume: (stream: AsyncIterator<T>, readable: { readableLength: number }) => Promise<void>,
): Promise<void> {
  await retryUntilAborted(
    async () => {
      const stream = open();
      const onAbort = () => stream.cancel();
      ctx.signal.addEventListener("abort", onAbort, { once: true });
      try {
        await consume(stream[Symbol.asyncIterator](), stream as unknown as { readableLength: number });
      } catch (err) {
        if (!endsRelay(err) && !ctx.signal.aborted && isWorkerCallError(err)) ctx.workerTrouble(err);
        throw err;
      } finally {
        ctx.signal.removeEventListener("abort", onAbort);
        stream.cancel();
      }
    },
    {
      signal: ctx.signal,
      baseDelayMs: ctx.tuning.retryBaseDelayMs,
      maxDelayMs: Math.min(ctx.tuning.retryMaxDelayMs, 2_000),
      isFatal: endsRelay,
      onError: (err, attempt) =>
        ctx.log.warn(
          { err: String(err), attempt, workerId: ctx.workerId },
          `${what} stream from worker broke`,
        ),
    },
  );
}

/** gRPC errors carry a numeric `code`; wharf-api errors from our client are WharfApiError. */
function isWorkerCallError(err: unknown): boolean {
  return typeof (err as { code?: unknown })?.code === "number";
}
