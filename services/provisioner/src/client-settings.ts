import { setting } from "@wharf/config/settings";

/**
 * Where a client finds a running provisioner (`wharf provisioner list|create|delete`,
 * `wharf cancel`), and the token the provisioner itself requires: one declaration of
 * WHARF_PROVISIONER_TOKEN for both sides. A subpath of its own
 * (`@wharf/provisioner-service/client-settings`) that loads nothing but the settings reader,
 * so a CLI command can name its defaults in `--help` without loading the service.
 */

export const DEFAULT_PROVISIONER_URL = "http://127.0.0.1:5009";

export const PROVISIONER_TOKEN = setting.text("WHARF_PROVISIONER_TOKEN", {
  secret: true,
  doc: "bearer token of the provisioner's API; unset: no auth, and the provisioner listens on loopback only",
});

/** Where the CLI (`wharf provisioner …`, `wharf cancel`) finds a running provisioner. */
export const PROVISIONER_CLIENT_SETTINGS = {
  url: setting.text("WHARF_PROVISIONER_URL", {
    default: DEFAULT_PROVISIONER_URL,
    doc: "the provisioner's base URL",
  }),
  token: PROVISIONER_TOKEN,
};
