import {
  isSpanContextValid,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  SpanStatusCode,
  type Tracer,
  trace,
} from "@opentelemetry/api";

/**
 * One trace per build across the three processes. Each process starts its spans with an
 * explicit parent taken from the W3C `traceparent` the one before it handed on: the
 * provisioner from wharf-api's request header, the worker from its environment
 * (`WORKER_ENV.traceparent`), the aggregator from the worker's gRPC response metadata
 * (TRACEPARENT_METADATA). No context manager (async hooks) and no global provider: each
 * service has its own tracer (see startTracing), so services sharing a process keep their
 * names; with tracing off the tracer is the API's no-op and no traceparent is handed on.
 */

/** The gRPC metadata key (and HTTP header) a span's context travels in. */
export const TRACEPARENT_METADATA = "traceparent";

export type SpanAttributes = Record<string, string | number | boolean>;

// W3C Trace Context, version 00: version-traceid-parentid-flags, lower-case hex. Hand-written
// in place of @opentelemetry/core's W3CTraceContextPropagator, which would put that package on
// every worker's start path for two string conversions.
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** The span context a traceparent names; undefined when there is none or it is malformed. */
export function parseTraceparent(traceparent: string | undefined): SpanContext | undefined {
  const m = traceparent ? TRACEPARENT.exec(traceparent.trim()) : null;
  if (!m) return undefined;
  const ctx: SpanContext = {
    traceId: m[1] as string,
    spanId: m[2] as string,
    traceFlags: Number.parseInt(m[3] as string, 16) & 1,
    isRemote: true,
  };
  return isSpanContextValid(ctx) ? ctx : undefined;
}

/** The span's W3C traceparent, to hand on; undefined for a no-op span (tracing off). */
export function traceparentOf(span: Span): string | undefined {
  const ctx = span.spanContext();
  if (!isSpanContextValid(ctx)) return undefined;
  return `00-${ctx.traceId}-${ctx.spanId}-0${ctx.traceFlags & 1}`;
}

/**
 * Starts a span as a child of `parent` (a traceparent or a span; none: a new trace), now or
 * at `startTime` (ms since the epoch) for a span recorded once its parent became known.
 */
export function startSpan(
  tracer: Tracer,
  name: string,
  parent: string | Span | undefined,
  attributes: SpanAttributes = {},
  startTime?: number,
): Span {
  const parentContext = typeof parent === "object" ? parent.spanContext() : parseTraceparent(parent);
  const ctx = parentContext ? trace.setSpanContext(ROOT_CONTEXT, parentContext) : ROOT_CONTEXT;
  return tracer.startSpan(name, { attributes, ...(startTime ? { startTime } : {}) }, ctx);
}

/** Ends the span, marking it failed with `error` when there is one. */
export function endSpan(span: Span, error?: string): void {
  if (error !== undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: error });
  span.end();
}

export type { Span, Tracer };
