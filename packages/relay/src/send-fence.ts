import { performance } from "node:perf_hooks";

/**
 * How long a sender may still reach wharf-api. Checkpoint writes are fenced by the lease
 * in Postgres; sends cannot be, since wharf-api knows nothing of leases. So every send
 * asks the fence first, gives its call a deadline within what is left (a gRPC deadline
 * also binds wharf-api: grpc-go stops the handler, and with it the storing, when it
 * passes), and checks again before each chunk it writes. A holder stalled past its lease
 * (GC pause, SIGSTOP, a frozen VM) thus finds the fence closed when it runs again,
 * before its successor's sends could be overtaken by its own.
 */
export interface SendFence {
  /** Milliseconds in which a request may still reach wharf-api; ≤ 0: send nothing. */
  remainingMs(): number;
}

/** A send the fence stopped; transient: the lease renewal either reopens the fence or ends the relay. */
export class FenceClosedError extends Error {
  override readonly name = "FenceClosedError";
  constructor(what: string) {
    super(`${what}: not sent, this replica's lease may lapse before it arrives`);
  }
}

/** Throws FenceClosedError when `fence` leaves no time; otherwise the whole ms left (Infinity without a fence). */
export function sendBudgetMs(fence: SendFence | undefined, what: string): number {
  if (!fence) return Number.POSITIVE_INFINITY;
  const left = Math.floor(fence.remainingMs());
  if (left < 1) throw new FenceClosedError(what);
  return left;
}

/**
 * The fence of one worker lease. Its end is counted on this process' monotonic clock
 * from the moment the acquire or renew query was *sent*, which is before Postgres
 * computed the expiry, minus a margin for a request in transit; a monotonic clock keeps
 * running while the process is stopped, so a resumed holder sees the true time left.
 */
export class LeaseFence implements SendFence {
  private until = 0;
  readonly marginMs: number;

  constructor(
    readonly ttlMs: number,
    marginMs?: number,
  ) {
    this.marginMs = marginMs ?? Math.min(1_000, ttlMs / 10);
  }

  /** The clock reading to take just before sending an acquire or renew query. */
  static now(): number {
    return performance.now();
  }

  /** The lease was acquired or renewed by a query sent at `queriedAt` (LeaseFence.now()). */
  extend(queriedAt: number): void {
    this.until = Math.max(this.until, queriedAt + this.ttlMs - this.marginMs);
  }

  /** The lease is lost: nothing more may be sent. */
  close(): void {
    this.until = 0;
  }

  remainingMs(): number {
    return this.until - performance.now();
  }
}
