import { ExecutorError } from "@wharf/executor";
import { afterEach, describe, expect, it } from "vitest";
import { buildSpec, NAMESPACE, startHarness } from "./kube-harness.js";

let h: Awaited<ReturnType<typeof startHarness>> | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

/**
 * A workspace claim that cannot be bound (issue 15, fault 8): the workspace pod is never
 * scheduled. The build fails at once, saying why, rather than after the whole start timeout
 * with the scheduler's FailedScheduling (twice) as its only reason.
 */
describe("a workspace claim that cannot be bound", () => {
  it("no default StorageClass: setupBuild fails early, naming the claim and the reason once", async () => {
    h = await startHarness({ startTimeoutMs: 20_000 }, { defaultStorageClass: null });
    const build = buildSpec(h.sourceDir);
    const started = Date.now();
    const err = await h.executor.setupBuild(build).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err).toBeInstanceOf(ExecutorError);
    const claim = h.fake.store.list("persistentvolumeclaims", NAMESPACE)[0]!;
    expect(claim.status.phase).toBe("Pending");
    expect(err!.message).toContain(`workspace claim ${claim.metadata.name} is not bound`);
    expect(err!.message).toContain("no storage class is set");
    expect(err!.message).toMatch(/StorageClass/);
    // Said once: the scheduler's reason is not repeated after it.
    expect(err!.message.split("unbound immediate PersistentVolumeClaims").length).toBeLessThanOrEqual(2);
    expect(err!.message.split("no storage class is set").length).toBe(2);
    expect(Date.now() - started).toBeLessThan(5_000);
    await h.executor.destroyBuild(build);
    expect(h.fake.store.list("pods", NAMESPACE)).toEqual([]);
    expect(h.fake.store.list("persistentvolumeclaims", NAMESPACE)).toEqual([]);
  });

  it("a StorageClass that does not exist: fails early with the provisioner's reason", async () => {
    h = await startHarness(
      { startTimeoutMs: 20_000, storageClassName: "fast" },
      { storageClasses: ["standard"] },
    );
    const build = buildSpec(h.sourceDir);
    const started = Date.now();
    const err = await h.executor.setupBuild(build).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err).toBeInstanceOf(ExecutorError);
    expect(err!.message).toMatch(
      /workspace claim \S+ is not bound: .*storageclass.storage.k8s.io "fast" not found/,
    );
    expect(Date.now() - started).toBeLessThan(5_000);
    await h.executor.destroyBuild(build);
  });

  it("with a default StorageClass the claim gets it and binds", async () => {
    h = await startHarness({}, { defaultStorageClass: "standard" });
    const build = buildSpec(h.sourceDir);
    await h.executor.setupBuild(build);
    const claim = h.fake.store.list("persistentvolumeclaims", NAMESPACE)[0]!;
    expect(claim.spec.storageClassName).toBe("standard");
    expect(claim.status.phase).toBe("Bound");
    await h.executor.destroyBuild(build);
  });

  it("a claim that a slow provisioner binds within the start timeout is waited for", async () => {
    h = await startHarness({ startTimeoutMs: 10_000 }, { provisionDelayMs: 1_000 });
    const build = buildSpec(h.sourceDir);
    await h.executor.setupBuild(build);
    expect(h.fake.store.list("persistentvolumeclaims", NAMESPACE)[0]!.status.phase).toBe("Bound");
    await h.executor.destroyBuild(build);
  });

  it("a start timeout names each scheduler warning once", async () => {
    // Bound only after the timeout, and nothing says it cannot be: the timeout's message
    // lists the pod's warnings, each once although the scheduler repeats them.
    h = await startHarness({ startTimeoutMs: 1_500 }, { provisionDelayMs: 60_000 });
    const build = buildSpec(h.sourceDir);
    const fake = h.fake;
    const repeat = setInterval(() => {
      for (const pod of fake.store.list("pods", NAMESPACE)) {
        if (pod.status?.conditions?.[0]?.reason === "Unschedulable") {
          fake.kubelet.event(
            pod,
            "Warning",
            "FailedScheduling",
            "0/1 nodes are available: 1 pod has unbound immediate PersistentVolumeClaims.",
            "default-scheduler",
          );
        }
      }
    }, 200);
    try {
      const err = await h.executor.setupBuild(build).then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      expect(err).toBeInstanceOf(ExecutorError);
      expect(err!.message).toMatch(/did not start within 1500 ms/);
      expect(err!.message.split("unbound immediate PersistentVolumeClaims").length).toBe(2);
    } finally {
      clearInterval(repeat);
    }
    await h.executor.destroyBuild(build);
  });
});
