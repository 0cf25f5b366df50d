import type { Logger } from "@wharf/config";

/**
 * One kind of standby worker (a process, a container): how a backend starts one, tells whether
 * it can still be handed a build, and ends one no build took.
 */
export interface StandbyKind<S> {
  /** Starts one for `key` (the wharf instance it is kept for). A throw is logged; filling stops until the next take. */
  launch(key: string): Promise<S>;
  /** Whether it can still be handed a build (not exited, its stdin still open). */
  alive(standby: S): boolean;
  /** Ends and removes one no build took. A failure is logged by the pool. */
  discard(standby: S): Promise<void>;
}

export interface StandbyPoolOptions {
  /** How many to keep waiting. */
  count: number;
  /** Says what could not start, e.g. "standby worker container". */
  noun: string;
  log?: Logger;
}

/**
 * Workers started before the builds that will use them (`wharf worker serve --standby`), so a
 * build's worker need not wait for its process or container to start and Node to load it
 * (BENCHMARKS.md, "trigger to first line"). The pool keeps `count` waiting for one key (the
 * instance of the last build asked for: a container's labels name its instance); `take` hands
 * one over and starts another in its place, so builds triggered one after another each find one
 * ready. The local and Docker backends each give it their kind.
 */
export class StandbyPool<S> {
  private readonly waiting: S[] = [];
  private key: string | undefined;
  private filling: Promise<void> | undefined;
  private closed = false;
  /** Discards under way, awaited by close. */
  private readonly discarding = new Set<Promise<void>>();

  constructor(
    private readonly kind: StandbyKind<S>,
    private readonly opts: StandbyPoolOptions,
  ) {}

  /** Starts the first ones for `key` ahead of any take. */
  prime(key: string): void {
    this.key ??= key;
    this.fill();
  }

  /**
   * A live standby kept for `key`, or undefined (none ready, or kept for another key: those are
   * discarded and the next ones are made for this one).
   */
  take(key: string): S | undefined {
    if (key !== this.key) {
      this.key = key;
      for (const stale of this.waiting.splice(0)) this.discardLater(stale);
    }
    let taken: S | undefined;
    while (taken === undefined && this.waiting.length > 0) {
      const next = this.waiting.shift() as S;
      if (this.kind.alive(next)) taken = next;
      else this.discardLater(next);
    }
    // After the hand-over (a process spawns synchronously); one that died is replaced here too.
    setImmediate(() => this.fill());
    return taken;
  }

  /** Drops a waiting standby that ended (its kind saw it exit); one already taken is the build's. */
  drop(standby: S): void {
    const at = this.waiting.indexOf(standby);
    if (at >= 0) this.discardLater(this.waiting.splice(at, 1)[0] as S);
  }

  private fill(): void {
    if (this.closed || this.key === undefined || this.filling) return;
    const key = this.key;
    this.filling = (async () => {
      // On a failure it stops until the next take: a standby that cannot start is no hot loop.
      while (!this.closed && this.key === key && this.waiting.length < this.opts.count) {
        const started = await this.kind.launch(key).catch((err: Error) => {
          this.opts.log?.warn({ err: err.message }, `could not start a ${this.opts.noun}`);
          return undefined;
        });
        if (started === undefined) return;
        if (this.closed || this.key !== key) await this.discard(started);
        else this.waiting.push(started);
      }
    })().finally(() => {
      this.filling = undefined;
      // The key changed while these were made: make the new key's now.
      if (this.key !== key) this.fill();
    });
  }

  private discardLater(standby: S): void {
    const discard = this.discard(standby).finally(() => this.discarding.delete(discard));
    this.discarding.add(discard);
  }

  /** A standby that could not be removed is said, never a rejection nobody awaits. */
  private discard(standby: S): Promise<void> {
    return this.kind.discard(standby).catch((err: Error) => {
      this.opts.log?.warn({ err: err.message }, `could not remove a ${this.opts.noun}`);
    });
  }

  /** Ends the standbys no build took. */
  async close(): Promise<void> {
    this.closed = true;
    await this.filling;
    await Promise.all([...this.waiting.splice(0).map((s) => this.discard(s)), ...this.discarding]);
  }
}
