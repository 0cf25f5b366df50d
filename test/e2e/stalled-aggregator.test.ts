import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createTestDatabase, type TestDatabase } from "@wharf/db";
import { makePipelineRepo, startWharfApiDouble, type WharfApiDouble, waitFor } from "@wharf/testkit";
import { afterAll, beforeAll, expect, inject, it } from "vitest";
import { type ServiceProcess, startServiceProcess } from "./service-process.js";

// Two aggregator processes on one Postgres relay a real build (provisioner process, local
// backend, a real worker process) to the wharf-api double. The first is frozen (SIGSTOP)
// in the middle of a log call that wharf-api has not read yet; the second takes the worker
// over once the lease lapsed and relays the build to the end. Resumed (SIGCONT), the first
// must send nothing more: its call's deadline ended with its lease, and its fence is shut.
const TOKEN = "stall-provisioner-token";
const TTL = "2s";
const LINES = 400;
let tmp: string;
let db: TestDatabase;
let api: WharfApiDouble;
let provisioner: ServiceProcess;
const aggregators: ServiceProcess[] = [];

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), "wharf-stall-"));
  db = await createTestDatabase(inject("pgUrl"), "stall");
  api = await startWharfApiDouble();
  provisioner = await startServiceProcess("provisioner", {
    DATABASE_URL: db.url,
    WHARF_DATA_DIR: path.join(tmp, "provisioner"),
    WHARF_PROVISIONER_TOKEN: TOKEN,
    WHARF_POLL_INTERVAL: "200ms",
    WHARF_LOG_LEVEL: "warn",
  });
}, 60_000);

afterAll(async () => {
  for (const a of aggregators) await a.stop();
  await provisioner?.stop();
  await api?.close();
  await db?.drop();
  await fs.rm(tmp, { recursive: true, force: true });
});

function startAggregator(name: string): Promise<ServiceProcess> {
  return startServiceProcess(
    "aggregator",
    {
      DATABASE_URL: db.url,
      WHARF_DATA_DIR: path.join(tmp, name),
      WHARF_API_URL: api.url,
      WHARF_DISCOVERY: "provisioner",
      WHARF_PROVISIONER_URL: provisioner.url,
      WHARF_PROVISIONER_TOKEN: TOKEN,
      WHARF_DISCOVERY_INTERVAL: "200ms",
      WHARF_LEASE_TTL: TTL,
      WHARF_LOG_LEVEL: "warn",
    },
    name,
  ).then((a) => {
    aggregators.push(a);
    return a;
  });
}

it("a lease holder frozen mid-call and resumed after the takeover delivers nothing more", async () => {
  const repo = await makePipelineRepo(
    path.join(tmp, "repo"),
    `build:\n  print:\n    container:\n      image: x\n      cmds:\n        - 'i=0; while [ $i -lt ${LINES} ]; do i=$((i+1)); echo "line $i"; sleep 0.02; done'\n`,
  );
  const buildId = 4242;
  api.setBuild(buildId, "Scheduling");
  const first = await startAggregator("aggregator-a");
  const res = await fetch(
    `${provisioner.url}/api/worker?${new URLSearchParams({
      BUILD_REF: String(buildId),
      GIT_FULLURL: repo,
      GIT_BRANCH: "master",
      WHARF_INSTANCE: "stall",
      token: TOKEN,
    })}`,
    { method: "POST" },
  );
  expect(res.status).toBe(201);
  await waitFor("the first aggregator relaying", () => api.logsFor(buildId).length >= 20, 60_000);

  // From now on wharf-api reads a call only 4 s after it arrived (longer than the lease):
  // the first aggregator's next call waits unread when it is frozen.
  api.setDelayMs(4_000);
  await new Promise((r) => setTimeout(r, 600));
  first.child.kill("SIGSTOP");
  const frozenAt = api.logsFor(buildId).length;
  // Calls arriving from now on are read at once: the successor counts what wharf-api holds
  // and sends from there, while the frozen call still waits to be read.
  api.setDelayMs(0);
  await startAggregator("aggregator-b");
  await waitFor(
    "build relayed by the second aggregator",
    () => api.statusesFor(buildId).includes("Completed"),
    90_000,
  );
  await waitFor(
    "worker removed",
    async () => {
      const list = await fetch(`${provisioner.url}/api/worker?instance=stall`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      return ((await list.json()) as unknown[]).length === 0;
    },
    30_000,
    200,
  );
  // The frozen call waited 4 s at wharf-api and its deadline has passed: nothing of it was stored.
  await new Promise((r) => setTimeout(r, 2_000));
  const before = { lines: api.logsFor(buildId).length, statuses: api.statusesFor(buildId).length };

  first.child.kill("SIGCONT");
  await new Promise((r) => setTimeout(r, 4_000));
  expect({ lines: api.logsFor(buildId).length, statuses: api.statusesFor(buildId).length }).toEqual(before);

  // Exactly once and in order across the takeover; the status only forward.
  const ids = api.logsFor(buildId).map((l) => l.workerLogId);
  expect(ids).toEqual(Array.from({ length: ids.length }, (_, i) => i + 1));
  expect(api.logsFor(buildId).filter((l) => /^line \d+$/.test(l.message))).toHaveLength(LINES);
  expect(api.statusesFor(buildId)).toEqual(["Running", "Completed"]);
  expect(frozenAt).toBeLessThan(ids.length);
  // The resumed replica noticed and carried on: still alive, and it exits cleanly when told.
  expect(first.child.exitCode).toBeNull();
  expect(await first.stop()).toBe(0);
}, 180_000);
