import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createTestDatabase, type Database, migrate, openDatabase, type TestDatabase } from "../src/index.js";

const migrations = {
  component: "db-test",
  dir: path.join(path.dirname(fileURLToPath(import.meta.url)), "fixtures/migrations"),
};

let testDb: TestDatabase;
beforeAll(async () => {
  testDb = await createTestDatabase(inject("pgUrl"), "db");
});
afterAll(async () => {
  await testDb.drop();
});

const backends: [string, () => Promise<Database>][] = [
  ["pglite", () => openDatabase()],
  ["postgres", () => openDatabase({ url: testDb.url })],
];

describe.each(backends)("%s", (_name, open) => {
  it("migrates once, parses int8 as number and rolls back failed transactions", async () => {
    const db = await open();
    try {
      expect(await migrate(db, migrations)).toBeGreaterThanOrEqual(0);
      expect(await migrate(db, migrations)).toBe(0);
      await db.query("DELETE FROM things");
      await db.query("INSERT INTO things (name, size) VALUES ($1, $2)", ["a", 9_007_199_254]);
      const { rows } = await db.query<{ size: number }>("SELECT size FROM things WHERE name = 'a'");
      expect(rows[0]?.size).toBe(9_007_199_254);

      await expect(
        db.withTransaction(async (tx) => {
          await tx.query("INSERT INTO things (name) VALUES ('b')");
          throw new Error("boom");
        }),
      ).rejects.toThrow("boom");
      const after = await db.query("SELECT name FROM things ORDER BY name");
      expect(after.rows).toEqual([{ name: "a" }]);
    } finally {
      await db.close();
    }
  });
});

describe("postgres", () => {
  it("two processes migrating at once apply each migration exactly once", async () => {
    const fresh = await createTestDatabase(inject("pgUrl"), "dbrace");
    const a = await openDatabase({ url: fresh.url });
    const b = await openDatabase({ url: fresh.url });
    try {
      const [na, nb] = await Promise.all([migrate(a, migrations), migrate(b, migrations)]);
      expect(na + nb).toBe(2);
      const { rows } = await a.query<{ n: number }>(
        "SELECT count(*)::int8 AS n FROM wharf_migrations WHERE component = 'db-test'",
      );
      expect(rows[0]?.n).toBe(2);
    } finally {
      await a.close();
      await b.close();
      await fresh.drop();
    }
  });
});
