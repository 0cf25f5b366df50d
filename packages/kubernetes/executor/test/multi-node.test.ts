import { CoreV1Api, type V1Pod } from "@kubernetes/client-node";
import { afterEach, describe, expect, it } from "vitest";
import { buildSpec, containerStep, NAMESPACE, readAll, startHarness } from "./kube-harness.js";

const NODES = ["node-a", "node-b", "node-c"];
let h: Awaited<ReturnType<typeof startHarness>> | undefined;

afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function podsByName(): Promise<Map<string, V1Pod>> {
  const api = h!.kubeConfig.makeApiClient(CoreV1Api);
  const pods = await api.listNamespacedPod({ namespace: NAMESPACE });
  return new Map(pods.items.map((p) => [p.metadata!.name!, p]));
}

describe("KubernetesExecutor on a cluster of several nodes", () => {
  it("runs parallel step pods on the node the ReadWriteOnce workspace claim is attached to", async () => {
    // Spread over three nodes, unpinned step pods would wait on "Multi-Attach error" forever.
    h = await startHarness({ startTimeoutMs: 5_000 }, { nodes: NODES });
    const build = buildSpec(h.sourceDir);
    await h.executor.setupBuild(build);
    const steps = await Promise.all(
      [1, 2, 3, 4].map((id) =>
        h!.executor.startStep(build, containerStep(id, [`echo ${id} > out-${id}`, `cat out-${id}`]), {}),
      ),
    );
    const pods = await podsByName();
    const results = await Promise.all(steps.map(async (s) => [await readAll(s.stdout), await s.wait()]));
    expect(results).toEqual([1, 2, 3, 4].map((id) => [`${id}\n`, 0]));
    const workspace = [...pods.values()].find((p) => p.metadata!.name!.startsWith("wharf-ws-"))!;
    const stepNodes = [...pods.values()]
      .filter((p) => p.metadata!.name!.startsWith("wharf-step-"))
      .map((p) => p.spec!.nodeName);
    expect(stepNodes).toEqual(Array(4).fill(workspace.spec!.nodeName));
    for (const s of steps) await s.destroy();
    await h.executor.destroyBuild(build);
  });

  it("places the workspace and the steps on a tainted build node only with the operator's tolerations", async () => {
    // Build nodes kept for builds by a taint and a label, as operators do (dedicated=builds).
    const nodes = [
      "node-a",
      {
        name: "builds-1",
        labels: { "wharf.iver.com/pool": "builds" },
        taints: [{ key: "dedicated", value: "builds", effect: "NoSchedule" as const }],
      },
    ];
    const nodeSelector = { "wharf.iver.com/pool": "builds" };
    // Without the toleration nothing fits: the workspace pod never starts, with the scheduler's reason.
    h = await startHarness({ startTimeoutMs: 1_500, placement: { nodeSelector } }, { nodes });
    const err = await h.executor.setupBuild(buildSpec(h.sourceDir, "untolerated")).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/1 node\(s\) had taints that the pod didn't tolerate/);
    await h.executor.destroyBuild(buildSpec(h.sourceDir, "untolerated"));
    await h.close();

    const tolerations = [{ key: "dedicated", operator: "Equal", value: "builds", effect: "NoSchedule" }];
    h = await startHarness({ placement: { nodeSelector, tolerations } }, { nodes });
    const build = buildSpec(h.sourceDir);
    await h.executor.setupBuild(build);
    const step = await h.executor.startStep(build, containerStep(1, ["echo on the build node"]), {});
    const pods = await podsByName();
    expect(await readAll(step.stdout)).toBe("on the build node\n");
    expect([...pods.values()].map((p) => p.spec!.nodeName)).toEqual(["builds-1", "builds-1"]);
    await step.destroy();
    await h.executor.destroyBuild(build);
  });

  it("places the workspace and every step on the nodes the operator's node selector allows", async () => {
    h = await startHarness(
      { placement: { nodeSelector: { "kubernetes.io/hostname": "node-c" } } },
      { nodes: NODES },
    );
    const build = buildSpec(h.sourceDir);
    await h.executor.setupBuild(build);
    const step = await h.executor.startStep(build, containerStep(1, ["echo placed"]), {});
    const pods = await podsByName();
    expect(await readAll(step.stdout)).toBe("placed\n");
    expect([...pods.values()].map((p) => p.spec!.nodeName)).toEqual(["node-c", "node-c"]);
    await step.destroy();
    await h.executor.destroyBuild(build);
  });
});
