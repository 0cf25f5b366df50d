import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import {
  compileOptions as compileAggregatorOptions,
  type RunningAggregator,
  startAggregator,
} from "@wharf/aggregator-service";
import { createLogger } from "@wharf/config";
import { createTestDatabase, type TestDatabase } from "@wharf/db";
import {
  compileOptions as compileProvisionerOptions,
  type RunningProvisioner,
  startProvisioner,
} from "@wharf/provisioner-service";
import { makePipelineRepo, startWharfApiDouble, type WharfApiDouble, waitFor } from "@wharf/testkit";
import { afterAll, beforeAll, expect, inject, it } from "vitest";

// The hand-offs by event, end to end: the provisioner's scheduler and the aggregator's
// discovery poll once a minute here, so a build that completes within seconds was started by
// the POST itself and found by the aggregator's watch of the provisioner's list.
const TOKEN = "watch-token";
const log = createLogger("watch", process.env.WHARF_LOG_LEVEL ?? "silent");
let tmp: string;
let db: TestDatabase;
let api: WharfApiDouble;
let provisioner: RunningProvisioner;
let aggregator: RunningAggregator;

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), "wharf-watch-"));
  db = await createTestDatabase(inject("pgUrl"), "watch");
  api = await startWharfApiDouble();
  provisioner = await startProvisioner(
    compileProvisionerOptions({
      DATABASE_URL: db.url,
      WHARF_DATA_DIR: path.join(tmp, "provisioner"),
      WHARF_PROVISIONER_HOST: "127.0.0.1",
      WHARF_PROVISIONER_PORT: "0",
      WHARF_PROVISIONER_TOKEN: TOKEN,
      WHARF_POLL_INTERVAL: "60s",
    }),
    { log },
  );
  aggregator = await startAggregator(
    compileAggregatorOptions({
      DATABASE_URL: db.url,
      WHARF_API_URL: api.url,
      WHARF_INSTANCE: "watch",
      WHARF_DISCOVERY: "provisioner",
      WHARF_PROVISIONER_URL: provisioner.url,
      WHARF_PROVISIONER_TOKEN: TOKEN,
      WHARF_AGGREGATOR_HOST: "127.0.0.1",
      WHARF_AGGREGATOR_PORT: "0",
      WHARF_DISCOVERY_INTERVAL: "60s",
    }),
    log,
  );
}, 60_000);

afterAll(async () => {
  await aggregator?.close();
  await provisioner?.close();
  await api?.close();
  await db?.drop();
  await fs.rm(tmp, { recursive: true, force: true });
});

it("a build posted after the aggregator's last discovery is relayed to Completed long before its next one", async () => {
  const repo = await makePipelineRepo(
    path.join(tmp, "hello"),
    "build:\n  hello:\n    container:\n      image: x\n      cmds: ['echo hello from the watch']\n",
  );
  // The aggregator's first discovery (at start) found nothing; the next is a minute away.
  await waitFor("aggregator ready", async () => (await fetch(`${aggregator.url}/readyz`)).ok);
  api.setBuild(9001, "Scheduling");
  const res = await fetch(
    `${provisioner.url}/api/worker?${new URLSearchParams({
      BUILD_REF: "9001",
      GIT_FULLURL: repo,
      GIT_BRANCH: "master",
      WHARF_INSTANCE: "watch",
      token: TOKEN,
    })}`,
    { method: "POST" },
  );
  expect(res.status).toBe(201);
  // Well inside the minute either poll would take.
  await waitFor("Completed at wharf-api", () => api.statusesFor(9001).includes("Completed"), 45_000);
  expect(api.logsFor(9001).map((l) => l.message)).toContain("hello from the watch");
  // The aggregator releases and removes the worker: closing before that would leave it waiting
  // for a Release for good (local workers outlive their provisioner).
  await waitFor("worker removed", async () => {
    const list = await fetch(`${provisioner.url}/api/worker`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    return ((await list.json()) as unknown[]).length === 0;
  });
}, 90_000);
