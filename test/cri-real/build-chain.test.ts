import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import {
  compileOptions as compileAggregatorOptions,
  type RunningAggregator,
  startAggregator,
} from "@wharf/aggregator-service";
import { createLogger } from "@wharf/config";
import { createTestDatabase, type TestDatabase } from "@wharf/db";
import { CREATED_BY_EXECUTOR, LABEL_CREATED_BY } from "@wharf/executor";
import { CriExecutor } from "@wharf/executor-cri";
import {
  compileOptions as compileProvisionerOptions,
  type RunningProvisioner,
  startProvisioner,
} from "@wharf/provisioner-service";
import {
  makeGitRepo,
  type PostgresCluster,
  startPostgres,
  startWharfApiDouble,
  type WharfApiDouble,
} from "@wharf/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor, wharfApiQuery } from "../e2e/stack.js";
import { CRI_DIR, CRI_ENDPOINT, mountsUnder } from "./cri-runtime.js";

/**
 * examples/ through the whole chain with CRI steps: wharf-api double → provisioner (local
 * backend, WHARF_WORKER_EXECUTOR=cri) → `wharf worker serve` (packages/cli/dist) running its
 * steps in containerd → aggregator → wharf-api double; both services on one database of a
 * throwaway Postgres cluster, as in production.
 */
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

describe.skipIf(!CRI_ENDPOINT)("examples/ through provisioner, cri worker, aggregator and wharf-api", () => {
  let tmp: string;
  let pg: PostgresCluster;
  let db: TestDatabase;
  let api: WharfApiDouble;
  let provisioner: RunningProvisioner;
  let aggregator: RunningAggregator;
  const runtime = new CriExecutor({ endpoint: CRI_ENDPOINT ?? "unix:///nonexistent" });
  const instance = `cri-chain-${process.pid}`;
  const log = createLogger("cri-chain", process.env.WHARF_LOG_LEVEL ?? "silent");

  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), "wharf-cri-chain-"));
    pg = await startPostgres();
    db = await createTestDatabase(pg.url, "cri_chain");
    api = await startWharfApiDouble();
    provisioner = await startProvisioner(
      compileProvisionerOptions({
        DATABASE_URL: db.url,
        WHARF_DATA_DIR: path.join(tmp, "provisioner"),
        WHARF_PROVISIONER_HOST: "127.0.0.1",
        WHARF_PROVISIONER_PORT: "0",
        WHARF_POLL_INTERVAL: "200ms",
        WHARF_PROVISIONER_BACKEND: "local",
        WHARF_WORKER_EXECUTOR: "cri",
        WHARF_CRI_ENDPOINT: CRI_ENDPOINT,
      }),
      { log: log.child({ svc: "provisioner" }) },
    );
    aggregator = await startAggregator(
      compileAggregatorOptions({
        DATABASE_URL: db.url,
        WHARF_DATA_DIR: path.join(tmp, "aggregator"),
        WHARF_API_URL: api.url,
        WHARF_DISCOVERY: "provisioner",
        WHARF_PROVISIONER_URL: provisioner.url,
        WHARF_AGGREGATOR_HOST: "127.0.0.1",
        WHARF_AGGREGATOR_PORT: "0",
        WHARF_DISCOVERY_INTERVAL: "200ms",
        WHARF_LEASE_TTL: "10s",
      }),
      log.child({ svc: "aggregator" }),
    );
  }, 120_000);

  afterAll(async () => {
    await aggregator?.close();
    await provisioner?.close();
    await api?.close();
    await db?.drop();
    await pg?.stop();
    runtime.close();
    if (tmp) await fs.rm(tmp, { recursive: true, force: true });
  }, 60_000);

  async function build(buildRef: number, example: string) {
    const yml = await fs.readFile(path.join(repoRoot, "examples", example, ".wharf-ci.yml"), "utf8");
    const repo = await makeGitRepo(path.join(tmp, "repos", example), { ".wharf-ci.yml": yml });
    api.setBuild(buildRef, "Scheduling");
    const query = wharfApiQuery({ buildRef, repo }, instance);
    const res = await fetch(`${provisioner.url}/api/worker?${query}`, { method: "POST" });
    expect(res.status, await res.clone().text()).toBe(201);
    const final = await waitFor(
      `build ${buildRef} final at wharf-api`,
      () => api.statusesFor(buildRef).find((s) => s === "Completed" || s === "Failed"),
      90_000,
    );
    const messages = api.logsFor(buildRef).map((l) => l.message);
    return { final, messages };
  }

  it("examples/hello completes, both steps' lines relayed once each, nothing left in the runtime", async () => {
    const { final, messages } = await build(910_001, "hello");
    expect(final, messages.join("\n")).toBe("Completed");
    expect(messages.filter((m) => m.startsWith("tick "))).toEqual(["tick 1", "tick 2", "tick 3"]);
    expect(messages.some((m) => /^hello from hello on master$/.test(m))).toBe(true);
    expect(api.statusesFor(910_001)).toEqual(["Running", "Completed"]);
    // Every line once, in the worker's order: log ids 1..n without gaps or repeats.
    const ids = api.logsFor(910_001).map((l) => l.workerLogId);
    expect(ids).toEqual(ids.map((_, i) => i + 1));
    await waitFor(
      "the worker's sandbox removed",
      async () =>
        (await runtime.findLeftovers({ [LABEL_CREATED_BY]: CREATED_BY_EXECUTOR })).sandboxes.length === 0,
      30_000,
    );
    expect(await mountsUnder(CRI_DIR)).toEqual([]);
  }, 120_000);

  it("examples/parallel fails on its broken step, stopping its sibling; the always stage still runs", async () => {
    const { final, messages } = await build(910_002, "parallel");
    expect(final).toBe("Failed");
    expect(messages).toEqual(
      expect.arrayContaining([
        "fast done",
        "about to fail",
        "exited with code 3",
        'cancelled: step "broken" of this stage failed',
        "cleaning up",
      ]),
    );
    expect(messages).not.toContain("slow done");
    await waitFor(
      "the worker's sandbox removed",
      async () =>
        (await runtime.findLeftovers({ [LABEL_CREATED_BY]: CREATED_BY_EXECUTOR })).sandboxes.length === 0,
      30_000,
    );
  }, 120_000);
});
