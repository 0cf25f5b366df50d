import fs from "node:fs/promises";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { compileOptions as compileAggregatorOptions, startAggregator } from "@wharf/aggregator-service";
import type { Logger } from "@wharf/config";
import { openDatabase } from "@wharf/db";
import { startDevSink } from "@wharf/dev-sink";
import { compileOptions as compileProvisionerOptions, startProvisioner } from "@wharf/provisioner-service";
import { DEV_STACK_SETTINGS } from "./settings.js";

export interface DevStackOptions {
  /** Where PGlite, worker results and logs live (default .wharf). */
  dataDir: string;
  backend: "local" | "docker";
  host: string;
  /** 0 picks free ports (tests); the defaults are 5001/5009/5008. */
  sinkPort: number;
  provisionerPort: number;
  aggregatorPort: number;
  /** Passed through: WHARF_WORKER_IMAGE, WHARF_MAX_WORKERS, DATABASE_URL, ... */
  env: NodeJS.ProcessEnv;
}

export interface DevStack {
  sinkUrl: string;
  provisionerUrl: string;
  aggregatorUrl: string;
  /**
   * Stops every worker still running while the aggregator still relays (their last lines
   * reach the sink), then the aggregator, provisioner and sink.
   */
  close(): Promise<void>;
}

const CLOSE_STEP_MS = 8_000;

/**
 * Everything `wharf up` runs, in one process on the embedded defaults: a dev sink that
 * speaks wharf-api's protocol, the provisioner (local or docker backend) and the
 * aggregator relaying workers into the sink. One PGlite database serves all three.
 */
export async function startDevStack(opts: DevStackOptions, log: Logger): Promise<DevStack> {
  const dataDir = path.resolve(opts.dataDir);
  await fs.mkdir(dataDir, { recursive: true });
  const databaseUrl = DEV_STACK_SETTINGS.databaseUrl.read(opts.env);
  const db = await openDatabase(databaseUrl ? { url: databaseUrl } : { dataDir: path.join(dataDir, "db") });
  const closers: [string, () => Promise<void>][] = [["database", async () => db.close()]];
  const close = async () => {
    for (const [name, c] of closers.splice(0).reverse()) {
      const t0 = Date.now();
      // Bounded: a dev stack that is going away must not hang on one part. (The ~70 s
      // seen here was a kept-alive connection holding the provisioner's HTTP close until
      // fastify's keepAliveTimeout; closeConnectionsWhenClosing fixes that in every service.)
      const timedOut = await Promise.race([
        c().then(
          () => false,
          (err: unknown) => {
            log.error({ err, name }, "close failed");
            return false;
          },
        ),
        sleep(CLOSE_STEP_MS).then(() => true),
      ]);
      if (timedOut) log.warn({ name, ms: CLOSE_STEP_MS }, "gave up waiting for a clean close");
      else log.debug({ name, ms: Date.now() - t0 }, "closed");
    }
  };
  try {
    const common = {
      // Ctrl-C must not wait long: a stopped worker gets this long to hand its last lines on.
      WHARF_WORKER_STOP_GRACE: "6s",
      // One process holds everything: a short lease keeps a restarted `wharf up` from waiting.
      WHARF_LEASE_TTL: "5s",
      ...opts.env,
      WHARF_DATA_DIR: dataDir,
    };
    const provisioner = await startProvisioner(
      compileProvisionerOptions({
        ...common,
        WHARF_PROVISIONER_HOST: opts.host,
        WHARF_PROVISIONER_PORT: String(opts.provisionerPort),
        WHARF_PROVISIONER_BACKEND: opts.backend,
      }),
      { log: log.child({ svc: "provisioner" }) },
    );
    closers.push(["provisioner", () => provisioner.close()]);
    const sink = await startDevSink({
      db,
      provisionerUrl: provisioner.url,
      instance: DEV_STACK_SETTINGS.instance.read(opts.env),
      host: opts.host,
      port: opts.sinkPort,
    });
    closers.push(["dev sink", () => sink.close()]);
    const aggregator = await startAggregator(
      compileAggregatorOptions({
        ...common,
        WHARF_API_URL: sink.url,
        WHARF_PROVISIONER_URL: provisioner.url,
        WHARF_DISCOVERY: "provisioner",
        WHARF_AGGREGATOR_HOST: opts.host,
        WHARF_AGGREGATOR_PORT: String(opts.aggregatorPort),
      }),
      log.child({ svc: "aggregator" }),
    );
    closers.push(["aggregator", () => aggregator.close()]);
    // Closed first (closers run in reverse).
    closers.push(["workers", () => stopAllWorkers(provisioner.url, log)]);
    return { sinkUrl: sink.url, provisionerUrl: provisioner.url, aggregatorUrl: aggregator.url, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** Ctrl-C on `wharf up` must not leave worker processes or containers behind. */
async function stopAllWorkers(provisionerUrl: string, log: Logger): Promise<void> {
  const res = await fetch(`${provisionerUrl}/api/worker`).catch(() => null);
  if (!res?.ok) return;
  const workers = (await res.json()) as { workerId: string; status: string }[];
  const running = workers.filter((w) => !["Success", "Failed", "Cancelled"].includes(w.status));
  // At once: each DELETE may wait for its worker's cancelled build to be relayed.
  await Promise.all(
    running.map((w) => {
      log.info({ workerId: w.workerId }, "stopping worker");
      const url = `${provisionerUrl}/api/worker/${encodeURIComponent(w.workerId)}`;
      return fetch(url, { method: "DELETE" }).catch(() => {});
    }),
  );
}
