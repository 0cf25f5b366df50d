export { DEFAULT_INHERITED_ENV, LocalExecutor, type LocalExecutorOptions } from "./local-executor.js";
