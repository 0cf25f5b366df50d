export { apiMessage } from "./api-message.js";
export { labelSelector, labelSet, labelValue, namePrefix } from "./labels.js";
export { shellCommand, shellQuote } from "./shell-quote.js";
export {
  captureStepOutput,
  endStepOutputCommand,
  PREPARE_STEP_OUTPUT,
  readStepOutputCommand,
  STEP_OUTPUT_PATH,
  STEP_OUTPUT_SUBPATH,
  stepOutputKey,
  WORKSPACE_SUBPATH,
} from "./step-output.js";
export {
  type ClaimInput,
  envFromSecrets,
  envVars,
  ownerReferences,
  type PodOwner,
  type PodPlacement,
  STEP_CONTAINER,
  type StepPodInput,
  stepContainer,
  stepPod,
  stepVolumeMounts,
  stepVolumes,
  WORKSPACE_CONTAINER,
  type WorkspaceInput,
  workspaceClaim,
  workspaceMounts,
  workspacePod,
  workspaceVolume,
} from "./step-pod.js";
export {
  DEFAULT_CLUSTER_SECRET,
  DEFAULT_STEP_IMAGES,
  type SecretMount,
  type StepImages,
  type StepRun,
  StepSpecError,
  stepRun,
  WORKSPACE_PATH,
} from "./step-run.js";
export { STUCK_WAITING_REASONS } from "./stuck-reasons.js";
export {
  CLONE_CONTAINER,
  CLONE_SCRIPT,
  cloneContainer,
  WORKER_APP_NAME,
  WORKER_CONTAINER,
  WORKER_DATA_DIR,
  WORKER_MANAGED_BY,
  WORKER_POD_LABELS,
  WORKER_POD_SELECTOR,
  WORKER_SOURCE_DIR,
  type WorkerGitSource,
  type WorkerPodInput,
  workerContainer,
  workerPod,
  workerPodLabels,
} from "./worker-pod.js";
export {
  secretKeyEnv,
  WORKER_SECRET_KEYS,
  WORKER_SECRET_PREFIX,
  type WorkerCredentials,
  type WorkerSecretRef,
  workerSecret,
  workerSecretName,
  workerSecretRef,
} from "./worker-secret.js";
