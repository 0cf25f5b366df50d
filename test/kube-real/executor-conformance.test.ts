import path from "node:path";
import { fileURLToPath } from "node:url";
import { waitFor } from "@wharf/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BuildSpec } from "../../packages/executor/src/index.js";
import {
  makeBuild,
  removeSource,
  runCacheConformance,
  runExecutorConformance,
} from "../../packages/executor/testing/index.js";
import { KubernetesExecutor } from "../../packages/kubernetes/executor/src/index.js";
import { ADMIN_KUBECONFIG, BUSYBOX_IMAGE, kubectl, serviceAccountKubeConfig } from "./real-cluster.js";

/**
 * The executor conformance suite (packages/executor/testing/conformance.ts) on KubernetesExecutor
 * against the real cluster (scripts/kube/up.sh), authenticated as the worker's service
 * account with deploy/kubernetes/rbac.yaml applied: step pods and the workspace pod really run
 * (busybox imported by up.sh), the workspace claim is provisioned by the cluster's default
 * StorageClass, the repository goes in and artifacts come out with tar over a v1.20 exec (v4).
 */
const rbacYaml = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  "../../deploy/kubernetes/rbac.yaml",
);
const namespace = `wharf-conf-${Date.now().toString(36)}`;

/** Names of the build's objects of a kind ("" when there are none). */
const ofBuild = (kind: string, build: BuildSpec) =>
  kubectl("-n", namespace, "get", kind, "-l", `wharf.iver.com/build-ref=${build.buildRef}`, "-o", "name")
    .split("\n")
    .filter((l) => l.trim() !== "");

describe.skipIf(!ADMIN_KUBECONFIG)("on a real cluster (WHARF_KUBE_REAL_KUBECONFIG)", () => {
  let workerKubeConfig: Awaited<ReturnType<typeof serviceAccountKubeConfig>> | undefined;
  /** The worker's kubeconfig, for suites whose create() is synchronous (made in beforeAll). */
  const serviceAccountKubeConfigSync = () => {
    if (!workerKubeConfig) throw new Error("the worker's kubeconfig is made in beforeAll");
    return workerKubeConfig;
  };
  beforeAll(async () => {
    kubectl("create", "namespace", namespace);
    kubectl("-n", namespace, "apply", "-f", rbacYaml);
    workerKubeConfig = await serviceAccountKubeConfig(namespace, "wharf-worker");
  }, 60_000);
  afterAll(async () => {
    if (!ADMIN_KUBECONFIG) return;
    // Every claim's volume goes with it (reclaim Delete) before the namespace does.
    await waitFor(
      "the namespace's volumes deleted",
      () => !kubectl("get", "pv", "-o", "jsonpath={.items[*].spec.claimRef.namespace}").includes(namespace),
      120_000,
      500,
    ).catch(() => {});
    kubectl("delete", "namespace", namespace, "--wait=false", "--ignore-not-found");
  }, 150_000);

  runExecutorConformance({
    name: "kubernetes (real v1.20 cluster)",
    async create() {
      return new KubernetesExecutor({
        kubeConfig: await serviceAccountKubeConfig(namespace, "wharf-worker"),
        workspaceImage: BUSYBOX_IMAGE,
        workspaceSize: "64Mi",
        startTimeoutMs: 90_000,
        pollMs: 200,
      });
    },
    image: BUSYBOX_IMAGE,
    runsEveryStepType: true,
    async assertBuildGone(build) {
      // Pods are gone when destroyBuild returns (it waits); a claim goes once no pod uses it.
      expect(ofBuild("pods", build)).toEqual([]);
      await waitFor("the build's claim gone", () => ofBuild("pvc", build).length === 0, 60_000, 250);
    },
  });

  // Step caches through a store claim and pod of the namespace (one store per executor, so one
  // test's budget never evicts another's); removed with the namespace.
  let stores = 0;
  runCacheConformance({
    name: "kubernetes (real v1.20 cluster)",
    create: (maxBytes) =>
      new KubernetesExecutor({
        kubeConfig: serviceAccountKubeConfigSync(),
        workspaceImage: BUSYBOX_IMAGE,
        workspaceSize: "64Mi",
        cacheStoreSize: "64Mi",
        cacheStoreName: `wharf-step-cache-${++stores}`,
        cacheMaxBytes: maxBytes,
        startTimeoutMs: 90_000,
        pollMs: 200,
      }),
    image: BUSYBOX_IMAGE,
    cleanup: async () => {},
  });

  it("a workspace claim of a StorageClass the cluster lacks fails setupBuild at once, saying so (fault 8)", async () => {
    const executor = new KubernetesExecutor({
      kubeConfig: await serviceAccountKubeConfig(namespace, "wharf-worker"),
      workspaceImage: BUSYBOX_IMAGE,
      storageClassName: "none-such",
      startTimeoutMs: 90_000,
      pollMs: 200,
    });
    const build = await makeBuild();
    try {
      const started = Date.now();
      const err = await executor.setupBuild(build).then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      expect(err?.message).toMatch(
        /workspace claim \S+ is not bound: storageclass\.storage\.k8s\.io "none-such" not found \(ProvisioningFailed; /,
      );
      // Not the 90 s start timeout.
      expect(Date.now() - started).toBeLessThan(30_000);
    } finally {
      await executor.destroyBuild(build);
      await removeSource(build);
    }
    expect(ofBuild("pods", build)).toEqual([]);
    await waitFor("the build's claim gone", () => ofBuild("pvc", build).length === 0, 60_000, 250);
  }, 120_000);
});
