import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createTestDatabase, type TestDatabase } from "@wharf/db";
import { makePipelineRepo } from "@wharf/testkit";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { Worker } from "../src/index.js";
import { api, startTestProvisioner, waitFor } from "./fixture.js";
import { SLEEPING_PIPELINE } from "./git-repo.js";

// Queue semantics with the real worker (local backend): builds of a pipeline
// that sleeps hold their slot until deleted; GIT_FULLURL=x fails at checkout.
let testDb: TestDatabase;
let tmp: string;
let sleeping: string;
beforeAll(async () => {
  testDb = await createTestDatabase(inject("pgUrl"), "provq");
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), "wharf-provq-"));
  sleeping = await makePipelineRepo(path.join(tmp, "sleeping"), SLEEPING_PIPELINE);
});
afterAll(async () => {
  await testDb?.drop();
  await fs.rm(tmp, { recursive: true, force: true });
});

async function list(url: string, query = ""): Promise<Worker[]> {
  return (await api(url, "GET", `/api/worker${query}`)).json;
}

const create = (url: string, ref: number, gitUrl = sleeping) =>
  api(url, "POST", `/api/worker?BUILD_REF=${ref}&GIT_FULLURL=${encodeURIComponent(gitUrl)}`);

// The PGlite case keeps its database on disk so "restart" reopens it.
const databases: [string, (dir: string) => { dbUrl?: string; pgliteDir?: string }][] = [
  ["pglite", (dir) => ({ pgliteDir: path.join(dir, "pg") })],
  ["postgres", () => ({ dbUrl: testDb.url })],
];

describe.each(databases)("queue on %s", (name, dbFor) => {
  it("runs at most WHARF_MAX_WORKERS at once, FIFO, and continues after a restart", async () => {
    const dir = await fs.mkdtemp(path.join(tmp, `${name}-`));
    const base = { ...dbFor(dir), maxWorkers: 1, dataDir: path.join(dir, "data") };
    let p = await startTestProvisioner(base);
    try {
      const refs = [1, 2, 3].map((i) => i + (name === "pglite" ? 1000 : 2000));
      for (const ref of refs) expect((await create(p.url, ref)).status).toBe(201);
      const byRef = async (ref: number | undefined) => (await list(p.url)).find((w) => w.buildRef === ref);
      const first = await waitFor("first running", async () => {
        const w = await byRef(refs[0]);
        return w?.status === "Running" ? w : undefined;
      });
      expect((await list(p.url, "?status=Queued")).map((w) => w.buildRef)).toEqual(refs.slice(1));

      // Restart: the new process adopts the running worker and keeps the queue.
      await p.close({ keepWorkers: true });
      p = await startTestProvisioner(base);
      expect((await byRef(refs[0]))?.status).toBe("Running");
      expect((await list(p.url, "?status=Queued")).map((w) => w.buildRef)).toEqual(refs.slice(1));
      expect((await p.backend.list()).map((w) => w.workerId)).toEqual([first.workerId]);

      // Freeing the slot starts the next one in FIFO order, then the last.
      expect((await api(p.url, "DELETE", `/api/worker/${first.workerId}`)).status).toBe(204);
      const second = await waitFor("second running", async () => {
        const w = await byRef(refs[1]);
        return w?.status === "Running" ? w : undefined;
      });
      expect((await byRef(refs[2]))?.status).toBe("Queued");
      expect((await api(p.url, "DELETE", `/api/worker/${second.workerId}`)).status).toBe(204);
      await waitFor("third running", async () => (await byRef(refs[2]))?.status === "Running");
    } finally {
      await p.close();
    }
  }, 90_000);
});

describe("lost workers", () => {
  it("marks a worker killed before it reported a result as lost and frees its slot", async () => {
    const dir = await fs.mkdtemp(path.join(tmp, "lost-"));
    const p = await startTestProvisioner({
      dbUrl: testDb.url,
      maxWorkers: 1,
      dataDir: path.join(dir, "data"),
    });
    try {
      await create(p.url, 4001);
      await create(p.url, 4002);
      const running = await waitFor("running", async () => {
        const [w] = await list(p.url, "?buildRef=4001");
        return w?.status === "Running" ? w : undefined;
      });
      const state = JSON.parse(
        await fs.readFile(path.join(dir, "data/workers", running.workerId, "worker.json"), "utf8"),
      ) as { pid: number };
      process.kill(-state.pid, "SIGKILL");
      const lost = await waitFor("lost", async () => {
        const [w] = await list(p.url, "?buildRef=4001");
        return w?.status === "Failed" ? w : undefined;
      });
      expect(lost.message).toMatch(/exited \(code 137\) before reporting a result/);
      await waitFor(
        "next running",
        async () => (await list(p.url, "?buildRef=4002"))[0]?.status === "Running",
      );
      const missing = await api(p.url, "POST", "/api/worker/missing", { body: { buildRefs: [4001, 4002] } });
      expect((missing.json as { results: unknown[] }).results).toEqual([
        expect.objectContaining({ buildRef: 4001, live: false, reason: "lost" }),
        expect.objectContaining({ buildRef: 4002, live: true }),
      ]);
    } finally {
      await p.close();
    }
  }, 60_000);
});

describe("two replicas on one Postgres", () => {
  it("never start the same build twice", async () => {
    const db = await createTestDatabase(inject("pgUrl"), "provrace");
    const dir = await fs.mkdtemp(path.join(tmp, "race-"));
    // Separate data dirs: each replica is its own backend scope, as on two hosts.
    // Both queue first and start their schedulers at the same moment with room
    // for every build, so both try to claim all of them at once.
    const opts = { dbUrl: db.url, maxWorkers: 10, autoStart: false };
    const [a, b] = await Promise.all([
      startTestProvisioner({ ...opts, dataDir: path.join(dir, "a") }),
      startTestProvisioner({ ...opts, dataDir: path.join(dir, "b") }),
    ]);
    try {
      const refs = Array.from({ length: 20 }, (_, i) => 5000 + i);
      await Promise.all(refs.map((ref, i) => create(i % 2 ? a.url : b.url, ref, "x")));
      a.provisioner.scheduler.start();
      b.provisioner.scheduler.start();
      await waitFor(
        "all claimed and started",
        async () => (await list(a.url)).every((w) => !["Queued", "Scheduling"].includes(w.status)),
        60_000,
      );
      // Every start made one worker directory on the replica that started it.
      const started = [
        ...(await fs.readdir(path.join(dir, "a/workers")).catch(() => [])),
        ...(await fs.readdir(path.join(dir, "b/workers")).catch(() => [])),
      ];
      const ids = (await list(a.url)).map((w) => w.workerId);
      expect(started.sort()).toEqual(ids.sort());
      expect(ids).toHaveLength(refs.length);
    } finally {
      await Promise.all([a.close(), b.close()]);
      await db.drop();
    }
  }, 120_000);
});
