export { CriClient, DEFAULT_CRI_ENDPOINT, type PullAuth } from "./cri-client.js";
export { CriExecutor, type CriExecutorOptions } from "./cri-executor.js";
export { type CriLogChunk, CriLogParser, parseRecord } from "./cri-log-parser.js";
export type { CriNetwork } from "./cri-spec.js";
export type { PullPolicy } from "./image-pull.js";
export type { Leftovers } from "./leftovers.js";
export { LABEL_OWNER } from "./owner.js";
