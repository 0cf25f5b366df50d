import type { Database } from "@wharf/db";

/**
 * Lease rows with an expiry: each worker is relayed by the one replica that
 * holds its lease. A lease is taken only when free, expired, or already ours
 * (INSERT … ON CONFLICT … WHERE), so two replicas never hold it at once as far
 * as Postgres' clock is concerned.
 */
export class WorkerLease {
  constructor(
    private readonly db: Database,
    /** This replica's identity (unique per process). */
    readonly holder: string,
    readonly ttlMs: number,
  ) {}

  async tryAcquire(workerId: string): Promise<boolean> {
    const r = await this.db.query(
      `INSERT INTO relay_lease (worker_id, holder, expires_at)
       VALUES ($1, $2, now() + $3 * interval '1 millisecond')
       ON CONFLICT (worker_id) DO UPDATE
         SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
         WHERE relay_lease.expires_at < now() OR relay_lease.holder = EXCLUDED.holder
       RETURNING worker_id`,
      [workerId, this.holder, this.ttlMs],
    );
    return r.rowCount > 0;
  }

  /**
   * Extends the lease; false when someone else took it (stop relaying then). A
   * lease that expired but was not taken is still ours: nobody relayed meanwhile.
   */
  async renew(workerId: string): Promise<boolean> {
    const r = await this.db.query(
      `UPDATE relay_lease SET expires_at = now() + $3 * interval '1 millisecond'
        WHERE worker_id = $1 AND holder = $2`,
      [workerId, this.holder, this.ttlMs],
    );
    return r.rowCount > 0;
  }

  async release(workerId: string): Promise<void> {
    await this.db.query("DELETE FROM relay_lease WHERE worker_id = $1 AND holder = $2", [
      workerId,
      this.holder,
    ]);
  }

  /** Current holder, for diagnostics and tests. */
  async holderOf(workerId: string): Promise<string | undefined> {
    const { rows } = await this.db.query<{ holder: string }>(
      "SELECT holder FROM relay_lease WHERE worker_id = $1 AND expires_at > now()",
      [workerId],
    );
    return rows[0]?.holder;
  }
}
