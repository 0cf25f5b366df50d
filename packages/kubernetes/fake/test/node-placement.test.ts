import { CoreV1Api, type V1Pod } from "@kubernetes/client-node";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FakeKubeApiServer, pollUntil } from "../src/index.js";

let fake: FakeKubeApiServer;
let api: CoreV1Api;
const ns = "wharf-test";

beforeEach(async () => {
  fake = await FakeKubeApiServer.start({ nodes: ["node-a", "node-b"] });
  api = fake.kubeConfig(ns).makeApiClient(CoreV1Api);
  await api.createNamespacedPersistentVolumeClaim({
    namespace: ns,
    body: {
      metadata: { name: "data" },
      spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } },
    },
  });
});
afterEach(async () => {
  await fake.close();
});

function claimPod(name: string, spec: Partial<V1Pod["spec"]> = {}): V1Pod {
  return {
    metadata: { name },
    spec: {
      restartPolicy: "Never",
      containers: [
        {
          name: "main",
          image: "busybox",
          command: ["/bin/sh", "-c", "echo up; sleep 30"],
          volumeMounts: [{ name: "data", mountPath: "/data" }],
        },
      ],
      volumes: [{ name: "data", persistentVolumeClaim: { claimName: "data" } }],
      terminationGracePeriodSeconds: 0,
      ...spec,
    },
  };
}

const read = (name: string) => api.readNamespacedPod({ name, namespace: ns });
const running = async (name: string) => (await read(name)).status?.phase === "Running";
async function warnings(name: string): Promise<string[]> {
  const events = await api.listNamespacedEvent({
    namespace: ns,
    fieldSelector: `involvedObject.name=${name}`,
  });
  return events.items.filter((e) => e.type === "Warning").map((e) => `${e.reason}: ${e.message}`);
}
const onNode = (node: string): Partial<V1Pod["spec"]> => ({
  affinity: {
    nodeAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: {
        nodeSelectorTerms: [{ matchFields: [{ key: "metadata.name", operator: "In", values: [node] }] }],
      },
    },
  },
});

describe("a fake cluster of several nodes", () => {
  it("spreads pods over the nodes, and a ReadWriteOnce claim in use on one cannot attach on another", async () => {
    await api.createNamespacedPod({ namespace: ns, body: claimPod("first") });
    await pollUntil(() => running("first"), "first pod running");
    await api.createNamespacedPod({ namespace: ns, body: claimPod("second") });
    await pollUntil(async () => (await warnings("second")).length > 0, "an attach warning");
    expect([(await read("first")).spec?.nodeName, (await read("second")).spec?.nodeName]).toEqual([
      "node-a",
      "node-b",
    ]);
    expect(await warnings("second")).toEqual([
      'FailedAttachVolume: Multi-Attach error for volume "data" Volume is already used by pod(s) first',
    ]);
    expect((await read("second")).status?.containerStatuses?.[0]?.state?.waiting?.reason).toBe(
      "ContainerCreating",
    );
    // Once the first pod is gone the claim is attached where the second one waits.
    await api.deleteNamespacedPod({ name: "first", namespace: ns, gracePeriodSeconds: 0 });
    await pollUntil(() => running("second"), "second pod running");
  });

  it("keeps pods pinned to one node by name together, and a selector no node matches Pending", async () => {
    await api.createNamespacedPod({ namespace: ns, body: claimPod("one", onNode("node-b")) });
    await api.createNamespacedPod({ namespace: ns, body: claimPod("two", onNode("node-b")) });
    await pollUntil(async () => (await running("one")) && (await running("two")), "both pods running");
    expect([(await read("one")).spec?.nodeName, (await read("two")).spec?.nodeName]).toEqual([
      "node-b",
      "node-b",
    ]);

    await api.createNamespacedPod({
      namespace: ns,
      body: claimPod("nowhere", { nodeSelector: { "kubernetes.io/hostname": "node-z" } }),
    });
    await pollUntil(async () => (await warnings("nowhere")).length > 0, "a scheduling warning");
    const pod = await read("nowhere");
    expect(pod.spec?.nodeName).toBeUndefined();
    expect(pod.status?.conditions?.[0]).toMatchObject({ type: "PodScheduled", status: "False" });
    expect(await warnings("nowhere")).toEqual([
      "FailedScheduling: 0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector.",
    ]);
  });
});
