import { setting } from "@wharf/config/settings";
import { DEFAULT_CACHE_STORE_NAME, DEFAULT_STEP_IMAGES } from "@wharf/kube-manifests";
import { WORKER_POD_ENV } from "@wharf/proto/worker-env";

/**
 * The kubernetes executor's settings, as a worker pod reads them (`kubernetesOptionsFromEnv`).
 * A subpath of its own (`@wharf/executor-kubernetes/settings`) that loads no Kubernetes client:
 * the provisioner names the operator's ones to pass them on to worker pods.
 */

/** The step-cache claim's default size: the default budget (10 GiB) and half again for saves under way. */
export const DEFAULT_CACHE_STORE_SIZE = "15Gi";

/** How long one request to the Kubernetes API may take. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

/** What an operator sets on the provisioner, which passes it on to every worker pod. */
export const KUBERNETES_EXECUTOR_SETTINGS = {
  workspaceImage: setting.text("WHARF_K8S_WORKSPACE_IMAGE", {
    default: "busybox:1.36",
    doc: "image of the pod holding a build's workspace (and of the step-cache pod); needs sh, sleep (fractional), head -c, stat -c and tar",
  }),
  workspaceSize: setting.text("WHARF_K8S_WORKSPACE_SIZE", {
    default: "1Gi",
    doc: "size of a build's workspace claim (ReadWriteOnce)",
  }),
  storageClass: setting.text("WHARF_K8S_STORAGE_CLASS", {
    defaultDoc: "the cluster's default",
    doc: "storage class of the workspace and step-cache claims",
  }),
  helmImage: setting.text("WHARF_K8S_HELM_IMAGE", {
    default: DEFAULT_STEP_IMAGES.helm,
    doc: "image of `helm` steps",
  }),
  kubectlImage: setting.text("WHARF_K8S_KUBECTL_IMAGE", {
    default: DEFAULT_STEP_IMAGES.kubectl,
    doc: "image of `kubectl` steps",
  }),
  kanikoImage: setting.text("WHARF_K8S_KANIKO_IMAGE", {
    default: DEFAULT_STEP_IMAGES.kaniko,
    doc: "image of `docker` steps (kaniko)",
  }),
  nugetImage: setting.text("WHARF_K8S_NUGET_IMAGE", {
    default: DEFAULT_STEP_IMAGES.nuget,
    doc: "image of `nuget-package` steps",
  }),
  startTimeout: setting.duration("WHARF_K8S_START_TIMEOUT", {
    default: 5 * 60_000,
    doc: "how long a step pod may take to start (scheduling, image pull, a slow volume provisioner)",
  }),
  cacheClaim: setting.text("WHARF_K8S_CACHE_CLAIM", {
    default: DEFAULT_CACHE_STORE_NAME,
    doc: "name of the step-cache claim and of the pod holding it, made by the first worker that needs them and kept",
  }),
  cacheSize: setting.text("WHARF_K8S_CACHE_SIZE", {
    default: DEFAULT_CACHE_STORE_SIZE,
    doc: "size the step-cache claim is created with: above WHARF_CACHE_MAX_BYTES, with room for saves under way",
  }),
  requestTimeout: setting.duration("WHARF_K8S_REQUEST_TIMEOUT", {
    default: DEFAULT_REQUEST_TIMEOUT_MS,
    doc: "longest wait for one Kubernetes API request's answer (idempotent ones are retried)",
  }),
};

/**
 * What the worker pod's spec sets from the downward API (WORKER_POD_ENV, which kube-manifests'
 * worker pod writes); outside a pod, the executor's own tests set them or leave the defaults.
 */
export const KUBERNETES_POD_SETTINGS = {
  namespace: setting.text(WORKER_POD_ENV.namespace, {
    defaultDoc: "the kubeconfig context's, else default",
    doc: "namespace of step pods and the workspace (the worker pod's own, from the downward API)",
  }),
  podName: setting.text(WORKER_POD_ENV.podName, {
    doc: "the worker pod's name (downward API): step pods are owned by it, so deleting the worker removes them; with WHARF_POD_UID",
  }),
  podUid: setting.text(WORKER_POD_ENV.podUid, {
    doc: "the worker pod's uid (downward API), with WHARF_POD_NAME",
  }),
};
