import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { type Database, openDatabase } from "@wharf/db";
import { LocalBackend, type LocalBackendOptions } from "@wharf/local-backends";
import { waitFor as waitForTruthy } from "@wharf/testkit";
import { buildApp, Provisioner, type StatusProbe, type WorkerBackend } from "../src/index.js";

export interface TestProvisioner {
  url: string;
  provisioner: Provisioner;
  backend: WorkerBackend;
  db: Database;
  dataDir: string;
  /** Stops HTTP and the scheduler; `keepWorkers` leaves worker processes running (restart tests). */
  close(opts?: { keepWorkers?: boolean }): Promise<void>;
}

export interface TestProvisionerOptions {
  /** postgres URL; PGlite in memory when unset (or `db` given). */
  dbUrl?: string;
  db?: Database;
  /** PGlite on disk (restart tests); ignored with dbUrl or db. */
  pgliteDir?: string;
  dataDir?: string;
  token?: string;
  maxWorkers?: number;
  backend?: WorkerBackend;
  /** Leave the scheduler stopped (call `provisioner.scheduler.start()` later). */
  autoStart?: boolean;
  /** The scheduler's safety-net poll (default 200 ms; long in tests of the event paths). */
  pollIntervalMs?: number;
  local?: Partial<LocalBackendOptions>;
  /** POST /api/worker per token and minute; 0 (no limit) unless a test is about the limit. */
  triggerRate?: number;
  maxUrlLength?: number;
  /** The scheduler's worker probe (default: the real one over gRPC). */
  probe?: StatusProbe;
  /** The key of the workers' own tokens (WHARF_WORKER_TOKEN); none by default. */
  workerToken?: string;
  /** Workers tell their events to this provisioner's URL (as the service sets up for local workers). */
  reportEvents?: boolean;
}

/** A provisioner listening on 127.0.0.1 with a local backend under a temp data dir. */
export async function startTestProvisioner(opts: TestProvisionerOptions = {}): Promise<TestProvisioner> {
  const ownsDataDir = !opts.dataDir;
  const dataDir = opts.dataDir ?? (await fs.mkdtemp(path.join(os.tmpdir(), "wharf-prov-test-")));
  const ownsDb = !opts.db;
  const db =
    opts.db ??
    (await openDatabase(
      opts.dbUrl ? { url: opts.dbUrl } : opts.pgliteDir ? { dataDir: opts.pgliteDir } : {},
    ));
  const backend =
    opts.backend ??
    new LocalBackend({
      dataDir,
      stopGraceMs: 3000,
      ...(opts.workerToken ? { workerToken: opts.workerToken } : {}),
      ...opts.local,
      stopWorkersOnClose: false,
    });
  const provisioner = await Provisioner.start({
    db,
    backend,
    maxWorkers: opts.maxWorkers ?? 4,
    pollIntervalMs: opts.pollIntervalMs ?? 200,
    autoStart: opts.autoStart ?? true,
    ...(opts.probe ? { probe: opts.probe } : {}),
    ...(opts.workerToken ? { workerToken: opts.workerToken } : {}),
  });
  const app = await buildApp({
    provisioner,
    triggerRate: opts.triggerRate ?? 0,
    ...(opts.maxUrlLength ? { maxUrlLength: opts.maxUrlLength } : {}),
    ...(opts.token ? { token: opts.token } : {}),
  });
  const url = await app.listen({ host: "127.0.0.1", port: 0 });
  if (opts.reportEvents) provisioner.reportEventsTo(url);
  return {
    url,
    provisioner,
    backend,
    db,
    dataDir,
    async close({ keepWorkers = false } = {}) {
      await app.close();
      // Only this provisioner's workers: a Docker engine may hold other tests' too.
      const mine = new Set((await provisioner.listWorkers()).map((w) => w.workerId));
      await provisioner.close();
      if (!keepWorkers) {
        for (const w of await backend.list()) if (mine.has(w.workerId)) await backend.delete(w.workerId);
      }
      await backend.close();
      if (ownsDb) await db.close();
      if (ownsDataDir) await fs.rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Polls `check` until it returns a truthy value; bounded in time. */
export function waitFor<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 20_000) {
  return waitForTruthy(what, check, timeoutMs);
}

/** The exact query string wharf-api sends (v5, wharf-cmd provisioner). */
export function wharfApiQuery(p: { buildRef: number; gitUrl: string; token?: string; instance?: string }) {
  const q = new URLSearchParams({
    REPO_NAME: "hello",
    REPO_GROUP: "default",
    REPO_BRANCH: "master",
    GIT_BRANCH: "master",
    RUN_STAGES: "ALL",
    BUILD_REF: String(p.buildRef),
    VARS: "greeting: hi\ncount: 3\n",
    GIT_FULLURL: p.gitUrl,
    GIT_TOKEN: "",
    WHARF_PROJECT_ID: "7",
    WHARF_INSTANCE: p.instance ?? "test",
    ENVIRONMENT: "dev",
    token: p.token ?? "",
  });
  return q.toString();
}

export async function api(
  base: string,
  method: string,
  pathAndQuery: string,
  init: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
) {
  const headers: Record<string, string> = { ...init.headers };
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  let body: string | undefined;
  if (init.body !== undefined) {
    body = typeof init.body === "string" ? init.body : JSON.stringify(init.body);
    headers["content-type"] ??= "application/json";
  }
  const res = await fetch(`${base}${pathAndQuery}`, {
    method,
    headers,
    ...(body !== undefined ? { body } : {}),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, type: res.headers.get("content-type") ?? "", json: json as never, text };
}
