import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { FakeKubeApiServer } from "@wharf/kube-fake";
import { makePipelineRepo } from "@wharf/testkit";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { KubernetesWorkerBackend } from "../src/index.js";
import { backendOptions, NAMESPACE, waitFor } from "./kube-stack.js";
import { ECHO_WORKER, spec } from "./pod-scenarios.js";

/**
 * `delete` answers once the API server accepted the pod's deletion (issue 15, fault 10: on a
 * real v1.20 cluster `DELETE /api/worker/:id` took 9–22 s, waiting for the pod object to go,
 * which the kubelet let happen up to 60 s later). What is left goes without the caller: the
 * kubelet stops the Terminating pod, the pods it owns follow through ownerReferences, and a
 * pod stuck Terminating past its grace is forced out by the next `delete` (the reconcile's).
 */
let fake: FakeKubeApiServer;
let backend: KubernetesWorkerBackend;
let dir: string;
let repoUrl: string;

beforeEach(async () => {
  // Pods stay Terminating for their whole grace, as on the real cluster.
  fake = await FakeKubeApiServer.start({ holdTerminatingPods: true });
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "wharf-kube-delete-"));
  repoUrl = `file://${await makePipelineRepo(path.join(dir, "repo"), "build: {}\n")}`;
  backend = new KubernetesWorkerBackend(
    backendOptions(fake.kubeConfig(NAMESPACE), { command: ECHO_WORKER, stopGraceMs: 4_000 }),
  );
});
afterEach(async () => {
  await backend.close();
  await fake.close();
  await fs.rm(dir, { recursive: true, force: true });
});

const pods = () => fake.store.list("pods", NAMESPACE);
const podDeletes = () => fake.calls.filter((c) => c.verb === "delete" && c.resource === "pods");

/** A pod the worker would have made for a step: owned by the worker pod. */
function ownedStepPod(owner: { name: string; uid: string }) {
  return fake.store.create("pods", NAMESPACE, {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: "step-pod",
      ownerReferences: [
        { apiVersion: "v1", kind: "Pod", name: owner.name, uid: owner.uid, controller: true },
      ],
    },
    spec: {
      restartPolicy: "Never",
      terminationGracePeriodSeconds: 2,
      containers: [{ name: "step", image: "busybox", command: ["/bin/sh", "-c", "sleep 30"] }],
    },
  });
}

describe("KubernetesWorkerBackend.delete", () => {
  it("answers once the deletion is accepted; the Terminating pod and the pods it owns go afterwards", async () => {
    await backend.create(spec("w-del", 951, repoUrl));
    const worker = pods().find((p) => p.metadata.labels?.["wharf.iver.com/worker-id"] === "w-del")!;
    ownedStepPod({ name: worker.metadata.name!, uid: worker.metadata.uid! });

    const started = Date.now();
    expect(await backend.delete("w-del")).toBe(true);
    expect(Date.now() - started).toBeLessThan(1_500);
    // Still there, Terminating with the worker's grace (the kubelet has it now).
    const terminating = fake.store.get("pods", NAMESPACE, worker.metadata.name!);
    expect(terminating?.metadata.deletionTimestamp).toBeDefined();
    expect(terminating?.metadata.deletionGracePeriodSeconds).toBe(4);

    // Deleting it again (the reconcile does while it is listed) sends no second DELETE.
    const deletes = podDeletes().length;
    expect(await backend.delete("w-del")).toBe(true);
    expect(podDeletes().length).toBe(deletes);

    await waitFor("worker and step pods gone", () => pods().length === 0, 15_000);
    expect(await backend.delete("w-del")).toBe(false);
  }, 30_000);

  it("forces out a pod still Terminating well past its grace (a stuck or lost kubelet)", async () => {
    await backend.create(spec("w-stuck", 952, repoUrl));
    const worker = pods().find((p) => p.metadata.labels?.["wharf.iver.com/worker-id"] === "w-stuck")!;
    const name = worker.metadata.name!;
    expect(await backend.delete("w-stuck")).toBe(true);
    // As if its grace had ended a minute ago and the kubelet never removed it.
    fake.store.update("pods", NAMESPACE, name, (p) => {
      p.metadata.deletionTimestamp = new Date(Date.now() - 60_000).toISOString().replace(/\.\d+Z$/, "Z");
    });
    expect(await backend.delete("w-stuck")).toBe(true);
    expect(podDeletes().at(-1)).toMatchObject({ name, code: 200 });
    expect(fake.store.get("pods", NAMESPACE, name)).toBeUndefined();
  }, 30_000);
});
