export { commands } from "./commands/index.js";
export { buildProgram, exitUsage, runCli } from "./main.js";
