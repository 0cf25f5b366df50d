import type { IgnoredField } from "@wharf/executor";

/**
 * What a pipeline written for wharf-cmd's Kubernetes may ask of a step that a container engine
 * cannot give; each set one is a warning in that step's build log.
 */
export const DOCKER_IGNORED_FIELDS: readonly IgnoredField[] = [
  {
    type: "container",
    field: "serviceAccount",
    yamlName: "serviceAccount",
    why: "a container has no Kubernetes service account (no API token is mounted)",
  },
  {
    type: "container",
    field: "certificatesMountPath",
    yamlName: "certificatesMountPath",
    why: "the Kubernetes certificates ConfigMap is not mounted; the image's own certificates are used",
  },
];

const NO_SECRETS_DIR =
  "this worker has no secrets directory (WHARF_SECRETS_DIR), the Docker/Podman stand-in for Kubernetes Secrets";

/** Honoured only with a secrets directory (WHARF_SECRETS_DIR): without one, warnings like the above. */
export const SECRETS_DIR_FIELDS: readonly IgnoredField[] = [
  { type: "container", field: "secretName", yamlName: "secretName", why: NO_SECRETS_DIR },
  { type: "docker", field: "secretName", yamlName: "secretName", why: NO_SECRETS_DIR },
  { type: "docker", field: "secretArgs", yamlName: "secretArgs", why: NO_SECRETS_DIR },
];

/** Honoured only with a certificate to append (WHARF_APPEND_CERT_FILE). */
export const APPEND_CERT_FIELDS: readonly IgnoredField[] = [
  {
    type: "docker",
    field: "appendCert",
    yamlName: "append-cert",
    why: "this worker has no certificate to append (WHARF_APPEND_CERT_FILE); the base image's certificates are used",
  },
];
