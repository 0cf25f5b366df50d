import type { Command } from "commander";
import * as aggregator from "./aggregator.js";
import * as cancel from "./cancel.js";
import * as dev from "./dev.js";
import * as janitor from "./janitor.js";
import * as lint from "./lint.js";
import * as logs from "./logs.js";
import * as plan from "./plan.js";
import * as provisioner from "./provisioner.js";
import * as status from "./status.js";
import * as vars from "./vars.js";
import * as worker from "./worker.js";

/** Every `wharf` subcommand. A new command is a file exporting `register(program)`, added here. */
export const commands: readonly { register(program: Command): void }[] = [
  lint,
  plan,
  vars,
  worker,
  provisioner,
  aggregator,
  dev,
  logs,
  status,
  cancel,
  janitor,
];
