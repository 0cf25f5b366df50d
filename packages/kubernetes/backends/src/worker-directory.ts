import { CoreV1Api, type KubeConfig, type V1Pod } from "@kubernetes/client-node";
import type { Logger } from "@wharf/config";
import {
  apiMessage,
  isNotFound,
  labelValue,
  WORKER_POD_LABELS,
  WORKER_POD_SELECTOR,
} from "@wharf/kube-manifests";
import type { BuildId } from "@wharf/proto/build-id";
import {
  ListedBuildIds,
  type LiveWorker,
  type WorkerDirectory,
  WorkerDirectoryError,
  workerStateOf,
} from "@wharf/relay";
import { podAddress, podGrpcPort } from "./pod-address.js";
import { podDiagnostics } from "./pod-diagnostics.js";
import { workerPodStatus } from "./pod-status.js";
import { PortForwardListener } from "./port-forward-listener.js";
import { WorkerPodCache } from "./worker-pod-cache.js";

export interface KubernetesDirectoryOptions {
  kubeConfig: KubeConfig;
  /** Namespace of worker pods. Default: the kubeconfig context's, else "default". */
  namespace?: string;
  /** Only workers of this wharf instance (label wharf.iver.com/instance). */
  instance?: string;
  /**
   * How workers are reached: "port-forward" through the API server (default; the
   * aggregator may run outside the cluster) or "pod-ip" (the aggregator runs inside it).
   */
  connect?: "port-forward" | "pod-ip";
  /** Grace given to a worker pod on removal. Default 5 s. */
  removeGraceSeconds?: number;
  log?: Logger;
}

/** A listed worker with its pod, and why it failed when it did. */
export interface KubernetesLiveWorker extends LiveWorker {
  podName: string;
  /** For a failed or stuck pod: the reason, Warning events and the tail of container logs. */
  message?: string;
}

/**
 * Worker pods found by label through an informer. A running worker is reached at its pod
 * IP, or through a local port-forward listener per pod that lives as long as the pod.
 * A failed or stuck pod (ErrImagePull, failed clone, crash) is listed as failed with its
 * diagnostics, read once per pod and logged.
 */
export class KubernetesWorkerDirectory implements WorkerDirectory {
  readonly kind = "kubernetes";
  readonly namespace: string;
  private readonly api: CoreV1Api;
  private readonly cache: WorkerPodCache;
  private readonly listeners = new Map<string, Promise<PortForwardListener>>();
  private readonly diagnostics = new Map<string, Promise<string>>();
  private readonly unsubscribe: () => void;
  /** Changes the watch has seen, and how many of them the last `list` had seen. */
  private changes = 0;
  private listedChanges = -1;
  private readonly buildIds: ListedBuildIds;

  constructor(private readonly opts: KubernetesDirectoryOptions) {
    const kc = opts.kubeConfig;
    this.namespace = opts.namespace ?? kc.getContextObject(kc.getCurrentContext())?.namespace ?? "default";
    this.api = kc.makeApiClient(CoreV1Api);
    this.buildIds = new ListedBuildIds(`label ${WORKER_POD_LABELS.buildId}`, opts.log);
    const selector = opts.instance
      ? `${WORKER_POD_SELECTOR},${WORKER_POD_LABELS.instance}=${labelValue(opts.instance)}`
      : WORKER_POD_SELECTOR;
    this.cache = new WorkerPodCache({
      kubeConfig: kc,
      namespace: this.namespace,
      labelSelector: selector,
      ...(opts.log ? { log: opts.log } : {}),
    });
    this.unsubscribe = this.cache.subscribe((pod, deleted) => {
      this.changes++;
      if (deleted) this.forget(pod.metadata?.name ?? "");
    });
  }

  async list(): Promise<KubernetesLiveWorker[]> {
    try {
      await this.cache.start();
    } catch (err) {
      throw new WorkerDirectoryError(`kubernetes: listing worker pods: ${apiMessage(err)}`, { cause: err });
    }
    this.listedChanges = this.changes;
    const pods = this.cache.list().flatMap((pod) => {
      const labels = pod.metadata?.labels ?? {};
      const workerId = labels[WORKER_POD_LABELS.workerId];
      if (!workerId) return [];
      const buildId = this.buildIds.fromText(workerId, labels[WORKER_POD_LABELS.buildId] ?? "");
      return buildId === undefined ? [] : [{ pod, workerId, buildId }];
    });
    return Promise.all(pods.map(({ pod, workerId, buildId }) => this.describe(pod, workerId, buildId)));
  }

  /**
   * Resolves at the informer's next add, change or delete of a worker pod, or at once when one
   * came after the last `list` (a change between a list and this call is not lost).
   */
  async changed(signal: AbortSignal): Promise<void> {
    await this.cache.start();
    signal.throwIfAborted();
    if (this.changes !== this.listedChanges) return;
    return new Promise<void>((resolve, reject) => {
      const done = () => {
        unsubscribe();
        signal.removeEventListener("abort", aborted);
      };
      const aborted = () => {
        done();
        reject(signal.reason);
      };
      const unsubscribe = this.cache.subscribe(() => {
        done();
        resolve();
      });
      signal.addEventListener("abort", aborted, { once: true });
    });
  }

  private async describe(pod: V1Pod, workerId: string, buildId: BuildId): Promise<KubernetesLiveWorker> {
    const podName = pod.metadata?.name as string;
    const status = workerPodStatus(pod);
    // Ready: the worker's readiness probe (/healthz) passed, so its gRPC server listens.
    const ready = pod.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True");
    const running = status.phase === "Running" && ready === true && !pod.metadata?.deletionTimestamp;
    const worker: KubernetesLiveWorker = {
      workerId,
      buildId,
      podName,
      status: workerStateOf(status.phase),
      address: running ? await this.addressOf(pod) : null,
    };
    if (status.phase === "Failed") {
      const details = await this.diagnose(pod);
      worker.message = [status.reason, details].filter(Boolean).join("\n");
    }
    return worker;
  }

  private async addressOf(pod: V1Pod): Promise<string | null> {
    if (this.opts.connect === "pod-ip") return podAddress(pod) ?? null;
    const name = pod.metadata?.name as string;
    let listener = this.listeners.get(name);
    if (!listener) {
      listener = PortForwardListener.open(
        this.opts.kubeConfig,
        { namespace: this.namespace, pod: name, port: podGrpcPort(pod) },
        this.opts.log,
      );
      this.listeners.set(name, listener);
      listener.catch(() => this.listeners.delete(name));
    }
    return (await listener).address;
  }

  /** Diagnostics of a failed pod, read once (the pod does not change any more). */
  private diagnose(pod: V1Pod): Promise<string> {
    const name = pod.metadata?.name as string;
    let text = this.diagnostics.get(name);
    if (!text) {
      text = podDiagnostics(this.api, pod).then((t) => {
        this.opts.log?.warn(
          { pod: name, reason: workerPodStatus(pod).reason, diagnostics: t },
          "worker pod failed",
        );
        return t;
      });
      this.diagnostics.set(name, text);
    }
    return text;
  }

  private forget(podName: string): void {
    const listener = this.listeners.get(podName);
    this.listeners.delete(podName);
    this.diagnostics.delete(podName);
    void listener?.then((l) => l.close()).catch(() => {});
  }

  /** Deletes the worker's pods (its step pods follow by ownerReference); a gone pod is fine. */
  async remove(workerId: string): Promise<void> {
    await this.cache.start();
    const pods = this.cache
      .list()
      .filter((p) => p.metadata?.labels?.[WORKER_POD_LABELS.workerId] === workerId);
    for (const pod of pods) {
      const name = pod.metadata?.name as string;
      try {
        await this.api.deleteNamespacedPod({
          name,
          namespace: this.namespace,
          gracePeriodSeconds: this.opts.removeGraceSeconds ?? 5,
        });
      } catch (err) {
        if (!isNotFound(err)) {
          throw new WorkerDirectoryError(`kubernetes: deleting pod ${name}: ${apiMessage(err)}`, {
            cause: err,
          });
        }
      }
      this.forget(name);
    }
  }

  async close(): Promise<void> {
    this.unsubscribe();
    for (const name of [...this.listeners.keys()]) this.forget(name);
    await this.cache.close();
  }
}
