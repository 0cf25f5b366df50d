import { execFile } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { defaultWorkerCommand } from "@wharf/local-backends";
import { readWorkerEnv } from "@wharf/proto/worker-env";
import type { Worker } from "@wharf/provisioner";
import {
  api,
  PASSING_PIPELINE,
  SLEEPING_PIPELINE,
  startTestProvisioner,
  type TestProvisioner,
  waitFor,
  wharfApiQuery,
} from "@wharf/provisioner/testing";
import {
  containersWithLabel,
  dockerSocketPath,
  ensureWorkerBaseImage,
  makePipelineRepo,
  requireDockerOrSkip,
  WORKER_BASE_IMAGE,
  workerImageMounts,
} from "@wharf/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  DockerBackend,
  LABEL_BUILD_REF,
  LABEL_GRPC_PORT,
  LABEL_INSTANCE,
  LABEL_PROJECT_ID,
  LABEL_WORKER_ID,
} from "../src/index.js";

const run = promisify(execFile);
const repoRoot = path.resolve(import.meta.dirname, "../../../..");
const hasDocker = await requireDockerOrSkip();
const INSTANCE = `docker-test-${process.pid}`;

const created: string[] = [];
const BUILD_TIMEOUT_MS = 10 * 60_000;

async function labelsOf(containerId: string): Promise<Record<string, string>> {
  const { stdout } = await run("docker", ["inspect", "--format", "{{json .Config.Labels}}", containerId]);
  return JSON.parse(stdout);
}

/** The environment the engine gave the container's process. */
async function envOf(containerId: string): Promise<Record<string, string>> {
  const { stdout } = await run("docker", ["inspect", "--format", "{{json .Config.Env}}", containerId]);
  return Object.fromEntries(
    (JSON.parse(stdout) as string[]).map((kv) => [
      kv.slice(0, kv.indexOf("=")),
      kv.slice(kv.indexOf("=") + 1),
    ]),
  );
}

/** Workers from the base image running this checkout's worker with the host's node. */
function dockerBackend(executor: "local" | "docker", reposDir: string): DockerBackend {
  return new DockerBackend({
    image: WORKER_BASE_IMAGE,
    cmd: defaultWorkerCommand("/usr/local/bin/node"),
    binds: [...workerImageMounts(repoRoot), `${reposDir}:${reposDir}:ro`],
    network: "host",
    bindHost: "127.0.0.1",
    stopGraceMs: 5000,
    // The provisioner's WHARF_BUILD_TIMEOUT: reaches the worker container through the env contract.
    buildTimeoutMs: BUILD_TIMEOUT_MS,
    executor,
    socketPath: dockerSocketPath(),
  });
}

interface DockerProvisionerFixture {
  p: TestProvisioner;
  /** Holds the `passing` and `sleeping` repositories. */
  dir: string;
  workerOf(buildRef: number): Promise<Worker | undefined>;
  /** Waits until the build's worker reports a final status. */
  finished(buildRef: number): Promise<Worker>;
}

/**
 * A provisioner on the docker backend for the enclosing describe, with its worker
 * containers running steps as `executor`; removes every container it made afterwards.
 */
function useDockerProvisioner(executor: "local" | "docker"): DockerProvisionerFixture {
  const f = {} as DockerProvisionerFixture;
  beforeAll(async () => {
    await ensureWorkerBaseImage();
    f.dir = await fs.mkdtemp(path.join(os.tmpdir(), `wharf-prov-docker-${executor}-`));
    await makePipelineRepo(path.join(f.dir, "passing"), PASSING_PIPELINE);
    await makePipelineRepo(path.join(f.dir, "sleeping"), SLEEPING_PIPELINE);
    f.p = await startTestProvisioner({
      backend: dockerBackend(executor, f.dir),
      dataDir: path.join(f.dir, "data"),
    });
  }, 600_000);
  afterAll(async () => {
    await f.p?.close();
    for (const id of created) {
      const left = await containersWithLabel(`${LABEL_WORKER_ID}=${id}`);
      if (left.length) await run("docker", ["rm", "-f", "-v", ...left]);
    }
    if (f.dir) await fs.rm(f.dir, { recursive: true, force: true });
  }, 120_000);
  f.workerOf = async (buildRef) =>
    (
      (await api(f.p.url, "GET", `/api/worker?buildRef=${buildRef}&instance=${INSTANCE}`)).json as Worker[]
    )[0];
  f.finished = (buildRef) =>
    waitFor(
      "build finished",
      async () => {
        const w = await f.workerOf(buildRef);
        return w && ["Success", "Failed", "Cancelled"].includes(w.status) ? w : undefined;
      },
      120_000,
    );
  return f;
}

describe.skipIf(!hasDocker)("docker backend with the real worker", () => {
  // Steps as processes inside the worker container; see the step-container tests below.
  const f = useDockerProvisioner("local");

  it("starts a labelled worker container that runs the build from a bind-mounted git repo", async () => {
    const query = wharfApiQuery({ buildRef: 71, gitUrl: path.join(f.dir, "passing"), instance: INSTANCE });
    const res = await api(f.p.url, "POST", `/api/worker?${query}`);
    expect(res.status).toBe(201);
    const { workerId } = res.json as Worker;
    created.push(workerId);

    const done = await f.finished(71);
    expect(done).toMatchObject({
      status: "Success",
      backend: "docker",
      message: expect.stringMatching(/succeeded/),
    });

    const [container] = await containersWithLabel(`${LABEL_WORKER_ID}=${workerId}`);
    const labels = await labelsOf(container as string);
    expect(labels).toMatchObject({
      [LABEL_INSTANCE]: INSTANCE,
      [LABEL_BUILD_REF]: "71",
      [LABEL_PROJECT_ID]: "7",
      [LABEL_WORKER_ID]: workerId,
    });
    expect(done.address).toBe(`127.0.0.1:${labels[LABEL_GRPC_PORT]}`);
    expect(readWorkerEnv(await envOf(container as string))).toMatchObject({
      buildId: 71,
      workerId,
      buildTimeoutMs: BUILD_TIMEOUT_MS,
      executor: "local",
    });
  }, 180_000);

  it("DELETE stops and removes the worker container", async () => {
    const query = wharfApiQuery({ buildRef: 72, gitUrl: path.join(f.dir, "sleeping"), instance: INSTANCE });
    const { workerId } = (await api(f.p.url, "POST", `/api/worker?${query}`)).json as Worker;
    created.push(workerId);
    await waitFor("running", async () => (await f.workerOf(72))?.status === "Running", 120_000);
    expect(await containersWithLabel(`${LABEL_WORKER_ID}=${workerId}`)).toHaveLength(1);
    const deleted = await api(f.p.url, "DELETE", `/api/worker/${workerId}`);
    expect(deleted.status, deleted.text).toBe(204);
    expect(await containersWithLabel(`${LABEL_WORKER_ID}=${workerId}`)).toEqual([]);
    expect(await f.workerOf(72)).toBeUndefined();
    expect((await f.p.backend.list()).map((w) => w.workerId)).not.toContain(workerId);
  }, 240_000);
});

describe.skipIf(!hasDocker)("docker backend, steps as sibling containers", () => {
  const f = useDockerProvisioner("docker");

  it("runs the build in step containers next to the worker, which survives its own cleanup", async () => {
    const query = wharfApiQuery({ buildRef: 74, gitUrl: path.join(f.dir, "passing"), instance: INSTANCE });
    const { workerId } = (await api(f.p.url, "POST", `/api/worker?${query}`)).json as Worker;
    created.push(workerId);
    const done = await f.finished(74);
    expect(done.status, done.message ?? undefined).toBe("Success");
    // Step containers are gone; the worker container keeps serving results until released.
    expect(await containersWithLabel(`${LABEL_WORKER_ID}=${workerId}`)).toHaveLength(1);
  }, 180_000);

  it("DELETE removes the worker and its step containers", async () => {
    const query = wharfApiQuery({ buildRef: 73, gitUrl: path.join(f.dir, "sleeping"), instance: INSTANCE });
    const { workerId } = (await api(f.p.url, "POST", `/api/worker?${query}`)).json as Worker;
    created.push(workerId);
    const ids = await waitFor(
      "worker + step container",
      async () => {
        const found = await containersWithLabel(`${LABEL_WORKER_ID}=${workerId}`);
        return found.length >= 2 ? found : undefined;
      },
      120_000,
    );
    expect(ids.length).toBeGreaterThanOrEqual(2);
    expect((await api(f.p.url, "DELETE", `/api/worker/${workerId}`)).status).toBe(204);
    await waitFor(
      "no containers of the worker left",
      async () => (await containersWithLabel(`${LABEL_WORKER_ID}=${workerId}`)).length === 0,
      30_000,
    );
  }, 240_000);
});
