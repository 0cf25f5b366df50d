import { type BuildSpec, LABEL_BUILD_REF } from "@wharf/executor";
import { runExecutorConformance } from "@wharf/executor/testing";
import { FakeKubeApiServer } from "@wharf/kube-fake";
import { afterAll, describe, expect } from "vitest";
import { KubernetesExecutor } from "../src/index.js";
import { API_SERVERS, NAMESPACE } from "./kube-harness.js";

/**
 * The behaviour every executor must have (packages/executor/testing/conformance.ts), on the
 * fake cluster: an API server that speaks exec v5 and a 1.20 one that offers only v4.
 * test/kube-real/executor-conformance.test.ts runs the same suite on a real cluster.
 */
for (const server of API_SERVERS) {
  describe(`on a fake ${server.name} API server`, () => {
    let fake: FakeKubeApiServer | undefined;
    afterAll(async () => {
      await fake?.close();
    });

    /** Nothing of the build is left: no pod, no claim. */
    async function assertBuildGone(build: BuildSpec): Promise<void> {
      const ofBuild = (resource: string) =>
        fake!.store
          .list(resource, NAMESPACE)
          .filter((o) => o.metadata.labels?.[LABEL_BUILD_REF] === build.buildRef)
          .map((o) => o.metadata.name);
      expect({ pods: ofBuild("pods"), claims: ofBuild("persistentvolumeclaims") }).toEqual({
        pods: [],
        claims: [],
      });
    }

    runExecutorConformance({
      name: "kubernetes",
      async create() {
        fake = await FakeKubeApiServer.start({ kubernetesVersion: server.kubernetesVersion });
        return new KubernetesExecutor({
          kubeConfig: fake.kubeConfig(NAMESPACE),
          pollMs: 20,
          startTimeoutMs: 20_000,
        });
      },
      image: "busybox:1.36",
      runsEveryStepType: true,
      assertBuildGone,
    });
  });
}
