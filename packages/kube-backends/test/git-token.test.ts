import { CoreV1Api } from "@kubernetes/client-node";
import type { FakeKubeApiServer } from "@wharf/kube-fake";
import { gitTokenSecretName } from "@wharf/kube-manifests";
import { afterEach, describe, expect, it } from "vitest";
import { NAMESPACE, startFakeCluster, waitFor } from "./kube-stack.js";
import { podScenarios, spec } from "./pod-scenarios.js";

const TOKEN = "glpat-k8s-token-never-in-a-pod-spec";
let fake: FakeKubeApiServer | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

const withToken = (workerId: string, buildRef: number, repoUrl: string) => {
  const s = spec(workerId, buildRef, repoUrl);
  return { ...s, request: { ...s.request, gitToken: TOKEN } };
};

describe("a build's git token on Kubernetes", () => {
  it("lives in a Secret owned by the worker pod, never in the pod spec, and goes with the pod", async () => {
    fake = await startFakeCluster();
    const api = fake.kubeConfig(NAMESPACE).makeApiClient(CoreV1Api);
    const s = await podScenarios(fake.kubeConfig(NAMESPACE));
    try {
      await s.echo.create(withToken("w-token", 1, s.repoUrl));
      const [pod] = (await api.listNamespacedPod({ namespace: NAMESPACE })).items;
      expect(JSON.stringify(pod)).not.toContain(TOKEN);
      const secret = await api.readNamespacedSecret({
        name: gitTokenSecretName("w-token"),
        namespace: NAMESPACE,
      });
      expect(Buffer.from(secret.data?.token ?? "", "base64").toString()).toBe(TOKEN);
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
      expect((err as Error).message).toMatch(/could not hand the git token Secret to pod/);
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
