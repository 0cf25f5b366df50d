/**
 * Docker's side of the provisioner and the aggregator, as kubernetes/backends is Kubernetes':
 * the provisioner's worker backend (worker containers) and the aggregator's worker directory
 * (finding those containers by their labels). The worker's steps run on packages/docker/executor.
 */
export { DockerBackend, type DockerBackendOptions } from "./worker-backend.js";
export {
  LABEL_BUILD_REF,
  LABEL_COMPONENT,
  LABEL_GRPC_PORT,
  LABEL_INSTANCE,
  LABEL_PROJECT_ID,
  LABEL_WORKER_ID,
  workerContainerSpec,
} from "./worker-container.js";
export {
  BUILD_REF_LABEL,
  DockerDirectory,
  type DockerDirectoryOptions,
  GRPC_PORT_LABEL,
  INSTANCE_LABEL,
  WORKER_ID_LABEL,
} from "./worker-directory.js";
