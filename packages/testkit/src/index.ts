export { CHROMIUM_PATH, chromiumLaunchOptions } from "./chromium.js";
export { deployedEnv, namesRead } from "./deploy-env.js";
export {
  BUSYBOX_IMAGE,
  containersWithLabel,
  dockerAvailable,
  dockerSocketPath,
  engineIsPodman,
  ensureBusyboxImage,
  requireDockerOrSkip,
} from "./docker.js";
export { makeGitRepo, makePipelineRepo } from "./git-repo.js";
export { freePort, type PostgresCluster, startPostgres } from "./postgres.js";
export {
  canStartRegistry,
  type RegistryCredentials,
  startRegistry,
  type TestRegistry,
  type TestRegistryOptions,
} from "./registry.js";
export { echoThrough } from "./tcp-echo.js";
export { waitFor } from "./wait-for.js";
export * from "./wharf-api-double.js";
export { wharfArgs } from "./wharf-cli.js";
export { buildWharfImages, type WharfService, wharfImage } from "./wharf-images.js";
export { ensureWorkerBaseImage, WORKER_BASE_IMAGE, workerImageMounts } from "./worker-image.js";
