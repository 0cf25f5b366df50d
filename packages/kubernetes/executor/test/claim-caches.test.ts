import { CoreV1Api } from "@kubernetes/client-node";
import type { BuildSpec, CacheScope } from "@wharf/executor";
import {
  containerStep,
  makeBuild,
  removeSource,
  runCacheConformance,
  runStep,
} from "@wharf/executor/testing";
import { FakeKubeApiServer, pollUntil } from "@wharf/kube-fake";
import { afterAll, describe, expect, it } from "vitest";
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

describe("the step-cache store pod", () => {
  const executor = (store: string) =>
    new KubernetesExecutor({
      kubeConfig: fake.kubeConfig(NAMESPACE),
      pollMs: 20,
      startTimeoutMs: 20_000,
      owner: { name: "worker-pod", uid: "worker-uid" },
      cacheStoreName: store,
    });
  const scope = { project: "lifecycle", branch: "main" };

  /** One build: restore, a step printing the cache and writing `value`, save; returns what it printed. */
  async function build(e: KubernetesExecutor, ref: string, value?: string): Promise<string> {
    const b = (await makeBuild({}, { buildRef: ref, cache: scope })) as BuildSpec & { cache: CacheScope };
    const step = {
      ...containerStep(1, [
        "cat deps/v 2>/dev/null || echo none",
        ...(value ? [`mkdir -p deps && echo ${value} > deps/v`] : []),
      ]),
      cache: ["deps"],
    };
    try {
      await e.setupBuild(b);
      await e.caches.restore(b, step);
      const result = await runStep(e, b, step);
      if (value) await e.caches.save(b, step);
      return result.stdout.trim();
    } finally {
      await e.destroyBuild(b);
      await removeSource(b);
    }
  }

  it("is made once by workers that need it at the same time, owned by none, and outlives their builds", async () => {
    const [a, b] = [executor("store-race"), executor("store-race")];
    await Promise.all([build(a, "race-1", "one"), build(b, "race-2", "two")]);
    const pods = fake.store.list("pods", NAMESPACE).filter((p) => p.metadata.name === "store-race");
    const claims = fake.store
      .list("persistentvolumeclaims", NAMESPACE)
      .filter((c) => c.metadata.name === "store-race");
    expect(pods).toHaveLength(1);
    expect(claims).toHaveLength(1);
    expect([pods[0]!.metadata.ownerReferences, claims[0]!.metadata.ownerReferences]).toEqual([
      undefined,
      undefined,
    ]);
    expect(pods[0]!.status?.phase).toBe("Running");
    expect(["one", "two"]).toContain(await build(a, "race-3"));
  }, 60_000);

  it("replaces a store pod that ended, and the new one finds the caches kept on the claim", async () => {
    const e = executor("store-ends");
    await build(e, "ends-1", "kept");
    // The pod ends (as one evicted from its node would): the next build replaces it.
    const old = fake.store.get("pods", NAMESPACE, "store-ends")!;
    await fake
      .kubeConfig(NAMESPACE)
      .makeApiClient(CoreV1Api)
      .deleteNamespacedPod({ name: "store-ends", namespace: NAMESPACE, gracePeriodSeconds: 0 });
    await pollUntil(() => !fake.store.get("pods", NAMESPACE, "store-ends"), "the pod to go");
    fake.store.create("pods", NAMESPACE, {
      ...old,
      metadata: { name: "store-ends", labels: old.metadata.labels },
      spec: {
        ...old.spec,
        restartPolicy: "Never",
        containers: [{ ...old.spec.containers[0], command: ["sh", "-c", "exit 1"] }],
      },
    });
    await pollUntil(
      () => fake.store.get("pods", NAMESPACE, "store-ends")?.status?.phase === "Failed",
      "the pod to fail",
    );
    const failed = fake.store.get("pods", NAMESPACE, "store-ends")!.metadata.uid;
    expect(await build(e, "ends-2")).toBe("kept");
    const now = fake.store.get("pods", NAMESPACE, "store-ends")!;
    expect(now.metadata.uid).not.toBe(failed);
    expect(now.status?.phase).toBe("Running");
  }, 60_000);
});
