import type { FakeKubeApiServer } from "@wharf/kube-fake";
import { echoThrough } from "@wharf/testkit";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type KubernetesLiveWorker, KubernetesWorkerDirectory } from "../src/index.js";
import { NAMESPACE, quietLog, startFakeCluster, waitFor } from "./kube-stack.js";
import { podScenarios, spec } from "./pod-scenarios.js";

let fake: FakeKubeApiServer;
let scenarios: Awaited<ReturnType<typeof podScenarios>>;
let directory: KubernetesWorkerDirectory;

beforeEach(async () => {
  fake = await startFakeCluster();
  scenarios = await podScenarios(fake.kubeConfig(NAMESPACE));
});
afterEach(async () => {
  await directory?.close();
  await scenarios.close();
  await fake.close();
});

const listed = async (workerId: string) =>
  (await directory.list()).find((w) => w.workerId === workerId) as KubernetesLiveWorker | undefined;

describe("KubernetesWorkerDirectory", () => {
  it("reaches a running worker through a local port-forward listener, and removes its pod", async () => {
    directory = new KubernetesWorkerDirectory({ kubeConfig: fake.kubeConfig(NAMESPACE), log: quietLog });
    const { address: podAddress } = await scenarios.echo.create(spec("w-echo", 901, scenarios.repoUrl));
    const w = await waitFor("running worker", async () => {
      const x = await listed("w-echo");
      return x?.status === "running" && x.address ? x : undefined;
    });
    expect(w).toMatchObject({ buildId: 901, status: "running" });
    // A listener of our own, not the pod's address.
    expect(w.address).not.toBe(podAddress);
    expect(w.address).toMatch(/^127\.0\.0\.1:\d+$/);
    const reply = await waitFor("echo through port-forward", async () => {
      const r = await echoThrough(w.address as string, "ping over the API server");
      return r === "ping over the API server" ? r : undefined;
    });
    expect(reply).toBe("ping over the API server");
    expect(fake.calls).toContainEqual(
      expect.objectContaining({ resource: "pods", subresource: "portforward", name: w.podName, code: 101 }),
    );
    // The listener stays the same while the pod lives.
    expect((await listed("w-echo"))?.address).toBe(w.address);

    await directory.remove("w-echo");
    await waitFor("pod gone", () => fake.store.list("pods", NAMESPACE).length === 0, 15_000);
    expect(await listed("w-echo")).toBeUndefined();
    // Removing again is fine.
    await directory.remove("w-echo");
  });

  it("gives the pod IP in-cluster", async () => {
    directory = new KubernetesWorkerDirectory({
      kubeConfig: fake.kubeConfig(NAMESPACE),
      connect: "pod-ip",
      log: quietLog,
    });
    const { address } = await scenarios.echo.create(spec("w-ip", 902, scenarios.repoUrl));
    const w = await waitFor("running worker", async () => {
      const x = await listed("w-ip");
      return x?.address ? x : undefined;
    });
    expect(w.address).toBe(address);
    await directory.remove("w-ip");
  });

  it("lists a worker whose image cannot be pulled as failed, with the reason and the kubelet's event", async () => {
    directory = new KubernetesWorkerDirectory({ kubeConfig: fake.kubeConfig(NAMESPACE), log: quietLog });
    await scenarios.missing.create(spec("w-missing", 903, scenarios.repoUrl));
    const w = await waitFor("failed worker", async () => {
      const x = await listed("w-missing");
      return x?.status === "failed" ? x : undefined;
    });
    expect(w.address).toBeNull();
    expect(w.message).toMatch(/^worker: (ErrImagePull|ImagePullBackOff)/);
    expect(w.message).toMatch(/event Failed: Failed to pull image "missing\/wharf-worker:1"/);
    await directory.remove("w-missing");
    await waitFor("pod gone", () => fake.store.list("pods", NAMESPACE).length === 0, 15_000);
  });

  it("lists a worker whose clone failed as failed, with the init container's log", async () => {
    directory = new KubernetesWorkerDirectory({ kubeConfig: fake.kubeConfig(NAMESPACE), log: quietLog });
    await scenarios.echo.create(spec("w-noclone", 904, "file:///nonexistent/wharf-repo"));
    const w = await waitFor("failed worker", async () => {
      const x = await listed("w-noclone");
      return x?.status === "failed" ? x : undefined;
    });
    expect(w.message).toMatch(/^git-clone exited with code 128/);
    expect(w.message).toMatch(/git-clone log \(exit 128\):\n.*nonexistent\/wharf-repo/s);
    // The provisioner's backend sees the same pod as exited.
    const [b] = await scenarios.echo.list();
    expect(b).toMatchObject({ workerId: "w-noclone", state: "exited" });
    expect(b?.status).toMatchObject({ phase: "Failed", reason: expect.stringMatching(/git-clone exited/) });
    await directory.remove("w-noclone");
  });

  it("lists only its instance's workers when told", async () => {
    directory = new KubernetesWorkerDirectory({
      kubeConfig: fake.kubeConfig(NAMESPACE),
      instance: "other",
      log: quietLog,
    });
    await scenarios.echo.create(spec("w-mine", 905, scenarios.repoUrl));
    await waitFor("pod running", async () => (await scenarios.echo.status("w-mine"))?.phase === "Running");
    expect(await directory.list()).toEqual([]);
    expect(await scenarios.echo.delete("w-mine")).toBe(true);
    // delete does not wait for the pod to go; once it has, there is nothing to delete.
    await waitFor("pod gone", () => fake.store.list("pods", NAMESPACE).length === 0, 15_000);
    expect(await scenarios.echo.delete("w-mine")).toBe(false);
  });

  it("says its list changed when a worker pod comes, also when it came between a list and the question", async () => {
    directory = new KubernetesWorkerDirectory({ kubeConfig: fake.kubeConfig(NAMESPACE), log: quietLog });
    expect(await directory.list()).toEqual([]);
    const signal = new AbortController();
    let answered = false;
    const first = directory.changed(signal.signal).then(() => {
      answered = true;
    });
    await new Promise((r) => setTimeout(r, 50));
    expect(answered).toBe(false); // nothing changed since the list
    await scenarios.echo.create(spec("w-watch-1", 911, scenarios.repoUrl));
    await first;

    // Listed before the second pod; asked after the watch saw it: answered at once.
    await directory.list();
    await scenarios.echo.create(spec("w-watch-2", 912, scenarios.repoUrl));
    await waitFor("the second pod stored", () => fake.store.list("pods", NAMESPACE).length === 2);
    await directory.changed(signal.signal);

    // Aborting a pending question rejects it.
    await directory.list();
    const pending = directory.changed(signal.signal);
    signal.abort(new Error("stopping"));
    await expect(pending).rejects.toThrow("stopping");
  });
});
