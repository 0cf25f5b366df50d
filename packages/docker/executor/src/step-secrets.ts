import { type ContainerSpec, maskableSecretValues, type StepProcess } from "@wharf/executor";
import type { HostSecrets } from "./host-secrets.js";

/** What a container step gets from its `secretName`, and what of it the build log masks. */
export interface SecretEnv {
  env: Record<string, string>;
  masked: string[];
  /** Lines for the step's log (never a value). */
  notes: string[];
}

export const NO_SECRET_ENV: SecretEnv = { env: {}, masked: [], notes: [] };

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * A container step's `secretName`: the Secret's keys as env vars, as Kubernetes' envFrom
 * gives them (keys that are no env var name are skipped, with a note); the step's own env
 * wins over them. Throws HostSecretError when the Secret is missing.
 */
export async function containerSecretEnv(secrets: HostSecrets, spec: ContainerSpec): Promise<SecretEnv> {
  if (!spec.secretName) return NO_SECRET_ENV;
  const values = await secrets.projectSecret(spec.secretName);
  const env: Record<string, string> = {};
  const skipped: string[] = [];
  for (const [key, value] of Object.entries(values)) {
    if (ENV_NAME.test(key)) env[key] = value;
    else skipped.push(key);
  }
  const notes = skipped.length
    ? [
        `secretName: keys ${skipped.join(", ")} of secret "${spec.secretName}" are no env var names and are not set`,
      ]
    : [];
  return { env, masked: maskableSecretValues(Object.values(env)), notes };
}

/** `proc` carrying the secret values to mask and notes for its log (see StepProcess). */
export function withSecrets(
  proc: StepProcess,
  secrets: readonly string[],
  notes: readonly string[],
): StepProcess {
  if (secrets.length === 0 && notes.length === 0) return proc;
  return {
    stdout: proc.stdout,
    stderr: proc.stderr,
    secrets,
    warnings: notes,
    wait: () => proc.wait(),
    stop: (graceMs) => proc.stop(graceMs),
    destroy: () => proc.destroy(),
  };
}
