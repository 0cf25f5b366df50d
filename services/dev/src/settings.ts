import { setting } from "@wharf/config/settings";

/**
 * `wharf up`'s settings: where the dev stack keeps its data and the ports of its three
 * services (their own defaults; 0 picks free ones). Everything else in the environment is
 * passed to the provisioner and aggregator it starts, which read their own settings.
 */
export const DEV_STACK_SETTINGS = {
  dataDir: setting.text("WHARF_DATA_DIR", {
    default: ".wharf",
    doc: "data directory of the whole stack, relative to the working directory",
  }),
  sinkPort: setting.int("WHARF_DEV_SINK_PORT", {
    default: 5001,
    min: 0,
    max: 65535,
    doc: "port of the dev sink (wharf-api's stand-in)",
  }),
  provisionerPort: setting.int("WHARF_PROVISIONER_PORT", {
    default: 5009,
    min: 0,
    max: 65535,
    doc: "port of the provisioner",
  }),
  aggregatorPort: setting.int("WHARF_AGGREGATOR_PORT", {
    default: 5008,
    min: 0,
    max: 65535,
    doc: "port of the aggregator",
  }),
  databaseUrl: setting.text("DATABASE_URL", {
    secret: true,
    defaultDoc: "PGlite in <WHARF_DATA_DIR>/db",
    doc: "postgres://… of the whole stack: the dev sink's, the provisioner's and the aggregator's tables",
  }),
  instance: setting.text("WHARF_INSTANCE", {
    default: "dev",
    doc: "the dev sink's wharf-api instance, which its builds' workers are started as",
  }),
};

/** `wharf build`'s: the dev sink of a running `wharf up` (else it starts a stack of its own there). */
export const DEV_BUILD_SETTINGS = {
  sinkUrl: setting.text("WHARF_API_URL", {
    default: "http://127.0.0.1:5001",
    doc: "the dev sink (wharf-api's stand-in) of a running `wharf up` (`--sink`)",
  }),
  dataDir: DEV_STACK_SETTINGS.dataDir,
};
