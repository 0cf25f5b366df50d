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

// Issue 16's histograms, scraped from the services' real /metrics around one real build
// (provisioner and aggregator services, Postgres, a worker process, the wharf-api double).
// The safety-net polls are a minute apart: the worker's start is measured from its own ready
// event, the first line from the trigger time the provisioner's list carries.
const TOKEN = "metrics-token";
const INSTANCE = "metrics";
const log = createLogger("build-metrics", process.env.WHARF_LOG_LEVEL ?? "silent");
let tmp: string;
let db: TestDatabase;
let api: WharfApiDouble;
let provisioner: RunningProvisioner;
let aggregator: RunningAggregator;

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), "wharf-build-metrics-"));
  db = await createTestDatabase(inject("pgUrl"), "build_metrics");
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
      WHARF_INSTANCE: INSTANCE,
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

type Samples = Map<string, number>;

/** GET /metrics, parsed into `name{labels}` → value. */
async function scrape(url: string, token?: string): Promise<Samples> {
  const res = await fetch(`${url}/metrics`, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  expect(res.status).toBe(200);
  const out: Samples = new Map();
  for (const line of (await res.text()).split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const at = line.lastIndexOf(" ");
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

const sample = (s: Samples, key: string) => s.get(key) ?? 0;

/** Count, sum and the +Inf bucket of one instance's series of a histogram. */
function histogram(s: Samples, name: string) {
  return {
    count: sample(s, `${name}_count{instance="${INSTANCE}"}`),
    sum: sample(s, `${name}_sum{instance="${INSTANCE}"}`),
    inf: sample(s, `${name}_bucket{le="+Inf",instance="${INSTANCE}"}`),
    hour: sample(s, `${name}_bucket{le="3600",instance="${INSTANCE}"}`),
  };
}

it("a real build moves the queue wait, worker start and first line histograms of its instance", async () => {
  const repo = await makePipelineRepo(
    path.join(tmp, "hello"),
    "build:\n  hello:\n    container:\n      image: x\n      cmds: ['echo measured']\n",
  );
  await waitFor("aggregator ready", async () => (await fetch(`${aggregator.url}/readyz`)).ok);
  const provisionerBefore = await scrape(provisioner.url, TOKEN);
  const aggregatorBefore = await scrape(aggregator.url);
  // Declared before any build: the series of an instance appear with its first observation.
  expect([...provisionerBefore.keys()].some((k) => k.startsWith("wharf_queue_wait_seconds"))).toBe(false);
  expect(histogram(aggregatorBefore, "wharf_build_first_line_seconds").count).toBe(0);

  api.setBuild(9101, "Scheduling");
  const res = await fetch(
    `${provisioner.url}/api/worker?${new URLSearchParams({
      BUILD_REF: "9101",
      GIT_FULLURL: repo,
      GIT_BRANCH: "master",
      WHARF_INSTANCE: INSTANCE,
      token: TOKEN,
    })}`,
    { method: "POST" },
  );
  expect(res.status).toBe(201);
  await waitFor("Completed at wharf-api", () => api.statusesFor(9101).includes("Completed"), 45_000);
  // The aggregator removes the worker it relayed: nothing outlives the test.
  await waitFor("worker removed", async () => {
    const list = await fetch(`${provisioner.url}/api/worker`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    return ((await list.json()) as unknown[]).length === 0;
  });

  const provisionerAfter = await scrape(provisioner.url, TOKEN);
  const aggregatorAfter = await scrape(aggregator.url);
  for (const [samples, name] of [
    [provisionerAfter, "wharf_queue_wait_seconds"],
    [provisionerAfter, "wharf_worker_start_seconds"],
    [aggregatorAfter, "wharf_build_first_line_seconds"],
  ] as const) {
    const h = histogram(samples, name);
    expect(h, name).toMatchObject({ count: 1, inf: 1, hour: 1 });
    expect(h.sum, name).toBeGreaterThanOrEqual(0);
  }
  // The first line comes after the trigger, so its latency holds the queue wait and the start.
  const firstLine = histogram(aggregatorAfter, "wharf_build_first_line_seconds").sum;
  expect(firstLine).toBeGreaterThan(0);
  expect(firstLine).toBeGreaterThanOrEqual(histogram(provisionerAfter, "wharf_queue_wait_seconds").sum);
}, 90_000);
