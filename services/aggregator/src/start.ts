import fs from "node:fs/promises";
import path from "node:path";
import { buildInfo, createLogger, type Logger } from "@wharf/config";
import { openDatabase } from "@wharf/db";
import { DockerDirectory } from "@wharf/docker-backends";
import { type BuildList, RecordedStepsSource, WharfApiLogSource, WorkerLogSource } from "@wharf/log-viewer";
import {
  Aggregator,
  BuildRecordStore,
  migrateRelay,
  ProvisionerDirectory,
  Watchdog,
  WharfApiClient,
  type WorkerDirectory,
  workerTokenOf,
} from "@wharf/relay";
import { startTracing } from "@wharf/tracing";
import { buildAggregatorHttpApp } from "./http-app.js";
import { createAggregatorMetrics } from "./metrics.js";
import type { AggregatorServiceOptions } from "./options.js";

export interface RunningAggregator {
  /** http://host:port of /healthz, /readyz, /metrics */
  url: string;
  /** Lease identity of this replica (null in watchdog-only mode). */
  holder: string | null;
  close(): Promise<void>;
}

async function directoryFor(opts: AggregatorServiceOptions, log: Logger): Promise<WorkerDirectory> {
  const d = opts.discovery;
  if (d.kind === "kubernetes") {
    // Loaded only here, so other setups never load the Kubernetes client.
    const { KubeConfig } = await import("@kubernetes/client-node");
    const { KubernetesWorkerDirectory } = await import("@wharf/kube-backends");
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromDefault(); // in a pod: its service account; else KUBECONFIG / ~/.kube/config
    const { kind: _kind, ...rest } = d;
    return new KubernetesWorkerDirectory({
      ...rest,
      kubeConfig,
      log: log.child({ discovery: "kubernetes" }),
    });
  }
  if (d.kind === "docker")
    return new DockerDirectory({
      ...(d.instance ? { instance: d.instance } : {}),
      log: log.child({ discovery: "docker" }),
    });
  return new ProvisionerDirectory({
    url: d.url,
    log: log.child({ discovery: "provisioner" }),
    ...(d.token ? { token: d.token } : {}),
    ...(d.instance !== undefined ? { instance: d.instance } : {}),
  });
}

/**
 * Wiring only: database + migrations, the directory, the wharf-api client, the
 * Aggregator and/or Watchdog from @wharf/relay, and a fastify app with health,
 * readiness and metrics.
 */
export async function startAggregator(
  opts: AggregatorServiceOptions,
  log: Logger = createLogger(opts.relay ? "aggregator" : "watchdog"),
): Promise<RunningAggregator> {
  const closers: (() => Promise<void> | void)[] = [];
  const close = async () => {
    for (const c of closers.splice(0).reverse()) await c();
  };
  try {
    const tracing = await startTracing("wharf-aggregator", buildInfo.version, opts.tracing);
    closers.push(() => tracing.shutdown());
    const api = new WharfApiClient({
      url: opts.apiUrl,
      grpcAddress: opts.apiGrpcAddress,
      ...(opts.apiToken ? { token: opts.apiToken } : {}),
    });
    closers.push(() => api.close());
    const directory = await directoryFor(opts, log);
    closers.push(() => directory.close?.());
    const metrics = createAggregatorMetrics();

    let aggregator: Aggregator | undefined;
    let records: BuildRecordStore | undefined;
    if (opts.relay) {
      if (!opts.databaseUrl) await fs.mkdir(opts.dataDir, { recursive: true });
      const db = await openDatabase(
        opts.databaseUrl ? { url: opts.databaseUrl } : { dataDir: path.join(opts.dataDir, "db") },
      );
      closers.push(() => db.close());
      await migrateRelay(db);
      records = new BuildRecordStore(db);
      aggregator = new Aggregator({
        db,
        directory,
        api,
        log,
        metrics: metrics.relay,
        leaseTtlMs: opts.leaseTtlMs,
        discoveryIntervalMs: opts.discoveryIntervalMs,
        workerLostGraceMs: opts.workerLostGraceMs,
        tuning: { logBatchLines: opts.logBatchLines },
        tracer: tracing.tracer,
        ...(opts.workerToken ? { workerToken: opts.workerToken } : {}),
      });
      metrics.watch(aggregator);
      aggregator.start();
      const running = aggregator;
      closers.push(() => running.stop());
    }
    if (opts.watchdog) {
      const watchdog = new Watchdog({
        api,
        directory,
        log,
        intervalMs: opts.watchdogIntervalMs,
        graceMs: opts.watchdogGraceMs,
      });
      watchdog.start();
      closers.push(() => watchdog.stop());
    }

    // Live logs for developers (SSE, text download, the log page): from the worker while
    // it lives, from wharf-api once it was released.
    const workerLogSource = new WorkerLogSource({
      resolveWorker: async (buildId, signal) => {
        const w = (await directory.list(signal)).find((x) => x.buildId === buildId && x.address);
        return w?.address ? { address: w.address, ...withToken(workerTokenOf(w, opts.workerToken)) } : null;
      },
      history: new WharfApiLogSource({
        url: opts.apiUrl,
        ...(opts.apiToken ? { token: opts.apiToken } : {}),
      }),
    });
    // The step table the relay keeps: step names once the worker is gone, and step times.
    const kept = records;
    const logSource = kept
      ? new RecordedStepsSource(workerLogSource, async (buildId) => {
          const r = await kept.get(buildId);
          return r && { steps: r.steps, startedAt: r.build.startedAt, finishedAt: r.build.finishedAt };
        })
      : workerLogSource;
    const builds: BuildList | undefined = kept && { recent: (q) => kept.recent(q) };
    const app = buildAggregatorHttpApp({
      logSource,
      ...(builds ? { builds } : {}),
      ready: () => (aggregator ? aggregator.ready : true),
      registry: metrics.registry,
      maxUrlLength: opts.maxUrlLength,
      ...(opts.viewerToken ? { viewerToken: opts.viewerToken } : {}),
    });
    if (opts.relay && !("instance" in opts.discovery && opts.discovery.instance !== undefined))
      log.warn(
        "WHARF_INSTANCE is unset: relaying workers of every wharf-api instance to WHARF_API_URL; set it when several instances share the workers",
      );
    if (!opts.viewerToken)
      log.warn(
        "WHARF_AGGREGATOR_TOKEN is unset: build logs are served without authentication, on loopback only",
      );
    const address = await app.listen({ host: opts.host, port: opts.port });
    closers.push(() => app.close());
    log.info(
      { address, holder: aggregator?.holder, discovery: opts.discovery.kind, ...buildInfo },
      "aggregator listening",
    );
    return { url: address, holder: aggregator?.holder ?? null, close };
  } catch (err) {
    await close();
    throw err;
  }
}

const withToken = (token: string | undefined) => (token ? { token } : {});
