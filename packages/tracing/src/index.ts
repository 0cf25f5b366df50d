export {
  endSpan,
  parseTraceparent,
  type Span,
  type SpanAttributes,
  startSpan,
  TRACEPARENT_METADATA,
  type Tracer,
  traceparentOf,
} from "./build-trace.js";
export { TRACING_SETTINGS } from "./settings.js";
export {
  compileTracingSettings,
  startTracing,
  TRACING_OFF,
  type Tracing,
  type TracingEnv,
  type TracingSettings,
} from "./start-tracing.js";
