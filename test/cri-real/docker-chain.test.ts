import { execFile } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import {
  compileOptions as compileAggregatorOptions,
  type RunningAggregator,
  startAggregator,
} from "@wharf/aggregator-service";
import { createLogger } from "@wharf/config";
import { createTestDatabase, type TestDatabase } from "@wharf/db";
import { LABEL_INSTANCE, LABEL_WORKER_ID } from "@wharf/docker-backends";
import { CREATED_BY_EXECUTOR, LABEL_BUILD_REF, LABEL_CREATED_BY } from "@wharf/executor";
import { CriExecutor } from "@wharf/executor-cri";
import type { Worker } from "@wharf/provisioner";
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
  wharfImage,
} from "@wharf/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor, wharfApiQuery } from "../e2e/stack.js";
import { CRI_DIR, CRI_ENDPOINT, mountsUnder } from "./cri-runtime.js";

const run = promisify(execFile);

/**
 * examples/ through the whole chain with the provisioner's docker backend and CRI steps:
 * wharf-api double → provisioner (WHARF_PROVISIONER_BACKEND=docker, WHARF_WORKER_EXECUTOR=cri)
 * → a wharf/worker container (the image built from this checkout; scripts/test-ci.sh builds it
 * in its first vitest run) running its steps in the containerd of scripts/cri/up.sh → aggregator
 * → wharf-api double. The worker container gets the runtime's socket and a work root of this
 * test's at their host paths.
 */
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const WORKER_IMAGE = wharfImage("worker");

describe.skipIf(!CRI_ENDPOINT)(
  "examples/ through provisioner (docker backend), cri worker container, aggregator and wharf-api",
  () => {
    let tmp: string;
    let workRoot: string;
    let pg: PostgresCluster;
    let db: TestDatabase;
    let api: WharfApiDouble;
    let provisioner: RunningProvisioner;
    let aggregator: RunningAggregator;
    const runtime = new CriExecutor({ endpoint: CRI_ENDPOINT ?? "unix:///nonexistent" });
    const instance = `cri-docker-${process.pid}-${Date.now().toString(36)}`;
    const log = createLogger("cri-docker-chain", process.env.WHARF_LOG_LEVEL ?? "silent");

    beforeAll(async () => {
      await run("docker", ["image", "inspect", WORKER_IMAGE], { timeout: 30_000 }).catch((err: Error) => {
        throw new Error(
          `${WORKER_IMAGE} is not built (scripts/build-images.sh; the root vitest run builds it when Docker answers): ${err.message}`,
        );
      });
      tmp = await fs.mkdtemp(path.join(os.tmpdir(), "wharf-cri-docker-"));
      workRoot = path.join(tmp, "cri-builds");
      await fs.mkdir(path.join(tmp, "repos"), { recursive: true });
      await fs.mkdir(workRoot);
      pg = await startPostgres();
      db = await createTestDatabase(pg.url, "cri_docker_chain");
      api = await startWharfApiDouble();
      provisioner = await startProvisioner(
        compileProvisionerOptions({
          DATABASE_URL: db.url,
          WHARF_DATA_DIR: path.join(tmp, "provisioner"),
          WHARF_PROVISIONER_HOST: "127.0.0.1",
          WHARF_PROVISIONER_PORT: "0",
          WHARF_POLL_INTERVAL: "200ms",
          WHARF_PROVISIONER_BACKEND: "docker",
          WHARF_WORKER_IMAGE: WORKER_IMAGE,
          WHARF_WORKER_NETWORK: "host",
          WHARF_WORKER_BINDS: `${tmp}/repos:${tmp}/repos:ro`,
          WHARF_WORKER_EXECUTOR: "cri",
          WHARF_CRI_ENDPOINT: CRI_ENDPOINT,
          WHARF_CRI_WORK_ROOT: workRoot,
          // A killed worker's row goes at once; its container and steps are what this test looks at.
          WHARF_WORKER_STOP_GRACE: "5s",
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
      // Whatever a failed test left: this stack's worker containers, and the private runtime's builds.
      const left = await workerContainers().catch(() => []);
      if (left.length) await run("docker", ["rm", "-f", "-v", ...left]).catch(() => {});
      await runtime.removeLeftovers({ [LABEL_CREATED_BY]: CREATED_BY_EXECUTOR }).catch(() => {});
      runtime.close();
      if (tmp) await fs.rm(tmp, { recursive: true, force: true });
    }, 60_000);

    /** This stack's containers; with a worker id, that worker's: labelled, or (began as a standby) named. */
    async function workerContainers(workerId?: string): Promise<string[]> {
      const filters = ["--filter", `label=${LABEL_INSTANCE}=${instance}`];
      const ps = async (more: string[]) =>
        (await run("docker", ["ps", "-aq", ...filters, ...more], { timeout: 30_000 })).stdout
          .split("\n")
          .filter(Boolean);
      if (!workerId) return ps([]);
      const [labelled, named] = await Promise.all([
        ps(["--filter", `label=${LABEL_WORKER_ID}=${workerId}`]),
        ps(["--filter", `name=${workerId}`]),
      ]);
      return [...new Set([...labelled, ...named])];
    }

    async function trigger(buildRef: number, name: string, yml: string): Promise<Worker> {
      const repo = await makeGitRepo(path.join(tmp, "repos", name), { ".wharf-ci.yml": yml });
      api.setBuild(buildRef, "Scheduling");
      const res = await fetch(
        `${provisioner.url}/api/worker?${wharfApiQuery({ buildRef, repo }, instance)}`,
        {
          method: "POST",
        },
      );
      const body = await res.text();
      expect(res.status, body).toBe(201);
      return JSON.parse(body) as Worker;
    }

    const finalStatus = (buildRef: number) =>
      waitFor(
        `build ${buildRef} final at wharf-api`,
        () => api.statusesFor(buildRef).find((s) => s === "Completed" || s === "Failed"),
        90_000,
      );

    const exampleYml = (example: string) =>
      fs.readFile(path.join(repoRoot, "examples", example, ".wharf-ci.yml"), "utf8");

    /** Nothing of any build left: worker container, sandboxes, step containers, mounts, build directories. */
    async function assertNothingLeft(worker: Worker): Promise<void> {
      await waitFor(
        "the worker container removed",
        async () => (await workerContainers(worker.workerId)).length === 0,
        30_000,
      );
      await waitFor(
        "every sandbox and step container removed",
        async () => {
          const left = await runtime.findLeftovers({ [LABEL_CREATED_BY]: CREATED_BY_EXECUTOR });
          return left.sandboxes.length === 0 && left.containers.length === 0;
        },
        30_000,
      );
      expect(await mountsUnder(CRI_DIR)).toEqual([]);
      expect(await mountsUnder(workRoot)).toEqual([]);
      expect(await fs.readdir(workRoot)).toEqual([]);
    }

    it("examples/hello completes, both steps' lines relayed once each, nothing left", async () => {
      const buildRef = 920_001;
      const worker = await trigger(buildRef, "hello", await exampleYml("hello"));
      const final = await finalStatus(buildRef);
      const messages = api.logsFor(buildRef).map((l) => l.message);
      expect(final, messages.join("\n")).toBe("Completed");
      expect(messages.filter((m) => m.startsWith("tick "))).toEqual(["tick 1", "tick 2", "tick 3"]);
      expect(messages).toContain("hello from hello on master");
      expect(api.statusesFor(buildRef)).toEqual(["Running", "Completed"]);
      const ids = api.logsFor(buildRef).map((l) => l.workerLogId);
      expect(ids).toEqual(ids.map((_, i) => i + 1));
      await assertNothingLeft(worker);
    }, 150_000);

    it("examples/parallel fails on its broken step, stopping its sibling; nothing left", async () => {
      const buildRef = 920_002;
      const worker = await trigger(buildRef, "parallel", await exampleYml("parallel"));
      expect(await finalStatus(buildRef)).toBe("Failed");
      const messages = api.logsFor(buildRef).map((l) => l.message);
      expect(messages).toEqual(
        expect.arrayContaining(["fast done", "about to fail", "exited with code 3", "cleaning up"]),
      );
      expect(messages).not.toContain("slow done");
      await assertNothingLeft(worker);
    }, 150_000);

    it("a live worker's build survives another worker container's start; a killed one's is removed by the next", async () => {
      const held = 920_003;
      const image = process.env.WHARF_CRI_TEST_IMAGE ?? "wharf-test/busybox:latest";
      const yml = `build:\n  hold:\n    container:\n      image: ${image}\n      cmds:\n        - echo held\n        - sleep 600\n`;
      const holder = await trigger(held, "held", yml);
      await waitFor(
        "the held step running",
        () => api.logsFor(held).some((l) => l.message === "held"),
        90_000,
      );
      const heldObjects = await runtime.findLeftovers({ [LABEL_BUILD_REF]: String(held) });
      expect(heldObjects.sandboxes).toHaveLength(1);

      // Another worker container's first build sweeps the sandboxes of dead owners of its host and
      // PID namespace (the host's): the holder, alive, is not one. Its step, root in its image,
      // leaves root-owned directories in the workspace, which the worker removes (a worker
      // running as the image's user 1000 could not).
      const second = 920_004;
      const nested = `build:\n  nest:\n    container:\n      image: ${image}\n      cmds:\n        - mkdir -p out/deep && echo x > out/deep/f && chmod 755 out out/deep\n`;
      const secondWorker = await trigger(second, "nested-beside", nested);
      expect(await finalStatus(second)).toBe("Completed");
      await waitFor(
        "the second worker removed",
        async () => (await workerContainers(secondWorker.workerId)).length === 0,
        30_000,
      );
      expect(api.logsFor(second).map((l) => l.message)).not.toContainEqual(
        expect.stringMatching(/cleaning up/),
      );
      expect(await fs.readdir(workRoot)).toEqual([String(held)]);
      expect(await runtime.findLeftovers({ [LABEL_BUILD_REF]: String(held) })).toEqual(heldObjects);
      expect(api.statusesFor(held)).toEqual(["Running"]);

      // SIGKILL: the holder removes nothing itself; the next worker's first build does (only
      // because both are in the host's PID namespace, where the holder's pid is seen gone).
      const [container] = await workerContainers(holder.workerId);
      expect(container).toBeDefined();
      await run("docker", ["kill", "--signal", "KILL", container as string], { timeout: 30_000 });
      const next = 920_005;
      const worker = await trigger(next, "hello-after-kill", await exampleYml("hello"));
      expect(await finalStatus(next)).toBe("Completed");
      await waitFor(
        "the killed worker's container removed",
        async () => (await workerContainers(holder.workerId)).length === 0,
        60_000,
      );
      await assertNothingLeft(worker);
    }, 300_000);
  },
);
