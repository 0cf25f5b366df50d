import { registerProvisionerCommands } from "@wharf/provisioner-service/cli";
import type { Command } from "commander";

/** `wharf provisioner serve|create|list|delete` (defined next to the service they drive). */
export function register(program: Command): void {
  registerProvisionerCommands(program);
}
