import fs from "node:fs/promises";
import path from "node:path";
import { buildInfo, createLogger, type Logger } from "@wharf/config";
import { openDatabase } from "@wharf/db";
import { DockerBackend } from "@wharf/docker-backends";
import { LocalBackend } from "@wharf/local-backends";
import { buildApp, loadOrCreateWorkerKey, Provisioner, type WorkerBackend } from "@wharf/provisioner";
import { startTracing } from "@wharf/tracing";
import { type JanitorSchedule, scheduleJanitor } from "./janitor-schedule.js";
import type { CompiledOptions } from "./options.js";

export interface RunningProvisioner {
  /** http://host:port it listens on. */
  url: string;
  provisioner: Provisioner;
  /** Stops HTTP, then the scheduler, then closes backend and database. Workers keep running. */
  close(): Promise<void>;
}

async function createBackend(opts: CompiledOptions, workerKey: string, log: Logger): Promise<WorkerBackend> {
  const runtime = {
    stopGraceMs: opts.workerStopGraceMs,
    workerToken: workerKey,
    buildTimeoutMs: opts.buildTimeoutMs,
  };
  const b = opts.backend;
  if (b.kind === "kubernetes") {
    // Loaded only here, so local and docker setups never load the Kubernetes client.
    const { KubeConfig } = await import("@kubernetes/client-node");
    const { KubernetesWorkerBackend } = await import("@wharf/kube-backends");
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromDefault(); // in a pod: its service account; else KUBECONFIG / ~/.kube/config
    const { kind: _kind, workerEnv, resources, nodeSelector, tolerations, ...rest } = b;
    return new KubernetesWorkerBackend({
      ...runtime,
      ...rest,
      kubeConfig,
      extraEnv: workerEnv,
      placement: {
        ...(resources ? { resources } : {}),
        ...(nodeSelector ? { nodeSelector } : {}),
        ...(tolerations ? { tolerations } : {}),
      },
      log: log.child({ backend: "kubernetes" }),
    });
  }
  if (b.kind === "docker") {
    return new DockerBackend({
      ...runtime,
      image: b.image,
      ...(b.command ? { cmd: b.command } : {}),
      network: b.network,
      binds: b.binds,
      socketPath: b.socketPath,
      advertiseHost: b.advertiseHost,
      executor: b.executor,
      ...(b.cri ? { cri: b.cri } : {}),
      extraEnv: b.workerEnv,
      standbyWorkers: b.standbyWorkers,
      log: log.child({ backend: "docker" }),
    });
  }
  return new LocalBackend({
    ...runtime,
    dataDir: opts.dataDir,
    executor: b.executor,
    extraEnv: b.workerEnv,
    standbyWorkers: b.standbyWorkers,
    ...(b.command ? { command: b.command } : {}),
    log: log.child({ backend: "local" }),
  });
}

/** Wires database, backend, scheduler and HTTP together and listens. */
export async function startProvisioner(
  opts: CompiledOptions,
  deps: { log?: Logger } = {},
): Promise<RunningProvisioner> {
  const log = deps.log ?? createLogger("provisioner");
  await fs.mkdir(opts.dataDir, { recursive: true });
  const db = await openDatabase(
    opts.databaseUrl ? { url: opts.databaseUrl } : { dataDir: path.join(opts.dataDir, "db") },
  );
  // Every worker requires its own gRPC token; the key they derive from is configured or made here.
  const workerKey = opts.workerToken ?? (await loadOrCreateWorkerKey(opts.dataDir));
  let backend: WorkerBackend;
  try {
    backend = await createBackend(opts, workerKey, log);
  } catch (err) {
    await db.close();
    throw err;
  }
  let provisioner: Provisioner | undefined;
  const tracing = await startTracing("wharf-provisioner", buildInfo.version, opts.tracing);
  try {
    provisioner = await Provisioner.start({
      tracer: tracing.tracer,
      db,
      backend,
      maxWorkers: opts.maxWorkers,
      pollIntervalMs: opts.pollIntervalMs,
      retentionMs: opts.retentionMs,
      workerToken: workerKey,
      log,
    });
    const app = await buildApp({
      provisioner,
      logger: log,
      maxUrlLength: opts.maxUrlLength,
      triggerRate: opts.triggerRate,
      ...(opts.token ? { token: opts.token } : {}),
    });
    const address = await app.listen({ host: opts.host, port: opts.port });
    const url = address.replace("0.0.0.0", "127.0.0.1").replace("[::]", "[::1]");
    // Local workers, and Docker workers on the host's network, reach us where we listen: they
    // tell when ready and when their build ended. One that cannot is probed after a few seconds.
    if (backend.kind === "local" || (opts.backend.kind === "docker" && opts.backend.network === "host"))
      provisioner.reportEventsTo(url);
    log.info(
      { url, backend: backend.kind, maxWorkers: opts.maxWorkers, db: db.kind, ...buildInfo },
      "provisioner listening",
    );
    const running = provisioner;
    const janitor: JanitorSchedule | undefined =
      opts.janitor && scheduleJanitor(opts.janitor, { metrics: running.metrics, log });
    return {
      url,
      provisioner: running,
      async close() {
        await app.close();
        await janitor?.close();
        await running.close();
        await backend.close();
        await db.close();
        await tracing.shutdown();
      },
    };
  } catch (err) {
    await provisioner?.close();
    await backend.close();
    await db.close();
    await tracing.shutdown();
    throw err;
  }
}
