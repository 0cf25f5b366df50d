export { startWorkerHttp, type WorkerHttp } from "./http.js";
export { formatSummary, printLogs } from "./log-printer.js";
export { type RunFlags, runPipelineHere, serveWorker } from "./main.js";
export { type BuildSource, compileWorkerOptions, type WorkerOptions } from "./options.js";
export { type RunningWorker, startWorker } from "./worker.js";
