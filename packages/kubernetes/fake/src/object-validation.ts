import { badRequest, invalid } from "./api-status.js";
import type { KubeObject } from "./object-store.js";

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const LABEL_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;

function labelProblems(labels: Record<string, string> | undefined): string[] {
  const problems: string[] = [];
  for (const [k, v] of Object.entries(labels ?? {})) {
    const slash = k.lastIndexOf("/");
    const prefix = slash >= 0 ? k.slice(0, slash) : undefined;
    const name = slash >= 0 ? k.slice(slash + 1) : k;
    if ((prefix !== undefined && !DNS_SUBDOMAIN.test(prefix)) || !LABEL_NAME.test(name) || name.length > 63) {
      problems.push(`metadata.labels: Invalid value: "${k}": invalid label key`);
    }
    if (typeof v !== "string" || v.length > 63 || !LABEL_VALUE.test(v)) {
      problems.push(
        `metadata.labels: Invalid value: "${v}": a valid label must be 63 characters or less, alphanumeric, '-', '_' or '.'`,
      );
    }
  }
  return problems;
}

// biome-ignore lint/suspicious/noExplicitAny: container specs are open JSON
function containerProblems(field: string, containers: any[] | undefined, required: boolean): string[] {
  const problems: string[] = [];
  if (required && (!Array.isArray(containers) || containers.length === 0)) {
    problems.push(`${field}: Required value`);
  }
  const names = new Set<string>();
  (containers ?? []).forEach((c, i) => {
    if (!c?.name || !DNS_LABEL.test(c.name) || c.name.length > 63)
      problems.push(`${field}[${i}].name: Invalid value: "${c?.name}"`);
    if (names.has(c?.name)) problems.push(`${field}[${i}].name: Duplicate value: "${c.name}"`);
    names.add(c?.name);
    if (!c?.image) problems.push(`${field}[${i}].image: Required value`);
  });
  return problems;
}

/**
 * The checks of the real API server that a client is most likely to trip over: names,
 * label syntax, owner references, and for pods containers with names and images and a
 * valid restartPolicy. Throws a 422 Invalid like the API server.
 */
export function validateObject(kindName: string, obj: KubeObject): void {
  const meta = obj.metadata ?? {};
  const name = meta.name ?? meta.generateName ?? "";
  const problems: string[] = [];
  if (!meta.name && !meta.generateName)
    problems.push("metadata.name: Required value: name or generateName is required");
  const nameToCheck = meta.name ?? `${meta.generateName ?? ""}x`;
  if (!DNS_SUBDOMAIN.test(nameToCheck) || nameToCheck.length > 253) {
    problems.push(`metadata.name: Invalid value: "${nameToCheck}": must be a lowercase RFC 1123 subdomain`);
  }
  problems.push(...labelProblems(meta.labels));
  (meta.ownerReferences ?? []).forEach((r, i) => {
    if (!r.uid || !r.name || !r.kind || !r.apiVersion) {
      problems.push(
        `metadata.ownerReferences[${i}]: Required value: apiVersion, kind, name and uid are required`,
      );
    }
  });
  if (kindName === "Pod") {
    const spec = obj.spec ?? {};
    problems.push(...containerProblems("spec.containers", spec.containers, true));
    problems.push(...containerProblems("spec.initContainers", spec.initContainers, false));
    if (spec.restartPolicy && !["Always", "OnFailure", "Never"].includes(spec.restartPolicy)) {
      problems.push(`spec.restartPolicy: Unsupported value: "${spec.restartPolicy}"`);
    }
    const volumes = new Set((spec.volumes ?? []).map((v: { name: string }) => v.name));
    for (const c of [...(spec.containers ?? []), ...(spec.initContainers ?? [])]) {
      for (const m of c.volumeMounts ?? []) {
        if (!volumes.has(m.name))
          problems.push(`spec.containers[].volumeMounts.name: Not found: "${m.name}"`);
      }
    }
  }
  if (problems.length) throw invalid(kindName, name, problems);
}

const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * What the API server does to a Secret on create: `data` must be base64 (a 400 when it
 * cannot be decoded), `stringData` is merged into `data` and never stored, keys must be
 * valid, the type defaults to Opaque, and a `kubernetes.io/dockerconfigjson` Secret needs a
 * `.dockerconfigjson` key holding JSON.
 */
export function normalizeSecret(obj: KubeObject): void {
  const data: Record<string, unknown> = { ...(obj.data ?? {}) };
  for (const [k, v] of Object.entries(data)) {
    if (typeof v !== "string" || !BASE64.test(v)) {
      throw badRequest(
        `Secret in version "v1" cannot be handled as a Secret: illegal base64 data for key "${k}"`,
      );
    }
  }
  for (const [k, v] of Object.entries(obj.stringData ?? {})) {
    if (typeof v !== "string")
      throw badRequest(
        `Secret in version "v1" cannot be handled as a Secret: stringData.${k} must be a string`,
      );
    data[k] = Buffer.from(v, "utf8").toString("base64");
  }
  delete obj.stringData;
  obj.data = data;
  obj.type ??= "Opaque";
  const name = obj.metadata?.name ?? obj.metadata?.generateName ?? "";
  const problems = Object.keys(data)
    .filter((k) => !SECRET_KEY.test(k) || k.length > 253)
    .map(
      (k) =>
        `data[${k}]: Invalid value: "${k}": a valid config key must consist of alphanumeric characters, '-', '_' or '.'`,
    );
  if (obj.type === "kubernetes.io/dockerconfigjson") {
    const raw = data[".dockerconfigjson"];
    if (typeof raw !== "string") problems.push(`data[.dockerconfigjson]: Required value`);
    else {
      try {
        JSON.parse(Buffer.from(raw, "base64").toString("utf8"));
      } catch (err) {
        problems.push(
          `data[.dockerconfigjson]: Invalid value: "<secret contents redacted>": ${(err as Error).message}`,
        );
      }
    }
  }
  if (problems.length) throw invalid("Secret", name, problems);
}
