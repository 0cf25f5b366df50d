import { type Tracer, trace } from "@opentelemetry/api";
import { readSettings } from "@wharf/config/settings";
import { DEFAULT_EXPORT_DELAY_MS, TRACING_SETTINGS } from "./settings.js";

/**
 * Tracing for one service: on when an OTLP endpoint is configured (the standard
 * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or `OTEL_EXPORTER_OTLP_ENDPOINT`, unless
 * `OTEL_SDK_DISABLED=true`). Otherwise the SDK and exporter are never loaded — a worker's
 * start pays nothing for tracing it does not do — and `tracer` is the API's no-op.
 */
export interface Tracing {
  readonly enabled: boolean;
  /** This service's tracer (its own provider: services sharing a process keep their names). */
  readonly tracer: Tracer;
  /** Exports what is buffered and stops; call before the process exits. */
  shutdown(): Promise<void>;
}

export type TracingEnv = Record<string, string | undefined>;

/** A service's tracing settings, from OpenTelemetry's standard environment variables. */
export interface TracingSettings {
  /** Where spans are posted (OTLP over HTTP); undefined = tracing off. */
  url?: string;
  /** How long spans are batched before an export (`OTEL_BSP_SCHEDULE_DELAY`, ms; default 5 s). */
  exportDelayMs: number;
}

export function compileTracingSettings(env: TracingEnv): TracingSettings {
  const s = readSettings(TRACING_SETTINGS, env);
  const delay = Number(s.scheduleDelay);
  const exportDelayMs = Number.isFinite(delay) && delay > 0 ? delay : DEFAULT_EXPORT_DELAY_MS;
  if (s.sdkDisabled?.trim().toLowerCase() === "true") return { exportDelayMs };
  const traces = s.tracesEndpoint?.trim();
  const base = s.endpoint?.trim();
  const url = traces || (base ? `${base.replace(/\/+$/, "")}/v1/traces` : undefined);
  return url ? { url, exportDelayMs } : { exportDelayMs };
}

/** Tracing that records nothing (no endpoint configured, or in tests that do not trace). */
export const TRACING_OFF: Tracing = {
  enabled: false,
  tracer: trace.getTracer("wharf-off"),
  shutdown: async () => {},
};

export async function startTracing(
  service: string,
  version: string,
  settings: TracingSettings,
): Promise<Tracing> {
  if (!settings.url) return TRACING_OFF;
  const { startOtlpTracing } = await import("./otlp-tracing.js");
  return startOtlpTracing({ service, version, url: settings.url, exportDelayMs: settings.exportDelayMs });
}
