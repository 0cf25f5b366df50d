import { registerWorkerCommands } from "@wharf/worker-service";
import type { Command } from "commander";

/** `wharf worker serve` and `wharf run`. */
export function register(program: Command): void {
  registerWorkerCommands(program);
}
