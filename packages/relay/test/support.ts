import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createLogger } from "@wharf/config";
import { createTestDatabase, type Database, openDatabase, type TestDatabase } from "@wharf/db";
import type { BuildId } from "@wharf/proto/build-id";
import { ResultStore } from "@wharf/result-store";
import { waitFor as waitForTruthy } from "@wharf/testkit";
import { startWorkerRpcServer, type WorkerRpcServer } from "@wharf/worker-rpc";
import { afterAll, beforeAll, inject } from "vitest";
import { type LiveWorker, migrateRelay, type WorkerDirectory } from "../src/index.js";

export const quietLog = createLogger("relay-test");

/**
 * A throwaway database with the relay's tables on the suite's Postgres, for the calling test
 * file: created in beforeAll, dropped in afterAll. `db` is there once the tests run.
 */
export function useRelayDatabase(name: string): { readonly db: Database } {
  let testDb: TestDatabase | undefined;
  let db: Database | undefined;
  beforeAll(async () => {
    testDb = await createTestDatabase(inject("pgUrl"), name);
    db = await openDatabase({ url: testDb.url });
    await migrateRelay(db);
  });
  afterAll(async () => {
    await db?.close();
    await testDb?.drop();
  });
  return {
    get db() {
      if (!db) throw new Error("the relay database is opened in beforeAll");
      return db;
    },
  };
}

/**
 * A real worker for relay purposes: a ResultStore on disk served by the
 * worker's own gRPC server on 127.0.0.1. Tests write into `store` the way the
 * engine would.
 */
export interface TestWorker {
  workerId: string;
  buildId: BuildId;
  store: ResultStore;
  address: string;
  released: Promise<void>;
  /** max_batch_bytes of every StreamLogBatches call the worker served, in order. */
  logStreamBytes: number[];
  /** Stops answering at once, the way a killed worker does. */
  kill(): Promise<void>;
  close(): Promise<void>;
}

export async function startTestWorker(
  buildId: BuildId,
  opts: { token?: string; port?: number } = {},
): Promise<TestWorker> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "wharf-relay-worker-"));
  const store = await ResultStore.open(dir, { buildRef: String(buildId) });
  let onReleased!: () => void;
  const released = new Promise<void>((r) => {
    onReleased = r;
  });
  const logStreamBytes: number[] = [];
  // The store as the server sees it, noting each log stream's size limit on the way.
  const served = Object.assign(Object.create(store) as ResultStore, {
    followLogRecords: (...args: Parameters<ResultStore["followLogRecords"]>) => {
      logStreamBytes.push(args[1]?.maxBatchBytes ?? 0);
      return store.followLogRecords(...args);
    },
  });
  let server: WorkerRpcServer | undefined = await startWorkerRpcServer({
    store: served,
    host: "127.0.0.1",
    port: opts.port ?? 0,
    ...(opts.token ? { token: opts.token } : {}),
    onRelease: () => onReleased(),
    shutdownGraceMs: 0,
  });
  const address = `127.0.0.1:${server.port}`;
  const stopServer = async () => {
    const s = server;
    server = undefined;
    await s?.close();
  };
  return {
    workerId: `w-${buildId}-${Math.floor(Math.random() * 1e6)}`,
    buildId,
    store,
    address,
    released,
    logStreamBytes,
    kill: stopServer,
    async close() {
      await stopServer();
      await store.close().catch(() => {});
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}

/** A directory the test fills by hand; records removals the way a backend would act on them. */
export class ListedWorkers implements WorkerDirectory {
  readonly kind = "test";
  readonly workers = new Map<string, LiveWorker>();
  readonly removed: string[] = [];
  /** Builds the directory says this engine started (its `startedBuilds`). */
  readonly started = new Set<BuildId>();

  add(w: TestWorker, status: LiveWorker["status"] = "running"): void {
    this.workers.set(w.workerId, { workerId: w.workerId, buildId: w.buildId, address: w.address, status });
  }

  async list(): Promise<LiveWorker[]> {
    return [...this.workers.values()];
  }

  /** The outcome each removal carried, by worker id. */
  readonly outcomes = new Map<string, string | undefined>();

  async remove(workerId: string, _signal?: AbortSignal, outcome?: string): Promise<void> {
    this.removed.push(workerId);
    this.outcomes.set(workerId, outcome);
    this.workers.delete(workerId);
  }

  async startedBuilds(ids: BuildId[]): Promise<Set<BuildId>> {
    return new Set(ids.filter((id) => this.started.has(id)));
  }
}

/** Polls `check` until it returns true, at most `timeoutMs`; throws with `what` otherwise. */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20_000) {
  await waitForTruthy(what, check, timeoutMs);
}

/** Writes `n` lines spread over steps 1..3, with step status changes in between. */
export function writeLines(store: ResultStore, from: number, n: number): void {
  for (let i = from; i < from + n; i++) store.appendLog((i % 3) + 1, `line ${i}`);
}
