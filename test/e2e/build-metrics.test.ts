import path from "node:path";
import { makePipelineRepo, waitFor } from "@wharf/testkit";
import { afterAll, beforeAll, expect, inject, it } from "vitest";
import { type ServicePair, startServicePair } from "./service-pair.js";

// Issue 16's histograms, scraped from the services' real /metrics around one real build
// (provisioner and aggregator services, Postgres, a worker process, the wharf-api double).
// The safety-net polls are a minute apart: the worker's start is measured from its own ready
// event, the first line from the trigger time the provisioner's list carries.
let pair: ServicePair;
const INSTANCE = "build-metrics";

beforeAll(async () => {
  pair = await startServicePair({
    name: INSTANCE,
    pgUrl: inject("pgUrl"),
    env: { WHARF_POLL_INTERVAL: "60s", WHARF_DISCOVERY_INTERVAL: "60s" },
  });
}, 60_000);

afterAll(() => pair?.close());

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
    path.join(pair.tmp, "hello"),
    "build:\n  hello:\n    container:\n      image: x\n      cmds: ['echo measured']\n",
  );
  await waitFor("aggregator ready", async () => (await fetch(`${pair.aggregator.url}/readyz`)).ok);
  const provisionerBefore = await scrape(pair.provisioner.url, pair.token);
  const aggregatorBefore = await scrape(pair.aggregator.url);
  // Declared before any build: the series of an instance appear with its first observation.
  expect([...provisionerBefore.keys()].some((k) => k.startsWith("wharf_queue_wait_seconds"))).toBe(false);
  expect(histogram(aggregatorBefore, "wharf_build_first_line_seconds").count).toBe(0);

  pair.api.setBuild(9101, "Scheduling");
  expect(await pair.trigger(9101, repo)).toBe(201);
  await waitFor("Completed at wharf-api", () => pair.api.statusesFor(9101).includes("Completed"), 45_000);
  // The aggregator removes the worker it relayed: nothing outlives the test.
  await waitFor("worker removed", async () => {
    const list = await fetch(`${pair.provisioner.url}/api/worker`, {
      headers: { authorization: `Bearer ${pair.token}` },
    });
    return ((await list.json()) as unknown[]).length === 0;
  });

  const provisionerAfter = await scrape(pair.provisioner.url, pair.token);
  const aggregatorAfter = await scrape(pair.aggregator.url);
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
