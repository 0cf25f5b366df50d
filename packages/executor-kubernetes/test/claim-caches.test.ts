import { runCacheConformance } from "@wharf/executor/testing";
import { FakeKubeApiServer } from "@wharf/kube-fake";
import { afterAll } from "vitest";
import { KubernetesExecutor } from "../src/index.js";
import { NAMESPACE } from "./kube-harness.js";

/**
 * The step-cache rules every backend keeps (packages/executor/testing/cache-conformance.ts),
 * on a fake 1.20 API server: exec v4 only, so no archive can be ended by closing stdin. Each
 * executor gets a store of its own (claim and pod), so one test's budget never evicts another's.
 */
const fake = await FakeKubeApiServer.start({ kubernetesVersion: "1.20.2" });
afterAll(() => fake.close());
let stores = 0;

runCacheConformance({
  name: "kubernetes",
  create: (maxBytes) =>
    new KubernetesExecutor({
      kubeConfig: fake.kubeConfig(NAMESPACE),
      pollMs: 20,
      startTimeoutMs: 20_000,
      cacheMaxBytes: maxBytes,
      cacheStoreName: `wharf-step-cache-${++stores}`,
    }),
  image: "busybox:1.36",
  // The fake's claims live in its own temporary directory, removed when it closes.
  cleanup: async () => {},
});
