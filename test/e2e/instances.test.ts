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
import { createWorkerClient } from "@wharf/worker-rpc";
import { afterAll, beforeAll, expect, inject, it } from "vitest";

// Two wharf-api instances share one provisioner (local backend, real worker processes), each
// with its own aggregator (WHARF_INSTANCE) relaying to its own wharf-api. Both start a build
// with the same number: each wharf-api gets its own build's lines and status, never the other's.
const TOKEN = "instances-token";
const log = createLogger("instances", process.env.WHARF_LOG_LEVEL ?? "silent");
let tmp: string;
let db: TestDatabase;
let provisioner: RunningProvisioner;
const apis: Record<string, WharfApiDouble> = {};
const aggregators: RunningAggregator[] = [];

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), "wharf-instances-"));
  db = await createTestDatabase(inject("pgUrl"), "instances");
  provisioner = await startProvisioner(
    compileProvisionerOptions({
      DATABASE_URL: db.url,
      WHARF_DATA_DIR: path.join(tmp, "provisioner"),
      WHARF_PROVISIONER_HOST: "127.0.0.1",
      WHARF_PROVISIONER_PORT: "0",
      WHARF_PROVISIONER_TOKEN: TOKEN,
      WHARF_POLL_INTERVAL: "200ms",
      WHARF_WORKER_STOP_GRACE: "2s",
    }),
    { log },
  );
  for (const instance of ["tenant-a", "tenant-b"]) {
    const api = await startWharfApiDouble();
    apis[instance] = api;
    aggregators.push(
      await startAggregator(
        compileAggregatorOptions(
          {
            DATABASE_URL: db.url,
            WHARF_API_URL: api.url,
            WHARF_INSTANCE: instance,
            WHARF_DISCOVERY: "provisioner",
            WHARF_PROVISIONER_URL: provisioner.url,
            WHARF_PROVISIONER_TOKEN: TOKEN,
            WHARF_AGGREGATOR_HOST: "127.0.0.1",
            WHARF_AGGREGATOR_PORT: "0",
            WHARF_DISCOVERY_INTERVAL: "200ms",
            WHARF_DATA_DIR: path.join(tmp, instance),
          },
          "aggregator",
        ),
        log,
      ),
    );
  }
}, 60_000);

afterAll(async () => {
  for (const a of aggregators) await a.close();
  await provisioner?.close();
  for (const api of Object.values(apis)) await api.close();
  await db?.drop();
  await fs.rm(tmp, { recursive: true, force: true });
});

it("two instances with the same build number on one provisioner never mix", async () => {
  const buildRef = 4242;
  for (const instance of ["tenant-a", "tenant-b"]) {
    const repo = await makePipelineRepo(
      path.join(tmp, `repo-${instance}`),
      `build:\n  hello:\n    container:\n      image: x\n      cmds: ["echo I am ${instance}"]\n`,
    );
    apis[instance]?.setBuild(buildRef, "Scheduling");
    const query = new URLSearchParams({
      BUILD_REF: String(buildRef),
      GIT_FULLURL: repo,
      WHARF_INSTANCE: instance,
    });
    const res = await fetch(`${provisioner.url}/api/worker?${query}`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(res.status).toBe(201);
  }
  for (const [instance, api] of Object.entries(apis)) {
    await waitFor(`${instance}'s build Completed`, () => api.build(buildRef)?.status === "Completed", 60_000);
    const messages = api.logsFor(buildRef).map((l) => l.message);
    expect(messages).toContain(`I am ${instance}`);
    const other = instance === "tenant-a" ? "tenant-b" : "tenant-a";
    expect(messages).not.toContain(`I am ${other}`);
    expect(api.statusesFor(buildRef)).toEqual(["Running", "Completed"]);
  }
}, 90_000);

it("gives each worker its own gRPC token, handed out only by the provisioner's authenticated list", async () => {
  const started: { workerId: string }[] = [];
  for (const buildRef of [5151, 5152]) {
    const repo = await makePipelineRepo(
      path.join(tmp, `slow-${buildRef}`),
      `build:\n  wait:\n    container:\n      image: x\n      cmds: ["sleep 30"]\n`,
    );
    const query = new URLSearchParams({
      BUILD_REF: String(buildRef),
      GIT_FULLURL: repo,
      WHARF_INSTANCE: "tenant-c",
    });
    const res = await fetch(`${provisioner.url}/api/worker?${query}`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    started.push((await res.json()) as { workerId: string });
  }
  type Listed = { workerId: string; address: string | null; token?: string; status: string };
  const list = async () =>
    (await (
      await fetch(`${provisioner.url}/api/worker?instance=tenant-c`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      })
    ).json()) as Listed[];
  const running = await waitFor(
    "both workers running",
    async () => {
      const ws = await list();
      return ws.length === 2 && ws.every((w) => w.address && w.status === "Running") ? ws : undefined;
    },
    30_000,
  );
  const [a, b] = running as [Listed, Listed];
  expect(a.token).toBeTruthy();
  expect(a.token).not.toBe(b.token);
  expect((await fetch(`${provisioner.url}/api/worker`)).status).toBe(401);

  const call = async (token: string | undefined) => {
    const client = createWorkerClient(
      a.address as string,
      token ? { token, callTimeoutMs: 5000 } : { callTimeoutMs: 5000 },
    );
    try {
      await client.summary();
      return "ok";
    } catch (err) {
      return String((err as { code?: number }).code);
    } finally {
      client.close();
    }
  };
  expect(await call(a.token)).toBe("ok");
  expect(await call(undefined)).toBe("16"); // UNAUTHENTICATED
  expect(await call(b.token)).toBe("16"); // another worker's token opens only that worker
  for (const w of started) {
    await fetch(`${provisioner.url}/api/worker/${w.workerId}`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${TOKEN}` },
    });
  }
}, 90_000);
