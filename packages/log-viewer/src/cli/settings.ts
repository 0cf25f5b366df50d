import { setting } from "@wharf/config/settings";

/**
 * Where `wharf logs` and `wharf status` find the aggregator, and the token they send it. The
 * aggregator declares its own side (WHARF_AGGREGATOR_TOKEN is what its log routes require);
 * this is the client's, read where the commands run (`--aggregator` wins over the URL).
 */

export const DEFAULT_AGGREGATOR_URL = "http://127.0.0.1:5008";

export const AGGREGATOR_CLIENT_SETTINGS = {
  url: setting.text("WHARF_AGGREGATOR_URL", {
    default: DEFAULT_AGGREGATOR_URL,
    doc: "the aggregator's base URL (`--aggregator`)",
  }),
  token: setting.text("WHARF_AGGREGATOR_TOKEN", {
    secret: true,
    doc: "the aggregator's WHARF_AGGREGATOR_TOKEN, sent as a bearer token (unset: none, for an aggregator on loopback)",
  }),
};
