import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createLogger } from "@wharf/config";
import { FakeKubeApiServer } from "@wharf/kube-fake";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createExecutor } from "../src/executor-factory.js";
import { compileWorkerOptions } from "../src/index.js";

describe("WHARF_EXECUTOR=kubernetes", () => {
  let fake: FakeKubeApiServer;
  let dir: string;
  const saved = { KUBECONFIG: process.env.KUBECONFIG, WHARF_K8S_NAMESPACE: process.env.WHARF_K8S_NAMESPACE };
  beforeAll(async () => {
    fake = await FakeKubeApiServer.start();
    dir = await fs.mkdtemp(path.join(os.tmpdir(), "wharf-worker-k8s-"));
    await fs.writeFile(path.join(dir, "kubeconfig"), fake.kubeConfigYaml("ci"));
    process.env.KUBECONFIG = path.join(dir, "kubeconfig");
    process.env.WHARF_K8S_NAMESPACE = "steps";
  });
  afterAll(async () => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    await fake?.close();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  it("is accepted and builds a KubernetesExecutor on the default kubeconfig with the WHARF_K8S_* env", async () => {
    const opts = compileWorkerOptions({
      WHARF_BUILD_REF: "1",
      WHARF_SOURCE_DIR: dir,
      WHARF_EXECUTOR: "kubernetes",
    });
    expect(opts.executor).toBe("kubernetes");
    const executor = await createExecutor(opts, createLogger("test"));
    expect(executor.constructor.name).toBe("KubernetesExecutor");
    await executor.setupBuild({ buildRef: "1", sourceDir: dir, labels: {}, env: {} });
    // The build's workspace claim went to WHARF_K8S_NAMESPACE on the kubeconfig's server.
    expect(fake.store.list("persistentvolumeclaims", "steps")).toHaveLength(1);
    await executor.destroyBuild({ buildRef: "1", sourceDir: dir, labels: {}, env: {} });
  });

  it("refuses an unknown executor", () => {
    expect(() =>
      compileWorkerOptions({ WHARF_BUILD_REF: "1", WHARF_SOURCE_DIR: dir, WHARF_EXECUTOR: "vm" }),
    ).toThrow(/WHARF_EXECUTOR must be local, docker, kubernetes or cri/);
  });
});
