import type { V1Container, V1EnvVar } from "@kubernetes/client-node";
import { ConfigError } from "@wharf/config";
import { KUBERNETES_EXECUTOR_SETTINGS, KUBERNETES_POD_SETTINGS } from "@wharf/executor-kubernetes/settings";
import { type FakeClusterEnv, type FakeKubeApiServer, startFakeClusterEnv } from "@wharf/kube-fake";
import { readWorkerEnv } from "@wharf/proto/worker-env";
import { waitFor } from "@wharf/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compileOptions, startProvisioner } from "../src/index.js";

describe("compileOptions for WHARF_PROVISIONER_BACKEND=kubernetes", () => {
  it("reads the WHARF_K8S_* settings and forwards the executor's to worker pods", () => {
    const o = compileOptions({
      WHARF_PROVISIONER_BACKEND: "kubernetes",
      WHARF_K8S_WORKER_IMAGE: "reg/worker:1",
      WHARF_K8S_NAMESPACE: "builds",
      WHARF_K8S_WORKER_SERVICE_ACCOUNT: "wharf-worker",
      WHARF_K8S_CLONE_IMAGE: "reg/git:1",
      WHARF_K8S_GIT_SSH_SECRET: "deploy-key",
      WHARF_K8S_WORKER_RESOURCES: '{"limits":{"memory":"1Gi"}}',
      WHARF_K8S_NODE_SELECTOR: "pool=ci, arch=amd64",
      WHARF_K8S_TOLERATIONS: '[{"key":"ci","operator":"Exists"}]',
      WHARF_K8S_WORKER_START_TIMEOUT: "30s",
      WHARF_K8S_WORKSPACE_SIZE: "5Gi",
      WHARF_K8S_KANIKO_IMAGE: "reg/kaniko:1",
      WHARF_K8S_CACHE_SIZE: "50Gi",
      WHARF_K8S_REQUEST_TIMEOUT: "45s",
      WHARF_CACHE_MAX_BYTES: "40000000000",
      WHARF_DEFAULT_BRANCH: "master",
    });
    expect(o.backend).toEqual({
      kind: "kubernetes",
      image: "reg/worker:1",
      executor: "kubernetes",
      namespace: "builds",
      serviceAccountName: "wharf-worker",
      cloneImage: "reg/git:1",
      sshKeySecret: "deploy-key",
      resources: { limits: { memory: "1Gi" } },
      nodeSelector: { pool: "ci", arch: "amd64" },
      tolerations: [{ key: "ci", operator: "Exists" }],
      startTimeoutMs: 30_000,
      workerEnv: {
        WHARF_K8S_WORKSPACE_SIZE: "5Gi",
        WHARF_K8S_KANIKO_IMAGE: "reg/kaniko:1",
        // The step-cache store's settings, for the kubernetes executor of each worker pod.
        WHARF_K8S_CACHE_SIZE: "50Gi",
        // A slow API server's patience is the step pods' executor's, in the worker pod.
        WHARF_K8S_REQUEST_TIMEOUT: "45s",
        WHARF_CACHE_MAX_BYTES: "40000000000",
        WHARF_DEFAULT_BRANCH: "master",
      },
    });
  });

  it("passes every setting the kubernetes executor declares for operators on to worker pods, and none of the pod's own", () => {
    const operators = Object.values(KUBERNETES_EXECUTOR_SETTINGS).map((s) => s.env);
    const podOwn = Object.values(KUBERNETES_POD_SETTINGS).map((s) => s.env);
    const o = compileOptions({
      WHARF_PROVISIONER_BACKEND: "kubernetes",
      WHARF_K8S_WORKER_IMAGE: "reg/worker:1",
      ...Object.fromEntries([...operators, ...podOwn].map((name) => [name, "7s"])),
    });
    if (o.backend.kind !== "kubernetes") throw new Error("not the kubernetes backend");
    expect(Object.keys(o.backend.workerEnv).sort()).toEqual([...operators].sort());
    // The downward API sets these in the pod spec: a value passed on would be a second one.
    expect(podOwn.filter((name) => name in o.backend.workerEnv)).toEqual([]);
  });

  it("reads WHARF_BUILD_TIMEOUT for every backend: 60 minutes unless set, never 0", () => {
    const base = { WHARF_PROVISIONER_BACKEND: "kubernetes", WHARF_K8S_WORKER_IMAGE: "w" };
    expect(compileOptions(base).buildTimeoutMs).toBe(60 * 60_000);
    expect(compileOptions({ ...base, WHARF_BUILD_TIMEOUT: "2h30m" }).buildTimeoutMs).toBe(150 * 60_000);
    expect(compileOptions({ WHARF_BUILD_TIMEOUT: "90s" }).buildTimeoutMs).toBe(90_000);
    expect(() => compileOptions({ WHARF_BUILD_TIMEOUT: "0" })).toThrow(
      /WHARF_BUILD_TIMEOUT must be longer than 0/,
    );
    expect(() => compileOptions({ WHARF_BUILD_TIMEOUT: "later" })).toThrow(ConfigError);
  });

  it.each([
    [{}, /WHARF_K8S_WORKER_IMAGE is required/],
    [
      { WHARF_K8S_WORKER_IMAGE: "w", WHARF_K8S_WORKER_RESOURCES: "{" },
      /WHARF_K8S_WORKER_RESOURCES is not JSON/,
    ],
    [
      { WHARF_K8S_WORKER_IMAGE: "w", WHARF_K8S_TOLERATIONS: "{}" },
      /WHARF_K8S_TOLERATIONS must be a JSON array/,
    ],
    [{ WHARF_K8S_WORKER_IMAGE: "w", WHARF_K8S_NODE_SELECTOR: "pool" }, /"pool" is not key=value/],
    [{ WHARF_K8S_WORKER_IMAGE: "w", WHARF_K8S_WORKER_EXECUTOR: "x" }, /WHARF_K8S_WORKER_EXECUTOR must be/],
  ])("refuses bad settings with a clear error: %j", (env, message) => {
    expect(() => compileOptions({ WHARF_PROVISIONER_BACKEND: "kubernetes", ...env })).toThrow(ConfigError);
    expect(() => compileOptions({ WHARF_PROVISIONER_BACKEND: "kubernetes", ...env })).toThrow(message);
  });
});

describe("startProvisioner with the kubernetes backend", () => {
  let cluster: FakeClusterEnv;
  let fake: FakeKubeApiServer;
  let dir: string;
  beforeAll(async () => {
    cluster = await startFakeClusterEnv("ci");
    ({ fake, dir } = cluster);
  });
  afterAll(async () => {
    await cluster?.close();
  });

  it("creates a worker pod per build from the env settings and deletes it on DELETE", async () => {
    const opts = compileOptions(
      {
        WHARF_PROVISIONER_BACKEND: "kubernetes",
        WHARF_PROVISIONER_PORT: "0",
        WHARF_PROVISIONER_HOST: "127.0.0.1",
        WHARF_K8S_WORKER_IMAGE: "reg/worker:1",
        WHARF_K8S_WORKER_SERVICE_ACCOUNT: "wharf-worker",
        WHARF_WORKER_CMD: "sleep 30",
        WHARF_K8S_WORKSPACE_SIZE: "5Gi",
        WHARF_WORKER_STOP_GRACE: "1s",
      },
      dir,
    );
    const p = await startProvisioner(opts);
    try {
      const q = new URLSearchParams({
        BUILD_REF: "61",
        GIT_FULLURL: "file:///nonexistent",
        GIT_TOKEN: "k8s-git-t0ken",
        WHARF_INSTANCE: "svc",
      });
      const res = await fetch(`${p.url}/api/worker?${q}`, { method: "POST" });
      expect(res.status).toBe(201);
      const { workerId } = (await res.json()) as { workerId: string };
      const deadline = Date.now() + 10_000;
      while (fake.store.list("pods", "ci").length === 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
      }
      const [pod] = fake.store.list("pods", "ci");
      expect(pod?.metadata.labels?.["wharf.iver.com/worker-id"]).toBe(workerId);
      expect(pod?.spec.serviceAccountName).toBe("wharf-worker");
      const worker = pod?.spec.containers[0];
      expect(worker.image).toBe("reg/worker:1");
      expect(worker.command).toEqual(["sleep", "30"]);
      expect(worker.env).toContainEqual({ name: "WHARF_K8S_WORKSPACE_SIZE", value: "5Gi" });
      expect(worker.env).toContainEqual({ name: "WHARF_EXECUTOR", value: "kubernetes" });
      // The worker env contract, with the provisioner's default build timeout (WHARF_BUILD_TIMEOUT
      // unset: 60 minutes); the git token only through the worker's Secret, never in the spec.
      const plain = Object.fromEntries(
        (worker.env as V1EnvVar[])
          .filter((e) => e.value !== undefined)
          .map((e) => [e.name, e.value as string]),
      );
      expect(readWorkerEnv(plain)).toMatchObject({
        buildId: 61,
        workerId,
        instance: "svc",
        buildTimeoutMs: 60 * 60_000,
        executor: "kubernetes",
      });
      expect(JSON.stringify(pod)).not.toContain("k8s-git-t0ken");
      const clone = pod?.spec.initContainers?.[0] as V1Container;
      expect(clone.env?.find((e) => e.name === "GIT_TOKEN")?.valueFrom?.secretKeyRef).toBeDefined();
      const deleted = await fetch(`${p.url}/api/worker/${workerId}`, { method: "DELETE" });
      expect(deleted.status).toBe(204);
      // DELETE answers without waiting for the pod to go (its grace can be long); it goes.
      await waitFor("the worker pod deleted", () => fake.store.list("pods", "ci").length === 0);
    } finally {
      await p.close();
    }
  });
});
