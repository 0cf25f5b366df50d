import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { CoreV1Api } from "@kubernetes/client-node";
import { type StepProcess, StepStartError } from "@wharf/executor";
import { pollUntil } from "@wharf/kube-fake";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { KubernetesExecutor } from "../src/index.js";
import type { KubeStepProcess } from "../src/kube-step-process.js";
import { API_SERVERS, buildSpec, containerStep, NAMESPACE, readAll, startHarness } from "./kube-harness.js";

let h: Awaited<ReturnType<typeof startHarness>>;
let api: CoreV1Api;

async function podsAndClaims() {
  const pods = await api.listNamespacedPod({ namespace: NAMESPACE });
  const claims = await api.listNamespacedPersistentVolumeClaim({ namespace: NAMESPACE });
  return [...pods.items, ...claims.items].map((o) => o.metadata?.name);
}

describe.each(API_SERVERS)("KubernetesExecutor against a fake $name API server", ({ kubernetesVersion }) => {
  beforeEach(async () => {
    h = await startHarness({}, { kubernetesVersion });
    api = h.kubeConfig.makeApiClient(CoreV1Api);
  });
  afterEach(async () => {
    await h.close();
  });

  it("runs a build's steps end to end in a shared workspace and collects artifacts", async () => {
    await fs.writeFile(path.join(h.sourceDir, "hello.txt"), "from the repo\n");
    const build = buildSpec(h.sourceDir);
    await h.executor.ping();
    await h.executor.setupBuild(build);

    const first = await h.executor.startStep(
      build,
      containerStep(1, ["cat hello.txt", "mkdir -p out", 'echo "built $CI $STEP_VAR" > out/result.txt']),
      { STEP_VAR: "x" },
    );
    const [out1, code1] = await Promise.all([readAll(first.stdout), first.wait()]);
    expect(code1).toBe(0);
    expect(out1).toBe("from the repo\n");
    await first.destroy();

    const second = await h.executor.startStep(build, containerStep(2, ["cat out/result.txt"]), {});
    expect(await readAll(second.stdout)).toBe("built true x\n");
    expect(await second.wait()).toBe(0);
    await second.destroy();

    const dest = await fs.mkdtemp(path.join(os.tmpdir(), "wharf-k8s-artifacts-"));
    try {
      expect(await h.executor.collectFiles(build, ["out/**"], dest)).toEqual(["out/result.txt"]);
      expect(await fs.readFile(path.join(dest, "out/result.txt"), "utf8")).toBe("built true x\n");
    } finally {
      await fs.rm(dest, { recursive: true, force: true });
    }
    await h.executor.destroyBuild(build);
    expect(await podsAndClaims()).toEqual([]);
  });

  it("copies a repository of several megabytes into the workspace intact", async () => {
    const big = Buffer.alloc(3 * 1024 * 1024 + 7);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7919) % 251;
    await fs.writeFile(path.join(h.sourceDir, "big.bin"), big);
    await fs.mkdir(path.join(h.sourceDir, "nested/dir"), { recursive: true });
    await fs.writeFile(path.join(h.sourceDir, "nested/dir/small.txt"), "small\n");
    const build = buildSpec(h.sourceDir);
    await h.executor.setupBuild(build);
    const step = await h.executor.startStep(
      build,
      containerStep(1, ["wc -c < big.bin", "cat nested/dir/small.txt"]),
      {},
    );
    const [out, code] = await Promise.all([readAll(step.stdout), step.wait()]);
    expect(code).toBe(0);
    expect(out.split("\n").map((l) => l.trim())).toEqual([String(big.length), "small", ""]);
    await step.destroy();
    const dest = await fs.mkdtemp(path.join(os.tmpdir(), "wharf-k8s-artifacts-"));
    try {
      expect(await h.executor.collectFiles(build, ["big.bin"], dest)).toEqual(["big.bin"]);
      expect((await fs.readFile(path.join(dest, "big.bin"))).equals(big)).toBe(true);
    } finally {
      await fs.rm(dest, { recursive: true, force: true });
    }
    await h.executor.destroyBuild(build);
  });

  it("reports a failing step's exit code with its output", async () => {
    const build = buildSpec(h.sourceDir);
    await h.executor.setupBuild(build);
    const step = await h.executor.startStep(
      build,
      containerStep(1, ["echo before", "exit 3", "echo never"]),
      {},
    );
    const [out, code] = await Promise.all([readAll(step.stdout), step.wait()]);
    expect(code).toBe(3);
    expect(out).toBe("before\n");
    await step.destroy();
    await h.executor.destroyBuild(build);
    expect(await podsAndClaims()).toEqual([]);
  });

  it("stops a running step by deleting its pod (SIGTERM) and reports a non-zero exit", async () => {
    const build = buildSpec(h.sourceDir);
    await h.executor.setupBuild(build);
    const step = await h.executor.startStep(build, containerStep(1, ["echo started", "sleep 30"]), {});
    let text = "";
    step.stdout.on("data", (d: Buffer) => {
      text += d.toString();
    });
    const output = new Promise<string>((resolve) => step.stdout.once("end", () => resolve(text)));
    await pollUntil(() => text.includes("started"), "step output");
    await step.stop(1000);
    const code = await step.wait();
    expect(code).not.toBe(0);
    expect(await output).toContain("started");
    await step.destroy();
    await h.executor.destroyBuild(build);
    expect(await podsAndClaims()).toEqual([]);
  });

  it("reads every byte of a step's stdout and stderr apart, without the kubelet's log endpoint", async () => {
    // The kubelet's pods/log can cut a log's end and merges the streams: it is never asked.
    const logReads = h.fake.injectFault({
      resource: "pods",
      subresource: "log",
      action: { kind: "status", code: 500 },
    });
    const build = buildSpec(h.sourceDir);
    await h.executor.setupBuild(build);
    const step = await h.executor.startStep(
      build,
      containerStep(1, [
        'i=0; while [ $i -lt 20000 ]; do i=$((i + 1)); echo "out $i"; [ $((i % 4)) -eq 0 ] && echo "err $i" >&2; done',
        "printf 'no newline at the end'",
      ]),
      {},
    );
    const [out, err, code] = await Promise.all([readAll(step.stdout), readAll(step.stderr), step.wait()]);
    expect(code).toBe(0);
    const lines = (n: number, prefix: string, every = 1) =>
      Array.from({ length: n / every }, (_, i) => `${prefix} ${(i + 1) * every}\n`).join("");
    expect(out).toBe(`${lines(20_000, "out")}no newline at the end`);
    expect(err).toBe(lines(20_000, "err", 4));
    expect(logReads.hits).toBe(0);
    await step.destroy();
    await h.executor.destroyBuild(build);
  });

  it("hands on every byte to a reader slower than the step, after the step ended", async () => {
    const build = buildSpec(h.sourceDir);
    await h.executor.setupBuild(build);
    const step = await h.executor.startStep(
      build,
      containerStep(1, [
        'i=0; while [ $i -lt 4000 ]; do i=$((i + 1)); echo "line $i of a fast step $i"; done',
      ]),
      {},
    );
    // Nobody reads until the step is over: its output waits on back-pressure meanwhile.
    expect(await step.wait()).toBe(0);
    await new Promise((r) => setTimeout(r, 500));
    const out = await readAll(step.stdout);
    expect(out).toBe(
      Array.from({ length: 4000 }, (_, i) => `line ${i + 1} of a fast step ${i + 1}\n`).join(""),
    );
    await step.destroy();
    await h.executor.destroyBuild(build);
  });

  it("relays only what the container printed when its pod is deleted while its output is read", async () => {
    const build = buildSpec(h.sourceDir);
    await h.executor.setupBuild(build);
    for (const [id, stop] of [
      [1, (s: StepProcess) => s.stop(1000)],
      [2, () => h.executor.destroyBuild(build)],
    ] as const) {
      const step = await h.executor.startStep(
        build,
        containerStep(id, [
          "echo 'rpc error: code = NotFound desc = printed by the step'",
          "echo started",
          "sleep 30",
        ]),
        {},
      );
      let text = "";
      step.stdout.on("data", (d: Buffer) => {
        text += d.toString();
      });
      const ended = new Promise((resolve) => step.stdout.once("end", resolve));
      await pollUntil(() => text.includes("started"), "step output");
      await stop(step);
      expect(await step.wait()).not.toBe(0);
      await ended;
      // The kubelet's "rpc error: code = NotFound …" about the removed container is not step output.
      expect(text).toBe("rpc error: code = NotFound desc = printed by the step\nstarted\n");
      await step.destroy();
    }
    await h.executor.destroyBuild(build);
    expect(await podsAndClaims()).toEqual([]);
  });

  it("cleans up running steps when the build is destroyed mid-step (cancel)", async () => {
    const build = buildSpec(h.sourceDir);
    await h.executor.setupBuild(build);
    const a = await h.executor.startStep(build, containerStep(1, ["sleep 30"]), {});
    const b = await h.executor.startStep(build, containerStep(2, ["sleep 30"]), {});
    await h.executor.destroyBuild(build);
    expect(await a.wait()).not.toBe(0);
    expect(await b.wait()).not.toBe(0);
    expect(await podsAndClaims()).toEqual([]);
  });

  it("fails a step whose image cannot be pulled with StepStartError carrying the reason, leaving no pod", async () => {
    const build = buildSpec(h.sourceDir);
    await h.executor.setupBuild(build);
    const err = await h.executor
      .startStep(build, containerStep(7, ["true"], "missing/image:1"), {})
      .catch((e) => e);
    expect(err).toBeInstanceOf(StepStartError);
    expect((err as StepStartError).stepId).toBe(7);
    expect((err as Error).message).toMatch(/ErrImagePull|ImagePullBackOff/);
    const pods = await api.listNamespacedPod({
      namespace: NAMESPACE,
      labelSelector: "wharf.iver.com/step-id=7",
    });
    expect(pods.items).toEqual([]);
    await h.executor.destroyBuild(build);
  });

  it("fails a step whose secret does not exist with StepStartError naming it, before creating a pod", async () => {
    const build = buildSpec(h.sourceDir);
    await h.executor.setupBuild(build);
    const step = containerStep(2, ["true"]);
    if (step.type === "container") step.spec.secretName = "no-such-secret";
    await expect(h.executor.startStep(build, step, {})).rejects.toThrow(
      /secret "no-such-secret" not found in namespace "wharf-builds"/,
    );
    await h.executor.destroyBuild(build);
  });

  it("refuses a step that names another worker's Secret (its tokens), without reading it", async () => {
    await api.createNamespacedSecret({
      namespace: NAMESPACE,
      body: { metadata: { name: "wharf-worker-secret-other-build" }, stringData: { token: "theirs" } },
    });
    const build = buildSpec(h.sourceDir);
    await h.executor.setupBuild(build);
    const step = containerStep(3, ["echo $token"]);
    if (step.type === "container") step.spec.secretName = "wharf-worker-secret-other-build";
    const err = await h.executor.startStep(build, step, {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StepStartError);
    expect((err as Error).message).toMatch(/holds a wharf worker's tokens, which steps may not use/);
    expect(h.fake.calls.filter((c) => c.resource === "secrets" && c.verb === "get")).toEqual([]);
    await h.executor.destroyBuild(build);
  });

  it("gives step pods an ownerReference to the worker pod, so deleting the worker removes them", async () => {
    const worker = await api.createNamespacedPod({
      namespace: NAMESPACE,
      body: {
        metadata: { name: "wharf-worker-1" },
        spec: { containers: [{ name: "w", image: "busybox", command: ["sleep", "30"] }] },
      },
    });
    const executor = new KubernetesExecutor({
      kubeConfig: h.kubeConfig,
      owner: { name: "wharf-worker-1", uid: worker.metadata!.uid! },
      pollMs: 20,
    });
    const build = buildSpec(h.sourceDir, "owned");
    await executor.setupBuild(build);
    const step = (await executor.startStep(build, containerStep(1, ["sleep 30"]), {})) as KubeStepProcess;
    const pod = await api.readNamespacedPod({ name: step.podName, namespace: NAMESPACE });
    expect(pod.metadata?.ownerReferences?.[0]).toMatchObject({
      kind: "Pod",
      name: "wharf-worker-1",
      uid: worker.metadata!.uid,
    });
    await api.deleteNamespacedPod({ name: "wharf-worker-1", namespace: NAMESPACE, gracePeriodSeconds: 1 });
    await pollUntil(
      async () => (await api.listNamespacedPod({ namespace: NAMESPACE })).items.length === 0,
      "cascade",
    );
    expect(await step.wait()).not.toBe(0);
    await executor.destroyBuild(build);
    expect(await podsAndClaims()).toEqual([]);
  });

  it("rejects a step spec that cannot become a pod with StepStartError", async () => {
    const build = buildSpec(h.sourceDir);
    await h.executor.setupBuild(build);
    const docker = {
      ...containerStep(3, []),
      type: "docker" as const,
      spec: {
        file: "Dockerfile",
        tags: [],
        context: ".",
        appendCert: false,
        push: true,
        args: [],
        secretArgs: [],
        noCache: false,
        pull: false,
      },
    };
    await expect(h.executor.startStep(build, docker, {})).rejects.toBeInstanceOf(StepStartError);
    await h.executor.destroyBuild(build);
  });

  it("reports an unreachable API server from ping", async () => {
    const down = await startHarness();
    await down.close();
    await expect(down.executor.ping()).rejects.toThrow(/not reachable/);
  });
});
