import { setting } from "@wharf/config/settings";

/**
 * OpenTelemetry's standard settings, as every wharf process reads them (`compileTracingSettings`);
 * the provisioner passes them on to its workers. Read as text and interpreted as the
 * OpenTelemetry specification says: a value it does not understand is ignored, not an error.
 */
/** The OTel default export delay. */
export const DEFAULT_EXPORT_DELAY_MS = 5_000;

export const TRACING_SETTINGS = {
  endpoint: setting.text("OTEL_EXPORTER_OTLP_ENDPOINT", {
    doc: "OTLP/HTTP base URL; spans go to <it>/v1/traces. Unset (and no traces endpoint): tracing is off and its SDK never loaded",
  }),
  tracesEndpoint: setting.text("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", {
    doc: "OTLP/HTTP URL spans are posted to, as is; wins over OTEL_EXPORTER_OTLP_ENDPOINT",
  }),
  scheduleDelay: setting.text("OTEL_BSP_SCHEDULE_DELAY", {
    defaultDoc: String(DEFAULT_EXPORT_DELAY_MS),
    doc: "ms spans are batched before an export (not a positive number: the default)",
  }),
  sdkDisabled: setting.text("OTEL_SDK_DISABLED", { doc: "true: no tracing, whatever the endpoints say" }),
};
