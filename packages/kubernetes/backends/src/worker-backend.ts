import { CoreV1Api, type KubeConfig, type V1Pod } from "@kubernetes/client-node";
import type { Logger } from "@wharf/config";
import {
  apiMessage,
  isNotFound,
  type PodPlacement,
  WORKER_POD_LABELS,
  WORKER_POD_SELECTOR,
  type WorkerCredentials,
  type WorkerGitSource,
  workerPod,
  workerSecretRef,
} from "@wharf/kube-manifests";
import type { WorkerExecutorKind } from "@wharf/proto/worker-env";
import {
  BackendError,
  type BackendWorker,
  stopGraceOf,
  type WorkerBackend,
  type WorkerRuntimeOptions,
  type WorkerSpec,
  workerEnv,
  workerTokenOf,
} from "@wharf/provisioner";
import { ExitReportMemory, workerExitReport } from "./exit-reports.js";
import { podAddress, podGrpcPort } from "./pod-address.js";
import { type WorkerPodStatus, workerPodStatus } from "./pod-status.js";
import { WorkerPodCache } from "./worker-pod-cache.js";
import { WorkerSecrets } from "./worker-secrets.js";

export interface WorkerPorts {
  grpc: number;
  http: number;
}

export interface KubernetesBackendOptions extends WorkerRuntimeOptions {
  kubeConfig: KubeConfig;
  /** Namespace of worker pods. Default: the kubeconfig context's, else "default". */
  namespace?: string;
  /** Worker image (WHARF_K8S_WORKER_IMAGE). */
  image: string;
  /** Worker argv (WHARF_WORKER_CMD); default the image's entrypoint/CMD. */
  command?: string[];
  /** Image of the git-clone init container; default the worker image. */
  cloneImage?: string;
  /** Secret with `ssh-privatekey` (and optionally `known_hosts`) for SSH remotes. */
  sshKeySecret?: string;
  /** Service account of worker pods (the kubernetes executor's Role). */
  serviceAccountName?: string;
  placement?: PodPlacement;
  /** Step executor inside the worker (WHARF_EXECUTOR). Default "kubernetes". */
  executor?: WorkerExecutorKind;
  /**
   * The worker's ports. Default 5010/5011: every pod has its own network. Pods that share
   * one network (the test fake's processes) need a distinct pair per worker.
   */
  ports?: () => Promise<WorkerPorts> | WorkerPorts;
  /** How long `create` waits for the pod to be scheduled and get an IP. Default 2 minutes. */
  startTimeoutMs?: number;
  imagePullPolicy?: "Always" | "IfNotPresent" | "Never";
  /**
   * A worker pod still Terminating this long after its grace period ended is deleted with
   * grace 0 by the next `delete` (its kubelet is stuck or its node gone). Default 30 s.
   */
  forceDeleteAfterMs?: number;
  log?: Logger;
}

/** A worker as listed, with the pod behind it. */
export interface KubernetesBackendWorker extends BackendWorker {
  podName: string;
  status: WorkerPodStatus;
}

const DEFAULT_PORTS: WorkerPorts = { grpc: 5010, http: 5011 };
const FORCE_DELETE_AFTER_MS = 30_000;

/** Where the address of a pod without an IP points: `.invalid` never resolves, so a probe just fails. */
const NO_ADDRESS_HOST = "unassigned.invalid";

/**
 * A worker pod per build (see `workerPod`). Listing reads an informer cache, so the
 * scheduler's reconcile and `GET /api/worker` never cost an API call. The worker's
 * address is the pod IP: the provisioner runs in the cluster.
 */
export class KubernetesWorkerBackend implements WorkerBackend {
  readonly kind = "kubernetes" as const;
  readonly scope: string;
  readonly namespace: string;
  private readonly api: CoreV1Api;
  private readonly secrets: WorkerSecrets;
  private readonly exitReports = new ExitReportMemory();
  private readonly cache: WorkerPodCache;

  constructor(private readonly opts: KubernetesBackendOptions) {
    const kc = opts.kubeConfig;
    this.namespace = opts.namespace ?? kc.getContextObject(kc.getCurrentContext())?.namespace ?? "default";
    this.scope = `kubernetes:${kc.getCurrentCluster()?.server ?? "unknown"}/${this.namespace}`;
    this.api = kc.makeApiClient(CoreV1Api);
    this.secrets = new WorkerSecrets(this.api, this.namespace);
    this.cache = new WorkerPodCache({
      kubeConfig: kc,
      namespace: this.namespace,
      labelSelector: WORKER_POD_SELECTOR,
      ...(opts.log ? { log: opts.log } : {}),
    });
    this.cache.subscribe((pod) => this.exitReports.observe(pod));
  }

  /** Lists and starts watching worker pods; `create` and `list` call it themselves. */
  start(): Promise<void> {
    return this.cache.start();
  }

  /** What goes into the worker's Secret rather than its pod spec. */
  private credentials(spec: WorkerSpec): WorkerCredentials {
    const workerToken = workerTokenOf(this.opts, spec.workerId);
    return {
      ...(spec.request.gitToken ? { gitToken: spec.request.gitToken } : {}),
      ...(workerToken ? { workerToken } : {}),
    };
  }

  private podSpec(spec: WorkerSpec, ports: WorkerPorts): V1Pod {
    const { opts } = this;
    const req = spec.request;
    const secret = workerSecretRef(spec.workerId, this.credentials(spec));
    const git: WorkerGitSource = {
      url: req.gitUrl,
      ...(req.gitBranch ? { branch: req.gitBranch } : {}),
      ...(opts.sshKeySecret ? { sshKeySecret: opts.sshKeySecret } : {}),
    };
    return workerPod({
      workerId: spec.workerId,
      buildId: req.buildId,
      instance: req.instance,
      projectId: req.projectId === null ? "" : String(req.projectId),
      image: opts.image,
      ...(opts.command ? { command: opts.command } : {}),
      ...(opts.cloneImage ? { cloneImage: opts.cloneImage } : {}),
      ...(opts.serviceAccountName ? { serviceAccountName: opts.serviceAccountName } : {}),
      ...(opts.imagePullPolicy ? { imagePullPolicy: opts.imagePullPolicy } : {}),
      ...opts.placement,
      git,
      ...(secret ? { secret } : {}),
      env: workerEnv(spec, opts, { executor: opts.executor ?? "kubernetes" }),
      grpcPort: ports.grpc,
      httpPort: ports.http,
      // The same grace as the provisioner's own deletes (workerEnv fits the release wait in it).
      terminationGracePeriodSeconds: Math.ceil(stopGraceOf(opts) / 1000),
    });
  }

  async create(spec: WorkerSpec): Promise<{ address: string }> {
    await this.start();
    const ports = (await this.opts.ports?.()) ?? DEFAULT_PORTS;
    const credentials = this.credentials(spec);
    const token = workerSecretRef(spec.workerId, credentials) !== undefined;
    if (token) await this.secrets.create(spec.workerId, credentials);
    let name: string;
    let uid: string;
    try {
      const created = await this.api.createNamespacedPod({
        namespace: this.namespace,
        body: this.podSpec(spec, ports),
      });
      name = created.metadata?.name as string;
      uid = created.metadata?.uid as string;
    } catch (err) {
      if (token) await this.secrets.delete(spec.workerId).catch(() => {});
      throw new BackendError(`could not create the worker pod: ${apiMessage(err)}`, { cause: err });
    }
    if (token) {
      try {
        await this.secrets.ownBy(spec.workerId, { name, uid });
      } catch (err) {
        // An unowned Secret would outlive the pod: start over rather than leave tokens behind.
        await this.deletePod(name).catch(() => {});
        await this.secrets.delete(spec.workerId).catch(() => {});
        throw new BackendError(`could not hand the worker's Secret to pod ${name}: ${apiMessage(err)}`, {
          cause: err,
        });
      }
    }
    // The address is stored once, so wait for the IP (given when the pod is placed on a node).
    const timeoutMs = this.opts.startTimeoutMs ?? 120_000;
    const address = await this.cache.waitFor(() => {
      const pod = this.cache.list().find((p) => p.metadata?.name === name);
      return pod ? podAddress(pod) : undefined;
    }, timeoutMs);
    if (address) return { address };
    const pod = this.cache.list().find((p) => p.metadata?.name === name);
    const why = pod ? workerPodStatus(pod).reason : undefined;
    await this.deletePod(name).catch(() => {});
    throw new BackendError(
      `worker pod ${name} got no IP within ${Math.round(timeoutMs / 1000)}s${why ? `: ${why}` : ""}`,
    );
  }

  async list(): Promise<KubernetesBackendWorker[]> {
    await this.start();
    const present = this.cache.list().flatMap((pod): KubernetesBackendWorker[] => {
      const workerId = pod.metadata?.labels?.[WORKER_POD_LABELS.workerId];
      if (!workerId) return [];
      const status = workerPodStatus(pod);
      const ended = status.phase === "Success" || status.phase === "Failed";
      const exitReport = ended ? workerExitReport(pod) : undefined;
      return [
        {
          workerId,
          podName: pod.metadata?.name as string,
          state: ended ? "exited" : "running",
          exitCode: ended ? status.exitCode : null,
          address: podAddress(pod) ?? `${NO_ADDRESS_HOST}:${podGrpcPort(pod)}`,
          status,
          ...(exitReport ? { exitReport } : {}),
        },
      ];
    });
    // Released workers whose pods were deleted already: listed as exited with what they left.
    const gone = this.exitReports.gone(new Set(present.map((w) => w.workerId)));
    return [
      ...present,
      ...gone.map(({ workerId, report }) => ({
        workerId,
        podName: "",
        state: "exited" as const,
        exitCode: null,
        address: `${NO_ADDRESS_HOST}:0`,
        status: {
          phase: report.status === "Success" ? ("Success" as const) : ("Failed" as const),
          exitCode: null,
        },
        exitReport: report,
      })),
    ];
  }

  /** The status of one worker's pod from the cache; undefined when there is none. */
  async status(workerId: string): Promise<WorkerPodStatus | undefined> {
    return (await this.list()).find((w) => w.workerId === workerId)?.status;
  }

  /** Deletes a pod with the worker's stop grace, or (`force`) at once: grace 0. */
  private async deletePod(name: string, force = false): Promise<void> {
    const graceSec = force ? 0 : Math.ceil(stopGraceOf(this.opts) / 1000);
    await this.api
      .deleteNamespacedPod({ name, namespace: this.namespace, gracePeriodSeconds: graceSec })
      .catch((err) => {
        if (!isNotFound(err)) throw err;
      });
  }

  /**
   * Deletes the worker's pod (SIGTERM, then SIGKILL after the grace); the step pods it owns
   * follow through their ownerReferences. Asks the API server rather than the cache, so a pod
   * created a moment ago is found too. Resolves once the API server accepted the deletion, not
   * when the pod is gone (a v1.20 kubelet kept pods Terminating up to 60 s, and
   * `DELETE /api/worker/:id` waited for it): the kubelet stops it. While it is still listed,
   * the scheduler's reconcile calls this again; a pod already Terminating is left to the
   * kubelet, and one still there `forceDeleteAfterMs` past the end of its grace is forced out.
   */
  async delete(workerId: string): Promise<boolean> {
    await this.start();
    let pods: V1Pod[];
    try {
      const found = await this.api.listNamespacedPod({
        namespace: this.namespace,
        labelSelector: `${WORKER_POD_SELECTOR},${WORKER_POD_LABELS.workerId}=${workerId}`,
      });
      pods = found.items;
    } catch (err) {
      throw new BackendError(`could not list the pods of worker ${workerId}: ${apiMessage(err)}`, {
        cause: err,
      });
    }
    if (pods.length === 0) return false;
    const forceAfterMs = this.opts.forceDeleteAfterMs ?? FORCE_DELETE_AFTER_MS;
    try {
      await Promise.all(
        pods.map((p) => {
          const name = p.metadata?.name as string;
          const terminating = p.metadata?.deletionTimestamp;
          if (!terminating) return this.deletePod(name);
          // The deletionTimestamp of a pod is when its grace period ends.
          const graceEnded = new Date(terminating as unknown as string | Date).getTime();
          return Date.now() >= graceEnded + forceAfterMs ? this.deletePod(name, true) : undefined;
        }),
      );
    } catch (err) {
      throw new BackendError(`could not delete the pod of worker ${workerId}: ${apiMessage(err)}`, {
        cause: err,
      });
    }
    return true;
  }

  async close(): Promise<void> {
    await this.cache.close();
  }
}
