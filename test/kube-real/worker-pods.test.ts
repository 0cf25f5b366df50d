import path from "node:path";
import { fileURLToPath } from "node:url";
import { createLogger } from "@wharf/config";
import { echoThrough, waitFor } from "@wharf/testkit";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  type KubernetesLiveWorker,
  KubernetesWorkerBackend,
  KubernetesWorkerDirectory,
} from "../../packages/kubernetes/backends/src/index.js";
import {
  ADMIN_KUBECONFIG,
  BUSYBOX_IMAGE,
  type KubeConfig,
  kubectl,
  kubectlCreate,
  STANDIN_IMAGE,
  serviceAccountKubeConfig,
} from "./real-cluster.js";

/**
 * The provisioner's kubernetes backend and the aggregator's kubernetes discovery against a real
 * API server and kubelet (scripts/kube/up.sh), each authenticated as its own service account
 * with deploy/kubernetes/rbac.yaml applied: the calls the fake-based tests record
 * (packages/kubernetes/backends/test/rbac.test.ts, worker-directory.test.ts) are here allowed or
 * refused by real RBAC, pods really run, and the port-forward goes through the API server,
 * the kubelet and containerd into the pod's network namespace.
 */
const rbacYaml = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  "../../deploy/kubernetes/rbac.yaml",
);
const log = createLogger("kube-real-test");
const namespace = `wharf-real-${Date.now().toString(36)}`;

/** A worker stand-in as uid 1000 (the pod's securityContext): /healthz on the http port, an echo on the gRPC port. */
const ECHO_WORKER = [
  "sh",
  "-c",
  'mkdir -p /tmp/www && echo ok >/tmp/www/healthz && httpd -p "$WHARF_WORKER_HTTP_PORT" -h /tmp/www && exec nc -ll -p "$WHARF_WORKER_PORT" -e cat',
];

const spec = (workerId: string, buildId: number) => ({
  workerId,
  name: `wharf-worker-${buildId}`,
  request: {
    buildId,
    instance: "kube-real",
    projectId: 7,
    gitUrl: "https://git.invalid/wharf/repo.git",
    runStages: "ALL",
    vars: {},
  },
});

// A deleted pod's object goes once the kubelet has reclaimed its resources: a few seconds, at
// times 30 s or more on a loaded machine (1.20's kubelet).
const podsLeft = () =>
  kubectl("-n", namespace, "get", "pods", "-o", "name")
    .split("\n")
    .filter((l) => l.trim() !== "");

describe.skipIf(!ADMIN_KUBECONFIG)("on a real cluster (WHARF_KUBE_REAL_KUBECONFIG)", () => {
  let provisionerKc: KubeConfig;
  let aggregatorKc: KubeConfig;
  let backend: KubernetesWorkerBackend | undefined;
  let directory: KubernetesWorkerDirectory | undefined;

  beforeAll(async () => {
    kubectl("create", "namespace", namespace);
    kubectl("-n", namespace, "apply", "-f", rbacYaml);
    provisionerKc = await serviceAccountKubeConfig(namespace, "wharf-provisioner");
    aggregatorKc = await serviceAccountKubeConfig(namespace, "wharf-aggregator");
  }, 60_000);
  afterEach(async () => {
    await directory?.close();
    await backend?.close();
    directory = undefined;
    backend = undefined;
  });
  afterAll(() => {
    if (ADMIN_KUBECONFIG) kubectl("delete", "namespace", namespace, "--wait=false", "--ignore-not-found");
  });

  const newBackend = (image: string, cloneImage: string) =>
    new KubernetesWorkerBackend({
      kubeConfig: provisionerKc,
      image,
      cloneImage,
      command: ECHO_WORKER,
      executor: "local",
      imagePullPolicy: "IfNotPresent",
      stopGraceMs: 2000,
      startTimeoutMs: 60_000,
      log,
    });
  const listed = async (workerId: string) =>
    (await directory?.list())?.find((w) => w.workerId === workerId) as KubernetesLiveWorker | undefined;

  it("the backend as wharf-provisioner runs a worker pod; the directory as wharf-aggregator reaches it through a real port-forward and removes it", async () => {
    backend = newBackend(STANDIN_IMAGE, STANDIN_IMAGE);
    directory = new KubernetesWorkerDirectory({ kubeConfig: aggregatorKc, log, removeGraceSeconds: 2 });
    const { address: podAddress } = await backend.create(spec("w-echo", 1));
    // The pod's own IP on the node's bridge, and its gRPC port.
    expect(podAddress).toMatch(/^198\.18\.0\.\d+:5010$/);
    const w = await waitFor(
      "running (Ready) worker",
      async () => {
        const x = await listed("w-echo");
        return x?.status === "running" && x.address ? x : undefined;
      },
      90_000,
      250,
    );
    expect(w.address).toMatch(/^127\.0\.0\.1:\d+$/);
    const reply = await waitFor(
      "echo through port-forward",
      async () => {
        const r = await echoThrough(w.address as string, "ping through a real kubelet").catch(() => "");
        return r === "ping through a real kubelet" ? r : undefined;
      },
      30_000,
      250,
    );
    expect(reply).toBe("ping through a real kubelet");
    const [b] = await backend.list();
    expect(b).toMatchObject({ workerId: "w-echo", state: "running" });

    await directory.remove("w-echo");
    await waitFor("pod gone", () => podsLeft().length === 0, 90_000, 500);
    // The directory's informer hears of the deletion a moment later.
    await waitFor(
      "directory forgets the worker",
      async () => (await listed("w-echo")) === undefined,
      15_000,
      250,
    );
    // Deleting through the backend again finds nothing.
    expect(await backend.delete("w-echo")).toBe(false);
  }, 240_000);

  it("lists a worker whose clone failed as failed, with the init container's log read as wharf-aggregator", async () => {
    backend = newBackend(STANDIN_IMAGE, BUSYBOX_IMAGE); // busybox has no git
    directory = new KubernetesWorkerDirectory({ kubeConfig: aggregatorKc, log, removeGraceSeconds: 2 });
    await backend.create(spec("w-noclone", 2)).catch(() => {}); // may fail before an IP: the pod stays
    const w = await waitFor(
      "failed worker",
      async () => {
        const x = await listed("w-noclone");
        return x?.status === "failed" ? x : undefined;
      },
      90_000,
      250,
    );
    expect(w.message).toMatch(/^git-clone exited with code 127/);
    expect(w.message).toMatch(/git: not found/);
    expect(await backend.delete("w-noclone")).toBe(true);
  }, 240_000);

  it("lists a worker whose image cannot be pulled (no registry is reachable) as failed, with the kubelet's event", async () => {
    backend = newBackend("missing.invalid/wharf-worker:1", STANDIN_IMAGE);
    directory = new KubernetesWorkerDirectory({ kubeConfig: aggregatorKc, log, removeGraceSeconds: 2 });
    await backend.create(spec("w-missing", 3));
    const w = await waitFor(
      "failed worker",
      async () => {
        const x = await listed("w-missing");
        return x?.status === "failed" ? x : undefined;
      },
      90_000,
      250,
    );
    expect(w.address).toBeNull();
    expect(w.message).toMatch(/^worker: (ErrImagePull|ImagePullBackOff)/);
    expect(w.message).toMatch(/Failed to pull image "missing\.invalid\/wharf-worker:1"/);
    await directory.remove("w-missing");
    await waitFor("pod gone", () => podsLeft().length === 0, 90_000, 500);
  }, 240_000);

  it("delete answers once the deletion is accepted; the Terminating worker pod and a pod it owns go afterwards", async () => {
    backend = newBackend(STANDIN_IMAGE, STANDIN_IMAGE);
    await backend.create(spec("w-delete", 4));
    const [worker] = JSON.parse(
      kubectl("-n", namespace, "get", "pods", "-l", "wharf.iver.com/worker-id=w-delete", "-o", "json"),
    ).items as { metadata: { name: string; uid: string } }[];
    // A step pod of the worker's (owned by it, as the kubernetes executor makes them).
    kubectlCreate(namespace, {
      apiVersion: "v1",
      kind: "Pod",
      metadata: {
        name: "w-delete-step",
        ownerReferences: [
          { apiVersion: "v1", kind: "Pod", name: worker!.metadata.name, uid: worker!.metadata.uid },
        ],
      },
      spec: {
        restartPolicy: "Never",
        terminationGracePeriodSeconds: 1,
        containers: [
          { name: "step", image: BUSYBOX_IMAGE, imagePullPolicy: "Never", command: ["sleep", "600"] },
        ],
      },
    });
    await waitFor(
      "worker running",
      () =>
        kubectl("-n", namespace, "get", "pod", worker!.metadata.name, "-o", "jsonpath={.status.phase}") ===
        "Running",
      90_000,
      250,
    );
    const asked = Date.now();
    expect(await backend.delete("w-delete")).toBe(true);
    const answeredMs = Date.now() - asked;
    // It took 9-22 s when delete waited for the pod object to go.
    expect(answeredMs).toBeLessThan(3_000);
    // Deleting again while it terminates (the reconcile does) is fine.
    expect(await backend.delete("w-delete")).toBe(true);
    await waitFor("worker and step pods gone", () => podsLeft().length === 0, 120_000, 500);
    expect(await backend.delete("w-delete")).toBe(false);
    log.info({ answeredMs, goneAfterMs: Date.now() - asked }, "worker pod deletion");
  }, 240_000);

  it("RBAC: wharf-provisioner may not read pod logs, wharf-aggregator may not create pods", () => {
    // `kubectl auth can-i` prints yes (exit 0) or no (exit 1).
    const can = (sa: string, verb: string, resource: string, subresource?: string) => {
      const args = [
        "auth",
        "can-i",
        verb,
        resource,
        "-n",
        namespace,
        `--as=system:serviceaccount:${namespace}:${sa}`,
      ];
      if (subresource) args.push(`--subresource=${subresource}`);
      try {
        return kubectl(...args).trim() === "yes";
      } catch {
        return false;
      }
    };
    expect(can("wharf-provisioner", "create", "pods")).toBe(true);
    expect(can("wharf-provisioner", "get", "pods", "log")).toBe(false);
    expect(can("wharf-aggregator", "create", "pods", "portforward")).toBe(true);
    expect(can("wharf-aggregator", "get", "pods", "log")).toBe(true);
    expect(can("wharf-aggregator", "create", "pods")).toBe(false);
    expect(can("wharf-worker", "create", "pods", "exec")).toBe(true);
    expect(can("wharf-worker", "get", "secrets")).toBe(true);
    expect(can("wharf-worker", "list", "secrets")).toBe(false);
  });
});
