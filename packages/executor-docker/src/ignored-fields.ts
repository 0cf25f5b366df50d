import type { IgnoredField } from "@wharf/executor";

const NO_KUBERNETES_SECRETS =
  "a Docker/Podman engine has no Kubernetes Secrets, so their values are not in the step's env";

/**
 * What a pipeline written for wharf-cmd's Kubernetes may ask of a step that a container engine
 * cannot give; each set one is a warning in that step's build log.
 */
export const DOCKER_IGNORED_FIELDS: readonly IgnoredField[] = [
  { type: "container", field: "secretName", yamlName: "secretName", why: NO_KUBERNETES_SECRETS },
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
  { type: "docker", field: "secretName", yamlName: "secretName", why: NO_KUBERNETES_SECRETS },
  {
    type: "docker",
    field: "secretArgs",
    yamlName: "secretArgs",
    why: "they name keys of a Kubernetes Secret; pass the values as args instead",
  },
  {
    type: "docker",
    field: "appendCert",
    yamlName: "append-cert",
    why: "no certificate bundle is appended to the image; the base image's certificates are used",
  },
];
