import { registryHost } from "@wharf/executor";

/** Credentials for one registry, as the engine's API takes them (Docker's AuthConfig). */
export interface RegistryAuth {
  serveraddress: string;
  username?: string;
  password?: string;
  identitytoken?: string;
}

/** A registry Secret that is no Docker config: named by the step, so no retry mends it. */
export class RegistryConfigError extends Error {
  override readonly name = "RegistryConfigError";
  readonly permanent = true;
}

/**
 * The credentials of a Docker config (a registry Secret's `.dockerconfigjson`, or a
 * `config.json`): `auths` entries with `auth` (base64 of `user:password`), `username` and
 * `password`, or an `identitytoken`; keyed by registry host. Throws RegistryConfigError, with
 * no byte of the content, when it is not one.
 */
export function parseDockerConfig(text: string, source: string): Map<string, RegistryAuth> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new RegistryConfigError(`${source} is not JSON (a Docker config with "auths" is expected)`);
  }
  const auths = (parsed as { auths?: unknown } | null)?.auths;
  if (!auths || typeof auths !== "object")
    throw new RegistryConfigError(`${source} has no "auths" (a Docker config is expected)`);
  const out = new Map<string, RegistryAuth>();
  for (const [address, entry] of Object.entries(auths as Record<string, unknown>)) {
    if (!entry || typeof entry !== "object") continue;
    const e = entry as Record<string, unknown>;
    const host = registryHost(address);
    const auth: RegistryAuth = { serveraddress: host };
    if (typeof e.auth === "string" && e.auth) {
      const decoded = Buffer.from(e.auth, "base64").toString("utf8");
      const colon = decoded.indexOf(":");
      if (colon < 0)
        throw new RegistryConfigError(`${source}: the "auth" of ${host} is not base64 of user:password`);
      auth.username = decoded.slice(0, colon);
      auth.password = decoded.slice(colon + 1);
    }
    if (typeof e.username === "string") auth.username = e.username;
    if (typeof e.password === "string") auth.password = e.password;
    if (typeof e.identitytoken === "string") auth.identitytoken = e.identitytoken;
    out.set(host, auth);
  }
  return out;
}

/**
 * The engine's build option `registryconfig` (X-Registry-Config): every registry's
 * credentials, so base images of private registries can be pulled by the build.
 */
export function buildRegistryConfig(
  auths: Iterable<RegistryAuth>,
): Record<string, Omit<RegistryAuth, "serveraddress">> {
  const out: Record<string, Omit<RegistryAuth, "serveraddress">> = {};
  for (const { serveraddress, ...rest } of auths) {
    out[serveraddress === "docker.io" ? "https://index.docker.io/v1/" : serveraddress] = rest;
  }
  return out;
}
