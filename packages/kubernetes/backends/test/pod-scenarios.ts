import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { KubeConfig } from "@kubernetes/client-node";
import type { WorkerSpec } from "@wharf/provisioner";
import { makePipelineRepo } from "@wharf/testkit";
import { type KubernetesBackendOptions, KubernetesWorkerBackend } from "../src/index.js";
import { backendOptions } from "./kube-stack.js";

/**
 * A worker stand-in for discovery tests: echoes every byte on WHARF_WORKER_PORT (so a
 * port-forward can be checked end to end) and serves nothing else.
 */
export const ECHO_WORKER = [
  process.execPath,
  "-e",
  "require('net').createServer((s) => s.pipe(s)).listen(Number(process.env.WHARF_WORKER_PORT), '127.0.0.1')",
];

export function spec(workerId: string, buildId: number, gitUrl: string): WorkerSpec {
  return {
    workerId,
    name: `wharf-worker-${buildId}`,
    request: { buildId, instance: "kube-test", projectId: 7, gitUrl, runStages: "ALL", vars: {} },
  };
}

/** A git repository to clone, and backends on one cluster: echoing workers, missing images. */
export async function podScenarios(kubeConfig: KubeConfig, extra: Partial<KubernetesBackendOptions> = {}) {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "wharf-kube-dir-"));
  const repo = await makePipelineRepo(path.join(dir, "repo"), "build: {}\n");
  const echo = new KubernetesWorkerBackend(backendOptions(kubeConfig, { command: ECHO_WORKER, ...extra }));
  const missing = new KubernetesWorkerBackend(
    backendOptions(kubeConfig, { image: "missing/wharf-worker:1", ...extra }),
  );
  return {
    repoUrl: `file://${repo}`,
    echo,
    missing,
    async close() {
      await echo.close();
      await missing.close();
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}
