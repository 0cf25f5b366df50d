export {
  AGGREGATOR_BODY_LIMIT,
  type AggregatorHttpOptions,
  buildAggregatorHttpApp,
  DEFAULT_AGGREGATOR_MAX_URL_LENGTH,
} from "./http-app.js";
export { createAggregatorMetrics } from "./metrics.js";
export { type AggregatorServiceOptions, compileOptions, type DiscoveryOptions } from "./options.js";
export { serve } from "./serve.js";
export { type RunningAggregator, startAggregator } from "./start.js";
