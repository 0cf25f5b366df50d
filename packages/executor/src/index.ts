export { ExecutorError, StepStartError } from "./errors.js";
export type { BuildSpec, Executor, StepProcess } from "./executor.js";
