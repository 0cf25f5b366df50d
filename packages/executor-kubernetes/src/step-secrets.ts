import type { V1Secret } from "@kubernetes/client-node";
import { maskableSecretValues, StepStartError } from "@wharf/executor";
import { apiMessage, type StepRun, WORKER_SECRET_PREFIX } from "@wharf/kube-manifests";
import type { KubeClient } from "./kube-api.js";

/** A Secret a step pod references, and how (for messages). */
export interface SecretUse {
  name: string;
  uses: string[];
}

/** The Secrets a step's pod references, each once: `envFrom.secretRef` and secret volumes. */
export function secretUses(run: StepRun): SecretUse[] {
  const byName = new Map<string, string[]>();
  const add = (name: string, use: string) => {
    const uses = byName.get(name) ?? [];
    uses.push(use);
    byName.set(name, uses);
  };
  for (const name of run.envFromSecrets) add(name, "as environment variables");
  for (const m of run.secretMounts) add(m.secretName, `mounted at ${m.mountPath}`);
  return [...byName].map(([name, uses]) => ({ name, uses }));
}

/** The decoded values of a Secret's keys (UTF-8; binary values are dropped by the masking rules). */
export function secretValues(secret: V1Secret): string[] {
  return Object.values(secret.data ?? {}).map((b64) => Buffer.from(b64, "base64").toString("utf8"));
}

/**
 * Reads every Secret the step's pod will reference and returns what to mask of their values
 * (`maskableSecretValues`). Read before the pod is created, so a step never runs with
 * secrets the log cannot mask: a missing Secret or one the worker may not read fails the
 * step with StepStartError; any other API error is rethrown (an executor fault).
 */
export async function readStepSecrets(
  kube: KubeClient,
  namespace: string,
  run: StepRun,
  stepId: number,
): Promise<string[]> {
  const values: string[] = [];
  for (const { name, uses } of secretUses(run)) {
    // The workers' Secrets (other builds' tokens) share the namespace with the steps: no step may name one.
    if (name.startsWith(WORKER_SECRET_PREFIX)) {
      throw new StepStartError(
        `secret "${name}" holds a wharf worker's tokens, which steps may not use (names starting "${WORKER_SECRET_PREFIX}" are wharf's)`,
        stepId,
        { permanent: true },
      );
    }
    let secret: V1Secret;
    try {
      secret = await kube.calls.read(`read secret ${name}`, (o) =>
        kube.core.readNamespacedSecret({ name, namespace }, o),
      );
    } catch (err) {
      const code = (err as { code?: number })?.code;
      const used = `used by the step ${uses.join(" and ")}`;
      if (code === 404) {
        throw new StepStartError(`secret "${name}" not found in namespace "${namespace}" (${used})`, stepId, {
          cause: err,
          permanent: true,
        });
      }
      if (code === 403) {
        throw new StepStartError(
          `cannot read secret "${name}" (${used}) to mask its values in the log: the worker's service account ` +
            `needs "get" on "secrets" in namespace "${namespace}" (the wharf-worker Role): ${apiMessage(err)}`,
          stepId,
          { cause: err, permanent: true },
        );
      }
      throw new Error(`reading secret "${name}" in namespace "${namespace}": ${apiMessage(err)}`, {
        cause: err,
      });
    }
    values.push(...secretValues(secret));
  }
  return maskableSecretValues(values);
}
