// `wharf logs` and `wharf status`: the CLI loads only this (commander and an SSE client),
// never the viewer's HTTP routes.
export { registerLogsCommand } from "./logs-command.js";
export { registerStatusCommand } from "./status-command.js";
