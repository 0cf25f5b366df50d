export { formatWorkers, registerProvisionerCommands } from "./cli.js";
export {
  type CompiledOptions,
  compileClientOptions,
  compileOptions,
  type DockerBackendSettings,
  type LocalBackendSettings,
  parseCommand,
  WORKER_APPEND_CERT_FILE,
  WORKER_SECRETS_DIR,
} from "./options.js";
export { type RunningProvisioner, startProvisioner } from "./start.js";
