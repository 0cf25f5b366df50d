export { KubeStepProcess } from "./kube-step-process.js";
export { KubernetesExecutor } from "./kubernetes-executor.js";
export {
  type CompiledKubernetesOptions,
  compileKubernetesOptions,
  type KubernetesExecutorOptions,
  kubernetesOptionsFromEnv,
} from "./options.js";
export { PodExecError } from "./pod-exec.js";
export { PodStartError, STUCK_REASONS } from "./pod-lifecycle.js";
