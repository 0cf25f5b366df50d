export { registerAggregatorCommands, serve } from "./cli.js";
export { createAggregatorMetrics } from "./metrics.js";
export { type AggregatorServiceOptions, compileOptions, type DiscoveryOptions } from "./options.js";
export { type RunningAggregator, startAggregator } from "./start.js";
