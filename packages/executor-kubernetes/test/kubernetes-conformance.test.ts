import { CoreV1Api } from "@kubernetes/client-node";
import { type BuildSpec, buildLabels } from "@wharf/executor";
import { FakeKubeApiServer } from "@wharf/kube-fake";
import { labelSelector } from "@wharf/kube-manifests";
import { afterAll, describe, expect } from "vitest";
import { runExecutorConformance } from "../../executor/test/conformance.js";
import { KubernetesExecutor } from "../src/index.js";
import { API_SERVERS, NAMESPACE } from "./kube-harness.js";

// The behaviour every executor has, on the fake API server of each version we support.
for (const server of API_SERVERS) {
  describe(`on a ${server.name} API server`, () => {
    let fake: FakeKubeApiServer | undefined;
    let core: CoreV1Api;
    afterAll(() => fake?.close());

    runExecutorConformance({
      name: "kubernetes",
      image: "busybox:1.36",
      runsEveryStepType: true,
      async create() {
        fake = await FakeKubeApiServer.start({ kubernetesVersion: server.kubernetesVersion });
        const kubeConfig = fake.kubeConfig(NAMESPACE);
        core = kubeConfig.makeApiClient(CoreV1Api);
        return new KubernetesExecutor({ kubeConfig, pollMs: 20, startTimeoutMs: 10_000 });
      },
      async assertBuildGone(build: BuildSpec) {
        const selector = labelSelector(buildLabels(build));
        const pods = await core.listNamespacedPod({ namespace: NAMESPACE, labelSelector: selector });
        const claims = await core.listNamespacedPersistentVolumeClaim({
          namespace: NAMESPACE,
          labelSelector: selector,
        });
        expect([...pods.items, ...claims.items].map((o) => o.metadata?.name)).toEqual([]);
      },
    });
  });
}
