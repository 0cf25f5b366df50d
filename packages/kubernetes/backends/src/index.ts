export { podAddress, podGrpcPort } from "./pod-address.js";
export { podDiagnostics } from "./pod-diagnostics.js";
export {
  STUCK_WAITING_REASONS,
  type WorkerPodPhase,
  type WorkerPodStatus,
  workerPodStatus,
} from "./pod-status.js";
export { PortForwardListener, type PortForwardTarget } from "./port-forward-listener.js";
export {
  type KubernetesBackendOptions,
  type KubernetesBackendWorker,
  KubernetesWorkerBackend,
  type WorkerPorts,
} from "./worker-backend.js";
export {
  type KubernetesDirectoryOptions,
  type KubernetesLiveWorker,
  KubernetesWorkerDirectory,
} from "./worker-directory.js";
export { WorkerPodCache, type WorkerPodCacheOptions } from "./worker-pod-cache.js";
