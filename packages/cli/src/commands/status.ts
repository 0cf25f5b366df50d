import { registerStatusCommand } from "@wharf/log-viewer/cli";
import type { Command } from "commander";

/** `wharf status <buildRef> [-w] [--json]`, from the aggregator. */
export function register(program: Command): void {
  registerStatusCommand(program);
}
