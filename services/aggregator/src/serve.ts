import { createLogger, GracefulShutdown } from "@wharf/config";
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
