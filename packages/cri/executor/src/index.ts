export { CriClient, type PullAuth } from "./cri-client.js";
export { CriExecutor, type CriExecutorOptions, type OrphanReport } from "./cri-executor.js";
export { type CriLogChunk, CriLogParser, parseRecord } from "./cri-log-parser.js";
export type { PullPolicy } from "./image-pull.js";
export type { Leftovers } from "./leftovers.js";
export { LABEL_OWNER } from "./owner.js";
export { CRI_ENV, CRI_NETWORKS, type CriNetwork, criSocketPath, DEFAULT_CRI_ENDPOINT } from "./settings.js";
