import { CoreV1Api } from "@kubernetes/client-node";
import type { FakeKubeApiServer } from "@wharf/kube-fake";
import { workerSecretName } from "@wharf/kube-manifests";
import { workerTokenFor } from "@wharf/proto";
import { afterEach, describe, expect, it } from "vitest";
import { NAMESPACE, startFakeCluster, waitFor } from "./kube-stack.js";
import { podScenarios, spec } from "./pod-scenarios.js";

const TOKEN = "glpat-k8s-token-never-in-a-pod-spec";
const WORKER_TOKEN_KEY = "provisioner-key-for-worker-tokens";
let fake: FakeKubeApiServer | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

const withToken = (workerId: string, buildRef: number, repoUrl: string) => {
  const s = spec(workerId, buildRef, repoUrl);
  return { ...s, request: { ...s.request, gitToken: TOKEN } };
};

describe("a worker's tokens on Kubernetes", () => {
  it("live in a Secret owned by the worker pod, never in the pod spec, and go with the pod", async () => {
    fake = await startFakeCluster();
    const api = fake.kubeConfig(NAMESPACE).makeApiClient(CoreV1Api);
    const s = await podScenarios(fake.kubeConfig(NAMESPACE), { workerToken: WORKER_TOKEN_KEY });
    try {
      await s.echo.create(withToken("w-token", 1, s.repoUrl));
      const [pod] = (await api.listNamespacedPod({ namespace: NAMESPACE })).items;
      const workerToken = workerTokenFor(WORKER_TOKEN_KEY, "w-token");
      expect(JSON.stringify(pod)).not.toContain(TOKEN);
      expect(JSON.stringify(pod)).not.toContain(workerToken);
      const secret = await api.readNamespacedSecret({
        name: workerSecretName("w-token"),
        namespace: NAMESPACE,
      });
      const value = (key: string) => Buffer.from(secret.data?.[key] ?? "", "base64").toString();
      expect([value("git-token"), value("worker-token")]).toEqual([TOKEN, workerToken]);
      expect(secret.metadata?.ownerReferences).toEqual([
        expect.objectContaining({ kind: "Pod", name: pod!.metadata!.name, uid: pod!.metadata!.uid }),
      ]);
      expect(await s.echo.delete("w-token")).toBe(true);
      await waitFor("the Secret deleted with its pod", async () => {
        const secrets = await api.listNamespacedSecret({ namespace: NAMESPACE });
        return secrets.items.length === 0;
      });
    } finally {
      await s.close();
    }
  });

  it("replace a Secret left by an earlier attempt for the same worker (a provisioner stopped before handing it on)", async () => {
    fake = await startFakeCluster();
    const api = fake.kubeConfig(NAMESPACE).makeApiClient(CoreV1Api);
    await api.createNamespacedSecret({
      namespace: NAMESPACE,
      body: { metadata: { name: workerSecretName("w-again") }, stringData: { "git-token": "stale" } },
    });
    const s = await podScenarios(fake.kubeConfig(NAMESPACE));
    try {
      await s.echo.create(withToken("w-again", 3, s.repoUrl));
      const secret = await api.readNamespacedSecret({
        name: workerSecretName("w-again"),
        namespace: NAMESPACE,
      });
      expect(Buffer.from(secret.data?.["git-token"] ?? "", "base64").toString()).toBe(TOKEN);
      expect(secret.metadata?.ownerReferences?.[0]?.kind).toBe("Pod");
      expect(await s.echo.delete("w-again")).toBe(true);
    } finally {
      await s.close();
    }
  });

  it("is removed with the pod when the pod cannot be made its owner, and the error does not carry it", async () => {
    fake = await startFakeCluster();
    const api = fake.kubeConfig(NAMESPACE).makeApiClient(CoreV1Api);
    const s = await podScenarios(fake.kubeConfig(NAMESPACE));
    try {
      fake.injectFault({
        verb: "patch",
        resource: "secrets",
        action: { kind: "status", code: 500 },
        times: 1,
      });
      const err = await s.echo.create(withToken("w-unowned", 2, s.repoUrl)).catch((e: unknown) => e as Error);
      expect(err).toBeInstanceOf(Error);
      expect((err as Error).message).toMatch(/could not hand the worker's Secret to pod/);
      expect((err as Error).message).not.toContain(TOKEN);
      await waitFor("nothing left", async () => {
        const pods = await api.listNamespacedPod({ namespace: NAMESPACE });
        const secrets = await api.listNamespacedSecret({ namespace: NAMESPACE });
        return pods.items.length + secrets.items.length === 0;
      });
    } finally {
      await s.close();
    }
  });
});
