import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { CREATED_BY_EXECUTOR, LABEL_CREATED_BY } from "@wharf/executor";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import { Role } from "kubernetes-models/rbac.authorization.k8s.io/v1/Role";
import { RoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding";
import { Secret } from "kubernetes-models/v1/Secret";
import { Service } from "kubernetes-models/v1/Service";
import { ServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { WORKER_APP_NAME } from "../src/index.js";
import { renderChart } from "./helm-subset-renderer.js";

const deployDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../../deploy");

// biome-ignore lint/suspicious/noExplicitAny: kubernetes-models constructors take open JSON
const MODELS: Record<string, new (data: any) => { validate(): void }> = {
  Deployment,
  NetworkPolicy,
  PodDisruptionBudget,
  Role,
  RoleBinding,
  Secret,
  Service,
  ServiceAccount,
};

// biome-ignore lint/suspicious/noExplicitAny: manifests are open JSON
function documents(yamlText: string): any[] {
  return parseAllDocuments(yamlText)
    .map((d) => {
      if (d.errors.length) throw new Error(d.errors.map((e) => e.message).join("; "));
      return d.toJS();
    })
    .filter(Boolean);
}

// biome-ignore lint/suspicious/noExplicitAny: manifests are open JSON
function validateAll(docs: any[]): void {
  for (const doc of docs) {
    const Model = MODELS[doc.kind];
    if (!Model) throw new Error(`no schema for kind ${doc.kind} (${doc.metadata?.name})`);
    expect(() => new Model(doc).validate(), `${doc.kind}/${doc.metadata?.name}`).not.toThrow();
  }
}

const plainManifests = () =>
  fs
    .readdirSync(path.join(deployDir, "kubernetes"))
    .filter((f) => f.endsWith(".yaml"))
    .flatMap((f) => documents(fs.readFileSync(path.join(deployDir, "kubernetes", f), "utf8")));

// What scripts/build-images.sh tags: wharf/<service>:<root package.json version>.
const version = JSON.parse(fs.readFileSync(path.join(deployDir, "../package.json"), "utf8")).version;
const builtImage = (service: string) => `wharf/${service}:${version}`;

describe("images and service links", () => {
  it("the manifests and the chart run the images the build makes, pulled only when absent", () => {
    const docs = plainManifests().filter((d) => d.kind === "Deployment");
    for (const d of docs) {
      const service = d.metadata.name.replace(/^wharf-/, "");
      const [container] = d.spec.template.spec.containers;
      expect(container.image).toBe(builtImage(service));
      expect(container.imagePullPolicy).toBe("IfNotPresent");
      // The image's entrypoint and command run the service; the manifest must not replace them.
      expect(container.command).toBeUndefined();
      const workerImage = container.env.find((e: { name: string }) => e.name === "WHARF_K8S_WORKER_IMAGE");
      if (workerImage) expect(workerImage.value).toBe(builtImage("worker"));
    }
    const values = parseAllDocuments(
      fs.readFileSync(path.join(deployDir, "helm/wharf/values.yaml"), "utf8"),
    )[0]?.toJS();
    for (const service of ["provisioner", "aggregator", "worker"])
      expect(values.images[service]).toBe(builtImage(service));
  });

  it("turns off Docker-link variables, which Services named wharf-* would inject into the services' env", () => {
    const docs = [
      ...plainManifests(),
      ...documents(renderChart(path.join(deployDir, "helm/wharf"), { name: "wharf", namespace: "wharf" })),
    ].filter((d) => d.kind === "Deployment");
    expect(docs.length).toBe(4);
    for (const d of docs) expect(d.spec.template.spec.enableServiceLinks, d.metadata.name).toBe(false);
  });
});

describe("deploy/kubernetes", () => {
  it("validates every manifest against the Kubernetes schemas", () => {
    const docs = plainManifests();
    expect(docs.length).toBeGreaterThanOrEqual(13);
    validateAll(docs);
  });

  it("runs every Deployment as non-root under its own ServiceAccount", () => {
    const docs = plainManifests();
    const accounts = new Set(docs.filter((d) => d.kind === "ServiceAccount").map((d) => d.metadata.name));
    for (const d of docs.filter((doc) => doc.kind === "Deployment")) {
      expect(d.spec.template.spec.securityContext).toMatchObject({
        runAsNonRoot: true,
        seccompProfile: { type: "RuntimeDefault" },
      });
      for (const c of d.spec.template.spec.containers)
        expect(c.securityContext).toEqual({
          allowPrivilegeEscalation: false,
          capabilities: { drop: ["ALL"] },
        });
      expect(accounts.has(d.spec.template.spec.serviceAccountName)).toBe(true);
    }
  });

  it("lets only the aggregator and provisioner dial workers, no build pod reach the control plane, no drain evict a build", () => {
    const docs = plainManifests();
    const policy = (name: string) => docs.find((d) => d.kind === "NetworkPolicy" && d.metadata.name === name);
    expect(policy("wharf-worker").spec.podSelector).toEqual({
      matchLabels: { "app.kubernetes.io/name": WORKER_APP_NAME },
    });
    expect(policy("wharf-worker").spec.ingress[0].ports).toEqual([{ port: 5010, protocol: "TCP" }]);
    expect(policy("wharf-steps").spec).toEqual({
      podSelector: { matchLabels: { [LABEL_CREATED_BY]: CREATED_BY_EXECUTOR } },
      policyTypes: ["Ingress"],
      ingress: [],
    });
    const excluded = policy("wharf-control-plane").spec.ingress[0].from[0].podSelector.matchExpressions;
    expect(excluded).toEqual([
      { key: "app.kubernetes.io/name", operator: "NotIn", values: [WORKER_APP_NAME] },
      { key: LABEL_CREATED_BY, operator: "DoesNotExist" },
    ]);
    // Worker pods and the pods their executor starts: one budget each (a pod may match only one).
    const budgets = docs.filter((d) => d.kind === "PodDisruptionBudget").map((d) => d.spec.selector);
    expect(budgets).toEqual([
      { matchLabels: { "app.kubernetes.io/name": WORKER_APP_NAME } },
      { matchLabels: { [LABEL_CREATED_BY]: CREATED_BY_EXECUTOR } },
    ]);
  });

  it("binds each Role to the ServiceAccount of the same name", () => {
    const docs = plainManifests();
    for (const b of docs.filter((d) => d.kind === "RoleBinding")) {
      expect(b.roleRef.name).toBe(b.metadata.name);
      expect(b.subjects).toEqual([{ kind: "ServiceAccount", name: b.metadata.name }]);
    }
  });
});

describe("deploy/helm/wharf", () => {
  const chartDir = path.join(deployDir, "helm/wharf");

  it("renders with default values to schema-valid manifests matching deploy/kubernetes", () => {
    const docs = documents(renderChart(chartDir, { name: "wharf", namespace: "wharf" }));
    validateAll(docs);
    const names = (list: { kind: string; metadata: { name: string } }[]) =>
      list.map((d) => `${d.kind}/${d.metadata.name}`).sort();
    expect(names(docs.filter((d) => d.kind !== "Secret"))).toEqual(names(plainManifests()));
  });

  it("applies images, tokens, DATABASE_URL, limits and replicas from values", () => {
    const text = renderChart(
      chartDir,
      { name: "ci", namespace: "ci" },
      {
        images: { provisioner: "reg/p:1", aggregator: "reg/a:1", worker: "reg/w:1", pullPolicy: "Always" },
        tokens: { provisioner: "tok-p", worker: "tok-w", api: "tok-a", aggregator: "tok-g" },
        databaseUrl: "postgres://db/x",
        replicas: { provisioner: 2, aggregator: 3 },
        resources: { requests: { cpu: "100m", memory: "64Mi" }, limits: { cpu: "2", memory: "1Gi" } },
      },
    );
    const docs = documents(text);
    validateAll(docs);
    const deployment = (name: string) =>
      docs.find((d) => d.kind === "Deployment" && d.metadata.name === name);
    expect(deployment("ci-provisioner").spec.replicas).toBe(2);
    expect(deployment("ci-aggregator").spec.replicas).toBe(3);
    const container = deployment("ci-provisioner").spec.template.spec.containers[0];
    expect(container.image).toBe("reg/p:1");
    expect(container.resources.limits).toEqual({ cpu: "2", memory: "1Gi" });
    expect(container.env).toContainEqual({ name: "WHARF_K8S_WORKER_IMAGE", value: "reg/w:1" });
    const secret = docs.find((d) => d.kind === "Secret");
    expect(secret.stringData).toEqual({
      "provisioner-token": "tok-p",
      "worker-token": "tok-w",
      "api-token": "tok-a",
      "aggregator-token": "tok-g",
      "database-url": "postgres://db/x",
    });
  });

  it("fails on a value the templates need but the values lack", () => {
    expect(() => renderChart(chartDir, { name: "x", namespace: "y" }, { images: {} })).toThrow(
      /missing value/,
    );
  });
});
