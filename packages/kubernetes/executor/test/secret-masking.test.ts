import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { CoreV1Api, type V1Secret } from "@kubernetes/client-node";
// The engine and the result store are the real recording chain the worker wires
// (`runBuild` → `StepProcess.secrets` → `ResultStore.addSecrets` → `LineEncoder`).
import { runBuild } from "@wharf/engine";
import type { Plan, PlanStep } from "@wharf/executor";
import { StepStartError } from "@wharf/executor";
import { FakeKubeApiServer, type PolicyRule, rbacAuthorizer } from "@wharf/kube-fake";
import { ResultStore } from "@wharf/result-store";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { KubernetesExecutor } from "../src/index.js";
import { buildSpec, containerStep, NAMESPACE, readAll } from "./kube-harness.js";

const rbacFile = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  "../../../../deploy/kubernetes/rbac.yaml",
);

async function workerRules(): Promise<PolicyRule[]> {
  const docs = parseAllDocuments(await fs.readFile(rbacFile, "utf8")).map((d) => d.toJS());
  return docs.find((d) => d?.kind === "Role" && d.metadata.name === "wharf-worker").rules;
}

const PASSWORD = "hunter2-Pa55word";
const API_TOKEN = "tok_9f8e7d6c5b4a3210";
const SHORT = "ci";
const KUBE_TOKEN = "eyJhbGciOiJSUzI1NiJ9.kube-token-value";
const CLIENT_KEY_DATA = "LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tCk1JSUV2UUlCQURBTkJna3Fo";
const REGISTRY_PASSWORD = "regpass-1234-abcd";
const REGISTRY_AUTH = Buffer.from(`ci-bot:${REGISTRY_PASSWORD}`).toString("base64");

const KUBECONFIG = `apiVersion: v1
kind: Config
clusters:
  - name: prod
    cluster:
      server: https://10.0.0.1:6443
users:
  - name: deployer
    user:
      token: ${KUBE_TOKEN}
      client-key-data: ${CLIENT_KEY_DATA}
contexts:
  - name: prod
    context: { cluster: prod, user: deployer }
current-context: prod
`;
const DOCKER_CONFIG = JSON.stringify({ auths: { "registry.example.com": { auth: REGISTRY_AUTH } } });

const CLEAR = [PASSWORD, API_TOKEN, KUBE_TOKEN, CLIENT_KEY_DATA, REGISTRY_PASSWORD, REGISTRY_AUTH];

const secret = (name: string, stringData: Record<string, string>): V1Secret => ({
  metadata: { name },
  stringData,
});

function kubectlStep(id: number, cluster: string): PlanStep {
  return {
    id,
    name: `step ${id}`,
    stage: "deploy",
    retries: 0,
    artifacts: [],
    type: "kubectl",
    spec: { files: ["k8s.yaml"], action: "apply", force: false, cluster },
  };
}

let fake: FakeKubeApiServer;
let root: string;
const savedPath = process.env.PATH;

/** A fake cluster (optionally enforcing a Role) with the test's Secrets, and an executor on it. */
async function cluster(rules?: PolicyRule[]) {
  fake = await FakeKubeApiServer.start(rules ? { authorize: rbacAuthorizer(rules) } : {});
  const kubeConfig = fake.kubeConfig(NAMESPACE);
  // The kubectl step's kubeconfig (and a docker config beside it) in the ConfigMap `cluster`
  // names, as wharf-cmd keeps it: credentials too, to be masked.
  const kubeconfigMap = {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "deploy-kubeconfig" },
    data: { config: KUBECONFIG, "config.json": DOCKER_CONFIG },
  };
  if (!rules) {
    const api = kubeConfig.makeApiClient(CoreV1Api);
    for (const body of secrets()) await api.createNamespacedSecret({ namespace: NAMESPACE, body });
    await api.createNamespacedConfigMap({ namespace: NAMESPACE, body: kubeconfigMap });
  } else {
    fake.store.create("configmaps", NAMESPACE, kubeconfigMap);
    // The worker's Role may not create Secrets: an admin made them (straight into the store).
    for (const body of secrets())
      fake.store.create("secrets", NAMESPACE, {
        apiVersion: "v1",
        kind: "Secret",
        type: "Opaque",
        metadata: { name: body.metadata!.name! },
        data: Object.fromEntries(
          Object.entries(body.stringData!).map(([k, v]) => [k, Buffer.from(v).toString("base64")]),
        ),
      });
  }
  const executor = new KubernetesExecutor({ kubeConfig, pollMs: 20, startTimeoutMs: 10_000 });
  return { executor, kubeConfig };
}

function secrets(): V1Secret[] {
  return [secret("app-secrets", { PASSWORD, API_TOKEN, DEPLOY_USER: SHORT })];
}

beforeEach(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), "wharf-k8s-mask-"));
  // The fake runs containers as host processes on the worker's PATH: a "kubectl" that
  // prints the kubeconfig and docker config it was given, as a debugging step might.
  const bin = path.join(root, "bin");
  await fs.mkdir(bin);
  await fs.writeFile(
    path.join(bin, "kubectl"),
    '#!/bin/sh\necho "kubectl $*"\ncat "$KUBECONFIG"\ncat "$(dirname "$KUBECONFIG")/config.json"; echo\n',
    { mode: 0o755 },
  );
  process.env.PATH = `${bin}:${savedPath}`;
});
afterEach(async () => {
  process.env.PATH = savedPath;
  await fake?.close();
  await fs.rm(root, { recursive: true, force: true });
});

async function runAndRead(executor: KubernetesExecutor, plan: Plan) {
  const sourceDir = path.join(root, "src");
  await fs.mkdir(sourceDir, { recursive: true });
  const store = await ResultStore.open(path.join(root, "results"), { buildRef: "42" });
  const result = await runBuild(plan, {
    executor,
    recorder: store,
    build: buildSpec(sourceDir),
    stopGraceMs: 200,
  });
  await store.finish(result.status, result.message);
  const lines: { stepId: number; message: string }[] = [];
  for await (const batch of store.followLogs(0)) lines.push(...batch);
  await store.close();
  return { result, lines, text: lines.map((l) => l.message).join("\n") };
}

const containerWithSecret = (id: number, cmds: string[], secretName: string): PlanStep => {
  const step = containerStep(id, cmds);
  if (step.type === "container") step.spec.secretName = secretName;
  return { ...step, stage: "build" };
};

describe("values of Kubernetes Secrets a step uses", () => {
  it("are masked in the recorded log, printed from env (echo, set -x) and from mounted files", async () => {
    const { executor } = await cluster();
    const plan: Plan = {
      environment: null,
      secrets: [],
      stages: [
        {
          name: "build",
          runIf: "success",
          steps: [
            containerWithSecret(
              1,
              [
                'echo "password is $PASSWORD"',
                'echo "user is $DEPLOY_USER"',
                "set -x",
                'curl_token="$API_TOKEN"',
                "env | grep -E '^(PASSWORD|API_TOKEN)=' | sort",
              ],
              "app-secrets",
            ),
          ],
        },
        { name: "deploy", runIf: "success", steps: [kubectlStep(2, "deploy-kubeconfig")] },
      ],
    };
    const { result, lines, text } = await runAndRead(executor, plan);
    expect(result.status).toBe("SUCCESS");
    for (const value of CLEAR) expect(text).not.toContain(value);
    const step1 = lines.filter((l) => l.stepId === 1).map((l) => l.message);
    expect(step1).toContain("password is ***");
    expect(step1).toContain("+ curl_token=***");
    expect(step1).toContain("API_TOKEN=***");
    expect(step1).toContain("PASSWORD=***");
    // Shorter than MIN_MASKED_LENGTH: not a value worth blanking out everywhere.
    expect(step1).toContain(`user is ${SHORT}`);
    const step2 = lines.filter((l) => l.stepId === 2).map((l) => l.message);
    expect(step2).toContain("      token: ***");
    expect(step2).toContain("      client-key-data: ***");
    // The structure of the file stays readable; only its values are masked.
    expect(step2).toContain("apiVersion: v1");
    expect(step2).toContain("current-context: prod");
    // config.json is one line: masked whole (its auth and password are registered too).
    expect(step2.at(-1)).toBe("***");
  });

  it("are on StepProcess.secrets once startStep resolved", async () => {
    const { executor } = await cluster();
    const build = buildSpec(path.join(root));
    await executor.setupBuild(build);
    const step = await executor.startStep(build, containerWithSecret(1, ["true"], "app-secrets"), {});
    await readAll(step.stdout);
    await step.wait();
    await step.destroy();
    expect([...(step.secrets ?? [])].sort()).toEqual([API_TOKEN, PASSWORD].sort());
    await executor.destroyBuild(build);
  });

  it("a Secret that does not exist fails the step with its name and use, and no pod is created", async () => {
    const { executor, kubeConfig } = await cluster();
    const { result, text } = await runAndRead(executor, {
      environment: null,
      secrets: [],
      stages: [
        { name: "build", runIf: "success", steps: [containerWithSecret(1, ["true"], "no-such-secret")] },
        { name: "deploy", runIf: "always", steps: [kubectlStep(2, "no-kubeconfig")] },
      ],
    });
    expect(result.status).toBe("FAILED");
    expect(result.steps.map((s) => s.status)).toEqual(["FAILED", "FAILED"]);
    expect(text).toContain(
      `secret "no-such-secret" not found in namespace "${NAMESPACE}" (used by the step as environment variables)`,
    );
    expect(text).toContain(
      `configmap "no-kubeconfig" not found in namespace "${NAMESPACE}" (used by the step mounted at /root/.kube)`,
    );
    const pods = await kubeConfig.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: NAMESPACE });
    expect(pods.items).toEqual([]);
  });

  it("runs under the wharf-worker Role enforced, and without its secrets rule fails readably", async () => {
    const rules = await workerRules();
    const allowed = await cluster(rules);
    const ok = await runAndRead(allowed.executor, {
      environment: null,
      secrets: [],
      stages: [
        {
          name: "build",
          runIf: "success",
          steps: [containerWithSecret(1, ["echo $PASSWORD"], "app-secrets")],
        },
      ],
    });
    expect(ok.result.status).toBe("SUCCESS");
    expect(ok.lines.filter((l) => l.stepId === 1).map((l) => l.message)).toEqual(["***"]);
    await fake.close();

    const withoutSecrets = rules.filter((r) => !r.resources.includes("secrets"));
    expect(withoutSecrets.length).toBe(rules.length - 1);
    const denied = await cluster(withoutSecrets);
    const build = buildSpec(path.join(root));
    await denied.executor.setupBuild(build);
    const err = await denied.executor
      .startStep(build, containerWithSecret(3, ["echo $PASSWORD"], "app-secrets"), {})
      .catch((e) => e);
    expect(err).toBeInstanceOf(StepStartError);
    expect((err as StepStartError).stepId).toBe(3);
    expect((err as Error).message).toContain(
      `cannot read secret "app-secrets" (used by the step as environment variables) to mask its values in the log: ` +
        `the worker's service account needs "get" on "secrets" in namespace "${NAMESPACE}"`,
    );
    expect((err as Error).message).toContain('cannot get resource "secrets"');
    expect(fake.calls.filter((c) => c.code === 403).map((c) => `${c.verb} ${c.resource}`)).toEqual([
      "get secrets",
    ]);
    await denied.executor.destroyBuild(build);
  });
});
