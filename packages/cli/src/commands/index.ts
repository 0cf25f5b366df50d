import type { Command } from "commander";
import * as lint from "./lint.js";
import * as plan from "./plan.js";
import * as vars from "./vars.js";
import * as worker from "./worker.js";

/** Every `wharf` subcommand. A new command is a file exporting `register(program)`, added here. */
export const commands: readonly { register(program: Command): void }[] = [lint, plan, vars, worker];
