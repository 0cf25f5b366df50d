import type { DockerSpec } from "@wharf/executor";
import { maskableSecretValues } from "@wharf/executor";
import { HostSecretError, type HostSecrets } from "./host-secrets.js";
import { parseDockerConfig, type RegistryAuth } from "./registry-auth.js";

/** The keys of a registry Secret holding a Docker config: a `kubernetes.io/dockerconfigjson` Secret's, or a plain config.json. */
const DOCKER_CONFIG_KEYS = [".dockerconfigjson", "config.json"] as const;

/** What a `docker` step reads from the worker's secrets directory. */
export interface ImageBuildSecrets {
  /** `secretArgs`: build arg → the value of its key in the step's `secretName` Secret. */
  buildArgs: Record<string, string>;
  /** The step's registry `secret` (`.dockerconfigjson` / `config.json`), by registry host; empty without one. */
  registryAuths: Map<string, RegistryAuth>;
  /** Lines for the step's log about what was not found (never a value). */
  notes: string[];
  /** Everything above, ready to be masked in the build log (`maskableSecretValues`). */
  masked: string[];
}

/** `ARG=secret-key` (wharf-cmd's `secretArgs`) → [ARG, secret-key]. */
export function parseSecretArg(entry: string): [string, string] {
  const eq = entry.indexOf("=");
  const arg = eq < 0 ? "" : entry.slice(0, eq);
  const key = eq < 0 ? "" : entry.slice(eq + 1);
  if (!arg || !key)
    throw new HostSecretError(
      `secretArgs entry "${entry}" must be ARG=secret-key (the build arg, then the key)`,
    );
  return [arg, key];
}

/**
 * The secrets of a `docker` step, as wharf-cmd gives them to kaniko: each `secretArgs`
 * entry `ARG=key` is the build arg ARG with the value of `key` in the project Secret
 * `secretName`; the registry `secret` (default "gitlab-registry") holds the Docker config the
 * image is pushed (and its base images pulled) with. A missing `secretName` Secret or key
 * fails the step; a missing registry Secret only says so, as the push then falls back on the
 * worker's registry settings (WHARF_REGISTRY_*).
 */
export async function imageBuildSecrets(spec: DockerSpec, secrets: HostSecrets): Promise<ImageBuildSecrets> {
  const buildArgs: Record<string, string> = {};
  const notes: string[] = [];
  const raw: string[] = [];
  if (spec.secretArgs.length > 0) {
    if (!spec.secretName)
      throw new HostSecretError("secretArgs need secretName, the Secret their keys are in");
    const values = await secrets.projectSecret(spec.secretName);
    for (const entry of spec.secretArgs) {
      const [arg, key] = parseSecretArg(entry);
      const value = values[key];
      if (value === undefined)
        throw new HostSecretError(
          `secretArgs: key "${key}" is not in the step's secret "${spec.secretName}"`,
        );
      buildArgs[arg] = value;
      raw.push(value);
    }
  }
  const registryAuths = new Map<string, RegistryAuth>();
  if (spec.secret) {
    const values = await secrets.readIfPresent(spec.secret);
    if (!values) {
      if (spec.push)
        notes.push(
          `registry secret "${spec.secret}" is not in the worker's secrets directory: pushing with the worker's registry settings`,
        );
    } else {
      const key = DOCKER_CONFIG_KEYS.find((k) => values[k] !== undefined);
      if (!key)
        throw new HostSecretError(
          `registry secret "${spec.secret}" has neither ${DOCKER_CONFIG_KEYS.join(" nor ")}`,
        );
      const text = values[key] as string;
      raw.push(text);
      for (const [host, auth] of parseDockerConfig(text, `registry secret "${spec.secret}"`))
        registryAuths.set(host, auth);
    }
  }
  return { buildArgs, registryAuths, notes, masked: maskableSecretValues(raw) };
}
