/**
 * Registry hosts as Docker's reference rules name them: what the Docker and CRI executors key
 * registry credentials by.
 */

/** "https://host:5000/v1/" or "host:5000" → "host:5000"; Docker Hub's many spellings → "docker.io". */
export function registryHost(address: string): string {
  const host = address
    .replace(/^[a-z]+:\/\//i, "")
    .replace(/\/.*$/, "")
    .toLowerCase();
  return host === "index.docker.io" || host === "registry-1.docker.io" ? "docker.io" : host;
}

/**
 * The registry of an image reference: its first component when that names a host (a dot, a
 * port or "localhost"), else Docker Hub ("busybox", "wharf-test/busybox:latest" → "docker.io").
 */
export function imageRegistryHost(ref: string): string {
  const slash = ref.indexOf("/");
  const first = slash < 0 ? "" : ref.slice(0, slash);
  if (first && (first.includes(".") || first.includes(":") || first === "localhost"))
    return registryHost(first);
  return "docker.io";
}
