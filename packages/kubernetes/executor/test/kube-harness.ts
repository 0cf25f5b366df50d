import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Readable } from "node:stream";
import type { BuildSpec, PlanStep } from "@wharf/executor";
import { FakeKubeApiServer, type FakeKubeOptions } from "@wharf/kube-fake";
import { KubernetesExecutor, type KubernetesExecutorOptions } from "../src/index.js";

export const NAMESPACE = "wharf-builds";

/**
 * The API server versions the executor is tested against: one that speaks the
 * `v5.channel.k8s.io` exec protocol (stdin can be half-closed) and a 1.20 one that offers
 * only `v4.channel.k8s.io` (it cannot).
 */
export const API_SERVERS = [
  { name: "1.31 (exec v5)", kubernetesVersion: "1.31.0" },
  { name: "1.20 (exec v4 only)", kubernetesVersion: "1.20.2" },
] as const;

/** A fake cluster where images under "missing/" cannot be pulled, and an executor on it. */
export async function startHarness(
  extra: Partial<KubernetesExecutorOptions> = {},
  fakeOptions: FakeKubeOptions = {},
) {
  const fake = await FakeKubeApiServer.start({
    imageExists: (image) => !image.startsWith("missing/"),
    ...fakeOptions,
  });
  const kubeConfig = fake.kubeConfig(NAMESPACE);
  const executor = new KubernetesExecutor({ kubeConfig, pollMs: 20, startTimeoutMs: 10_000, ...extra });
  const sourceDir = await fs.mkdtemp(path.join(os.tmpdir(), "wharf-k8s-src-"));
  return {
    fake,
    kubeConfig,
    executor,
    sourceDir,
    async close() {
      await fake.close();
      await fs.rm(sourceDir, { recursive: true, force: true });
    },
  };
}

export function buildSpec(sourceDir: string, buildRef = "42"): BuildSpec {
  return {
    buildRef,
    sourceDir,
    labels: { "wharf.iver.com/instance": "test", "wharf.iver.com/worker-id": "w-1" },
    env: { CI: "true", WHARF_BUILD_REF: buildRef },
  };
}

export function containerStep(id: number, cmds: string[], image = "busybox:1.36"): PlanStep {
  return {
    id,
    name: `step ${id}`,
    stage: "build",
    retries: 0,
    artifacts: [],
    type: "container",
    spec: { image, cmds, shell: "/bin/sh", os: "linux" },
  };
}

export async function readAll(stream: Readable): Promise<string> {
  let text = "";
  for await (const chunk of stream) text += chunk.toString();
  return text;
}
