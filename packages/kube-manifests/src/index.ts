export { labelSelector, labelSet, labelValue, namePrefix } from "./labels.js";
export { shellCommand, shellQuote } from "./shell-quote.js";
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
  workspaceMount,
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
