import type { PGlite } from "@electric-sql/pglite";
import pg from "pg";

export interface QueryResult<T> {
  rows: T[];
  rowCount: number;
}

/** Something SQL can be sent to: the database itself or a transaction. */
export interface Queryable {
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<QueryResult<T>>;
}

/**
 * One interface over real PostgreSQL (`pg` pool) and embedded PGlite, so every
 * query function is written once. PGlite is single-connection: transactions
 * serialise, and contention features (SKIP LOCKED between processes) only mean
 * something on real Postgres.
 */
export interface Database extends Queryable {
  readonly kind: "postgres" | "pglite";
  /** Runs `fn` in BEGIN/COMMIT; ROLLBACK when it throws. */
  withTransaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /**
   * Calls `onNotify` for each NOTIFY on `channel` (a plain identifier) until the returned
   * function is called. Best effort: a lost listening connection is retried, and who
   * listens keeps a slow poll as a safety net.
   */
  listen(channel: string, onNotify: () => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

function checkChannel(channel: string): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(channel)) throw new Error(`invalid channel name "${channel}"`);
  return channel;
}

/** While listening, a dropped connection is replaced after this long. */
const RELISTEN_DELAY_MS = 1_000;

export interface DatabaseOptions {
  /** postgres://… — when unset, PGlite is used. */
  url?: string;
  /** PGlite data directory; undefined = in memory. Ignored with `url`. */
  dataDir?: string;
  /** Pool size for real Postgres (default 10). */
  maxConnections?: number;
}

// int8 (OID 20) and numeric counts come back as strings from pg and as bigint
// from PGlite; every id we store fits in a JS number, so parse once here.
const INT8 = 20;

class PostgresDatabase implements Database {
  readonly kind = "postgres" as const;
  constructor(private readonly pool: pg.Pool) {}

  async query<T>(sql: string, params?: unknown[]): Promise<QueryResult<T>> {
    const r = await this.pool.query(sql, params as unknown[]);
    return { rows: r.rows as T[], rowCount: r.rowCount ?? r.rows.length };
  }

  async withTransaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    const tx: Queryable = {
      async query<R>(sql: string, params?: unknown[]) {
        const r = await client.query(sql, params as unknown[]);
        return { rows: r.rows as R[], rowCount: r.rowCount ?? r.rows.length };
      },
    };
    try {
      await client.query("BEGIN");
      const out = await fn(tx);
      await client.query("COMMIT");
      return out;
    } catch (err) {
      await client.query("ROLLBACK").catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  }

  /** LISTEN needs a connection of its own, outside the pool, held while listening. */
  async listen(channel: string, onNotify: () => void): Promise<() => Promise<void>> {
    const name = checkChannel(channel);
    let stopped = false;
    let client: pg.Client | undefined;
    const connect = async (): Promise<void> => {
      const c = new pg.Client(this.pool.options);
      c.on("notification", (m) => {
        if (m.channel === name) onNotify();
      });
      c.on("error", () => {
        void c.end().catch(() => {});
        if (stopped) return;
        // Changes may have been missed meanwhile: tell the listener once back.
        setTimeout(() => void connect().then(onNotify, () => {}), RELISTEN_DELAY_MS).unref();
      });
      await c.connect();
      await c.query(`LISTEN ${name}`);
      client = c;
      if (stopped) await c.end();
    };
    await connect();
    return async () => {
      stopped = true;
      await client?.end().catch(() => {});
    };
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}

// PGlite reports affectedRows 0 for a SELECT; pg reports the rows returned.
function pgliteRowCount(r: { rows: unknown[]; affectedRows?: number }): number {
  return r.rows.length > 0 ? r.rows.length : (r.affectedRows ?? 0);
}

class PgliteDatabase implements Database {
  readonly kind = "pglite" as const;
  constructor(
    private readonly db: PGlite,
    private readonly onClose: () => Promise<void>,
  ) {}

  async query<T>(sql: string, params?: unknown[]): Promise<QueryResult<T>> {
    const r = await this.db.query<T>(sql, params as unknown[]);
    return { rows: r.rows, rowCount: pgliteRowCount(r) };
  }

  async listen(channel: string, onNotify: () => void): Promise<() => Promise<void>> {
    return this.db.listen(checkChannel(channel), () => onNotify());
  }

  withTransaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.db.transaction(async (t) =>
      fn({
        async query<R>(sql: string, params?: unknown[]) {
          const r = await t.query<R>(sql, params as unknown[]);
          return { rows: r.rows, rowCount: pgliteRowCount(r) };
        },
      }),
    );
  }

  close(): Promise<void> {
    return this.onClose();
  }
}

// One PGlite instance per data directory in this process: `wharf up` runs the
// provisioner and the aggregator side by side, and PGlite cannot open one
// directory twice.
const shared = new Map<string, { db: PGlite; refs: number }>();

async function openPglite(dataDir: string | undefined): Promise<Database> {
  // Loaded only when used: importing PGlite costs ~45 MB of RSS, which a service on real Postgres
  // (the aggregator with 200 workers, say) should not pay.
  const { PGlite } = await import("@electric-sql/pglite");
  const key = dataDir ?? `memory:${Math.random()}`;
  let entry = shared.get(key);
  if (!entry) {
    const db = await PGlite.create({
      ...(dataDir ? { dataDir } : {}),
      parsers: { [INT8]: (v: string) => Number(v) },
    });
    entry = { db, refs: 0 };
    shared.set(key, entry);
  }
  entry.refs++;
  const held = entry;
  let closed = false;
  return new PgliteDatabase(held.db, async () => {
    if (closed) return;
    closed = true;
    held.refs--;
    if (held.refs === 0) {
      shared.delete(key);
      await held.db.close();
    }
  });
}

/** Opens real Postgres when `url` is set, else PGlite. */
export async function openDatabase(opts: DatabaseOptions = {}): Promise<Database> {
  if (opts.url) {
    const pool = new pg.Pool({
      connectionString: opts.url,
      max: opts.maxConnections ?? 10,
      types: {
        getTypeParser: ((oid: number, format?: string) =>
          oid === INT8 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as "text")) as never,
      },
    });
    // An idle client losing its connection must not crash the process; the pool replaces it.
    pool.on("error", () => {});
    return new PostgresDatabase(pool);
  }
  return openPglite(opts.dataDir);
}
