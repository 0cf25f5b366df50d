import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createTestDatabase, type Database, openDatabase, type TestDatabase } from "@wharf/db";
import { makePipelineRepo } from "@wharf/testkit";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { call, NAMESPACE, startKubeStack, waitFor, workerQuery } from "./kube-stack.js";

/**
 * The whole chain on the fake with the kubernetes executor inside the worker pods (the other
 * fake chain test runs the local executor there): worker pod → step pods, a workspace claim
 * and workspace pod on the same fake cluster (the worker reaches it through a KUBECONFIG file,
 * as a host process cannot use in-cluster config) → aggregator via port-forward → wharf-api
 * double. test/kube-real/build-chain.test.ts runs the same scenarios on the real cluster.
 */
const step = (cmds: string[], image = "busybox:1.36") =>
  `    container:\n      image: ${image}\n      cmds:\n${cmds.map((c) => `        - ${JSON.stringify(c)}\n`).join("")}`;
const PIPELINES = {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: .wharf-ci.yml variable syntax
  "parallel-failing": `build:\n  ok:\n${step(['echo "ok step says ${greeting}"'])}  broken:\n${step(["echo about to fail", "exit 3"])}`,
  artifact: `prepare:\n  write:\n${step(["mkdir -p dist", "echo from the first stage > dist/note.txt"])}build:\n  package:\n${step(["cat dist/note.txt", "echo artifact body > dist/app.bin"])}      artifacts:\n        - dist/*.bin\n`,
  "missing-image": `build:\n  nope:\n${step(["echo never"], "missing/wharf-test:1")}`,
  sleeping: `build:\n  wait:\n${step(["echo started", "sleep 300"])}`,
} as const;

let testDb: TestDatabase;
let db: Database;
let tmp: string;
let stack: Awaited<ReturnType<typeof startKubeStack>>;

beforeAll(async () => {
  testDb = await createTestDatabase(inject("pgUrl"), "kube_executor_chain");
  db = await openDatabase({ url: testDb.url });
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), "wharf-kube-exec-chain-"));
  for (const [name, yml] of Object.entries(PIPELINES)) await makePipelineRepo(path.join(tmp, name), yml);
  stack = await startKubeStack(db, {
    backendExtra: async (fake) => {
      const kubeconfig = path.join(tmp, "kubeconfig");
      await fs.writeFile(kubeconfig, fake.kubeConfigYaml(NAMESPACE));
      return {
        executor: "kubernetes",
        stopGraceMs: 5_000,
        extraEnv: { WHARF_LOG_LEVEL: "warn", KUBECONFIG: kubeconfig, WHARF_K8S_START_TIMEOUT: "20" },
      };
    },
  });
});

afterAll(async () => {
  await stack?.close();
  await db?.close();
  await testDb?.drop();
  if (tmp) await fs.rm(tmp, { recursive: true, force: true });
});

async function startBuild(buildRef: number, repo: keyof typeof PIPELINES): Promise<string> {
  const res = await call(
    stack.url,
    "POST",
    `/api/worker?${workerQuery(buildRef, `file://${path.join(tmp, repo)}`)}`,
  );
  expect(res.status).toBe(201);
  return res.json.workerId as string;
}
const messages = (buildRef: number) => stack.api.logsFor(buildRef).map((l) => l.message);
const ended = (buildRef: number) =>
  stack.api.statusesFor(buildRef).some((s) => s === "Completed" || s === "Failed");

describe("the whole chain on the fake, steps on the kubernetes executor", () => {
  it("runs four builds at once, each ending at wharf-api with its status, and leaves nothing", async () => {
    await startBuild(1601, "parallel-failing");
    await startBuild(1602, "artifact");
    await startBuild(1603, "missing-image");
    const sleeping = await startBuild(1604, "sleeping");

    await waitFor("the sleeping step started", () => messages(1604).includes("started"), 60_000);
    const asked = Date.now();
    const deleted = await call(stack.url, "DELETE", `/api/worker/${sleeping}`);
    expect(deleted.status).toBe(204);
    expect(Date.now() - asked).toBeLessThan(2_000);

    await waitFor("every build ended at wharf-api", () => [1601, 1602, 1603, 1604].every(ended), 90_000);

    expect(stack.api.statusesFor(1601).at(-1)).toBe("Failed");
    expect(messages(1601)).toContain("ok step says hi");
    expect(messages(1601)).toContain("about to fail");

    expect(stack.api.statusesFor(1602).at(-1)).toBe("Completed");
    expect(messages(1602)).toContain("from the first stage");
    const artifact = stack.api.artifacts.find((a) => a.buildId === 1602);
    expect(artifact?.fileName).toMatch(/app\.bin$/);
    expect(artifact?.bytes.toString()).toBe("artifact body\n");

    expect(stack.api.statusesFor(1603).at(-1)).toBe("Failed");
    expect(messages(1603).join("\n")).toMatch(/ErrImagePull|ImagePullBackOff/);

    expect(stack.api.statusesFor(1604).at(-1)).toBe("Failed");
    expect(messages(1604).some((m) => m.startsWith("cancelling the build: "))).toBe(true);

    // Worker pods, step pods, workspace pods and claims: all gone.
    await waitFor(
      "nothing left",
      () =>
        stack.fake.store.list("pods", NAMESPACE).length === 0 &&
        stack.fake.store.list("persistentvolumeclaims", NAMESPACE).length === 0,
      30_000,
    );
  }, 180_000);
});
