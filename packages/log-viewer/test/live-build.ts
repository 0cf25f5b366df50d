import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ResultStore } from "@wharf/result-store";
import { startWorkerRpcServer, type WorkerRpcServer } from "@wharf/worker-rpc";
import Fastify, { type FastifyInstance } from "fastify";
import {
  type BuildList,
  type BuildLogSource,
  buildListRoutes,
  logViewerRoutes,
  viewerAccessHook,
  WorkerLogSource,
} from "../src/index.js";

export const BUILD_REF = "42";

/**
 * A real build on the worker side (a ResultStore served by the worker's gRPC server on
 * 127.0.0.1) and the log viewer routes on a real fastify server in front of it.
 */
export class LiveBuild {
  private constructor(
    readonly dir: string,
    readonly store: ResultStore,
    readonly rpc: WorkerRpcServer,
    readonly app: FastifyInstance,
    readonly url: string,
  ) {}

  /** `token`: the routes behind viewerAccessHook, registered as the aggregator does. */
  static async start(
    opts: { source?: (workerAddress: string) => BuildLogSource; token?: string; builds?: BuildList } = {},
  ): Promise<LiveBuild> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "wharf-log-viewer-"));
    const store = await ResultStore.open(dir, { buildRef: BUILD_REF, flushIntervalMs: 2 });
    store.setSteps([
      { stepId: 1, stage: "build", name: "compile" },
      { stepId: 2, stage: "build", name: "lint" },
      { stepId: 3, stage: "test", name: "unit" },
    ]);
    store.appendStatus(0, "RUNNING");
    const rpc = await startWorkerRpcServer({ store, host: "127.0.0.1", port: 0, shutdownGraceMs: 200 });
    const address = `127.0.0.1:${rpc.port}`;
    const source =
      opts.source?.(address) ??
      new WorkerLogSource({
        resolveWorker: async (id) => (id === Number(BUILD_REF) ? { address } : null),
        retryIntervalMs: 50,
      });
    const app = Fastify({ logger: false });
    await app.register(async (viewer) => {
      if (opts.token) viewer.addHook("onRequest", viewerAccessHook({ token: opts.token }));
      await viewer.register(logViewerRoutes, { source, heartbeatMs: 1000, retryMs: 200 });
      if (opts.builds) await viewer.register(buildListRoutes, { builds: opts.builds });
    });
    const url = await app.listen({ host: "127.0.0.1", port: 0 });
    return new LiveBuild(dir, store, rpc, app, url);
  }

  /** Appends lines `from..to` as "line N" to the steps in turn (1, 2, 3, 1, ...). */
  appendLines(from: number, to: number, text: (n: number) => string = (n) => `line ${n}`): void {
    for (let n = from; n <= to; n++) this.store.appendLog(((n - 1) % 3) + 1, text(n));
  }

  async finish(status: "SUCCESS" | "FAILED" | "CANCELLED" = "SUCCESS"): Promise<void> {
    await this.store.finish(status, status === "SUCCESS" ? "" : `build ${status.toLowerCase()}`);
  }

  async stop(): Promise<void> {
    await this.app.close();
    await this.rpc.close();
    await this.store.close();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Polls `check` every 20 ms until it is truthy; fails after `timeoutMs`. */
export async function waitFor<T>(check: () => T | Promise<T>, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
