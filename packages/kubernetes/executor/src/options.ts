import type { KubeConfig } from "@kubernetes/client-node";
import type { Env } from "@wharf/config/env";
import { readSettings } from "@wharf/config/settings";
import { DEFAULT_CACHE_MAX_BYTES, type ProjectSecrets } from "@wharf/executor";
import {
  DEFAULT_CACHE_STORE_NAME,
  DEFAULT_STEP_IMAGES,
  type PodOwner,
  type PodPlacement,
  type StepImages,
} from "@wharf/kube-manifests";
import { WORKER_ENV } from "@wharf/proto/worker-env";
import { type ApiCallPolicy, DEFAULT_API_CALL_POLICY } from "./kube-api.js";
import {
  DEFAULT_CACHE_STORE_SIZE,
  KUBERNETES_EXECUTOR_SETTINGS,
  KUBERNETES_POD_SETTINGS,
} from "./settings.js";

export interface KubernetesExecutorOptions {
  kubeConfig: KubeConfig;
  /** Namespace of step pods, the workspace pod and claim. Default: the kubeconfig context's, else "default". */
  namespace?: string;
  /** The worker's own pod; step pods get an ownerReference to it so deleting the worker removes them. */
  owner?: PodOwner;
  images?: Partial<StepImages>;
  /** Image of the pod holding the workspace; needs `sh`, `sleep` (fractional), `head -c`, `stat -c` and `tar` (busybox has them). Default busybox:1.36. */
  workspaceImage?: string;
  /** Size of the workspace claim. Default 1Gi. */
  workspaceSize?: string;
  storageClassName?: string;
  /** ConfigMap mounted at a step's `certificatesMountPath`. Default ca-certificates-config. */
  certificatesConfigMap?: string;
  placement?: PodPlacement;
  /**
   * Names a step's `secretName` as wharf-cmd does, `wharf-<instance>-project-<id>-secretname-<name>`
   * (WHARF_INSTANCE, WHARF_PROJECT_ID of the build). Default: none, the name as written.
   */
  projectSecrets?: ProjectSecrets;
  /** How long a pod may take to start (image pull, scheduling). Default 5 minutes. */
  startTimeoutMs?: number;
  /** Interval of pod status polls. Default 250 ms. */
  pollMs?: number;
  /**
   * Calls of the Kubernetes API: each request's timeout (default 30 s; `WHARF_K8S_REQUEST_TIMEOUT`)
   * and the retries of idempotent ones (GET, LIST, DELETE) on transient errors (default 6
   * attempts, backoff from 200 ms doubling to 5 s).
   */
  apiCalls?: Partial<ApiCallPolicy>;
  /**
   * Step caches (`cache:`): one claim of the namespace (ReadWriteOnce, of `storageClassName`)
   * held by one pod of `workspaceImage`, both named `cacheStoreName` (default wharf-step-cache;
   * `WHARF_K8S_CACHE_CLAIM`), made by the first worker that needs them and kept.
   */
  cacheStoreName?: string;
  /** Size the store's claim is created with (`WHARF_K8S_CACHE_SIZE`); above `cacheMaxBytes`, with room for saves under way. Default 15Gi. */
  cacheStoreSize?: string;
  /** Budget of all step caches in the store; least recently used ones go beyond it. Default 10 GiB (`WHARF_CACHE_MAX_BYTES`). */
  cacheMaxBytes?: number;
}

export interface CompiledKubernetesOptions
  extends Required<
    Omit<KubernetesExecutorOptions, "owner" | "storageClassName" | "images" | "apiCalls" | "projectSecrets">
  > {
  projectSecrets: ProjectSecrets;
  owner?: PodOwner;
  apiCalls: ApiCallPolicy;
  storageClassName?: string;
  images: StepImages;
}

export function compileKubernetesOptions(o: KubernetesExecutorOptions): CompiledKubernetesOptions {
  return {
    kubeConfig: o.kubeConfig,
    namespace:
      o.namespace ?? o.kubeConfig.getContextObject(o.kubeConfig.getCurrentContext())?.namespace ?? "default",
    owner: o.owner,
    images: { ...DEFAULT_STEP_IMAGES, ...o.images },
    projectSecrets: o.projectSecrets ?? {},
    workspaceImage: o.workspaceImage ?? KUBERNETES_EXECUTOR_SETTINGS.workspaceImage.read({}),
    workspaceSize: o.workspaceSize ?? KUBERNETES_EXECUTOR_SETTINGS.workspaceSize.read({}),
    storageClassName: o.storageClassName,
    certificatesConfigMap: o.certificatesConfigMap ?? "ca-certificates-config",
    placement: o.placement ?? {},
    startTimeoutMs: o.startTimeoutMs ?? KUBERNETES_EXECUTOR_SETTINGS.startTimeout.read({}),
    pollMs: o.pollMs ?? 250,
    apiCalls: { ...DEFAULT_API_CALL_POLICY, ...o.apiCalls },
    cacheStoreName: o.cacheStoreName ?? DEFAULT_CACHE_STORE_NAME,
    cacheStoreSize: o.cacheStoreSize ?? DEFAULT_CACHE_STORE_SIZE,
    cacheMaxBytes: o.cacheMaxBytes ?? DEFAULT_CACHE_MAX_BYTES,
  };
}

/**
 * Options from the worker's environment: KUBERNETES_EXECUTOR_SETTINGS (the operator's, passed
 * on by the provisioner), KUBERNETES_POD_SETTINGS (the worker pod's spec), and the build's
 * WHARF_INSTANCE and WHARF_PROJECT_ID (project Secrets), keys of the worker env contract
 * (@wharf/proto/worker-env).
 */
export function kubernetesOptionsFromEnv(env: Env, kubeConfig: KubeConfig): KubernetesExecutorOptions {
  const s = readSettings(KUBERNETES_EXECUTOR_SETTINGS, env);
  const pod = readSettings(KUBERNETES_POD_SETTINGS, env);
  return {
    kubeConfig,
    namespace: pod.namespace,
    owner: pod.podName && pod.podUid ? { name: pod.podName, uid: pod.podUid } : undefined,
    workspaceImage: s.workspaceImage,
    workspaceSize: s.workspaceSize,
    storageClassName: s.storageClass,
    cacheStoreName: s.cacheClaim,
    cacheStoreSize: s.cacheSize,
    projectSecrets: {
      instance: env[WORKER_ENV.instance] || undefined,
      projectId: env[WORKER_ENV.projectId] || undefined,
    },
    images: { helm: s.helmImage, kubectl: s.kubectlImage, kaniko: s.kanikoImage, nuget: s.nugetImage },
    startTimeoutMs: s.startTimeout,
    apiCalls: { requestTimeoutMs: s.requestTimeout },
  };
}
