import { createLogger, GracefulShutdown } from "@wharf/config";
import type { Command } from "commander";
import { compileOptions } from "./options.js";
import { startAggregator } from "./start.js";

/** Runs the service in the foreground until SIGTERM/SIGINT. */
export async function serve(
  mode: "aggregator" | "watchdog",
  env: NodeJS.ProcessEnv = process.env,
): Promise<void> {
  const opts = compileOptions(env, mode);
  const log = createLogger(mode);
  const running = await startAggregator(opts, log);
  const shutdown = new GracefulShutdown(log, opts.shutdownGraceMs);
  shutdown.add(mode, () => running.close());
  shutdown.handleSignals();
}

/**
 * `wharf aggregator serve` (relay workers to wharf-api; WHARF_AGGREGATOR_WATCHDOG=1
 * adds the watchdog) and `wharf watchdog serve` (only reconcile builds and workers).
 */
export function registerAggregatorCommands(program: Command): void {
  program
    .command("aggregator")
    .description("Relay logs, status and artifacts from workers to wharf-api, exactly once")
    .command("serve")
    .description("Run the aggregator (config from WHARF_* env, see services/aggregator)")
    .action(() => serve("aggregator"));
  program
    .command("watchdog")
    .description("Fail builds that lost their worker; remove workers whose build is over")
    .command("serve")
    .description("Run the watchdog (WHARF_WATCHDOG_INTERVAL, WHARF_WATCHDOG_GRACE)")
    .action(() => serve("watchdog"));
}
