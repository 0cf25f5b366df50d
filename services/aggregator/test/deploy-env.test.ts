import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { compileOptions } from "../src/index.js";

const deployDir = path.resolve(import.meta.dirname, "../../../deploy");

/** The aggregator container's env in a manifest; valueFrom entries get a placeholder value. */
function deployedEnv(file: string): Record<string, string> {
  // Helm expressions become a plain URL-shaped word, so the template parses as YAML.
  const text = fs
    .readFileSync(path.join(deployDir, file), "utf8")
    .replace(/\{\{[^}]*\}\}/g, "http://helm-value");
  const deployment = parseAllDocuments(text)
    .map((d) => d.toJS())
    .find((d) => d?.kind === "Deployment" && d.metadata.name.endsWith("-aggregator"));
  const env: { name: string; value?: string }[] = deployment.spec.template.spec.containers[0].env;
  return Object.fromEntries(env.map((e) => [e.name, e.value ?? `from-${e.name.toLowerCase()}`]));
}

/** compileOptions on `env`, recording every name it reads. */
function namesRead(env: Record<string, string>) {
  const read = new Set<string>();
  const proxy = new Proxy(env, {
    get: (target, name) => {
      if (typeof name === "string") read.add(name);
      return target[name as string];
    },
  });
  return { options: compileOptions(proxy, "aggregator", "/srv"), read };
}

describe.each(["kubernetes/services.yaml", "helm/wharf/templates/services.yaml"])("deploy/%s", (file) => {
  it("configures the aggregator with names it reads: kubernetes discovery through port-forward", () => {
    const env = deployedEnv(file);
    const { options, read } = namesRead(env);
    expect(Object.keys(env).filter((name) => !read.has(name))).toEqual([]);
    expect(options.discovery).toMatchObject({ kind: "kubernetes", connect: "port-forward" });
    expect(options.apiToken).toBeDefined();
    expect(options.workerToken).toBeDefined();
    expect(options.databaseUrl).toBeDefined();
  });
});
