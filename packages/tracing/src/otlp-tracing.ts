import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BatchSpanProcessor, TracerProvider } from "@opentelemetry/sdk-trace";
import type { Tracing } from "./start-tracing.js";

/** Loaded only when tracing is on (see start-tracing.ts). */
export function startOtlpTracing(o: {
  service: string;
  version: string;
  url: string;
  exportDelayMs: number;
}): Tracing {
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ "service.name": o.service, "service.version": o.version }),
    spanProcessors: [
      new BatchSpanProcessor({
        exporter: new OTLPTraceExporter({ url: o.url }),
        scheduledDelayMillis: o.exportDelayMs,
      }),
    ],
  });
  return {
    enabled: true,
    tracer: provider.getTracer(o.service, o.version),
    shutdown: () => provider.shutdown().catch(() => {}),
  };
}
