export { type DevBuildOptions, runDevBuild } from "./dev-build.js";
export { type DevStack, type DevStackOptions, startDevStack } from "./dev-stack.js";
export { compileDevStackOptions } from "./options.js";
export { snapshotSource } from "./source-snapshot.js";
