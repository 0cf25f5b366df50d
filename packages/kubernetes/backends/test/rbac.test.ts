import fs from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { ApiCall, FakeKubeApiServer } from "@wharf/kube-fake";
import { echoThrough } from "@wharf/testkit";
import { afterEach, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { KubernetesWorkerDirectory } from "../src/index.js";
import { NAMESPACE, quietLog, startFakeCluster, waitFor } from "./kube-stack.js";
import { podScenarios, spec } from "./pod-scenarios.js";

const deployDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../../deploy");

interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

async function roleRules(file: string, name: string): Promise<Rule[]> {
  const docs = parseAllDocuments(await fs.readFile(file, "utf8")).map((d) => d.toJS());
  const role = docs.find((d) => d?.kind === "Role" && d.metadata.name === name);
  if (!role) throw new Error(`Role ${name} not found in ${file}`);
  return role.rules;
}

const resourceOf = (c: ApiCall) => (c.subresource ? `${c.resource}/${c.subresource}` : c.resource);
const allows = (rules: Rule[], c: ApiCall) =>
  rules.some(
    (r) => r.apiGroups.includes("") && r.resources.includes(resourceOf(c)) && r.verbs.includes(c.verb),
  );
const granted = (rules: Rule[]) =>
  rules.flatMap((r) => r.resources.flatMap((res) => r.verbs.map((v) => `${res}:${v}`)));

/** The Role in the plain manifests and in the chart's template must say the same. */
async function checkRole(name: string, calls: ApiCall[], unusedButNeeded: string[] = []): Promise<void> {
  const plain = await roleRules(path.join(deployDir, "kubernetes/rbac.yaml"), name);
  const chartText = (
    await fs.readFile(path.join(deployDir, "helm/wharf/templates/rbac.yaml"), "utf8")
  ).replaceAll("{{ .Release.Name }}", "wharf");
  const chart = parseAllDocuments(chartText)
    .map((d) => d.toJS())
    .find((d) => d?.kind === "Role" && d.metadata.name === name);
  expect(chart?.rules).toEqual(plain);
  expect(calls.filter((c) => !allows(plain, c))).toEqual([]);
  const used = new Set(calls.map((c) => `${resourceOf(c)}:${c.verb}`));
  expect(granted(plain).filter((g) => !used.has(g))).toEqual(unusedButNeeded);
}

let fake: FakeKubeApiServer | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

describe("RBAC of the services' Kubernetes code", () => {
  it("the wharf-provisioner Role allows every call of the kubernetes backend and nothing more", async () => {
    fake = await startFakeCluster();
    const s = await podScenarios(fake.kubeConfig(NAMESPACE));
    try {
      const withToken = spec("w-1", 1, s.repoUrl);
      await s.echo.create({ ...withToken, request: { ...withToken.request, gitToken: "t0ken" } });
      await s.missing.create(spec("w-2", 2, s.repoUrl));
      await waitFor("stuck pod", async () => (await s.missing.status("w-2"))?.phase === "Failed");
      await s.echo.list();
      // A pod that cannot own its token Secret: both are deleted again.
      fake.injectFault({
        verb: "patch",
        resource: "secrets",
        action: { kind: "status", code: 500 },
        times: 1,
      });
      const unowned = spec("w-3", 3, s.repoUrl);
      await expect(
        s.echo.create({ ...unowned, request: { ...unowned.request, gitToken: "t0ken" } }),
      ).rejects.toThrow(/worker's Secret/);
      expect(await s.echo.delete("w-1")).toBe(true);
      expect(await s.missing.delete("w-2")).toBe(true);
      expect(await s.echo.delete("w-none")).toBe(false);
    } finally {
      await s.close();
    }
    // Closing ends the informers' watches, so they are recorded too.
    await waitFor("watches recorded", () => fake!.calls.some((c) => c.verb === "watch"));
    await checkRole("wharf-provisioner", fake.calls);
  });

  it("the wharf-aggregator Role allows every call of the kubernetes directory and nothing more", async () => {
    fake = await startFakeCluster();
    const s = await podScenarios(fake.kubeConfig(NAMESPACE));
    const directory = new KubernetesWorkerDirectory({
      kubeConfig: fake.kubeConfig(NAMESPACE),
      log: quietLog,
    });
    let before = 0;
    try {
      await s.echo.create(spec("w-1", 1, s.repoUrl));
      await s.missing.create(spec("w-2", 2, s.repoUrl));
      await waitFor("stuck pod", async () => (await s.missing.status("w-2"))?.phase === "Failed");
      await s.close();
      before = fake.calls.length;
      const ok = await waitFor("both listed", async () => {
        const list = await directory.list();
        return list.length === 2 && list.some((w) => w.address) && list.some((w) => w.status === "failed")
          ? list
          : undefined;
      });
      const running = ok.find((w) => w.address);
      // The fake marks a pod Running when its process starts, which may be before the process
      // listens: a connection in that moment is closed empty, so ask again until it echoes.
      await waitFor(
        "an echo through the port-forward",
        async () => (await echoThrough(running?.address as string, "x")) === "x",
      );
      await directory.remove("w-1");
      await directory.remove("w-2");
    } finally {
      await directory.close();
    }
    await waitFor("watch recorded", () => fake!.calls.slice(before).some((c) => c.verb === "watch"));
    // pods/portforward "create": API servers from 1.31 check it in addition to "get" for the WebSocket.
    await checkRole("wharf-aggregator", fake.calls.slice(before), ["pods/portforward:create"]);
  });
});
