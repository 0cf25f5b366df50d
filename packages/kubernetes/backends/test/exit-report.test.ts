import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createTestDatabase, type Database, openDatabase, type TestDatabase } from "@wharf/db";
import { makePipelineRepo } from "@wharf/testkit";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { call, startKubeStack, waitFor, workerQuery } from "./kube-stack.js";

// In a deployment the NetworkPolicy admits only the aggregator to the workers' ports, so the
// provisioner's status probe never gets an answer; and the aggregator deletes a released
// worker's pod at once. What the provisioner records must come from the pod itself.
const PIPELINE = (exit: number) => `build:
  greet:
    container:
      image: busybox:1.36
      cmds:
        - echo "step says \${greeting}"
        - exit ${exit}
`;

let testDb: TestDatabase;
let db: Database;
let tmp: string;
let stack: Awaited<ReturnType<typeof startKubeStack>>;

beforeAll(async () => {
  testDb = await createTestDatabase(inject("pgUrl"), "kube_exit_report");
  db = await openDatabase({ url: testDb.url });
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), "wharf-kube-exit-"));
  await makePipelineRepo(path.join(tmp, "passing"), PIPELINE(0));
  await makePipelineRepo(path.join(tmp, "failing"), PIPELINE(4));
  stack = await startKubeStack(db, { probe: async () => null });
});

afterAll(async () => {
  await stack?.close();
  await db?.close();
  await testDb?.drop();
  if (tmp) await fs.rm(tmp, { recursive: true, force: true });
});

async function missingAnswer(buildRef: number) {
  const res = await fetch(`${stack.url}/api/worker/missing`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ buildRefs: [buildRef] }),
  });
  return ((await res.json()) as { results: Record<string, unknown>[] }).results[0]!;
}

describe("a worker pod the provisioner cannot reach", () => {
  for (const [buildRef, repo, status] of [
    [811, "passing", "Success"],
    [812, "failing", "Failed"],
  ] as const) {
    it(`is recorded ${status} from its termination message once released and deleted, not lost`, async () => {
      const res = await call(
        stack.url,
        "POST",
        `/api/worker?${workerQuery(buildRef, `file://${path.join(tmp, repo)}`)}`,
      );
      expect(res.status).toBe(201);
      const apiStatus = status === "Success" ? "Completed" : "Failed";
      await waitFor(
        `${apiStatus} at wharf-api`,
        () => stack.api.statusesFor(buildRef).includes(apiStatus),
        60_000,
      );
      await waitFor("pod removed", () => stack.pods().length === 0, 20_000);
      const answer = await waitFor("the provisioner's record", async () => {
        const a = await missingAnswer(buildRef);
        return a.reason === "never-seen" || a.live ? undefined : a;
      });
      expect(answer).toMatchObject({ buildRef, live: false, reason: "finished", status });
    }, 90_000);
  }
});
