import { execFile } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import {
  compileOptions as compileAggregatorOptions,
  type RunningAggregator,
  startAggregator,
} from "@wharf/aggregator-service";
import { createLogger } from "@wharf/config";
import { createTestDatabase, type TestDatabase } from "@wharf/db";
import { LABEL_INSTANCE, LABEL_WORKER_ID } from "@wharf/docker-backends";
import type { Worker } from "@wharf/provisioner";
import {
  compileOptions as compileProvisionerOptions,
  type RunningProvisioner,
  startProvisioner,
} from "@wharf/provisioner-service";
import {
  makeGitRepo,
  startWharfApiDouble,
  type WharfApiDouble,
  waitFor as waitForTruthy,
  wharfImage,
} from "@wharf/testkit";

const run = promisify(execFile);

/**
 * One end-to-end stack per test file, wired as in production but in this process:
 * the wharf-api double, the provisioner service on the docker backend and the
 * aggregator service discovering workers through the provisioner, both on one fresh
 * Postgres database. Worker containers run the wharf/worker image built from this checkout
 * (the test setup builds it, as a non-root user) and run their steps as sibling containers
 * (WHARF_EXECUTOR=docker) with host networking.
 */
export interface E2eStack {
  readonly api: WharfApiDouble;
  readonly provisionerUrl: string;
  /** WHARF_INSTANCE of every build; unique per stack, it labels the worker containers. */
  readonly instance: string;
  /** Holds the git repositories; bind-mounted read-only into worker containers. */
  readonly tmp: string;
  /** Build ids unique to this stack: Docker volumes are named after them. */
  buildRef(n: number): number;
  /** A git repository under `tmp` holding `files`, owned by the worker image's user; its path. */
  repo(name: string, files: Record<string, string | Buffer>): Promise<string>;
  /** POST /api/worker with wharf-api's query string; the worker is remembered for cleanup. */
  trigger(build: BuildTrigger): Promise<Worker>;
  listWorkers(): Promise<Worker[]>;
  /** DELETE /api/worker/:id → HTTP status. */
  deleteWorker(workerId: string): Promise<number>;
  /**
   * What exists of this stack's workers (worker, step and helper containers, workspace
   * volumes) — of one worker when `workerId` is given — and whether the temp dir does.
   */
  leftovers(workerId?: string): Promise<Leftovers>;
  /**
   * Stops aggregator and provisioner, reports what they left behind, then removes it
   * anyway (so a failing run does not poison the next), drops the database and the temp dir.
   */
  close(): Promise<Leftovers>;
}

export interface BuildTrigger {
  buildRef: number;
  /** Path of a git repository under `tmp` (GIT_FULLURL). */
  repo: string;
  /** VARS, sent as YAML like wharf-api does. */
  varsYaml?: string;
  environment?: string;
  runStages?: string;
}

export interface Leftovers {
  containers: string[];
  volumes: string[];
  /** The builds' own step networks. */
  networks: string[];
  /** True when the stack's temp dir still exists. */
  tmpDir: boolean;
  /** Pids of child processes of this test process (git, docker CLI, anything spawned). */
  childProcesses: number[];
}

export interface E2eStackOptions {
  pgUrl: string;
  maxWorkers?: number;
}

const TOKEN = "e2e-provisioner-token";
// The repositories are cloned by the worker image's user (node): they are theirs, as a
// repository is its CI user's (git refuses to read a local repository someone else owns).
const WORKER_IMAGE_USER = "1000:1000";

export async function startE2eStack(opts: E2eStackOptions): Promise<E2eStack> {
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), "wharf-e2e-"));
  await run("chown", [WORKER_IMAGE_USER, tmp]);
  const instance = `e2e-${process.pid}-${Date.now().toString(36)}`;
  // Far from the small refs other test files use, and different per process.
  const refBase = 700_000_000 + (process.pid % 100_000) * 1000;
  const workerIds = new Set<string>();
  const log = createLogger("e2e", process.env.WHARF_LOG_LEVEL ?? "silent");
  let db: TestDatabase | undefined;
  let api: WharfApiDouble | undefined;
  let provisioner: RunningProvisioner | undefined;
  let aggregator: RunningAggregator | undefined;

  /**
   * What the stack's workers left. While it runs, a standby the provisioner keeps for the
   * instance's next build (named so until one takes it) is no leftover; once it closed, it is.
   */
  const leftovers = async (opts: { standbys?: boolean } = {}): Promise<Leftovers> => {
    const filters = [
      `${LABEL_INSTANCE}=${instance}`,
      ...[...workerIds].map((id) => `${LABEL_WORKER_ID}=${id}`),
    ];
    const containers = new Set<string>();
    const volumes = new Set<string>();
    const networks = new Set<string>();
    for (const f of filters) {
      for (const line of await dockerList([
        "ps",
        "-a",
        "--format",
        "{{.ID}} {{.Names}}",
        "--filter",
        `label=${f}`,
      ])) {
        const [id, name] = line.split(" ");
        if (opts.standbys || !name?.startsWith("wharf-standby-")) containers.add(id as string);
      }
      for (const v of await dockerList(["volume", "ls", "-q", "--filter", `label=${f}`])) volumes.add(v);
      for (const n of await dockerList(["network", "ls", "-q", "--filter", `label=${f}`])) networks.add(n);
    }
    const tmpDir = await fs.stat(tmp).then(
      () => true,
      () => false,
    );
    return {
      containers: [...containers],
      volumes: [...volumes],
      networks: [...networks],
      tmpDir,
      childProcesses: await childPids(),
    };
  };

  const close = async (): Promise<Leftovers> => {
    await aggregator?.close();
    await provisioner?.close();
    await api?.close();
    await db?.drop();
    await fs.rm(tmp, { recursive: true, force: true });
    const left = await leftovers({ standbys: true });
    if (left.containers.length) await run("docker", ["rm", "-f", "-v", ...left.containers]);
    for (const v of left.volumes) await run("docker", ["volume", "rm", "-f", v]).catch(() => {});
    for (const n of left.networks) await run("docker", ["network", "rm", n]).catch(() => {});
    return left;
  };

  try {
    db = await createTestDatabase(opts.pgUrl, "e2e");
    api = await startWharfApiDouble();
    const common = { DATABASE_URL: db.url, WHARF_DATA_DIR: path.join(tmp, "data") };
    provisioner = await startProvisioner(
      compileProvisionerOptions({
        ...common,
        WHARF_PROVISIONER_HOST: "127.0.0.1",
        WHARF_PROVISIONER_PORT: "0",
        WHARF_PROVISIONER_TOKEN: TOKEN,
        WHARF_MAX_WORKERS: String(opts.maxWorkers ?? 4),
        WHARF_POLL_INTERVAL: "200ms",
        WHARF_PROVISIONER_BACKEND: "docker",
        WHARF_WORKER_IMAGE: wharfImage("worker"),
        WHARF_WORKER_BINDS: `${tmp}:${tmp}:ro`,
        WHARF_WORKER_NETWORK: "host",
      }),
      { log: log.child({ svc: "provisioner" }) },
    );
    aggregator = await startAggregator(
      compileAggregatorOptions({
        ...common,
        WHARF_API_URL: api.url,
        WHARF_DISCOVERY: "provisioner",
        WHARF_PROVISIONER_URL: provisioner.url,
        WHARF_PROVISIONER_TOKEN: TOKEN,
        WHARF_AGGREGATOR_HOST: "127.0.0.1",
        WHARF_AGGREGATOR_PORT: "0",
        WHARF_DISCOVERY_INTERVAL: "200ms",
        WHARF_LEASE_TTL: "10s",
      }),
      log.child({ svc: "aggregator" }),
    );
  } catch (err) {
    await close().catch(() => {});
    throw err;
  }

  const provisionerUrl = provisioner.url;
  const call = (method: string, pathAndQuery: string) =>
    fetch(`${provisionerUrl}${pathAndQuery}`, {
      method,
      headers: { authorization: `Bearer ${TOKEN}` },
      signal: AbortSignal.timeout(30_000),
    });
  const doubleApi = api;

  return {
    api: doubleApi,
    provisionerUrl,
    instance,
    tmp,
    buildRef: (n) => refBase + n,
    async repo(name, files) {
      const dir = await makeGitRepo(path.join(tmp, name), files);
      await run("chown", ["-R", `${WORKER_IMAGE_USER}`, dir]);
      return dir;
    },
    async trigger(build) {
      doubleApi.setBuild(build.buildRef, "Scheduling");
      const res = await fetch(`${provisionerUrl}/api/worker?${wharfApiQuery(build, instance)}`, {
        method: "POST",
        signal: AbortSignal.timeout(30_000),
      });
      const body = await res.text();
      if (res.status !== 201) throw new Error(`POST /api/worker: HTTP ${res.status} ${body}`);
      const worker = JSON.parse(body) as Worker;
      workerIds.add(worker.workerId);
      return worker;
    },
    async listWorkers() {
      const res = await call("GET", `/api/worker?instance=${encodeURIComponent(instance)}`);
      if (!res.ok) throw new Error(`GET /api/worker: HTTP ${res.status} ${await res.text()}`);
      return (await res.json()) as Worker[];
    },
    async deleteWorker(workerId) {
      const res = await call("DELETE", `/api/worker/${encodeURIComponent(workerId)}`);
      await res.arrayBuffer();
      return res.status;
    },
    leftovers: () => leftovers(),
    close,
  };
}

/**
 * The query string wharf-api v5 sends to wharf-cmd's provisioner, parameter for
 * parameter (its token travels in the query too).
 */
export function wharfApiQuery(build: BuildTrigger, instance: string): string {
  return new URLSearchParams({
    REPO_NAME: path.basename(build.repo),
    REPO_GROUP: "e2e",
    REPO_BRANCH: "master",
    GIT_BRANCH: "master",
    RUN_STAGES: build.runStages ?? "ALL",
    BUILD_REF: String(build.buildRef),
    VARS: build.varsYaml ?? "",
    GIT_FULLURL: build.repo,
    GIT_TOKEN: "",
    WHARF_PROJECT_ID: "42",
    WHARF_INSTANCE: instance,
    ENVIRONMENT: build.environment ?? "",
    token: TOKEN,
  }).toString();
}

/** Children of this process, read from /proc so that looking does not spawn one. */
async function childPids(): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await fs.readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await fs.readFile(`/proc/${entry}/stat`, "utf8").catch(() => "");
    // "pid (comm) state ppid …"; comm may hold spaces and parentheses, so split after the last ")".
    const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    if (ppid === process.pid) pids.push(Number(entry));
  }
  return pids;
}

async function dockerList(args: string[]): Promise<string[]> {
  const { stdout } = await run("docker", args, { timeout: 30_000 });
  return stdout.split("\n").filter(Boolean);
}

/** Polls `check` every 100 ms until it returns something truthy; fails after `timeoutMs`. */
export function waitFor<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 60_000,
) {
  // Checks here ask Docker or services: every 100 ms is often enough.
  return waitForTruthy(what, check, timeoutMs, 100);
}
