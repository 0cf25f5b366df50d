import type { V1Secret } from "@kubernetes/client-node";
import { maskableSecretValues, StepStartError } from "@wharf/executor";
import { apiMessage, type StepRun, WORKER_SECRET_PREFIX } from "@wharf/kube-manifests";
import type { KubeClient } from "./kube-api.js";

/** A Secret (or a ConfigMap holding credentials) a step pod references, and how (for messages). */
export interface SecretUse {
  kind: "secret" | "configmap";
  name: string;
  uses: string[];
}

/**
 * What the step's pod references whose values are credentials, each once: Secrets as env
 * (`envFrom`, `secretKeyRef`) and volumes, and the ConfigMaps marked as holding credentials
 * (the kubeconfig of helm and kubectl steps, a ConfigMap as in wharf-cmd).
 */
export function secretUses(run: StepRun): SecretUse[] {
  const byKey = new Map<string, SecretUse>();
  const add = (kind: SecretUse["kind"], name: string, use: string) => {
    const key = `${kind}/${name}`;
    const entry = byKey.get(key) ?? { kind, name, uses: [] };
    entry.uses.push(use);
    byKey.set(key, entry);
  };
  for (const name of run.envFromSecrets) add("secret", name, "as environment variables");
  for (const e of run.secretKeyEnv) add("secret", e.secretName, `as ${e.name}`);
  for (const m of run.secretMounts) add("secret", m.secretName, `mounted at ${m.mountPath}`);
  for (const m of run.configMapMounts) {
    if (m.credentials) add("configmap", m.configMap, `mounted at ${m.mountPath}`);
  }
  return [...byKey.values()];
}

/** The decoded values of a Secret's keys (UTF-8; binary values are dropped by the masking rules). */
export function secretValues(secret: V1Secret): string[] {
  return Object.values(secret.data ?? {}).map((b64) => Buffer.from(b64, "base64").toString("utf8"));
}

async function readValues(kube: KubeClient, namespace: string, use: SecretUse): Promise<string[]> {
  if (use.kind === "configmap") {
    const map = await kube.calls.read(`read configmap ${use.name}`, (o) =>
      kube.core.readNamespacedConfigMap({ name: use.name, namespace }, o),
    );
    return Object.values(map.data ?? {});
  }
  const secret = await kube.calls.read(`read secret ${use.name}`, (o) =>
    kube.core.readNamespacedSecret({ name: use.name, namespace }, o),
  );
  return secretValues(secret);
}

/**
 * Reads every Secret (and credentials ConfigMap) the step's pod will reference and returns
 * what to mask of their values (`maskableSecretValues`). Read before the pod is created, so
 * a step never runs with secrets the log cannot mask: a missing one or one the worker may
 * not read fails the step with StepStartError; any other API error is rethrown (an
 * executor fault).
 */
export async function readStepSecrets(
  kube: KubeClient,
  namespace: string,
  run: StepRun,
  stepId: number,
): Promise<string[]> {
  const values: string[] = [];
  for (const use of secretUses(run)) {
    const { kind, name, uses } = use;
    // The workers' Secrets (other builds' tokens) share the namespace with the steps: no step may name one.
    if (kind === "secret" && name.startsWith(WORKER_SECRET_PREFIX)) {
      throw new StepStartError(
        `secret "${name}" holds a wharf worker's tokens, which steps may not use (names starting "${WORKER_SECRET_PREFIX}" are wharf's)`,
        stepId,
        { permanent: true },
      );
    }
    try {
      values.push(...(await readValues(kube, namespace, use)));
    } catch (err) {
      const code = (err as { code?: number })?.code;
      const used = `used by the step ${uses.join(" and ")}`;
      if (code === 404) {
        throw new StepStartError(
          `${kind} "${name}" not found in namespace "${namespace}" (${used})`,
          stepId,
          {
            cause: err,
            permanent: true,
          },
        );
      }
      if (code === 403) {
        throw new StepStartError(
          `cannot read ${kind} "${name}" (${used}) to mask its values in the log: the worker's service account ` +
            `needs "get" on "${kind}s" in namespace "${namespace}" (the wharf-worker Role): ${apiMessage(err)}`,
          stepId,
          { cause: err, permanent: true },
        );
      }
      throw new Error(`reading ${kind} "${name}" in namespace "${namespace}": ${apiMessage(err)}`, {
        cause: err,
      });
    }
  }
  return maskableSecretValues(values);
}
