export { ContainerStep } from "./container-step.js";
export { DockerExecutor, type DockerExecutorOptions } from "./docker-executor.js";
export { DockerStreamDemuxer } from "./docker-stream-demuxer.js";
export { HostSecretError, HostSecrets } from "./host-secrets.js";
export type { PushRegistry } from "./image-build-step.js";
export type { PullPolicy } from "./image-policy.js";
export type { Leftovers } from "./leftovers.js";
export { DEFAULT_HELPER_IMAGE } from "./workspace-volume.js";
