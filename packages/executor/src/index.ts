export { APPENDED_CERT_INSTRUCTIONS, APPENDED_CERT_NAME } from "./append-cert.js";
export { ExecutorError, isPermanentError, StepStartError } from "./errors.js";
export type { BuildSpec, Executor, StepProcess } from "./executor.js";
export { type IgnoredField, ignoredFieldWarnings, withWarnings } from "./ignored-fields.js";
export { imageRegistryHost, registryHost } from "./image-registry.js";
export {
  buildLabels,
  CREATED_BY_EXECUTOR,
  LABEL_BUILD_REF,
  LABEL_CREATED_BY,
  LABEL_STEP_ID,
  LABEL_STEP_NAME,
  stepLabels,
} from "./labels.js";
export type * from "./plan.js";
export { type ProjectSecrets, projectSecretName } from "./project-secrets.js";
export { MIN_MASKED_LENGTH, MIN_MASKED_LINE_LENGTH, maskableSecretValues } from "./secret-values.js";
export {
  type CacheEntry,
  type CacheRestore,
  type CacheSave,
  type CacheScope,
  cacheKey,
  cachePaths,
  DEFAULT_CACHE_MAX_BYTES,
  generationMs,
  newGeneration,
  restoreKeys,
  restoreNewest,
  type StepCaches,
  selectEvictions,
} from "./step-cache.js";
export { assertWorkspaceGlobs, exitCodeForSignal, resourceName, stepScript } from "./step-script.js";
