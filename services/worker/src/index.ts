export { registerWorkerCommands } from "./cli.js";
export { type BuildSource, compileWorkerOptions, parseVars, type WorkerOptions } from "./options.js";
export { type RunningWorker, startWorker } from "./worker.js";
