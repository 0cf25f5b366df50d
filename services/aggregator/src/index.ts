export { createAggregatorMetrics } from "./metrics.js";
export { type AggregatorServiceOptions, compileOptions, type DiscoveryOptions } from "./options.js";
export { serve } from "./serve.js";
export { type RunningAggregator, startAggregator } from "./start.js";
