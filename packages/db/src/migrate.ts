import fs from "node:fs/promises";
import path from "node:path";
import type { Database } from "./database.js";

export interface MigrationSet {
  /** Name of the component owning these migrations ("provisioner", "aggregator"). */
  component: string;
  /** Folder of numbered files: 000001.sql, 000002.sql, … applied in order. */
  dir: string;
}

/**
 * Applies the component's pending migrations, each in its own transaction.
 * Safe when several processes start at once: a transaction-scoped advisory lock
 * (keyed by component) makes the others wait and then see the work as done.
 */
export async function migrate(db: Database, set: MigrationSet): Promise<number> {
  const files = (await fs.readdir(set.dir)).filter((f) => /^\d{6}\.sql$/.test(f)).sort();
  // CREATE TABLE IF NOT EXISTS is not safe against itself: two sessions can both see
  // no table and one fails on the catalog's unique index. Serialise it with a lock.
  await db.withTransaction(async (tx) => {
    await tx.query("SELECT pg_advisory_xact_lock(hashtext('wharf_migrations'))");
    await tx.query(
      `CREATE TABLE IF NOT EXISTS wharf_migrations (
         component text NOT NULL,
         id integer NOT NULL,
         applied_at timestamptz NOT NULL DEFAULT now(),
         PRIMARY KEY (component, id))`,
    );
  });
  let applied = 0;
  for (const file of files) {
    const id = Number(file.slice(0, 6));
    const sql = await fs.readFile(path.join(set.dir, file), "utf8");
    const done = await db.withTransaction(async (tx) => {
      await tx.query("SELECT pg_advisory_xact_lock(hashtext($1))", [`wharf_migrations:${set.component}`]);
      const seen = await tx.query("SELECT 1 FROM wharf_migrations WHERE component = $1 AND id = $2", [
        set.component,
        id,
      ]);
      if (seen.rowCount > 0) return false;
      for (const statement of splitStatements(sql)) await tx.query(statement);
      await tx.query("INSERT INTO wharf_migrations (component, id) VALUES ($1, $2)", [set.component, id]);
      return true;
    });
    if (done) applied++;
  }
  return applied;
}

// Extended-protocol queries take one statement each; migrations are written
// with one statement per `;`-terminated block and no `;` inside literals.
function splitStatements(sql: string): string[] {
  return sql
    .split(/;\s*(?:\r?\n|$)/)
    .map((s) => s.replace(/^\s*--.*$/gm, "").trim())
    .filter(Boolean);
}
