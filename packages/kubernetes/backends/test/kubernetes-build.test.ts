import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createTestDatabase, type Database, openDatabase, type TestDatabase } from "@wharf/db";
import { makePipelineRepo } from "@wharf/testkit";
import { Pod } from "kubernetes-models/v1/Pod";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { KubernetesWorkerBackend } from "../src/index.js";
import { backendOptions, call, quietLog, startKubeStack, waitFor, workerQuery } from "./kube-stack.js";

// The docker backend's behaviour tests, on the fake API server: the provisioner's
// kubernetes backend creates worker pods whose container is the real `wharf worker
// serve`; the aggregator finds them through KubernetesWorkerDirectory, reaches them
// through port-forward and relays to the wharf-api double.

const PASSING = `build:
  greet:
    container:
      image: busybox:1.36
      cmds:
        - echo "hello from \${greeting}"
`;
const FAILING = `build:
  fail:
    container:
      image: busybox:1.36
      cmds:
        - echo "about to fail"
        - exit 3
`;
const SLEEPING = `build:
  wait:
    container:
      image: busybox:1.36
      cmds:
        - echo started
        - sleep 300
`;

let testDb: TestDatabase;
let db: Database;
let tmp: string;
let stack: Awaited<ReturnType<typeof startKubeStack>>;

beforeAll(async () => {
  testDb = await createTestDatabase(inject("pgUrl"), "kube_backends");
  db = await openDatabase({ url: testDb.url });
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), "wharf-kube-build-"));
  await makePipelineRepo(path.join(tmp, "passing"), PASSING);
  await makePipelineRepo(path.join(tmp, "failing"), FAILING);
  await makePipelineRepo(path.join(tmp, "sleeping"), SLEEPING);
  stack = await startKubeStack(db);
});

afterAll(async () => {
  await stack?.close();
  await db?.close();
  await testDb?.drop();
  if (tmp) await fs.rm(tmp, { recursive: true, force: true });
});

const podsOf = (workerId: string) =>
  stack.pods().filter((p) => p.metadata.labels?.["wharf.iver.com/worker-id"] === workerId);

async function startBuild(buildRef: number, repo: string): Promise<string> {
  const res = await call(
    stack.url,
    "POST",
    `/api/worker?${workerQuery(buildRef, `file://${path.join(tmp, repo)}`)}`,
  );
  expect(res.status).toBe(201);
  return res.json.workerId as string;
}

describe("kubernetes backends on the fake API server", () => {
  it("runs a build end to end: worker pod, clone, relay through port-forward, Completed, pod removed", async () => {
    const workerId = await startBuild(801, "passing");
    const [pod] = await waitFor("worker pod", () => (podsOf(workerId).length ? podsOf(workerId) : undefined));
    // What the backend created is a schema-valid pod with the contract's labels.
    expect(() => new Pod(pod as object).validate()).not.toThrow();
    expect(pod!.metadata.labels).toMatchObject({
      "app.kubernetes.io/name": "wharf-cmd-worker",
      "app.kubernetes.io/managed-by": "wharf-cmd-provisioner",
      "wharf.iver.com/instance": "kube-test",
      "wharf.iver.com/build-ref": "801",
      "wharf.iver.com/project-id": "7",
      "wharf.iver.com/worker-id": workerId,
    });
    expect(pod!.metadata.name).toMatch(/^wharf-worker-801-[a-z0-9]{5}$/);

    await waitFor("Completed at wharf-api", () => stack.api.statusesFor(801).includes("Completed"), 60_000);
    expect(stack.api.statusesFor(801)).toEqual(["Running", "Completed"]);
    const lines = stack.api.logsFor(801).map((l) => l.message);
    expect(lines).toContain("hello from hi");
    // The aggregator released the worker and deleted its pod: nothing is left behind.
    await waitFor("pod removed", () => podsOf(workerId).length === 0, 20_000);
    // It was reached through the API server's port-forward, never dialled directly.
    expect(stack.fake.calls.some((c) => c.subresource === "portforward" && c.code === 101)).toBe(true);
    // The provisioner (asked as wharf-api's missing-builds poll does) has it finished, not lost:
    // the pod was deleted right after the release, and the worker's termination message told.
    // (Its next reconcile records that: the answer may say live for a moment after the pod went.)
    const ask = async () => {
      const missing = await fetch(`${stack.url}/api/worker/missing`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ buildRefs: [801] }),
      });
      return ((await missing.json()) as { results: { live: boolean }[] }).results[0];
    };
    const answer = await waitFor("the provisioner's verdict", async () => {
      const a = await ask();
      return a && !a.live ? a : undefined;
    });
    expect(answer).toMatchObject({ buildRef: 801, live: false, reason: "finished", status: "Success" });
  }, 90_000);

  it("reports a failing build as Failed with its log, and removes the pod", async () => {
    const workerId = await startBuild(802, "failing");
    await waitFor("Failed at wharf-api", () => stack.api.statusesFor(802).includes("Failed"), 60_000);
    expect(stack.api.statusesFor(802)).toEqual(["Running", "Failed"]);
    expect(stack.api.logsFor(802).map((l) => l.message)).toContain("about to fail");
    await waitFor("pod removed", () => podsOf(workerId).length === 0, 20_000);
  }, 90_000);

  it("DELETE /api/worker/:id cancels a running build: the pod is deleted and the build ends", async () => {
    const workerId = await startBuild(803, "sleeping");
    await waitFor("step started", () => stack.api.logsFor(803).some((l) => l.message === "started"), 60_000);
    const asked = Date.now();
    const deleted = await call(stack.url, "DELETE", `/api/worker/${workerId}`);
    expect(deleted.status).toBe(204);
    // Answered once the pod's deletion was accepted, not when the pod is gone (fault 10).
    expect(Date.now() - asked).toBeLessThan(2_000);
    expect(stack.fake.calls).toContainEqual(expect.objectContaining({ verb: "delete", resource: "pods" }));
    await waitFor("pod removed", () => podsOf(workerId).length === 0, 20_000);
    // The pod's SIGTERM made the worker cancel its build and wait for the aggregator's Release
    // (within the grace): the cancelled build's own last lines arrived, no "lost" diagnostic.
    await waitFor("Failed at wharf-api", () => stack.api.statusesFor(803).includes("Failed"), 30_000);
    const messages = stack.api.logsFor(803).map((l) => l.message);
    expect(messages.some((m) => m.startsWith("cancelling the build: "))).toBe(true);
    expect(messages.filter((m) => m.startsWith("[wharf]"))).toEqual([]);
    expect((await call(stack.url, "GET", "/api/worker?buildRef=803")).json).toEqual([]);
  }, 90_000);

  it("a worker whose image cannot be pulled is Failed with the reason; the aggregator fails the build and removes the pod", async () => {
    const missing = new KubernetesWorkerBackend(
      backendOptions(stack.kubeConfig, { image: "missing/wharf-worker:1", log: quietLog }),
    );
    try {
      await missing.create({
        workerId: "missing-worker-1",
        name: "wharf-worker-804-1",
        request: {
          buildId: 804,
          instance: "kube-test",
          projectId: 7,
          gitUrl: `file://${tmp}/passing`,
          runStages: "ALL",
          vars: {},
        },
      });
      // The aggregator may fail the build and remove the pod before this poll sees it Failed
      // (on a loaded machine it did): then the build log below says why, from the same status.
      const listed = await waitFor("stuck worker listed Failed, or failed and removed", async () => {
        const w = (await missing.list()).find((x) => x.workerId === "missing-worker-1");
        if (w?.status.phase === "Failed") return w;
        return !w && stack.api.statusesFor(804).includes("Failed") ? "removed" : undefined;
      });
      if (listed !== "removed") {
        expect(listed.state).toBe("exited");
        expect(listed.status.reason).toMatch(/worker: (ErrImagePull|ImagePullBackOff)/);
      }
      await waitFor("Failed at wharf-api", () => stack.api.statusesFor(804).includes("Failed"), 30_000);
      // The directory's diagnosis reaches the build log: the reason, then the kubelet's event.
      const lines = stack.api.logsFor(804).map((l) => l.message);
      const at = lines.findIndex((m) =>
        /^\[wharf\] worker missing-worker-1 failed to start: worker: (ErrImagePull|ImagePullBackOff)/.test(m),
      );
      expect(at).toBeGreaterThanOrEqual(0);
      expect(lines.slice(at + 1)).toContainEqual(
        expect.stringMatching(/^\[wharf\] {3}event Failed: Failed to pull image/),
      );
      await waitFor("pod removed", () => podsOf("missing-worker-1").length === 0, 20_000);
    } finally {
      await missing.delete("missing-worker-1").catch(() => false);
      await missing.close();
    }
  }, 60_000);

  it("leaves no pods behind once every build is done, and lists from its cache", async () => {
    await waitFor("all pods gone", () => stack.pods().length === 0, 20_000);
    const before = stack.fake.calls.length;
    for (let i = 0; i < 20; i++) await stack.backend.list();
    await stack.directory.list();
    expect(stack.fake.calls.slice(before).filter((c) => c.verb === "list" && c.resource === "pods")).toEqual(
      [],
    );
  });
});
