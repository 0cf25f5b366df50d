import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createTestDatabase, type TestDatabase } from "@wharf/db";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { Worker } from "../src/index.js";
import { api, STAND_IN_WORKER, startTestProvisioner, waitFor } from "./fixture.js";

let testDb: TestDatabase;
let tmp: string;
beforeAll(async () => {
  testDb = await createTestDatabase(inject("pgUrl"), "provq");
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), "wharf-provq-"));
});
afterAll(async () => {
  await testDb?.drop();
  await fs.rm(tmp, { recursive: true, force: true });
});

async function list(url: string, query = ""): Promise<Worker[]> {
  return (await api(url, "GET", `/api/worker${query}`)).json;
}

async function startsLog(dir: string): Promise<string[]> {
  const text = await fs.readFile(path.join(dir, "starts.log"), "utf8").catch(() => "");
  return text.split("\n").filter(Boolean);
}

// The PGlite case uses a data dir so "restart" reopens the same database.
const databases: [string, (dir: string) => { dbUrl?: string; pgliteDir?: string }][] = [
  ["pglite", (dir) => ({ pgliteDir: path.join(dir, "pg") })],
  ["postgres", () => ({ dbUrl: testDb.url })],
];

describe.each(databases)("queue on %s", (name, dbFor) => {
  it("runs at most WHARF_MAX_WORKERS at once, FIFO, and continues after a restart", async () => {
    const dir = await fs.mkdtemp(path.join(tmp, `${name}-`));
    const local = { command: STAND_IN_WORKER, extraEnv: { STANDIN_DIR: dir, STANDIN_LIFETIME_MS: "60000" } };
    const base = { ...dbFor(dir), maxWorkers: 1, dataDir: path.join(dir, "data"), local };
    let p = await startTestProvisioner(base);
    try {
      const refs = [1, 2, 3].map((i) => i + (name === "pglite" ? 1000 : 2000));
      for (const ref of refs) {
        const res = await api(p.url, "POST", `/api/worker?BUILD_REF=${ref}&GIT_FULLURL=x`);
        expect(res.status).toBe(201);
      }
      const first = await waitFor("first started", async () => {
        const ws = await list(p.url);
        return ws.find((w) => w.buildRef === refs[0] && w.address) ?? undefined;
      });
      let ws = await list(p.url);
      expect(ws.filter((w) => w.buildRef !== refs[0]).map((w) => w.status)).toEqual(["Queued", "Queued"]);

      // Restart: the new process adopts the running worker and keeps the queue.
      await p.close({ keepWorkers: true });
      p = await startTestProvisioner(base);
      ws = await list(p.url);
      expect(ws.find((w) => w.workerId === first.workerId)?.status).toMatch(/Initializing|Running/);
      expect(ws.filter((w) => w.status === "Queued")).toHaveLength(2);

      // Freeing the slot starts the next one in FIFO order, then the last.
      expect((await api(p.url, "DELETE", `/api/worker/${first.workerId}`)).status).toBe(204);
      await waitFor("second started", async () => (await startsLog(dir)).length === 2);
      ws = await list(p.url);
      expect(ws.find((w) => w.buildRef === refs[1])?.address).toBeTruthy();
      expect(ws.find((w) => w.buildRef === refs[2])?.status).toBe("Queued");
      const second = ws.find((w) => w.buildRef === refs[1]) as Worker;
      expect((await api(p.url, "DELETE", `/api/worker/${second.workerId}`)).status).toBe(204);
      await waitFor("third started", async () => (await startsLog(dir)).length === 3);
      expect((await startsLog(dir)).map((l) => Number(l.split(" ")[0]))).toEqual(refs);
    } finally {
      await p.close();
    }
  });

  it("marks a worker that exits before reporting a result as lost and frees its slot", async () => {
    const dir = await fs.mkdtemp(path.join(tmp, `${name}-lost-`));
    const local = { command: STAND_IN_WORKER, extraEnv: { STANDIN_DIR: dir, STANDIN_LIFETIME_MS: "300" } };
    // In-memory PGlite here: opening one on disk costs ~10 s (initdb in WASM).
    const db = name === "pglite" ? {} : dbFor(dir);
    const p = await startTestProvisioner({ ...db, maxWorkers: 1, dataDir: path.join(dir, "data"), local });
    try {
      const ref = name === "pglite" ? 3001 : 4001;
      await api(p.url, "POST", `/api/worker?BUILD_REF=${ref}&GIT_FULLURL=x`);
      await api(p.url, "POST", `/api/worker?BUILD_REF=${ref + 1}&GIT_FULLURL=x`);
      const lost = await waitFor("lost", async () => {
        const [w] = await list(p.url, `?buildRef=${ref}`);
        return w?.status === "Failed" ? w : undefined;
      });
      expect(lost.message).toMatch(/exited \(code 3\) before reporting a result/);
      await waitFor("next started", async () => (await startsLog(dir)).length === 2);
      const missing = await api(p.url, "POST", "/api/worker/missing", { body: { buildRefs: [ref] } });
      expect((missing.json as { missing: unknown[] }).missing).toEqual([
        expect.objectContaining({ buildRef: ref, live: false, reason: "lost" }),
      ]);
    } finally {
      await p.close();
    }
  });
});

describe("two replicas on one Postgres", () => {
  it("never start the same build twice", async () => {
    const db = await createTestDatabase(inject("pgUrl"), "provrace");
    const dir = await fs.mkdtemp(path.join(tmp, "race-"));
    const local = { command: STAND_IN_WORKER, extraEnv: { STANDIN_DIR: dir, STANDIN_LIFETIME_MS: "100" } };
    // Separate data dirs: each replica is its own backend scope, as on two hosts.
    // Both queue first and start their schedulers at the same moment with room
    // for every build, so both try to claim all of them at once.
    const opts = { dbUrl: db.url, maxWorkers: 30, local, autoStart: false };
    const [a, b] = await Promise.all([
      startTestProvisioner({ ...opts, dataDir: path.join(dir, "a") }),
      startTestProvisioner({ ...opts, dataDir: path.join(dir, "b") }),
    ]);
    try {
      const refs = Array.from({ length: 30 }, (_, i) => 5000 + i);
      await Promise.all(
        refs.map((ref, i) =>
          api(i % 2 ? a.url : b.url, "POST", `/api/worker?BUILD_REF=${ref}&GIT_FULLURL=x`),
        ),
      );
      a.provisioner.scheduler.start();
      b.provisioner.scheduler.start();
      await waitFor("all started", async () => (await startsLog(dir)).length >= refs.length, 60_000);
      await waitFor("all ended", async () => {
        const ws = await list(a.url);
        return ws.every((w) => w.status === "Failed");
      });
      const started = (await startsLog(dir)).map((l) => Number(l.split(" ")[0]));
      expect(started.sort((x, y) => x - y)).toEqual(refs);
    } finally {
      await Promise.all([a.close(), b.close()]);
      await db.drop();
    }
  });
});
