import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { PlanStep } from "@wharf/executor";
import type { ApiCall } from "@wharf/kube-fake";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { KubernetesExecutor } from "../src/index.js";
import { buildSpec, containerStep, NAMESPACE, readAll, startHarness } from "./kube-harness.js";

const rbacFile = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  "../../../../deploy/kubernetes/rbac.yaml",
);

const chartRbacFile = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  "../../../../deploy/helm/wharf/templates/rbac.yaml",
);

interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

async function roleRules(name: string): Promise<Rule[]> {
  const docs = parseAllDocuments(await fs.readFile(rbacFile, "utf8")).map((d) => d.toJS());
  const role = docs.find((d) => d?.kind === "Role" && d.metadata.name === name);
  if (!role) throw new Error(`Role ${name} not found in ${rbacFile}`);
  return role.rules;
}

const resourceOf = (c: ApiCall) => (c.subresource ? `${c.resource}/${c.subresource}` : c.resource);
const allows = (rules: Rule[], c: ApiCall) =>
  rules.some(
    (r) => r.apiGroups.includes("") && r.resources.includes(resourceOf(c)) && r.verbs.includes(c.verb),
  );

describe("the wharf-worker Role", () => {
  it("allows every API call the kubernetes executor makes, and holds nothing it does not use", async () => {
    const h = await startHarness();
    try {
      await fs.writeFile(path.join(h.sourceDir, "a.txt"), "a\n");
      const build = buildSpec(h.sourceDir);
      await h.executor.ping();
      await h.executor.setupBuild(build);
      const ok = await h.executor.startStep(build, containerStep(1, ["cat a.txt"]), {});
      await readAll(ok.stdout);
      await ok.wait();
      await ok.destroy();
      // Step caches: the store's claim and pod made on first use, a save and a restore through it.
      const cached = { ...build, cache: { project: "rbac", branch: "main" } };
      const cacheStep = { ...containerStep(7, ["true"]), cache: ["a.txt"] };
      expect(await h.executor.caches.save(cached, cacheStep)).toMatchObject({ bytes: 2 });
      expect(await h.executor.caches.restore(cached, cacheStep)).toMatchObject({ hit: true });
      // A step with a Secret (an admin's, put straight into the store so the call is not the
      // worker's): the executor reads it (to mask its values) before creating the pod.
      h.fake.store.create("secrets", NAMESPACE, {
        apiVersion: "v1",
        kind: "Secret",
        type: "Opaque",
        metadata: { name: "step-secret" },
        data: { TOKEN: Buffer.from("secret-token-value").toString("base64") },
      });
      const withSecret = containerStep(5, ["echo $TOKEN"]);
      if (withSecret.type === "container") withSecret.spec.secretName = "step-secret";
      const secretStep = await h.executor.startStep(build, withSecret, {});
      await readAll(secretStep.stdout);
      await secretStep.wait();
      await secretStep.destroy();
      // A kubectl step whose kubeconfig ConfigMap is missing: read (configmaps get) and refused.
      const kubectl: PlanStep = {
        ...containerStep(6, []),
        type: "kubectl",
        spec: { files: ["k8s.yaml"], action: "apply", force: false, cluster: "no-such-cluster" },
      };
      await expect(h.executor.startStep(build, kubectl, {})).rejects.toThrow(
        /configmap "no-such-cluster" not found/,
      );
      const stopped = await h.executor.startStep(build, containerStep(2, ["sleep 30"]), {});
      await stopped.stop(0);
      await stopped.destroy();
      await h.executor.startStep(build, containerStep(3, ["true"], "missing/x"), {}).catch(() => {});
      // A pod that stays Pending (its certificates ConfigMap is missing) until the start
      // timeout: the executor then reads the pod's events for the error message.
      const slow = new KubernetesExecutor({ kubeConfig: h.kubeConfig, pollMs: 20, startTimeoutMs: 300 });
      await slow.setupBuild(buildSpec(h.sourceDir, "slow"));
      const pending = containerStep(4, ["true"]);
      if (pending.type === "container") pending.spec.certificatesMountPath = "/certs";
      await expect(slow.startStep(buildSpec(h.sourceDir, "slow"), pending, {})).rejects.toThrow(
        /did not start/,
      );
      await slow.destroyBuild(buildSpec(h.sourceDir, "slow"));
      const dest = await fs.mkdtemp(path.join(os.tmpdir(), "wharf-rbac-"));
      await h.executor.collectFiles(build, ["*.txt"], dest);
      await fs.rm(dest, { recursive: true, force: true });
      await h.executor.destroyBuild(build);

      const rules = await roleRules("wharf-worker");
      // The chart's Role says the same.
      const chart = parseAllDocuments(
        (await fs.readFile(chartRbacFile, "utf8")).replaceAll("{{ .Release.Name }}", "wharf"),
      )
        .map((d) => d.toJS())
        .find((d) => d?.kind === "Role" && d.metadata.name === "wharf-worker");
      expect(chart?.rules).toEqual(rules);
      const denied = h.fake.calls.filter((c) => !allows(rules, c));
      expect(denied).toEqual([]);
      // Least privilege: every resource/verb pair in the Role was used, except pods/exec
      // "create", which API servers >= 1.31 check in addition to "get" for WebSocket exec.
      const used = new Set(h.fake.calls.map((c) => `${resourceOf(c)}:${c.verb}`));
      const granted = rules.flatMap((r) => r.resources.flatMap((res) => r.verbs.map((v) => `${res}:${v}`)));
      expect(granted.filter((g) => !used.has(g))).toEqual(["pods/exec:create"]);
    } finally {
      await h.close();
    }
  });
});
