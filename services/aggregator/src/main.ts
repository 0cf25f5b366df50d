// Standalone entry (`node --import tsx services/aggregator/src/main.ts [aggregator|watchdog]`),
// used by tests that need the aggregator as a real process; `wharf aggregator serve` is the usual way.
import { serve } from "./serve.js";

const mode = process.argv[2] === "watchdog" ? "watchdog" : "aggregator";
serve(mode).catch((err: unknown) => {
  process.stderr.write(`wharf ${mode}: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
