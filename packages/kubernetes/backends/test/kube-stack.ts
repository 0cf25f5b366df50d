import type { KubeConfig } from "@kubernetes/client-node";
import { createLogger } from "@wharf/config";
import type { Database } from "@wharf/db";
import { FakeKubeApiServer } from "@wharf/kube-fake";
import { defaultWorkerCommand } from "@wharf/local-backends";
import { buildApp, migrateProvisioner, Provisioner, type StatusProbe } from "@wharf/provisioner";
import { Aggregator, migrateRelay, WharfApiClient } from "@wharf/relay";
import { freePort, startWharfApiDouble, type WharfApiDouble } from "@wharf/testkit";
import {
  type KubernetesBackendOptions,
  KubernetesWorkerBackend,
  KubernetesWorkerDirectory,
} from "../src/index.js";

export const NAMESPACE = "wharf";
export const quietLog = createLogger("kube-backends-test");

/** A cluster where images under "missing/" cannot be pulled. */
export function startFakeCluster(): Promise<FakeKubeApiServer> {
  return FakeKubeApiServer.start({ imageExists: (image) => !image.startsWith("missing/") });
}

/**
 * Worker pods whose container runs this checkout's real `wharf worker serve` as a host
 * process (the fake kubelet), steps on the local executor, each worker on its own ports
 * because the fake's pods share the host network.
 */
export function backendOptions(
  kubeConfig: KubeConfig,
  extra: Partial<KubernetesBackendOptions> = {},
): KubernetesBackendOptions {
  return {
    kubeConfig,
    image: "ghcr.io/iver-wharf/wharf-worker:test",
    cloneImage: "alpine/git:test",
    command: defaultWorkerCommand(),
    executor: "local",
    ports: async () => ({ grpc: await freePort(), http: await freePort() }),
    stopGraceMs: 3000,
    startTimeoutMs: 10_000,
    extraEnv: { WHARF_LOG_LEVEL: "warn" },
    log: quietLog,
    ...extra,
  };
}

/** Provisioner (kubernetes backend) + aggregator (kubernetes discovery) + wharf-api double, on one fake cluster. */
export async function startKubeStack(
  db: Database,
  opts: {
    probe?: StatusProbe;
    backendExtra?: (
      fake: FakeKubeApiServer,
    ) => Partial<KubernetesBackendOptions> | Promise<Partial<KubernetesBackendOptions>>;
  } = {},
) {
  const fake = await startFakeCluster();
  const kubeConfig = fake.kubeConfig(NAMESPACE);
  await migrateProvisioner(db);
  await migrateRelay(db);
  const backend = new KubernetesWorkerBackend(
    backendOptions(kubeConfig, (await opts.backendExtra?.(fake)) ?? {}),
  );
  const provisioner = await Provisioner.start({
    db,
    backend,
    maxWorkers: 4,
    pollIntervalMs: 200,
    log: quietLog,
    ...(opts.probe ? { probe: opts.probe } : {}),
  });
  const app = await buildApp({ provisioner, logger: quietLog });
  const url = await app.listen({ host: "127.0.0.1", port: 0 });
  const api: WharfApiDouble = await startWharfApiDouble();
  const client = new WharfApiClient({ url: api.url, requestTimeoutMs: 5_000 });
  const directory = new KubernetesWorkerDirectory({ kubeConfig, log: quietLog, removeGraceSeconds: 3 });
  const aggregator = new Aggregator({
    db,
    directory,
    api: client,
    log: quietLog,
    leaseTtlMs: 5_000,
    discoveryIntervalMs: 100,
    // Long enough for a worker to boot: the fake marks pods Ready at once (it runs no probes).
    workerLostGraceMs: 10_000,
    tuning: { retryBaseDelayMs: 20, retryMaxDelayMs: 500 },
  });
  aggregator.start();
  return {
    fake,
    kubeConfig,
    backend,
    directory,
    provisioner,
    url,
    api,
    /** Worker pods left in the fake cluster. */
    pods: () => fake.store.list("pods", NAMESPACE),
    async close() {
      await aggregator.stop();
      client.close();
      await directory.close();
      await app.close();
      await provisioner.close();
      for (const w of await backend.list()) await backend.delete(w.workerId);
      await backend.close();
      await api.close();
      await fake.close();
    },
  };
}

/** wharf-api's query string for POST /api/worker. */
export function workerQuery(buildRef: number, gitUrl: string): string {
  return new URLSearchParams({
    BUILD_REF: String(buildRef),
    GIT_FULLURL: gitUrl,
    GIT_BRANCH: "master",
    RUN_STAGES: "ALL",
    VARS: "greeting: hi\n",
    WHARF_PROJECT_ID: "7",
    WHARF_INSTANCE: "kube-test",
  }).toString();
}

export async function call(base: string, method: string, pathAndQuery: string) {
  const res = await fetch(`${base}${pathAndQuery}`, { method });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}

/** Polls `check` every 50 ms until it returns a truthy value; fails after `timeoutMs`. */
export { waitFor } from "@wharf/testkit";
