import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";

const deployDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../deploy");

/**
 * The env of the first container of the Deployment whose name ends with `-<service>`
 * in `deploy/<file>`; valueFrom entries get a placeholder value. Helm expressions
 * become a plain URL-shaped word so a chart template parses as YAML.
 */
export function deployedEnv(file: string, service: string): Record<string, string> {
  const text = fs
    .readFileSync(path.join(deployDir, file), "utf8")
    .replace(/\{\{[^}]*\}\}/g, "http://helm-value");
  const deployment = parseAllDocuments(text)
    .map((d) => d.toJS())
    .find((d) => d?.kind === "Deployment" && d.metadata.name.endsWith(`-${service}`));
  if (!deployment) throw new Error(`no ${service} Deployment in deploy/${file}`);
  const env: { name: string; value?: string }[] = deployment.spec.template.spec.containers[0].env;
  return Object.fromEntries(env.map((e) => [e.name, e.value ?? `from-${e.name.toLowerCase()}`]));
}

/** Runs `compile` on `env` and records every variable name it reads. */
export function namesRead<T>(
  env: Record<string, string>,
  compile: (env: Record<string, string>) => T,
): { options: T; read: Set<string> } {
  const read = new Set<string>();
  const proxy = new Proxy(env, {
    get: (target, name) => {
      if (typeof name === "string") read.add(name);
      return target[name as string];
    },
  });
  return { options: compile(proxy), read };
}
