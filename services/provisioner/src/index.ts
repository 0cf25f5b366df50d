export { formatWorkers, registerProvisionerCommands } from "./cli.js";
export {
  type CompiledOptions,
  compileClientOptions,
  compileOptions,
  type DockerBackendSettings,
  type LocalBackendSettings,
  parseCommand,
} from "./options.js";
export { type RunningProvisioner, startProvisioner } from "./start.js";
