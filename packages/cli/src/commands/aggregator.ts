import type { Command } from "commander";

/**
 * `wharf aggregator serve` (relay workers to wharf-api; WHARF_AGGREGATOR_WATCHDOG=1 adds
 * the watchdog) and `wharf watchdog serve` (only reconcile builds and workers).
 * Configuration comes from WHARF_* env vars, read in services/aggregator's compileOptions.
 */
export function register(program: Command): void {
  program
    .command("aggregator")
    .description("relay logs, status and artifacts from workers to wharf-api, exactly once")
    .command("serve")
    .description("run the aggregator (WHARF_API_URL, DATABASE_URL, WHARF_DISCOVERY, ...)")
    .action(async () => {
      const { serve } = await import("@wharf/aggregator-service");
      await serve("aggregator");
    });
  program
    .command("watchdog")
    .description("fail builds that lost their worker; remove workers whose build is over")
    .command("serve")
    .description("run the watchdog (WHARF_WATCHDOG_INTERVAL, WHARF_WATCHDOG_GRACE)")
    .action(async () => {
      const { serve } = await import("@wharf/aggregator-service");
      await serve("watchdog");
    });
}
