import { CoreV1Api, type V1PersistentVolumeClaim, type V1Pod } from "@kubernetes/client-node";
import { afterEach, describe, expect, it } from "vitest";
import { FakeKubeApiServer, type FakeKubeOptions, pollUntil } from "../src/index.js";

const ns = "wharf-test";
let fake: FakeKubeApiServer | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

async function start(options: FakeKubeOptions = {}) {
  fake = await FakeKubeApiServer.start(options);
  return { fake, api: fake.kubeConfig(ns).makeApiClient(CoreV1Api) };
}

const claim = (name: string, storageClassName?: string): V1PersistentVolumeClaim => ({
  metadata: { name },
  spec: {
    accessModes: ["ReadWriteOnce"],
    resources: { requests: { storage: "1Gi" } },
    ...(storageClassName ? { storageClassName } : {}),
  },
});

const podWithClaim = (name: string, claimName: string): V1Pod => ({
  metadata: { name },
  spec: {
    restartPolicy: "Never",
    containers: [{ name: "main", image: "busybox", command: ["/bin/sh", "-c", "echo hi"] }],
    volumes: [{ name: "ws", persistentVolumeClaim: { claimName } }],
  },
});

const claimEvents = (f: FakeKubeApiServer, name: string) =>
  f.store
    .list("events", ns)
    .filter((e) => e.involvedObject.kind === "PersistentVolumeClaim" && e.involvedObject.name === name)
    .map((e) => [e.type, e.reason, e.message]);

describe("storage classes and claim binding", () => {
  it("writes the default StorageClass into a claim without one and binds it", async () => {
    const { api } = await start();
    const created = await api.createNamespacedPersistentVolumeClaim({ namespace: ns, body: claim("a") });
    expect(created.spec?.storageClassName).toBe("standard");
    expect(created.status?.phase).toBe("Bound");
  });

  it("without a default StorageClass a bare claim stays Pending (FailedBinding), its pod unscheduled", async () => {
    const { fake, api } = await start({ defaultStorageClass: null });
    const created = await api.createNamespacedPersistentVolumeClaim({ namespace: ns, body: claim("a") });
    expect(created.spec?.storageClassName).toBeUndefined();
    expect(created.status?.phase).toBe("Pending");
    expect(claimEvents(fake, "a")).toEqual([
      [
        "Normal",
        "FailedBinding",
        "no persistent volumes available for this claim and no storage class is set",
      ],
    ]);
    await api.createNamespacedPod({ namespace: ns, body: podWithClaim("p", "a") });
    const pod = await pollUntil(async () => {
      const p = await api.readNamespacedPod({ name: "p", namespace: ns });
      return p.status?.conditions?.[0]?.reason === "Unschedulable" ? p : undefined;
    }, "pod unschedulable");
    expect(pod.status?.phase).toBe("Pending");
    expect(pod.spec?.nodeName).toBeUndefined();
    expect(pod.status?.conditions?.[0]).toMatchObject({ type: "PodScheduled", status: "False" });
    expect(pod.status?.containerStatuses).toBeUndefined();
    const warnings = fake.store.list("events", ns).filter((e) => e.involvedObject.name === "p");
    expect(warnings.map((e) => [e.reason, e.source.component])).toEqual([
      ["FailedScheduling", "default-scheduler"],
    ]);
    // Deleting the unscheduled pod removes it.
    await api.deleteNamespacedPod({ name: "p", namespace: ns, gracePeriodSeconds: 0 });
    await pollUntil(() => (fake.store.get("pods", ns, "p") ? undefined : true), "pod removed");
  });

  it("a claim of a class that does not exist stays Pending (ProvisioningFailed)", async () => {
    const { fake, api } = await start({ storageClasses: ["standard"] });
    const created = await api.createNamespacedPersistentVolumeClaim({
      namespace: ns,
      body: claim("a", "fast"),
    });
    expect(created.status?.phase).toBe("Pending");
    expect(claimEvents(fake, "a")).toEqual([
      ["Warning", "ProvisioningFailed", 'storageclass.storage.k8s.io "fast" not found'],
    ]);
  });

  it("a slow provisioner binds later; the pod runs once it is bound", async () => {
    const { fake, api } = await start({ provisionDelayMs: 300 });
    const created = await api.createNamespacedPersistentVolumeClaim({ namespace: ns, body: claim("a") });
    expect(created.status?.phase).toBe("Pending");
    expect(claimEvents(fake, "a").map((e) => e[1])).toEqual(["ExternalProvisioning"]);
    await api.createNamespacedPod({ namespace: ns, body: podWithClaim("p", "a") });
    await pollUntil(async () => {
      const p = await api.readNamespacedPod({ name: "p", namespace: ns });
      return p.status?.phase === "Succeeded" ? p : undefined;
    }, "pod Succeeded");
    expect(fake.store.get("persistentvolumeclaims", ns, "a")?.status.phase).toBe("Bound");
  });
});

describe("pod deletion", () => {
  it("deletionTimestamp is the end of the grace period, as on an API server", async () => {
    const { api } = await start();
    await api.createNamespacedPod({
      namespace: ns,
      body: {
        metadata: { name: "p" },
        spec: {
          restartPolicy: "Never",
          containers: [{ name: "main", image: "busybox", command: ["/bin/sh", "-c", "sleep 30"] }],
        },
      },
    });
    const before = Date.now();
    const deleted = await api.deleteNamespacedPod({ name: "p", namespace: ns, gracePeriodSeconds: 20 });
    const at = Date.parse((deleted as V1Pod).metadata?.deletionTimestamp as unknown as string);
    expect(at).toBeGreaterThan(before + 18_000);
    expect((deleted as V1Pod).metadata?.deletionGracePeriodSeconds).toBe(20);
  });

  it("holdTerminatingPods keeps a stopped pod's object for its grace period; grace 0 forces it out", async () => {
    const { fake, api } = await start({ holdTerminatingPods: true });
    const sleeper = (name: string): V1Pod => ({
      metadata: { name },
      spec: {
        restartPolicy: "Never",
        containers: [{ name: "main", image: "busybox", command: ["/bin/sh", "-c", "sleep 30"] }],
      },
    });
    await api.createNamespacedPod({ namespace: ns, body: sleeper("p") });
    await pollUntil(
      async () =>
        (await api.readNamespacedPod({ name: "p", namespace: ns })).status?.phase === "Running"
          ? true
          : undefined,
      "pod Running",
    );
    const started = Date.now();
    await api.deleteNamespacedPod({ name: "p", namespace: ns, gracePeriodSeconds: 2 });
    await new Promise((r) => setTimeout(r, 1_000));
    // SIGTERM ended the container, yet the object is still there (Terminating).
    expect(fake.store.get("pods", ns, "p")?.metadata.deletionTimestamp).toBeDefined();
    await pollUntil(() => (fake.store.get("pods", ns, "p") ? undefined : true), "pod removed");
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);

    await api.createNamespacedPod({ namespace: ns, body: sleeper("q") });
    await api.deleteNamespacedPod({ name: "q", namespace: ns, gracePeriodSeconds: 30 });
    await api.deleteNamespacedPod({ name: "q", namespace: ns, gracePeriodSeconds: 0 });
    expect(fake.store.get("pods", ns, "q")).toBeUndefined();
  });
});
