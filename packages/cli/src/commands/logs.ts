import { registerLogsCommand } from "@wharf/log-viewer/cli";
import type { Command } from "commander";

/** `wharf logs <buildRef> [-f] [--after ID] [--step NAME]`, from the aggregator's event stream. */
export function register(program: Command): void {
  registerLogsCommand(program);
}
